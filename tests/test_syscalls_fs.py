"""File syscalls as a Mac guest sees them: read, write, open, close, lseek, stat64 and kin.

Every test runs a small guest (tests/guest.py) against a fresh root folder and
checks what Darwin defines: x0/x1 and the carry flag after each trap
(darwin-abi.md 1.1), the bytes copied into guest memory (struct stat64 at its
Darwin offsets, 3.1), and the files left on disk.  Expected numbers are
written out here from darwin-abi.md and XNU, never taken from syscalls/.
"""

from __future__ import annotations

import os
import socket
import stat
import struct
from pathlib import Path

import pytest
from guest import GuestRun, err, ok, run_guest

# each test twice: the hot calls answered in C (emu/native/fastcalls.c), and all in Python
pytestmark = pytest.mark.usefixtures("syscall_path")

# Darwin values (bsd/sys/errno.h, bsd/sys/fcntl.h, darwin-abi.md 4.1 / 4.2)
ENOENT, EBADF, EFAULT, EEXIST, ENOTDIR, EISDIR, EINVAL, ESPIPE, ELOOP = 2, 9, 14, 17, 20, 21, 22, 29, 62

ASM = """
.equ O_RDONLY, 0x0
.equ O_WRONLY, 0x1
.equ O_RDWR, 0x2
.equ O_APPEND, 0x8
.equ O_NOFOLLOW, 0x100
.equ O_CREAT, 0x200
.equ O_TRUNC, 0x400
.equ O_EXCL, 0x800
.equ O_DIRECTORY, 0x100000
.equ O_NOFOLLOW_ANY, 0x20000000
.equ SEEK_SET, 0
.equ SEEK_CUR, 1
.equ SEEK_END, 2
"""


def guest(tmp_path: Path, body: str, text: str = "", data: str = "", bss: str = "") -> GuestRun:
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    return run_guest(ASM + body, text=text, data=data, bss=bss, root=root, tmp=tmp_path)


def paths(**named: str) -> str:
    """Read-only NUL-terminated strings for the guest's text."""
    return "\n".join(f'{label}: .asciz "{value}"' for label, value in named.items()) + "\n.p2align 2\n"


def open_call(path_label: str, flags: str, mode: int = 0, num: str = "SYS_open") -> str:
    flags_load = f"ldr     x1, ={flags}" if flags != "O_RDONLY" else "mov     x1, #O_RDONLY"
    return f"""
        adr     x0, {path_label}
        {flags_load}
        mov     x2, #{mode}
        SYSCALL {num}
        RECORD
"""


# --------------------------------------------------------------------- read / write


def test_read_copies_file_bytes_into_guest_memory_and_returns_the_count(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "hello.txt").write_bytes(b"hello, world\n")
    run = guest(
        tmp_path,
        open_call("p_hello", "O_RDONLY")
        + """
        mov     x19, x0
        mov     x0, x19
        adr     x1, buf
        mov     x2, #64
        SYSCALL SYS_read
        RECORD
        mov     x0, x19
        adr     x1, buf2
        mov     x2, #64
        SYSCALL SYS_read
        RECORD
        mov     x0, x19
        SYSCALL SYS_close
        RECORD
    """,
        text=paths(p_hello="/hello.txt"),
        data="buf: .fill 64, 1, 0xaa\nbuf2: .fill 8, 1, 0xbb\n",
    )
    assert run.status == 0
    assert run.results == [ok(3), ok(13), ok(0), ok(0)]  # fd 3, 13 bytes, then EOF
    assert run.read("buf", 64) == b"hello, world\n" + b"\xaa" * 51  # nothing written past the data
    assert run.read("buf2", 8) == b"\xbb" * 8  # EOF writes nothing


