"""Process syscalls: exit, fork, wait4, getpid, getppid, kill, ids, getrusage.

Owns: fork's x0/x1 pair, wait4's status words (Darwin signal numbers),
struct rusage (ru_maxrss in bytes), and kill.  The processes themselves
(pids, zombies, who may signal whom) are syscalls/procs.py's table; the
child of a fork is made by emu/tree.py.
"""

from __future__ import annotations

import struct

from syscalls.consts import NSIG, WAIT_OPTIONS
from syscalls.consts_sys import RUSAGE_CHILDREN, RUSAGE_SELF
from syscalls.errno import DarwinError
from syscalls.kernel import GuestExit, Kernel, Ret
from syscalls.procs import cpu_usage, peak_rss_kib

UMASK_BITS = 0o7777  # umask1 keeps newmask & ALLPERMS

WNOHANG = WAIT_OPTIONS.by_name()["WNOHANG"]

RUSAGE_SIZE = 144


def sys_exit(k: Kernel, status: int) -> Ret:
    raise GuestExit(status & 0xFF)


def sys_fork(k: Kernel) -> Ret:
    # the parent's side; the child starts on its own thread with x0 = its pid, x1 = 1
    # (darwin-abi.md 1.2: emu/tree.py, Machine.forked)
    assert k.fork is not None
    return Ret(k.fork(), 0)


def sys_wait4(k: Kernel, pid: int, status_ptr: int, options: int, rusage_ptr: int) -> Ret:
    WAIT_OPTIONS.to_host(options)  # EINVAL for a bit wait4 does not know
    # XNU copies status and rusage out *before* it reaps the child, so a bad
    # pointer is EFAULT with the child still waitable: check them first
    if status_ptr:
        k.probe_writable(status_ptr, 4)
    if rusage_ptr:
        k.probe_writable(rusage_ptr, RUSAGE_SIZE)
    if pid == -(1 << 31):
        raise DarwinError("EINVAL", "pid INT_MIN")
    got, status, ru = k.procs.wait(k.proc, pid, bool(options & WNOHANG), k.interrupted)
    writes = []
    if got and status_ptr:
        writes.append((status_ptr, struct.pack("<i", status)))
    if got and rusage_ptr:
        writes.append((rusage_ptr, pack_rusage(ru)))
    return Ret(got, writes=writes)


def pack_rusage(ru: object) -> bytes:
    def tv(t: float) -> bytes:
        return struct.pack("<qi4x", int(t), int((t % 1) * 1_000_000))

    fields = (
        "ru_maxrss",
        "ru_ixrss",
        "ru_idrss",
        "ru_isrss",
        "ru_minflt",
        "ru_majflt",
        "ru_nswap",
        "ru_inblock",
        "ru_oublock",
        "ru_msgsnd",
        "ru_msgrcv",
        "ru_nsignals",
        "ru_nvcsw",
        "ru_nivcsw",
    )
    vals = [int(getattr(ru, f, 0)) for f in fields]
    vals[0] = peak_rss_kib() * 1024  # Darwin's ru_maxrss is in bytes, the host's in KiB
    return tv(getattr(ru, "ru_utime", 0.0)) + tv(getattr(ru, "ru_stime", 0.0)) + struct.pack("<14q", *vals)


def sys_getpid(k: Kernel) -> Ret:
    return Ret(k.proc.pid)


def sys_getppid(k: Kernel) -> Ret:
    return Ret(k.proc.ppid)


def sys_kill(k: Kernel, pid: int, sig: int, posix: int) -> Ret:
    if sig < 0 or sig >= NSIG:
        raise DarwinError("EINVAL", f"signal {sig}")
    k.procs.kill(k.proc, pid, sig)  # guest processes only; to itself, delivered as the call returns
    return Ret(0)


def sys_umask(k: Kernel, mask: int) -> Ret:
    old = k.umask
    if k.proc is not None:
        k.proc.umask = mask & UMASK_BITS
    return Ret(old)


def sys_getuid(k: Kernel) -> Ret:
    return Ret(k.host.ids()[0])


def sys_geteuid(k: Kernel) -> Ret:
    return Ret(k.host.ids()[1])


def sys_getgid(k: Kernel) -> Ret:
    return Ret(k.host.ids()[2])


def sys_getegid(k: Kernel) -> Ret:
    return Ret(k.host.ids()[3])


def sys_getrusage(k: Kernel, who: int, buf: int) -> Ret:
    if who not in (RUSAGE_SELF, RUSAGE_CHILDREN):
        raise DarwinError("EINVAL", f"who {who}")
    ru = k.proc.children_usage if who == RUSAGE_CHILDREN else cpu_usage()
    return Ret(0, writes=[(buf, pack_rusage(ru))])
