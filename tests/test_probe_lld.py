"""An outside-built program runs under run_emulated.py as it would on a Mac.

tests/progs/probe_dir.s is written in Apple's assembler dialect and built
by clang (-target arm64-apple-macos11) and ld64.lld, not by our toolchain.
It lists its working directory with getdirentries64, stat64s the regular
files, copies one with read/write and fstat64s the copy.  The expected
output is written out below from Darwin's rules (darwin-abi.md 3.1, 3.3):
DIRENT64_LEN = (namlen + 32) & ~7, *basep = the offset before the call, the
EOF flag word in the last 4 bytes of a 4096-byte buffer, 0 bytes at the end,
st_size/st_mode at their stat64 offsets.  The listing order is the
emulator's documented one ("." and "..", then names in byte order).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROBE = Path(__file__).resolve().parent / "progs" / "probe_dir.s"
CLANG, LLD = shutil.which("clang"), shutil.which("ld64.lld-14")


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not CLANG or not LLD:
        pytest.skip("needs clang and ld64.lld-14 (apt-get install clang lld-14)")
    out = tmp_path_factory.mktemp("probe")
    obj, exe = out / "probe_dir.o", out / "probe_dir"
    subprocess.run([CLANG, "-target", "arm64-apple-macos11", "-c", str(PROBE), "-o", str(obj)], check=True, timeout=60)
    subprocess.run(
        [LLD, "-arch", "arm64", "-platform_version", "macos", "11.0", "11.0", "-e", "_main", "-o", str(exe), str(obj)],
        check=True,
        timeout=60,
    )
    return exe


EXPECTED = """\
call base 0 eof 1 bytes 216
entry . type 4 namlen 1 reclen 32
entry .. type 4 namlen 2 reclen 32
entry a-name-of-twenty-one type 8 namlen 20 reclen 48
stat a-name-of-twenty-one size 0 mode 100600
entry data.txt type 8 namlen 8 reclen 40
stat data.txt size 2500 mode 100644
entry hello type 8 namlen 5 reclen 32
stat hello size 6 mode 100640
entry sub type 4 namlen 3 reclen 32
call base 6 eof 1 bytes 0
copied 2500 size 2500
"""


@pytest.mark.timeout(60)
def test_probe_lists_stats_and_copies_exactly_as_darwin_would(probe: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    data = bytes((i * 7 + 3) % 256 for i in range(2500))
    (root / "data.txt").write_bytes(data)
    (root / "data.txt").chmod(0o644)
    (root / "hello").write_bytes(b"hello\n")
    (root / "hello").chmod(0o640)
    (root / "a-name-of-twenty-one").write_bytes(b"")
    (root / "a-name-of-twenty-one").chmod(0o600)
    (root / "sub" / "not-listed").write_bytes(b"x")
    proc = subprocess.run(
        [sys.executable, "run_emulated.py", "--macho", str(probe), "--root", str(root)],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
    )
    assert proc.stderr == b""
    assert proc.returncode == 0
    assert proc.stdout.decode() == EXPECTED
    assert (root / "copy.txt").read_bytes() == data
    assert (root / "copy.txt").stat().st_mode & 0o777 == 0o644 & ~_umask()


def _umask() -> int:
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask
