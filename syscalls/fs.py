"""File syscalls: read, write, open, close, fstat64, stat64, lstat64, lseek."""

from __future__ import annotations

from syscalls.consts import O_CREAT, O_DIRECTORY, O_NOFOLLOW, O_NOFOLLOW_ANY, SEEK, open_flags_to_host
from syscalls.errno import DarwinError
from syscalls.kernel import BadAddress, Kernel, Ret
from syscalls.kinds import INT_MAX
from syscalls.structs import pack_stat64

MODE_BITS = 0o777  # open() keeps only the access bits of a new file's mode (ACCESSPERMS)


def sys_read(k: Kernel, fd: int, buf: int, n: int) -> Ret:
    if n > INT_MAX:
        raise DarwinError("EINVAL", f"read of {n} bytes")
    k.probe_writable(buf, min(n, 1))  # EFAULT before any byte is consumed
    data = k.host.read(fd, n)
    if not data:
        return Ret(0)
    try:
        k.probe_writable(buf, len(data))
    except BadAddress:
        # the copy-out failed part-way: as on Darwin, a file's offset does
        # not move for bytes the guest never received
        if k.host.get(fd).kind == "file":
            k.host.lseek(fd, -len(data), SEEK[1][1])
        raise
    return Ret(len(data), writes=[(buf, data)])


def sys_write(k: Kernel, fd: int, data: bytes, n: int) -> Ret:
    return Ret(k.host.write(fd, data))


def sys_open(k: Kernel, path: bytes, flags: int, mode: int) -> Ret:
    if flags & O_NOFOLLOW_ANY and flags & O_NOFOLLOW:
        raise DarwinError("EINVAL", "O_NOFOLLOW_ANY with O_NOFOLLOW")
    if flags & O_CREAT and flags & O_DIRECTORY:
        raise DarwinError("EINVAL", "O_CREAT with O_DIRECTORY")
    host_flags = open_flags_to_host(flags)
    return Ret(k.host.open(_path(path), host_flags, mode & MODE_BITS, no_symlinks=bool(flags & O_NOFOLLOW_ANY)))


def sys_close(k: Kernel, fd: int) -> Ret:
    k.host.close(fd)
    return Ret(0)


def sys_fstat64(k: Kernel, fd: int, buf: int) -> Ret:
    return Ret(0, writes=[(buf, pack_stat64(k.host.fstat(fd)))])


def sys_stat64(k: Kernel, path: bytes, buf: int) -> Ret:
    return Ret(0, writes=[(buf, pack_stat64(k.host.stat(_path(path), follow=True)))])


def sys_lstat64(k: Kernel, path: bytes, buf: int) -> Ret:
    return Ret(0, writes=[(buf, pack_stat64(k.host.stat(_path(path), follow=False)))])


def sys_lseek(k: Kernel, fd: int, offset: int, whence: int) -> Ret:
    if whence not in SEEK:
        raise DarwinError("EINVAL", f"whence {whence}")
    return Ret(k.host.lseek(fd, offset, SEEK[whence][1]))


def _path(raw: bytes) -> str:
    return raw.decode("utf-8", errors="surrogateescape")
