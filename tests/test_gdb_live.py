"""gdb-multiarch against ymawky served under --gdb: a request stopped in do_get, inspected, stepped, let go.

The test is the user: gdb in batch mode sets a watchpoint on path_buf and a
breakpoint at do_get (by address, from the assembler's symbols), a raw-socket
client sends a GET from a thread, the forked child that serves it stops, and
after ``detach`` the client gets its whole answer.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from gdbclient import (
    ROOT,
    gdb_multiarch,
    get_in_background,
    run_gdb,
    serve_under_gdb,
)
from http1 import parse_response

from emu.assembler import assemble_file

pytestmark = pytest.mark.skipif(gdb_multiarch() is None, reason="gdb-multiarch is not installed (Debian package)")


def _reg(out: str, name: str) -> int:
    return int(re.search(rf"^{name}\s+(0x[0-9a-f]+)", out, re.M).group(1), 16)


def test_break_in_do_get_inspect_step_watch_detach(tmp_path: Path) -> None:
    sym = assemble_file(ROOT / "ymawky.s").symbols
    do_get, path_buf = sym["do_get"], sym["path_buf"]
    d = serve_under_gdb(tmp_path)
    answer: list[bytes] = []
    client = get_in_background(d.http_port, "/index.html", answer)
    try:
        out = run_gdb(
            d.gdb_port,
            [
                "info threads",
                f"watch *(long *){path_buf:#x}",
                "continue",
                "delete 1",
                f"break *{do_get:#x}",
                "continue",
                "info threads",
                "info registers",
                f"x/s {path_buf:#x}",
                "stepi",
                'printf "after stepi %#lx\\n", $pc',
                "detach",
            ],
        )
        client.join(60)
    finally:
        d.stop()
    # held at the entry point: one thread, process 0
    assert re.search(rf'\* 1\s+Thread \d+ "0" \(process 0 \(pid \d+\)\) 0x0*{sym["_main"]:x}', out), out
    # the watchpoint: the forked child writes "www/..." into path_buf, a byte at a time
    assert re.search(rf'Thread \d+ "0\.1" hit Hardware watchpoint 1: \*\(long \*\){path_buf:#x}', out), out
    assert re.search(rf"Old value = 0\s+New value = {ord('w')}\s", out), out
    # the breakpoint: process 0.1 stopped at do_get, process 0 held
    hit = re.search(rf'Thread (\d+) "0\.1" hit Breakpoint 2, 0x0*{do_get:x} in', out)
    assert hit, out
    assert re.search(rf'\* {hit.group(1)}\s+Thread \d+ "0\.1" \(process 0\.1 \(pid \d+\)\)', out), out
    assert re.search(r'  1\s+Thread \d+ "0" \(process 0 \(pid \d+\)\)', out), out
    assert _reg(out, "pc") == do_get
    assert _reg(out, "sp") % 16 == 0 and _reg(out, "x30") > sym["_main"]
    assert f'{path_buf:#x}:\t"www/index.html"' in out, out
    assert f"after stepi {do_get + 4:#x}" in out, out
    assert "[Inferior 1 (Remote target) detached]" in out, out
    status, _headers, body = parse_response(answer[0])
    assert status == 200 and body == (ROOT / "www" / "index.html").read_bytes()
