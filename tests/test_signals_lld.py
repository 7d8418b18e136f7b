"""Signals, fork and renameatx_np as a Mac delivers them, to a program built by clang + ld64.lld.

The program is written here in Apple's dialect (generated: the register
patterns are a loop, not 60 hand-written lines), assembled by clang
-target arm64-apple-macos11 and linked by ld64.lld -- not by our toolchain
-- and run under run_emulated.py --macho.  Each part prints "ok NAME" or
"FAIL NAME" and the program exits 0 only if every part passed:

* alarm: SIGALRM from setitimer during a compute loop enters the guest's
  trampoline with x0-x5 = handler, UC_FLAVOR (30), signo, &siginfo,
  &ucontext (= &siginfo + 104), token; after sigreturn every register
  (x0-x30 but x18, the platform register XNU zeroes; sp; nzcv) is what it
  was before the loop.
* eintr / restart: a blocking read of an empty pipe returns EINTR (carry
  set, x0 = 4) after the handler ran; under SA_RESTART it is run again and
  returns the byte the handler wrote.
* default: SIGALRM's default action ends a forked child; wait4 says 14.
* handler: kill(child, SIGTERM) runs the child's handler (it exits 42).
* bomb: fork until EAGAIN (35) at the cap; every child is reaped after.
* rename: renameatx_np RENAME_EXCL onto an existing file is EEXIST (17);
  RENAME_SWAP swaps the two files' contents.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CLANG, LLD = shutil.which("clang"), shutil.which("ld64.lld-14")
PARTS = ("alarm", "eintr", "restart", "default", "handler", "bomb", "rename")

# registers the compute loop leaves alone, and the value each holds across the alarm (not x18:
# Apple's platform register, which XNU zeroes on every return to user mode)
CHECKED = [f"x{i}" for i in range(9)] + [f"x{i}" for i in range(12, 29) if i != 18]
PATTERN = {r: 0x1000 + 0x111 * i for i, r in enumerate(CHECKED)}
FP_PATTERN, LR_PATTERN, NZCV_PATTERN = 0x7E1D, 0x7E2D, 0x60000000


def adr(reg: str, sym: str) -> str:
    return f"    adrp    {reg}, {sym}@PAGE\n    add     {reg}, {reg}, {sym}@PAGEOFF\n"


def sys_(num: int) -> str:
    return f"    mov     x16, #{num}\n    svc     #0x80\n"


def say(label: str) -> str:
    return adr("x0", label) + "    bl      puts\n"


def check(reg: str, value: int, fail: str) -> str:
    return f"    mov     x9, #{value:#x}\n    cmp     {reg}, x9\n    b.ne    {fail}\n"


def source() -> str:
    s = [
        """.section __TEXT,__text,regular,pure_instructions
.globl _main
.p2align 2
_main:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
"""
    ]
    # ------------------------------------------------------------ alarm: registers across a handler
    s.append(
        adr("x9", "on_signal")
        + adr("x10", "tramp")
        + adr("x11", "act")
        + "    stp     x9, x10, [x11]\n    mov     w9, #0x40\n    str     w9, [x11, #20]\n"
    )  # SA_SIGINFO
    s.append(
        "    mov     x0, #14\n" + adr("x1", "act") + "    mov     x2, #0\n" + sys_(46) + "    b.cs    fail_alarm\n"
    )
    s.append("    mov     x0, #0\n" + adr("x1", "itv") + "    mov     x2, #0\n" + sys_(83) + "    b.cs    fail_alarm\n")
    s.append(adr("x10", "saved") + "    mov     x11, sp\n    stp     x29, x30, [x10]\n    str     x11, [x10, #16]\n")
    s.append(adr("x10", "seen") + "    movz    x9, #0x4000, lsl #16\n")
    s += [f"    mov     {r}, #{v:#x}\n" for r, v in PATTERN.items()]
    s.append(
        f"    mov     x29, #{FP_PATTERN:#x}\n    mov     x30, #{LR_PATTERN:#x}\n"
        f"    mov     x11, #{NZCV_PATTERN:#x}\n    msr     nzcv, x11\n"
    )
    s.append("""spin:                               // no flags touched: nzcv must survive as set
    ldr     x11, [x10]
    cbnz    x11, spun
    sub     x9, x9, #1
    cbnz    x9, spin
    b       fail_alarm
