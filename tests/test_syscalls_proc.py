"""Process syscalls as a Mac guest sees them: exit, fork, wait4, getpid, getppid, kill.

fork makes a guest process inside the emulator (its own thread and Unicorn);
the child writes what it saw into a file under the root before it exits,
since the test sees only the first process's registers.  Status words are
checked against bsd/sys/wait.h (exit code << 8, or the *Darwin* signal
number), and signal numbers that differ between Darwin and Linux (SIGUSR1 30
vs 10, SIGBUS 10 vs 7) are used on purpose.  Children that should be killed
spin for a bounded time only.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from guest import GuestRun, err, ok, run_guest

# Darwin values (bsd/sys/errno.h, bsd/sys/signal.h, bsd/sys/wait.h)
EPERM, ESRCH, ECHILD, EFAULT, EINVAL = 1, 3, 10, 14, 22
SIGKILL, SIGBUS, SIGTERM, SIGCONT, SIGUSR1 = 9, 10, 15, 19, 30
WNOHANG = 1

ASM = """
.equ O_WRONLY_CREAT_TRUNC, 0x601
.equ WNOHANG, 1
"""

# The child's side: spin about two seconds at most, then exit(3) -- unless it is killed first.
SPIN_THEN_EXIT = """
child:
    ldr     x9, =0x20000000
child_spin:
    subs    x9, x9, #1
    b.ne    child_spin
    mov     x0, #3
    SYSCALL SYS_exit
"""

DATA = """
.p2align 3
status: .word 0x5a5a5a5a
status2: .word 0x5a5a5a5a
status3: .word 0x5a5a5a5a
.p2align 3
ru: .fill 144, 1, 0xaa
"""


def guest(tmp_path: Path, body: str, text: str = "", data: str = DATA) -> GuestRun:
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    return run_guest(ASM + body, text=text, data=data, root=root, tmp=tmp_path)


def word(run: GuestRun, label: str) -> int:
    return struct.unpack("<i", run.read(label, 4))[0]


def wait_call(pid_reg: str, status: str, options: str = "#0", rusage: str = "", num: str = "SYS_wait4") -> str:
    ru = f"adr     x3, {rusage}" if rusage else "mov     x3, #0"
    st = f"adr     x1, {status}" if status else "mov     x1, #0"
    return f"""
        mov     x0, {pid_reg}
        {st}
        mov     x2, {options}
        {ru}
        SYSCALL {num}
        RECORD
"""


def kill_call(pid_reg: str, sig: int) -> str:
    return f"""
        mov     x0, {pid_reg}
        mov     x1, #{sig}
        mov     x2, #1
        SYSCALL SYS_kill
        RECORD
