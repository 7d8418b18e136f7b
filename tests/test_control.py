"""The --control socket (emu/control.py): ps and kill for processes a host ps cannot see."""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from emu.control import Control, ask, parse_signal
from syscalls.procs import ProcessTable

pytestmark = pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="Unix-domain sockets")


@pytest.fixture
def control() -> tuple[Control, ProcessTable]:
    table = ProcessTable(first_pid=700, first_ppid=1, pgid=700)
    path = Path(tempfile.mkdtemp(prefix="ymawky-ctl-")) / "c"
    c = Control(path, SimpleNamespace(procs=table))  # type: ignore[arg-type]
    yield c, table
    c.close()
    assert not path.exists()


def test_ps_lists_every_guest_process_with_its_place_and_state(control: tuple[Control, ProcessTable]) -> None:
    c, table = control
    a = table.fork(table.first)
    b = table.fork(a)
    table.exit(b, 0)
    assert ask(c.path, "ps") == f"700 1 0 R\n{a.pid} 700 0.1 R\n{b.pid} {a.pid} 0.1.1 Z\n.\n"


def test_kill_posts_a_darwin_signal_to_a_guest_process_only(control: tuple[Control, ProcessTable]) -> None:
    c, table = control
    a = table.fork(table.first)
    assert ask(c.path, f"kill {a.pid} SIGUSR1") == "ok\n"
    assert ask(c.path, f"kill {a.pid} term") == "ok\n"
    assert a.signals.pending == {30, 15}  # Darwin's SIGUSR1 is 30, not Linux's 10
    assert ask(c.path, f"kill {os.getpid() + 100000} KILL").startswith("error: ")  # not a guest's
    assert ask(c.path, f"kill {a.pid} NOPE") == "error: no signal 'NOPE'\n"
    assert ask(c.path, "shutdown").startswith("error: commands are")


def test_signal_names_and_numbers() -> None:
    assert parse_signal("SIGTERM") == parse_signal("TERM") == parse_signal("15") == 15
    assert parse_signal("usr2") == 31
    for bad in ("0", "32", "SIGFOO", ""):
        with pytest.raises(ValueError):
            parse_signal(bad)
