"""Darwin constants that cross the syscall boundary, one table per kind.

Owns: open flags, socket levels/options, address families, signals and
wait options, each as a table of (name, Darwin value, host value), with
translation both ways and names for traces.  The only Darwin numbers in
the tree besides errno.py and table.py live here.
"""

from __future__ import annotations

import os
import signal
import socket
from dataclasses import dataclass

from syscalls.errno import DarwinError


@dataclass(frozen=True)
class Bits:
    """A table of single-bit flags: Darwin value <-> host value, by name."""

    kind: str
    rows: tuple[tuple[str, int, int | None], ...]  # name, Darwin bit, host bit (None: no host twin)

    def to_host(self, darwin: int, allow_unknown: bool = False) -> int:
        host, rest = 0, darwin
        for _name, dbit, hbit in self.rows:
            if darwin & dbit:
                rest &= ~dbit
                if hbit is not None:
                    host |= hbit
        if rest and not allow_unknown:
            raise DarwinError("EINVAL", f"unknown {self.kind} bits {rest:#x}")
        return host

    def to_darwin(self, host: int) -> int:
        return sum(dbit for _, dbit, hbit in self.rows if hbit is not None and host & hbit)

    def by_name(self) -> dict[str, int]:
        """name -> Darwin bit, for handlers that test one flag."""
        return {name: dbit for name, dbit, _ in self.rows}

    def describe(self, darwin: int) -> str:
        names = [name for name, dbit, _ in self.rows if darwin & dbit]
        rest = darwin & ~sum(dbit for _, dbit, _ in self.rows)
        if rest:
            names.append(hex(rest))
        return "|".join(names) or "0"


# ----------------------------------------------------------------- open(2) -- bsd/sys/fcntl.h
O_ACCMODE = 0x3
O_ACCESS = {0: ("O_RDONLY", os.O_RDONLY), 1: ("O_WRONLY", os.O_WRONLY), 2: ("O_RDWR", os.O_RDWR)}
O_NOFOLLOW = 0x100
O_CREAT = 0x200
O_DIRECTORY = 0x100000
O_NOFOLLOW_ANY = 0x20000000
O_CLOEXEC = 0x1000000
OPEN_FLAGS = Bits(
    "open flag",
    (
        ("O_NONBLOCK", 0x4, os.O_NONBLOCK),
        ("O_APPEND", 0x8, os.O_APPEND),
        ("O_SHLOCK", 0x10, None),
        ("O_EXLOCK", 0x20, None),
        ("O_ASYNC", 0x40, getattr(os, "O_ASYNC", 0x2000)),
        ("O_SYNC", 0x80, os.O_SYNC),
        ("O_NOFOLLOW", O_NOFOLLOW, os.O_NOFOLLOW),
        ("O_CREAT", O_CREAT, os.O_CREAT),
        ("O_TRUNC", 0x400, os.O_TRUNC),
        ("O_EXCL", 0x800, os.O_EXCL),
        ("O_RESOLVE_BENEATH", 0x1000, None),  # always true: the sandbox confines every path
        ("O_EVTONLY", 0x8000, None),
        ("O_NOCTTY", 0x20000, os.O_NOCTTY),
        ("O_DIRECTORY", O_DIRECTORY, os.O_DIRECTORY),
        ("O_DSYNC", 0x400000, os.O_DSYNC),
        ("O_CLOEXEC", O_CLOEXEC, os.O_CLOEXEC),
        ("O_NOFOLLOW_ANY", O_NOFOLLOW_ANY, None),  # done by the resolver, not by a host flag
    ),
)


def describe_open_flags(flags: int) -> str:
    acc = O_ACCESS.get(flags & O_ACCMODE, (f"{flags & O_ACCMODE:#x}", 0))[0]
    rest = flags & ~O_ACCMODE
    return acc if not rest else f"{acc}|{OPEN_FLAGS.describe(rest)}"


def open_flags_to_host(flags: int) -> int:
    acc = flags & O_ACCMODE
    if acc not in O_ACCESS:
        raise DarwinError("EINVAL", "bad access mode")
    return O_ACCESS[acc][1] | OPEN_FLAGS.to_host(flags & ~O_ACCMODE)