def test_write_puts_the_bytes_in_the_file_on_disk(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "out.txt").write_bytes(b"old contents that O_TRUNC must drop")
    run = guest(
        tmp_path,
        open_call("p_out", "O_WRONLY|O_CREAT|O_TRUNC", 0o644)
        + """
        mov     x19, x0
        mov     x0, x19
        adr     x1, msg
        mov     x2, #6
        SYSCALL SYS_write
        RECORD
        mov     x0, x19
        SYSCALL SYS_close
        RECORD
    """,
        text=paths(p_out="/out.txt") + 'msg: .ascii "fresh\\n"\n',
    )
    assert run.results == [ok(3), ok(6), ok(0)]
    assert (root / "out.txt").read_bytes() == b"fresh\n"


def test_o_append_writes_at_the_end(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "log").write_bytes(b"abc")
    run = guest(
        tmp_path,
        open_call("p_log", "O_WRONLY|O_APPEND")
        + """
        mov     x19, x0
        mov     x0, x19
        mov     x1, #0
        mov     x2, #SEEK_SET
        SYSCALL SYS_lseek
        mov     x0, x19
        adr     x1, msg
        mov     x2, #3
        SYSCALL SYS_write
        RECORD
    """,
        text=paths(p_log="/log") + 'msg: .ascii "def"\n',
    )
    assert run.results == [ok(3), ok(3)]
    assert (root / "log").read_bytes() == b"abcdef"


def test_nocancel_twins_read_write_open_close_behave_as_their_base_calls(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "in.txt").write_bytes(b"twin")
    run = guest(
        tmp_path,
        open_call("p_in", "O_RDONLY", num="SYS_open_nocancel")
        + """
        mov     x19, x0
        mov     x0, x19
        adr     x1, buf
        mov     x2, #16
        SYSCALL SYS_read_nocancel
        RECORD
        mov     x0, x19
        SYSCALL SYS_close_nocancel
        RECORD
        mov     x0, x19
        adr     x1, buf
        mov     x2, #16
        SYSCALL SYS_read_nocancel
        RECORD
        mov     x0, x19
        SYSCALL SYS_close_nocancel
        RECORD
    """
        + open_call("p_out", "O_WRONLY|O_CREAT|O_EXCL", 0o600, num="SYS_open_nocancel")
        + """
        mov     x20, x0
        mov     x0, x20
        adr     x1, buf
        mov     x2, #4
        SYSCALL SYS_write_nocancel
        RECORD
        mov     x0, #99
        adr     x1, buf
        mov     x2, #4
        SYSCALL SYS_write_nocancel
        RECORD
    """
        + open_call("p_out", "O_WRONLY|O_CREAT|O_EXCL", 0o600, num="SYS_open_nocancel"),
        text=paths(p_in="/in.txt", p_out="/out.txt"),
        data="buf: .zero 16\n",
    )
    assert run.results == [ok(3), ok(4), ok(0), err(EBADF), err(EBADF), ok(3), ok(4), err(EBADF), err(EEXIST)]
    assert run.read("buf", 4) == b"twin"
    assert (root / "out.txt").read_bytes() == b"twin"


def test_bad_descriptor_is_ebadf_with_carry_set_and_x1_zero(tmp_path: Path) -> None:
    run = guest(
        tmp_path,
        """
        mov     x0, #99
        adr     x1, buf
        mov     x2, #4
        SYSCALL SYS_read
        RECORD
        mov     x0, #99
        adr     x1, buf
        mov     x2, #4
        SYSCALL SYS_write
        RECORD
        mov     x0, #-1
        adr     x1, buf
        mov     x2, #4
        SYSCALL SYS_read
        RECORD
        mov     x0, #99
        SYSCALL SYS_close
        RECORD
        mov     x0, #99
        adr     x1, buf
        SYSCALL SYS_fstat64
        RECORD
        mov     x0, #99
        mov     x1, #0
        mov     x2, #SEEK_SET
        SYSCALL SYS_lseek
        RECORD
        // the descriptor is looked up before the buffer is copied in: EBADF, not EFAULT
        mov     x0, #99
        mov     x1, #16
        mov     x2, #4
        SYSCALL SYS_write
        RECORD
    """,
        data="buf: .zero 144\n",
    )
    assert run.results == [err(EBADF)] * 7


