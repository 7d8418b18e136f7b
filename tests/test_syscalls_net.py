"""Socket syscalls as a Mac guest sees them: socket, setsockopt, bind, listen, accept.

Sockets are on 127.0.0.1 only, on a port the test finds free and passes to
the guest as a data word.  A Python thread plays the client so the guest's
accept returns; it gives up after a few seconds, and every test has a
timeout.  Expected values come from bsd/sys/socket.h, bsd/netinet/in.h and
XNU's accept_nocancel (the address is cut to *addrlen, and *addrlen is set to
the full 16), never from syscalls/.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from pathlib import Path

import pytest
from guest import GuestRun, err, ok, run_guest

# each test twice: the hot calls answered in C (emu/native/fastcalls.c), and all in Python
pytestmark = pytest.mark.usefixtures("syscall_path")

# Darwin values (bsd/sys/errno.h)
EBADF, EFAULT, EINVAL, ENOTSOCK, ENOPROTOOPT, EPROTONOSUPPORT = 9, 14, 22, 38, 42, 43
EAFNOSUPPORT, EADDRINUSE, ENAMETOOLONG = 47, 48, 63

ASM = """
.equ AF_INET, 2
.equ AF_INET6, 30
.equ SOCK_STREAM, 1
.equ SOL_SOCKET, 0xffff
.equ SO_REUSEADDR, 0x4
.equ SO_NOSIGPIPE, 0x1022
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sockaddr_in(port: int, family: int = 2, sin_len: int = 16, addr: str = "127.0.0.1") -> str:
    """A Darwin sockaddr_in as guest data: len, family, port and address in network order."""
    raw = struct.pack(">BBH4s8x", sin_len, family, port, socket.inet_aton(addr))
    return ".byte " + ", ".join(str(b) for b in raw)


def guest(tmp_path: Path, body: str, data: str = "", text: str = "") -> GuestRun:
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    return run_guest(ASM + body, text=text, data=data, root=root, tmp=tmp_path)


SOCKET = """
        mov     x0, #AF_INET
        mov     x1, #SOCK_STREAM
        mov     x2, #0
        SYSCALL SYS_socket
        RECORD
        mov     x19, x0
"""


def setsockopt(level: str, name: str, value: str = "one", size: int = 4, fd: str = "x19") -> str:
    return f"""
        mov     x0, {fd}
        ldr     x1, ={level}
        ldr     x2, ={name}
        adr     x3, {value}
        mov     x4, #{size}
        SYSCALL SYS_setsockopt
        RECORD
"""


def bind(addr: str = "addr", size: int = 16, fd: str = "x19") -> str:
    return f"""
        mov     x0, {fd}
        adr     x1, {addr}
        mov     x2, #{size}
        SYSCALL SYS_bind
        RECORD
"""


LISTEN = """
        mov     x0, x19
        mov     x1, #8
        SYSCALL SYS_listen
        RECORD
"""


class Client(threading.Thread):
    """Connects to 127.0.0.1:port (retrying until the guest listens) and reads what it is sent."""

    def __init__(self, port: int, deadline: float = 10.0) -> None:
        super().__init__(daemon=True)
        self.port, self.deadline = port, time.monotonic() + deadline
        self.local: tuple[str, int] | None = None
        self.received = b""
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while True:
                try:
                    s = socket.create_connection(("127.0.0.1", self.port), timeout=2)
                    break
                except ConnectionRefusedError:
                    if time.monotonic() > self.deadline:
                        raise
                    time.sleep(0.01)
            with s:
                self.local = s.getsockname()
                while chunk := s.recv(64):
                    self.received += chunk
        except BaseException as e:  # noqa: BLE001 - reported by the test
            self.error = e


# --------------------------------------------------------------------- the whole server side


@pytest.mark.timeout(30)
@pytest.mark.parametrize("accept", ["SYS_accept", "SYS_accept_nocancel"])
def test_socket_setsockopt_bind_listen_accept_as_a_server_does(tmp_path: Path, accept: str) -> None:
    port = free_port()
    client = Client(port)
    client.start()
    run = guest(
        tmp_path,
        SOCKET
        + setsockopt("SOL_SOCKET", "SO_REUSEADDR")
        + bind()
        + LISTEN
        + f"""
        mov     x0, x19
        adr     x1, peer
        adr     x2, peer_len
        SYSCALL {accept}
        RECORD
        mov     x20, x0
    """
        + setsockopt("SOL_SOCKET", "SO_NOSIGPIPE", fd="x20")
        + """
        mov     x0, x20
        adr     x1, msg
        mov     x2, #6
        SYSCALL SYS_write
        RECORD
        mov     x0, x20
        SYSCALL SYS_close
        RECORD
    """,
        data=f"""
addr: {sockaddr_in(port)}
peer: .fill 16, 1, 0xee
peer_canary: .fill 8, 1, 0xcc
.p2align 2
peer_len: .word 16
one: .word 1
msg: .ascii "hello\\n"
""",
    )
    client.join(10)
    assert client.error is None and client.local is not None
    assert run.results == [ok(3), ok(0), ok(0), ok(0), ok(4), ok(0), ok(6), ok(0)]
    assert client.received == b"hello\n"
    peer = run.read("peer", 16)
    # sockaddr_in: sin_len 16, AF_INET 2, the client's port and 127.0.0.1 in network order, zero pad
    assert peer == struct.pack(">BBH4s8x", 16, 2, client.local[1], socket.inet_aton("127.0.0.1"))
    assert run.read("peer_len", 4) == struct.pack("<I", 16)
    assert run.read("peer_canary", 8) == b"\xcc" * 8
    host = run.machine.host
    assert host.fds[3].sock.getsockname() == ("127.0.0.1", port)
    assert host.fds[3].sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) != 0
    assert 4 not in host.fds  # closed


