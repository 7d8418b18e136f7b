"""Network: the guest's sockets, real host sockets underneath."""

from __future__ import annotations

import errno
import select
import socket

from emu.host.descriptors import Descriptors, OpenFile, _err


class Network(Descriptors):
    """The socket side of the Host."""

    addr_in_use: tuple | None

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
                self.addr_in_use = addr  # for the emulator's own message if the guest gives up
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
        self._get(gfd).set_nosigpipe(on)
