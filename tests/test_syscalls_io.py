"""Descriptor and I/O syscalls as a Mac guest sees them: dup, dup2, pipe, fcntl,
ioctl, readv, writev, pread, pwrite, ftruncate, fsync, select, poll, and the
descriptor limit (EMFILE, getrlimit/setrlimit RLIMIT_NOFILE).

Expected values come from bsd/sys/fcntl.h, filio.h, poll.h and XNU's
kern_descrip.c/sys_generic.c as darwin-abi.md records them.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
from guest import GuestRun, err, ok, run_guest

# each test twice: the hot calls answered in C (emu/native/fastcalls.c), and all in Python
pytestmark = pytest.mark.usefixtures("syscall_path")

EBADF, EMFILE, EINVAL, ESPIPE, ENOTTY, EFAULT = 9, 24, 22, 29, 25, 14

ASM = """
.equ FIONBIO, 0x8004667e
.equ FIONREAD, 0x4004667f
.equ FIOCLEX, 0x20006601
.equ TIOCGWINSZ, 0x40087468
.equ O_RDWR, 2
.equ O_RDONLY, 0
"""


def guest(tmp_path: Path, body: str, text: str = "", data: str = "") -> GuestRun:
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    return run_guest(ASM + body, text=text, data=data, root=root, tmp=tmp_path)


OPEN_F = """
        adr     x0, p_f
        mov     x1, #O_RDWR
        mov     x2, #0
        SYSCALL SYS_open
        RECORD
        mov     x19, x0