"""


# --------------------------------------------------------------------- pids


def test_getpid_and_getppid_are_the_emulating_process_and_its_parent(tmp_path: Path) -> None:
    run = guest(
        tmp_path,
        """
        SYSCALL SYS_getpid
        RECORD
        SYSCALL SYS_getppid
        RECORD
    """,
    )
    assert run.results == [ok(os.getpid()), ok(os.getppid())]


# --------------------------------------------------------------------- exit


def test_exit_status_is_the_low_byte(tmp_path: Path) -> None:
    assert guest(tmp_path, "mov x0, #7\nSYSCALL SYS_exit\nRECORD\n").status == 7
    assert guest(tmp_path, "mov x0, #300\nSYSCALL SYS_exit\n").status == 300 & 0xFF
    run = guest(tmp_path, "mov x0, #0\nSYSCALL SYS_exit\nRECORD\n")
    assert run.status == 0 and run.results == []  # exit never returns


# --------------------------------------------------------------------- fork and wait4

FORK_CHILD_REPORTS = (
    """
        SYSCALL SYS_fork
        // x0/x1 exactly as the trap left them, and the carry flag
        mrs     x2, nzcv
        adr     x9, regs
        stp     x0, x1, [x9]
        str     x2, [x9, #16]
        RECORD
        cbnz    x1, child
        mov     x19, x0
"""
    + "{parent}"
    + """
        b       done
child:
        SYSCALL SYS_getpid
        adr     x9, regs
        str     x0, [x9, #24]
        SYSCALL SYS_getppid
        adr     x9, regs
        str     x0, [x9, #32]
        adr     x0, p_child
        mov     x1, #O_WRONLY_CREAT_TRUNC
        mov     x2, #420
        SYSCALL SYS_open
        adr     x1, regs
        mov     x2, #40
        SYSCALL SYS_write
        mov     x0, #{code}
        SYSCALL SYS_exit
done:
"""
)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("wait_num", ["SYS_wait4", "SYS_wait4_nocancel"])
def test_fork_gives_parent_the_pid_and_child_its_own_pid_with_x1_1(tmp_path: Path, wait_num: str) -> None:
    body = FORK_CHILD_REPORTS.replace("{code}", "42").replace(
        "{parent}", wait_call("x19", "status", rusage="ru", num=wait_num)
    )
    run = guest(
        tmp_path, body, text='p_child: .asciz "/child.bin"\n.p2align 2\n', data=DATA + ".p2align 3\nregs: .zero 40\n"
    )
    fork, waited = run.results
    pid = fork[0]
    assert fork == ok(pid) and pid > 0 and pid != os.getpid()  # parent: x0 = child, x1 = 0
    assert waited == ok(pid)  # wait4 returns that pid
    assert word(run, "status") == 42 << 8  # W_EXITCODE(42, 0)
    maxrss = struct.unpack_from("<q", run.read("ru", 144), 32)[0]
    assert 0 < maxrss != 0xAAAAAAAAAAAAAAAA - (1 << 64)  # rusage written (ru_maxrss in bytes)

    x0, x1, nzcv, child_pid, child_ppid = struct.unpack("<5Q", (tmp_path / "root" / "child.bin").read_bytes())
    assert (x0, x1) == (pid, 1)  # child: x0 = its own pid (not 0), x1 = 1
    assert nzcv & (1 << 29) == 0  # carry clear in the child too
    assert child_pid == pid and child_ppid == os.getpid()


@pytest.mark.timeout(30)
def test_exit_code_above_255_reaches_the_parent_masked(tmp_path: Path) -> None:
    body = FORK_CHILD_REPORTS.replace("{code}", "0x1ff").replace("{parent}", wait_call("x19", "status"))
    run = guest(
        tmp_path, body, text='p_child: .asciz "/child.bin"\n.p2align 2\n', data=DATA + ".p2align 3\nregs: .zero 40\n"
    )
    assert run.results[1] == ok(run.results[0][0])
    assert word(run, "status") == 0xFF << 8


@pytest.mark.timeout(30)
def test_wnohang_with_a_live_child_returns_0_then_sigkill_shows_in_the_status(tmp_path: Path) -> None:
    run = guest(
        tmp_path,
        """
        SYSCALL SYS_fork
        cbnz    x1, child
        mov     x19, x0
    """
        + wait_call("x19", "status", options="#WNOHANG")
        + kill_call("x19", SIGKILL)
        + wait_call("x19", "status2")
        + """
        b       done
    """
        + SPIN_THEN_EXIT
        + "done:\n",
    )
    child = run.results[2][0]
    assert run.results == [ok(0), ok(0), ok(child)]  # WNOHANG: 0 while it runs, then kill, then reaped
    assert word(run, "status") == 0x5A5A5A5A  # the WNOHANG call wrote no status
    assert run.machine.tree.procs.first.children == []  # reaped for us: nothing to wait for
    assert word(run, "status2") == SIGKILL  # WTERMSIG = 9, no exit code


@pytest.mark.timeout(30)
@pytest.mark.parametrize("sig", [SIGTERM, SIGUSR1])
def test_kill_probe_then_signal_a_child_and_wait4_reports_the_darwin_signal(tmp_path: Path, sig: int) -> None:
    run = guest(
        tmp_path,
        """
        SYSCALL SYS_fork
        cbnz    x1, child
        mov     x19, x0
    """
        + kill_call("x19", 0)
        + kill_call("x19", sig)
        + wait_call("x19", "status")
        + """
        b       done
    """
        + SPIN_THEN_EXIT
        + "done:\n",
    )
    child = run.results[2][0]
    assert run.results == [ok(0), ok(0), ok(child)]
    assert word(run, "status") == sig  # SIGUSR1 is 30 on Darwin (10 on Linux)


@pytest.mark.timeout(30)
def test_a_child_that_faults_dies_by_the_darwin_signal(tmp_path: Path) -> None:
    run = guest(
        tmp_path,
        """
        SYSCALL SYS_fork
        cbnz    x1, child
        mov     x19, x0
    """
        + wait_call("x19", "status")
        + """
        b       done
child:
        adr     x9, ro_word
        str     x0, [x9]                // write to read-only text: SIGBUS on a Mac
        mov     x0, #3
        SYSCALL SYS_exit
done:
    """,
        text="ro_word: .quad 0\n",
    )
    assert run.results == [ok(run.results[0][0])]
    assert word(run, "status") == SIGBUS  # Darwin 10 (Linux's SIGBUS is 7)


@pytest.mark.timeout(30)
def test_wait4_with_a_bad_status_pointer_is_efault_and_leaves_the_child_waitable(tmp_path: Path) -> None:
    body = FORK_CHILD_REPORTS.replace("{code}", "5").replace(
        "{parent}",
        """
        mov     x0, x19
        mov     x1, #16
        mov     x2, #0
        mov     x3, #0
        SYSCALL SYS_wait4
        RECORD
    """
        + wait_call("x19", "status"),
    )
    run = guest(
        tmp_path, body, text='p_child: .asciz "/child.bin"\n.p2align 2\n', data=DATA + ".p2align 3\nregs: .zero 40\n"
    )
    pid = run.results[0][0]
    assert run.results[1:] == [err(EFAULT), ok(pid)]
    assert word(run, "status") == 5 << 8


@pytest.mark.timeout(30)
def test_wait4_without_children_is_echild(tmp_path: Path) -> None:
    run = guest(
        tmp_path,
        wait_call("#-1", "status")
        + wait_call("#1", "status")
        + wait_call("#0", "status", options="#WNOHANG")
        + """
        SYSCALL SYS_fork
        cbnz    x1, child
        mov     x19, x0
    """
        + wait_call("x19", "")
        + wait_call("x19", "status")
        + wait_call("#-1", "status", num="SYS_wait4_nocancel")
        + """
        b       done
child:
        mov     x0, #0
        SYSCALL SYS_exit
done:
    """,
    )
    pid = run.results[3][0]
    assert run.results == [err(ECHILD), err(ECHILD), err(ECHILD), ok(pid), err(ECHILD), err(ECHILD)]
    assert word(run, "status") == 0x5A5A5A5A  # never written


@pytest.mark.timeout(30)
def test_wait4_never_reaps_a_child_of_the_host_that_the_guest_did_not_fork(tmp_path: Path) -> None:
    other = subprocess.Popen([sys.executable, "-c", "pass"])
    os.waitid(os.P_PID, other.pid, os.WEXITED | os.WNOWAIT)  # exited, not yet reaped
    try:
        run = guest(
            tmp_path,
            """
            ldr     x19, other_pid
        """
            + wait_call("x19", "status")
            + wait_call("#-1", "status")
            + wait_call("#0", "status"),
            data=DATA + f".p2align 3\nother_pid: .quad {other.pid}\n",
        )
        assert run.results == [err(ECHILD)] * 3
        assert word(run, "status") == 0x5A5A5A5A
    finally:
        assert os.waitpid(other.pid, 0)[0] == other.pid  # still ours to reap
        other.returncode = 0


# --------------------------------------------------------------------- kill outside the fork tree


def test_kill_cannot_reach_processes_outside_the_guest(tmp_path: Path) -> None:
    # harmless signals only (0 probes, SIGCONT wakes nothing that runs), in
    # case the refusal ever breaks
    run = guest(
        tmp_path,
        kill_call("#1", 0)
        + kill_call("#1", SIGCONT)
        + kill_call("#0", SIGCONT)
        + kill_call("#-1", 0)
        + """
        SYSCALL SYS_getppid
        mov     x19, x0
    """
        + kill_call("x19", 0)
        + """
        SYSCALL SYS_getpid
        mov     x20, x0
    """
        + kill_call("x20", 0)
        + kill_call("x20", 99)
        + kill_call("x20", -1),
    )
    # pid 1 and the emulator's own parent are no processes of the guest's (ESRCH);
    # the process group (0) is the guest's processes only, and "everyone else" (-1)
    # is nobody here (ESRCH, as killpg1 finds no one); signal 0 probes the guest
    # itself; numbers outside 1..31 are EINVAL
    assert run.results == [err(ESRCH), err(ESRCH), ok(0), err(ESRCH), err(ESRCH), ok(0), err(EINVAL), err(EINVAL)]
