"""The Host: every effect the guest has on the outside world.

Owns, for one guest process: its descriptor table (guest numbers -> open
files, each shared, like a kernel's open-file description, by every dup
and every forked copy, and closed on the host when the last one goes),
files under the guest's root folder, sockets, and the clock.  Takes and
returns host values (os.O_*, socket.AF_*) and raises OSError with host
errno values; the syscall layer translates both ways.  Knows no Darwin
numbers.  ``fork`` gives a guest child its own Host sharing our open files
(guest processes live inside the emulator: emu/tree.py).

Blocking: host sockets and pipes are always non-blocking underneath; a
call the guest made blocking waits in ``_wait`` on its descriptor and on
this process's wake pipe, so that a signal (``interrupt``) ends the wait
with EINTR and one guest process never holds another's thread.

Security rule: no guest path reaches a host file outside ``root``.  Every
path goes through emu/paths.py, which resolves it one component at a time
with openat(O_NOFOLLOW) from a descriptor of the root.
"""

from __future__ import annotations

import copy
import errno
import fcntl
import functools
import os
import resource
import select
import socket
import stat
import struct
import sys
import termios
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from emu.paths import Resolved, check_path, resolve

DEFAULT_FD_LIMIT = 256  # macOS's default soft RLIMIT_NOFILE


def _err(code: int, what: str = "") -> OSError:
    return OSError(code, os.strerror(code), what or None)




@dataclass
class DirState:
    """A directory's reading position, shared by every dup of its descriptor."""

    entries: list[tuple[str, int, int]] | None = None   # (name, inode, S_IF* type bits)
    pos: int = 0


@dataclass(eq=False)
class OpenFile:
    """An open file: the host fd behind it and what it is, shared by every descriptor for it."""

    fd: int
    kind: str                      # "file", "dir", "socket", "stdio", "pipe"
    path: str = ""                 # guest path, for traces and F_GETPATH
    sock: socket.socket | None = None
    nosigpipe: bool = False
    dir: DirState | None = None
    nonblock: bool = False         # the guest's O_NONBLOCK (the host fd of a socket or pipe always is)
    refs: int = 1                  # guest descriptors, in every process, that stand for it

    @property
    def stream(self) -> bool:
        """A socket or pipe: its host fd is non-blocking, and a guest-blocking call waits for it."""
        return self.kind in ("socket", "pipe")

    def __post_init__(self) -> None:
        if self.stream:
            os.set_blocking(self.fd, False)


_REFS = threading.Lock()           # OpenFile.refs: descriptors close on several threads


@dataclass
class Host:
    """Live host, as one guest process sees it: real files under ``root``, real sockets."""

    root: str
    fd_limit: int = DEFAULT_FD_LIMIT
    fds: dict[int, OpenFile] = field(default_factory=dict)
    cloexec: set[int] = field(default_factory=set)   # descriptors with FD_CLOEXEC (per process)
    cwd: list[str] = field(default_factory=list)   # components below root

    fd_hard: int = (1 << 63) - 1   # RLIMIT_NOFILE's rlim_max (RLIM_INFINITY, as on macOS)
    limits: dict[int, tuple[int, int]] = field(default_factory=dict)   # setrlimit values we keep
    entropy_seed: int | None = None   # getentropy from a seeded generator: reproducible, never secret
    addr_in_use: tuple | None = None  # the last address a bind found taken (EADDRINUSE)

    def __post_init__(self) -> None:
        self.root_fd = os.open(self.root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        st = os.fstat(self.root_fd)
        self.root_id = (st.st_dev, st.st_ino)
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        for n in (0, 1, 2):
            try:
                self.fds[n] = OpenFile(os.dup(n), "stdio", f"<fd {n}>")
            except OSError:
                pass  # the emulator was started without it: so is the guest

    # ------------------------------------------------------------ waiting
    def interrupt(self) -> None:
        """A signal arrived: end the blocking wait of this process's thread (EINTR), or its next one."""
        try:
            os.write(self._wake_w, b"!")
        except (BlockingIOError, OSError):
            pass  # already woken, or the process has ended

    def clear_wake(self) -> None:
        """The signals that woke us are being delivered: the next wait blocks again."""
        try:
            while os.read(self._wake_r, 64):
                pass
        except (BlockingIOError, OSError):
            pass

    def _wait(self, fd: int, events: int, timeout_ms: int = -1) -> bool:
        """Wait until host ``fd`` has ``events`` (True) or the time-out passed (False); EINTR if woken."""
        p = select.poll()
        p.register(fd, events)
        p.register(self._wake_r, select.POLLIN)
        got = dict(p.poll(None if timeout_ms < 0 else timeout_ms))
        if self._wake_r in got:
            raise _err(errno.EINTR)
        return bool(got)

    def _blocking(self, of: OpenFile, events: int, op: Callable[[], Any]) -> Any:
        """Run a non-blocking host ``op``; for a guest-blocking file, wait and retry until it goes
        (or until the socket's SO_RCVTIMEO / SO_SNDTIMEO passes: EAGAIN, as on a Mac)."""
        deadline = None
        while True:
            try:
                return op()
            except BlockingIOError:
                if of.nonblock or not of.stream:
                    raise
            if deadline is None:
                limit = _sock_timeout(of, events)
                deadline = time.monotonic() + limit if limit else float("inf")
            left = deadline - time.monotonic()
            if left <= 0:
                raise _err(errno.EAGAIN)
            self._wait(of.fd, events, -1 if left == float("inf") else max(1, int(left * 1000)))

    # ------------------------------------------------------------ descriptors
    def _install(self, of: OpenFile, lowest: int = 0, cloexec: bool = False) -> int:
        n = lowest
        while n in self.fds:
            n += 1
        if n >= self.fd_limit:
            self._release(of)
            raise _err(errno.EMFILE)
        self.fds[n] = of
        if cloexec:
            self.cloexec.add(n)
        return n

    def lowest_free(self, lowest: int = 0) -> int:
        n = lowest
        while n in self.fds:
            n += 1
        return n

    def _get(self, gfd: int) -> OpenFile:
        of = self.fds.get(gfd)
        if of is None:
            raise _err(errno.EBADF)
        return of

    # what the syscall layer may ask of a descriptor (it never holds an OpenFile)
    def check(self, gfd: int) -> None:
        """EBADF unless ``gfd`` is open."""
        self._get(gfd)

    def is_open(self, gfd: int) -> bool:
        return gfd in self.fds

    def kind(self, gfd: int) -> str:
        """What ``gfd`` is: "file", "dir", "socket", "pipe" or "stdio" (EBADF if not open)."""
        return self._get(gfd).kind

    def top_fd(self) -> int:
        """One more than the highest open descriptor (0 when none is)."""
        return max(self.fds, default=-1) + 1

    def nosigpipe(self, gfd: int) -> bool:
        """SO_NOSIGPIPE / F_SETNOSIGPIPE on ``gfd``: a broken pipe is EPIPE, not SIGPIPE."""
        return self._get(gfd).nosigpipe

    @staticmethod
    def _release(of: OpenFile) -> None:
        """One descriptor fewer for ``of``; the host file closes with the last."""
        with _REFS:
            of.refs -= 1
            last = of.refs == 0
        if not last:
            return
        if of.sock is not None:
            of.sock.close()
        else:
            os.close(of.fd)

    def close(self, gfd: int) -> None:
        of = self._get(gfd)
        del self.fds[gfd]
        self.cloexec.discard(gfd)
        self._release(of)

    @staticmethod
    def _share(of: OpenFile) -> OpenFile:
        with _REFS:
            of.refs += 1
        return of

    def dup(self, gfd: int, lowest: int = 0, cloexec: bool = False) -> int:
        """dup / F_DUPFD: the lowest free number >= ``lowest`` (EMFILE at the limit)."""
        of = self._get(gfd)
        if self.lowest_free(lowest) >= self.fd_limit:
            raise _err(errno.EMFILE)
        return self._install(self._share(of), lowest, cloexec)

    def dup2(self, gfd: int, to: int) -> int:
        """dup2: ``to`` becomes a copy of ``gfd``; whatever ``to`` was is closed first."""
        of = self._get(gfd)
        if to < 0 or to >= self.fd_limit:
            raise _err(errno.EBADF)
        if to == gfd:
            return to
        new = self._share(of)
        if to in self.fds:
            self.close(to)
        self.fds[to] = new
        return to

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
        r = self._walk(path, follow_last=follow, no_symlinks=no_symlinks, at=at)
        try:
            if r.bare and flags & os.O_CREAT:
                raise _err(errno.EISDIR, path)
            fd = os.open(r.name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=r.parent)
        finally:
            os.close(r.parent)
        is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
        of = OpenFile(fd, "dir" if is_dir else "file", r.path, dir=DirState() if is_dir else None,
                      nonblock=bool(flags & os.O_NONBLOCK))
        return self._install(of, cloexec=bool(flags & os.O_CLOEXEC))

    def stat(self, path: str, follow: bool = True, no_symlinks: bool = False,
             at: int | None = None) -> os.stat_result:
        r = self._walk(path, follow_last=follow, no_symlinks=no_symlinks, at=at)
        try:
            return os.stat(r.name, dir_fd=r.parent, follow_symlinks=False)
        finally:
            os.close(r.parent)

    def access(self, path: str, mode: int, at: int | None = None, effective: bool = False) -> None:
        r = self._walk(path, follow_last=True, no_symlinks=False, at=at)
        try:
            os.stat(r.name, dir_fd=r.parent, follow_symlinks=False)   # ENOENT first
            if mode and not os.access(r.name, mode, dir_fd=r.parent, effective_ids=effective,
                                      follow_symlinks=False):
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
            raise _err(errno.EISDIR, path)     # lookup: a degenerate name cannot be changed
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
                raise _err(errno.EPERM, path)     # Darwin unlink1: a directory is EPERM
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

    def rename(self, old: str, new: str, old_at: int | None = None, new_at: int | None = None,
               how: str = "replace", no_symlinks: bool = False) -> None:
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
                raise _err(errno.EPERM, old)       # no hard links to directories
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

    # ------------------------------------------------------------ file i/o
    def read(self, gfd: int, n: int) -> bytes:
        of = self._get(gfd)
        return self._blocking(of, select.POLLIN, lambda: os.read(of.fd, n))

    def write(self, gfd: int, data: bytes) -> int:
        """Write; a broken pipe or socket is EPIPE (the host never raises SIGPIPE).

        A blocking socket or pipe takes all of ``data`` unless a signal comes
        first (then the count so far, or EINTR if nothing went), as on a Mac.
        """
        of = self._get(gfd)
        if of.sock is not None:
            sock = of.sock
            return self._all(of, lambda view: sock.send(view, socket.MSG_NOSIGNAL), data)
        return self._all(of, lambda view: os.write(of.fd, view), data)

    def _all(self, of: OpenFile, send: Callable[[memoryview], int], data: bytes) -> int:
        """``send`` once for a non-blocking file; for a guest-blocking one, until all of ``data`` went."""
        view = memoryview(data)
        sent = self._blocking(of, select.POLLOUT, lambda: send(view))
        if of.nonblock or not of.stream:
            return sent
        while sent < len(data):
            try:
                sent += self._blocking(of, select.POLLOUT, lambda start=sent: send(view[start:]))
            except (InterruptedError, BlockingIOError):
                return sent       # a signal or SO_SNDTIMEO after some went: the count so far
        return sent

    def pread(self, gfd: int, n: int, offset: int) -> bytes:
        return os.pread(self._seekable(gfd), n, offset)

    def pwrite(self, gfd: int, data: bytes, offset: int) -> int:
        return os.pwrite(self._seekable(gfd), data, offset)

    def _seekable(self, gfd: int) -> int:
        of = self._get(gfd)
        if of.stream:
            raise _err(errno.ESPIPE)
        return of.fd

    def fstat(self, gfd: int) -> os.stat_result:
        return os.fstat(self._get(gfd).fd)

    def lseek(self, gfd: int, offset: int, whence: int) -> int:
        of = self._get(gfd)
        if of.kind == "dir" and of.dir is not None:   # a directory's offset is its entry index
            pos = {os.SEEK_SET: 0, os.SEEK_CUR: of.dir.pos}.get(whence)
            if pos is None or pos + offset < 0:
                raise _err(errno.EINVAL)
            of.dir.pos = pos + offset
            if of.dir.pos == 0:
                of.dir.entries = None                  # rewinddir: list afresh
            return of.dir.pos
        return os.lseek(of.fd, offset, whence)

    def ftruncate(self, gfd: int, length: int) -> None:
        of = self._get(gfd)
        if of.kind != "file":
            raise _err(errno.EINVAL)
        os.ftruncate(of.fd, length)

    def fsync(self, gfd: int) -> None:
        of = self._get(gfd)
        if of.stream:
            raise _err(errno.ENOTSUP)
        os.fsync(of.fd)

    def pipe(self) -> tuple[int, int]:
        if self.lowest_free(self.lowest_free() + 1) >= self.fd_limit:
            raise _err(errno.EMFILE)
        r, w = os.pipe2(os.O_CLOEXEC)
        return (self._install(OpenFile(r, "pipe", "<pipe>")), self._install(OpenFile(w, "pipe", "<pipe>")))

    def get_flags(self, gfd: int) -> int:
        """The open file's status flags as host bits (O_ACCMODE, O_NONBLOCK as the guest set it, O_APPEND ...)."""
        of = self._get(gfd)
        flags = fcntl.fcntl(of.fd, fcntl.F_GETFL)
        if of.stream:
            flags = (flags | os.O_NONBLOCK) if of.nonblock else (flags & ~os.O_NONBLOCK)
        return flags

    def set_flags(self, gfd: int, flags: int) -> None:
        of = self._get(gfd)
        of.nonblock = bool(flags & os.O_NONBLOCK)
        fcntl.fcntl(of.fd, fcntl.F_SETFL, flags | (os.O_NONBLOCK if of.stream else 0))

    def set_nonblocking(self, gfd: int, on: bool) -> None:
        of = self._get(gfd)
        of.nonblock = on
        if not of.stream:
            os.set_blocking(of.fd, not on)

    def set_cloexec(self, gfd: int, on: bool) -> None:
        self._get(gfd)
        if on:
            self.cloexec.add(gfd)
        else:
            self.cloexec.discard(gfd)

    def is_cloexec(self, gfd: int) -> bool:
        self._get(gfd)
        return gfd in self.cloexec

    def nread(self, gfd: int) -> int:
        """Bytes that a read would return now (FIONREAD)."""
        of = self._get(gfd)
        if of.kind == "file":
            return max(0, os.fstat(of.fd).st_size - os.lseek(of.fd, 0, os.SEEK_CUR))
        if of.kind == "dir":
            raise _err(errno.ENOTTY)
        buf = fcntl.ioctl(of.fd, termios.FIONREAD, b"\0\0\0\0")
        return int.from_bytes(buf, sys.byteorder, signed=True)

    def nwrite(self, gfd: int) -> int:
        """Bytes written to a socket and not yet sent (SIOCOUTQ)."""
        buf = fcntl.ioctl(self._sock(gfd).fileno(), 0x5411, b"\0\0\0\0")
        return int.from_bytes(buf, sys.byteorder, signed=True)

    def isatty(self, gfd: int) -> bool:
        return os.isatty(self._get(gfd).fd)

    def winsize(self, gfd: int) -> bytes:
        return fcntl.ioctl(self._get(gfd).fd, termios.TIOCGWINSZ, b"\0" * 8)

    def sendfile(self, sock_gfd: int, file_gfd: int, offset: int, count: int) -> int:
        """Send ``count`` bytes of a file from ``offset`` without moving its offset."""
        f = self._get(file_gfd)
        s = self._sock(sock_gfd)
        of = self._get(sock_gfd)
        return self._blocking(of, select.POLLOUT, lambda: os.sendfile(s.fileno(), f.fd, offset, count))

    def poll(self, items: list[tuple[int, int]], timeout_ms: int) -> list[int]:
        """Host poll over guest descriptors: host revents per item (POLLNVAL for a closed one).

        ``timeout_ms`` < 0 waits without limit.
        """
        p = select.poll()
        wanted: dict[int, int] = {}
        for gfd, events in items:
            of = self.fds.get(gfd)
            if of is not None:
                wanted[of.fd] = wanted.get(of.fd, 0) | events
        for fd, events in wanted.items():
            p.register(fd, events)
        got: dict[int, int] = {}
        if wanted or timeout_ms:
            p.register(self._wake_r, select.POLLIN)
            got = dict(p.poll(None if timeout_ms < 0 else timeout_ms))
            if self._wake_r in got:
                raise _err(errno.EINTR)
        out = []
        for gfd, events in items:
            of = self.fds.get(gfd)
            if of is None:
                out.append(select.POLLNVAL)
            else:
                out.append(got.get(of.fd, 0) & (events | select.POLLERR | select.POLLHUP | select.POLLNVAL))
        return out

    # ------------------------------------------------------------ sockets
    def socket(self, family: int, type_: int, proto: int) -> int:
        s = socket.socket(family, type_, proto)
        return self._install(OpenFile(s.fileno(), "socket", "<socket>", s))

    def _sock(self, gfd: int) -> socket.socket:
        s = self._get(gfd).sock
        if s is None:
            raise _err(errno.ENOTSOCK)
        return s

    def sock_family(self, gfd: int) -> int:
        """The host address family of a guest socket (ENOTSOCK for anything else)."""
        return self._sock(gfd).family

    def bind(self, gfd: int, addr: tuple) -> None:
        try:
            self._sock(gfd).bind(addr)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                self.addr_in_use = addr     # for the emulator's own message if the guest gives up
            raise

    def listen(self, gfd: int, backlog: int) -> None:
        self._sock(gfd).listen(backlog)

    def accept(self, gfd: int) -> tuple[int, int, tuple]:
        listener = self._sock(gfd)
        if self.lowest_free() >= self.fd_limit:
            raise _err(errno.EMFILE)
        of = self._get(gfd)
        conn, addr = self._blocking(of, select.POLLIN, listener.accept)
        # Darwin: the new fd inherits O_NONBLOCK (Linux's does not)
        new = OpenFile(conn.fileno(), "socket", "<socket>", conn, nonblock=of.nonblock)
        return self._install(new), conn.family, addr

    def connect(self, gfd: int, addr: tuple) -> None:
        s = self._sock(gfd)
        err = s.connect_ex(addr)
        if err == errno.EINPROGRESS and not self._get(gfd).nonblock:
            self._wait(s.fileno(), select.POLLOUT)
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            raise _err(err)

    def sockname(self, gfd: int, peer: bool = False) -> tuple[int, tuple]:
        s = self._sock(gfd)
        return s.family, (s.getpeername() if peer else s.getsockname())

    def sock_type(self, gfd: int) -> int:
        return self._sock(gfd).type

    def recvfrom(self, gfd: int, n: int, flags: int) -> tuple[bytes, tuple | None]:
        s = self._sock(gfd)
        of = self._get(gfd)
        if s.type == socket.SOCK_STREAM:
            return self._blocking(of, select.POLLIN, lambda: s.recv(n, flags)), None
        data, addr = self._blocking(of, select.POLLIN, lambda: s.recvfrom(n, flags))
        return data, addr

    def sendto(self, gfd: int, data: bytes, flags: int, addr: tuple | None) -> int:
        s = self._sock(gfd)
        of = self._get(gfd)
        if addr is None or s.type == socket.SOCK_STREAM:
            return self._all(of, lambda view: s.send(view, flags | socket.MSG_NOSIGNAL), data)
        return self._blocking(of, select.POLLOUT, lambda: s.sendto(data, flags | socket.MSG_NOSIGNAL, addr))

    def shutdown(self, gfd: int, how: int) -> None:
        self._sock(gfd).shutdown(how)

    def setsockopt(self, gfd: int, level: int, opt: int, value: bytes) -> None:
        self._sock(gfd).setsockopt(level, opt, value)

    def getsockopt(self, gfd: int, level: int, opt: int, size: int) -> bytes:
        return self._sock(gfd).getsockopt(level, opt, size)

    def set_nosigpipe(self, gfd: int, on: bool) -> None:
        """SO_NOSIGPIPE (a socket option: the caller checks it is a socket) or F_SETNOSIGPIPE."""
        self._get(gfd).nosigpipe = on

    # ------------------------------------------------------------ identity and limits
    def ids(self) -> tuple[int, int, int, int]:
        """(uid, euid, gid, egid) of this process."""
        return os.getuid(), os.geteuid(), os.getgid(), os.getegid()

    def getrlimit(self, res: int) -> tuple[int, int]:
        if res in self.limits:
            return self.limits[res]
        return resource.getrlimit(res)

    def setrlimit(self, res: int, soft: int, hard: int) -> None:
        """Kept for the guest only: the emulator's own limits stay as they are."""
        self.limits[res] = (soft, hard)

    def cpu_count(self) -> int:
        return os.cpu_count() or 1

    def memsize(self) -> int:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")

    def hostname(self) -> str:
        return socket.gethostname()

    def entropy(self, n: int) -> bytes:
        if self.entropy_seed is None:
            return os.urandom(n)
        if not hasattr(self, "_entropy"):
            import random
            self._entropy = random.Random(self.entropy_seed)
        return self._entropy.randbytes(n)

    # ------------------------------------------------------------ processes
    def fork(self) -> Host:
        """The Host of a child forked inside this emulator: the same root, a copy of the
        descriptor table whose entries share their open files (offset, flags) with ours,
        and a wake pipe of its own (a signal for one process never wakes the other)."""
        child = copy.copy(self)
        child.fds = {n: self._share(of) for n, of in self.fds.items()}
        child.cloexec, child.cwd, child.limits = set(self.cloexec), list(self.cwd), dict(self.limits)
        child.addr_in_use = None
        child._wake_r, child._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        return child

    def close_all(self) -> None:
        """The process has ended: every descriptor goes (a file closes with its last one)."""
        for n in list(self.fds):
            self.close(n)
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass
        self._wake_r = self._wake_w = -1

    # ------------------------------------------------------------ clock
    def time_ns(self) -> int:
        return time.time_ns()

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()


def _sock_timeout(of: OpenFile, events: int) -> float:
    """A socket's SO_RCVTIMEO (reading) or SO_SNDTIMEO (writing) in seconds; 0: none."""
    if of.sock is None:
        return 0.0
    opt = socket.SO_RCVTIMEO if events & select.POLLIN else socket.SO_SNDTIMEO
    sec, usec = struct.unpack("@ll", of.sock.getsockopt(socket.SOL_SOCKET, opt, struct.calcsize("@ll")))
    return sec + usec / 1e6


_RENAMEAT2 = {"excl": 1, "swap": 2}   # Linux renameat2: RENAME_NOREPLACE, RENAME_EXCHANGE


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
