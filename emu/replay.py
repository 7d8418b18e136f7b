"""Replay a recording (emu/record.py, docs/replay-format.md): no sockets, no files, no clock.

Owns: reading a recording into value records (``Call`` compares with
``==``), the binary check, running one recorded process in a Machine
whose kernel is never asked (``Replayer.call`` stands in for
``Kernel.call``), following a fork into the chosen child, and the
divergence report.

Rules:
1. The guest's answers come only from the log.  Each call is checked
   first: number, argument registers (by the row's kinds), and every byte
   of guest memory the recorded call read (paths, write/writev/sendto
   buffers, pollfds, sockaddrs).  Then the recorded result is given back:
   x0, x1, carry and every recorded write to guest memory.  The Host is a
   ``NoHost`` that refuses every use, so a replay cannot touch the world.
   Only mmap/munmap/mprotect run their handlers again (they change the
   emulated address space, not the host); a file mmap is not replayable.
2. One process at a time.  Process ``0.3`` is replayed by running process
   0's log up to its third fork, taking the child's side there (x0 = the
   child's recorded pid, x1 = 1) and going on with 0.3's log: no live
   parent, no host fork.
3. The first difference stops the process with a ``Divergence``: process,
   syscall index, expected and actual call (strace-style), pc with symbol
   and source line, the last syscalls and the last instructions (a block
   hook keeps a small ring of executed blocks, in replay only).
"""

from __future__ import annotations

import inspect
import json
import os
import sys
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, NoReturn

from unicorn import UC_HOOK_BLOCK
from unicorn import arm64_const as A

from emu.assembler import Assembly
from emu.host import Host
from emu.loader import Image, load_macho
from emu.machine import INTERRUPT_STATUSES, Machine, Terminated
from emu.record import FORMAT, MANIFEST, arg_count, fault_signal
from emu.trace import TraceOptions, Tracer, open_shared_strace
from emu.trace_sys import SyscallDecoder, SyscallRecord
from syscalls.consts import signal_to_host
from syscalls.kernel import BadAddress, GuestExit
from syscalls.kinds import Kind
from syscalls.table import SYSCALLS

_STOPS = {"KeyboardInterrupt": KeyboardInterrupt, "Terminated": Terminated}  # a recorded "raised"
# a process the run's end stopped (between calls, or in one it gave up with EINTR): how it ended
_STOPPED = dict(zip(INTERRUPT_STATUSES, (KeyboardInterrupt, Terminated), strict=True))
HISTORY_BLOCKS = 16
SHOW_INSNS = 12
SHOW_CALLS = 4
RERECORD = "scripts/record-replays"


class ReplayError(Exception):
    """A recording that cannot be replayed as asked: unreadable, another binary, no such process."""


# ---------------------------------------------------------------- the recording as values


@dataclass(frozen=True)
class Call:
    """One recorded syscall: what the guest passed and what it got back."""

    i: int
    num: int
    name: str
    regs: tuple[int, ...]  # the row's argument registers
    reads: tuple[tuple[int, bytes], ...] = ()  # guest memory the call read (compared)
    ret: tuple[int, int, bool] | None = None  # x0, x1, carry; None: did not return
    writes: tuple[tuple[int, bytes], ...] = ()  # guest memory the call wrote (given back)
    exit: int | None = None  # exit(status)
    killed: int | None = None  # ended by this Darwin signal inside the call
    raised: str | None = None  # never returned: KeyboardInterrupt ...


@dataclass(frozen=True)
class Signal:
    """A signal the process took (a handler entered): after call ``after``, ``blocks``
    basic blocks later (0: as that call returned), at ``pc``."""

    sig: int
    after: int
    blocks: int
    pc: int
    key: int  # the process's sigreturn key, as recorded


@dataclass
class ProcessLog:
    proc: str
    pid: int
    ppid: int
    file: str
    fork: tuple[int, int, bool] | None  # the child's side of the fork that made it
    calls: list[Call]
    end: dict | None  # {"status", "killed", "fault"}; None: cut short
    signals: list[Signal] = field(default_factory=list)


@dataclass
class Recording:
    folder: Path
    manifest: dict
    processes: dict[str, ProcessLog]

    def order(self) -> list[str]:
        return sorted(self.processes, key=_tree_key)


def _tree_key(proc: str) -> list[int]:
    return [int(n) for n in proc.split(".")]