spun:
    mrs     x11, nzcv
""")
    s.append(check("x11", NZCV_PATTERN, "fail_alarm"))
    s += [check(r, v, "fail_alarm") for r, v in PATTERN.items()]
    s.append(check("x29", FP_PATTERN, "fail_alarm") + check("x30", LR_PATTERN, "fail_alarm"))
    s.append(
        adr("x10", "saved") + "    ldp     x29, x30, [x10]\n    ldr     x12, [x10, #16]\n"
        "    mov     x11, sp\n    cmp     x11, x12\n    b.ne    fail_alarm\n"
    )
    # what the trampoline was entered with
    s.append(
        adr("x10", "entry") + "    ldp     x0, x1, [x10]\n    ldp     x2, x3, [x10, #16]\n"
        "    ldp     x4, x5, [x10, #32]\n"
        + adr("x9", "on_signal")
        + "    cmp     x0, x9\n    b.ne    fail_alarm\n"
        + check("x1", 30, "fail_alarm")
        + check("x2", 14, "fail_alarm")
        + "    add     x9, x3, #104\n    cmp     x4, x9\n    b.ne    fail_alarm\n"
        "    cmp     x5, x4\n    b.eq    fail_alarm\n"  # the token is &ucontext ^ a secret
        "    ldr     w9, [x3]\n    cmp     w9, #14\n    b.ne    fail_alarm\n"
    )  # si_signo
    s.append(say("s_alarm"))
    # ------------------------------------------------------------ eintr, then restart
    for name, flags, handler, want in (("eintr", 0x40, "on_signal", None), ("restart", 0x42, "on_signal_feed", 1)):
        s.append(adr("x9", "seen") + "    str     xzr, [x9]\n")
        s.append(adr("x0", "pipefd") + sys_(42) + adr("x9", "pipefd") + "    stp     w0, w1, [x9]\n")
        s.append(
            adr("x9", handler) + adr("x11", "act") + f"    str     x9, [x11]\n    mov     w9, #{flags:#x}\n"
            "    str     w9, [x11, #20]\n"
        )
        s.append("    mov     x0, #14\n" + adr("x1", "act") + "    mov     x2, #0\n" + sys_(46))
        s.append("    mov     x0, #0\n" + adr("x1", "itv") + "    mov     x2, #0\n" + sys_(83))
        s.append(adr("x9", "pipefd") + "    ldr     w0, [x9]\n" + adr("x1", "buf") + "    mov     x2, #8\n" + sys_(3))
        if want is None:
            s.append(f"    b.cc    fail_{name}\n" + check("x0", 4, f"fail_{name}"))
        else:
            s.append(f"    b.cs    fail_{name}\n" + check("x0", want, f"fail_{name}"))
        s.append(adr("x9", "seen") + f"    ldr     x9, [x9]\n    cbz     x9, fail_{name}\n" + say(f"s_{name}"))
    # ------------------------------------------------------------ default action in a child
    s.append(
        sys_(2) + "    b.cs    fail_default\n    cbnz    x1, default_child\n"
        "    mov     x0, x0\n"
        + adr("x1", "status")
        + "    mov     x2, #0\n    mov     x3, #0\n"
        + sys_(7)
        + "    b.cs    fail_default\n"
        + adr("x9", "status")
        + "    ldr     w9, [x9]\n"
        "    cmp     w9, #14\n    b.ne    fail_default\n" + say("s_default") + "    b       part_handler\n"
        "default_child:\n    mov     x0, #14\n"
        + adr("x1", "dfl")
        + "    mov     x2, #0\n"
        + sys_(46)
        + "    mov     x0, #0\n"
        + adr("x1", "itv")
        + "    mov     x2, #0\n"
        + sys_(83)
        + "    movz    x9, #0x4000, lsl #16\n1:  sub     x9, x9, #1\n    cbnz    x9, 1b\n"
        "    mov     x0, #99\n" + sys_(1)
    )
    # ------------------------------------------------------------ kill(child, SIGTERM) runs its handler
    s.append(
        "part_handler:\n"
        + adr("x0", "pipefd")
        + sys_(42)
        + adr("x9", "pipefd")
        + "    stp     w0, w1, [x9]\n"
        + sys_(2)
        + "    b.cs    fail_handler\n    cbnz    x1, handler_child\n    mov     x19, x0\n"
        + adr("x9", "pipefd")
        + "    ldr     w0, [x9]\n"
        + adr("x1", "buf")
        + "    mov     x2, #1\n"
        + sys_(3)
        + "    mov     x0, x19\n    mov     x1, #15\n    mov     x2, #1\n"
        + sys_(37)
        + "    b.cs    fail_handler\n"
        "    mov     x0, x19\n"
        + adr("x1", "status")
        + "    mov     x2, #0\n    mov     x3, #0\n"
        + sys_(7)
        + adr("x9", "status")
        + "    ldr     w9, [x9]\n    mov     w10, #0x2a00\n"  # exit(42)
        "    cmp     w9, w10\n    b.ne    fail_handler\n" + say("s_handler") + "    b       part_bomb\n"
        "handler_child:\n" + adr("x9", "on_term") + adr("x11", "act") + "    str     x9, [x11]\n"
        "    str     wzr, [x11, #20]\n    mov     x0, #15\n"
        + adr("x1", "act")
        + "    mov     x2, #0\n"
        + sys_(46)
        + adr("x9", "pipefd")
        + "    ldr     w0, [x9, #4]\n"
        + adr("x1", "buf")
        + "    mov     x2, #1\n"
        + sys_(4)
        + "    movz    x9, #0x4000, lsl #16\n1:  sub     x9, x9, #1\n    cbnz    x9, 1b\n"
        "    mov     x0, #98\n" + sys_(1)
    )
    # ------------------------------------------------------------ a fork bomb stops at the cap
    s.append(
        "part_bomb:\n" + adr("x0", "pipefd") + sys_(42) + adr("x9", "pipefd") + "    stp     w0, w1, [x9]\n"
        "    mov     x19, #0\n"
        "bomb_more:\n" + sys_(2) + "    b.cs    bomb_full\n    cbnz    x1, bomb_child\n"
        "    add     x19, x19, #1\n    cmp     x19, #1000\n    b.lo    bomb_more\n    b       fail_bomb\n"
        "bomb_full:\n"
        + check("x0", 35, "fail_bomb")
        + "    cmp     x19, #100\n    b.lo    fail_bomb\n"
        + adr("x9", "pipefd")
        + "    ldr     w0, [x9, #4]\n"
        + sys_(6)  # EOF: the children go
        + "bomb_reap:\n    mov     x0, #-1\n    mov     x1, #0\n    mov     x2, #0\n    mov     x3, #0\n"
        + sys_(7)
        + "    b.cc    bomb_reap\n"
        + check("x0", 10, "fail_bomb")
        + say("s_bomb")
        + "    b       part_rename\n"
        "bomb_child:\n"
        + adr("x9", "pipefd")
        + "    ldr     w0, [x9, #4]\n"
        + sys_(6)
        + adr("x9", "pipefd")
        + "    ldr     w0, [x9]\n"
        + adr("x1", "buf")
        + "    mov     x2, #1\n"
        + sys_(3)
        + "    mov     x0, #0\n"
        + sys_(1)
    )
    # ------------------------------------------------------------ renameatx_np
    s.append(
        "part_rename:\n    mov     x0, #-2\n"
        + adr("x1", "name_a")
        + "    mov     x2, #-2\n"
        + adr("x3", "name_b")
        + "    mov     x4, #4\n"
        + sys_(488)
        + "    b.cc    fail_rename\n"
        + check("x0", 17, "fail_rename")
        + "    mov     x0, #-2\n"
        + adr("x1", "name_a")
        + "    mov     x2, #-2\n"
        + adr("x3", "name_b")
        + "    mov     x4, #2\n"
        + sys_(488)
        + "    b.cs    fail_rename\n"
        + adr("x0", "name_a")
        + "    mov     x1, #0\n    mov     x2, #0\n"
        + sys_(5)
        + "    b.cs    fail_rename\n"
        + adr("x1", "buf")
        + "    mov     x2, #8\n"
        + sys_(3)
        + adr("x9", "buf")
        + "    ldrb    w9, [x9]\n"
        "    cmp     w9, #'B'\n    b.ne    fail_rename\n" + say("s_rename")
    )
    s.append("    mov     x0, #0\n" + sys_(1))
    for part in PARTS:
        s.append(f"fail_{part}:\n" + say(f"f_{part}") + "    mov     x0, #1\n" + sys_(1))
    s.append(
        """
