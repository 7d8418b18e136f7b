"""Time, identity and machine facts as a Mac guest sees them: gettimeofday,
sysctl, getentropy, getrusage, getuid/geteuid/getgid/getegid, getrlimit.

Darwin shapes from darwin-abi.md: timeval = int64 tv_sec (cast through
uint32 by the kernel) + int32 tv_usec; sysctl copies what fits and says
ENOMEM, and with old = NULL reports the size it needs; kern.ostype is
"Darwin", hw.pagesize 16384; getentropy refuses more than 256 bytes.
"""

from __future__ import annotations

import os
import struct
import time
from pathlib import Path

import pytest
from guest import GuestRun, err, ok, run_guest

# each test twice: the hot calls answered in C (emu/native/fastcalls.c), and all in Python
pytestmark = pytest.mark.usefixtures("syscall_path")

EINVAL, ENOMEM, ENOENT = 22, 12, 2

ASM = """
"""


def guest(tmp_path: Path, body: str, data: str = "") -> GuestRun:
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    return run_guest(ASM + body, data=data, root=root, tmp=tmp_path)


def test_gettimeofday_writes_darwin_timeval_timezone_and_mach_time(tmp_path: Path) -> None:
    before = time.time()
    run = guest(
        tmp_path,
        """
        adr     x0, tv
        adr     x1, tz
        adr     x2, abs
        SYSCALL SYS_gettimeofday
        RECORD
        adr     x0, tv2
        mov     x1, #0
        mov     x2, #0
        SYSCALL SYS_gettimeofday
        RECORD
        mov     x0, #16
        mov     x1, #0
        mov     x2, #0
        SYSCALL SYS_gettimeofday
        RECORD
    """,
        data=".p2align 3\ntv: .fill 16, 1, 0xee\ntz: .fill 8, 1, 0xee\nabs: .quad 0\ntv2: .fill 16, 1, 0xee\n",
    )
    after = time.time()
    assert run.results == [ok(), ok(), err(14)]
    sec, usec, pad = struct.unpack("<qiI", run.read("tv", 16))
    assert int(before) & 0xFFFFFFFF <= sec <= int(after) & 0xFFFFFFFF  # uint32-cast tv_sec
    assert 0 <= usec < 1_000_000
    assert pad == 0  # the whole 16-byte user64_timeval is copied out
    assert run.read("tz", 8) == b"\0" * 8
    assert run.u64("abs") > 0


def test_sysctl_answers_like_a_mac(tmp_path: Path) -> None:
    def sysctl(mib: str, old: str, oldlen: str, new: str = "#0", newlen: int = 0) -> str:
        o = f"adr     x2, {old}" if old else "mov     x2, #0"
        n = f"adr     x4, {new}" if not new.startswith("#") else "mov     x4, #0"
        return f"""
        adr     x0, {mib}
        mov     x1, #2
        {o}
        adr     x3, {oldlen}
        {n}
        mov     x5, #{newlen}
        SYSCALL SYS_sysctl
        RECORD
"""

    run = guest(
        tmp_path,
        sysctl("m_ostype", "b1", "l1")
        + sysctl("m_osrel", "b2", "l2")
        + sysctl("m_ncpu", "b3", "l3")
        + sysctl("m_page", "b4", "l4")
        + sysctl("m_ostype", "", "l5")
        + sysctl("m_ostype", "b6", "l6")
        + sysctl("m_bad", "b1", "l1")
        + sysctl("m_n2o", "b7", "l7", new="name", newlen=11),
        data="""
.p2align 2
m_ostype: .word 1, 1
m_osrel: .word 1, 2
m_ncpu: .word 6, 3
m_page: .word 6, 7
m_bad: .word 1, 9999
m_n2o: .word 0, 3
name: .ascii "hw.pagesize"
.p2align 3
b1: .fill 32, 1, 0xee
b2: .fill 32, 1, 0xee
b3: .fill 8, 1, 0xee
b4: .fill 8, 1, 0xee
b6: .fill 8, 1, 0xee
b7: .fill 16, 1, 0xee
l1: .quad 32
l2: .quad 32
l3: .quad 4
l4: .quad 4
l5: .quad 0
l6: .quad 3
l7: .quad 16
""",
    )
    assert run.results == [ok()] * 5 + [err(ENOMEM), err(ENOENT), ok()]
    assert run.read("b1", 7) == b"Darwin\0" and run.u64("l1") == 7
    rel = run.read("b2", 32).split(b"\0")[0].decode()
    assert run.u64("l2") == len(rel) + 1 and rel.count(".") == 2 and int(rel.split(".")[0]) >= 20
    assert struct.unpack("<i", run.read("b3", 4))[0] == os.cpu_count() and run.u64("l3") == 4
    assert struct.unpack("<i", run.read("b4", 4))[0] == 16384
    assert run.u64("l5") == 7  # old == NULL: the size it needs
    assert run.read("b6", 4) == b"Dar\xee" and run.u64("l6") == 3  # what fits, then ENOMEM
    assert struct.unpack("<ii", run.read("b7", 8)) == (6, 7) and run.u64("l7") == 8  # name2oid


