"""The syscall table: Darwin number -> name, return kind, argument kinds, handler.

Numbers and prototypes are those of xnu ``bsd/kern/syscalls.master``
(checked in tests/test_syscall_table.py).  This file and consts.py are the
only places that spell Darwin syscall numbers.  ``_nocancel`` twins share
their base call's handler (they differ only as pthread cancellation points).
"""

from __future__ import annotations

from syscalls import fs, net, proc
from syscalls.consts import describe_open_flags
from syscalls.kernel import Syscall
from syscalls.kinds import INT_MAX, MASK32, CStr, Fd, Flags, InBuf, Int, Off, Ptr, Size, UInt
from syscalls.structs import SOCKADDR_MAX

_open_flags = Flags(describe_open_flags)
# getsockaddr: namelen > SOCK_MAXADDRLEN is ENAMETOOLONG before anything is copied in
_sockaddr = InBuf(2, len_mask=MASK32, limit=SOCKADDR_MAX, over="ENAMETOOLONG")
# sooptcopyin copies in only what the option needs (at most a timeval or linger here)
_optval = InBuf(4, len_mask=MASK32, limit=64, over=None)

SYSCALLS: dict[int, Syscall] = {
    1: Syscall("exit", "void", (Int(),), proc.sys_exit),
    2: Syscall("fork", "int", (), proc.sys_fork),
    3: Syscall("read", "ssize", (Fd(), Ptr(), Size()), fs.sys_read),
    4: Syscall("write", "ssize", (Fd(), InBuf(2, limit=INT_MAX), Size()), fs.sys_write),
    5: Syscall("open", "int", (CStr(), _open_flags, Int()), fs.sys_open),
    6: Syscall("close", "int", (Fd(),), fs.sys_close),
    7: Syscall("wait4", "int", (Int(), Ptr(), Int(), Ptr()), proc.sys_wait4),
    20: Syscall("getpid", "int", (), proc.sys_getpid),
    30: Syscall("accept", "int", (Fd(), Ptr(), Ptr()), net.sys_accept),
    37: Syscall("kill", "int", (Int(), Int(), Int()), proc.sys_kill),
    39: Syscall("getppid", "int", (), proc.sys_getppid),
    97: Syscall("socket", "int", (Int(), Int(), Int()), net.sys_socket),
    104: Syscall("bind", "int", (Fd(), _sockaddr, UInt()), net.sys_bind),
    105: Syscall("setsockopt", "int", (Fd(), Int(), Int(), _optval, UInt()), net.sys_setsockopt),
    106: Syscall("listen", "int", (Fd(), Int()), net.sys_listen),
    199: Syscall("lseek", "ssize", (Fd(), Off(), Int()), fs.sys_lseek),
    338: Syscall("stat64", "int", (CStr(), Ptr()), fs.sys_stat64),
    339: Syscall("fstat64", "int", (Fd(), Ptr()), fs.sys_fstat64),
    340: Syscall("lstat64", "int", (CStr(), Ptr()), fs.sys_lstat64),
}


_NOCANCEL = {396: 3, 397: 4, 398: 5, 399: 6, 400: 7, 404: 30}
for _num, _base in _NOCANCEL.items():
    _row = SYSCALLS[_base]
    SYSCALLS[_num] = Syscall(_row.name + "_nocancel", _row.ret, _row.args, _row.handler)

# Names of calls with no handler yet, so an ENOSYS report can say what was asked.
NAMES: dict[int, str] = {
    9: "link", 10: "unlink", 12: "chdir", 13: "fchdir", 24: "getuid", 25: "geteuid", 27: "recvmsg",
    28: "sendmsg", 29: "recvfrom", 31: "getpeername", 32: "getsockname", 33: "access", 41: "dup",
    42: "pipe", 43: "getegid", 46: "sigaction", 47: "getgid", 48: "sigprocmask", 53: "sigaltstack",
    54: "ioctl", 57: "symlink", 58: "readlink", 59: "execve", 60: "umask", 73: "munmap", 74: "mprotect",
    90: "dup2", 92: "fcntl", 93: "select", 95: "fsync", 98: "connect", 116: "gettimeofday",
    117: "getrusage", 118: "getsockopt", 120: "readv", 121: "writev", 128: "rename", 133: "sendto",
    134: "shutdown", 136: "mkdir", 137: "rmdir", 153: "pread", 154: "pwrite", 188: "stat", 189: "fstat",
    190: "lstat", 194: "getrlimit", 195: "setrlimit", 197: "mmap", 201: "ftruncate", 202: "sysctl",
    230: "poll", 337: "sendfile", 344: "getdirentries64", 403: "recvfrom_nocancel",
    406: "fcntl_nocancel", 407: "select_nocancel", 408: "fsync_nocancel", 409: "connect_nocancel",
    411: "readv_nocancel", 412: "writev_nocancel", 413: "sendto_nocancel", 414: "pread_nocancel",
    415: "pwrite_nocancel", 417: "poll_nocancel", 463: "openat", 464: "openat_nocancel",
    465: "renameat", 470: "fstatat64", 472: "unlinkat", 475: "mkdirat", 500: "getentropy",
}
NAMES.update({num: row.name for num, row in SYSCALLS.items()})