tramp:                              // the guest's own, as libc's _sigtramp: handler(signo, info, uap), sigreturn
"""
        + adr("x9", "entry")
        + """    stp     x0, x1, [x9]
    stp     x2, x3, [x9, #16]
    stp     x4, x5, [x9, #32]
    mov     x19, x4
    mov     x20, x1
    mov     x21, x5
    mov     x9, x0
    mov     x0, x2
    mov     x1, x3
    mov     x2, x4
    blr     x9
    mov     x0, x19
    mov     x1, x20
    mov     x2, x21
"""
        + sys_(184)
        + "    mov     x0, #97\n"
        + sys_(1)
        + """
on_signal:                          // marks that it ran, and clobbers what the frame must restore
"""
        + adr("x9", "seen")
        + """    mov     x10, #1
    str     x10, [x9]
    mov     x12, #0x5555
    mov     x28, #0x6666
    movz    x11, #0xf000, lsl #16
    msr     nzcv, x11
    ret

on_signal_feed:                     // also writes the byte a restarted read will get
"""
        + adr("x9", "seen")
        + """    mov     x10, #1
    str     x10, [x9]
"""
        + adr("x9", "pipefd")
        + "    ldr     w0, [x9, #4]\n"
        + adr("x1", "seen")
        + "    mov     x2, #1\n"
        + sys_(4)
        + """    ret

on_term:
    mov     x0, #42
"""
        + sys_(1)
        + """
puts:                               // x0 = a NUL-terminated line
    mov     x1, x0
    mov     x2, #0
1:  ldrb    w3, [x1, x2]
    cbz     w3, 2f
    add     x2, x2, #1
    b       1b
2:  mov     x0, #1
"""
        + sys_(4)
        + """    ret

.section __DATA,__data
.p2align 3
act:    .quad 0, 0
        .long 0, 0
dfl:    .quad 0, 0
        .long 0, 0
itv:    .quad 0, 0, 0, 20000        // it_interval 0; it_value 20 ms
seen:   .quad 0
entry:  .space 48
saved:  .space 24
status: .long 0x5a5a5a5a
pipefd: .long 0, 0
buf:    .space 16
name_a: .asciz "a.txt"
name_b: .asciz "b.txt"
"""
    )
    for part in PARTS:
        s.append(f's_{part}: .asciz "ok {part}\\n"\nf_{part}: .asciz "FAIL {part}\\n"\n')
    return "".join(s)


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not CLANG or not LLD:
        pytest.skip("needs clang and ld64.lld-14 (apt-get install clang lld-14)")
    out = tmp_path_factory.mktemp("signals")
    src, obj, exe = out / "signals.s", out / "signals.o", out / "signals"
    src.write_text(source())
    subprocess.run([CLANG, "-target", "arm64-apple-macos11", "-c", str(src), "-o", str(obj)], check=True, timeout=60)
    subprocess.run(
        [LLD, "-arch", "arm64", "-platform_version", "macos", "11.0", "11.0", "-e", "_main", "-o", str(exe), str(obj)],
        check=True,
        timeout=60,
    )
    return exe


@pytest.mark.timeout(120)
def test_signals_fork_and_rename_behave_as_on_a_mac(program: Path, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("A")
    (tmp_path / "b.txt").write_text("B")
    done = subprocess.run(
        [sys.executable, str(ROOT / "run_emulated.py"), "--root", str(tmp_path), "--macho", str(program)],
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert done.stdout == "".join(f"ok {p}\n" for p in PARTS), done.stdout + done.stderr
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "a.txt").read_text() == "B" and (tmp_path / "b.txt").read_text() == "A"  # swapped
