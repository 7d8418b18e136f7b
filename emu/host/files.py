"""Files: paths under the guest's root, the sandbox.

Security rule: no guest path reaches a host file outside ``root``.  Every
path goes through emu/paths.py, which resolves it one component at a time
with openat(O_NOFOLLOW) from a descriptor of the root; the working
directory is kept as components below the root.
"""

from __future__ import annotations

import errno
import functools
import os
import stat
from typing import Any

from emu.host.descriptors import Descriptors, DirState, OpenFile, _err
from emu.native import fastcalls
from emu.paths import NAME_MAX, Resolved, check_path, resolve


class Files(Descriptors):
    """The file-system side of the Host: open, stat, and the calls that change names."""

    # ------------------------------------------------------------ paths
    def _base(self, at: int | None) -> list[str]:
        """Components below the root of the directory a relative path starts from."""
        if at is None:
            return list(self.cwd)
        of = self._get(at)
        if of.kind != "dir":
            raise _err(errno.ENOTDIR)
        return [p for p in of.path.split("/") if p]

    def _walk(self, path: str, follow_last: bool, no_symlinks: bool, at: int | None = None) -> Resolved:
        """Resolve a guest path inside the root (emu/paths.py); ``at`` is a guest
        directory descriptor (None: the working directory).  The caller closes
        ``parent``."""
        check_path(path)
        base = [] if path.startswith("/") else self._base(at)
        return resolve(self.root_fd, base, path, follow_last, no_symlinks)

    def open(self, path: str, flags: int, mode: int, no_symlinks: bool = False, at: int | None = None) -> int:
        """Open a guest path with host ``flags``; returns the guest fd."""
        # O_NOFOLLOW, and O_CREAT|O_EXCL, act on a final symlink itself (ELOOP /
        # EEXIST), never on its target: a dangling link is not created through
        excl = flags & (os.O_CREAT | os.O_EXCL) == os.O_CREAT | os.O_EXCL
        follow = not flags & os.O_NOFOLLOW and not excl
        if self.lowest_free() >= self.fd_limit:
            raise _err(errno.EMFILE)
        quick = self._open_beneath(path, flags, mode, no_symlinks, at)
        if quick is not None:
            return quick
        r = self._walk(path, follow_last=follow, no_symlinks=no_symlinks, at=at)
        try:
            if r.bare and flags & os.O_CREAT:
                raise _err(errno.EISDIR, path)
            fd = os.open(r.name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=r.parent)
        finally:
            os.close(r.parent)
        return self._opened(fd, stat.S_ISDIR(os.fstat(fd).st_mode), r.path, flags)

    def _opened(self, fd: int, is_dir: bool, path: str, flags: int) -> int:
        """Host ``fd``, just opened with host ``flags`` at guest ``path``: its guest fd."""
        of = OpenFile(
            fd,
            "dir" if is_dir else "file",
            path,
            dir=DirState() if is_dir else None,
            nonblock=bool(flags & os.O_NONBLOCK),
        )
        return self._install(of, cloexec=bool(flags & os.O_CLOEXEC))

    def _open_beneath(self, path: str, flags: int, mode: int, no_symlinks: bool, at: int | None) -> int | None:
        """The guest fd, when the host kernel can look ``path`` up as the walk would, in one
        call (emu/native/fastcalls.c): no symlink allowed, no "..", nothing created, from
        the root; else None, and the walk answers."""
        lib = fastcalls.loaded()
        if lib is None or not no_symlinks or flags & os.O_CREAT or at is not None and not path.startswith("/"):
            return None
        if self.cwd and not path.startswith("/"):
            return None
        parts = [p for p in path.split("/") if p not in ("", ".")]
        if not parts or ".." in parts or path.endswith("/") or any(len(os.fsencode(p)) > NAME_MAX for p in parts):
            return None
        check_path(path)
        below = "/".join(parts)
        got = fastcalls.open_beneath(lib, self.root_fd, os.fsencode(below), flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
        return None if got is None else self._opened(*got, "/" + below, flags)

    def stat(self, path: str, follow: bool = True, no_symlinks: bool = False, at: int | None = None) -> os.stat_result:
        r = self._walk(path, follow_last=follow, no_symlinks=no_symlinks, at=at)
        try:
            return os.stat(r.name, dir_fd=r.parent, follow_symlinks=False)
        finally:
            os.close(r.parent)

    def access(self, path: str, mode: int, at: int | None = None, effective: bool = False) -> None:
        r = self._walk(path, follow_last=True, no_symlinks=False, at=at)
        try:
            os.stat(r.name, dir_fd=r.parent, follow_symlinks=False)  # ENOENT first
            if mode and not os.access(r.name, mode, dir_fd=r.parent, effective_ids=effective, follow_symlinks=False):
                raise _err(errno.EACCES, path)
        finally:
            os.close(r.parent)

    def _changing(self, path: str, at: int | None, what: str, no_symlinks: bool = False) -> Resolved:
        """Resolve a path whose last name is to be created, removed or renamed (never followed).

        ``no_symlinks``: a symlink anywhere on the path is ELOOP (O_NOFOLLOW_ANY's rule).
        """
        r = self._walk(path, follow_last=False, no_symlinks=no_symlinks, at=at)
        if r.bare:
            os.close(r.parent)
            raise _err(errno.EISDIR, path)  # lookup: a degenerate name cannot be changed
        if r.name == "." and what != "mkdir":
            os.close(r.parent)
            raise _err(errno.EINVAL, path)
        return r

    def mkdir(self, path: str, mode: int, at: int | None = None) -> None:
        r = self._changing(path, at, "mkdir")
        try:
            if r.name == ".":
                raise _err(errno.EEXIST, path)
            os.mkdir(r.name, mode, dir_fd=r.parent)
        finally:
            os.close(r.parent)

    def unlink(self, path: str, at: int | None = None) -> None:
        r = self._changing(path, at, "unlink")
        try:
            st = os.stat(r.name, dir_fd=r.parent, follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                raise _err(errno.EPERM, path)  # Darwin unlink1: a directory is EPERM
            os.unlink(r.name, dir_fd=r.parent)
        finally:
            os.close(r.parent)

    def rmdir(self, path: str, at: int | None = None) -> None:
        r = self._changing(path, at, "rmdir")
        try:
            if r.path == "/":
                raise _err(errno.EBUSY, path)
            os.rmdir(r.name, dir_fd=r.parent)
        finally:
            os.close(r.parent)

    def rename(
        self,
        old: str,
        new: str,
        old_at: int | None = None,
        new_at: int | None = None,
        how: str = "replace",
        no_symlinks: bool = False,
    ) -> None:
        """Rename ``old`` to ``new``; ``how``: "replace" (rename(2)), "excl" (EEXIST if ``new``
        exists) or "swap" (exchange the two, both must exist), each atomic."""
        a = self._changing(old, old_at, "rename", no_symlinks)
        try:
            b = self._changing(new, new_at, "rename", no_symlinks)
            try:
                if how == "replace":
                    os.rename(a.name, b.name, src_dir_fd=a.parent, dst_dir_fd=b.parent)
                else:
                    _renameat2(a.parent, a.name, b.parent, b.name, how)
            finally:
                os.close(b.parent)
        finally:
            os.close(a.parent)

    def link(self, old: str, new: str, follow: bool = False) -> None:
        a = self._walk(old, follow_last=follow, no_symlinks=False)
        try:
            st = os.stat(a.name, dir_fd=a.parent, follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                raise _err(errno.EPERM, old)  # no hard links to directories
            b = self._changing(new, None, "link")
            try:
                os.link(a.name, b.name, src_dir_fd=a.parent, dst_dir_fd=b.parent, follow_symlinks=False)
            finally:
                os.close(b.parent)
        finally:
            os.close(a.parent)

    def chdir(self, path: str) -> None:
        r = self._walk(path, follow_last=True, no_symlinks=False)
        try:
            fd = os.open(r.name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=r.parent)
            os.close(fd)
        finally:
            os.close(r.parent)
        self.cwd = [p for p in r.path.split("/") if p]

    def fchdir(self, gfd: int) -> None:
        self.cwd = self._base(gfd)

    def getpath(self, gfd: int) -> str:
        """The guest path of an open file or directory (F_GETPATH): never a host path."""
        of = self._get(gfd)
        if of.kind not in ("file", "dir"):
            raise _err(errno.EBADF)
        return of.path

    def read_dir(self, gfd: int, rewind: bool = False) -> DirState:
        """The entries of a directory descriptor, listed once per pass: ".", "..", then by name.

        The listing comes from the descriptor itself; ".." of the guest's root
        is the root (as "/.." is "/" on a Mac), so nothing above it shows.
        """
        of = self._get(gfd)
        if of.kind != "dir" or of.dir is None:
            raise _err(errno.EINVAL)
        if of.dir.entries is None or rewind:
            st = os.fstat(of.fd)
            if (st.st_dev, st.st_ino) == self.root_id or of.path == "/":
                up = os.fstat(self.root_fd)
            else:
                up = os.stat("..", dir_fd=of.fd, follow_symlinks=False)
            entries = [(".", st.st_ino, stat.S_IFDIR), ("..", up.st_ino, stat.S_IFDIR)]
            for name in sorted(os.listdir(of.fd)):
                try:
                    est = os.stat(name, dir_fd=of.fd, follow_symlinks=False)
                except FileNotFoundError:
                    continue
                entries.append((name, est.st_ino, stat.S_IFMT(est.st_mode)))
            of.dir.entries = entries
        return of.dir


_RENAMEAT2 = {"excl": 1, "swap": 2}  # Linux renameat2: RENAME_NOREPLACE, RENAME_EXCHANGE


@functools.cache
def _libc_renameat2() -> Any:
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    return getattr(ctypes.CDLL(name, use_errno=True), "renameat2", None) if name else None


def _renameat2(old_dir: int, old: str, new_dir: int, new: str, how: str) -> None:
    """An atomic no-replace or exchange rename: Linux's renameat2 through libc.

    Elsewhere (or on a libc without it) a no-replace rename of a file is a
    hard link and an unlink, atomic too; an exchange is ENOTSUP, as on a
    file system that cannot swap.
    """
    fn = _libc_renameat2()
    if fn is not None:
        import ctypes

        if fn(old_dir, old.encode(), new_dir, new.encode(), _RENAMEAT2[how]) != 0:
            raise _err(ctypes.get_errno(), new)
        return
    if how == "swap":
        raise _err(errno.ENOTSUP, new)
    os.link(old, new, src_dir_fd=old_dir, dst_dir_fd=new_dir, follow_symlinks=False)
    os.unlink(old, dir_fd=old_dir)