@pytest.mark.timeout(30)
def test_accept_cuts_the_address_to_addrlen_but_reports_the_full_length(tmp_path: Path) -> None:
    port = free_port()
    client = Client(port)
    client.start()
    run = guest(
        tmp_path,
        SOCKET
        + bind()
        + LISTEN
        + """
        mov     x0, x19
        adr     x1, peer
        adr     x2, peer_len
        SYSCALL SYS_accept
        RECORD
        SYSCALL SYS_close
    """,
        data=f"""
addr: {sockaddr_in(port)}
peer: .fill 16, 1, 0xee
.p2align 2
peer_len: .word 4
""",
    )
    client.join(10)
    assert client.error is None and client.local is not None
    assert run.results == [ok(3), ok(0), ok(0), ok(4)]
    assert run.read("peer", 16) == struct.pack(">BBH", 16, 2, client.local[1]) + b"\xee" * 12
    assert run.read("peer_len", 4) == struct.pack("<I", 16)


@pytest.mark.timeout(30)
def test_accept_with_no_address_buffer_writes_nothing(tmp_path: Path) -> None:
    port = free_port()
    client = Client(port)
    client.start()
    run = guest(
        tmp_path,
        SOCKET
        + bind()
        + LISTEN
        + """
        mov     x0, x19
        mov     x1, #0
        adr     x2, peer_len
        SYSCALL SYS_accept
        RECORD
    """,
        data=f"""
addr: {sockaddr_in(port)}
.p2align 2
peer_len: .word 0x77777777
""",
    )
    run.machine.host.close(4)  # lets the client's read end
    client.join(10)
    assert client.error is None
    assert run.results == [ok(3), ok(0), ok(0), ok(4)]
    assert run.read("peer_len", 4) == struct.pack("<I", 0x77777777)


@pytest.mark.timeout(30)
def test_accept_with_a_bad_addrlen_pointer_fails_before_taking_a_connection(tmp_path: Path) -> None:
    port = free_port()
    run = guest(
        tmp_path,
        SOCKET
        + bind()
        + LISTEN
        + """
        mov     x0, x19
        adr     x1, peer
        mov     x2, #16
        SYSCALL SYS_accept
        RECORD
        mov     x0, x19
        adr     x1, peer
        adr     x2, ro_len
        SYSCALL SYS_accept_nocancel
        RECORD
        mov     x0, #1
        mov     x1, #0
        mov     x2, #0
        SYSCALL SYS_accept
        RECORD
        mov     x0, #AF_INET
        mov     x1, #SOCK_STREAM
        mov     x2, #0
        SYSCALL SYS_socket
        RECORD
        mov     x0, x0
        mov     x1, #0
        mov     x2, #0
        SYSCALL SYS_accept
        RECORD
    """,
        data=f"addr: {sockaddr_in(port)}\npeer: .zero 16\n",
        text=".p2align 2\nro_len: .word 16\n",
    )
    # *addrlen is copied in first (EFAULT, no connection consumed, no descriptor
    # used up); a non-socket is ENOTSOCK; a socket that is not listening is EINVAL
    assert run.results == [ok(3), ok(0), ok(0), err(EFAULT), err(EFAULT), err(ENOTSOCK), ok(4), err(EINVAL)]


# --------------------------------------------------------------------- socket


def test_socket_refuses_unknown_families_and_types(tmp_path: Path) -> None:
    run = guest(
        tmp_path,
        """
        mov     x0, #99
        mov     x1, #SOCK_STREAM
        mov     x2, #0
        SYSCALL SYS_socket
        RECORD
        mov     x0, #0
        mov     x1, #SOCK_STREAM
        mov     x2, #0
        SYSCALL SYS_socket
        RECORD
        mov     x0, #AF_INET
        mov     x1, #99
        mov     x2, #0
        SYSCALL SYS_socket
        RECORD
        // Linux's SOCK_NONBLOCK bit means nothing on Darwin
        mov     x0, #AF_INET
        mov     x1, #0x801
        mov     x2, #0
        SYSCALL SYS_socket
        RECORD
        mov     x0, #AF_INET
        mov     x1, #SOCK_STREAM
        mov     x2, #0
        SYSCALL SYS_socket
        RECORD
    """,
    )
    assert run.results == [err(EAFNOSUPPORT), err(EAFNOSUPPORT), err(EPROTONOSUPPORT), err(EPROTONOSUPPORT), ok(3)]


