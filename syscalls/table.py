"""The syscall table: Darwin number -> name, return kind, argument kinds, handler.

Numbers and prototypes are those of xnu ``bsd/kern/syscalls.master``
(checked in tests/test_syscall_table.py).  This file and consts.py are the
only places that spell Darwin syscall numbers.  ``_nocancel`` twins share
their base call's handler (they differ only as pthread cancellation points).
A row's ``note`` says where the emulation knowingly differs from macOS;
``python -m syscalls.table`` prints the table as Markdown.
"""

from __future__ import annotations

from dataclasses import replace

from syscalls import dirs, fds, fs, iov, itimer, mem, net, proc, sigframe, signals, sysinfo
from syscalls.consts import AF, LEVELS, SEEK, SIGNALS, SOCK_TYPE, SOCKOPTS, WAIT_OPTIONS, describe_open_flags
from syscalls.consts_sys import FCNTL_CMDS, RENAME_FLAGS
from syscalls.kernel import Syscall
from syscalls.kinds import (
    INT_MAX,
    MASK32,
    CStr,
    DirFd,
    Enum,
    Fd,
    Flags,
    InBuf,
    Int,
    IovecIn,
    IovecOut,
    LenOut,
    Long,
    Off,
    OffInOut,
    OptVal,
    OutBuf,
    PollFds,
    Ptr,
    Size,
    SockaddrIn,
    SockaddrOut,
    SockOpt,
    StatusOut,
    StructOut,
    UFlags,
    UInt,
    ULong,
)
from syscalls.show import describe_stat
from syscalls.structs import SOCKADDR_MAX, STAT64, TIMEVAL

_open_flags = Flags(describe_open_flags)
_mode = Flags(lambda mode: f"0{mode:o}" if mode else "0")  # permission bits, in octal as strace shows them
_fcntl_cmd = Flags(lambda cmd: FCNTL_CMDS.get(cmd, str(cmd)))
# getsockaddr: namelen > SOCK_MAXADDRLEN is ENAMETOOLONG before anything is copied in
_sockaddr = SockaddrIn(2, len_mask=MASK32, limit=SOCKADDR_MAX, over="ENAMETOOLONG")
# sooptcopyin copies in only what the option needs (at most a timeval or linger here)
_optval = OptVal(4, len_mask=MASK32, limit=64, over=None)
_level, _optname = Enum(LEVELS), SockOpt(SOCKOPTS, level_at=1)
_stat = StructOut(STAT64, describe_stat)
_timeval = StructOut(TIMEVAL, lambda tv: f"{{tv_sec={tv['tv_sec']}, tv_usec={tv['tv_usec']}}}")
_peer = (SockaddrOut(len_at=2), LenOut())  # accept, getpeername, getsockname: address out, its length in/out
_NOT_IMPLEMENTED = "not implemented: ENOSYS (said once per number on stderr; --strict stops)"

_PATHS = "paths resolve inside --root (its / is the guest's /), one component at a time"
_HANDLERS = (
    "handlers are entered through sa_tramp on a frame as XNU's sendsig builds it; "
    "SA_ONSTACK is ignored (no sigaltstack); job-control stops are ignored"
)

