"""Directory syscalls: mkdir, rmdir, unlink, link, rename (and their *at twins, renameatx_np),
chdir, fchdir, getdirentries64.

Owns: the Darwin side of changing names (AT_* flags, EPERM for unlinking a
directory, EISDIR for "/") and packing struct direntry records: 8-byte
rounded, ``*basep`` = the offset before the call, 0 at the end, and the
EOF flag word in the last 4 bytes of a buffer of 1024 bytes or more
(darwin-abi.md 3.3).  Every name is resolved by the Host inside the root.
"""

from __future__ import annotations

import struct

from syscalls.consts_sys import (
    AT,
    AT_FLAGS,
    GETDIRENTRIES64_EOF,
    GETDIRENTRIES64_EXTENDED_BUFSIZE,
    RENAME,
    RENAME_FLAGS,
    iftodt,
)
from syscalls.errno import DarwinError
from syscalls.fs import _at, _path
from syscalls.kernel import Kernel, Ret
from syscalls.structs import direntry_len, pack_direntry

MAX_DIRBUF = 128 << 20  # getdirentries64 caps the buffer at 128 MiB
MKDIR_MODE = 0o777  # mkdir1: (mode & ACCESSPERMS) & ~umask
UNLINKAT_FLAGS = AT["AT_REMOVEDIR"] | AT["AT_REMOVEDIR_DATALESS"] | AT["AT_SYMLINK_NOFOLLOW_ANY"]


def sys_mkdir(k: Kernel, path: bytes, mode: int) -> Ret:
    k.host.mkdir(_path(path), mode & MKDIR_MODE & ~k.umask)
    return Ret(0)


def sys_mkdirat(k: Kernel, at: int | None, path: bytes, mode: int) -> Ret:
    k.host.mkdir(_path(path), mode & MKDIR_MODE & ~k.umask, at=_at(path, at))
    return Ret(0)


def sys_rmdir(k: Kernel, path: bytes) -> Ret:
    k.host.rmdir(_path(path))
    return Ret(0)


def sys_unlink(k: Kernel, path: bytes) -> Ret:
    k.host.unlink(_path(path))
    return Ret(0)


def sys_unlinkat(k: Kernel, at: int | None, path: bytes, flag: int) -> Ret:
    if flag & ~UNLINKAT_FLAGS:
        raise DarwinError("EINVAL", f"unlinkat flags {AT_FLAGS.describe(flag)}")
    where = _at(path, at)
    if where is not None:
        k.host.check(where)
    if flag & AT["AT_REMOVEDIR"]:
        k.host.rmdir(_path(path), at=where)
    else:
        k.host.unlink(_path(path), at=where)
    return Ret(0)


def sys_link(k: Kernel, path: bytes, link: bytes) -> Ret:
    k.host.link(_path(path), _path(link), follow=False)
    return Ret(0)


def sys_rename(k: Kernel, old: bytes, new: bytes) -> Ret:
    k.host.rename(_path(old), _path(new))
    return Ret(0)


def sys_renameat(k: Kernel, old_at: int | None, old: bytes, new_at: int | None, new: bytes) -> Ret:
    k.host.rename(_path(old), _path(new), _at(old, old_at), _at(new, new_at))
    return Ret(0)


def sys_renameatx_np(k: Kernel, old_at: int | None, old: bytes, new_at: int | None, new: bytes, flags: int) -> Ret:
    # vfs_syscalls.c renameat_internal: unknown bits, or SWAP with EXCL, are EINVAL
    RENAME_FLAGS.to_host(flags)
    if flags & RENAME["RENAME_SWAP"] and flags & RENAME["RENAME_EXCL"]:
        raise DarwinError("EINVAL", "RENAME_SWAP with RENAME_EXCL")
    how = "swap" if flags & RENAME["RENAME_SWAP"] else "excl" if flags & RENAME["RENAME_EXCL"] else "replace"
    k.host.rename(
        _path(old),
        _path(new),
        _at(old, old_at),
        _at(new, new_at),
        how=how,
        no_symlinks=bool(flags & RENAME["RENAME_NOFOLLOW_ANY"]),
    )
    return Ret(0)


def sys_chdir(k: Kernel, path: bytes) -> Ret:
    k.host.chdir(_path(path))
    return Ret(0)


def sys_fchdir(k: Kernel, fd: int) -> Ret:
    k.host.fchdir(fd)
    return Ret(0)


def sys_getdirentries64(k: Kernel, fd: int, buf: int, size: int, basep: int) -> Ret:
    if k.host.kind(fd) != "dir":
        raise DarwinError("EINVAL", "not a directory")
    size = min(size, MAX_DIRBUF)
    room = size - 4 if size >= GETDIRENTRIES64_EXTENDED_BUFSIZE else size
    state = k.host.read_dir(fd)
    before = state.pos
    out, pos = bytearray(), state.pos
    entries = state.entries or []
    while pos < len(entries):
        name, ino, kind = entries[pos]
        raw = name.encode("utf-8", errors="surrogateescape")
        if len(out) + direntry_len(len(raw)) > room:
            break
        out += pack_direntry(ino, pos + 1, raw, iftodt(kind))
        pos += 1
    if not out and pos < len(entries):
        raise DarwinError("EINVAL", "buffer too small for one entry")
    k.probe_writable(buf, len(out))
    writes: list[tuple[int, bytes]] = [(buf, bytes(out))] if out else []
    if size >= GETDIRENTRIES64_EXTENDED_BUFSIZE:
        k.probe_writable(buf + size - 4, 4)
        flags = GETDIRENTRIES64_EOF if pos >= len(entries) else 0
        writes.append((buf + size - 4, struct.pack("<I", flags)))
    if basep:
        k.probe_writable(basep, 8)
        writes.append((basep, struct.pack("<q", before)))
    state.pos = pos
    return Ret(len(out), writes=writes)
