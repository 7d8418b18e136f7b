"""Vectored and positioned I/O: readv, writev, pread, pwrite, ftruncate, fsync.

Owns: reading struct iovec arrays from guest memory (UIO_MAXIOV, the
INT_MAX total), scattering what one host read returned over them, and the
offset checks of pread/pwrite.  One host call per guest call, so a
socket's bytes are never consumed twice.
"""

from __future__ import annotations

from syscalls.errno import DarwinError
from syscalls.fs import write_or_sigpipe
from syscalls.kernel import Kernel, Ret
from syscalls.kinds import INT_MAX
from syscalls.structs import IOVEC

UIO_MAXIOV = 1024


def iovecs(k: Kernel, iov: int, cnt: int) -> list[tuple[int, int]]:
    """(base, len) pairs of a guest iovec array (EINVAL for a count outside 1..1024 or > INT_MAX bytes)."""
    if cnt <= 0 or cnt > UIO_MAXIOV:
        raise DarwinError("EINVAL", f"iovcnt {cnt}")
    raw = k.mem.read(iov, IOVEC.size * cnt)
    out = [IOVEC.unpack_from(raw, i * IOVEC.size) for i in range(cnt)]
    total = 0
    for _, n in out:
        total += n
        if n > INT_MAX or total > INT_MAX:
            raise DarwinError("EINVAL", "iovec total over INT_MAX")
    return out


def sys_readv(k: Kernel, fd: int, iov: int, cnt: int) -> Ret:
    vecs = iovecs(k, iov, cnt)
    for base, n in vecs:
        k.probe_writable(base, n)
    data = k.host.read(fd, sum(n for _, n in vecs))
    return Ret(len(data), writes=_scatter(vecs, data))


def sys_writev(k: Kernel, fd: int, iov: int, cnt: int) -> Ret:
    data = b"".join(k.mem.read(base, n) for base, n in iovecs(k, iov, cnt) if n)
    return Ret(write_or_sigpipe(k, fd, data))


def _scatter(vecs: list[tuple[int, int]], data: bytes) -> list[tuple[int, bytes]]:
    writes, at = [], 0
    for base, n in vecs:
        if at >= len(data):
            break
        writes.append((base, data[at : at + n]))
        at += n
    return writes


def sys_pread(k: Kernel, fd: int, buf: int, n: int, offset: int) -> Ret:
    if n > INT_MAX:
        raise DarwinError("EINVAL", f"pread of {n} bytes")
    if k.host.kind(fd) in ("socket", "pipe"):
        raise DarwinError("ESPIPE")
    if offset < 0:
        raise DarwinError("EINVAL", f"offset {offset}")
    k.probe_writable(buf, n)  # pread moves no offset: nothing to give back on EFAULT
    data = k.host.pread(fd, n, offset)
    return Ret(len(data), writes=[(buf, data)] if data else [])


def sys_pwrite(k: Kernel, fd: int, data: bytes, n: int, offset: int) -> Ret:
    if k.host.kind(fd) in ("socket", "pipe"):
        raise DarwinError("ESPIPE")
    if offset < 0:
        raise DarwinError("EINVAL", f"offset {offset}")
    return Ret(k.host.pwrite(fd, data, offset))


def sys_ftruncate(k: Kernel, fd: int, length: int) -> Ret:
    if length < 0:
        raise DarwinError("EINVAL", f"length {length}")
    k.host.ftruncate(fd, length)
    return Ret(0)


def sys_fsync(k: Kernel, fd: int) -> Ret:
    k.host.fsync(fd)
    return Ret(0)
