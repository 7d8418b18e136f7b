"""The Host: every effect the guest has on the outside world.

Owns: the guest's descriptor table (guest numbers -> host files and
sockets), files under the guest's root folder, sockets, the clock, pids,
fork and wait.  Takes and returns host values (os.O_*, socket.AF_*, host
signal numbers) and raises OSError with host errno values; the syscall
layer translates both ways.  Knows no Darwin numbers.

Security rule: no guest path reaches a host file outside ``root``.  Paths
are resolved here one component at a time with openat(O_NOFOLLOW) from a
descriptor of the root; ``..`` never climbs above the root and symlinks
are expanded by us, inside the root, never by the host kernel.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
import time
from dataclasses import dataclass, field

PATH_MAX = 1024        # Darwin MAXPATHLEN, NUL included
NAME_MAX = 255
MAXSYMLINKS = 32
DEFAULT_FD_LIMIT = 256  # macOS's default soft RLIMIT_NOFILE


def _err(code: int, what: str = "") -> OSError:
    return OSError(code, os.strerror(code), what or None)


@dataclass
class OpenFile:
    """One guest descriptor: the host fd behind it and what it is."""

    fd: int
    kind: str                      # "file", "dir", "socket", "stdio"
    path: str = ""                 # guest path, for traces and F_GETPATH
    sock: socket.socket | None = None
    cloexec: bool = False
    nosigpipe: bool = False


@dataclass
class Host:
    """Live host: real files under ``root``, real sockets, real fork."""

    root: str
    fd_limit: int = DEFAULT_FD_LIMIT
    fds: dict[int, OpenFile] = field(default_factory=dict)
    children: set[int] = field(default_factory=set)
    cwd: list[str] = field(default_factory=list)   # components below root
    ancestry: list[int] = field(default_factory=list)  # guest parents' pids, nearest last

    def __post_init__(self) -> None:
        self.root_fd = os.open(self.root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        for n in (0, 1, 2):
            try:
                self.fds[n] = OpenFile(os.dup(n), "stdio", f"<fd {n}>")
            except OSError:
                pass  # the emulator was started without it: so is the guest

    # ------------------------------------------------------------ descriptors
    def _install(self, of: OpenFile, lowest: int = 0) -> int:
        n = lowest
        while n in self.fds:
            n += 1
        if n >= self.fd_limit:
            self._close_host(of)
            raise _err(errno.EMFILE)
        self.fds[n] = of
        return n

    def get(self, gfd: int) -> OpenFile:
        of = self.fds.get(gfd)
        if of is None:
            raise _err(errno.EBADF)
        return of

    @staticmethod
    def _close_host(of: OpenFile) -> None:
        if of.sock is not None:
            of.sock.close()
        else:
            os.close(of.fd)

    def close(self, gfd: int) -> None:
        self._close_host(self.fds.pop(gfd) if gfd in self.fds else self.get(gfd))

    def dup(self, gfd: int, lowest: int = 0) -> int:
        of = self.get(gfd)
        new = os.dup(of.fd)
        sock = socket.socket(fileno=os.dup(new)) if of.sock is not None else None
        if sock is not None:
            os.close(new)
            new = sock.fileno()
        return self._install(OpenFile(new, of.kind, of.path, sock), lowest)

    # ------------------------------------------------------------ paths
    def _walk(self, path: str, follow_last: bool, no_symlinks: bool) -> tuple[int, str, str]:
        """(parent dir fd, last name, guest path) for ``path``; caller closes the fd."""
        if not path:
            raise _err(errno.ENOENT, path)
        if len(path.encode()) >= PATH_MAX:
            raise _err(errno.ENAMETOOLONG, path)
        parts = path.split("/")
        names: list[str] = [] if path.startswith("/") else list(self.cwd)
        todo = parts  # walk from the root through the cwd (which holds no symlinks), then these
        stack = [os.dup(self.root_fd)]
        try:
            for name in names:
                stack.append(os.open(name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                                     dir_fd=stack[-1]))
            links = 0
            while todo:
                name, todo = todo[0], todo[1:]
                last = not todo
                if len(name.encode()) > NAME_MAX:
                    raise _err(errno.ENAMETOOLONG, path)
                if name in ("", "."):
                    if last:
                        return stack.pop(), ".", "/" + "/".join(names)
                    continue
                if name == "..":
                    if len(stack) > 1:
                        os.close(stack.pop())
                        names.pop()
                    if last:
                        return stack.pop(), ".", "/" + "/".join(names)
                    continue
                try:
                    st = os.stat(name, dir_fd=stack[-1], follow_symlinks=False)
                except FileNotFoundError:
                    if last:
                        return stack.pop(), name, "/" + "/".join(names + [name])
                    raise
                if stat.S_ISLNK(st.st_mode) and (not last or follow_last):
                    if no_symlinks:
                        raise _err(errno.ELOOP, path)
                    links += 1
                    if links > MAXSYMLINKS:
                        raise _err(errno.ELOOP, path)
                    target = os.readlink(name, dir_fd=stack[-1])
                    if target.startswith("/"):
                        while len(stack) > 1:
                            os.close(stack.pop())
                        names = []
                    todo = target.split("/") + todo
                    continue
                if stat.S_ISLNK(st.st_mode) and no_symlinks:
                    raise _err(errno.ELOOP, path)
                if last:
                    return stack.pop(), name, "/" + "/".join(names + [name])
                if not stat.S_ISDIR(st.st_mode):
                    raise _err(errno.ENOTDIR, path)
                stack.append(os.open(name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                                     dir_fd=stack[-1]))
                names.append(name)
            return stack.pop(), ".", "/" + "/".join(names)
        finally:
            for fd in stack:
                os.close(fd)

    def open(self, path: str, flags: int, mode: int, no_symlinks: bool = False) -> int:
        """Open a guest path with host ``flags``; returns the guest fd."""
        # O_NOFOLLOW, and O_CREAT|O_EXCL, act on a final symlink itself (ELOOP /
        # EEXIST), never on its target: a dangling link is not created through
        excl = flags & (os.O_CREAT | os.O_EXCL) == os.O_CREAT | os.O_EXCL
        follow = not flags & os.O_NOFOLLOW and not excl
        parent, name, gpath = self._walk(path, follow_last=follow, no_symlinks=no_symlinks)
        try:
            fd = os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=parent)
        finally:
            os.close(parent)
        kind = "dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"
        return self._install(OpenFile(fd, kind, gpath, cloexec=bool(flags & os.O_CLOEXEC)))

    def stat(self, path: str, follow: bool = True) -> os.stat_result:
        parent, name, _ = self._walk(path, follow_last=follow, no_symlinks=False)
        try:
            return os.stat(name, dir_fd=parent, follow_symlinks=False)
        finally:
            os.close(parent)

    # ------------------------------------------------------------ file i/o
    def read(self, gfd: int, n: int) -> bytes:
        return os.read(self.get(gfd).fd, n)

    def write(self, gfd: int, data: bytes) -> int:
        of = self.get(gfd)
        if of.sock is not None:
            return of.sock.send(data, socket.MSG_NOSIGNAL)
        return os.write(of.fd, data)

    def fstat(self, gfd: int) -> os.stat_result:
        return os.fstat(self.get(gfd).fd)

    def lseek(self, gfd: int, offset: int, whence: int) -> int:
        return os.lseek(self.get(gfd).fd, offset, whence)

    # ------------------------------------------------------------ sockets
    def socket(self, family: int, type_: int, proto: int) -> int:
        s = socket.socket(family, type_, proto)
        return self._install(OpenFile(s.fileno(), "socket", "<socket>", s))

    def _sock(self, gfd: int) -> socket.socket:
        s = self.get(gfd).sock
        if s is None:
            raise _err(errno.ENOTSOCK)
        return s

    def sock_family(self, gfd: int) -> int:
        """The host address family of a guest socket (ENOTSOCK for anything else)."""
        return self._sock(gfd).family

    def bind(self, gfd: int, addr: tuple) -> None:
        self._sock(gfd).bind(addr)

    def listen(self, gfd: int, backlog: int) -> None:
        self._sock(gfd).listen(backlog)

    def accept(self, gfd: int) -> tuple[int, int, tuple]:
        listener = self._sock(gfd)
        conn, addr = listener.accept()
        conn.setblocking(listener.getblocking())  # Darwin: the new fd inherits O_NONBLOCK
        return self._install(OpenFile(conn.fileno(), "socket", "<socket>", conn)), conn.family, addr

    def setsockopt(self, gfd: int, level: int, opt: int, value: bytes) -> None:
        self._sock(gfd).setsockopt(level, opt, value)

    def getsockopt(self, gfd: int, level: int, opt: int, size: int) -> bytes:
        return self._sock(gfd).getsockopt(level, opt, size)

    def set_nosigpipe(self, gfd: int, on: bool) -> None:
        self._sock(gfd)  # ENOTSOCK for a file, as for any socket option
        self.get(gfd).nosigpipe = on

    # ------------------------------------------------------------ processes
    def getpid(self) -> int:
        return os.getpid()

    def getppid(self) -> int:
        return os.getppid()

    def fork(self) -> int:
        """Real host fork: child pid in the parent, 0 in the child."""
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            self.children = set()
            self.ancestry = self.ancestry + [parent]
        else:
            self.children.add(pid)
        return pid

    def wait4(self, pid: int, options: int) -> tuple[int, int, object]:
        # only the guest's own children: never reap another child of this host process
        if (pid > 0 and pid not in self.children) or (pid <= 0 and not self.children):
            raise _err(errno.ECHILD)
        got, status, ru = os.wait4(pid, options)
        if got:
            self.children.discard(got)
        return got, status, ru

    def kill(self, pid: int, sig: int) -> None:
        # the guest may signal only its own fork tree: never another host process
        if pid <= 0:
            raise _err(errno.EPERM, "process groups are outside the guest")
        if pid != os.getpid() and pid not in self.children and pid not in self.ancestry:
            raise _err(errno.ESRCH)
        os.kill(pid, sig)

    # ------------------------------------------------------------ clock
    def time_ns(self) -> int:
        return time.time_ns()
