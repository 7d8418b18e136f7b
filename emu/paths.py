"""Guest paths -> host directory descriptors, never leaving the root.

Owns: the one path resolver of the sandbox.  A guest path is walked one
component at a time: each directory is opened with O_PATH|O_NOFOLLOW from
its parent's descriptor, symlinks are read and expanded here (an absolute
target restarts at the root), and ``..`` never climbs above the root, so no
host path outside it is ever looked at, and nothing can be swapped in
between a check and its use (every step holds a descriptor).
"""

from __future__ import annotations

import errno
import os
import stat
from typing import NamedTuple

PATH_MAX = 1024  # Darwin MAXPATHLEN, NUL included
NAME_MAX = 255
MAXSYMLINKS = 32


def _err(code: int, what: str = "") -> OSError:
    return OSError(code, os.strerror(code), what or None)


class Resolved(NamedTuple):
    """Where a guest path lands: a host fd of its parent directory and the last name."""

    parent: int  # host fd (O_PATH); the caller closes it
    name: str  # "." when the path names the directory itself
    path: str  # the canonical guest path (symlinks expanded)
    bare: bool  # the path was only slashes: "/" itself (EISDIR to change)


def check_path(path: str) -> None:
    """The checks a Mac makes before it looks anything up."""
    if not path:
        raise _err(errno.ENOENT, path)
    if len(os.fsencode(path)) >= PATH_MAX:
        raise _err(errno.ENAMETOOLONG, path)


_DIR = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC  # a step of the walk: a folder, never a link


class _Walk:
    """Where a walk is: a host descriptor for the root and for each folder below it, with names."""

    def __init__(self, root_fd: int, bare: bool) -> None:
        self.stack, self.names, self.bare, self.links = [os.dup(root_fd)], [], bare, 0

    def enter(self, name: str) -> None:
        self.stack.append(os.open(name, _DIR, dir_fd=self.stack[-1]))
        self.names.append(name)

    def climb(self) -> None:
        """``..``: up one folder, but never above the root."""
        if len(self.stack) > 1:
            os.close(self.stack.pop())
            self.names.pop()

    def link(self, name: str, path: str) -> list[str]:
        """The components of symlink ``name``'s target; an absolute one restarts at the root."""
        self.links += 1
        if self.links > MAXSYMLINKS:
            raise _err(errno.ELOOP, path)
        target = os.readlink(name, dir_fd=self.stack[-1])
        if not target:
            raise _err(errno.ENOENT, path)
        if target.startswith("/"):
            while len(self.stack) > 1:
                self.climb()
        return target.split("/")

    def land(self, name: str) -> Resolved:
        """The walk ends at ``name`` in the current folder, whose descriptor the caller now owns."""
        full = self.names + ([name] if name != "." else [])
        return Resolved(self.stack.pop(), name, "/" + "/".join(full), self.bare)

    def close(self) -> None:
        for fd in self.stack:
            os.close(fd)


def resolve(root_fd: int, base: list[str], path: str, follow_last: bool, no_symlinks: bool) -> Resolved:
    """Where ``path`` lands, starting from ``base`` (components below the root) when relative.

    ``follow_last``: expand a symlink in the last component; ``no_symlinks``:
    any symlink on the way is ELOOP (O_NOFOLLOW_ANY).
    """
    check_path(path)
    walk = _Walk(root_fd, bare=path.strip("/") == "")
    try:
        for name in [] if path.startswith("/") else base:
            walk.enter(name)
        todo = path.split("/")
        while todo:
            name, todo = todo[0], todo[1:]
            last = all(p == "" for p in todo)
            slash = last and bool(todo)  # "name/": it must be a directory
            if len(os.fsencode(name)) > NAME_MAX:
                raise _err(errno.ENAMETOOLONG, path)
            if name in ("", ".", ".."):
                if name == "..":
                    walk.climb()
                if last:
                    return walk.land(".")
                continue
            try:
                st = os.stat(name, dir_fd=walk.stack[-1], follow_symlinks=False)
            except FileNotFoundError:
                if last:
                    return walk.land(name)
                raise
            if stat.S_ISLNK(st.st_mode):
                if no_symlinks:
                    raise _err(errno.ELOOP, path)
                if not last or follow_last or slash:
                    todo = walk.link(name, path) + (todo if not last else ([""] if slash else []))
                    continue
            if last and not (slash and not stat.S_ISDIR(st.st_mode)):
                return walk.land(name)
            if not stat.S_ISDIR(st.st_mode):
                raise _err(errno.ENOTDIR, path)
            walk.enter(name)
        return walk.land(".")
    finally:
        walk.close()