def test_buffer_outside_guest_memory_is_efault_and_consumes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "f").write_bytes(b"0123456789")
    run = guest(
        tmp_path,
        open_call("p_f", "O_RDONLY")
        + """
        mov     x19, x0
        // read into unmapped memory (page zero)
        mov     x0, x19
        mov     x1, #16
        mov     x2, #4
        SYSCALL SYS_read
        RECORD
        // read into the read-only text
        mov     x0, x19
        adr     x1, p_f
        mov     x2, #4
        SYSCALL SYS_read
        RECORD
        // read whose last bytes fall off the end of writable memory
        mov     x0, x19
        adr     x1, edge
        sub     x1, x1, #4
        mov     x2, #8
        SYSCALL SYS_read
        RECORD
        // nothing was consumed: the next good read starts at offset 0
        mov     x0, x19
        adr     x1, buf
        mov     x2, #4
        SYSCALL SYS_read
        RECORD
        // write from unmapped memory
        mov     x0, #1
        mov     x1, #16
        mov     x2, #4
        SYSCALL SYS_write
        RECORD
        // zero bytes need no buffer at all
        mov     x0, x19
        mov     x1, #0
        mov     x2, #0
        SYSCALL SYS_read
        RECORD
    """,
        text=paths(p_f="/f"),
        data="buf: .zero 8\n",
        # pad __DATA to exactly one 16 KiB page so that `edge` is its end
        bss=".zero 10736\nedge:\n",
    )
    assert run.addr("edge") % 0x4000 == 0
    assert run.results == [ok(3), err(EFAULT), err(EFAULT), err(EFAULT), ok(4), err(EFAULT), ok(0)]
    assert run.read("buf", 4) == b"0123"
    assert run.read("edge", 4, offset=-4) == b"\0" * 4  # the part that was writable stayed untouched


def test_read_or_write_of_more_than_int_max_bytes_is_einval(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "f").write_bytes(b"data")
    run = guest(
        tmp_path,
        open_call("p_f", "O_RDONLY")
        + """
        mov     x19, x0
        mov     x0, x19
        adr     x1, buf
        ldr     x2, =0x80000000
        SYSCALL SYS_read
        RECORD
        mov     x0, #1
        adr     x1, buf
        mov     x2, #-1
        SYSCALL SYS_write
        RECORD
        mov     x0, x19
        adr     x1, buf
        ldr     x2, =0x7fffffff
        SYSCALL SYS_read
        RECORD
    """,
        text=paths(p_f="/f"),
        data="buf: .zero 8\n",
    )
    # dofileread/dofilewrite: nbyte > INT_MAX is EINVAL; INT_MAX itself is fine
    assert run.results == [ok(3), err(EINVAL), err(EINVAL), ok(4)]
    assert run.read("buf", 4) == b"data"


# --------------------------------------------------------------------- open flags


def test_open_missing_file_is_enoent(tmp_path: Path) -> None:
    run = guest(
        tmp_path,
        open_call("p_none", "O_RDONLY") + open_call("p_deep", "O_RDONLY") + open_call("p_empty", "O_RDONLY"),
        text=paths(p_none="/nope.txt", p_deep="/no/such/dir/f", p_empty=""),
    )
    assert run.results == [err(ENOENT)] * 3


def test_open_creat_excl_and_trunc(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "exists").write_bytes(b"keep me")
    run = guest(
        tmp_path,
        open_call("p_exists", "O_WRONLY|O_CREAT|O_EXCL", 0o644)
        + open_call("p_new", "O_WRONLY|O_CREAT|O_EXCL", 0o640)
        + open_call("p_exists", "O_RDWR|O_CREAT", 0o644),
        text=paths(p_exists="/exists", p_new="/new"),
    )
    assert run.results == [err(EEXIST), ok(3), ok(4)]
    assert (root / "exists").read_bytes() == b"keep me"  # O_CREAT without O_TRUNC keeps data
    assert (root / "new").exists()


