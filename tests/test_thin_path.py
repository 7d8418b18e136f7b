"""The whole path once: source -> Keystone -> Mach-O -> LIEF -> Unicorn -> write(1) -> exit."""

from __future__ import annotations

from guest import run_guest


def test_hello_writes_to_stdout_and_exits_with_status(capfd, tmp_path):
    run = run_guest(
        """
        mov     x0, #1
        adr     x1, msg
        ldr     x2, msg_len
        SYSCALL 4
        RECORD
        mov     x0, #7
        mov     x16, #1
        svc     #0x80
    """,
        text="""
msg: .ascii "hello, world\\n"
msg_end:
.p2align 3
msg_len: .quad msg_end - msg
""",
        tmp=tmp_path,
    )
    assert capfd.readouterr().out == "hello, world\n"
    assert run.status == 7
    assert run.results == [(13, 0, False)]


def test_return_from_main_exits_with_w0(tmp_path):
    run = run_guest(
        """
        mov     x0, #42
        ret
    """,
        tmp=tmp_path,
    )
    assert run.status == 42


def test_main_gets_argc_argv_envp_apple_as_from_dyld(tmp_path):
    run = run_guest(
        """
        mov     x19, x0
        mov     x20, x1
        mov     x21, x2
        mov     x22, x3
        adr     x9, saved
        stp     x19, x20, [x9]
        stp     x21, x22, [x9, #16]
        mov     x10, sp
        str     x10, [x9, #32]
    """,
        data="saved: .zero 40",
        argv=["prog", "one", "two"],
        tmp=tmp_path,
    )
    m = run.machine.uc
    argc, argv, envp, apple = (run.u64("saved", 8 * i) for i in range(4))
    sp = run.u64("saved", 32)
    assert argc == 3
    assert sp % 16 == 0

    def cstr(addr: int) -> bytes:
        return run.machine.mem.cstr(addr, 1024)

    def strings(arr: int) -> list[bytes]:
        out = []
        while (p := int.from_bytes(m.mem_read(arr + 8 * len(out), 8), "little")) != 0:
            out.append(cstr(p))
        return out

    assert strings(argv) == [b"prog", b"one", b"two"]
    assert envp == argv + 8 * 4  # envp follows argv's NULL
    assert b"HOME=/" in strings(envp)
    assert strings(apple)[0] == b"executable_path=prog"
    assert int.from_bytes(m.mem_read(argv - 8, 8), "little") == 3  # argc slot below argv