def _chunks(refs: list, blob: bytes) -> tuple[tuple[int, bytes], ...]:
    return tuple((int(a, 16), blob[off : off + n]) for a, off, n in refs)


def _ret(r: list) -> tuple[int, int, bool]:
    return int(r[0], 16), int(r[1], 16), bool(r[2])


def load(folder: Path | str) -> Recording:
    """Read a recording folder: its manifest and every process log."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ReplayError("no such folder (a recording is made with run_emulated.py --record DIR)")
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except FileNotFoundError:
        raise ReplayError(f"no {MANIFEST}: not a recording (made with run_emulated.py --record)") from None
    except ValueError as e:
        raise ReplayError(f"{MANIFEST}: {e}") from None
    if manifest.get("format") != FORMAT:
        raise ReplayError(f"format {manifest.get('format')}, this replay reads format {FORMAT}")
    procs: dict[str, ProcessLog] = {}
    for f in sorted(folder.glob("*-pid*.jsonl")):
        blob = f.with_suffix(".bin").read_bytes()
        lines = [json.loads(x) for x in f.read_bytes().splitlines() if x.strip()]
        if not lines or lines[0].get("type") != "process":
            raise ReplayError(f"{f.name}: no process header")
        head, calls, end = lines[0], [], None
        signals: list[Signal] = []
        for rec in lines[1:]:
            if rec["type"] == "sys":
                calls.append(
                    Call(
                        rec["i"],
                        rec["num"],
                        rec["name"],
                        tuple(int(r, 16) for r in rec["regs"]),
                        _chunks(rec.get("in", []), blob),
                        _ret(rec["ret"]) if "ret" in rec else None,
                        _chunks(rec.get("out", []), blob),
                        rec.get("exit"),
                        rec.get("killed"),
                        rec.get("raised"),
                    )
                )
            elif rec["type"] == "signal":
                signals.append(Signal(rec["sig"], rec["after"], rec["blocks"], int(rec["pc"], 16), int(rec["key"], 16)))
            elif rec["type"] == "end":
                end = rec
        fork = _ret(head["fork"]["ret"]) if "fork" in head else None
        procs[head["proc"]] = ProcessLog(head["proc"], head["pid"], head["ppid"], f.stem, fork, calls, end, signals)
    if "0" not in procs:
        raise ReplayError("no log of process 0")
    return Recording(folder, manifest, procs)


# ---------------------------------------------------------------- what replay stands on


class NoHost:
    """The Host of a replay (rule 1): the live Host's interface, every method of it, and each
    one refuses, since a replay answers every syscall from the log.  Only a process's own
    housekeeping, which has no effect outside, does what it says: nothing to wake, nothing
    to close.  The refusing methods are made from emu.host.Host's public ones, so the two
    cannot drift apart (tests/test_replay.py checks it)."""

    def interrupt(self) -> None:
        pass

    def clear_wake(self) -> None:
        pass

    def close_all(self) -> None:
        pass


def host_interface() -> list[str]:
    """The public methods of the live Host: the interface a replay's Host implements too."""
    return sorted(name for name, _ in inspect.getmembers(Host, inspect.isfunction) if not name.startswith("_"))


def _refusal(name: str) -> Callable[..., NoReturn]:
    def refuse(self: NoHost, *args: object, **kw: object) -> NoReturn:
        raise ReplayError(f"replay reached the Host ({name}): a syscall was not answered from the log")

    refuse.__name__ = refuse.__qualname__ = name
    return refuse


for _name in host_interface():
    if _name not in NoHost.__dict__:
        setattr(NoHost, _name, _refusal(_name))


class RecordedMemory:
    """Guest memory as a recorded call saw it (its reads, then its writes): for describing it."""

    def __init__(self, chunks: tuple[tuple[int, bytes], ...]) -> None:
        self.chunks = list(chunks)

    def read(self, addr: int, n: int) -> bytes:
        for base, data in reversed(self.chunks):
            if base <= addr and addr + n <= base + len(data):
                return data[addr - base : addr - base + n]
        raise BadAddress(addr)

    def write(self, addr: int, data: bytes) -> None:
        raise BadAddress(addr)

    def cstr(self, addr: int, limit: int) -> bytes:
        for base, data in reversed(self.chunks):
            if base <= addr < base + len(data):
                return data[addr - base :].split(b"\0", 1)[0]
        raise BadAddress(addr)


