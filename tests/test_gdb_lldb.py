"""lldb's gdb-remote against the same stub: a second debugger, with its own reading of the protocol.

lldb learns the registers from our target.xml, stops at a breakpoint in
do_get of a replayed GET, reads path_buf and steps one instruction.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from gdbclient import ROOT, Debuggee, run_lldb

from emu.assembler import assemble_file

pytestmark = pytest.mark.skipif(shutil.which("lldb") is None, reason="lldb is not installed (Debian package lldb)")


def test_lldb_breaks_reads_memory_and_steps_on_a_replay(tmp_path: Path) -> None:
    sym = assemble_file(ROOT / "ymawky.s").symbols
    do_get, path_buf = sym["do_get"], sym["path_buf"]
    d = Debuggee(["--replay", str(ROOT / "tests" / "replays" / "get"), "--process", "0.1"], tmp_path)
    try:
        cmds = [
            f"gdb-remote 127.0.0.1:{d.gdb_port}",
            f"breakpoint set -a {do_get:#x}",
            "process continue",
            "register read pc",
            f"memory read -s1 -c16 -fc {path_buf:#x}",
            "thread step-inst",
            "register read pc",
            "process detach",
        ]
        out = run_lldb(cmds)
        assert d.proc.wait(60) == 0  # detached: the replay ran to its recorded end
    finally:
        d.stop()
    assert "stop reason = breakpoint 1.1" in out, out
    pcs = [int(x, 16) for x in re.findall(r"pc = (0x[0-9a-f]+)", out)]
    assert pcs == [do_get, do_get + 4], out
    assert f"{path_buf:#x}: www/hello.txt" in out, out
    assert "replay: 1 process(es), 45 syscalls: all as recorded" in d.stderr()