# --------------------------------------------------------------------- setsockopt


def test_setsockopt_translates_sol_socket_and_refuses_unknown_options(tmp_path: Path) -> None:
    run = guest(
        tmp_path,
        SOCKET
        + setsockopt("SOL_SOCKET", "SO_NOSIGPIPE")
        + setsockopt("SOL_SOCKET", "0x9999")
        + setsockopt("0x1234", "SO_REUSEADDR")
        + setsockopt("1", "SO_REUSEADDR")  # Linux's SOL_SOCKET is nothing here
        + setsockopt("SOL_SOCKET", "SO_NOSIGPIPE", size=2)
        + setsockopt("SOL_SOCKET", "SO_REUSEADDR", size=2)
        + setsockopt("SOL_SOCKET", "SO_NOSIGPIPE", fd="#1")
        + setsockopt("SOL_SOCKET", "SO_REUSEADDR", fd="#1")
        + setsockopt("SOL_SOCKET", "SO_REUSEADDR", fd="#99")
        + """
        mov     x0, x19
        ldr     x1, =SOL_SOCKET
        ldr     x2, =SO_REUSEADDR
        mov     x3, #16
        mov     x4, #4
        SYSCALL SYS_setsockopt
        RECORD
    """,
        data=".p2align 2\none: .word 1\n",
    )
    assert run.results == [
        ok(3),
        ok(0),
        err(ENOPROTOOPT),
        err(ENOPROTOOPT),
        err(ENOPROTOOPT),
        err(EINVAL),
        err(EINVAL),
        err(ENOTSOCK),
        err(ENOTSOCK),
        err(EBADF),
        err(EFAULT),
    ]
    assert run.machine.host.fds[3].nosigpipe is True
    assert run.machine.host.fds[3].sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) == 0


# --------------------------------------------------------------------- bind and listen


def test_bind_on_a_port_in_use_is_darwins_eaddrinuse(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        run = guest(tmp_path, SOCKET + bind(), data=f"addr: {sockaddr_in(port)}\n")
    assert run.results == [ok(3), err(EADDRINUSE)]  # 48, not Linux's 98


def test_bind_checks_the_address_family_and_length_like_xnu(tmp_path: Path) -> None:
    port = free_port()
    inet6 = struct.pack(">BBHI16sI", 28, 30, port, 0, socket.inet_pton(socket.AF_INET6, "::1"), 0)
    run = guest(
        tmp_path,
        SOCKET
        + bind(size=8)
        + bind(size=1)
        + bind(size=300)
        + bind(size=28)
        + bind("addr_inet6", size=28)
        + bind("addr_inet6", size=16)
        + bind("addr_unspec")
        + """
        mov     x0, #1
        adr     x1, addr
        mov     x2, #16
        SYSCALL SYS_bind
        RECORD
        mov     x0, #99
        mov     x1, #16
        mov     x2, #16
        SYSCALL SYS_bind
        RECORD
        mov     x0, x19
        mov     x1, #16
        mov     x2, #16
        SYSCALL SYS_bind
        RECORD
    """,
        data=f"""
addr: {sockaddr_in(port)}
.zero 16
addr_inet6: .byte {", ".join(str(b) for b in inet6)}
addr_unspec: {sockaddr_in(port, family=0, sin_len=0)}
""",
    )
    # tcp_usr_bind: a family other than AF_INET/AF_UNSPEC is EAFNOSUPPORT; in_pcbbind:
    # an AF_INET address must be 16 bytes (EINVAL); getsockaddr: under 2 bytes is EINVAL
    # and over 255 ENAMETOOLONG, before any copy-in; AF_UNSPEC (with any sin_len) is AF_INET
    assert run.results == [
        ok(3),
        err(EINVAL),
        err(EINVAL),
        err(ENAMETOOLONG),
        err(EINVAL),
        err(EAFNOSUPPORT),
        err(EAFNOSUPPORT),
        ok(0),
        err(ENOTSOCK),
        err(EBADF),
        err(EFAULT),
    ]
    assert run.machine.host.fds[3].sock.getsockname() == ("127.0.0.1", port)


def test_listen_needs_a_socket(tmp_path: Path) -> None:
    run = guest(
        tmp_path,
        """
        mov     x0, #1
        mov     x1, #8
        SYSCALL SYS_listen
        RECORD
        mov     x0, #99
        mov     x1, #8
        SYSCALL SYS_listen
        RECORD
    """,
    )
    assert run.results == [err(ENOTSOCK), err(EBADF)]
