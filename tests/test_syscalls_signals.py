"""Signal syscalls and signal effects as a Mac guest sees them: sigaction,
sigprocmask, SIGPIPE's default action on a broken pipe or socket (unless
ignored, SO_NOSIGPIPE or F_SETNOSIGPIPE), SIGCHLD ignored (children reaped
for the parent: wait4 says ECHILD), and kill to oneself.

Deaths happen in a forked guest child and are read from its parent's wait4
status word (the Darwin signal number in the low 7 bits).  Every test checks
that the host process's own dispositions and mask were never touched.
"""

from __future__ import annotations

import signal
import socket
import struct
import threading
from pathlib import Path

import pytest
from guest import GuestRun, err, ok, run_guest

EINVAL, EPIPE, ECHILD = 22, 32, 10
SIGPIPE, SIGTERM, SIGCHLD, SIGUSR1, SIGUSR2 = 13, 15, 20, 30, 31

ASM = """
.equ SIGPIPE, 13
.equ SIGCHLD, 20
.equ F_SETNOSIGPIPE, 73
"""


def guest(tmp_path: Path, body: str, data: str = "", text: str = "") -> GuestRun:
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    run = run_guest(
        ASM + body, text=text, data=data + "\n.p2align 3\nstatus: .word 0x5a5a5a5a\n", root=root, tmp=tmp_path
    )
    return run


@pytest.fixture(autouse=True)
def _host_signals_untouched():
    saved = {s: signal.getsignal(s) for s in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGCHLD, signal.SIGTERM)}
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, set())
    yield
    assert {s: signal.getsignal(s) for s in saved} == saved
    assert signal.pthread_sigmask(signal.SIG_BLOCK, set()) == mask


def sigaction(sig: int, new: str, old: str) -> str:
    n = f"adr     x1, {new}" if new else "mov     x1, #0"
    o = f"adr     x2, {old}" if old else "mov     x2, #0"
    return f"        mov     x0, #{sig}\n        {n}\n        {o}\n        SYSCALL SYS_sigaction\n        RECORD\n"


def test_sigaction_records_and_reports_actions(tmp_path: Path) -> None:
    run = guest(
        tmp_path,
        sigaction(SIGUSR1, "ign", "old1")
        + sigaction(SIGUSR1, "handler", "old2")
        + sigaction(SIGUSR1, "", "old3")
        + sigaction(9, "", "old4")
        + sigaction(17, "ign", "")
        + sigaction(0, "", "old4")
        + sigaction(32, "", "old4")
        + sigaction(SIGUSR2, "ign", "")
        + """
        mov     x0, #SIGCHLD
        adr     x1, ign
        mov     x2, #16
        SYSCALL SYS_sigaction
        RECORD
    """,
        data="""
.p2align 3
ign: .quad 1, 0
    .word 0, 0
handler: .quad 0x100004000, 0x100004100
    .word 0xffffffff, 0xffff
old1: .fill 16, 1, 0xee
old2: .fill 16, 1, 0xee
old3: .fill 16, 1, 0xee
old4: .fill 16, 1, 0xee
""",
    )
    # SIGKILL, SIGSTOP, 0 and 32 are EINVAL even to query; an unwritable osa is EFAULT, but
    # (as in XNU) only after the new action is in place
    assert run.results == [ok(), ok(), ok(), err(EINVAL), err(EINVAL), err(EINVAL), err(EINVAL), ok(), err(14)]
    assert run.machine.kernel.signals.action(SIGCHLD).handler == 1
    assert struct.unpack("<QIi", run.read("old1", 16)) == (0, 0, 0)  # SIG_DFL before
    assert struct.unpack("<QIi", run.read("old2", 16)) == (1, 0, 0)  # SIG_IGN
    # the handler as recorded: SIGKILL/SIGSTOP cannot be in sa_mask, flags kept to SA_USERSPACE_MASK
    assert struct.unpack("<QIi", run.read("old3", 16)) == (
        0x100004000,
        0xFFFFFFFF & ~(1 << 8 | 1 << 16) & 0x7FFFFFFF,
        0x7F,
    )
    assert run.read("old4", 16) == b"\xee" * 16
    assert run.machine.kernel.signals.action(SIGUSR2).handler == 1


