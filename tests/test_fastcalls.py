"""emu/native/fastcalls.c: the hot calls answered in C agree with Python's answers,
and C never acts on a descriptor or a buffer Python would refuse.

The syscall test modules (test_syscalls_*.py, test_signal_delivery.py) already
run every test both ways (conftest's ``syscall_path``); these tests look at what
only the C path has: which calls it answered, its descriptor twins, its waits.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest
from guest import GuestRun, err, ok, run_guest

from emu.native import fastcalls

ROOT = Path(__file__).resolve().parent.parent
LIB = fastcalls.library()
pytestmark = pytest.mark.skipif(LIB is None, reason=f"no C syscall path here: {fastcalls.why_not()}")

EBADF, EAGAIN, EFAULT = 9, 35, 14
F_SETFL, O_NONBLOCK = 4, 4

HOT = """
        mov     x0, #1                  // write(1, msg, 3)
        adr     x1, msg
        mov     x2, #3
        SYSCALL SYS_write
        RECORD
        adr     x0, scratch             // gettimeofday(&tv, NULL, NULL)
        mov     x1, #0
        mov     x2, #0
        SYSCALL SYS_gettimeofday
        RECORD
        adr     x0, path                // open("/f", O_RDONLY)
        mov     x1, #0
        mov     x2, #0
        SYSCALL SYS_open
        RECORD
        mov     x19, x0
        mov     x0, x19                 // fstat64(fd, buf)
        adr     x1, scratch
        SYSCALL SYS_fstat64
        RECORD
        mov     x0, x19                 // read(fd, buf, 100)
        adr     x1, scratch
        mov     x2, #100
        SYSCALL SYS_read
        RECORD
        adr     x0, pfd                 // poll({fd, POLLIN}, 1, 0)
        str     w19, [x0]
        mov     x1, #1
        mov     x2, #0
        SYSCALL SYS_poll
        RECORD
        mov     x0, x19                 // close(fd)
        SYSCALL SYS_close
        RECORD
        mov     x0, x19                 // read(fd, ...) after close: EBADF
        adr     x1, scratch
        mov     x2, #100
        SYSCALL SYS_read
        RECORD
"""
OPEN_F = """
        adr     x0, path                // open("/f", O_RDONLY): x0 = the fd
        mov     x1, #0
        mov     x2, #0
        SYSCALL SYS_open
"""
HOT_TEXT = 'msg: .ascii "hi\\n"\npath: .asciz "/f"\n.p2align 3\n'
HOT_DATA = "pfd: .word 0\n.short 1\n.short 0\n"


def both(tmp_path: Path, body: str, text: str = "", data: str = "") -> tuple[GuestRun, GuestRun]:
    """The same guest with C answering, then with Python only."""
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    (root / "f").write_bytes(b"0123456789" * 3)
    runs = []
    for lib in (LIB, None):
        with fastcalls.forced(lib):
            runs.append(run_guest(body, text=text, data=data, root=root, tmp=tmp_path))
    return runs[0], runs[1]


def test_c_answers_the_hot_calls_as_python_does(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    c, py = both(tmp_path, HOT, HOT_TEXT, HOT_DATA)
    assert capfd.readouterr().out == "hi\nhi\n"
    assert c.results == py.results
    assert c.results[4] == ok(30) and c.results[5] == ok(1) and c.results[7] == err(EBADF)
    # write, gettimeofday, fstat64, read, poll and the file's close in C; open, the read after
    # the close (EBADF: Python closed it too before it answered) and exit in Python
    assert c.machine.cpu.native.counts() == (6, 3)
    assert py.machine.cpu.native is None
    assert c.read("pfd", 8) == py.read("pfd", 8)
    assert c.read("scratch", 30) == py.read("scratch", 30) == b"0123456789" * 3


def test_fstat64_from_c_is_pack_stat64(tmp_path: Path) -> None:
    body = (
        OPEN_F
        + """
        adr     x1, scratch
        SYSCALL SYS_fstat64
        RECORD
"""
    )
    c, py = both(tmp_path, body, HOT_TEXT)
    assert c.results == py.results == [ok(0)]
    assert c.machine.cpu.native.counts()[0] == 1
    assert c.read("scratch", 144) == py.read("scratch", 144)


def test_a_buffer_c_may_not_write_goes_to_python_and_is_efault(tmp_path: Path) -> None:
    """A read into the program's text: C copies out only where GuestMemory.writable says."""
    body = (
        OPEN_F
        + """
        adr     x1, msg                 // read-only
        mov     x2, #4
        SYSCALL SYS_read
        RECORD
        adr     x0, msg                 // gettimeofday into read-only memory
        mov     x1, #0
        mov     x2, #0
        SYSCALL SYS_gettimeofday
        RECORD
"""
    )
    c, py = both(tmp_path, body, HOT_TEXT)
    assert c.results == py.results == [err(EFAULT), err(EFAULT)]
    assert c.machine.cpu.native.counts()[0] == 0


def test_o_nonblock_set_by_the_guest_reaches_c(tmp_path: Path) -> None:
    """An empty pipe: guest-blocking, C would wait (a signal would end it); after
    F_SETFL O_NONBLOCK, C answers EAGAIN at once -- the same twin, filled in again."""
    body = f"""
        adr     x0, fds
        SYSCALL SYS_pipe
        adr     x9, fds
        str     w0, [x9]
        str     w1, [x9, #4]
        mov     x0, x0
        mov     x1, #{F_SETFL}
        mov     x2, #{O_NONBLOCK}
        SYSCALL SYS_fcntl
        RECORD
        adr     x9, fds
        ldr     w0, [x9]
        adr     x1, scratch
        mov     x2, #8
        SYSCALL SYS_read
        RECORD
"""
    c, py = both(tmp_path, body, data="fds: .quad 0\n")
    assert c.results == py.results == [ok(0), err(EAGAIN)]
    answered, _ = c.machine.cpu.native.counts()
    assert answered == 1


