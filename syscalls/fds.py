"""Descriptor syscalls: dup, dup2, pipe, fcntl, ioctl, select, poll.

Owns: Darwin's fcntl commands and F_GETFL bits, the ioctl requests we
answer (FIONREAD, FIONBIO, FIOCLEX/FIONCLEX, TIOCGWINSZ; others ENOTTY),
fd_set bitmaps of 32-bit words, struct pollfd, and Darwin's poll bits
(translated bit by bit: Linux's POLLWRBAND is Darwin's POLLEXTEND).
The descriptor table itself is the Host's.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable

from syscalls.consts import O_ACCESS, OPEN_FLAGS, POLL_BITS
from syscalls.consts_sys import FCNTL_CMDS, FD_CLOEXEC, IOCTLS, O_SETFL_MASK, OPEN_MAX
from syscalls.errno import DarwinError
from syscalls.kernel import Kernel, Ret
from syscalls.kinds import s32
from syscalls.structs import POLLFD, unpack_timeval

MAXPATHLEN = 1024
FD_SETSIZE = 1024
POLLIN, POLLPRI, POLLOUT, POLLERR, POLLHUP, POLLNVAL = 0x1, 0x2, 0x4, 0x8, 0x10, 0x20  # host = Darwin here


def sys_dup(k: Kernel, fd: int) -> Ret:
    return Ret(k.host.dup(fd))


def sys_dup2(k: Kernel, fd: int, to: int) -> Ret:
    if to > 0x7FFFFFFF:
        raise DarwinError("EBADF", f"dup2 to {to}")
    return Ret(k.host.dup2(fd, to))


def sys_pipe(k: Kernel) -> Ret:
    r, w = k.host.pipe()
    return Ret(r, w)


def guest_flags(k: Kernel, fd: int) -> int:
    """F_GETFL: the descriptor's status flags in Darwin bits."""
    host = k.host.get_flags(fd)
    acc = next((d for d, (_, h) in O_ACCESS.items() if host & os.O_ACCMODE == h), 0)
    return acc | (OPEN_FLAGS.to_darwin(host) & O_SETFL_MASK)


def sys_fcntl(k: Kernel, fd: int, cmd: int, arg: int) -> Ret:
    k.host.check(fd)
    command = _FCNTL.get(FCNTL_CMDS.get(cmd, ""))
    if command is None:
        raise DarwinError("EINVAL", f"fcntl cmd {cmd}")
    return command(k, fd, arg)


def _dupfd(cloexec: bool) -> Callable[[Kernel, int, int], Ret]:
    def dupfd(k: Kernel, fd: int, arg: int) -> Ret:
        low = s32(arg)
        if low < 0 or low >= k.host.fd_limit:
            raise DarwinError("EINVAL", f"F_DUPFD from {low}")
        return Ret(k.host.dup(fd, lowest=low, cloexec=cloexec))

    return dupfd


def _setfd(k: Kernel, fd: int, arg: int) -> Ret:
    k.host.set_cloexec(fd, bool(arg & FD_CLOEXEC))
    return Ret(0)


def _setfl(k: Kernel, fd: int, arg: int) -> Ret:
    keep = k.host.get_flags(fd) & ~OPEN_FLAGS.to_host(O_SETFL_MASK)
    k.host.set_flags(fd, keep | OPEN_FLAGS.to_host(s32(arg) & O_SETFL_MASK))
    return Ret(0)


def _vnode(k: Kernel, fd: int, what: str) -> None:
    """Some commands take only a file or a folder (a vnode): EBADF for a socket or a pipe."""
    if k.host.kind(fd) not in ("file", "dir"):
        raise DarwinError("EBADF", f"{what} of a non-vnode")


def _getpath(k: Kernel, fd: int, arg: int) -> Ret:
    _vnode(k, fd, "F_GETPATH")
    path = k.host.getpath(fd).encode("utf-8", errors="surrogateescape") + b"\0"
    if len(path) > MAXPATHLEN:
        raise DarwinError("ENOSPC")
    k.probe_writable(arg, MAXPATHLEN)  # the kernel copies out into a MAXPATHLEN buffer
    return Ret(0, writes=[(arg, path)])


def _nocache(k: Kernel, fd: int, arg: int) -> Ret:
    _vnode(k, fd, "F_NOCACHE")
    return Ret(0)


def _fullfsync(k: Kernel, fd: int, arg: int) -> Ret:
    _vnode(k, fd, "F_FULLFSYNC")
    k.host.fsync(fd)
    return Ret(0)


def _setnosigpipe(k: Kernel, fd: int, arg: int) -> Ret:
    k.host.set_nosigpipe(fd, bool(arg))
    return Ret(0)


# the fcntl commands we answer, by name (consts_sys.FCNTL_CMDS has their numbers); others EINVAL
_FCNTL: dict[str, Callable[[Kernel, int, int], Ret]] = {
    "F_DUPFD": _dupfd(cloexec=False),
    "F_DUPFD_CLOEXEC": _dupfd(cloexec=True),
    "F_GETFD": lambda k, fd, _arg: Ret(FD_CLOEXEC if k.host.is_cloexec(fd) else 0),
    "F_SETFD": _setfd,
    "F_GETFL": lambda k, fd, _arg: Ret(guest_flags(k, fd)),
    "F_SETFL": _setfl,
    "F_GETPATH": _getpath,
    "F_NOCACHE": _nocache,
    "F_FULLFSYNC": _fullfsync,
    "F_SETNOSIGPIPE": _setnosigpipe,
    "F_GETNOSIGPIPE": lambda k, fd, _arg: Ret(1 if k.host.nosigpipe(fd) else 0),
}


