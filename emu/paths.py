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


def resolve(root_fd: int, base: list[str], path: str, follow_last: bool, no_symlinks: bool) -> Resolved:
    """Where ``path`` lands, starting from ``base`` (components below the root) when relative.

    ``follow_last``: expand a symlink in the last component; ``no_symlinks``:
    any symlink on the way is ELOOP (O_NOFOLLOW_ANY).
    """
    check_path(path)
    bare = path.strip("/") == ""
    names: list[str] = [] if path.startswith("/") else list(base)
    todo = path.split("/")
    stack = [os.dup(root_fd)]

    def here(name: str) -> Resolved:
        full = names + ([name] if name != "." else [])
        return Resolved(stack.pop(), name, "/" + "/".join(full), bare)

    try:
        for name in names:
            stack.append(os.open(name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=stack[-1]))
        links = 0
        while todo:
            name, todo = todo[0], todo[1:]
            last = all(p == "" for p in todo)
            slash = last and bool(todo)  # "name/": it must be a directory
            if len(os.fsencode(name)) > NAME_MAX:
                raise _err(errno.ENAMETOOLONG, path)
            if name in ("", "."):
                if last:
                    return here(".")
                continue
            if name == "..":
                if len(stack) > 1:
                    os.close(stack.pop())
                    names.pop()
                if last:
                    return here(".")
                continue
            try:
                st = os.stat(name, dir_fd=stack[-1], follow_symlinks=False)
            except FileNotFoundError:
                if last:
                    return here(name)
                raise
            if stat.S_ISLNK(st.st_mode) and (not last or follow_last or slash):
                if no_symlinks:
                    raise _err(errno.ELOOP, path)
                links += 1
                if links > MAXSYMLINKS:
                    raise _err(errno.ELOOP, path)
                target = os.readlink(name, dir_fd=stack[-1])
                if not target:
                    raise _err(errno.ENOENT, path)
                if target.startswith("/"):
                    while len(stack) > 1:
                        os.close(stack.pop())
                    names = []
                todo = target.split("/") + (todo if not last else ([""] if slash else []))
                continue
            if stat.S_ISLNK(st.st_mode) and no_symlinks:
                raise _err(errno.ELOOP, path)
            if last and not (slash and not stat.S_ISDIR(st.st_mode)):
                return here(name)
            if not stat.S_ISDIR(st.st_mode):
                raise _err(errno.ENOTDIR, path)
            stack.append(os.open(name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=stack[-1]))
            names.append(name)
        return here(".")
    finally:
        for fd in stack:
            os.close(fd)