def test_sigaction_is_the_guests_alone_and_never_the_host_processes(tmp_path: Path) -> None:
    before = signal.getsignal(signal.SIGUSR1)
    run = run_guest(
        ASM + sigaction(SIGUSR1, "ign", ""),
        data=".p2align 3\nign: .quad 1, 0\n.word 0, 0\n",
        root=tmp_path,
        tmp=tmp_path,
    )
    assert run.machine.kernel.signals.action(SIGUSR1).handler == 1  # SIG_IGN, in the guest
    assert signal.getsignal(signal.SIGUSR1) == before  # the emulator's own is untouched


def test_sigprocmask_block_unblock_setmask_and_the_unmaskable(tmp_path: Path) -> None:
    def mask(how: int, new: str, old: str) -> str:
        n = f"adr     x1, {new}" if new else "mov     x1, #0"
        o = f"adr     x2, {old}" if old else "mov     x2, #0"
        return (
            f"        mov     x0, #{how}\n        {n}\n        {o}\n        SYSCALL SYS_sigprocmask\n        RECORD\n"
        )

    run = guest(
        tmp_path,
        mask(1, "usr1", "o1")
        + mask(1, "killstop", "o2")
        + mask(0, "", "o3")
        + mask(2, "usr1", "o4")
        + mask(3, "usr2", "o5")
        + mask(9, "usr1", "o6")
        + mask(3, "zero", "o7"),
        data="""
.p2align 2
usr1: .word 0x20000000
usr2: .word 0x40000000
killstop: .word 0x10100
zero: .word 0
o1: .word 0x5a
o2: .word 0x5a
o3: .word 0x5a
o4: .word 0x5a
o5: .word 0x5a
o6: .word 0x5a
o7: .word 0x5a
""",
    )
    assert run.results == [ok()] * 5 + [err(EINVAL), ok()]
    words = [struct.unpack("<I", run.read(f"o{i}", 4))[0] for i in range(1, 8)]
    # SIGUSR1 (30) is bit 29; SIGKILL (9) and SIGSTOP (17) are never added; how 9 is EINVAL
    assert words == [0, 1 << 29, 1 << 29, 1 << 29, 0, 0x5A, 1 << 30]


def child_writes_to_a_dead_pipe(prep: str) -> str:
    """Fork; the child runs ``prep`` and writes to a pipe whose read end nobody holds.

    The read end is closed before the fork, so no process can still hold it
    when the child writes (closing it after the fork raced with the write).
    """
    return (
        """
        SYSCALL SYS_pipe
        mov     x19, x0
        mov     x20, x1
        mov     x0, x19
        SYSCALL SYS_close
        SYSCALL SYS_fork
        cbnz    x1, child
        mov     x21, x0
        mov     x0, x20
        SYSCALL SYS_close
        mov     x0, x21
        adr     x1, status
        mov     x2, #0
        mov     x3, #0
        SYSCALL SYS_wait4
        RECORD
        b       done
child:
"""
        + prep
        + """
        mov     x0, x20
        adr     x1, status
        mov     x2, #1
        SYSCALL SYS_write
        // still alive: exit with errno (EPIPE = 32) or 99 if the write worked
        b.cs    child_exit
        mov     x0, #99
child_exit:
        SYSCALL SYS_exit
done:
"""
    )


@pytest.mark.timeout(30)
def test_write_to_a_pipe_nobody_reads_kills_by_sigpipe(tmp_path: Path) -> None:
    run = guest(tmp_path, child_writes_to_a_dead_pipe(""))
    assert run.results == [ok(run.results[0][0])]
    assert struct.unpack("<i", run.read("status", 4))[0] == SIGPIPE  # WTERMSIG = 13


@pytest.mark.timeout(30)
def test_sigpipe_ignored_or_f_setnosigpipe_gives_epipe(tmp_path: Path) -> None:
    ignored = sigaction(SIGPIPE, "ign", "").replace("RECORD", "")
    run = guest(tmp_path, child_writes_to_a_dead_pipe(ignored), data=".p2align 3\nign: .quad 1, 0\n.word 0, 0\n")
    assert struct.unpack("<i", run.read("status", 4))[0] == EPIPE << 8  # exited with 32
    nosig = """
        mov     x0, x20
        mov     x1, #F_SETNOSIGPIPE
        mov     x2, #1
        SYSCALL SYS_fcntl
"""
    run = guest(tmp_path, child_writes_to_a_dead_pipe(nosig))
    assert struct.unpack("<i", run.read("status", 4))[0] == EPIPE << 8