# ----------------------------------------------------------------- sockets -- bsd/sys/socket.h
AF = {
    0: ("AF_UNSPEC", socket.AF_UNSPEC),
    1: ("AF_UNIX", socket.AF_UNIX),
    2: ("AF_INET", socket.AF_INET),
    30: ("AF_INET6", socket.AF_INET6),
}
AF_FROM_HOST = {host: darwin for darwin, (_, host) in AF.items()}
SOCK_TYPE = {
    1: ("SOCK_STREAM", socket.SOCK_STREAM),
    2: ("SOCK_DGRAM", socket.SOCK_DGRAM),
    3: ("SOCK_RAW", socket.SOCK_RAW),
    5: ("SOCK_SEQPACKET", socket.SOCK_SEQPACKET),
}
SOL_SOCKET = 0xFFFF
IPPROTO_TCP = 6
LEVELS = {
    SOL_SOCKET: ("SOL_SOCKET", socket.SOL_SOCKET),
    0: ("IPPROTO_IP", socket.IPPROTO_IP),
    IPPROTO_TCP: ("IPPROTO_TCP", socket.IPPROTO_TCP),
    17: ("IPPROTO_UDP", socket.IPPROTO_UDP),
    41: ("IPPROTO_IPV6", socket.IPPROTO_IPV6),
}
# (level, Darwin option) -> (name, host option or None when emulated)
SOCKOPTS: dict[tuple[int, int], tuple[str, int | None]] = {
    (SOL_SOCKET, 0x1): ("SO_DEBUG", socket.SO_DEBUG),
    (SOL_SOCKET, 0x2): ("SO_ACCEPTCONN", socket.SO_ACCEPTCONN),
    (SOL_SOCKET, 0x4): ("SO_REUSEADDR", socket.SO_REUSEADDR),
    (SOL_SOCKET, 0x8): ("SO_KEEPALIVE", socket.SO_KEEPALIVE),
    (SOL_SOCKET, 0x10): ("SO_DONTROUTE", socket.SO_DONTROUTE),
    (SOL_SOCKET, 0x20): ("SO_BROADCAST", socket.SO_BROADCAST),
    (SOL_SOCKET, 0x100): ("SO_OOBINLINE", socket.SO_OOBINLINE),
    (SOL_SOCKET, 0x200): ("SO_REUSEPORT", socket.SO_REUSEPORT),
    (SOL_SOCKET, 0x1001): ("SO_SNDBUF", socket.SO_SNDBUF),
    (SOL_SOCKET, 0x1002): ("SO_RCVBUF", socket.SO_RCVBUF),
    (SOL_SOCKET, 0x1003): ("SO_SNDLOWAT", socket.SO_SNDLOWAT),
    (SOL_SOCKET, 0x1004): ("SO_RCVLOWAT", socket.SO_RCVLOWAT),
    (SOL_SOCKET, 0x1007): ("SO_ERROR", socket.SO_ERROR),
    (SOL_SOCKET, 0x1008): ("SO_TYPE", socket.SO_TYPE),
    (SOL_SOCKET, 0x80): ("SO_LINGER", socket.SO_LINGER),  # l_linger in 1/100 s ticks
    (SOL_SOCKET, 0x1005): ("SO_SNDTIMEO", socket.SO_SNDTIMEO),  # Darwin timeval
    (SOL_SOCKET, 0x1006): ("SO_RCVTIMEO", socket.SO_RCVTIMEO),
    (SOL_SOCKET, 0x1080): ("SO_LINGER_SEC", socket.SO_LINGER),  # l_linger in seconds
    (SOL_SOCKET, 0x1020): ("SO_NREAD", None),  # bytes waiting (get only)
    (SOL_SOCKET, 0x1022): ("SO_NOSIGPIPE", None),
    (SOL_SOCKET, 0x1024): ("SO_NWRITE", None),  # bytes not yet sent (get only)
    (IPPROTO_TCP, 0x1): ("TCP_NODELAY", socket.TCP_NODELAY),
    (IPPROTO_TCP, 0x2): ("TCP_MAXSEG", socket.TCP_MAXSEG),
    (IPPROTO_TCP, 0x10): ("TCP_KEEPALIVE", socket.TCP_KEEPIDLE),
    (IPPROTO_TCP, 0x101): ("TCP_KEEPINTVL", socket.TCP_KEEPINTVL),
    (IPPROTO_TCP, 0x102): ("TCP_KEEPCNT", socket.TCP_KEEPCNT),
    (41, 27): ("IPV6_V6ONLY", socket.IPV6_V6ONLY),
}
# SOL_SOCKET options whose getsockopt value is the option's own bit (so_options & name), not 1
SO_FLAG_OPTIONS = {0x1, 0x2, 0x4, 0x8, 0x10, 0x20, 0x100, 0x200}
# send/recv flags -- bsd/sys/socket.h
MSG_FLAGS = Bits(
    "MSG flag",
    (
        ("MSG_OOB", 0x1, socket.MSG_OOB),
        ("MSG_PEEK", 0x2, socket.MSG_PEEK),
        ("MSG_DONTROUTE", 0x4, socket.MSG_DONTROUTE),
        ("MSG_EOR", 0x8, socket.MSG_EOR),
        ("MSG_TRUNC", 0x10, socket.MSG_TRUNC),
        ("MSG_CTRUNC", 0x20, socket.MSG_CTRUNC),
        ("MSG_WAITALL", 0x40, socket.MSG_WAITALL),
        ("MSG_DONTWAIT", 0x80, socket.MSG_DONTWAIT),
        ("MSG_EOF", 0x100, None),
        ("MSG_NOSIGNAL", 0x80000, None),  # we never let the host raise SIGPIPE
    ),
)
SHUT = {0: ("SHUT_RD", socket.SHUT_RD), 1: ("SHUT_WR", socket.SHUT_WR), 2: ("SHUT_RDWR", socket.SHUT_RDWR)}

# ----------------------------------------------------------------- poll -- bsd/sys/poll.h, bit by bit
POLL_BITS = Bits(
    "poll event",
    (
        ("POLLIN", 0x1, 0x1),
        ("POLLPRI", 0x2, 0x2),
        ("POLLOUT", 0x4, 0x4),  # = POLLWRNORM on Darwin
        ("POLLERR", 0x8, 0x8),
        ("POLLHUP", 0x10, 0x10),
        ("POLLNVAL", 0x20, 0x20),
        ("POLLRDNORM", 0x40, 0x40),
        ("POLLRDBAND", 0x80, 0x80),
        ("POLLWRBAND", 0x100, 0x200),
        ("POLLEXTEND", 0x200, None),
        ("POLLATTRIB", 0x400, None),
        ("POLLNLINK", 0x800, None),
        ("POLLWRITE", 0x1000, None),
    ),
)

# ----------------------------------------------------------------- signals -- bsd/sys/signal.h
# the arm64 macOS VM page (vm_page_size, hw.pagesize): mappings, segments and mmap are in these
PAGE_SIZE = 0x4000

SIGNALS: dict[int, str] = {
    1: "SIGHUP",
    2: "SIGINT",
    3: "SIGQUIT",
    4: "SIGILL",
    5: "SIGTRAP",
    6: "SIGABRT",
    7: "SIGEMT",
    8: "SIGFPE",
    9: "SIGKILL",
    10: "SIGBUS",
    11: "SIGSEGV",
    12: "SIGSYS",
    13: "SIGPIPE",
    14: "SIGALRM",
    15: "SIGTERM",
    16: "SIGURG",
    17: "SIGSTOP",
    18: "SIGTSTP",
    19: "SIGCONT",
    20: "SIGCHLD",
    21: "SIGTTIN",
    22: "SIGTTOU",
    23: "SIGIO",
    24: "SIGXCPU",
    25: "SIGXFSZ",
    26: "SIGVTALRM",
    27: "SIGPROF",
    28: "SIGWINCH",
    29: "SIGINFO",
    30: "SIGUSR1",
    31: "SIGUSR2",
}
SIGNAL_NUMBER = {name: num for num, name in SIGNALS.items()}