def test_created_file_gets_the_requested_mode_without_special_bits(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    umask = os.umask(0)
    os.umask(umask)
    run = guest(
        tmp_path,
        open_call("p_a", "O_WRONLY|O_CREAT", 0o640)
        + open_call("p_b", "O_WRONLY|O_CREAT", 0o600)
        + open_call("p_c", "O_WRONLY|O_CREAT", 0o4755),
        text=paths(p_a="/a", p_b="/b", p_c="/c"),
    )
    assert run.results == [ok(3), ok(4), ok(5)]
    assert stat.S_IMODE((root / "a").stat().st_mode) == 0o640 & ~umask
    assert stat.S_IMODE((root / "b").stat().st_mode) == 0o600 & ~umask
    # open() keeps only ACCESSPERMS: a guest cannot create a set-uid file
    assert stat.S_IMODE((root / "c").stat().st_mode) == 0o755 & ~umask


def test_umask_returns_the_old_mask_and_masks_new_files_and_directories(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    umask = os.umask(0)
    os.umask(umask)
    set_mask = "        mov     x0, #{}\n        SYSCALL SYS_umask\n        RECORD\n"
    run = guest(
        tmp_path,
        set_mask.format("0x3f")  # 077
        + open_call("p_a", "O_WRONLY|O_CREAT", 0o666)
        + "        adr     x0, p_d\n        mov     x1, #0x1ff\n        SYSCALL SYS_mkdir\n        RECORD\n"
        + set_mask.format("0x1fff")  # 017777: only ALLPERMS (07777) is kept
        + set_mask.format("0"),
        text=paths(p_a="/a", p_d="/d"),
    )
    # launchd's 022 first, then each call gives back the mask it replaces
    assert run.results == [ok(0o022), ok(3), ok(0), ok(0o077), ok(0o7777)]
    assert stat.S_IMODE((root / "a").stat().st_mode) == 0o600 & ~umask
    assert stat.S_IMODE((root / "d").stat().st_mode) == 0o700 & ~umask


def test_o_directory_on_a_file_is_enotdir_and_with_o_creat_is_einval(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "dir").mkdir(parents=True)
    (root / "file").write_bytes(b"x")
    run = guest(
        tmp_path,
        open_call("p_file", "O_RDONLY|O_DIRECTORY")
        + open_call("p_dir", "O_RDONLY|O_DIRECTORY")
        + open_call("p_made", "O_RDONLY|O_CREAT|O_DIRECTORY", 0o644)
        + open_call("p_dir", "O_WRONLY")
        + open_call("p_fileslash", "O_RDONLY"),
        text=paths(p_file="/file", p_dir="/dir", p_made="/made", p_fileslash="/file/"),
    )
    assert run.results == [err(ENOTDIR), ok(3), err(EINVAL), err(EISDIR), err(ENOTDIR)]
    assert not (root / "made").exists()


def test_o_nofollow_refuses_a_final_symlink_but_follows_middle_ones(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "real").mkdir(parents=True)
    (root / "real" / "f").write_bytes(b"x")
    os.symlink("real/f", root / "lf")
    os.symlink("real", root / "ld")
    run = guest(
        tmp_path,
        open_call("p_lf", "O_RDONLY|O_NOFOLLOW")
        + open_call("p_ldf", "O_RDONLY|O_NOFOLLOW")
        + open_call("p_lf", "O_RDONLY"),
        text=paths(p_lf="/lf", p_ldf="/ld/f"),
    )
    assert run.results == [err(ELOOP), ok(3), ok(4)]


def test_o_nofollow_any_refuses_a_symlink_anywhere_in_the_path(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "real").mkdir(parents=True)
    (root / "real" / "f").write_bytes(b"x")
    os.symlink("real", root / "ld")
    os.symlink("f", root / "real" / "lf")
    run = guest(
        tmp_path,
        open_call("p_ldf", "O_RDONLY|O_NOFOLLOW_ANY")
        + open_call("p_lf", "O_RDONLY|O_NOFOLLOW_ANY")
        + open_call("p_real", "O_RDONLY|O_NOFOLLOW_ANY")
        + open_call("p_real", "O_RDONLY|O_NOFOLLOW_ANY|O_NOFOLLOW"),
        text=paths(p_ldf="/ld/f", p_lf="/real/lf", p_real="/real/f"),
    )
    assert run.results == [err(ELOOP), err(ELOOP), ok(3), err(EINVAL)]


def test_o_creat_o_excl_does_not_follow_a_dangling_symlink(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    os.symlink("target", root / "dangling")
    run = guest(
        tmp_path,
        open_call("p_link", "O_WRONLY|O_CREAT|O_EXCL", 0o644)
        + open_call("p_link", "O_WRONLY|O_CREAT|O_NOFOLLOW", 0o644),
        text=paths(p_link="/dangling"),
    )
    # vn_open_auth: O_EXCL (or O_NOFOLLOW) means the link itself is the name: it exists
    assert run.results == [err(EEXIST), err(ELOOP)]
    assert not (root / "target").exists()


def test_open_for_writing_only_cannot_be_read_and_read_only_cannot_be_written(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "f").write_bytes(b"data")
    run = guest(
        tmp_path,
        open_call("p_f", "O_WRONLY")
        + """
        mov     x0, #3
        adr     x1, buf
        mov     x2, #4
        SYSCALL SYS_read
        RECORD
    """
        + open_call("p_f", "O_RDONLY")
        + """
        mov     x0, #4
        adr     x1, buf
        mov     x2, #4
        SYSCALL SYS_write
        RECORD
    """,
        text=paths(p_f="/f"),
        data="buf: .zero 8\n",
    )
    assert run.results == [ok(3), err(EBADF), ok(4), err(EBADF)]
    assert (root / "f").read_bytes() == b"data"


# --------------------------------------------------------------------- descriptors


def test_descriptors_start_at_3_and_reuse_the_lowest_free_number(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "f").write_bytes(b"x")
    o = open_call("p_f", "O_RDONLY")
    run = guest(
        tmp_path,
        o
        + o
        + """
        mov     x0, #3
        SYSCALL SYS_close
        RECORD
    """
        + o
        + o,
        text=paths(p_f="/f"),
    )
    assert run.results == [ok(3), ok(4), ok(0), ok(3), ok(5)]


def test_close_then_read_is_ebadf(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "f").write_bytes(b"x")
    run = guest(
        tmp_path,
        open_call("p_f", "O_RDONLY")
        + """
        mov     x0, #3
        SYSCALL SYS_close
        RECORD
        mov     x0, #3
        adr     x1, buf
        mov     x2, #1
        SYSCALL SYS_read
        RECORD
        mov     x0, #3
        SYSCALL SYS_close
        RECORD
    """,
        text=paths(p_f="/f"),
        data="buf: .zero 8\n",
    )
    assert run.results == [ok(3), ok(0), err(EBADF), err(EBADF)]


def test_guest_closing_fd_1_leaves_the_emulators_stdout_open(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    run = guest(
        tmp_path,
        """
        mov     x0, #1
        SYSCALL SYS_close
        RECORD
        mov     x0, #1
        adr     x1, msg
        mov     x2, #5
        SYSCALL SYS_write
        RECORD
    """,
        text='msg: .ascii "lost\\n"\n',
    )
    assert run.results == [ok(0), err(EBADF)]
    os.fstat(1)  # still open in this process
    os.write(1, b"still here\n")
    again = guest(
        tmp_path,
        """
        mov     x0, #1
        adr     x1, msg
        mov     x2, #3
        SYSCALL SYS_write
        RECORD
    """,
        text='msg: .ascii "ok\\n"\n',
    )
    assert again.results == [ok(3)]
    assert capfd.readouterr().out == "still here\nok\n"


# --------------------------------------------------------------------- the root is the guest's /


def test_absolute_guest_paths_are_inside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_bytes(b"inside the root\n")
    run = guest(
        tmp_path,
        open_call("p_pw", "O_RDONLY")
        + """
        mov     x0, #3
        adr     x1, buf
        mov     x2, #64
        SYSCALL SYS_read
        RECORD
    """
        + open_call("p_shadow", "O_RDONLY"),
        text=paths(p_pw="/etc/passwd", p_shadow="/etc/shadow"),
        data="buf: .zero 64\n",
    )
    assert run.results == [ok(3), ok(16), err(ENOENT)]  # never the host's /etc/shadow
    assert run.read("buf", 16) == b"inside the root\n"


def test_dot_dot_cannot_climb_above_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (tmp_path / "x").write_bytes(b"SECRET outside the root")
    o = open_call("p_up", "O_RDONLY") + open_call("p_up2", "O_RDONLY")
    run = guest(tmp_path, o, text=paths(p_up="../../x", p_up2="/sub/../../../../x"))
    assert run.results == [err(ENOENT), err(ENOENT)]
    (root / "x").write_bytes(b"the root's own x")
    run = guest(
        tmp_path,
        o
        + """
        mov     x0, #3
        adr     x1, buf
        mov     x2, #64
        SYSCALL SYS_read
        RECORD
    """,
        text=paths(p_up="../../x", p_up2="/sub/../../../../x"),
        data="buf: .zero 64\n",
    )
    assert run.results == [ok(3), ok(4), ok(16)]
    assert run.read("buf", 16) == b"the root's own x"


def test_symlinks_pointing_outside_resolve_inside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"SECRET")
    os.symlink(str(secret), root / "abs")  # absolute host path
    os.symlink("../../../../../../../../secret.txt", root / "sub" / "rel")
    os.symlink(str(tmp_path), root / "absdir")  # a host directory
    opens = open_call("p_abs", "O_RDONLY") + open_call("p_rel", "O_RDONLY") + open_call("p_absdir", "O_RDONLY")
    text = paths(p_abs="/abs", p_rel="/sub/rel", p_absdir="/absdir/secret.txt")
    run = guest(
        tmp_path,
        opens
        + """
        adr     x0, p_abs
        adr     x1, st
        SYSCALL SYS_stat64
        RECORD
    """,
        text=text,
        data="st: .zero 144\n",
    )
    assert run.results == [err(ENOENT)] * 4

    # the same names, planted inside the root, are what the guest gets
    decoy = root / str(secret).lstrip("/")
    decoy.parent.mkdir(parents=True)
    decoy.write_bytes(b"decoy")
    (root / "secret.txt").write_bytes(b"rooted")
    run = guest(
        tmp_path,
        opens
        + """
        mov     x0, #3
        adr     x1, b1
        mov     x2, #16
        SYSCALL SYS_read
        RECORD
        mov     x0, #4
        adr     x1, b2
        mov     x2, #16
        SYSCALL SYS_read
        RECORD
        mov     x0, #5
        adr     x1, b3
        mov     x2, #16
        SYSCALL SYS_read
        RECORD
    """,
        text=text,
        data="b1: .zero 16\nb2: .zero 16\nb3: .zero 16\n",
    )
    assert run.results == [ok(3), ok(4), ok(5), ok(5), ok(6), ok(5)]
    assert (run.read("b1", 5), run.read("b2", 6), run.read("b3", 5)) == (b"decoy", b"rooted", b"decoy")


# --------------------------------------------------------------------- struct stat64


def _stat64(raw: bytes) -> dict[str, int]:
    """The fields of Darwin's struct stat64 (bsd/sys/stat.h) at their offsets."""
    assert len(raw) == 144
    return {
        "st_dev": struct.unpack_from("<i", raw, 0)[0],
        "st_mode": struct.unpack_from("<H", raw, 4)[0],
        "st_nlink": struct.unpack_from("<H", raw, 6)[0],
        "st_ino": struct.unpack_from("<Q", raw, 8)[0],
        "st_uid": struct.unpack_from("<I", raw, 16)[0],
        "st_gid": struct.unpack_from("<I", raw, 20)[0],
        "atime_s": struct.unpack_from("<q", raw, 32)[0],
        "atime_ns": struct.unpack_from("<q", raw, 40)[0],
        "mtime_s": struct.unpack_from("<q", raw, 48)[0],
        "mtime_ns": struct.unpack_from("<q", raw, 56)[0],
        "st_size": struct.unpack_from("<q", raw, 96)[0],
        "st_blocks": struct.unpack_from("<q", raw, 104)[0],
        "st_blksize": struct.unpack_from("<i", raw, 112)[0],
        "st_flags": struct.unpack_from("<I", raw, 116)[0],
        "st_gen": struct.unpack_from("<I", raw, 120)[0],
    }


def _expect(st: os.stat_result) -> dict[str, int]:
    return {
        "st_mode": st.st_mode,
        "st_nlink": st.st_nlink,
        "st_ino": st.st_ino,
        "st_uid": st.st_uid,
        "st_gid": st.st_gid,
        "atime_s": st.st_atime_ns // 10**9,
        "atime_ns": st.st_atime_ns % 10**9,
        "mtime_s": st.st_mtime_ns // 10**9,
        "mtime_ns": st.st_mtime_ns % 10**9,
        "st_size": st.st_size,
        "st_blocks": st.st_blocks,
        "st_blksize": st.st_blksize,
        "st_flags": 0,
        "st_gen": 0,
    }


STAT_BUFS = """
.p2align 3
st1: .fill 144, 1, 0xee
canary1: .quad 0x1122334455667788
st2: .fill 144, 1, 0xee
canary2: .quad 0x1122334455667788
st3: .fill 144, 1, 0xee
canary3: .quad 0x1122334455667788
st4: .fill 144, 1, 0xee
canary4: .quad 0x1122334455667788
"""


def test_fstat64_fills_struct_stat64_at_darwin_offsets(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    f = root / "f.bin"
    f.write_bytes(b"z" * 1234)
    os.link(f, root / "hardlink")  # st_nlink = 2
    os.utime(f, ns=(1_600_000_000_111_111_111, 1_700_000_000_123_456_789))
    run = guest(
        tmp_path,
        open_call("p_f", "O_RDONLY")
        + """
        mov     x0, #3
        adr     x1, st1
        SYSCALL SYS_fstat64
        RECORD
    """,
        text=paths(p_f="/f.bin"),
        data=STAT_BUFS,
    )
    assert run.results == [ok(3), ok(0)]
    got = _stat64(run.read("st1", 144))
    want = _expect(os.stat(f))
    assert {k: got[k] for k in want} == want
    assert stat.S_ISREG(got["st_mode"]) and stat.S_IMODE(got["st_mode"]) == stat.S_IMODE(os.stat(f).st_mode)
    assert (got["st_size"], got["st_nlink"], got["mtime_s"], got["mtime_ns"]) == (1234, 2, 1_700_000_000, 123_456_789)
    assert run.u64("canary1") == 0x1122334455667788  # exactly 144 bytes written


def test_stat64_and_lstat64_follow_or_describe_the_link(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "d").mkdir(parents=True)
    (root / "d" / "f").write_bytes(b"12345")
    os.symlink("d/f", root / "link")
    run = guest(
        tmp_path,
        """
        adr     x0, p_link
        adr     x1, st1
        SYSCALL SYS_stat64
        RECORD
        adr     x0, p_link
        adr     x1, st2
        SYSCALL SYS_lstat64
        RECORD
        adr     x0, p_dir
        adr     x1, st3
        SYSCALL SYS_stat64
        RECORD
        adr     x0, p_root
        adr     x1, st4
        SYSCALL SYS_lstat64
        RECORD
    """,
        text=paths(p_link="/link", p_dir="/d", p_root="/"),
        data=STAT_BUFS,
    )
    assert run.results == [ok(0)] * 4
    target, link = _stat64(run.read("st1", 144)), _stat64(run.read("st2", 144))
    d, r = _stat64(run.read("st3", 144)), _stat64(run.read("st4", 144))
    assert stat.S_ISREG(target["st_mode"]) and target["st_size"] == 5
    assert target["st_ino"] == os.stat(root / "d" / "f").st_ino
    assert stat.S_ISLNK(link["st_mode"]) and link["st_size"] == len("d/f")
    assert link["st_ino"] == os.lstat(root / "link").st_ino
    assert stat.S_ISDIR(d["st_mode"]) and d["st_ino"] == os.stat(root / "d").st_ino
    assert stat.S_ISDIR(r["st_mode"]) and r["st_ino"] == os.stat(root).st_ino
    for n in (1, 2, 3, 4):
        assert run.u64(f"canary{n}") == 0x1122334455667788


def test_stat64_errors(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "f").write_bytes(b"x")
    run = guest(
        tmp_path,
        """
        adr     x0, p_none
        adr     x1, st1
        SYSCALL SYS_stat64
        RECORD
        adr     x0, p_f
        mov     x1, #16
        SYSCALL SYS_stat64
        RECORD
        mov     x0, #16
        adr     x1, st1
        SYSCALL SYS_lstat64
        RECORD
        adr     x0, p_under
        adr     x1, st1
        SYSCALL SYS_stat64
        RECORD
        adr     x0, p_f
        adr     x1, p_f
        SYSCALL SYS_stat64
        RECORD
    """,
        text=paths(p_none="/none", p_f="/f", p_under="/f/x"),
        data=STAT_BUFS,
    )
    assert run.results == [err(ENOENT), err(EFAULT), err(EFAULT), err(ENOTDIR), err(EFAULT)]
    assert run.read("st1", 144) == b"\xee" * 144


# --------------------------------------------------------------------- lseek


def test_lseek_returns_the_new_64_bit_offset(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "f").write_bytes(bytes(range(100)))
    run = guest(
        tmp_path,
        open_call("p_f", "O_RDWR")
        + """
        mov     x19, x0
        mov     x0, x19
        mov     x1, #10
        mov     x2, #SEEK_SET
        SYSCALL SYS_lseek
        RECORD
        mov     x0, x19
        mov     x1, #5
        mov     x2, #SEEK_CUR
        SYSCALL SYS_lseek
        RECORD
        mov     x0, x19
        mov     x1, #-4
        mov     x2, #SEEK_END
        SYSCALL SYS_lseek
        RECORD
        mov     x0, x19
        adr     x1, buf
        mov     x2, #8
        SYSCALL SYS_read
        RECORD
        mov     x0, x19
        ldr     x1, =0x100000005
        mov     x2, #SEEK_SET
        SYSCALL SYS_lseek
        RECORD
        mov     x0, x19
        mov     x1, #0
        mov     x2, #SEEK_CUR
        SYSCALL SYS_lseek
        RECORD
        mov     x0, x19
        mov     x1, #0
        mov     x2, #7
        SYSCALL SYS_lseek
        RECORD
        mov     x0, x19
        mov     x1, #-200
        mov     x2, #SEEK_SET
        SYSCALL SYS_lseek
        RECORD
    """,
        text=paths(p_f="/f"),
        data="buf: .zero 8\n",
    )
    assert run.results == [
        ok(3),
        ok(10),
        ok(15),
        ok(96),
        ok(4),
        ok(0x1_0000_0005),
        ok(0x1_0000_0005),
        err(EINVAL),
        err(EINVAL),
    ]
    assert run.read("buf", 4) == bytes([96, 97, 98, 99])


def test_lseek_on_a_socket_is_espipe(tmp_path: Path) -> None:
    run = guest(
        tmp_path,
        """
        mov     x0, #2
        mov     x1, #1
        mov     x2, #0
        SYSCALL SYS_socket
        RECORD
        mov     x1, #0
        mov     x2, #SEEK_SET
        SYSCALL SYS_lseek
        RECORD
    """,
    )
    assert run.results == [ok(3), err(ESPIPE)]
    assert run.machine.host.fds[3].sock is not None
    assert run.machine.host.fds[3].sock.family == socket.AF_INET
