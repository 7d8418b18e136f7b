"""Descriptors: the guest's table of open files, waiting on them, and their i/o.

Owns: guest numbers -> open files, each shared (like a kernel's open-file
description) by every dup and every forked copy and closed on the host
with its last descriptor; FD_CLOEXEC per descriptor; status flags; reads,
writes, seeks, sendfile and poll on them.  Host sockets and pipes are
non-blocking underneath: a call the guest made blocking waits in
``_wait`` on its descriptor and on this process's wake pipe, so that a
signal (``interrupt``) ends the wait with EINTR.
"""

from __future__ import annotations

import errno
import fcntl
import os
import select
import socket
import struct
import sys
import termios
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from emu.native import fastcalls

DEFAULT_FD_LIMIT = 256  # macOS's default soft RLIMIT_NOFILE


def _err(code: int, what: str = "") -> OSError:
    return OSError(code, os.strerror(code), what or None)


@dataclass
class DirState:
    """A directory's reading position, shared by every dup of its descriptor."""

    entries: list[tuple[str, int, int]] | None = None  # (name, inode, S_IF* type bits)
    pos: int = 0


@dataclass(eq=False)
class OpenFile:
    """An open file: the host fd behind it and what it is, shared by every descriptor for it."""

    fd: int
    kind: str  # "file", "dir", "socket", "stdio", "pipe"
    path: str = ""  # guest path, for traces and F_GETPATH
    sock: socket.socket | None = None
    nosigpipe: bool = False
    dir: DirState | None = None
    nonblock: bool = False  # the guest's O_NONBLOCK (the host fd of a socket or pipe always is)
    refs: int = 1  # guest descriptors, in every process, that stand for it
    native: Any = field(default=None, repr=False)  # its twin in emu/native/fastcalls.c, if loaded

    def set_nonblock(self, on: bool) -> None:
        """The guest's O_NONBLOCK, here and in the C twin (fastcalls.c waits only without it)."""
        self.nonblock = on
        if self.native is not None:
            self._mirror()

    def set_nosigpipe(self, on: bool) -> None:
        """SO_NOSIGPIPE / F_SETNOSIGPIPE, here and in the C twin."""
        self.nosigpipe = on
        if self.native is not None:
            self._mirror()

    def _mirror(self) -> None:
        """Write this file's state into its C twin, made once: C tables hold its address."""
        stream = self.sock is not None and self.sock.type == socket.SOCK_STREAM
        lib = fastcalls.loaded()
        if self.native is None:
            self.native = fastcalls.native_file(lib)
        fastcalls.fill_file(lib, self.native, self.fd, self.kind, stream, self.nonblock, self.nosigpipe)

    @property
    def stream(self) -> bool:
        """A socket or pipe: its host fd is non-blocking, and a guest-blocking call waits for it."""
        return self.kind in ("socket", "pipe")

    def __post_init__(self) -> None:
        if self.stream:
            os.set_blocking(self.fd, False)
        if fastcalls.loaded() is not None:
            self._mirror()


class FdTable(dict[int, OpenFile]):
    """A process's descriptor table; with fastcalls.c loaded, each change is made to its C
    twin too, so that C never sees a descriptor Python has closed.  Only ``[n] = of`` and
    ``del [n]`` change it."""

    def __init__(self, items: dict[int, OpenFile] | None = None) -> None:
        super().__init__()
        lib = fastcalls.loaded()
        self.native = fastcalls.NativeTable(lib) if lib is not None else None
        for n, of in (items or {}).items():
            self[n] = of

    def __setitem__(self, n: int, of: OpenFile) -> None:
        super().__setitem__(n, of)
        if self.native is not None:
            self.native.set(n, of.native)

    def __delitem__(self, n: int) -> None:
        if self.native is not None:
            self.native.set(n, None)  # first: the open file (and its twin) may go with the entry
        super().__delitem__(n)

    def _refuse(self, *_a: object, **_k: object) -> None:
        raise TypeError("FdTable changes only by [n] = of and del [n]")

    pop = popitem = clear = update = setdefault = __ior__ = _refuse  # type: ignore[assignment]


_REFS = threading.Lock()  # OpenFile.refs: descriptors close on several threads


class Descriptors:
    """The descriptor side of the Host (a part of emu/host/live.py's Host)."""

    # the state these methods share; the Host (emu/host/live.py) declares and owns it
    root: str
    root_fd: int
    root_id: tuple[int, int]
    fd_limit: int
    fds: dict[int, OpenFile]
    cloexec: set[int]
    cwd: list[str]
    _wake_r: int
    _wake_w: int

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
        lib = fastcalls.loaded()
        if of.sock is not None:
            of.sock.close()
        elif lib is not None and of.kind == "file":
            lib.fc_close(of.fd)  # keeps the GIL: a file's close is short, and queueing for it again is not
        else:
            os.close(of.fd)

    def settle(self) -> None:
        """Close on the host what fastcalls.c closed for the guest (it answers a file's close
        and leaves the rest to us): before any other call of this process is answered here."""
        native = self.fds.native
        if native is not None:
            for gfd in native.take_closed():
                self.close(gfd)

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
                return sent  # a signal or SO_SNDTIMEO after some went: the count so far
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
        if of.kind == "dir" and of.dir is not None:  # a directory's offset is its entry index
            pos = {os.SEEK_SET: 0, os.SEEK_CUR: of.dir.pos}.get(whence)
            if pos is None or pos + offset < 0:
                raise _err(errno.EINVAL)
            of.dir.pos = pos + offset
            if of.dir.pos == 0:
                of.dir.entries = None  # rewinddir: list afresh
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
        of.set_nonblock(bool(flags & os.O_NONBLOCK))
        fcntl.fcntl(of.fd, fcntl.F_SETFL, flags | (os.O_NONBLOCK if of.stream else 0))

    def set_nonblocking(self, gfd: int, on: bool) -> None:
        of = self._get(gfd)
        of.set_nonblock(on)
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


def _sock_timeout(of: OpenFile, events: int) -> float:
    """A socket's SO_RCVTIMEO (reading) or SO_SNDTIMEO (writing) in seconds; 0: none."""
    if of.sock is None:
        return 0.0
    opt = socket.SO_RCVTIMEO if events & select.POLLIN else socket.SO_SNDTIMEO
    sec, usec = struct.unpack("@ll", of.sock.getsockopt(socket.SOL_SOCKET, opt, struct.calcsize("@ll")))
    return sec + usec / 1e6