def test_an_open_files_twin_is_filled_in_again_never_replaced(tmp_path: Path) -> None:
    """C tables hold the twin's address: changing O_NONBLOCK or SO_NOSIGPIPE must not make a
    new one, and must reach it."""
    from emu.host import Host

    with fastcalls.forced(LIB):
        host = Host(os.fspath(tmp_path))
        r, w = host.pipe()
        twin = host.fds[r].native
        for on in (True, False, True):
            host.set_nonblocking(r, on)
            host.fds[r].set_nosigpipe(not on)
            gc.collect()
            assert host.fds[r].native is twin
            assert twin.raw[8:16] == bytes([on, 0, 0, 0, not on, 0, 0, 0])  # fc_file's nonblock, nosigpipe
        with pytest.raises(TypeError):
            host.fds.pop(r)
        host.close_all()


def test_a_broken_pipe_in_c_mode_still_raises_sigpipe(tmp_path: Path) -> None:
    body = """
        adr     x0, fds
        SYSCALL SYS_pipe
        adr     x9, fds
        str     w1, [x9, #4]
        SYSCALL SYS_close               // the read end (x0)
        adr     x9, fds
        ldr     w0, [x9, #4]
        adr     x1, msg
        mov     x2, #3
        SYSCALL SYS_write
        RECORD
"""
    c, py = both(tmp_path, body, HOT_TEXT, data="fds: .quad 0\n")
    assert c.status == py.status == 128 + 13  # SIGPIPE's default action
    assert c.results == py.results == []


def test_a_signal_ends_a_wait_in_c(tmp_path: Path) -> None:
    """A guest-blocking read of an empty pipe waits in C; SIGALRM (its default action)
    from setitimer ends the process there, as it does in Python's wait."""
    body = """
        adr     x0, fds
        SYSCALL SYS_pipe
        adr     x9, fds
        str     w0, [x9]
        mov     x0, #0                  // ITIMER_REAL, 50 ms
        adr     x1, itv
        mov     x2, #0
        SYSCALL SYS_setitimer
        adr     x9, fds
        ldr     w0, [x9]
        adr     x1, scratch
        mov     x2, #8
        SYSCALL SYS_read
        RECORD
"""
    data = "fds: .quad 0\nitv: .quad 0, 0, 0, 50000\n"
    c, py = both(tmp_path, body, data=data)
    assert c.status == py.status == 128 + 14
    assert c.results == py.results == []


def test_without_a_compiler_every_call_is_pythons(tmp_path: Path) -> None:
    env = {**os.environ, "CC": "/bin/false", "YMAWKY_CACHE_DIR": str(tmp_path)}
    code = "from emu.native import fastcalls; print(fastcalls.library()); print(fastcalls.why_not())"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    lib, why = out.stdout.splitlines()
    assert lib == "None" and why.startswith("/bin/false could not build fastcalls.c")


def test_python_syscalls_flag_turns_c_off(tmp_path: Path) -> None:
    """The command line's flag reaches fastcalls before anything is built (here the run
    then stops at a bad --root, exit 2)."""
    code = (
        "import run_emulated; from emu.native import fastcalls; "
        "status = run_emulated.main(['--python-syscalls', '--root', '/no/such/folder']); "
        "print(status, fastcalls.library(), fastcalls.why_not())"
    )
    env = {**os.environ, "YMAWKY_CACHE_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "2 None --python-syscalls"
    helped = subprocess.run(
        [sys.executable, str(ROOT / "run_emulated.py"), "--help"], capture_output=True, text=True, check=True
    )
    assert "--python-syscalls" in helped.stdout


def test_a_file_c_closed_is_closed_on_the_host_before_python_answers(tmp_path: Path) -> None:
    """C answers a file's close; Python closes the host file and frees the number before
    its next call, so the next open gets the same lowest number, as on a Mac."""
    body = OPEN_F + "        RECORD\n        SYSCALL SYS_close\n        RECORD\n" + OPEN_F + "        RECORD\n"
    c, py = both(tmp_path, body, HOT_TEXT)
    assert c.results == py.results == [ok(3), ok(0), ok(3)]
    assert sorted(c.machine.host.fds) == [0, 1, 2, 3]  # InspectableHost keeps the first process's open


def test_files_c_closes_do_not_stay_open_on_the_host(tmp_path: Path) -> None:
    body = (
        """
        mov     x20, #200
again:  adr     x0, path
        mov     x1, #0
        mov     x2, #0
        SYSCALL SYS_open
        SYSCALL SYS_close
        subs    x20, x20, #1
        b.ne    again
"""
        + OPEN_F
        + "        RECORD\n"
    )
    before = len(os.listdir("/proc/self/fd"))
    c, py = both(tmp_path, body, HOT_TEXT)
    assert c.results == py.results == [ok(3)]
    assert c.machine.cpu.native.counts()[0] == 200
    # each run keeps its first process's descriptors (InspectableHost): a few, never 200
    assert len(os.listdir("/proc/self/fd")) - before < 20