"""
TEXT = 'p_f: .asciz "/f"\n.p2align 2\n'


def fcntl(fd: str, cmd: int, arg: str = "#0", num: str = "SYS_fcntl") -> str:
    load = f"mov     x2, {arg}" if arg.startswith("#") else f"adr     x2, {arg}"
    return (
        f"        mov     x0, {fd}\n        mov     x1, #{cmd}\n        {load}\n        SYSCALL {num}\n        RECORD\n"
    )


def test_dup_and_dup2_share_the_offset_and_take_exact_numbers(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "f").write_bytes(b"abcdef")
    run = guest(
        tmp_path,
        OPEN_F
        + """
        mov     x0, x19
        SYSCALL SYS_dup
        RECORD
        mov     x20, x0
        mov     x0, x19
        mov     x1, #9
        SYSCALL SYS_dup2
        RECORD
        mov     x0, x19
        adr     x1, buf
        mov     x2, #2
        SYSCALL SYS_read
        RECORD
        mov     x0, #9
        adr     x1, buf2
        mov     x2, #2
        SYSCALL SYS_read
        RECORD
        mov     x0, x19
        mov     x1, x19
        SYSCALL SYS_dup2
        RECORD
        mov     x0, #77
        mov     x1, #5
        SYSCALL SYS_dup2
        RECORD
        mov     x0, x19
        mov     x1, #256
        SYSCALL SYS_dup2
        RECORD
        mov     x0, x19
        SYSCALL SYS_close
        RECORD
        mov     x0, x20
        adr     x1, buf3
        mov     x2, #2
        SYSCALL SYS_read
        RECORD
        mov     x0, #1
        mov     x1, #9
        SYSCALL SYS_dup2
        RECORD
    """,
        text=TEXT,
        data="buf: .zero 8\nbuf2: .zero 8\nbuf3: .zero 8\n",
    )
    assert run.results == [ok(3), ok(4), ok(9), ok(2), ok(2), ok(3), err(EBADF), err(EBADF), ok(), ok(2), ok(9)]
    assert (run.read("buf", 2), run.read("buf2", 2), run.read("buf3", 2)) == (b"ab", b"cd", b"ef")
    assert run.machine.host.fds[9].kind == "stdio"  # dup2 over 9 closed the file there


def test_pipe_returns_both_fds_in_x0_x1_and_carries_bytes(tmp_path: Path) -> None:
    run = guest(
        tmp_path,
        """
        SYSCALL SYS_pipe
        RECORD
        mov     x19, x0
        mov     x20, x1
        mov     x0, x20
        adr     x1, msg
        mov     x2, #5
        SYSCALL SYS_write
        RECORD
        mov     x0, x19
        mov     x1, #FIONREAD & 0xffff
        movk    x1, #FIONREAD >> 16, lsl #16
        adr     x2, nread
        SYSCALL SYS_ioctl
        RECORD
        mov     x0, x19
        adr     x1, buf
        mov     x2, #16
        SYSCALL SYS_read
        RECORD
        mov     x0, x19
        mov     x1, #0
        mov     x2, #0
        mov     x3, #0
        SYSCALL SYS_pread
        RECORD
    """,
        text='msg: .ascii "hello"\n.p2align 2\n',
        data=".p2align 2\nnread: .word 0\nbuf: .zero 16\n",
    )
    assert run.results == [ok(3, 4), ok(5), ok(0), ok(5), err(ESPIPE)]  # pipe: x0 = read end, x1 = write end
    assert struct.unpack("<i", run.read("nread", 4))[0] == 5
    assert run.read("buf", 5) == b"hello"


def test_fcntl_commands(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "f").write_bytes(b"x")
    body = (
        OPEN_F
        + fcntl("x19", 1)
        + fcntl("x19", 2, "#1")
        + fcntl("x19", 1)
        + fcntl("x19", 3)
        + fcntl("x19", 4, "#0xc")
        + fcntl("x19", 3, num="SYS_fcntl_nocancel")
        + fcntl("x19", 0, "#10")
        + fcntl("x19", 67, "#10")
        + fcntl("#11", 1)
        + fcntl("x19", 0, "#-1")
        + fcntl("x19", 0, "#300")
        + fcntl("x19", 50, "pathbuf")
        + fcntl("#1", 50, "pathbuf2")
        + fcntl("x19", 73, "#1")
        + fcntl("x19", 74)
        + fcntl("x19", 48, "#1")
        + fcntl("x19", 51)
        + fcntl("x19", 7, "pathbuf2")
        + fcntl("#88", 1)
    )
    run = guest(tmp_path, body, text=TEXT, data="pathbuf: .fill 1024, 1, 0xee\npathbuf2: .fill 1024, 1, 0xee\n")
    assert run.results == [
        ok(3),
        ok(0),
        ok(0),
        ok(1),  # F_GETFD 0, F_SETFD FD_CLOEXEC, F_GETFD 1
        ok(2),  # F_GETFL: O_RDWR in Darwin bits
        ok(0),
        ok(0xE),  # F_SETFL O_NONBLOCK|O_APPEND -> F_GETFL O_RDWR|0x4|0x8
        ok(10),
        ok(11),
        ok(1),  # F_DUPFD from 10; F_DUPFD_CLOEXEC gets 11 with FD_CLOEXEC
        err(EINVAL),
        err(EINVAL),  # F_DUPFD below 0 or at/after the limit (256)
        ok(0),
        err(EBADF),  # F_GETPATH of a file; of a tty/pipe (not a vnode here)
        ok(0),
        ok(1),  # F_SETNOSIGPIPE, F_GETNOSIGPIPE
        ok(0),
        ok(0),  # F_NOCACHE, F_FULLFSYNC
        err(EINVAL),  # F_GETLK: locks are not emulated
        err(EBADF),
    ]
    assert run.read("pathbuf", 3) == b"/f\0"
    assert run.read("pathbuf", 4, 3) == b"\xee" * 4
    assert run.machine.host.fds[3].nosigpipe is True


def test_ioctl_fionbio_fionread_fioclex_and_enotty(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "f").write_bytes(b"0123456789")
    run = guest(
        tmp_path,
        OPEN_F
        + """
        mov     x0, x19
        ldr     x1, =FIONREAD
        adr     x2, word
        SYSCALL SYS_ioctl
        RECORD
        mov     x0, x19
        ldr     x1, =FIONBIO
        adr     x2, one
        SYSCALL SYS_ioctl
        RECORD
    """
        + fcntl("x19", 3)
        + """
        mov     x0, x19
        ldr     x1, =FIOCLEX
        mov     x2, #0
        SYSCALL SYS_ioctl
        RECORD
    """
        + fcntl("x19", 1)
        + """
        mov     x0, x19
        ldr     x1, =TIOCGWINSZ
        adr     x2, word
        SYSCALL SYS_ioctl
        RECORD
        mov     x0, x19
        ldr     x1, =0x12345678
        adr     x2, word
        SYSCALL SYS_ioctl
        RECORD
    """,
        text=TEXT,
        data=".p2align 2\nword: .word 0x5a5a5a5a\none: .word 1\n.zero 8\n",
    )
    assert run.results == [ok(3), ok(0), ok(0), ok(6), ok(0), ok(1), err(ENOTTY), err(ENOTTY)]
    assert struct.unpack("<i", run.read("word", 4))[0] == 10  # bytes left to read


def test_readv_writev_pread_pwrite_ftruncate_fsync(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "f").write_bytes(b"0123456789")
    run = guest(
        tmp_path,
        OPEN_F
        + """
        mov     x0, x19
        adr     x1, iov_in
        mov     x2, #2
        SYSCALL SYS_readv
        RECORD
        mov     x0, x19
        adr     x1, iov_out
        mov     x2, #2
        SYSCALL SYS_writev_nocancel
        RECORD
        mov     x0, x19
        adr     x1, pbuf
        mov     x2, #4
        mov     x3, #2
        SYSCALL SYS_pread
        RECORD
        mov     x0, x19
        adr     x1, msg
        mov     x2, #2
        mov     x3, #0
        SYSCALL SYS_pwrite_nocancel
        RECORD
        mov     x0, x19
        adr     x1, pbuf
        mov     x2, #4
        mov     x3, #-1
        SYSCALL SYS_pread_nocancel
        RECORD
        mov     x0, x19
        adr     x1, iov_in
        mov     x2, #0
        SYSCALL SYS_readv_nocancel
        RECORD
        mov     x0, x19
        adr     x1, iov_in
        mov     x2, #1025
        SYSCALL SYS_writev
        RECORD
        mov     x0, x19
        mov     x1, #12
        SYSCALL SYS_ftruncate
        RECORD
        mov     x0, x19
        mov     x1, #-1
        SYSCALL SYS_ftruncate
        RECORD
        mov     x0, x19
        SYSCALL SYS_fsync
        RECORD
        mov     x0, #1
        SYSCALL SYS_fsync_nocancel
        RECORD
    """,
        text=TEXT + 'msg: .ascii "ABCDEFG"\n.p2align 3\n',
        data="""
