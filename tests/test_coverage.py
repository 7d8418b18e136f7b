"""--coverage: which ymawky.s lines ran, in every process, as an lcov tracefile."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from server import ROOT, Server

from emu.assembler import assemble_text
from emu.coverage import Record, code_lines, format_lcov, read_lcov

SOURCE = ROOT / "ymawky.s"
LABEL = re.compile(r"^([A-Za-z_][\w]*):")


def routine_lines(name: str) -> list[int]:
    """The code lines of a routine: from its label to the next non-local label."""
    src = SOURCE.read_text().splitlines()
    start = next(i for i, line in enumerate(src) if line.startswith(f"{name}:"))
    out = []
    for i in range(start + 1, len(src)):
        m = LABEL.match(src[i])
        if m and not m.group(1).startswith("L"):
            break
        text = src[i].split("//", 1)[0].strip()
        if text and not text.endswith(":") and not text.startswith("."):
            out.append(i + 1)
    return out


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cov") / "ymawky.info"
    srv = Server(extra=["--coverage", str(path)])
    try:
        for target in ("/hello.txt", "/", "/no-such-file"):
            srv.request(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        time.sleep(0.5)  # the children write their counts as they exit
    finally:
        status, _, err = srv.stop()
    assert "Traceback" not in err
    return path


@pytest.fixture(scope="module")
def lcov(report: Path) -> dict[int, int]:
    records = read_lcov(report.read_text())
    assert list(records) == [str(SOURCE.resolve())]
    return records[str(SOURCE.resolve())].lines


def test_serve_file_lines_ran_in_the_children(lcov: dict[int, int]) -> None:
    lines = routine_lines("serve_file")
    assert lines and all(n in lcov for n in lines)
    assert lcov[lines[0]] >= 2  # /hello.txt and / (index.html): only children run it


def test_a_routine_no_request_used_did_not_run(lcov: dict[int, int]) -> None:
    lines = routine_lines("do_delete")
    assert lines and all(lcov.get(n) == 0 for n in lines)


def test_only_instruction_lines_are_reported(lcov: dict[int, int]) -> None:
    src = SOURCE.read_text().splitlines()
    for n in lcov:
        text = src[n - 1].split("//", 1)[0].strip()
        assert text and not text.startswith("."), (n, src[n - 1])


@pytest.mark.skipif(shutil.which("genhtml") is None, reason="genhtml (lcov) not installed")
def test_genhtml_renders_the_report(report: Path, tmp_path: Path) -> None:
    out = subprocess.run(
        ["genhtml", str(report), "-o", str(tmp_path / "html")], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "html" / "index.html").exists()


def test_the_tracefile_is_all_it_leaves_in_its_folder(report: Path) -> None:
    """Writers lock in the temporary folder: no .lock beside coverage.info (issue 14)."""
    assert [p.name for p in report.parent.iterdir()] == [report.name]


def test_counts_add_up_across_processes_and_runs(tmp_path: Path) -> None:
    a = Record({10: 1, 11: 0}, {"f": (10, 1)})
    b = Record({10: 2, 11: 3, 12: 0}, {"f": (10, 2), "g": (12, 0)})
    text = format_lcov({"/x.s": a})
    merged = read_lcov(text)["/x.s"].merged(b)
    again = read_lcov(format_lcov({"/x.s": merged}))["/x.s"]
    assert again.lines == {10: 3, 11: 3, 12: 0}
    assert again.functions == {"f": (10, 3), "g": (12, 0)}
    assert "end_of_record" in text and "DA:10,1" in text and "LH:1" in text


def test_code_lines_skip_labels_directives_and_data(tmp_path: Path) -> None:
    src = tmp_path / "t.s"
    src.write_text('_main:\n    mov x0, #1   // one\nLa: add x0, x0, #1\n    .p2align 2\nmsg: .ascii "hi"\n    ret\n')
    lines = code_lines(assemble_text(src.read_text(), str(src), cache=False))
    assert sorted(lines) == [2, 3, 6]
