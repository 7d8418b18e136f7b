"""Time, identity of the machine, limits and randomness: gettimeofday, sysctl,
getrlimit, setrlimit, getentropy.

Owns: what a Mac answers -- kern.ostype "Darwin", a macOS 15 kern.osrelease,
16 KiB pages, hw.ncpu and hw.memsize from the host -- and the Darwin
shapes: timeval with tv_sec cast through uint32 (darwin-abi.md 1.2),
rlimit with RLIM_INFINITY = 2^63-1, sysctl's partial copy + ENOMEM.
"""

from __future__ import annotations

import struct

from syscalls.consts import PAGE_SIZE
from syscalls.consts_sys import (
    CTL_HW,
    CTL_KERN,
    CTL_SYSCTL,
    HW,
    KERN,
    OPEN_MAX,
    RLIM_INFINITY,
    RLIMIT_NOFILE,
    RLIMIT_POSIX_FLAG,
    RLIMITS,
    SYSCTL_NAME2OID,
)
from syscalls.errno import DarwinError
from syscalls.kernel import Kernel, Ret
from syscalls.structs import RLIMIT, TIMEZONE, pack_timeval

OSTYPE = "Darwin"
OSRELEASE = "24.5.0"  # macOS 15.5
OSVERSION = "24F74"
VERSION = "Darwin Kernel Version 24.5.0: Tue Apr 22 19:54:43 PDT 2025; root:xnu-11417.121.6~2/RELEASE_ARM64_T8103"
PAGESIZE = PAGE_SIZE
ARG_MAX = 1 << 20
MAXPROC = 4000
CTL_MAXNAME = 12
ENTROPY_MAX = 256
MACH_TICKS_PER_NS = (3, 125)  # Apple silicon mach_timebase_info: 125/3 ns per tick (24 MHz)


def sys_gettimeofday(k: Kernel, tp: int, tzp: int, mach_abs: int) -> Ret:
    ns = k.host.time_ns()
    writes = []
    if tp:
        # kern_time.c: tv_sec is cast through uint32_t "to match arm64 commpage"
        writes.append((tp, pack_timeval((ns // 1_000_000_000) & 0xFFFFFFFF, ns // 1000 % 1_000_000)))
    if tzp:
        writes.append((tzp, TIMEZONE.pack(0, 0)))
    if mach_abs:
        num, den = MACH_TICKS_PER_NS
        writes.append((mach_abs, struct.pack("<Q", k.host.monotonic_ns() * num // den)))
    for addr, data in writes:
        k.probe_writable(addr, len(data))
    return Ret(0, writes=writes)


def _limit(k: Kernel, which: int) -> tuple[int, int]:
    if which == RLIMIT_NOFILE:
        return k.host.fd_limit, k.host.fd_hard
    soft, hard = k.host.getrlimit(RLIMITS[which][1])
    return tuple(RLIM_INFINITY if v < 0 or v > RLIM_INFINITY else v for v in (soft, hard))  # type: ignore[return-value]


def sys_getrlimit(k: Kernel, which: int, buf: int) -> Ret:
    which &= ~RLIMIT_POSIX_FLAG
    if which not in RLIMITS:
        raise DarwinError("EINVAL", f"resource {which}")
    return Ret(0, writes=[(buf, RLIMIT.pack(*_limit(k, which)))])


def sys_setrlimit(k: Kernel, which: int, buf: int) -> Ret:
    posix = bool(which & RLIMIT_POSIX_FLAG)
    which &= ~RLIMIT_POSIX_FLAG
    if which not in RLIMITS:
        raise DarwinError("EINVAL", f"resource {which}")
    soft, hard = RLIMIT.unpack(k.mem.read(buf, RLIMIT.size))
    soft, hard = min(soft, RLIM_INFINITY), min(hard, RLIM_INFINITY)
    if soft > hard:
        raise DarwinError("EINVAL", "rlim_cur > rlim_max")
    old_soft, old_hard = _limit(k, which)
    if hard > old_hard and k.host.ids()[1] != 0:
        raise DarwinError("EPERM", "raising rlim_max")
    if which == RLIMIT_NOFILE:
        # dosetrlimit: a changed value above maxfilesperproc is clipped to it (EINVAL
        # for the soft limit when the caller asked for POSIX behaviour); open
        # descriptors above a lowered limit stay open
        if soft != old_soft and soft > OPEN_MAX:
            if posix:
                raise DarwinError("EINVAL", f"RLIMIT_NOFILE {soft} > {OPEN_MAX}")
            soft = OPEN_MAX
        if hard != old_hard and hard > OPEN_MAX:
            hard = OPEN_MAX
        k.host.fd_limit, k.host.fd_hard = soft, hard
        return Ret(0)
    k.host.setrlimit(RLIMITS[which][1], soft, hard)
    return Ret(0)


def _sysctl_value(k: Kernel, mib: tuple[int, ...]) -> bytes:
    """The bytes a Mac's sysctl gives for ``mib`` (strings with their NUL)."""

    def text(s: str) -> bytes:
        return s.encode() + b"\0"

    def i32(v: int) -> bytes:
        return struct.pack("<i", v)

    kern = {
        KERN["ostype"]: text(OSTYPE),
        KERN["osrelease"]: text(OSRELEASE),
        KERN["version"]: text(VERSION),
        KERN["osversion"]: text(OSVERSION),
        KERN["argmax"]: i32(ARG_MAX),
        KERN["maxproc"]: i32(MAXPROC),
        KERN["maxfiles"]: i32(122880),
        KERN["maxfilesperproc"]: i32(OPEN_MAX),
        KERN["hostname"]: text(k.host.hostname()),
        KERN["osrevision"]: i32(199506),
    }
    hw = {
        HW["machine"]: text("arm64"),
        HW["model"]: text("Mac14,2"),
        HW["ncpu"]: i32(k.host.cpu_count()),
        HW["byteorder"]: i32(1234),
        HW["pagesize"]: i32(PAGESIZE),
        HW["memsize"]: struct.pack("<Q", k.host.memsize()),
    }
    if len(mib) == 2 and mib[0] == CTL_KERN and mib[1] in kern:
        return kern[mib[1]]
    if len(mib) == 2 and mib[0] == CTL_HW and mib[1] in hw:
        return hw[mib[1]]
    raise DarwinError("ENOENT" if mib and mib[0] in (CTL_KERN, CTL_HW) else "ENOTSUP", f"sysctl {mib}")


NAMES: dict[str, tuple[int, int]] = {
    **{f"kern.{n}": (CTL_KERN, v) for n, v in KERN.items()},
    **{f"hw.{n}": (CTL_HW, v) for n, v in HW.items()},
}


def sys_sysctl(k: Kernel, name: int, namelen: int, old: int, oldlenp: int, new: int, newlen: int) -> Ret:
    if namelen < 2 or namelen > CTL_MAXNAME:
        raise DarwinError("EINVAL", f"namelen {namelen}")
    mib = struct.unpack(f"<{namelen}i", k.mem.read(name, 4 * namelen))
    if mib[:2] == (CTL_SYSCTL, SYSCTL_NAME2OID):  # what sysctlbyname asks first
        wanted = k.mem.read(new, min(newlen, 1024)).split(b"\0")[0].decode(errors="replace") if new else ""
        if wanted not in NAMES:
            raise DarwinError("ENOENT", f"sysctl name {wanted!r}")
        value = struct.pack("<2i", *NAMES[wanted])
    else:
        if new:
            raise DarwinError("EPERM", f"sysctl {mib} is read-only here")
        value = _sysctl_value(k, mib)
    if not oldlenp:
        return Ret(0)
    room = struct.unpack("<Q", k.mem.read(oldlenp, 8))[0]
    k.probe_writable(oldlenp, 8)
    if not old:
        return Ret(0, writes=[(oldlenp, struct.pack("<Q", len(value)))])  # the size it needs
    n = min(room, len(value))
    k.probe_writable(old, n)
    writes = [(old, value[:n]), (oldlenp, struct.pack("<Q", n))]
    if n < len(value):
        # sysctl_old_user copies what fits and says ENOMEM; sysctl() still writes *oldlenp
        for addr, data in writes:
            k.mem.write(addr, data)
        raise DarwinError("ENOMEM", "sysctl buffer too small")
    return Ret(0, writes=writes)


def sys_getentropy(k: Kernel, buf: int, n: int) -> Ret:
    if n > ENTROPY_MAX:
        raise DarwinError("EINVAL", f"getentropy of {n} bytes")
    k.probe_writable(buf, n)
    return Ret(0, writes=[(buf, k.host.entropy(n))] if n else [])
