"""The routine call stack of one guest process, followed from block hooks only.

Owns: finding the calls and returns of a program (a block that ends in
``bl``/``blr`` enters its target, one that ends in ``ret`` goes back),
the stack of open routines, the guest instructions run under each stack
(exact: the sizes of the blocks Unicorn runs) and the spans a timeline
draws (emu/timeline.py's ``Track``).  Knows nothing about files.

Rules:
1. One block hook, no instruction hook.  A block hook runs before its
   block, so a call or return is acted on at the next block: that block's
   address is where the call went (the callee) or where the return
   landed.  The time and count of the move are those of the end of the
   block that held the ``bl`` or ``ret``.
2. A return goes back to the innermost open routine whose return address
   it lands on.  A ``b`` from one routine to the start of another (``_main``
   going on in ``accept_loop``) opens a frame that no return matches: the
   next return pops it with its caller, as a tail call does; a ``b`` to a
   routine already open goes back to it.  A return that matches no frame
   closes one (the bottom one is replaced by the routine it lands in: the
   stack starts where tracing started, its callers unknown).
3. A signal handler is a frame of its own, from the kernel's entry into
   the trampoline to ``sigreturn``; a block counted just as a signal came
   in (a hook delivers at block starts) did not run, and is taken back.
   With ``--trace-range`` only blocks that start in a range are seen: a
   call out of it is not followed, and a routine opens at its first block
   seen.
4. After a stop, Unicorn may call a block hook twice for the first block
   it runs (unicorn-engine/unicorn#1193), with nothing run in between:
   the second call is not counted.  (A block that loops to itself right
   after a stop loses its first repeat.)
5. Time is the host clock (``clock`` in ns), or, when ``clock`` is None
   (a replay), the instruction count itself: 1 µs on the timeline is
   one guest instruction, so a replay draws the same picture every time.
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from emu.loader import Image
    from emu.timeline import Track
    from emu.trace_hooks import Hooks

CALL, RET, JUMP = 1, 2, 3
INSN = 4  # bytes per A64 instruction


def _is_local(name: str) -> bool:
    return name.startswith(("L", "__ymL", "__mh_")) or name.endswith("_end")


class CodeMap:
    """What the call stack needs from the program, found once per run: where blocks
    that call or return end, and the routine each address lies in."""

    def __init__(self, image: Image) -> None:
        self.enders: dict[int, int] = {}  # address after a bl/blr (CALL), ret (RET), b to a routine (JUMP)
        self.code: list[tuple[int, int]] = []
        routines = sorted((a, n) for n, a in image.symbols.items() if not _is_local(n))
        self.addrs = [a for a, _ in routines]
        self.names = [n for _, n in routines]
        self._names: dict[int, str] = {}
        # a call's target by its own label, local ones too (``bl Lformat_imf_date_clock``)
        self.labels: dict[int, str] = {}
        for name, a in sorted(image.symbols.items(), key=lambda kv: (_is_local(kv[0]), kv[0])):
            if not name.startswith(("__ymL", "__mh_")) and not name.endswith("_end"):
                self.labels.setdefault(a, name)
        starts = set(self.addrs)
        for seg in image.segments:
            if not seg.prot & 4 or not seg.data:
                continue
            self.code.append((seg.vmaddr, seg.vmaddr + len(seg.data)))
        for lo, hi in self.code:
            data = next(s.data for s in image.segments if s.vmaddr == lo)
            for i, (word,) in enumerate(struct.iter_unpack("<I", data[: (hi - lo) // INSN * INSN])):
                pc = lo + INSN * i
                # Arm ARM C6.2: BL imm26, BLR Xn, RET Xn, B imm26
                if word & 0xFC000000 == 0x94000000 or word & 0xFFFFFC1F == 0xD63F0000:
                    self.enders[pc + INSN] = CALL
                elif word & 0xFFFFFC1F == 0xD65F0000:
                    self.enders[pc + INSN] = RET
                elif word & 0xFC000000 == 0x14000000:
                    imm = word & 0x3FFFFFF
                    target = pc + INSN * (imm - (1 << 26) if imm >> 25 else imm)
                    if target in starts and self.routine(target) != self.routine(pc):
                        self.enders[pc + INSN] = JUMP

    def routine(self, addr: int) -> str:
        """The routine ``addr`` lies in (its address in hex outside the program's code)."""
        name = self._names.get(addr)
        if name is None:
            i = bisect.bisect_right(self.addrs, addr) - 1
            inside = any(lo <= addr < hi for lo, hi in self.code)
            name = self.names[i] if i >= 0 and inside else f"{addr:#x}"
            self._names[addr] = name
        return name

    def callee(self, addr: int) -> str:
        """The name of what a call at ``addr`` enters: its own label, else its routine."""
        return self.labels.get(addr) or self.routine(addr)


class CallStack:
    """The open routines of one process; ``hook()`` is the block hook that moves them."""

    def __init__(self, code: CodeMap, clock: Callable[[], int] | None, track: Track) -> None:
        self.code, self.clock, self.track = code, clock, track
        # [bytes of instructions run, pending CALL/RET/JUMP, bytes at its block's end, time there,
        #  its end, the last block's address, its size, blocks left to check for a repeat (rule 4)]
        self.st: list = [0, None, 0, 0, 0, 0, 0, 0]
        self.frames: list[list] = []  # [name, return address, start time, start bytes]
        self.stack: tuple[str, ...] = ()  # the names of frames, outermost first: a profile's key
        self.mark = 0  # bytes already given to a stack in ``track.profile``
        self.handle: list[int] = []
        self.ranged = False  # --trace-range: only blocks that start in the ranges are seen

    # ------------------------------------------------------------ time and counts
    def now(self) -> int:
        """This moment on the track's clock (ns)."""
        return self.clock() if self.clock is not None else self.st[0] // INSN * 1000

    def depth(self) -> int:
        """How many routines are open (what a syscall made now is inside)."""
        return len(self.frames)

    # ------------------------------------------------------------ hooks
    def enable(self, hooks: Hooks, pc: int, ranges: list[tuple[int, int]]) -> None:
        """Hook blocks (all, or those starting in ``ranges``); the stack starts in the routine at ``pc``."""
        self.st[1] = None
        self.ranged = bool(ranges)
        if not self.frames and not self.ranged:
            self._push(self.code.routine(pc), None, self.now(), self.st[0])
        cb = self.hook()
        spans = [(lo, hi - 1) for lo, hi in ranges] or [(1, 0)]
        self.handle = [hooks.code(cb, lo, hi, block=True) for lo, hi in spans]

    def restarted(self) -> None:
        """The run stopped and goes on: the next two blocks are checked for a repeat (rule 4)."""
        self.st[7] = 2

    def disable(self, hooks: Hooks, pc: int) -> None:
        """Unhook, at ``pc``: a hook there stopped the run before it ran the rest of its block."""
        st = self.st
        if st[5] <= pc < st[5] + st[6]:
            st[0] -= st[5] + st[6] - pc  # counted when the block began, not run (it runs again, unhooked)
        hooks.remove(self.handle)
        self.handle = []
        self.close_all(self.now())

    def hook(self) -> Callable[[int, int, int, int], None]:
        st, get, move = self.st, self.code.enders.get, self._move
        clock, frames, ranged, enter = self.clock, self.frames, self.ranged, self._enter

        def on_block(_h: int, addr: int, size: int, _u: int) -> None:
            if st[7]:
                st[7] -= 1
                if not st[7] and addr == st[5] and size == st[6]:
                    return  # the same block again, right after a stop (rule 4)
            if st[1] is not None:
                move(addr)
            if ranged and not frames:
                enter(addr)
            n = st[0] + size
            st[0], st[5], st[6] = n, addr, size
            end = addr + size
            kind = get(end)
            if kind is not None:
                st[1], st[2], st[4] = kind, n, end
                st[3] = clock() if clock is not None else n // INSN * 1000

        return on_block

    def _move(self, addr: int) -> None:
        """A call or return took effect: ``addr`` is where it went (rule 1)."""
        st = self.st
        kind, n, t, end = st[1], st[2], st[3], st[4]
        st[1] = None
        if kind == CALL:
            if addr != end:  # (landing just after the bl: its callee ran outside the traced range)
                self._push(self.code.callee(addr), end, t, n)
            return
        if kind == JUMP:
            name = self.code.routine(addr)
            if name not in self.stack:
                self._push(name, None, t, n)
                return
            while self.stack[-1] != name:
                self._pop(t, n)
            return
        for i in range(len(self.frames) - 1, -1, -1):
            if self.frames[i][1] == addr:
                while len(self.frames) > i:
                    self._pop(t, n)
                return
        self._pop(t, n)
        if not self.frames and not self.ranged:
            self._push(self.code.routine(addr), None, t, n)

    def _enter(self, addr: int) -> None:
        """--trace-range: a block in a range, after none was open (its routine starts now)."""
        self._push(self.code.routine(addr), None, self.now(), self.st[0])

    # ------------------------------------------------------------ frames
    def _count(self, n: int) -> None:
        if n > self.mark and self.stack:
            prof = self.track.profile
            prof[self.stack] = prof.get(self.stack, 0) + (n - self.mark) // INSN
        self.mark = max(self.mark, n)

    def _push(self, name: str, ret: int | None, t: int, n: int) -> None:
        self._count(n)
        self.frames.append([name, ret, t, n])
        self.stack = (*self.stack, name)

    def _pop(self, t: int, n: int) -> None:
        if not self.frames:
            return
        self._count(n)
        name, _ret, t0, n0 = self.frames.pop()[:4]
        self.stack = self.stack[:-1]
        self.track.span(name, "routine", t0, t, {"insns": (n - n0) // INSN}, len(self.frames))

    def push_signal(self, name: str, t: int, pc: int) -> None:
        """A signal handler starts at ``t`` (entered by the kernel, not by a bl): a frame of its own.
        ``pc`` is where the guest goes on after sigreturn."""
        st = self.st
        if st[6] and st[5] == pc:
            # delivered at the start of a block this hook had already counted: it did not run
            # (it runs after sigreturn), and what it was to end in is not pending any more
            st[0] -= st[6]
            st[1], st[6] = None, 0
        saved, st[1] = st[1:5], None  # a call or return that takes effect after the handler
        self._push(name, -1, t, st[0])
        self.frames[-1].append(saved)

    def pop_signal(self) -> None:
        """sigreturn: back to where the signal came, closing what the handler left open."""
        t, n = self.now(), self.st[0]
        saved = None
        while any(f[1] == -1 for f in self.frames):
            if self.frames[-1][1] == -1:
                saved = self.frames[-1][4]
            self._pop(t, n)
        if saved is not None:
            self.st[1:5] = saved

    def close_all(self, t: int) -> None:
        """The end (of the process, of a trace window): every open frame ends now."""
        self.st[1] = None
        while self.frames:
            self._pop(t, self.st[0])
        self._count(self.st[0])

    def switch(self, track: Track, t: int) -> None:
        """A replay follows a fork into the child (same Machine): the open routines end on the
        parent's track and go on, from ``t``, on the child's."""
        n = self.st[0]
        self._count(n)
        for depth, (name, _ret, t0, n0, *_) in enumerate(self.frames):
            self.track.span(name, "routine", t0, t, {"insns": (n - n0) // INSN}, depth)
        self.track.insns = sum(self.track.profile.values())
        self.track = track
        for f in self.frames:
            f[2], f[3] = t, n

    def inherit(self, parent: CallStack, t: int) -> None:
        """A forked child: the parent's open routines, opened again at the child's start."""
        self.st[0] = self.mark = parent.st[0]
        for name, ret, *_ in parent.frames:
            self._push(name, ret, t, self.st[0])