def describe(call: Call, bytes_shown: int = 64) -> str:
    """A recorded call, strace-style, as it was made and answered."""
    regs = list(call.regs) + [0] * (8 - len(call.regs))
    mem = RecordedMemory(call.reads)
    dec = SyscallDecoder(mem, bytes_shown)
    rec = dec.enter(call.num, regs)
    if call.ret is None:
        why = (
            f" (exit {call.exit})"
            if call.exit is not None
            else f" (killed by signal {call.killed})"
            if call.killed is not None
            else f" ({call.raised})"
        )
        return rec.text() + why
    mem.chunks += call.writes
    dec.leave(rec, *call.ret)
    return rec.text()


class Divergence(Exception):
    """The guest did something else than the recording: ``report`` says what and where."""

    def __init__(self, proc: str, index: int, report: str) -> None:
        super().__init__(report)
        self.proc, self.index, self.report = proc, index, report


class LogEnd(GuestExit):
    """The log stops inside this call (the process was stopped from outside): replay ends here."""

    def __init__(self) -> None:
        super().__init__(0)


class ReplayTracer(Tracer):
    """A Tracer that learns "this is the child now" and the pids from the log, not from os.getpid().

    emu/trace.py names a process after the fork by noticing a new host pid;
    a replay never forks, so the Replayer tells it (``next_child``).  The
    recorded pids go into the file names and headers, so two replays of one
    recording write the same bytes.
    """

    def __init__(self, opts: TraceOptions, pid: int, ppid: int) -> None:
        super().__init__(opts)
        self.pid, self.ppid = pid, ppid
        self.next_child: tuple[str, int] | None = None  # (place in the fork tree, pid)
        self.target: str | None = None  # the process replayed: only its calls go to a shared strace

    replayed = True  # the timeline's clock is the guest's instruction count (emu/calls.py)

    def attach(self, machine: Machine) -> None:
        pid, ppid = self.pid, self.ppid
        super().attach(machine)
        self.pid, self.ppid, self.path = pid, ppid, "0"  # the recording's, not this run's
        if self.track is not None:
            self.track.path, self.track.pid = self.path, pid

    def syscall_exit(self, x0: int, x1: int, carry: bool) -> None:
        child = self.next_child is not None
        if child:
            self._become_child()
        self._emit_prev()
        rec, self.pending_sys = self.pending_sys, None
        if rec is None:
            return
        self.sysdec.leave(rec, x0, x1, carry, child=child)
        self._log_syscall(rec)

    def _log_syscall(self, rec: SyscallRecord) -> None:
        # a child's replay runs its parents' logs up to its fork: those calls are the parents'
        # own replays' to show, so a log of every process has each call once
        if self.sfd is not None and self.target is not None and self.path != self.target:
            return
        super()._log_syscall(rec)

    def _become_child(self) -> None:
        """The replay follows the fork into the child it replays: that child's files from here."""
        assert self.next_child is not None
        (self.path, pid), self.next_child = self.next_child, None
        self.ppid, self.pid = self.pid, pid
        self.st[0], self.st[1] = None, 0  # the fork's svc line is the parent's; the child starts after it
        for f in (self.tfile, self.sfile):
            if f is not None:
                f.close()
        self.tfile = self.sfile = None
        if self.coverage is not None:
            self.coverage.reset()
        if self.calls is not None and self.opts.outputs is not None:
            self.track = self.opts.outputs.track(self.path, self.pid)
            if self.calls.handle:
                t = self.calls.now()
                self.calls.switch(self.track, t)
                self.track.fork_in(t)
            else:
                self.calls.track = self.track
        wanted = self.opts.trace_dir is not None or self.calls is not None
        if wanted and not self.active and not self.opts.start and self._eligible():
            self._enable()  # safe here: the trap runs outside any translated block


# ---------------------------------------------------------------- replaying one process


def _norm(kind: Kind | None, regs: list[int] | tuple[int, ...], i: int) -> int:
    """An argument register as the row's kind compares it (a number the table lacks: raw)."""
    return regs[i] if kind is None else kind.normal(regs, i)


