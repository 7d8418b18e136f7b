"""Debugging by ymawky.s line: the stub (emu/gdb/) with the DWARF of ``--build OUT`` (emu/dwarf.py).

The Done-when of issue 16 as a user meets it: gdb-multiarch loads OUT.debug,
breaks in do_get by name, stops at a ymawky.s line, ``next`` goes to the next
line, ``bt`` walks the x29 frames; on a recording, a breakpoint on the
sendfile line and ``reverse-continue`` back to the open line; lldb loads the
Mach-O, attaches with ``gdb-remote`` and names the source line it stopped at.
Expected lines come from ymawky.s itself and the assembler's line map.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from gdbclient import (
    ROOT,
    Debuggee,
    gdb_multiarch,
    get_in_background,
    run_gdb,
    run_lldb,
    serve_under_gdb,
)
from http1 import parse_response

from emu.assembler import assemble_file

needs_gdb = pytest.mark.skipif(gdb_multiarch() is None, reason="gdb-multiarch is not installed (Debian package)")
SOURCE = (ROOT / "ymawky.s").read_text().splitlines()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``run_emulated.py --build OUT``: the Mach-O (DWARF for lldb) and OUT.debug (for gdb)."""
    out = tmp_path_factory.mktemp("build") / "ymawky"
    cmd = [sys.executable, str(ROOT / "run_emulated.py"), "--build", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert out.is_file() and out.with_name("ymawky.debug").is_file()
    return out


def line_after(label: str, text: str) -> int:
    """The ymawky.s line of the first ``text`` after ``label:`` (1-based)."""
    start = SOURCE.index(f"{label}:")
    return next(i for i in range(start, len(SOURCE)) if SOURCE[i].strip().startswith(text)) + 1


@needs_gdb
def test_gdb_breaks_in_do_get_by_name_and_steps_by_source_line(built: Path, tmp_path: Path) -> None:
    asm = assemble_file(ROOT / "ymawky.s")
    do_get = asm.symbols["do_get"]
    first, second = asm.line_of(do_get), asm.line_of(do_get + 4)
    assert first is not None and second is not None and second > first
    d = serve_under_gdb(tmp_path)
    answer: list[bytes] = []
    client = get_in_background(d.http_port, "/index.html", answer)
    try:
        out = run_gdb(
            d.gdb_port,
            ["break do_get", "continue", "info line *$pc", "next", "info line *$pc", "bt", "x/s &path_buf", "detach"],
            symbols=built.with_name("ymawky.debug"),
        )
        client.join(60)
    finally:
        d.stop()
    assert re.search(rf"Breakpoint 1 at {do_get:#x}: file ymawky\.s, line {first}\.", out), out
    assert re.search(rf'Thread \d+ "0\.1" hit Breakpoint 1, do_get \(\) at ymawky\.s:{first}\n', out), out
    assert f'Line {first} of "ymawky.s" starts at address {do_get:#x} <do_get>' in out, out
    assert f'Line {second} of "ymawky.s" starts at address {do_get + 4:#x} <do_get+4>' in out, out  # after next
    frames = re.findall(r"^#\d+\s+(?:0x[0-9a-f]+ in )?(\w+) \(\) at ymawky\.s:\d+", out, re.M)
    assert frames == ["do_get", "answer_request", "handle_connection", "accept_loop"], out
    assert "Backtrace stopped" not in out, out  # the accept loop is the outermost frame (.debug_frame)
    assert '<path_buf>:\t"www/index.html"' in out, out
    assert "[Inferior 1 (Remote target) detached]" in out, out
    status, _headers, body = parse_response(answer[0])
    assert status == 200 and body == (ROOT / "www" / "index.html").read_bytes()


@needs_gdb
def test_gdb_goes_back_on_a_recording_from_sendfile_to_open_by_source_line(built: Path, tmp_path: Path) -> None:
    open_line = line_after("do_get", "SYSCALL SYS_open")
    sendfile_line = line_after("send_file_range", "SYSCALL SYS_sendfile")
    d = Debuggee(["--replay", str(ROOT / "tests" / "replays" / "get"), "--process", "0.1"], tmp_path)
    try:
        out = run_gdb(
            d.gdb_port,
            [
                f"break ymawky.s:{open_line}",
                f"break ymawky.s:{sendfile_line}",
                "continue",
                "continue",
                "bt 3",
                "reverse-continue",
                "x/s &path_buf",
                "detach",
            ],
            symbols=built.with_name("ymawky.debug"),
        )
        assert d.proc.wait(60) == 0
    finally:
        d.stop()
    hits = re.findall(r"^Breakpoint (\d), (\w+) \(\) at ymawky\.s:(\d+)$", out, re.M)
    assert hits == [
        ("1", "do_get", str(open_line)),
        ("2", "send_file_range", str(sendfile_line)),
        ("1", "do_get", str(open_line)),  # reverse-continue: back at the open
    ], out
    assert re.search(r"^#1\s+0x[0-9a-f]+ in serve_file \(\) at ymawky\.s:\d+", out, re.M), out
    assert '<path_buf>:\t"www/hello.txt"' in out, out
    assert "replay: 1 process(es), 45 syscalls: all as recorded" in d.stderr()


@pytest.mark.skipif(shutil.which("lldb") is None, reason="lldb is not installed (Debian package lldb)")
def test_lldb_attaches_with_gdb_remote_and_names_the_source_line(built: Path, tmp_path: Path) -> None:
    open_line = line_after("do_get", "SYSCALL SYS_open")
    d = Debuggee(["--replay", str(ROOT / "tests" / "replays" / "get"), "--process", "0.1"], tmp_path)
    try:
        cmds = [
            f"target create {built}",
            f"gdb-remote 127.0.0.1:{d.gdb_port}",
            "target modules load --file ymawky --slide 0",  # no dyld to say where the image lies
            f"breakpoint set -f ymawky.s -l {open_line}",
            "process continue",
            "image lookup -v -a $pc",
            "process detach",
        ]
        out = run_lldb(cmds)
        assert d.proc.wait(60) == 0
    finally:
        d.stop()
    assert "stop reason = breakpoint 1.1" in out, out
    assert re.search(rf"LineEntry: \[0x[0-9a-f]+-0x[0-9a-f]+\): \S*ymawky\.s:{open_line}\n", out), out
    assert "Summary: ymawky`do_get + " in out, out
