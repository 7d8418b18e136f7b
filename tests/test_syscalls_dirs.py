"""Directory and *at() syscalls as a Mac guest sees them.

mkdir/rmdir/unlink/link/rename and their *at twins, chdir/fchdir, access,
openat/fstatat64 with AT_FDCWD (-2) and directory descriptors, and
getdirentries64: 8-byte-rounded records (DIRENT64_LEN = (n + 32) & ~7),
*basep = the offset before the call, 0 bytes at the end, the EOF flag word
in the last 4 bytes of a buffer of 1024 bytes or more (darwin-abi.md 3.3).
Expected values are written from XNU, never taken from syscalls/.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from guest import GuestRun, err, ok, run_guest

ENOENT, EPERM, EBADF, EEXIST, ENOTDIR, EISDIR, EINVAL, ENOTEMPTY = 2, 1, 9, 17, 20, 21, 22, 66
ELOOP = 62

ASM = """
.equ O_RDONLY, 0
.equ O_DIRECTORY, 0x100000
.equ AT_FDCWD, -2
.equ AT_SYMLINK_NOFOLLOW, 0x20
.equ AT_REMOVEDIR, 0x80
.equ AT_SYMLINK_NOFOLLOW_ANY, 0x800
.equ RENAME_SWAP, 0x2
.equ RENAME_EXCL, 0x4
.equ RENAME_NOFOLLOW_ANY, 0x10
"""


def guest(tmp_path: Path, body: str, text: str = "", data: str = "") -> GuestRun:
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    return run_guest(ASM + body, text=text, data=data, root=root, tmp=tmp_path)


def paths(**named: str) -> str:
    return "\n".join(f'{k}: .asciz "{v}"' for k, v in named.items()) + "\n.p2align 2\n"


def c1(num: str, a: str) -> str:
    return f"        adr     x0, {a}\n        SYSCALL {num}\n        RECORD\n"


def c2(num: str, a: str, b: str) -> str:
    load_b = f"adr     x1, {b}" if not b.startswith("#") else f"mov     x1, {b}"
    return f"        adr     x0, {a}\n        {load_b}\n        SYSCALL {num}\n        RECORD\n"


def test_mkdir_rmdir_unlink_link_rename(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "f").write_bytes(b"data")
    run = guest(
        tmp_path,
        c2("SYS_mkdir", "p_d", "#0750")
        + c2("SYS_mkdir", "p_d", "#0750")
        + c2("SYS_link", "p_f", "p_hard")
        + c2("SYS_link", "p_d", "p_hard2")
        + c2("SYS_rename", "p_hard", "p_d_moved")
        + c1("SYS_unlink", "p_d")
        + c1("SYS_rmdir", "p_d")
        + c1("SYS_unlink", "p_d_moved")
        + c1("SYS_rmdir", "p_d")
        + c1("SYS_rmdir", "p_d")
        + c1("SYS_unlink", "p_none")
        + c2("SYS_mkdir", "p_root", "#0755")
        + c2("SYS_mkdir", "p_slash", "#0755")
        + c1("SYS_rmdir", "p_f"),
        text=paths(
            p_d="/d",
            p_f="/f",
            p_hard="/hard",
            p_hard2="/hard2",
            p_d_moved="/d/moved",
            p_none="/none",
            p_root="/",
            p_slash="/e/",
        ),
    )
    assert run.results == [
        ok(),
        err(EEXIST),  # mkdir, twice
        ok(),
        err(EPERM),  # link a file; a directory cannot be hard-linked
        ok(),  # rename into the directory
        err(EPERM),  # unlink of a directory is EPERM on Darwin (EISDIR on Linux)
        err(ENOTEMPTY),
        ok(),
        ok(),  # rmdir of a non-empty dir, then empty it, then rmdir
        err(ENOENT),
        err(ENOENT),  # gone
        err(EISDIR),  # mkdir("/"): a degenerate name cannot be created
        ok(),  # mkdir("e/") with its trailing slash
        err(ENOTDIR),  # rmdir of a file
    ]
    assert (root / "f").read_bytes() == b"data" and os.stat(root / "f").st_nlink == 1
    assert (root / "e").is_dir() and not (root / "d").exists()


def test_chdir_and_fchdir_move_relative_paths(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "f").write_bytes(b"x")
    run = guest(
        tmp_path,
        c1("SYS_chdir", "p_ab")
        + c2("SYS_access", "p_f", "#4")
        + c1("SYS_chdir", "p_up")
        + c2("SYS_access", "p_bf", "#0")
        + c1("SYS_chdir", "p_f_abs")
        + c1("SYS_chdir", "p_none")
        + """
        adr     x0, p_root
        mov     x1, #O_RDONLY
        mov     x2, #0
        SYSCALL SYS_open
        RECORD
        mov     x19, x0
        mov     x0, x19
        SYSCALL SYS_fchdir
        RECORD
    """
        + c2("SYS_access", "p_abf", "#4")
        + """
        mov     x0, #1
        SYSCALL SYS_fchdir
        RECORD
        mov     x0, #77
        SYSCALL SYS_fchdir
        RECORD
    """,
        text=paths(
            p_ab="/a/b", p_f="f", p_up="..", p_bf="b/f", p_f_abs="/a/b/f", p_none="/nope", p_root="/", p_abf="a/b/f"
        ),
    )
    assert run.results == [
        ok(),
        ok(),
        ok(),
        ok(),
        err(ENOTDIR),
        err(ENOENT),
        ok(3),
        ok(),
        ok(),
        err(ENOTDIR),
        err(EBADF),
    ]
    assert run.machine.host.cwd == []


def test_access_modes_and_errors(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "f").write_bytes(b"x")
    run = guest(
        tmp_path,
        c2("SYS_access", "p_f", "#0")
        + c2("SYS_access", "p_f", "#6")
        + c2("SYS_access", "p_none", "#0")
        + c2("SYS_access", "p_f", "#8")
        + c2("SYS_access", "p_under", "#0"),
        text=paths(p_f="/f", p_none="/none", p_under="/f/x"),
    )
    assert run.results == [ok(), ok(), err(ENOENT), err(EINVAL), err(ENOTDIR)]


def test_openat_fstatat64_with_at_fdcwd_and_a_directory_descriptor(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "d").mkdir(parents=True)
    (root / "d" / "f").write_bytes(b"12345")
    os.symlink("f", root / "d" / "lf")
    run = guest(
        tmp_path,
        """
        mov     x0, #AT_FDCWD
        adr     x1, p_d
        ldr     x2, =O_DIRECTORY
        mov     x3, #0
        SYSCALL SYS_openat
        RECORD
        mov     x19, x0
        mov     x0, x19
        adr     x1, p_f
        mov     x2, #O_RDONLY
        mov     x3, #0
        SYSCALL SYS_openat_nocancel
        RECORD
        mov     x0, x19
        adr     x1, p_lf
        adr     x2, st1
        mov     x3, #0
        SYSCALL SYS_fstatat64
        RECORD
        mov     x0, x19
        adr     x1, p_lf
        adr     x2, st2
        mov     x3, #AT_SYMLINK_NOFOLLOW
        SYSCALL SYS_fstatat64
        RECORD
        mov     x0, x19
        adr     x1, p_lf
        adr     x2, st2
        mov     x3, #AT_SYMLINK_NOFOLLOW_ANY
        SYSCALL SYS_fstatat64
        RECORD
        mov     x0, x19
        adr     x1, p_f
        adr     x2, st2
        mov     x3, #1
        SYSCALL SYS_fstatat64
        RECORD
        mov     x0, #20
        adr     x1, p_f
        adr     x2, st2
        mov     x3, #0
        SYSCALL SYS_fstatat64
        RECORD
        mov     x0, #20
        adr     x1, p_abs
        adr     x2, st2
        mov     x3, #0
        SYSCALL SYS_fstatat64
        RECORD
        mov     x0, #1
        adr     x1, p_f
        mov     x2, #O_RDONLY
        mov     x3, #0
        SYSCALL SYS_openat
        RECORD
    """,
        text=paths(p_d="/d", p_f="f", p_lf="lf", p_abs="/d/f"),
        data=".p2align 3\nst1: .zero 144\nst2: .zero 144\n",
    )
    assert run.results == [ok(3), ok(4), ok(0), ok(0), err(ELOOP), err(EINVAL), err(EBADF), ok(0), err(ENOTDIR)]
    size1 = struct.unpack_from("<q", run.read("st1", 144), 96)[0]
    mode2 = struct.unpack_from("<H", run.read("st2", 144), 4)[0]
    assert size1 == 5  # followed to f
    assert struct.unpack_from("<q", run.read("st2", 144), 96)[0] == 5  # the last (absolute) call: /d/f
    assert mode2 & 0o170000 == 0o100000


def test_renameat_unlinkat_mkdirat(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "d").mkdir(parents=True)
    (root / "d" / "f").write_bytes(b"x")
    run = guest(
        tmp_path,
        """
        adr     x0, p_d
        ldr     x1, =O_DIRECTORY
        mov     x2, #0
        SYSCALL SYS_open
        mov     x19, x0
        mov     x0, x19
        adr     x1, p_sub
        mov     x2, #0755
        SYSCALL SYS_mkdirat
        RECORD
        mov     x0, x19
        adr     x1, p_f
        mov     x2, #AT_FDCWD
        adr     x3, p_g_abs
        SYSCALL SYS_renameat
        RECORD
        mov     x0, #AT_FDCWD
        adr     x1, p_g_abs
        mov     x2, #0
        SYSCALL SYS_unlinkat
        RECORD
        mov     x0, x19
        adr     x1, p_sub
        mov     x2, #0
        SYSCALL SYS_unlinkat
        RECORD
        mov     x0, x19
        adr     x1, p_sub
        mov     x2, #AT_REMOVEDIR
        SYSCALL SYS_unlinkat
        RECORD
        mov     x0, x19
        adr     x1, p_sub
        mov     x2, #1
        SYSCALL SYS_unlinkat
        RECORD
    """,
        text=paths(p_d="/d", p_sub="sub", p_f="f", p_g_abs="/g"),
    )
    assert run.results == [ok(), ok(), ok(), err(EPERM), ok(), err(EINVAL)]
    assert sorted(os.listdir(root)) == ["d"] and os.listdir(root / "d") == []


def _records(raw: bytes) -> list[tuple[int, int, int, int, int, str]]:
    out, at = [], 0
    while at < len(raw):
        ino, seek, reclen, namlen, dtype = struct.unpack_from("<QQHHB", raw, at)
        name = raw[at + 21 : at + 21 + namlen]
        assert raw[at + 21 + namlen] == 0  # NUL-terminated
        out.append((ino, seek, reclen, namlen, dtype, name.decode()))
        at += reclen
    return out


GETDIRENTRIES = """
        mov     x0, x19
        adr     x1, {buf}
        mov     x2, #{size}
        adr     x3, {base}
        SYSCALL SYS_getdirentries64
        RECORD