class Replayer:
    """Stands in for Kernel.call in one Machine: answers from the log of ``target`` (rule 2)."""

    def __init__(self, machine: Machine, rec: Recording, target: str, tracer: ReplayTracer | None = None) -> None:
        if target not in rec.processes:
            raise ReplayError(f"no process {target} in this recording (it has {', '.join(rec.order())})")
        self.machine, self.rec, self.target, self.tracer = machine, rec, target, tracer
        parts = target.split(".")
        self.chain = [".".join(parts[:n]) for n in range(2, len(parts) + 1)]
        for p in self.chain:
            if p not in rec.processes:
                raise ReplayError(f"process {target}: no log of {p} on its way")
        self.log = rec.processes["0"]
        self.pos = self.forks = 0
        self.replayed = 0
        self.truncated = False
        self.blocks: deque[tuple[int, int]] = deque(maxlen=HISTORY_BLOCKS)
        self.recent: deque[Call] = deque(maxlen=SHOW_CALLS)
        blocks = self.blocks
        machine.uc.hook_add(UC_HOOK_BLOCK, lambda _uc, addr, size, _d: blocks.append((addr, size)))
        machine.log = self

    def call(self, num: int, regs: list[int]) -> tuple[int, int, bool]:
        call = self._next(num, regs)
        self.recent.append(call)
        self.replayed += 1
        self._ended(call, num, regs)
        assert call.ret is not None
        row = SYSCALLS.get(num)
        if row is not None and row.rerun:
            # the address space or the signal state: run again, so that a recorded signal
            # finds the same handler, mask and frame, and memory the same mappings
            got = self.machine.kernel.call(num, regs)
            if got != call.ret:
                raise self._diverged(num, regs, call, f"{row.rerun} differs: {got} now, {call.ret} recorded")
        else:
            for addr, data in call.writes:
                self.machine.mem.write(addr, data)
        if row is not None and row.forks:
            child = self._forked(call)
            if child is not None:
                return child
        self._signals_after(call.i)
        log = self.log
        killed = log.end.get("killed") if log.end is not None and self.pos == len(log.calls) else None
        if killed:
            # the process died by a signal delivered as its last call returned (SIGPIPE on a
            # write, a kill to itself): the same signal, at the same moment
            self.machine.proc.signals.pending.add(int(killed))
        return call.ret

    def _next(self, num: int, regs: list[int]) -> Call:
        """The recorded call this one must be (or how the log says the process stopped)."""
        log = self.log
        if self.pos >= len(log.calls):
            if log.end is None or log.end.get("status") in INTERRUPT_STATUSES:
                self.truncated = True  # cut short (stopped from outside): nothing more to check
                if log.end is not None:
                    raise _STOPPED[log.end["status"]]  # and it ends as it did: 130 or 143
                raise LogEnd
            raise self._diverged(
                num, regs, None, f"the recorded process made no more syscalls (it ended: {_ending(log.end)})"
            )
        call = log.calls[self.pos]
        self.pos += 1
        why = self._compare(call, num, regs)
        if why is not None:
            raise self._diverged(num, regs, call, why)
        return call

    def _ended(self, call: Call, num: int, regs: list[int]) -> None:
        """A call that did not return in the recording ends the same way now."""
        if call.exit is not None:
            raise GuestExit(call.exit)
        if call.killed is not None:
            raise GuestExit(128 + signal_to_host(call.killed))
        if call.raised == "SigReturn":
            self._signals_after(call.i)
            self.machine.kernel.call(num, regs)  # raises SigReturn: every register from the frame
            raise ReplayError(f"sigreturn #{call.i} returned: the frame differs from the recording's")
        if call.raised is not None:
            stop = _STOPS.get(call.raised)
            if stop is not None:  # Ctrl-C or SIGTERM, replayed as such
                raise stop
            self.truncated = True
            raise LogEnd

    def _forked(self, call: Call) -> tuple[int, int, bool] | None:
        """A fork: count it; if its child is on the way to the target, follow it (the child's
        return is replayed instead of the parent's)."""
        self.forks += 1
        if call.ret is None or call.ret[2] or not self.chain or self.chain[0] != f"{self.log.proc}.{self.forks}":
            return None
        child = self.rec.processes[self.chain.pop(0)]
        self.log, self.pos, self.forks = child, 0, 0
        if self.tracer is not None:
            self.tracer.next_child = (child.proc, child.pid)
        assert child.fork is not None
        return child.fork

    def _signals_after(self, index: int) -> None:
        """The signals the recorded process took after call ``index``: as the call returns,
        or armed for the block the Machine counts to (Machine.replay_signals)."""
        for sg in self.log.signals:
            if sg.after == index:
                self.machine.proc.signals._token_key = sg.key  # the frame's token as recorded
                if sg.blocks == 0:
                    self.machine.proc.signals.pending.add(sg.sig)
                else:
                    self.machine.replay_signals.append((sg.blocks, sg.pc, sg.sig))

    def signal(self, sig: int, blocks: int, pc: int, key: int) -> None:
        pass  # the signals a replay delivers come from the log

    def fork(self, child: Machine) -> Replayer:
        raise ReplayError("a replay answers fork from the log: no child is made")

    def finish_tree(self, history: list[tuple[str, str]]) -> None:
        pass

    def _compare(self, call: Call, num: int, regs: list[int]) -> str | None:
        if call.num != num:
            name = SYSCALLS[num].name if num in SYSCALLS else f"syscall {num}"
            return f"the guest called {name} ({num}), the recording has {call.name} ({call.num})"
        row = SYSCALLS.get(num)
        for i in range(arg_count(num)):
            kind = row.args[i] if row is not None else None
            was, now = _norm(kind, call.regs, i), _norm(kind, regs, i)
            if was != now:
                return f"argument {i + 1} is {_show(now)}, recorded {_show(was)}"
        for addr, data in call.reads:
            try:
                now_b = self.machine.mem.read(addr, len(data))
            except BadAddress:
                return f"the {len(data)} bytes the call reads at {addr:#x} are not mapped now"
            if now_b != data:
                k = next(j for j, (a, b) in enumerate(zip(data, now_b, strict=True)) if a != b)
                return (
                    f"byte {k} of the {len(data)} bytes the call reads at {addr:#x} differs: "
                    f"recorded {data[k : k + 24]!r}, now {now_b[k : k + 24]!r}"
                )
        return None

    def _diverged(self, num: int, regs: list[int], call: Call | None, why: str) -> Divergence:
        m = self.machine
        pc = m.uc.reg_read(A.UC_ARM64_REG_PC) - 4  # the trap leaves pc after the svc
        actual = SyscallDecoder(m.mem, 64).enter(num, list(regs)).text().removesuffix(" = ?")
        index = call.i if call is not None else self.pos + 1
        lines = [
            f"replay diverged in process {self.log.proc} (recorded pid {self.log.pid}) at syscall #{index}: {why}",
            f"  expected  {describe(call) if call is not None else '(no call: ' + _ending(self.log.end) + ')'}",
            f"  actual    {actual}",
            f"  svc at    {m.symbols.describe(pc)}",
        ]
        if self.recent:
            lines.append("  last syscalls (as recorded):")
            lines += [f"    #{c.i:<5} {describe(c, 48)}" for c in self.recent]
        insns = self._last_insns()
        if insns:
            lines.append("  last instructions:")
            lines += insns
        return Divergence(self.log.proc, index, "\n".join(lines))

    def _last_insns(self) -> list[str]:
        from capstone import CS_ARCH_ARM64, CS_MODE_ARM, Cs

        m, out, cs = self.machine, [], Cs(CS_ARCH_ARM64, CS_MODE_ARM)
        for addr, size in self.blocks:
            try:
                code = bytes(m.uc.mem_read(addr, size))
            except Exception:  # noqa: BLE001 - unmapped since: nothing to show
                continue
            for insn in cs.disasm(code, addr):
                out.append(f"    {m.symbols.describe(insn.address):<56} {insn.mnemonic} {insn.op_str}".rstrip())
        return out[-SHOW_INSNS:]

    def finish(self, status: int) -> None:
        """Machine.run: the guest ended; did it end as recorded?"""
        if self.truncated:
            return
        log = self.log
        if self.pos < len(log.calls):
            nxt = log.calls[self.pos]
            raise Divergence(
                log.proc,
                nxt.i,
                f"replay diverged in process {log.proc} (recorded pid {log.pid}): the guest ended "
                f"with status {status} before recorded syscall #{nxt.i}\n  expected  {describe(nxt)}",
            )
        if log.end is None:
            return
        want = log.end["status"] if log.end.get("killed") is None else 128 + signal_to_host(log.end["killed"])
        fault = fault_signal(self.machine, status)
        if want != status or (log.end.get("fault") or None) != fault:
            raise Divergence(
                log.proc,
                self.pos,
                f"replay diverged in process {log.proc} (recorded pid {log.pid}): it ended with "
                f"status {status}{f' ({fault})' if fault else ''}, recorded {_ending(log.end)}",
            )