def sys_ioctl(k: Kernel, fd: int, request: int, arg: int) -> Ret:
    name = IOCTLS.get(request & 0xFFFFFFFF)
    k.host.check(fd)
    if name == "FIOCLEX" or name == "FIONCLEX":
        k.host.set_cloexec(fd, name == "FIOCLEX")
        return Ret(0)
    if name == "FIONBIO":
        on = struct.unpack("<i", k.mem.read(arg, 4))[0]
        k.host.set_nonblocking(fd, bool(on))
        return Ret(0)
    if name == "FIONREAD":
        k.probe_writable(arg, 4)
        return Ret(0, writes=[(arg, struct.pack("<i", min(k.host.nread(fd), 0x7FFFFFFF)))])
    if name == "TIOCGWINSZ":
        if not k.host.isatty(fd):
            raise DarwinError("ENOTTY")
        k.probe_writable(arg, 8)
        return Ret(0, writes=[(arg, k.host.winsize(fd))])
    raise DarwinError("ENOTTY", f"ioctl {request:#x}")


def _timeout_ms(k: Kernel, tv_ptr: int) -> int:
    """A select timeval as milliseconds (-1: none); EINVAL as itimerfix would give."""
    if not tv_ptr:
        return -1
    sec, usec = unpack_timeval(k.mem.read(tv_ptr, 16))
    if sec < 0 or usec < 0 or usec >= 1_000_000 or sec > 100_000_000:
        raise DarwinError("EINVAL", f"timeval {sec}.{usec}")
    return sec * 1000 + (usec + 999) // 1000


def sys_select(k: Kernel, nfds: int, rd: int, wr: int, ex: int, tv: int) -> Ret:
    if nfds < 0:
        raise DarwinError("EINVAL", f"nfds {nfds}")
    nfds = min(nfds, max(k.host.fd_limit, k.host.top_fd()))
    nbytes = (nfds + 31) // 32 * 4
    sets = [(ptr, k.mem.read(ptr, nbytes) if ptr and nbytes else b"") for ptr in (rd, wr, ex)]
    timeout = _timeout_ms(k, tv)
    wanted: dict[int, int] = {}
    for (_, raw), ev in zip(sets, (POLLIN, POLLOUT, POLLPRI), strict=True):
        for fd in range(nfds):
            if raw and raw[fd // 8] >> (fd % 8) & 1:
                if not k.host.is_open(fd):
                    raise DarwinError("EBADF", f"select on fd {fd}")
                wanted[fd] = wanted.get(fd, 0) | ev
    items = list(wanted.items())
    revents = dict(zip(wanted, k.host.poll(items, timeout), strict=True))
    count, writes = 0, []
    for (ptr, raw), ev in zip(sets, (POLLIN, POLLOUT, POLLPRI), strict=True):
        if not raw:
            continue
        ready = {POLLIN: POLLIN | POLLHUP | POLLERR, POLLOUT: POLLOUT | POLLERR, POLLPRI: POLLPRI}[ev]
        out = bytearray(len(raw))
        for fd, got in revents.items():
            if wanted[fd] & ev and got & ready:
                out[fd // 8] |= 1 << (fd % 8)
                count += 1
        writes.append((ptr, bytes(out)))
    for ptr, _ in writes:
        k.probe_writable(ptr, nbytes)
    return Ret(count, writes=writes)


def sys_poll(k: Kernel, fds_ptr: int, nfds: int, timeout: int) -> Ret:
    if nfds > OPEN_MAX or (nfds > k.host.fd_limit and nfds > FD_SETSIZE):
        raise DarwinError("EINVAL", f"nfds {nfds}")
    raw = k.mem.read(fds_ptr, POLLFD.size * nfds) if nfds else b""
    entries = [POLLFD.unpack_from(raw, i * POLLFD.size) for i in range(nfds)]
    k.probe_writable(fds_ptr, len(raw))
    live = [(fd, POLL_BITS.to_host(ev & 0xFFFF, allow_unknown=True)) for fd, ev, _ in entries if fd >= 0]
    got = iter(k.host.poll(live, timeout if timeout >= 0 else -1))
    out, count = bytearray(), 0
    for fd, ev, _ in entries:
        rev = 0
        if fd >= 0:
            host_rev = next(got)
            rev = POLL_BITS.to_darwin(host_rev) & ((ev & 0xFFFF) | POLLERR | POLLHUP | POLLNVAL)
            if host_rev & POLLOUT and ev & POLLOUT:
                rev |= POLLOUT
        count += rev != 0
        out += POLLFD.pack(fd, ev, rev if rev < 0x8000 else rev - 0x10000)
    return Ret(count, writes=[(fds_ptr, bytes(out))] if out else [])