SYSCALLS: dict[int, Syscall] = {
    1: Syscall("exit", "void", (Int(),), proc.sys_exit),
    2: Syscall(
        "fork",
        "int",
        (),
        proc.sys_fork,
        "the child is a guest process inside the emulator (its own thread and Unicorn)",
        forks=True,
    ),
    3: Syscall("read", "ssize", (Fd(), OutBuf(), Size()), fs.sys_read),
    4: Syscall(
        "write",
        "ssize",
        (Fd(), InBuf(2, limit=INT_MAX), Size()),
        fs.sys_write,
        "a broken pipe or socket raises the guest's SIGPIPE (signals.py)",
    ),
    5: Syscall(
        "open",
        "int",
        (CStr(), _open_flags, _mode),
        fs.sys_open,
        _PATHS + "; O_SHLOCK/O_EXLOCK take no lock; O_SYMLINK/O_EXEC are EINVAL",
    ),
    6: Syscall("close", "int", (Fd(),), fs.sys_close),
    7: Syscall(
        "wait4",
        "int",
        (Int(), StatusOut(), Flags(WAIT_OPTIONS.describe), Ptr()),
        proc.sys_wait4,
        "one process group: pid 0 and -(its id) act as -1; WUNTRACED finds nothing (no stops)",
    ),
    9: Syscall("link", "int", (CStr(), CStr()), dirs.sys_link, "does not follow a final symlink"),
    10: Syscall("unlink", "int", (CStr(),), dirs.sys_unlink),
    12: Syscall("chdir", "int", (CStr(),), dirs.sys_chdir, "the cwd is kept as a path below the root"),
    13: Syscall("fchdir", "int", (Fd(),), dirs.sys_fchdir),
    20: Syscall(
        "getpid", "int", (), proc.sys_getpid, "the first process has the emulator's pid; children count up from it"
    ),
    24: Syscall("getuid", "int", (), proc.sys_getuid, "the host's ids, as stat's st_uid shows them"),
    25: Syscall("geteuid", "int", (), proc.sys_geteuid),
    27: Syscall("recvmsg", "int", (Fd(), Ptr(), Int()), None, _NOT_IMPLEMENTED),
    28: Syscall("sendmsg", "int", (Fd(), Ptr(), Int()), None, _NOT_IMPLEMENTED),
    29: Syscall(
        "recvfrom",
        "int",
        (Fd(), OutBuf(), Size(), Int(), SockaddrOut(len_at=5), LenOut()),
        net.sys_recvfrom,
        socket=True,
    ),
    30: Syscall("accept", "int", (Fd(), *_peer), net.sys_accept, socket=True),
    31: Syscall("getpeername", "int", (Fd(), *_peer), net.sys_getpeername, socket=True),
    32: Syscall("getsockname", "int", (Fd(), *_peer), net.sys_getsockname, socket=True),
    33: Syscall("access", "int", (CStr(), Int()), fs.sys_access),
    37: Syscall(
        "kill",
        "int",
        (Int(), Enum(SIGNALS), Int()),
        proc.sys_kill,
        "guest processes only (ESRCH for any other pid); -1 and 0 are every guest process",
    ),
    39: Syscall("getppid", "int", (), proc.sys_getppid),
    41: Syscall("dup", "int", (UInt(),), fds.sys_dup),
    42: Syscall("pipe", "int", (), fds.sys_pipe, "PIPE_BUF and capacity are the host's"),
    43: Syscall("getegid", "int", (), proc.sys_getegid),
    46: Syscall("sigaction", "int", (Int(), Ptr(), Ptr()), signals.sys_sigaction, _HANDLERS, rerun="the signal state"),
    47: Syscall("getgid", "int", (), proc.sys_getgid),
    48: Syscall("sigprocmask", "int", (Int(), Ptr(), Ptr()), signals.sys_sigprocmask, rerun="the signal state"),
    53: Syscall("sigaltstack", "int", (Ptr(), Ptr()), None, _NOT_IMPLEMENTED),
    54: Syscall(
        "ioctl",
        "int",
        (Fd(), ULong(), Ptr()),
        fds.sys_ioctl,
        "FIONREAD, FIONBIO, FIOCLEX, FIONCLEX, TIOCGWINSZ; anything else ENOTTY",
    ),
    57: Syscall("symlink", "int", (CStr(), CStr()), None, _NOT_IMPLEMENTED),
    58: Syscall("readlink", "int", (CStr(), Ptr(), Int()), None, _NOT_IMPLEMENTED),
    59: Syscall("execve", "int", (CStr(), Ptr(), Ptr()), None, _NOT_IMPLEMENTED),
    60: Syscall(
        "umask",
        "int",
        (_mode,),
        proc.sys_umask,
        "starts at 022, as launchd's children do; the emulator's own umask also applies on the host",
    ),
    73: Syscall("munmap", "int", (Ptr(), Size()), mem.sys_munmap, rerun="the address space"),
    74: Syscall("mprotect", "int", (Ptr(), Size(), Int()), mem.sys_mprotect, rerun="the address space"),
    83: Syscall(
        "setitimer",
        "int",
        (UInt(), Ptr(), Ptr()),
        itimer.sys_setitimer,
        "ITIMER_REAL sends SIGALRM; ITIMER_VIRTUAL and ITIMER_PROF are kept and read back, never run",
    ),
    86: Syscall("getitimer", "int", (UInt(), Ptr()), itimer.sys_getitimer),
    90: Syscall("dup2", "int", (UInt(), UInt()), fds.sys_dup2),
    92: Syscall(
        "fcntl",
        "int",
        (Fd(), _fcntl_cmd, Long()),
        fds.sys_fcntl,
        "F_DUPFD(_CLOEXEC) F_GETFD F_SETFD F_GETFL F_SETFL F_GETPATH (the guest path) F_NOCACHE "
        "F_FULLFSYNC F_SETNOSIGPIPE F_GETNOSIGPIPE; locks are EINVAL",
    ),
    93: Syscall("select", "int", (Int(), Ptr(), Ptr(), Ptr(), Ptr()), fds.sys_select),
    95: Syscall("fsync", "int", (Fd(),), iov.sys_fsync),
    97: Syscall("socket", "int", (Enum(AF), Enum(SOCK_TYPE), Int()), net.sys_socket, socket=True),
    98: Syscall("connect", "int", (Fd(), _sockaddr, UInt()), net.sys_connect, socket=True),
    104: Syscall("bind", "int", (Fd(), _sockaddr, UInt()), net.sys_bind, socket=True),
    105: Syscall("setsockopt", "int", (Fd(), _level, _optname, _optval, UInt()), net.sys_setsockopt, socket=True),
    106: Syscall("listen", "int", (Fd(), Int()), net.sys_listen, socket=True),
    116: Syscall(
        "gettimeofday",
        "int",
        (_timeval, Ptr(), Ptr()),
        sysinfo.sys_gettimeofday,
        "*tz is always UTC; *mach_absolute_time counts 24 MHz ticks of the host's monotonic clock",
    ),
    117: Syscall("getrusage", "int", (Int(), Ptr()), proc.sys_getrusage),
    118: Syscall("getsockopt", "int", (Fd(), _level, _optname, Ptr(), Ptr()), net.sys_getsockopt, socket=True),
    120: Syscall("readv", "ssize", (Fd(), IovecOut(count_at=2), UInt()), iov.sys_readv),
    121: Syscall("writev", "ssize", (Fd(), IovecIn(count_at=2), UInt()), iov.sys_writev),
    128: Syscall("rename", "int", (CStr(), CStr()), dirs.sys_rename),
    133: Syscall(
        "sendto", "int", (Fd(), InBuf(2, limit=INT_MAX), Size(), Int(), Ptr(), UInt()), net.sys_sendto, socket=True
    ),
    134: Syscall("shutdown", "int", (Fd(), Int()), net.sys_shutdown, socket=True),
    136: Syscall("mkdir", "int", (CStr(), _mode), dirs.sys_mkdir),
    137: Syscall("rmdir", "int", (CStr(),), dirs.sys_rmdir),
    153: Syscall("pread", "ssize", (Fd(), OutBuf(), Size(), Off()), iov.sys_pread),
    154: Syscall("pwrite", "ssize", (Fd(), InBuf(2, limit=INT_MAX), Size(), Off()), iov.sys_pwrite),
    184: Syscall(
        "sigreturn",
        "int",
        (Ptr(), Int(), Ptr()),
        sigframe.sys_sigreturn,
        "the token is always checked (as with SA_VALIDATE_SIGRETURN_FROM_SIGTRAMP)",
        rerun="the signal state",
        frame_return=True,
    ),
    188: Syscall("stat", "int", (CStr(), Ptr()), None, _NOT_IMPLEMENTED),
    189: Syscall("fstat", "int", (Fd(), Ptr()), None, _NOT_IMPLEMENTED),
    190: Syscall("lstat", "int", (CStr(), Ptr()), None, _NOT_IMPLEMENTED),
    194: Syscall("getrlimit", "int", (UInt(), Ptr()), sysinfo.sys_getrlimit),
    195: Syscall(
        "setrlimit",
        "int",
        (UInt(), Ptr()),
        sysinfo.sys_setrlimit,
        "RLIMIT_NOFILE is the guest's descriptor limit; the others are kept for the guest "
        "and not applied to the emulator",
    ),
    197: Syscall(
        "mmap",
        "ssize",
        (Ptr(), Size(), Int(), Int(), Int(), Off()),
        mem.sys_mmap,
        "anonymous, or a private copy of a file; a writable MAP_SHARED file is ENOTSUP; "
        "needs Kernel.vm from the Machine (ENOSYS without it)",
        rerun="the address space",
    ),
    199: Syscall("lseek", "ssize", (Fd(), Off(), Enum(SEEK)), fs.sys_lseek),
    201: Syscall("ftruncate", "int", (Fd(), Off()), iov.sys_ftruncate),
    202: Syscall(
        "sysctl",
        "int",
        (Ptr(), UInt(), Ptr(), Ptr(), Ptr(), Size()),
        sysinfo.sys_sysctl,
        "read-only: kern.ostype/osrelease/version/osversion/argmax/maxproc/maxfiles(perproc)/"
        "hostname, hw.machine/model/ncpu/byteorder/pagesize/memsize, and name2oid for those",
    ),
    230: Syscall("poll", "int", (PollFds(count_at=1), UInt(), Int()), fds.sys_poll),
    337: Syscall("sendfile", "int", (Fd(), Fd(), Off(), OffInOut(), Ptr(), Int()), net.sys_sendfile),
    338: Syscall(
        "stat64", "int", (CStr(), _stat), fs.sys_stat64, "st_birthtime is the ctime; st_flags and st_gen are 0"
    ),
    339: Syscall("fstat64", "int", (Fd(), _stat), fs.sys_fstat64),
    340: Syscall("lstat64", "int", (CStr(), _stat), fs.sys_lstat64),
    344: Syscall(
        "getdirentries64",
        "ssize",
        (Fd(), Ptr(), Size(), Ptr()),
        dirs.sys_getdirentries64,
        "'.', '..', then names in byte order; d_seekoff is the next entry's index; '..' of the root is the root",
    ),
    463: Syscall(
        "openat",
        "int",
        (DirFd(), CStr(), _open_flags, _mode),
        fs.sys_openat,
        "a directory descriptor stands for the guest path it was opened with",
    ),
    465: Syscall("renameat", "int", (DirFd(), CStr(), DirFd(), CStr()), dirs.sys_renameat),
    470: Syscall("fstatat64", "int", (DirFd(), CStr(), _stat, Int()), fs.sys_fstatat64, "AT_FDONLY is ENOTSUP"),
    472: Syscall("unlinkat", "int", (DirFd(), CStr(), Int()), dirs.sys_unlinkat),
    475: Syscall("mkdirat", "int", (DirFd(), CStr(), _mode), dirs.sys_mkdirat),
    488: Syscall(
        "renameatx_np",
        "int",
        (DirFd(), CStr(), DirFd(), CStr(), UFlags(RENAME_FLAGS.describe)),
        dirs.sys_renameatx_np,
        "RENAME_SWAP and RENAME_EXCL are atomic (Linux renameat2); RENAME_SECLUDE is accepted and ignored",
    ),
    500: Syscall("getentropy", "int", (OutBuf(len_at=1), Size()), sysinfo.sys_getentropy),
}


NOCANCEL = {
    396: 3,
    397: 4,
    398: 5,
    399: 6,
    400: 7,
    403: 29,
    404: 30,
    406: 92,
    407: 93,
    408: 95,
    409: 98,
    411: 120,
    412: 121,
    413: 133,
    414: 153,
    415: 154,
    417: 230,
    464: 463,
}
for _num, _base in NOCANCEL.items():
    _row = SYSCALLS[_base]
    SYSCALLS[_num] = replace(_row, name=_row.name + "_nocancel")
SYSCALLS = dict(sorted(SYSCALLS.items()))
NUMBER: dict[str, int] = {row.name: num for num, row in SYSCALLS.items()}  # name -> number, for code that names a call


def markdown() -> str:
    """The table as Markdown: number, name, arguments, known differences from macOS."""
    lines = ["| # | call | arguments | differences from macOS |", "|---|---|---|---|"]
    for num, row in SYSCALLS.items():
        args = ", ".join(type(a).__name__ for a in row.args) or "—"
        lines.append(f"| {num} | {row.name} | {args} | {row.note or '—'} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