def _show(v: int) -> str:
    return str(v) if -4096 < v < 4096 else hex(v)


def _ending(end: dict | None) -> str:
    if end is None:
        return "the log stops without an end"
    if end.get("killed") is not None:
        return f"killed by Darwin signal {end['killed']}"
    return f"status {end['status']}" + (f" ({end['fault']})" if end.get("fault") else "")


# ---------------------------------------------------------------- the command


@dataclass
class Result:
    proc: str
    status: int | None
    calls: int
    divergence: Divergence | None = None
    truncated: bool = False


@dataclass
class Replay:
    """What ``replay`` did: one Result per process, in the order they ran."""

    results: list[Result] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.divergence is None for r in self.results)


def check_binary(rec: Recording, image: Image, allow_change: bool) -> str | None:
    """None when the binary is the recorded one; else a note (allowed) or a ReplayError (refused)."""
    want = rec.manifest.get("sha256")
    if image.sha256 == want:
        return None
    msg = (
        f"recorded with a different guest binary (sha256 {str(want)[:16]}…, this one is "
        f"{image.sha256[:16]}…: {image.path})"
    )
    if not allow_change:
        raise ReplayError(msg + "; re-record it, or pass --allow-binary-change to see where behaviour differs")
    return msg + "; replaying anyway (--allow-binary-change)"


