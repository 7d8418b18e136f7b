"""The table's argument kinds as a trace shows them: every call is shown by its row alone.

Each test writes what a call would have left in guest memory, then asks the
strace printer (emu/trace_sys.py), which names no call, to show it.
"""

from __future__ import annotations

import socket
import struct

from fakemem import FakeMem

from emu.trace_sys import SyscallDecoder
from syscalls.structs import STAT64, TIMEVAL, pack_sockaddr
from syscalls.table import NUMBER

BASE = 0x1000


def shown(name: str, regs: list[int], mem: FakeMem, x0: int = 0, carry: bool = False) -> str:
    d = SyscallDecoder(mem, bytes_shown=8)
    rec = d.enter(NUMBER[name], regs + [0] * (8 - len(regs)))
    d.leave(rec, x0, 0, carry)
    return rec.text()


def test_an_out_buffer_shows_as_many_bytes_as_the_call_returned() -> None:
    mem = FakeMem(BASE, 64)
    mem.write(BASE, b"hello, world")
    assert shown("pread", [3, BASE, 64, 0], mem, x0=5) == 'pread(3, "hello", 64, 0) = 5'
    assert shown("read", [3, BASE, 64], mem, x0=12) == 'read(3, "hello, w"..., 64) = 12'  # 8 bytes shown
    assert shown("read", [3, BASE, 64], mem, x0=35, carry=True) == f"read(3, {BASE:#x}, 64) = -1 EAGAIN"
    # getentropy returns 0: its buffer is as long as asked
    assert shown("getentropy", [BASE, 4], mem) == 'getentropy("hell", 4) = 0'


def test_a_struct_out_shows_its_named_fields_on_success_only() -> None:
    mem = FakeMem(BASE, 256)
    mem.write(BASE, TIMEVAL.pack(1700000000, 25))
    assert shown("gettimeofday", [BASE, 0, 0], mem) == "gettimeofday({tv_sec=1700000000, tv_usec=25}, NULL, NULL) = 0"
    st = [0] * len(STAT64.names)
    fields = dict(zip(STAT64.names, st, strict=True)) | {"st_mode": 0o100644, "st_size": 14, "st_ino": 7}
    mem.write(BASE, STAT64.pack(*fields.values()))
    assert shown("fstat64", [3, BASE], mem) == "fstat64(3, {st_mode=S_IFREG|0644, st_size=14, st_ino=7, ...}) = 0"
    assert shown("fstat64", [3, BASE], mem, x0=9, carry=True) == f"fstat64(3, {BASE:#x}) = -1 EBADF"


def test_a_peer_address_and_its_length_show_after_the_call() -> None:
    mem = FakeMem(BASE, 64)
    addr = pack_sockaddr(socket.AF_INET, ("127.0.0.1", 8080))  # Darwin's layout, with sin_len
    mem.write(BASE, addr)
    mem.write(BASE + 32, struct.pack("<I", len(addr)))
    want = "{sin_len=16, AF_INET, 127.0.0.1:8080}, [16]"
    assert shown("accept", [3, BASE, BASE + 32], mem, x0=4) == f"accept(3, {want}) = 4"
    assert shown("getpeername", [4, BASE, BASE + 32], mem) == f"getpeername(4, {want}) = 0"


def test_integers_with_names_show_their_names() -> None:
    mem = FakeMem(BASE, 16)
    mem.write(BASE, struct.pack("<i", 1))
    assert shown("socket", [2, 1, 0], mem, x0=3) == "socket(AF_INET, SOCK_STREAM, 0) = 3"
    assert shown("setsockopt", [3, 0xFFFF, 4, BASE, 4], mem) == "setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0"
    assert shown("kill", [501, 15, 0], mem) == "kill(501, SIGTERM, 0) = 0"
    assert shown("lseek", [3, 0, 2], mem, x0=99) == "lseek(3, 0, SEEK_END) = 99"
    assert shown("umask", [0o77], mem, x0=0o22) == "umask(077) = 18"


def test_wait_status_and_sendfile_length_are_read_back() -> None:
    mem = FakeMem(BASE, 16)
    mem.write(BASE, struct.pack("<i", 3 << 8))
    assert shown("wait4", [-1 & (2**64 - 1), BASE, 1, 0], mem, x0=501) == "wait4(-1, [exited 3], WNOHANG, NULL) = 501"
    mem.write(BASE + 8, struct.pack("<q", 4096))
    # *len is written back even when sendfile fails part-way (EAGAIN on a full socket)
    assert shown("sendfile", [5, 4, 0, BASE + 8, 0, 0], mem, x0=35, carry=True) == (
        "sendfile(5, 4, 0, [4096], NULL, 0) = -1 EAGAIN"
    )


def test_a_known_call_without_a_handler_shows_its_arguments_and_an_unknown_number_its_registers() -> None:
    mem = FakeMem(BASE, 16)
    mem.write(BASE, b"/l\0")
    assert shown("readlink", [BASE, BASE + 8, 8], mem, x0=78, carry=True) == (
        f'readlink("/l", {BASE + 8:#x}, 8) = -1 ENOSYS'
    )
    d = SyscallDecoder(mem)
    assert d.enter(501, [1, 2, 3, 4, 0, 0, 0, 0]).text() == "syscall_501(0x1, 0x2, 0x3) = ?"