def _closing_peer() -> tuple[socket.socket, threading.Thread]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    srv.settimeout(10)

    def serve() -> None:
        for _ in range(2):
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()  # RST: the guest's writes break at once

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return srv, t


SOCKET_CHILD = """
        SYSCALL SYS_fork
        cbnz    x1, child
        mov     x0, x0
        adr     x1, status
        mov     x2, #0
        mov     x3, #0
        SYSCALL SYS_wait4
        RECORD
        b       done
child:
        mov     x0, #2
        mov     x1, #1
        mov     x2, #0
        SYSCALL SYS_socket
        mov     x19, x0
        mov     x0, x19
        adr     x1, addr
        mov     x2, #16
        SYSCALL SYS_connect
{prep}
        mov     x22, #200
child_loop:
        mov     x0, x19
        adr     x1, addr
        mov     x2, #16
        SYSCALL SYS_write
        b.cs    child_exit
        subs    x22, x22, #1
        b.ne    child_loop
        mov     x0, #99
child_exit:
        SYSCALL SYS_exit
done:
"""


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("nosigpipe", "want"), [(False, SIGPIPE), (True, EPIPE << 8)])
def test_write_to_a_reset_socket_kills_unless_so_nosigpipe(tmp_path: Path, nosigpipe: bool, want: int) -> None:
    srv, t = _closing_peer()
    port = srv.getsockname()[1]
    addr = struct.pack(">BBH4s8x", 16, 2, port, socket.inet_aton("127.0.0.1"))
    prep = (
        """
        mov     x0, x19
        ldr     x1, =0xffff
        ldr     x2, =0x1022
        adr     x3, one
        mov     x4, #4
        SYSCALL SYS_setsockopt
"""
        if nosigpipe
        else ""
    )
    try:
        run = guest(
            tmp_path,
            SOCKET_CHILD.replace("{prep}", prep),
            data=".byte " + ",".join(str(b) for b in addr) + "\n.p2align 2\none: .word 1\naddr = . - 16\n",
        )
    finally:
        srv.close()
    assert struct.unpack("<i", run.read("status", 4))[0] == want


@pytest.mark.timeout(30)
def test_sigchld_ignored_reaps_children_and_wait4_says_echild(tmp_path: Path) -> None:
    run = guest(
        tmp_path,
        sigaction(SIGCHLD, "ign", "")
        + """
        SYSCALL SYS_fork
        cbnz    x1, child
        mov     x0, #-1
        adr     x1, status
        mov     x2, #0
        mov     x3, #0
        SYSCALL SYS_wait4
        RECORD
        b       done
child:
        mov     x0, #3
        SYSCALL SYS_exit
done:
    """,
        data=".p2align 3\nign: .quad 1, 0\n.word 0, 0\n",
    )
    assert run.results == [ok(), err(ECHILD)]  # waited for it, then nothing to report
    assert struct.unpack("<i", run.read("status", 4))[0] == 0x5A5A5A5A


@pytest.mark.timeout(30)
def test_kill_to_itself_follows_the_guests_own_actions(tmp_path: Path) -> None:
    run = guest(
        tmp_path,
        sigaction(SIGUSR1, "ign", "")
        + """
        SYSCALL SYS_getpid
        mov     x19, x0
        mov     x0, x19
        mov     x1, #30
        mov     x2, #1
        SYSCALL SYS_kill
        RECORD
        mov     x0, x19
        mov     x1, #20
        mov     x2, #1
        SYSCALL SYS_kill
        RECORD
        SYSCALL SYS_fork
        cbnz    x1, child
        mov     x0, x0
        adr     x1, status
        mov     x2, #0
        mov     x3, #0
        SYSCALL SYS_wait4
        RECORD
        b       done
child:
        SYSCALL SYS_getpid
        mov     x1, #15
        mov     x2, #1
        SYSCALL SYS_kill
        mov     x0, #3
        SYSCALL SYS_exit
done:
    """,
        data=".p2align 3\nign: .quad 1, 0\n.word 0, 0\n",
    )
    # SIGUSR1 ignored and SIGCHLD (default: ignore) do nothing; SIGTERM's default ends the child
    assert run.results[:3] == [ok(), ok(), ok()]
    assert struct.unpack("<i", run.read("status", 4))[0] == SIGTERM