def replay_process(
    rec: Recording,
    image: Image,
    assembly: Assembly | None,
    target: str,
    trace: TraceOptions | None = None,
    strace_fd: int | None = None,
    gdb: int | None = None,
) -> Result:
    """Replay one process of ``rec`` (rule 2) in a fresh Machine; with ``gdb``, under a debugger
    on 127.0.0.1:``gdb`` that can also run it backwards (emu/gdb/).

    ``strace_fd``: the one --strace FILE (or stderr) every replayed process appends to.
    """
    m = rec.manifest
    root = rec.processes["0"]
    tracer = ReplayTracer(trace, root.pid, root.ppid) if trace is not None and trace.wanted() else None
    if tracer is not None:
        tracer.target, tracer.inherit_sfd = target, strace_fd
    machine = Machine(
        image,
        NoHost(),
        list(m["argv"]),
        list(m["envp"]),
        assembly=assembly,
        strict=bool(m.get("strict")),
        name="ymawky-emu",
        tracer=tracer,
    )  # type: ignore[arg-type]
    rp = Replayer(machine, rec, target, tracer)
    server = None
    if gdb is not None:
        from emu.gdb.attach import attach_replay

        server = attach_replay(machine, rp, gdb)
    try:
        status = machine.run()
    except Divergence as d:
        if tracer is not None:
            tracer.finish(1)
        return Result(target, None, rp.replayed, d)
    finally:
        if server is not None:
            server.close()
    return Result(target, status, rp.replayed, None, rp.truncated)


def run_replay(
    folder: Path | str,
    exe: Path,
    assembly: Assembly | None = None,
    process: str | None = None,
    trace: TraceOptions | None = None,
    allow_binary_change: bool = False,
    out: IO[str] | None = None,
    gdb: int | None = None,
) -> Replay:
    """``run_emulated.py --replay``: every replayed process did what was recorded when ``.ok``.

    Without ``process`` every process is replayed, deepest in the fork tree
    first (so that, with --trace, each process's own full replay is the last
    to write its trace file; a child's replay also runs its parents' logs up
    to its fork).
    """
    out = out or sys.stderr
    rec = load(folder)
    image = load_macho(exe, slide=int(rec.manifest.get("slide", 0)))
    note = check_binary(rec, image, allow_binary_change)
    if note:
        print(f"replay: {note}", file=out)
    targets = [process] if process else sorted(rec.order(), key=lambda p: -p.count("."))
    if gdb is not None and len(targets) != 1:
        raise ReplayError("--gdb debugs one process: name it with --process ID")
    done = Replay()
    strace_fd = open_shared_strace(trace.strace) if trace is not None and trace.strace else None
    try:
        for target in targets:
            r = replay_process(rec, image, assembly, target, trace, strace_fd, gdb)
            done.results.append(r)
            if r.divergence is not None:
                print(r.divergence.report, file=out)
    finally:
        if strace_fd is not None:
            os.close(strace_fd)
    calls = sum(r.calls for r in done.results)
    bad = [r.proc for r in done.results if r.divergence is not None]
    verdict = "all as recorded" if not bad else f"diverged: {', '.join(bad)}"
    print(f"replay: {len(done.results)} process(es), {calls} syscalls: {verdict}", file=out)
    return done
