"""emu/gdb/target.py in-process, without a socket: all-stop over forked processes, hooks only while set.

A small guest forks; the child calls ``child_work`` and exits 3, the parent
waits in wait4.  A breakpoint in ``child_work`` stops the child while the
parent is held (its wait4 given up, to be made again); each process carries
a hook for the breakpoint only while it is set.
"""

from __future__ import annotations

import threading
from pathlib import Path

from unicorn import arm64_const as A

from emu.assembler import assemble_text
from emu.gdb.target import BREAK_SW, Debugger
from emu.host import Host
from emu.loader import load_macho
from emu.machine import Machine
from emu.macho import write_macho

FORKING = """
_main:
    mov     x16, #2                 // fork
    svc     #0x80
    cbnz    x1, Lchild
    mov     x0, #0
    sub     x0, x0, #1              // any child
    mov     x1, #0
    mov     x2, #0
    mov     x3, #0
    mov     x16, #7                 // wait4
Lwait:
    svc     #0x80
    mov     x0, #0
    mov     x16, #1                 // exit(0)
    svc     #0x80
Lchild:
    bl      child_work
    mov     x0, #3
    mov     x16, #1                 // exit(3)
    svc     #0x80
child_work:
    add     x5, x5, #1
    ret
"""


def _start(tmp_path: Path) -> tuple[Machine, Debugger, dict[str, int], threading.Thread, list[int]]:
    asm = assemble_text(FORKING, "forking.s")
    image = load_macho(write_macho(asm, tmp_path / "forking"))
    m = Machine(image, Host(str(tmp_path)), ["forking"], assembly=asm, name="forking")
    dbg = Debugger(m.tree)
    status: list[int] = []
    run = threading.Thread(target=lambda: status.append(m.run()), daemon=True)
    run.start()
    return m, dbg, asm.symbols, run, status


def test_breakpoint_in_a_child_holds_the_parent_and_hooks_live_only_while_set(tmp_path: Path) -> None:
    m, dbg, sym, run, status = _start(tmp_path)
    first = dbg.wait_stop()
    assert first is not None and first.tid == m.proc.pid
    parent = dbg.thread(m.proc.pid)
    assert parent is not None and parent.hooks == []  # nothing set: no hook
    assert dbg.read_registers(parent)[32] == sym["_main"]
    assert dbg.insert(BREAK_SW, sym["child_work"], 4)
    assert dbg.resume({}, "run") is None
    hit = dbg.wait_stop()
    assert hit is not None and hit.tid != m.proc.pid  # the child stopped
    child = dbg.thread(hit.tid)
    assert child is not None and (child.place, child.what) == ("0.1", f"process 0.1 (pid {hit.tid})")
    assert dbg.read_registers(child)[32] == sym["child_work"]
    assert len(child.hooks) == 1 and len(parent.hooks) == 1  # one code hook each, for the breakpoint
    assert parent.parked and child.parked
    pc = dbg.read_registers(parent)[32]
    assert pc in (sym["Lwait"], sym["Lwait"] + 4) or pc < sym["Lwait"]  # held before, at or in wait4
    assert dbg.remove(BREAK_SW, sym["child_work"])
    assert dbg.resume({child.tid: "step"}, None) is None  # the child alone, one instruction
    step = dbg.wait_stop()
    assert step is not None and step.tid == child.tid
    assert dbg.read_registers(child)[32] == sym["child_work"] + 4
    assert child.hooks == []  # the breakpoint is gone: so is its hook (and the parent's, at its next run)
    assert dbg.read_registers(parent)[32] == pc  # the parent did not move
    assert dbg.resume({}, "run") is None
    end = dbg.wait_stop()
    assert end is not None and end.exited == 0
    run.join(30)
    assert status == [0]
    assert parent.hooks == []


def test_stepping_a_process_that_exits_tells_the_debugger(tmp_path: Path) -> None:
    m, dbg, sym, run, status = _start(tmp_path)
    dbg.wait_stop()
    exit_svc = sym["child_work"] - 4
    assert dbg.insert(BREAK_SW, exit_svc, 4)
    dbg.resume({}, "run")
    hit = dbg.wait_stop()
    assert hit is not None and hit.tid != m.proc.pid
    child = dbg.thread(hit.tid)
    assert child is not None and child.machine.uc.reg_read(A.UC_ARM64_REG_PC) == exit_svc
    dbg.resume({child.tid: "step"}, None)  # exit(3): the child ends, the parent is held
    stop = dbg.wait_stop()
    assert stop is not None and stop.tid == m.proc.pid and stop.signal == 0 and stop.exited is None
    assert dbg.thread(child.tid) is None
    dbg.detach()
    run.join(30)
    assert status == [0]
