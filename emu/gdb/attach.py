"""Putting a debugger on a run: a live tree of processes, or one replayed process.

Owns only the wiring (Debugger, Timeline for a replay, Server); the
command line (run_emulated.py --gdb) and the tests call these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from emu.gdb.reverse import Timeline
from emu.gdb.stub import Server
from emu.gdb.target import Debugger

if TYPE_CHECKING:
    from emu.machine import Machine
    from emu.replay import Replayer


def attach_live(machine: Machine, port: int) -> Server:
    """Hold the first process at its entry point and serve gdb on 127.0.0.1:``port``."""
    assert machine.tree is not None
    return Server(Debugger(machine.tree), port)


def attach_replay(machine: Machine, replayer: Replayer, port: int) -> Server:
    """The same for a replay of one process, which also runs backwards (reverse.py).  Its one
    thread carries the recorded pid and place in the fork tree of the process replayed."""
    assert machine.tree is not None
    target = replayer.rec.processes[replayer.target]
    what = f"process {target.proc} (recorded pid {target.pid})"
    dbg = Debugger(machine.tree, identity=lambda _m: (target.pid, target.proc, what))
    Timeline(dbg, machine, replayer)
    return Server(dbg, port)
