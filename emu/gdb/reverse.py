"""Running a replay backwards: instruction-exact time, snapshots, re-execution.

Owns: the replayed process's clock (instructions executed since its
start, counted by one code hook installed only while a debugger is on a
replay), a snapshot every ``every`` instructions (registers by
``context_save``, the writable pages that differ from the start, the
replay's own position in the syscall log and the process's signal state),
the stop before the call that ends the log, and the two reverse motions:
``reverse-step`` goes to time ``now - 1`` and ``reverse-continue`` to the
last breakpoint or watchpoint hit before now (or to the start).

Why it is exact: a replay is deterministic (every syscall answer comes
from the log), so restoring the nearest earlier snapshot and running
forward with breakpoints quiet reaches any earlier time with the very
registers and memory the first run had.  Memory is compared by pages of
``PAGE`` bytes against the start, so a snapshot holds only what changed.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from unicorn import UC_HOOK_CODE, Uc
from unicorn import arm64_const as A

from emu.gdb.target import BREAK_HW, BREAK_SW, Point, Stop, Thread

if TYPE_CHECKING:
    from emu.gdb.target import Debugger
    from emu.machine import Machine
    from emu.replay import Replayer

SNAPSHOT_EVERY = 4096  # instructions between snapshots: the most a reverse step re-executes
PAGE = 4096
SVC = 0xD4001001  # svc #0x80: where the replay can reach the end of its log
# what a replayed process keeps outside Unicorn that a run changes (besides the clock)
MACHINE_FIELDS = ("status", "fault", "error", "_resume", "trapped", "killed", "_blocks", "_signalled")
REPLAYER_FIELDS = ("pos", "forks", "log", "replayed", "truncated")


class ReverseError(Exception):
    """Going back failed (the process ended or faulted while re-executing): a bug, or a changed map."""


@dataclass
class Snapshot:
    time: int
    context: Any  # UcContext
    regions: list[tuple[int, int, int]]
    pages: dict[int, bytes]  # page address -> bytes, where it differs from the start
    state: dict[str, Any]


class Timeline:
    """Time and snapshots of the one process a replay runs, for the Debugger (``debugger.timeline``)."""

    def __init__(self, debugger: Debugger, machine: Machine, replayer: Replayer, every: int = SNAPSHOT_EVERY) -> None:
        self.dbg, self.machine, self.replayer, self.every = debugger, machine, replayer, every
        self.now = 0  # instructions executed
        self.target: int | None = None  # stop before instruction number ``target``
        self.skip_at: int | None = None  # the instruction a resume starts on: its breakpoint has fired
        self.quiet = False  # going to a time: breakpoints do not fire
        self.scan: list[tuple[int, Stop]] | None = None  # collecting hits instead of stopping
        self.breaks: set[int] = set()
        self.snaps: dict[int, Snapshot] = {}
        self.base: dict[int, bytes] = {}  # writable memory at time 0, by region start
        self.thread: Thread | None = None
        self.halt = False  # the debugger wants the run stopped (Ctrl-C, all-stop): at the next hook
        self.svcs = _svc_addresses(machine)
        debugger.timeline = self

    # ------------------------------------------------------------ hooks (the process's thread)
    def sync(self, t: Thread, points: list[Point]) -> None:
        """The clock's code hook, which also checks breakpoints (Debugger._sync)."""
        self.thread = t
        self.breaks = {p.addr for p in points if p.kind in (BREAK_SW, BREAK_HW)}
        t.hooks.append(t.machine.uc.hook_add(UC_HOOK_CODE, self._on_code))
        if not self.snaps:
            self.snaps[0] = self._snapshot(t.machine.uc.reg_read(A.UC_ARM64_REG_PC))

    def _on_code(self, uc: Uc, addr: int, _size: int, _data: object) -> None:
        now = self.now
        if now == self.target or self.halt:
            uc.emu_stop()
            return
        if now % self.every == 0 and now not in self.snaps:
            self.snaps[now] = self._snapshot(addr)
        if addr in self.svcs and self.scan is None and not self.quiet and now != self.skip_at and self._at_end():
            # the next call ends the recorded process: stop before it, so the way back stays open
            self.dbg.report(self.thread, Stop(self.thread.tid, replaylog="end"))
            uc.emu_stop()
            return
        if addr in self.breaks and not self.quiet and now != self.skip_at:
            stop = Stop(self.thread.tid)
            if self.scan is not None:
                self.scan.append((now, stop))
            else:
                self.dbg.report(self.thread, stop)
                uc.emu_stop()
                return
        self.now = now + 1

    def _at_end(self) -> bool:
        """The replay's next syscall ends the process (exit, a signal, the log's end), on the last log."""
        rp = self.replayer
        if rp.chain:
            return False  # a parent's log: the replay goes on in a child
        if rp.pos >= len(rp.log.calls):
            return True
        call = rp.log.calls[rp.pos]
        if call.raised == "SigReturn":
            return False  # no return value, but the process goes on where the signal came in
        return call.ret is None or call.exit is not None or call.killed is not None

    def watch_hit(self, t: Thread, p: Point, addr: int) -> bool:
        """A watched access by instruction ``now - 1``: True to stop before it (it runs again)."""
        index = self.now - 1
        if self.quiet or index == self.skip_at:
            return False
        if self.scan is not None:
            from emu.gdb.target import WATCH_NAMES

            self.scan.append((index, Stop(t.tid, watch=(WATCH_NAMES[p.kind], max(addr, p.addr)))))
            return False
        self.now = index
        return True

    def faulted(self, t: Thread) -> None:
        self.now -= 1  # the faulting instruction did not complete

    # ------------------------------------------------------------ forward (Debugger.gate)
    def forward(self, t: Thread, mode: str | None) -> int:
        self.halt = False
        self.skip_at = self.now
        self.target = self.now + 1 if mode == "step" else None
        self.quiet, self.scan = False, None
        return 0

    def stepped(self, t: Thread) -> bool:
        done = self.target is not None and self.now == self.target
        if done:
            self.target = None
        return done

    # ------------------------------------------------------------ backward
    def reverse(self, t: Thread, mode: str) -> Stop:
        if mode == "reverse-step":
            if self.now == 0:
                return Stop(t.tid, replaylog="begin")
            self.seek(self.now - 1)
            return Stop(t.tid)
        end = self.now
        starts = sorted(k for k in self.snaps if k < end)
        upto, span = len(starts), 1
        while upto > 0 and self.dbg.points:
            # scan back a window of snapshots twice as wide each time: the run is as long as the
            # way back to the hit, and the restores are a handful even when it is far
            first = max(0, upto - span)
            hits: list[tuple[int, Stop]] = []
            self._restore(self.snaps[starts[first]])
            self._run_to(end, hits)
            if hits:
                when, stop = max(hits, key=lambda h: h[0])
                self.seek(when)
                return stop
            end, upto, span = starts[first], first, span * 2
        self.seek(0)
        return Stop(t.tid, replaylog="begin")

    def seek(self, when: int) -> None:
        """Go to time ``when`` (at most now): the nearest snapshot, then forward, quietly."""
        start = max(k for k in self.snaps if k <= when)
        self._restore(self.snaps[start])
        self._run_to(when, None)

    def _run_to(self, when: int, scan: list[tuple[int, Stop]] | None) -> None:
        m = self.machine
        self.target, self.scan, self.quiet, self.skip_at = when, scan, scan is None, None
        self.halt = False
        try:
            while self.now < when:
                m._deliver()  # as Machine.run_process does between runs: a signal the log delivers here
                pc, m._resume = (m._resume or m.uc.reg_read(A.UC_ARM64_REG_PC)), None
                m.uc.emu_start(pc, 1)
                if m.status is not None or m.error is not None or m.trapped or m.killed is not None:
                    raise ReverseError(f"the process ended while going back to instruction {when}")
                m.fault = None  # as in run_process: a stop is not a fault
        finally:
            self.target, self.scan, self.quiet = None, None, False

    # ------------------------------------------------------------ snapshots
    def _regions(self) -> list[tuple[int, int]]:
        return sorted(self.machine.mem.writable)

    def _snapshot(self, pc: int) -> Snapshot:
        m, uc = self.machine, self.machine.uc
        pages: dict[int, bytes] = {}
        for lo, hi in self._regions():
            now = bytes(uc.mem_read(lo, hi - lo))
            base = self.base.setdefault(lo, now)
            if now == base:
                continue
            for off in range(0, hi - lo, PAGE):
                if now[off : off + PAGE] != base[off : off + PAGE]:
                    pages[lo + off] = now[off : off + PAGE]
        ctx = uc.context_save()
        state = {f"m.{k}": getattr(m, k) for k in MACHINE_FIELDS}
        state |= {f"r.{k}": getattr(self.replayer, k) for k in REPLAYER_FIELDS}
        state["m.replay_signals"] = list(m.replay_signals)
        state["r.chain"] = list(self.replayer.chain)
        state["r.recent"] = deque(self.replayer.recent, maxlen=self.replayer.recent.maxlen)
        state["pc"] = pc
        sig = m.proc.signals
        state["signals"] = (dict(sig.actions), sig.mask, set(sig.pending), sig.catching, sig._token_key)
        return Snapshot(self.now, ctx, list(uc.mem_regions()), pages, state)

    def _restore(self, snap: Snapshot) -> None:
        m, uc = self.machine, self.machine.uc
        if list(uc.mem_regions()) != snap.regions:
            raise ReverseError("the address space changed since the snapshot (mmap): cannot go back")
        for lo, hi in self._regions():
            base = self.base[lo]
            now = bytes(uc.mem_read(lo, hi - lo))
            for off in range(0, hi - lo, PAGE):
                want = snap.pages.get(lo + off, base[off : off + PAGE])
                if now[off : off + PAGE] != want:
                    uc.mem_write(lo + off, want)
        uc.context_restore(snap.context)
        uc.reg_write(A.UC_ARM64_REG_PC, snap.state["pc"])
        sig = m.proc.signals
        actions, sig.mask, pending, sig.catching, sig._token_key = snap.state["signals"]
        sig.actions, sig.pending = dict(actions), set(pending)
        for key, value in snap.state.items():
            who, _, name = key.partition(".")
            if who == "m":
                setattr(m, name, list(value) if name == "replay_signals" else value)
            elif who == "r":
                copy = list(value) if name == "chain" else value
                if name == "recent":
                    copy = deque(value, maxlen=value.maxlen)
                setattr(self.replayer, name, copy)
        self.now = snap.time


def _svc_addresses(machine: Machine) -> frozenset[int]:
    """Every ``svc #0x80`` of the executable's code, found by its encoding."""
    import struct

    found = set()
    for seg in machine.image.segments:
        if seg.prot & 4:
            for i, (word,) in enumerate(struct.iter_unpack("<I", seg.data[: len(seg.data) // 4 * 4])):
                if word == SVC:
                    found.add(seg.vmaddr + 4 * i)
    return frozenset(found)
