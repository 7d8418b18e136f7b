"""Client-side and data socket syscalls as a Mac guest sees them: connect,
getsockname, getpeername, sendto, recvfrom, shutdown, getsockopt, sendfile.

A Python thread on 127.0.0.1 plays the peer.  Expected values come from
bsd/sys/socket.h and XNU's uipc_syscalls.c / uipc_socket.c: sockaddr_in
with sin_len 16, *len clipped and written back, flag options reading back
as their own bit, timeval with an int32 tv_usec, sendfile's *len in/out.
"""

from __future__ import annotations

import socket
import struct
import threading
from pathlib import Path

import pytest
from guest import GuestRun, err, ok, run_guest

# each test twice: the hot calls answered in C (emu/native/fastcalls.c), and all in Python
pytestmark = pytest.mark.usefixtures("syscall_path")

ENOTCONN, ECONNREFUSED, ENOPROTOOPT, ENOTSOCK, EINVAL, ENOTSUP = 57, 61, 42, 38, 22, 45

ASM = """
.equ AF_INET, 2
.equ SOCK_STREAM, 1
.equ SOCK_DGRAM, 2
.equ SOL_SOCKET, 0xffff
"""


def sockaddr(port: int) -> str:
    raw = struct.pack(">BBH4s8x", 16, 2, port, socket.inet_aton("127.0.0.1"))
    return ".byte " + ", ".join(str(b) for b in raw)


def guest(tmp_path: Path, body: str, data: str = "", text: str = "") -> GuestRun:
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    return run_guest(ASM + body, text=text, data=data, root=root, tmp=tmp_path)


class Peer(threading.Thread):
    """Accepts one connection, sends ``greeting``, reads until EOF."""

    def __init__(self, greeting: bytes = b"") -> None:
        super().__init__(daemon=True)
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(1)
        self.srv.settimeout(10)
        self.port = self.srv.getsockname()[1]
        self.greeting, self.received, self.addr = greeting, b"", None

    def run(self) -> None:
        with self.srv:
            conn, self.addr = self.srv.accept()
            with conn:
                conn.settimeout(10)
                conn.sendall(self.greeting)
                while chunk := conn.recv(4096):
                    self.received += chunk


CONNECT = """
        mov     x0, #AF_INET
        mov     x1, #SOCK_STREAM
        mov     x2, #0
        SYSCALL SYS_socket
        RECORD
        mov     x19, x0
        mov     x0, x19
        adr     x1, addr
        mov     x2, #16
        SYSCALL {num}
        RECORD
"""


@pytest.mark.timeout(30)
def test_connect_names_send_recv_shutdown(tmp_path: Path) -> None:
    peer = Peer(b"hi there")
    peer.start()
    run = guest(
        tmp_path,
        CONNECT.format(num="SYS_connect")
        + """
        mov     x0, x19
        adr     x1, local
        adr     x2, local_len
        SYSCALL SYS_getsockname
        RECORD
        mov     x0, x19
        adr     x1, remote
        adr     x2, remote_len
        SYSCALL SYS_getpeername
        RECORD
        mov     x0, x19
        adr     x1, msg
        mov     x2, #5
        mov     x3, #0
        mov     x4, #0
        mov     x5, #0
        SYSCALL SYS_sendto
        RECORD
        mov     x0, x19
        adr     x1, rbuf
        mov     x2, #8
        mov     x3, #0x40
        adr     x4, from
        adr     x5, from_len
        SYSCALL SYS_recvfrom
        RECORD
        mov     x0, x19
        mov     x1, #1
        SYSCALL SYS_shutdown
        RECORD
        mov     x0, x19
        mov     x1, #7
        SYSCALL SYS_shutdown
        RECORD
        mov     x0, x19
        adr     x1, rbuf2
        mov     x2, #8
        mov     x3, #0
        mov     x4, #0
        mov     x5, #0
        SYSCALL SYS_recvfrom_nocancel
        RECORD
    """,
        data=f"""
addr: {sockaddr(peer.port)}
local: .fill 16, 1, 0xee
remote: .fill 16, 1, 0xee
from: .fill 16, 1, 0xee
.p2align 2
local_len: .word 16
remote_len: .word 8
from_len: .word 16
msg: .ascii "hello"
rbuf: .zero 8
rbuf2: .fill 8, 1, 0xee
""",
    )
    peer.join(10)
    # the peer sent 8 bytes: MSG_WAITALL (0x40) reads them all; after shutdown(SHUT_WR) the
    # peer sees EOF and closes, so the last recv returns 0
    assert run.results == [ok(3), ok(0), ok(0), ok(0), ok(5), ok(8), ok(0), err(EINVAL), ok(0)]
    assert peer.received == b"hello"
    lport = peer.addr[1]
    assert run.read("local", 16) == struct.pack(">BBH4s8x", 16, 2, lport, socket.inet_aton("127.0.0.1"))
    assert (
        run.read("remote", 16) == struct.pack(">BBH4s", 16, 2, peer.port, socket.inet_aton("127.0.0.1")) + b"\xee" * 8
    )  # cut to *len = 8
    assert struct.unpack("<I", run.read("remote_len", 4))[0] == 8
    assert run.read("rbuf", 8) == b"hi there"
    assert run.read("from", 16) == b"\xee" * 16  # TCP returns no address...
    assert struct.unpack("<I", run.read("from_len", 4))[0] == 0  # ...and *fromlen = 0