def signal_to_host(darwin: int) -> int:
    """Host signal number for a Darwin one; 0 stays 0 (existence probe)."""
    if darwin == 0:
        return 0
    name = SIGNALS.get(darwin)
    host = getattr(signal, name, None) if name else None
    if host is None:
        raise DarwinError("EINVAL", f"signal {darwin} has no host twin")
    return int(host)


# default actions (bsd/sys/signalvar.h sigprop): the signals whose default is to do nothing
SIG_DEFAULT_IGNORE = {16, 19, 20, 23, 28, 29}  # SIGURG SIGCONT SIGCHLD SIGIO SIGWINCH SIGINFO
SIG_DEFAULT_STOP = {17, 18, 21, 22}  # SIGSTOP SIGTSTP SIGTTIN SIGTTOU
SIG_CANT_CATCH = {9, 17}  # SIGKILL, SIGSTOP
NSIG = 32
SIG_DFL, SIG_IGN = 0, 1
SIGPROCMASK_HOW = {
    1: ("SIG_BLOCK", signal.SIG_BLOCK),
    2: ("SIG_UNBLOCK", signal.SIG_UNBLOCK),
    3: ("SIG_SETMASK", signal.SIG_SETMASK),
}
SA_FLAGS = Bits(
    "SA flag",
    (
        ("SA_ONSTACK", 0x1, None),
        ("SA_RESTART", 0x2, None),
        ("SA_RESETHAND", 0x4, None),
        ("SA_NOCLDSTOP", 0x8, None),
        ("SA_NODEFER", 0x10, None),
        ("SA_NOCLDWAIT", 0x20, None),
        ("SA_SIGINFO", 0x40, None),
    ),
)
SA_USERSPACE_MASK = 0x7F
SA_NOCLDWAIT = 0x20


def sigset_to_host(mask: int) -> set[int]:
    """Host signal numbers for a Darwin sigset_t (bit n-1 = signal n)."""
    out = set()
    for n in range(1, NSIG):
        if mask & (1 << (n - 1)) and n not in SIG_CANT_CATCH:
            name = SIGNALS[n]
            if hasattr(signal, name):
                out.add(int(getattr(signal, name)))
    return out


def signal_from_host(host: int) -> int:
    try:
        return SIGNAL_NUMBER[signal.Signals(host).name]
    except (ValueError, KeyError):
        return SIGNAL_NUMBER["SIGKILL"]


# ----------------------------------------------------------------- wait4 -- bsd/sys/wait.h
WAIT_OPTIONS = Bits(
    "wait option",
    (
        ("WNOHANG", 0x1, os.WNOHANG),
        ("WUNTRACED", 0x2, os.WUNTRACED),
        ("WCONTINUED", 0x10, os.WCONTINUED),
    ),
)
W_CORE = 0x80


def wait_status_from_host(status: int) -> int:
    """Re-encode a host wait status word the way Darwin's wait4 writes it."""
    if os.WIFEXITED(status):
        return (os.WEXITSTATUS(status) & 0xFF) << 8
    if os.WIFSIGNALED(status):
        return signal_from_host(os.WTERMSIG(status)) | (W_CORE if os.WCOREDUMP(status) else 0)
    if os.WIFSTOPPED(status):
        return (signal_from_host(os.WSTOPSIG(status)) << 8) | 0x7F
    if os.WIFCONTINUED(status):
        return (SIGNAL_NUMBER["SIGCONT"] << 8) | 0x7F
    return status & 0xFFFF


# ----------------------------------------------------------------- lseek -- bsd/sys/_types/_seek_set.h
SEEK = {
    0: ("SEEK_SET", os.SEEK_SET),
    1: ("SEEK_CUR", os.SEEK_CUR),
    2: ("SEEK_END", os.SEEK_END),
    3: ("SEEK_HOLE", getattr(os, "SEEK_HOLE", 4)),
    4: ("SEEK_DATA", getattr(os, "SEEK_DATA", 3)),
}