"""


def test_getdirentries64_records_basep_end_and_eof_flag(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "dir").mkdir(parents=True)
    names = ["a", "bbbbbbb", "cccccccc", "d" * 24, "sub"]
    for n in names[:-1]:
        (root / "dir" / n).write_bytes(b"x")
    (root / "dir" / "sub").mkdir()
    run = guest(
        tmp_path,
        """
        adr     x0, p_dir
        ldr     x1, =O_DIRECTORY
        mov     x2, #0
        SYSCALL SYS_open
        RECORD
        mov     x19, x0
    """
        + GETDIRENTRIES.format(buf="big", size=2048, base="base1")
        + GETDIRENTRIES.format(buf="big2", size=2048, base="base2")
        + """
        mov     x0, x19
        mov     x1, #0
        mov     x2, #0
        SYSCALL SYS_lseek
        RECORD
    """
        + GETDIRENTRIES.format(buf="small", size=100, base="base3")
        + GETDIRENTRIES.format(buf="tiny", size=16, base="base4"),
        text=paths(p_dir="/dir"),
        data=".p2align 3\nbig: .fill 2048, 1, 0xee\nbig2: .fill 2048, 1, 0xee\nsmall: .fill 100, 1, 0xee\n"
        "tiny: .fill 16, 1, 0xee\nbase1: .quad 77\nbase2: .quad 77\nbase3: .quad 77\nbase4: .quad 77\n",
    )
    total = sum((len(n) + 32) & ~7 for n in [".", ".."] + names)
    assert run.results[:3] == [ok(3), ok(total), ok(0)]  # everything, then 0 at the end
    recs = _records(run.read("big", total))
    assert [r[5] for r in recs] == [".", ".."] + names
    assert [r[2] for r in recs] == [32, 32, 32, 32, 40, 56, 32]  # (namlen + 32) & ~7
    assert [r[4] for r in recs] == [4, 4, 8, 8, 8, 8, 4]  # DT_DIR, DT_REG
    assert recs[0][0] == os.stat(root / "dir").st_ino and recs[1][0] == os.stat(root).st_ino
    assert recs[2][0] == os.stat(root / "dir" / "a").st_ino
    assert run.read("big", 4, 2044) == struct.pack("<I", 1)  # GETDIRENTRIES64_EOF, last 4 bytes
    assert run.read("big", 2044 - total, total) == b"\xee" * (2044 - total)
    assert run.read("big2", 4, 2044) == struct.pack("<I", 1)  # also set when nothing is returned
    assert run.u64("base1") == 0 and run.u64("base2") == 7  # the offset *before* each call
    # after a rewind, a 100-byte buffer (< 1024: no flag word) holds only what fits whole
    assert run.results[3] == ok(0)
    assert run.results[4] == ok(96)  # 32 + 32 + 32, the next would not fit
    assert [r[5] for r in _records(run.read("small", 96))] == [".", "..", "a"]
    assert run.read("small", 4, 96) == b"\xee" * 4
    assert run.results[5] == err(EINVAL)  # not even one record fits
    assert run.u64("base3") == 0 and run.u64("base4") == 77


def test_getdirentries64_on_a_file_or_bad_fd(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "f").write_bytes(b"x")
    run = guest(
        tmp_path,
        """
        adr     x0, p_f
        mov     x1, #0
        mov     x2, #0
        SYSCALL SYS_open
        mov     x19, x0
    """
        + GETDIRENTRIES.format(buf="buf", size=1024, base="base")
        + """
        mov     x19, #50
    """
        + GETDIRENTRIES.format(buf="buf", size=1024, base="base"),
        text=paths(p_f="/f"),
        data=".p2align 3\nbuf: .zero 1024\nbase: .quad 0\n",
    )
    assert run.results == [err(EINVAL), err(EBADF)]


def renamex(a: str, b: str, flags: str) -> str:
    return (
        f"        mov     x0, #AT_FDCWD\n        adr     x1, {a}\n        mov     x2, #AT_FDCWD\n"
        f"        adr     x3, {b}\n        mov     x4, #{flags}\n"
        "        SYSCALL SYS_renameatx_np\n        RECORD\n"
    )


def test_renameatx_np_excl_refuses_an_existing_target_and_swap_exchanges(tmp_path: Path) -> None:
    """renameatx_np(2): RENAME_EXCL is EEXIST on an existing target and leaves both files;
    RENAME_SWAP exchanges two names atomically; both at once, or an unknown bit, is EINVAL;
    RENAME_SWAP with a missing side is ENOENT; RENAME_NOFOLLOW_ANY refuses a symlinked folder."""
    root = tmp_path / "root"
    (root / "d").mkdir(parents=True)
    (root / "a").write_bytes(b"A")
    (root / "b").write_bytes(b"B")
    (root / "d" / "x").write_bytes(b"X")
    (root / "link").symlink_to("d")
    run = guest(
        tmp_path,
        renamex("p_a", "p_b", "RENAME_EXCL")
        + renamex("p_a", "p_b", "RENAME_SWAP")
        + renamex("p_a", "p_b", "RENAME_SWAP|RENAME_EXCL")
        + renamex("p_a", "p_b", "0x20")
        + renamex("p_a", "p_none", "RENAME_SWAP")
        + renamex("p_linked", "p_y", "RENAME_NOFOLLOW_ANY")
        + renamex("p_a", "p_c", "RENAME_EXCL"),
        text=paths(p_a="/a", p_b="b", p_c="c", p_none="none", p_linked="/link/x", p_y="y"),
    )
    assert run.results == [err(EEXIST), ok(), err(EINVAL), err(EINVAL), err(ENOENT), err(ELOOP), ok()]
    assert (root / "b").read_bytes() == b"A" and (root / "c").read_bytes() == b"B"
    assert not (root / "a").exists() and (root / "d" / "x").read_bytes() == b"X"