.p2align 3
iov_in: .quad a_buf, 3, b_buf, 4
iov_out: .quad out1, 2, out2, 3
a_buf: .fill 3, 1, 0xee
b_buf: .fill 8, 1, 0xee
pbuf: .fill 8, 1, 0xee
out1: .ascii "xy"
out2: .ascii "zw!"
""",
    )
    assert run.results == [
        ok(3),
        ok(7),
        ok(5),
        ok(4),
        ok(2),
        err(EINVAL),
        err(EINVAL),
        err(EINVAL),
        ok(),
        err(EINVAL),
        ok(),
        ok(),
    ]
    assert run.read("a_buf", 3) == b"012" and run.read("b_buf", 5) == b"3456\xee"
    assert run.read("pbuf", 4) == b"2345"
    # readv took 7 bytes, writev wrote 5 at offset 7, pwrite "AB" at 0, ftruncate to 12
    assert (root / "f").read_bytes() == b"AB23456xyzw!"


def test_select_and_poll_report_ready_descriptors(tmp_path: Path) -> None:
    run = guest(
        tmp_path,
        """
        SYSCALL SYS_pipe
        mov     x19, x0
        mov     x20, x1
        // read set {3}, write set {4}, zero timeout: only the write end is ready
        mov     x0, #5
        adr     x1, rset
        adr     x2, wset
        mov     x3, #0
        adr     x4, tv0
        SYSCALL SYS_select
        RECORD
        mov     x0, x20
        adr     x1, msg
        mov     x2, #1
        SYSCALL SYS_write
        mov     x0, #5
        adr     x1, rset2
        mov     x2, #0
        mov     x3, #0
        adr     x4, tv0
        SYSCALL SYS_select_nocancel
        RECORD
        // a descriptor that is not open is EBADF; a bad timeval EINVAL
        mov     x0, #10
        adr     x1, rset_bad
        mov     x2, #0
        mov     x3, #0
        adr     x4, tv0
        SYSCALL SYS_select
        RECORD
        mov     x0, #5
        adr     x1, rset2
        mov     x2, #0
        mov     x3, #0
        adr     x4, tv_bad
        SYSCALL SYS_select
        RECORD
        // select(0, ..., 10 ms) sleeps and returns 0
        mov     x0, #0
        mov     x1, #0
        mov     x2, #0
        mov     x3, #0
        adr     x4, tv10ms
        SYSCALL SYS_select
        RECORD
        adr     x0, pfds
        mov     x1, #4
        mov     x2, #0
        SYSCALL SYS_poll
        RECORD
        adr     x0, pfds
        mov     x1, #4
        mov     x2, #0
        SYSCALL SYS_poll_nocancel
        RECORD
    """,
        text='msg: .ascii "!"\n.p2align 2\n',
        data="""
