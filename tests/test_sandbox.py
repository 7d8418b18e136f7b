"""The sandbox: hostile guests try to reach outside --root, and cannot.

Each attempt is a small assembly guest (tests/guest.py) that makes the
escaping calls a Mac program could make: absolute paths, ``..`` at any
depth, symlinks that point outside (absolute or relative), *at() calls
with a directory descriptor, chdir/fchdir, rename/link/unlink targets.
Each fails with the errno a Mac gives for the *confined* path -- the same
path with the root as "/" (there is no /outside in the root, so ENOENT;
a symlink met under O_NOFOLLOW_ANY is ELOOP ...).  Around every attempt,
sentinel files and folders outside the root are snapshotted: none may be
read, created, renamed, changed or deleted.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

import pytest
from guest import GuestRun, err, ok, run_guest

# each test twice: opens through the host kernel's openat2 (emu/native/fastcalls.c) and the walk
pytestmark = pytest.mark.usefixtures("syscall_path")

# Darwin errno values (bsd/sys/errno.h)
ENOENT, EEXIST, ENOTDIR, ELOOP = 2, 17, 20, 62
O_RDONLY, O_WRONLY, O_CREAT, O_NOFOLLOW, O_DIRECTORY, O_NOFOLLOW_ANY = 0, 1, 0x200, 0x100, 0x100000, 0x20000000
AT_FDCWD, AT_SYMLINK_NOFOLLOW_ANY = -2, 0x800
SECRET = b"SECRET-outside-the-root"

SYS = {
    "open": 5,
    "unlink": 10,
    "chdir": 12,
    "fchdir": 13,
    "link": 9,
    "access": 33,
    "rename": 128,
    "mkdir": 136,
    "rmdir": 137,
    "stat64": 338,
    "lstat64": 340,
    "openat": 463,
    "renameat": 465,
    "fstatat64": 470,
    "unlinkat": 472,
    "mkdirat": 475,
    "getdirentries64": 344,
    "fcntl": 92,
}


@dataclass
class World:
    tmp: Path
    root: Path
    outside: Path


@pytest.fixture
def world(tmp_path: Path) -> World:
    outside = tmp_path / "outside"
    (outside / "dir").mkdir(parents=True)
    (outside / "secret.txt").write_bytes(SECRET)
    (outside / "dir" / "inner.txt").write_bytes(SECRET + b"-inner")
    root = tmp_path / "root"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "sub" / "file.txt").write_bytes(b"inside")
    os.symlink(outside / "secret.txt", root / "lnk_abs")  # absolute host path
    os.symlink("../outside/secret.txt", root / "lnk_rel")  # relative, one level up
    os.symlink(outside, root / "lnk_dir")  # a host directory
    os.symlink("../../..", root / "lnk_dotdot")  # climbs as far as it can
    os.symlink("../../../../outside", root / "sub" / "deep_rel")  # deep relative climb
    os.symlink("/proc/self/root" + str(outside), root / "lnk_proc")  # the host's /proc trick
    os.symlink("loop2", root / "loop1")
    os.symlink("loop1", root / "loop2")
    return World(tmp_path, root, outside)


def snapshot(w: World) -> dict[str, tuple]:
    """Everything outside the root: names, kinds, contents and times."""
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(w.tmp):
        if Path(dirpath) == w.root or w.root in Path(dirpath).parents:
            continue
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            if p == w.root:
                continue
            st = os.lstat(p)
            data = p.read_bytes() if p.is_file() and not p.is_symlink() else b""
            out[str(p.relative_to(w.tmp))] = (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ino, data)
    return out


def arg(a: object, paths: dict[str, str]) -> str:
    """One argument register: a path (string), a saved register, or a number."""
    if isinstance(a, str) and a.startswith("x"):
        return f"mov     {{reg}}, {a}"
    if isinstance(a, str) and a.startswith("buf:"):
        return f"adr     {{reg}}, {a[4:]}"
    if isinstance(a, str):
        label = f"p{len(paths)}"
        paths[label] = a
        return f"adr     {{reg}}, {label}"
    return f"ldr     {{reg}}, ={a}"


def call(name: str, *args: object, save: str = "", paths: dict[str, str]) -> str:
    lines = [arg(a, paths).format(reg=f"x{i}") for i, a in enumerate(args)]
    lines += [f"mov     x16, #{SYS[name]}", "svc     #0x80", "RECORD"]
    if save:
        lines.append(f"mov     {save}, x0")
    return "\n".join("        " + line for line in lines) + "\n"


def guest_of(w: World, steps: list[tuple]) -> GuestRun:
    paths: dict[str, str] = {}
    body = ""
    for step in steps:
        name, *args = step
        save = ""
        if args and isinstance(args[-1], dict):
            save = args.pop()["save"]
        body += call(name, *args, save=save, paths=paths)
    text = "\n".join(f'{label}: .asciz "{value}"' for label, value in paths.items()) + "\n.p2align 2\n"
    return run_guest(body, text=text, data=".p2align 3\nbuf: .zero 4096\n", root=w.root, tmp=w.tmp)


def attempts(host_outside: str) -> list[tuple[str, list[tuple], list[tuple[int, int, bool]]]]:
    """(name, steps, what each step must return)."""
    S = {"save": "x19"}
    sub_fd = ("open", "/sub", O_RDONLY | O_DIRECTORY, 0, S)
    up = "/" + "../" * 40
    return [
        ("open-dotdot-absolute", [("open", "/../../outside/secret.txt", O_RDONLY, 0)], [err(ENOENT)]),
        ("open-dotdot-relative", [("open", "../outside/secret.txt", O_RDONLY, 0)], [err(ENOENT)]),
        ("open-dotdot-deep", [("open", "/sub/deeper/../../../../outside/secret.txt", O_RDONLY, 0)], [err(ENOENT)]),
        ("open-dotdot-forty", [("open", up + "outside/secret.txt", O_RDONLY, 0)], [err(ENOENT)]),
        ("open-doubled-slashes", [("open", "//..//..//outside//secret.txt", O_RDONLY, 0)], [err(ENOENT)]),
        ("open-host-absolute-path", [("open", host_outside + "/secret.txt", O_RDONLY, 0)], [err(ENOENT)]),
        (
            "open-host-proc-root",
            [("open", "/proc/self/root" + host_outside + "/secret.txt", O_RDONLY, 0)],
            [err(ENOENT)],
        ),
        ("open-symlink-absolute", [("open", "/lnk_abs", O_RDONLY, 0)], [err(ENOENT)]),
        ("open-symlink-relative", [("open", "/lnk_rel", O_RDONLY, 0)], [err(ENOENT)]),
        ("open-through-symlinked-dir", [("open", "/lnk_dir/secret.txt", O_RDONLY, 0)], [err(ENOENT)]),
        ("open-symlink-dotdot-chain", [("open", "/lnk_dotdot/outside/secret.txt", O_RDONLY, 0)], [err(ENOENT)]),
        ("open-deep-relative-link", [("open", "/sub/deep_rel/secret.txt", O_RDONLY, 0)], [err(ENOENT)]),
        ("open-proc-symlink", [("open", "/lnk_proc/secret.txt", O_RDONLY, 0)], [err(ENOENT)]),
        ("open-symlink-loop", [("open", "/loop1", O_RDONLY, 0)], [err(ELOOP)]),
        ("open-nofollow-final-link", [("open", "/lnk_abs", O_RDONLY | O_NOFOLLOW, 0)], [err(ELOOP)]),
        ("open-nofollow-any", [("open", "/lnk_dir/secret.txt", O_RDONLY | O_NOFOLLOW_ANY, 0)], [err(ELOOP)]),
        ("open-through-a-file", [("open", "/sub/file.txt/../../../outside/secret.txt", O_RDONLY, 0)], [err(ENOTDIR)]),
        ("create-through-abs-link", [("open", "/lnk_abs", O_WRONLY | O_CREAT, 0o644)], [err(ENOENT)]),
        ("create-in-linked-dir", [("open", "/lnk_dir/planted.txt", O_WRONLY | O_CREAT, 0o644)], [err(ENOENT)]),
        ("create-above-root", [("open", "/../../outside/planted.txt", O_WRONLY | O_CREAT, 0o644)], [err(ENOENT)]),
        ("stat-symlink-absolute", [("stat64", "/lnk_abs", "buf:buf")], [err(ENOENT)]),
        ("stat-dotdot", [("stat64", "/../outside", "buf:buf")], [err(ENOENT)]),
        ("lstat-through-linked-dir", [("lstat64", "/lnk_dir/secret.txt", "buf:buf")], [err(ENOENT)]),
        ("access-dotdot", [("access", "/../outside/secret.txt", 0)], [err(ENOENT)]),
        ("access-through-link", [("access", "/lnk_rel", 4)], [err(ENOENT)]),
        ("mkdir-in-linked-dir", [("mkdir", "/lnk_dir/newdir", 0o755)], [err(ENOENT)]),
        ("mkdir-above-root", [("mkdir", "/../../outside/newdir", 0o755)], [err(ENOENT)]),
        ("mkdir-on-a-link", [("mkdir", "/lnk_dir", 0o755)], [err(EEXIST)]),
        ("unlink-above-root", [("unlink", "/../outside/secret.txt")], [err(ENOENT)]),
        ("unlink-through-linked-dir", [("unlink", "/lnk_dir/secret.txt")], [err(ENOENT)]),
        ("rmdir-above-root", [("rmdir", "/../outside/dir")], [err(ENOENT)]),
        ("rmdir-through-linked-dir", [("rmdir", "/lnk_dir/dir")], [err(ENOENT)]),
        ("rename-from-outside", [("rename", "/../outside/secret.txt", "/stolen")], [err(ENOENT)]),
        ("rename-to-outside", [("rename", "/sub/file.txt", "/../../outside/planted")], [err(ENOENT)]),
        ("rename-into-linked-dir", [("rename", "/sub/file.txt", "/lnk_dir/planted")], [err(ENOENT)]),
        ("link-from-outside", [("link", "/../outside/secret.txt", "/hard")], [err(ENOENT)]),
        ("link-into-linked-dir", [("link", "/sub/file.txt", "/lnk_dir/hard")], [err(ENOENT)]),
        ("chdir-linked-dir", [("chdir", "/lnk_dir")], [err(ENOENT)]),
        ("chdir-dotdot-then-open", [("chdir", ".."), ("open", "outside/secret.txt", O_RDONLY, 0)], [ok(), err(ENOENT)]),
        (
            "chdir-sub-then-climb",
            [("chdir", "/sub"), ("open", "../../../outside/secret.txt", O_RDONLY, 0)],
            [ok(), err(ENOENT)],
        ),
        (
            "fchdir-then-climb",
            [sub_fd, ("fchdir", "x19"), ("open", "../../outside/secret.txt", O_RDONLY, 0)],
            [ok(3), ok(), err(ENOENT)],
        ),
        (
            "openat-dirfd-climb",
            [sub_fd, ("openat", "x19", "../../outside/secret.txt", O_RDONLY, 0)],
            [ok(3), err(ENOENT)],
        ),
        (
            "openat-dirfd-absolute",
            [sub_fd, ("openat", "x19", "/../outside/secret.txt", O_RDONLY, 0)],
            [ok(3), err(ENOENT)],
        ),
        (
            "openat-dirfd-deep-link",
            [sub_fd, ("openat", "x19", "deep_rel/secret.txt", O_RDONLY, 0)],
            [ok(3), err(ENOENT)],
        ),
        (
            "openat-dirfd-create-outside",
            [sub_fd, ("openat", "x19", "../../outside/new", O_WRONLY | O_CREAT, 0o644)],
            [ok(3), err(ENOENT)],
        ),
        ("fstatat-dirfd-climb", [sub_fd, ("fstatat64", "x19", "../../../outside", "buf:buf", 0)], [ok(3), err(ENOENT)]),
        (
            "fstatat-nofollow-any",
            [("fstatat64", AT_FDCWD, "/lnk_dir/secret.txt", "buf:buf", AT_SYMLINK_NOFOLLOW_ANY)],
            [err(ELOOP)],
        ),
        ("unlinkat-dirfd-climb", [sub_fd, ("unlinkat", "x19", "../../outside/secret.txt", 0)], [ok(3), err(ENOENT)]),
        ("mkdirat-cwd-climb", [("mkdirat", AT_FDCWD, "../outside/made", 0o755)], [err(ENOENT)]),
        (
            "renameat-dirfd-target",
            [sub_fd, ("renameat", AT_FDCWD, "/sub/file.txt", "x19", "../../outside/planted")],
            [ok(3), err(ENOENT)],
        ),
    ]


ATTEMPTS = attempts("/HOST/outside")  # names only: the real host path is filled in per test


@pytest.mark.parametrize("name", [a[0] for a in ATTEMPTS])
def test_escape_attempt_fails_as_on_a_mac_and_touches_nothing_outside(world: World, name: str) -> None:
    steps, expected = next((s, e) for n, s, e in attempts(str(world.outside)) if n == name)
    before = snapshot(world)
    inside_before = sorted(p.name for p in world.root.rglob("*"))
    run = guest_of(world, steps)
    assert run.status == 0
    assert run.results == expected
    assert snapshot(world) == before  # nothing outside read-modified, made or lost
    assert SECRET not in run.read("buf", 4096)  # nothing of it reached guest memory
    if name.startswith(("mkdir", "create", "rename", "link")):
        assert sorted(p.name for p in world.root.rglob("*")) == inside_before


def test_there_are_at_least_forty_escape_attempts() -> None:
    assert len(ATTEMPTS) >= 40
    assert len({a[0] for a in ATTEMPTS}) == len(ATTEMPTS)


def test_dotdot_above_the_root_lands_on_the_root_itself(world: World) -> None:
    paths: dict[str, str] = {}
    body = call("open", "/../../../x.txt", O_WRONLY | O_CREAT, 0o644, paths=paths)
    before = snapshot(world)
    text = "\n".join(f'{k}: .asciz "{v}"' for k, v in paths.items()) + "\n.p2align 2\n"
    run = run_guest(body, text=text, root=world.root, tmp=world.tmp)
    assert run.results == [ok(3)]
    assert (world.root / "x.txt").exists()  # created inside, as "/x.txt"
    assert snapshot(world) == before


def test_getdirentries64_of_the_root_shows_only_the_root(world: World) -> None:
    steps = [
        ("open", "/..", O_RDONLY | O_DIRECTORY, 0, {"save": "x19"}),
        ("getdirentries64", "x19", "buf:buf", 4096, "buf:basep"),
    ]
    paths: dict[str, str] = {}
    body = ""
    for name, *args in steps:
        save = args.pop()["save"] if isinstance(args[-1], dict) else ""
        body += call(name, *args, save=save, paths=paths)
    text = "\n".join(f'{k}: .asciz "{v}"' for k, v in paths.items()) + "\n.p2align 2\n"
    run = run_guest(
        body, text=text, data=".p2align 3\nbuf: .zero 4096\nbasep: .quad 7\n", root=world.root, tmp=world.tmp
    )
    n = run.results[1][0]
    assert run.results[1] == ok(n) and n > 0
    raw = run.read("buf", n)
    names, inos, at = [], {}, 0
    while at < n:
        ino, _, reclen, namlen, _ = struct.unpack_from("<QQHHB", raw, at)
        name = raw[at + 21 : at + 21 + namlen].decode()
        names.append(name)
        inos[name] = ino
        at += reclen
    assert names[:2] == [".", ".."]
    assert sorted(names[2:]) == sorted(p.name for p in world.root.iterdir())
    assert "outside" not in names and "root" not in names
    root_ino = os.stat(world.root).st_ino
    assert inos["."] == inos[".."] == root_ino  # "/.." is "/" and shows nothing above it
    assert os.stat(world.tmp).st_ino not in inos.values()


def test_f_getpath_reports_the_guest_path_never_the_host_one(world: World) -> None:
    paths: dict[str, str] = {}
    body = call("open", "/sub/../sub/deeper/../file.txt", O_RDONLY, 0, save="x19", paths=paths)
    body += call("fcntl", "x19", 50, "buf:buf", paths=paths)
    text = "\n".join(f'{k}: .asciz "{v}"' for k, v in paths.items()) + "\n.p2align 2\n"
    run = run_guest(body, text=text, data=".p2align 3\nbuf: .zero 4096\n", root=world.root, tmp=world.tmp)
    assert run.results == [ok(3), ok(0)]
    got = run.read("buf", 64).split(b"\0")[0]
    assert got == b"/sub/file.txt"
    assert str(world.tmp).encode() not in run.read("buf", 4096)
