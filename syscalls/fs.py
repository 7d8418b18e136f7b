"""File syscalls: read, write, open/openat, close, stat64 and kin, lseek, access.

Owns: the checks Darwin makes before a file call reaches the file system
(flag combinations, INT_MAX, AT_* flags), and SIGPIPE on a write to a
broken pipe or socket (via signals.broken_pipe).  Paths are resolved by
the Host, inside the root; directory-changing calls are in dirs.py and
vectored/positioned I/O in iov.py.
"""

from __future__ import annotations

from syscalls.consts import O_CREAT, O_DIRECTORY, O_NOFOLLOW, O_NOFOLLOW_ANY, SEEK, open_flags_to_host
from syscalls.consts_sys import ACCESS_MODES, AT, AT_FLAGS
from syscalls.errno import DarwinError
from syscalls.kernel import BadAddress, Kernel, Ret
from syscalls.kinds import INT_MAX
from syscalls.signals import broken_pipe
from syscalls.structs import pack_stat64

MODE_BITS = 0o777  # open() keeps only the access bits of a new file's mode (ACCESSPERMS)
# fstatat64 accepts only these (vfs_syscalls.c fstatat_internal)
FSTATAT_FLAGS = AT["AT_SYMLINK_NOFOLLOW"] | AT["AT_REALDEV"] | AT["AT_FDONLY"] | AT["AT_SYMLINK_NOFOLLOW_ANY"]
FACCESSAT_FLAGS = AT["AT_EACCESS"] | AT["AT_SYMLINK_NOFOLLOW"] | AT["AT_SYMLINK_NOFOLLOW_ANY"] | AT["AT_REALDEV"]


def sys_read(k: Kernel, fd: int, buf: int, n: int) -> Ret:
    if n > INT_MAX:
        raise DarwinError("EINVAL", f"read of {n} bytes")
    k.probe_writable(buf, min(n, 1))  # EFAULT before any byte is consumed
    if k.host.kind(fd) == "dir":
        raise DarwinError("EISDIR", "read of a directory")
    data = k.host.read(fd, n)
    if not data:
        return Ret(0)
    try:
        k.probe_writable(buf, len(data))
    except BadAddress:
        # the copy-out failed part-way: as on Darwin, a file's offset does
        # not move for bytes the guest never received
        if k.host.kind(fd) == "file":
            k.host.lseek(fd, -len(data), SEEK[1][1])
        raise
    return Ret(len(data), writes=[(buf, data)])


def sys_write(k: Kernel, fd: int, data: bytes, n: int) -> Ret:
    return Ret(write_or_sigpipe(k, fd, data))


def write_or_sigpipe(k: Kernel, fd: int, data: bytes) -> int:
    try:
        return k.host.write(fd, data)
    except BrokenPipeError:
        raise broken_pipe(k, fd) from None


def sys_open(k: Kernel, path: bytes, flags: int, mode: int) -> Ret:
    return _open(k, None, path, flags, mode)


def sys_openat(k: Kernel, at: int | None, path: bytes, flags: int, mode: int) -> Ret:
    return _open(k, at, path, flags, mode)


def _open(k: Kernel, at: int | None, path: bytes, flags: int, mode: int) -> Ret:
    if flags & O_NOFOLLOW_ANY and flags & O_NOFOLLOW:
        raise DarwinError("EINVAL", "O_NOFOLLOW_ANY with O_NOFOLLOW")
    if flags & O_CREAT and flags & O_DIRECTORY:
        raise DarwinError("EINVAL", "O_CREAT with O_DIRECTORY")
    host_flags = open_flags_to_host(flags)
    return Ret(
        k.host.open(
            _path(path),
            host_flags,
            mode & MODE_BITS & ~k.umask,
            no_symlinks=bool(flags & O_NOFOLLOW_ANY),
            at=_at(path, at),
        )
    )


def sys_close(k: Kernel, fd: int) -> Ret:
    k.host.close(fd)
    return Ret(0)


def sys_fstat64(k: Kernel, fd: int, buf: int) -> Ret:
    return Ret(0, writes=[(buf, pack_stat64(k.host.fstat(fd)))])


def sys_stat64(k: Kernel, path: bytes, buf: int) -> Ret:
    return Ret(0, writes=[(buf, pack_stat64(k.host.stat(_path(path), follow=True)))])


def sys_lstat64(k: Kernel, path: bytes, buf: int) -> Ret:
    return Ret(0, writes=[(buf, pack_stat64(k.host.stat(_path(path), follow=False)))])


def sys_fstatat64(k: Kernel, at: int | None, path: bytes, buf: int, flag: int) -> Ret:
    if flag & ~FSTATAT_FLAGS:
        raise DarwinError("EINVAL", f"fstatat64 flags {AT_FLAGS.describe(flag)}")
    if flag & AT["AT_FDONLY"]:
        raise DarwinError("ENOTSUP", "AT_FDONLY")
    st = k.host.stat(
        _path(path),
        follow=not flag & AT["AT_SYMLINK_NOFOLLOW"],
        no_symlinks=bool(flag & AT["AT_SYMLINK_NOFOLLOW_ANY"]),
        at=_at(path, at),
    )
    return Ret(0, writes=[(buf, pack_stat64(st))])


def sys_access(k: Kernel, path: bytes, mode: int) -> Ret:
    if mode & ~7:
        raise DarwinError("EINVAL", f"access mode {mode:#x}")
    k.host.access(_path(path), ACCESS_MODES.to_host(mode))
    return Ret(0)


def sys_lseek(k: Kernel, fd: int, offset: int, whence: int) -> Ret:
    if whence not in SEEK:
        raise DarwinError("EINVAL", f"whence {whence}")
    return Ret(k.host.lseek(fd, offset, SEEK[whence][1]))


def _path(raw: bytes) -> str:
    return raw.decode("utf-8", errors="surrogateescape")


def _at(path: bytes, at: int | None) -> int | None:
    """The directory a relative path of an *at() call starts from (an absolute one ignores it)."""
    return None if path.startswith(b"/") else at
