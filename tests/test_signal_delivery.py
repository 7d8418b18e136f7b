"""Signals delivered as XNU delivers them: a handler entered through the guest's sa_tramp
with x0-x5 set, on a frame on the guest stack, and sigreturn (184) back to where the
signal came in with every register as it was.

The trampoline below is the guest's own, as libc's _sigtramp would be: it calls the
handler with (signo, &siginfo, &ucontext) and then sigreturn(uctx, infostyle, token).
SIGALRM comes from setitimer (83), so it arrives while the guest computes or waits.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from guest import GuestRun, run_guest

# each test twice: the hot calls answered in C (emu/native/fastcalls.c), and all in Python
pytestmark = pytest.mark.usefixtures("syscall_path")

EINTR = 4
SIGALRM, SIGUSR1 = 14, 30
SA_RESTART, SA_SIGINFO, SA_RESETHAND = 0x2, 0x40, 0x4

ASM = """
.equ SIGALRM, 14
.equ SIGUSR1, 30
"""

# the guest's trampoline and two handlers; `seen` keeps what the handler was given
TEXT = """
tramp:                              // x0 handler, x1 infostyle, x2 signo, x3 &siginfo, x4 &uctx, x5 token
    adr     x9, entry_regs
    stp     x0, x1, [x9]
    stp     x2, x3, [x9, #16]
    stp     x4, x5, [x9, #32]
    mov     x9, sp
    adr     x10, entry_sp
    str     x9, [x10]
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
    mov     x16, #SYS_sigreturn
    svc     #0x80
    mov     x0, #99                 // sigreturn failed: say so by the exit status
    mov     x16, #SYS_exit
    svc     #0x80

on_signal:                          // counts, keeps signo and the siginfo's si_signo, clobbers freely
    adr     x9, seen
    ldr     x10, [x9]
    add     x10, x10, #1
    str     x10, [x9]
    str     x0, [x9, #8]
    ldr     w11, [x1]
    str     x11, [x9, #16]
    mov     x12, #0x5555
    mov     x13, #0x6666
    mov     x22, #0x7777
    ret

on_signal_feed:                     // also writes one byte into the pipe a read waits on
    adr     x9, seen
    ldr     x10, [x9]
    add     x10, x10, #1
    str     x10, [x9]
    adr     x9, pipefd
    ldr     w0, [x9, #4]
    adr     x1, seen
    mov     x2, #1
    mov     x16, #SYS_write
    svc     #0x80
    ret

on_signal_exit:                     // never returns: straight to its own exit
    mov     x0, #7
    mov     x16, #SYS_exit
    svc     #0x80
"""


def data(handler: str = "on_signal", flags: int = 0, value_us: int = 20_000, interval_us: int = 0) -> str:
    return f"""
.p2align 3
act: .quad {handler}, tramp
    .word 0, {flags}
itv: .quad {interval_us // 1_000_000}, {interval_us % 1_000_000}, {value_us // 1_000_000}, {value_us % 1_000_000}
seen: .quad 0, 0, 0
entry_regs: .zero 48
entry_sp: .quad 0
pipefd: .word 0, 0
after: .zero 64
"""


ARM_ALARM = """
    mov     x0, #SIGALRM
    adr     x1, act
    mov     x2, #0
    SYSCALL SYS_sigaction
    RECORD
    mov     x0, #0
    adr     x1, itv
    mov     x2, #0
    SYSCALL SYS_setitimer
    RECORD
"""

# spin (at most ~2 s of guest time) until the handler has run; then keep x9, x22, x23
SPIN = """
    ldr     x9, =0x40000000
    ldr     x22, =0x1122334455667788
    ldr     x23, =0x0123456789abcdef
spin:
    adr     x10, seen
    ldr     x10, [x10]
    cbnz    x10, spun
    subs    x9, x9, #1
    b.ne    spin
spun:
    adr     x10, after
    stp     x9, x22, [x10]
    str     x23, [x10, #16]
"""


INSTALL_USR1 = """
    mov     x0, #SIGUSR1
    adr     x1, act
    mov     x2, #0
    SYSCALL SYS_sigaction
"""
KILL_SELF_USR1 = """
    SYSCALL SYS_getpid
    mov     x1, #SIGUSR1
    mov     x2, #1
    SYSCALL SYS_kill
"""

# a pipe, the alarm armed, then a read of the empty pipe: it blocks until the alarm
READ_PIPE = (
    """
    adr     x0, pipefd
    SYSCALL SYS_pipe
    adr     x9, pipefd
    stp     w0, w1, [x9]
"""
    + ARM_ALARM
    + """
    adr     x9, pipefd
    ldr     w0, [x9]
    adr     x1, after
    mov     x2, #8
    SYSCALL SYS_read
    RECORD
"""
)


def guest(tmp_path: Path, body: str, data_text: str) -> GuestRun:
    return run_guest(ASM + body, text=TEXT, data=data_text, root=tmp_path, tmp=tmp_path)


def words(run: GuestRun, label: str, n: int) -> tuple[int, ...]:
    return struct.unpack(f"<{n}Q", run.read(label, 8 * n))


@pytest.mark.timeout(30)
def test_sigalrm_enters_the_handler_through_sa_tramp_and_sigreturn_restores_every_register(tmp_path: Path) -> None:
    run = guest(tmp_path, ARM_ALARM + SPIN, data(flags=SA_SIGINFO))
    assert run.status == 0
    assert run.results == [(0, 0, False), (0, 0, False)]
    count, signo, si_signo = words(run, "seen", 3)
    assert (count, signo, si_signo) == (1, SIGALRM, SIGALRM)
    handler, infostyle, x2, siginfo, uctx, token = words(run, "entry_regs", 6)
    assert handler == run.addr("on_signal") and infostyle == 30 and x2 == SIGALRM  # UC_FLAVOR with SA_SIGINFO
    (sp,) = words(run, "entry_sp", 1)
    assert siginfo == sp and uctx == sp + 104 and sp % 16 == 0  # the frame: siginfo, then the ucontext
    assert token != uctx  # x5 is uctx ^ the process's secret
    left, x22, x23 = words(run, "after", 3)
    assert 0 < left < 0x40000000  # the spin was cut short by the alarm
    assert (x22, x23) == (0x1122334455667788, 0x0123456789ABCDEF)  # the handler's clobbers were undone


@pytest.mark.timeout(30)
def test_a_blocking_read_is_interrupted_with_eintr_without_sa_restart(tmp_path: Path) -> None:
    run = guest(tmp_path, READ_PIPE, data())
    assert run.results[-1] == (EINTR, 0, True)
    assert words(run, "seen", 1) == (1,)


@pytest.mark.timeout(30)
def test_sa_restart_runs_the_interrupted_read_again(tmp_path: Path) -> None:
    run = guest(tmp_path, READ_PIPE, data("on_signal_feed", flags=SA_RESTART))
    assert run.results[-1] == (1, 0, False)  # the byte the handler wrote, read by the same call
    assert run.read("after", 1) == b"\x01"


@pytest.mark.timeout(30)
def test_the_default_action_of_sigalrm_ends_the_process(tmp_path: Path) -> None:
    run = guest(
        tmp_path,
        """
    mov     x0, #0
    adr     x1, itv
    mov     x2, #0
    SYSCALL SYS_setitimer
    RECORD
"""
        + SPIN,
        data(),
    )
    assert run.status == 128 + SIGALRM
    assert run.machine.end_signal == SIGALRM


@pytest.mark.timeout(30)
def test_a_handler_that_never_returns_can_exit_from_inside(tmp_path: Path) -> None:
    run = guest(tmp_path, ARM_ALARM + SPIN, data("on_signal_exit"))
    assert run.status == 7


@pytest.mark.timeout(30)
def test_kill_to_itself_runs_the_handler_before_the_next_instruction(tmp_path: Path) -> None:
    run = guest(
        tmp_path,
        INSTALL_USR1
        + KILL_SELF_USR1
        + """    RECORD
    adr     x9, seen
    ldr     x0, [x9]
    RECORD
""",
        data(flags=SA_RESETHAND),
    )
    assert run.results == [(0, 0, False), (1, 0, False)]
    _, infostyle, *_ = words(run, "entry_regs", 6)
    assert infostyle == 1  # UC_TRAD without SA_SIGINFO
    assert run.machine.kernel.signals.action(SIGUSR1).handler == 0  # SA_RESETHAND: back to SIG_DFL


@pytest.mark.timeout(30)
def test_a_blocked_signal_waits_and_is_delivered_when_unblocked(tmp_path: Path) -> None:
    run = guest(
        tmp_path,
        INSTALL_USR1
        + """
    mov     x0, #1                  // SIG_BLOCK
    adr     x1, usr1_set
    mov     x2, #0
    SYSCALL SYS_sigprocmask
"""
        + KILL_SELF_USR1
        + """    adr     x9, seen
    ldr     x0, [x9]
    RECORD
    mov     x0, #2                  // SIG_UNBLOCK
    adr     x1, usr1_set
    mov     x2, #0
    SYSCALL SYS_sigprocmask
    adr     x9, seen
    ldr     x0, [x9]
    RECORD
""",
        data() + "usr1_set: .word 0x20000000\n",
    )
    assert run.results == [(0, 0, False), (1, 0, False)]


@pytest.mark.timeout(30)
def test_an_interval_timer_fires_again_and_getitimer_reads_it_back(tmp_path: Path) -> None:
    run = guest(
        tmp_path,
        ARM_ALARM
        + """
    ldr     x9, =0x40000000
again:
    adr     x10, seen
    ldr     x10, [x10]
    cmp     x10, #3
    b.ge    done
    subs    x9, x9, #1
    b.ne    again
done:
    mov     x0, #0
    adr     x1, after
    SYSCALL SYS_getitimer
    RECORD
""",
        data(value_us=10_000, interval_us=10_000),
    )
    assert words(run, "seen", 1)[0] >= 3
    interval_s, interval_us, value_s, value_us = struct.unpack("<qq qq".replace(" ", ""), run.read("after", 32))
    assert (interval_s, interval_us) == (0, 10_000) and value_s == 0 and 0 <= value_us <= 10_000


def record_and_replay(tmp_path: Path, body: str, data_text: str) -> tuple[list[dict], object, GuestRun]:
    """Run a guest under --record, then replay the recording: (the log's lines, the replay, the live run)."""
    import io
    import json

    from guest import guest_source, record_guest

    from emu.assembler import assemble_text
    from emu.replay import run_replay

    asm = assemble_text(guest_source(ASM + body, TEXT, data_text), "guest.s")
    live, exe = record_guest(asm, tmp_path)
    (log,) = (tmp_path / "rec").glob("0-pid*.jsonl")
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    out = io.StringIO()
    done = run_replay(tmp_path / "rec", exe, asm, out=out)
    assert done.ok, out.getvalue()
    return lines, done, live


@pytest.mark.timeout(30)
def test_a_recorded_alarm_replays_at_the_same_block_with_the_same_registers(tmp_path: Path) -> None:
    lines, done, live = record_and_replay(tmp_path, ARM_ALARM + SPIN, data(flags=SA_SIGINFO))
    (sig,) = [x for x in lines if x["type"] == "signal"]
    assert sig["sig"] == SIGALRM and sig["blocks"] > 0  # mid-computation, not at a syscall
    assert [x["name"] for x in lines if x["type"] == "sys"][-2:] == ["sigreturn", "exit"]
    assert done.results[0].status == 0
    # the replay's machine ran the same spin: it took the alarm after the same number of iterations
    from emu.replay import load

    assert load(tmp_path / "rec").processes["0"].signals[0].pc == int(sig["pc"], 16)
    assert words(live, "after", 3)[1:] == (0x1122334455667788, 0x0123456789ABCDEF)


@pytest.mark.timeout(30)
def test_a_recorded_eintr_and_restart_replay_as_recorded(tmp_path: Path) -> None:
    for flags, want in ((0, (EINTR, 0, True)), (SA_RESTART, (1, 0, False))):
        d = tmp_path / str(flags)
        d.mkdir()
        handler = "on_signal_feed" if flags else "on_signal"
        lines, done, live = record_and_replay(d, READ_PIPE, data(handler, flags=flags))
        assert live.results[-1] == want
        assert any(x["type"] == "signal" and x["blocks"] == 0 for x in lines)  # as the read returned
