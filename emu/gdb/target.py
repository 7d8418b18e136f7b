"""Guest processes held and resumed for a debugger (all-stop).

Owns: the breakpoints and watchpoints a debugger set, and the Unicorn hooks
that stand for them in each process; which process runs, steps or waits;
the stop event the debugger is told of; registers and memory of a held
process.  It does not speak the protocol (stub.py) nor step backwards
(reverse.py, which plugs in here for a replay).

Rules:
1. Each process's own thread changes its own Unicorn.  A process parks at
   its gate (``gate``, at the top of Machine.run_process's loop, between
   two runs of Unicorn) and only there are its hooks brought in line with
   the set breakpoints (``hook_add`` then ``ctl_flush_tb``, unicorn.md).
   The debugger's thread reads and writes registers and memory only of
   parked processes.
2. All-stop: when one process stops (breakpoint, watchpoint, step, fault,
   Ctrl-C) every other one is stopped (``emu_stop``, and its blocking call
   woken: it restarts later, as after a signal with SA_RESTART) and parks.
3. Without a debugger the tree has no Debugger: no hook, no check beyond
   one ``is None`` per run of Unicorn.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from unicorn import UC_HOOK_CODE, UC_HOOK_MEM_READ, UC_HOOK_MEM_WRITE, UC_MEM_WRITE, Uc, UcError
from unicorn import arm64_const as A

if TYPE_CHECKING:
    from emu.gdb.reverse import Timeline
    from emu.machine import Machine
    from emu.tree import ProcessTree

SIGINT, SIGTRAP = 2, 5  # gdb's numbering (the same as Darwin's for every signal a guest meets)
BREAK_SW, BREAK_HW, WATCH_WRITE, WATCH_READ, WATCH_ACCESS = range(5)  # the Z packet's types
WATCH_NAMES = {WATCH_WRITE: "watch", WATCH_READ: "rwatch", WATCH_ACCESS: "awatch"}
MAX_POINTS = 64  # breakpoints and watchpoints together: a hostile client cannot pile up hooks
MAX_WATCH_LEN = 1 << 16
KICK_S = 0.01  # how often a process that has not parked yet is stopped again
PARK_POLL_S = 0.1  # a parked process looks at the run's end this often

# org.gnu.gdb.aarch64.core's registers in gdb's order: (name, Unicorn's register, bytes)
REGISTERS = [(f"x{i}", getattr(A, f"UC_ARM64_REG_X{i}"), 8) for i in range(31)] + [
    ("sp", A.UC_ARM64_REG_SP, 8),
    ("pc", A.UC_ARM64_REG_PC, 8),
    ("cpsr", A.UC_ARM64_REG_NZCV, 4),  # NZCV: the only part of PSTATE that EL0 code sees
]
REGS = [reg for _, reg, _ in REGISTERS]
REG_BYTES = [size for *_, size in REGISTERS]


@dataclass(frozen=True)
class Point:
    kind: int
    addr: int
    length: int


@dataclass
class Stop:
    """Why the debugger has control: reported as ``T..`` (or ``W``/``X`` once every process ended)."""

    tid: int
    signal: int = SIGTRAP
    watch: tuple[str, int] | None = None  # ("watch" | "rwatch" | "awatch", data address)
    replaylog: str | None = None  # "begin" / "end": a replay reached the start / the end of its log
    exited: int | None = None  # the run ended with this status


@dataclass
class Thread:
    """A guest process as the debugger sees it."""

    machine: Machine
    tid: int  # the guest pid
    place: str  # in the fork tree: "0", "0.1" ... (gdb's thread name)
    what: str  # "process 0.1 (pid 1234)" (gdb's extra thread info)
    mode: str | None = None  # "run", "step", "reverse-step", "reverse-continue"; None: stay parked
    parked: bool = False
    ended: bool = False
    over: bool = False  # first run one instruction without breakpoints (resuming from one)
    quiet: bool = False  # hooks ignore hits (that one instruction)
    last: Stop | None = None
    pending: Stop | None = None  # a hit another process's stop got ahead of
    undo: list[tuple[int, bytes]] = field(default_factory=list)  # what watched stores overwrote (_on_mem)
    hooks: list[int] = field(default_factory=list)
    generation: int = -1  # of the breakpoint set its hooks stand for


class Debugger:
    """The debugger's side of a ProcessTree (``tree.debug``)."""

    def __init__(self, tree: ProcessTree, identity: Callable[[Machine], tuple[int, str, str]] | None = None) -> None:
        self.tree = tree
        self.cond = threading.Condition()
        self.threads: dict[Machine, Thread] = {}
        self.points: dict[tuple[int, int], Point] = {}
        self.generation = 0
        self.running = False  # the first process waits at its entry point
        self.stop: Stop | None = None
        self.new_mode: str | None = None  # what a process forked while running does
        self.detached = False
        self.timeline: Timeline | None = None  # a replay's reverse execution (reverse.py)
        # a process's thread id, place and description: its own, or a replay's recorded ones
        self._identity = identity or (lambda m: (m.proc.pid, m.proc.path, f"process {m.proc.path} (pid {m.proc.pid})"))
        self.order: list[Thread] = []
        tree.debug = self
        for m in list(tree.running):
            self.join(m)
        first = self.order[0]
        self.stop = Stop(first.tid)

    # ------------------------------------------------------------ processes (their own threads)
    def join(self, m: Machine) -> None:
        """A new process (the first, or a fork): it runs if everything runs, else it waits."""
        tid, place, what = self._identity(m)
        with self.cond:
            t = Thread(m, tid, place, what, mode=self.new_mode if self.running else None)
            self.threads[m] = t
            self.order.append(t)

    def gate(self, m: Machine) -> int:
        """Machine.run_process, between two runs: park while held; the instruction count for the next run."""
        t = self.threads[m]
        while True:
            with self.cond:
                if m._resume is not None:  # a call to restart: the debugger sees the svc
                    m.uc.reg_write(A.UC_ARM64_REG_PC, m._resume)
                    m._resume = None
                while not (self.detached or self.tree.halted or (self.running and t.mode is not None)):
                    if not t.parked:
                        t.parked = True
                        self.cond.notify_all()
                    self.cond.wait(PARK_POLL_S)
                t.parked = False
                mode = t.mode
            self._sync(t)
            if self.detached or self.tree.halted:
                return 0
            if mode in ("reverse-step", "reverse-continue"):
                assert self.timeline is not None
                self.report(t, self._reverse(t, mode))
                continue
            break
        if self.timeline is not None:
            return self.timeline.forward(t, mode)
        t.quiet = t.over
        return 1 if mode == "step" or t.over else 0

    def _reverse(self, t: Thread, mode: str) -> Stop:
        from emu.gdb.reverse import ReverseError

        assert self.timeline is not None
        try:
            return self.timeline.reverse(t, mode)
        except ReverseError as e:  # said in one line; the debugger gets a stop where the run is
            print(f"{t.machine.name}: gdb: {mode}: {e}", file=sys.stderr, flush=True)
            return Stop(t.tid, signal=0)

    def after_run(self, m: Machine) -> None:
        """Machine.run_process, after a run of Unicorn that ended without ending the process."""
        t = self.threads[m]
        for addr, old in reversed(t.undo):
            m.uc.mem_write(addr, old)
        t.undo.clear()
        if self.timeline is not None:
            done = self.timeline.stepped(t)
        else:
            done = t.mode == "step"  # one instruction ran (over a breakpoint, or not)
            t.over = t.quiet = False
        if done and self.stop is None:
            self.report(t, Stop(t.tid))

    def faulted(self, m: Machine, signal: int) -> None:
        """A guest fault: the debugger sees the signal, the process waits; once resumed it ends."""
        t = self.threads[m]
        if self.timeline is not None:
            self.timeline.faulted(t)
        self.report(t, Stop(t.tid, signal))
        self.gate(m)

    def ended(self, m: Machine, status: int) -> None:
        """The process is over (its own thread): its hooks go, the debugger hears if it was the last."""
        t = self.threads.pop(m)
        for h in t.hooks:
            m.uc.hook_del(h)
        if t.hooks:
            m.uc.ctl_flush_tb()
        t.hooks = []
        with self.cond:
            t.ended = True
            self.order = [x for x in self.order if x is not t]
            if not self.order and not self.detached:
                self.stop = Stop(t.tid, exited=status)
                self.running = False
            elif self.running and self.stop is None and not any(x.mode for x in self.order):
                # it was the one process let run (a step), the others are held: say so, or the
                # debugger would wait for ever
                self.stop = Stop(self.order[0].tid, signal=0)
                self.running = False
            self.cond.notify_all()

    def report(self, t: Thread, stop: Stop) -> None:
        """A process stopped: the first stop since the resume is the debugger's; every process parks."""
        with self.cond:
            t.last = stop
            if self.detached:
                return
            if self.stop is not None or not self.running:
                if stop.signal == SIGTRAP and t.mode is not None and self.stop is not None:
                    t.pending = stop  # told at the next resume, before anything runs
                return
            self.stop = stop
            self.running = False
            self.cond.notify_all()

    # ------------------------------------------------------------ hooks (the process's own thread)
    def _sync(self, t: Thread) -> None:
        """Bring this process's hooks in line with the breakpoint set (rule 1)."""
        if t.generation == self.generation and not self.detached:
            return
        uc = t.machine.uc
        for h in t.hooks:
            uc.hook_del(h)
        t.hooks = []
        t.generation = self.generation
        points = [] if self.detached else list(self.points.values())
        if self.timeline is not None and not self.detached:  # detached: the clock's hook goes too
            self.timeline.sync(t, points)
        else:
            for p in points:
                if p.kind in (BREAK_SW, BREAK_HW):
                    t.hooks.append(uc.hook_add(UC_HOOK_CODE, self._on_code(t), begin=p.addr, end=p.addr))
        for p in points:
            if p.kind in WATCH_NAMES:
                kinds = {WATCH_WRITE: UC_HOOK_MEM_WRITE, WATCH_READ: UC_HOOK_MEM_READ}
                hook = kinds.get(p.kind, UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE)
                # an access that starts up to 7 bytes before the range still overlaps it
                begin = max(0, p.addr - 7)
                t.hooks.append(uc.hook_add(hook, self._on_mem(t, p), begin=begin, end=p.addr + p.length - 1))
        uc.ctl_flush_tb()

    def _on_code(self, t: Thread) -> Callable[[Uc, int, int, object], None]:
        def hit(uc: Uc, addr: int, _size: int, _data: object) -> None:
            if not t.quiet:
                self.report(t, Stop(t.tid))
                uc.emu_stop()

        return hit

    def _on_mem(self, t: Thread, p: Point) -> Callable[[Uc, int, int, int, int, object], bool]:
        def hit(uc: Uc, access: int, addr: int, size: int, _value: int, _data: object) -> bool:
            if t.quiet or addr + size <= p.addr or addr >= p.addr + p.length:
                return True
            if self.timeline is not None and not self.timeline.watch_hit(t, p, addr):
                return True
            # the access is within the instruction, which Unicorn starts again after the stop:
            # the stop is before it, as aarch64's watchpoints are (gdb then steps over it).  A
            # store is still made before the stop takes effect, so what it overwrites is put back
            if access == UC_MEM_WRITE:
                t.undo.append((addr, bytes(uc.mem_read(addr, size))))
            self.report(t, Stop(t.tid, watch=(WATCH_NAMES[p.kind], max(addr, p.addr))))
            uc.emu_stop()
            return True

        return hit

    # ------------------------------------------------------------ the debugger's thread
    def wait_stop(self, interrupted: Callable[[], bool] = lambda: False) -> Stop | None:
        """Wait for the next stop, then hold every process (rule 2); None if ``interrupted``."""
        with self.cond:
            while self.stop is None:
                if interrupted():
                    return None
                self.cond.wait(PARK_POLL_S)
            stop = self.stop
        self.hold_all()
        return stop

    def interrupt(self) -> None:
        """Ctrl-C from the debugger: the process it resumed last (or the first) stops."""
        with self.cond:
            if self.stop is not None or not self.order:
                return
            t = next((x for x in self.order if x.mode is not None), self.order[0])
            self.stop = Stop(t.tid, SIGINT)
            self.running = False
            self.cond.notify_all()
        # hold_all stops the processes (the debugger's thread calls it after this)

    def hold_all(self) -> None:
        while True:
            with self.cond:
                moving = [t for t in self.order if not t.parked and not t.ended]
                if not moving or self.tree.halted:
                    return
            for t in moving:
                self._kick(t.machine)
            with self.cond:
                self.cond.wait(KICK_S)

    def _kick(self, m: Machine) -> None:
        if self.timeline is not None:  # a stop from this thread could land between the clock's hook
            self.timeline.halt = True  # and its instruction: the hook stops the run itself
            return
        with m.cpu_lock:
            if not m.ended:
                m.host.interrupt()
                m.uc.emu_stop()

    def resume(self, modes: dict[int, str], others: str | None) -> Stop | None:
        """Run again: ``modes`` by thread id, ``others`` for the rest.  A hit that was waiting
        (a process that stopped at the same time as the one reported) is reported at once."""
        with self.cond:
            for t in self.order:
                if t.pending is not None:
                    stop, t.pending = t.pending, None
                    self.stop = stop
                    return stop
            self.stop = None
            for t in self.order:
                t.mode = modes.get(t.tid, others)
                pc = t.machine.uc.reg_read(A.UC_ARM64_REG_PC)
                at_break = any(p.kind in (BREAK_SW, BREAK_HW) and p.addr == pc for p in self.points.values())
                t.over = t.mode in ("run", "step") and (at_break or (t.last is not None and t.last.watch is not None))
            self.new_mode = others
            self.running = True
            self.cond.notify_all()
        return None

    def detach(self) -> None:
        """Every hook goes (each process removes its own at its gate) and everything runs on."""
        with self.cond:
            self.points.clear()
            self.generation += 1
            self.detached = True
            self.running = True
            self.cond.notify_all()
        self.tree.debug = None

    def kill(self) -> None:
        self.detach()
        self.tree.halt(137)  # 128 + SIGKILL

    # ------------------------------------------------------------ points
    def insert(self, kind: int, addr: int, length: int) -> bool:
        if kind not in (BREAK_SW, BREAK_HW, *WATCH_NAMES) or addr < 0 or addr >> 64:
            return False
        if kind in WATCH_NAMES and not 0 < length <= MAX_WATCH_LEN:
            return False
        with self.cond:
            key = (kind, addr)
            if key not in self.points and len(self.points) >= MAX_POINTS:
                return False
            self.points[key] = Point(kind, addr, length)
            self.generation += 1
        return True

    def remove(self, kind: int, addr: int) -> bool:
        with self.cond:
            if self.points.pop((kind, addr), None) is None:
                return kind in (BREAK_SW, BREAK_HW, *WATCH_NAMES)  # nothing there is not an error
            self.generation += 1
        return True

    # ------------------------------------------------------------ held processes
    def thread(self, tid: int) -> Thread | None:
        with self.cond:
            return next((t for t in self.order if t.tid == tid), None)

    def read_registers(self, t: Thread) -> list[int]:
        return [t.machine.uc.reg_read(r) for r in REGS]

    def write_register(self, t: Thread, n: int, value: int) -> None:
        t.machine.uc.reg_write(REGS[n], value)

    def read_memory(self, t: Thread, addr: int, n: int) -> bytes:
        """What can be read from ``addr`` on (a prefix when the map ends); b"" if nothing."""
        uc = t.machine.uc
        try:
            return bytes(uc.mem_read(addr, n))
        except UcError:
            pass
        out = b""
        while len(out) < n:  # up to where the mapping ends
            step = min(n - len(out), 0x1000 - (addr + len(out)) % 0x1000)
            try:
                out += bytes(uc.mem_read(addr + len(out), step))
            except UcError:
                break
        return out

    def write_memory(self, t: Thread, addr: int, data: bytes) -> bool:
        if not data:
            return True
        try:
            t.machine.uc.mem_read(addr, len(data))  # every byte mapped, or nothing is written
            t.machine.uc.mem_write(addr, data)
        except UcError:
            return False
        return True