@pytest.mark.timeout(30)
def test_connect_refused_and_not_connected(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: refused
        run = guest(
            tmp_path,
            CONNECT.format(num="SYS_connect_nocancel")
            + """
            mov     x0, x19
            adr     x1, remote
            adr     x2, remote_len
            SYSCALL SYS_getpeername
            RECORD
            mov     x0, #1
            adr     x1, remote
            adr     x2, remote_len
            SYSCALL SYS_getsockname
            RECORD
        """,
            data=f"addr: {sockaddr(port)}\nremote: .zero 16\n.p2align 2\nremote_len: .word 16\n",
        )
    assert run.results == [ok(3), err(ECONNREFUSED), err(ENOTCONN), err(ENOTSOCK)]


@pytest.mark.timeout(30)
def test_udp_sendto_and_recvfrom_give_the_sender_address(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as echo:
        echo.bind(("127.0.0.1", 0))
        echo.settimeout(10)
        port = echo.getsockname()[1]

        def bounce() -> None:
            data, who = echo.recvfrom(64)
            echo.sendto(data.upper(), who)

        t = threading.Thread(target=bounce, daemon=True)
        t.start()
        run = guest(
            tmp_path,
            """
            mov     x0, #AF_INET
            mov     x1, #SOCK_DGRAM
            mov     x2, #0
            SYSCALL SYS_socket
            mov     x19, x0
            mov     x0, x19
            adr     x1, msg
            mov     x2, #4
            mov     x3, #0
            adr     x4, addr
            mov     x5, #16
            SYSCALL SYS_sendto_nocancel
            RECORD
            mov     x0, x19
            adr     x1, rbuf
            mov     x2, #16
            mov     x3, #0
            adr     x4, from
            adr     x5, from_len
            SYSCALL SYS_recvfrom
            RECORD
        """,
            data=f"addr: {sockaddr(port)}\nfrom: .zero 16\n.p2align 2\nfrom_len: .word 16\n"
            'msg: .ascii "ping"\nrbuf: .zero 16\n',
        )
        t.join(10)
    assert run.results == [ok(4), ok(4)]
    assert run.read("rbuf", 4) == b"PING"
    assert run.read("from", 16) == struct.pack(">BBH4s8x", 16, 2, port, socket.inet_aton("127.0.0.1"))
    assert struct.unpack("<I", run.read("from_len", 4))[0] == 16


def getsockopt(level: str, name: str, val: str, length: str) -> str:
    return f"""
        mov     x0, x19
        ldr     x1, ={level}
        ldr     x2, ={name}
        adr     x3, {val}
        adr     x4, {length}
        SYSCALL SYS_getsockopt
        RECORD
"""


def test_getsockopt_values_are_darwin_shaped(tmp_path: Path) -> None:
    run = guest(
        tmp_path,
        """
        mov     x0, #AF_INET
        mov     x1, #SOCK_STREAM
        mov     x2, #0
        SYSCALL SYS_socket
        mov     x19, x0
        mov     x0, x19
        ldr     x1, =SOL_SOCKET
        mov     x2, #4
        adr     x3, one
        mov     x4, #4
        SYSCALL SYS_setsockopt
        RECORD
        mov     x0, x19
        ldr     x1, =SOL_SOCKET
        ldr     x2, =0x1006
        adr     x3, tv_in
        mov     x4, #16
        SYSCALL SYS_setsockopt
        RECORD
        mov     x0, x19
        ldr     x1, =SOL_SOCKET
        ldr     x2, =0x80
        adr     x3, linger_in
        mov     x4, #8
        SYSCALL SYS_setsockopt
        RECORD
    """
        + getsockopt("SOL_SOCKET", "0x4", "v_reuse", "l_reuse")
        + getsockopt("SOL_SOCKET", "0x1008", "v_type", "l_type")
        + getsockopt("SOL_SOCKET", "0x1006", "v_tv", "l_tv")
        + getsockopt("SOL_SOCKET", "0x1080", "v_linger", "l_linger")
        + getsockopt("SOL_SOCKET", "0x1007", "v_err", "l_err")
        + getsockopt("SOL_SOCKET", "0x1022", "v_nosig", "l_nosig")
        + getsockopt("SOL_SOCKET", "0x9999", "v_nosig", "l_nosig")
        + getsockopt("SOL_SOCKET", "0x4", "v_short", "l_short"),
        data="""
.p2align 3
tv_in: .quad 2
    .word 500000, 0
linger_in: .word 1, 250
one: .word 1
v_reuse: .word 0x5a5a5a5a
l_reuse: .word 4
v_type: .word 0
l_type: .word 4
.p2align 3
v_tv: .fill 16, 1, 0xee
l_tv: .word 16
v_linger: .zero 8
l_linger: .word 8
v_err: .word 0x5a
l_err: .word 4
v_nosig: .word 0x5a
l_nosig: .word 4
v_short: .word 0x5a5a5a5a
l_short: .word 2
""",
    )
    assert run.results == [ok()] * 3 + [ok()] * 6 + [err(ENOPROTOOPT), ok()]
    word = lambda label: struct.unpack("<i", run.read(label, 4))[0]  # noqa: E731
    assert word("v_reuse") == 4  # so_options & SO_REUSEADDR: the bit, not 1
    assert word("v_type") == 1  # SOCK_STREAM
    assert struct.unpack("<qi", run.read("v_tv", 12)) == (2, 500000)  # timeval, int32 usec
    assert struct.unpack("<ii", run.read("v_linger", 8)) == (1, 3)  # 250 ticks -> 3 s (SO_LINGER_SEC)
    assert word("v_err") == 0 and word("v_nosig") == 0
    assert run.read("v_short", 4) == b"\x04\x00\x5a\x5a" and word("l_short") == 2  # cut to *len


@pytest.mark.timeout(30)
def test_sendfile_sends_headers_file_and_trailers_and_writes_len(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    body = bytes(range(256)) * 40
    (root / "f").write_bytes(body)
    peer = Peer()
    peer.start()
    run = guest(
        tmp_path,
        CONNECT.format(num="SYS_connect")
        + """
        adr     x0, p_f
        mov     x1, #0
        mov     x2, #0
        SYSCALL SYS_open
        mov     x20, x0
        // whole file from offset 100 (len 0 = to EOF), with a header and a trailer
        mov     x0, x20
        mov     x1, x19
        mov     x2, #100
        adr     x3, len1
        adr     x4, hdtr
        mov     x5, #0
        SYSCALL SYS_sendfile
        RECORD
        // 10 bytes from offset 0, no hdtr
        mov     x0, x20
        mov     x1, x19
        mov     x2, #0
        adr     x3, len2
        mov     x4, #0
        mov     x5, #0
        SYSCALL SYS_sendfile
        RECORD
        // the socket as the file, the file as the socket, flags != 0
        mov     x0, x19
        mov     x1, x19
        mov     x2, #0
        adr     x3, len3
        mov     x4, #0
        mov     x5, #0
        SYSCALL SYS_sendfile
        RECORD
        mov     x0, x20
        mov     x1, x20
        mov     x2, #0
        adr     x3, len3
        mov     x4, #0
        mov     x5, #0
        SYSCALL SYS_sendfile
        RECORD
        mov     x0, x20
        mov     x1, x19
        mov     x2, #0
        adr     x3, len3
        mov     x4, #0
        mov     x5, #1
        SYSCALL SYS_sendfile
        RECORD
        mov     x0, x19
        SYSCALL SYS_close
    """,
        text='p_f: .asciz "/f"\n.p2align 2\n',
        data=f"""
addr: {sockaddr(peer.port)}
.p2align 3
len1: .quad 0
len2: .quad 10
len3: .quad 99
hdtr: .quad hdrs, 1, trls, 1
hdrs: .quad h_text, 4
trls: .quad t_text, 3
h_text: .ascii "HEAD"
t_text: .ascii "END"
""",
    )
    peer.join(10)
    assert run.results == [ok(3), ok(0), ok(0), ok(0), err(ENOTSUP), err(ENOTSOCK), err(EINVAL)]
    assert peer.received == b"HEAD" + body[100:] + b"END" + body[:10]
    assert run.u64("len1") == 4 + len(body) - 100 + 3  # headers and trailers count
    assert run.u64("len2") == 10
    assert run.u64("len3") == 0  # written back, even on failure