.p2align 3
rset: .word 0x8
wset: .word 0x10
rset2: .word 0x8
rset_bad: .word 0x200
tv0: .quad 0, 0
tv_bad: .quad 0
    .word 1000000, 0
tv10ms: .quad 0
    .word 10000, 0
pfds:
    .word 3
    .short 0x41, 0x7777
    .word 4
    .short 0x4, 0x7777
    .word 99
    .short 0x1, 0x7777
    .word -1
    .short 0x1, 0x7777
""",
    )
    assert run.results == [ok(1), ok(1), err(EBADF), err(EINVAL), ok(0), ok(3), ok(3)]
    assert struct.unpack("<II", run.read("rset", 8)) == (0, 0x10)  # nothing to read yet; 4 writable
    assert struct.unpack("<I", run.read("rset2", 4))[0] == 0x8  # after the write, 3 is readable
    pfds = [struct.unpack_from("<ihh", run.read("pfds", 32), 8 * i) for i in range(4)]
    # POLLIN|POLLRDNORM asked and given; POLLOUT; POLLNVAL for a closed fd; a negative fd is skipped
    assert pfds == [(3, 0x41, 0x41), (4, 0x4, 0x4), (99, 0x1, 0x20), (-1, 0x1, 0)]


def test_descriptor_limit_is_rlimit_nofile_and_emfile(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "f").write_bytes(b"x")
    run = guest(
        tmp_path,
        """
        mov     x0, #8
        adr     x1, lim
        SYSCALL SYS_getrlimit
        RECORD
        mov     x0, #8
        adr     x1, lim5
        SYSCALL SYS_setrlimit
        RECORD
        mov     x0, #8
        adr     x1, lim_after
        SYSCALL SYS_getrlimit
        RECORD
    """
        + OPEN_F
        + OPEN_F
        + """
        mov     x0, #3
        SYSCALL SYS_dup
        RECORD
        SYSCALL SYS_pipe
        RECORD
        mov     x0, #3
        mov     x1, #5
        SYSCALL SYS_dup2
        RECORD
        mov     x0, #8
        adr     x1, lim_bad
        SYSCALL SYS_setrlimit
        RECORD
        mov     x0, #9
        adr     x1, lim
        SYSCALL SYS_getrlimit
        RECORD
    """,
        text=TEXT,
        data="""
.p2align 3
lim: .quad 0, 0
lim5: .quad 5, 0x7fffffffffffffff
lim_after: .quad 0, 0
lim_bad: .quad 10, 5
""",
    )
    assert run.results == [
        ok(),
        ok(),
        ok(),
        ok(3),
        ok(4),
        err(EMFILE),
        err(EMFILE),
        err(EBADF),
        err(EINVAL),
        err(EINVAL),
    ]
    # macOS's default: 256 soft, RLIM_INFINITY (2^63 - 1) hard
    assert struct.unpack("<QQ", run.read("lim", 16)) == (256, (1 << 63) - 1)
    assert struct.unpack("<QQ", run.read("lim_after", 16)) == (5, (1 << 63) - 1)
    assert sorted(run.machine.host.fds) == [0, 1, 2, 3, 4]
    for of in run.machine.host.fds.values():  # none of the guest's descriptors is the emulator's own
        assert of.fd > 2
    os.fstat(1)


def test_o_nonblock_is_the_open_files_and_shared_by_its_dups(tmp_path: Path) -> None:
    """A new pipe reads as blocking (the host end underneath always is non-blocking, and must not show);
    O_NONBLOCK set through one descriptor shows through its dup (one open file); an empty
    non-blocking pipe is EAGAIN (35); FD_CLOEXEC stays per descriptor."""
    EAGAIN = 35
    run = guest(
        tmp_path,
        """
        adr     x0, scratch
        SYSCALL SYS_pipe
        mov     x19, x0
        mov     x0, x19
        SYSCALL SYS_dup
        mov     x20, x0
    """
        + fcntl("x19", 3)
        + fcntl("x19", 4, "#4")
        + fcntl("x20", 3)
        + fcntl("x19", 2, "#1")
        + fcntl("x20", 1)
        + """
        mov     x0, x20
        adr     x1, scratch
        mov     x2, #8
        SYSCALL SYS_read
        RECORD
    """,
    )
    assert run.results == [ok(0), ok(0), ok(4), ok(0), ok(0), err(EAGAIN)]