def test_getentropy_fills_up_to_256_bytes(tmp_path: Path) -> None:
    run = guest(
        tmp_path,
        """
        adr     x0, buf
        mov     x1, #256
        SYSCALL SYS_getentropy
        RECORD
        adr     x0, buf2
        mov     x1, #257
        SYSCALL SYS_getentropy
        RECORD
    """,
        data="buf: .zero 256\nbuf2: .fill 8, 1, 0xee\n",
    )
    assert run.results == [ok(), err(EINVAL)]
    assert len(set(run.read("buf", 256))) > 100
    assert run.read("buf2", 8) == b"\xee" * 8


def test_ids_rusage_and_rlimits(tmp_path: Path) -> None:
    run = guest(
        tmp_path,
        """
        SYSCALL SYS_getuid
        RECORD
        SYSCALL SYS_geteuid
        RECORD
        SYSCALL SYS_getgid
        RECORD
        SYSCALL SYS_getegid
        RECORD
        mov     x0, #0
        adr     x1, ru
        SYSCALL SYS_getrusage
        RECORD
        mov     x0, #-1
        adr     x1, ru2
        SYSCALL SYS_getrusage
        RECORD
        mov     x0, #5
        adr     x1, ru2
        SYSCALL SYS_getrusage
        RECORD
        mov     x0, #3
        adr     x1, lim
        SYSCALL SYS_getrlimit
        RECORD
        mov     x0, #0x1008
        adr     x1, lim2
        SYSCALL SYS_getrlimit
        RECORD
    """,
        data=".p2align 3\nru: .fill 144, 1, 0xee\nru2: .fill 144, 1, 0xee\nlim: .zero 16\nlim2: .zero 16\n",
    )
    assert run.results == [
        ok(os.getuid()),
        ok(os.geteuid()),
        ok(os.getgid()),
        ok(os.getegid()),
        ok(),
        ok(),
        err(EINVAL),
        ok(),
        ok(),
    ]
    ru = run.read("ru", 144)
    utime_s, utime_us = struct.unpack_from("<qi", ru, 0)
    maxrss = struct.unpack_from("<q", ru, 32)[0]
    assert 0 <= utime_us < 1_000_000 and utime_s >= 0
    assert maxrss > 1 << 20  # bytes on Darwin (KiB on Linux)
    soft, hard = struct.unpack("<QQ", run.read("lim", 16))
    assert 0 < soft <= hard <= (1 << 63) - 1  # RLIMIT_STACK, infinity clamped
    assert struct.unpack("<QQ", run.read("lim2", 16)) == (256, (1 << 63) - 1)  # _RLIMIT_POSIX_FLAG masked
