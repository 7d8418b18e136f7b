"""Watch the guest: instruction traces, syscall traces, coverage.  Observes only.

Owns: the tracing options, one trace file per emulated process named by
its place in the fork tree (docs/trace-format.md), the strace-style log,
switching instruction hooks on and off (filters), handing block
counts to emu/coverage.py, and the routine stack of each process to
emu/calls.py for --timeline and --profile (emu/timeline.py writes them).
Never changes guest registers or memory.

Rules:
1. Nothing asked, nothing hooked: ``run_macho`` builds no Tracer at all
   when no tracing option is given, so the Machine runs hook-free.
   ``--strace`` alone adds no hook either: the Machine calls
   ``syscall_enter``/``syscall_exit`` from its trap.
2. Hooks are added or removed only where no translated block is running:
   before ``emu_start``, at the syscall trap (Unicorn calls it from its
   exception loop), or after a hook asked the Machine to stop and resume
   (``resume``).  Every add and delete flushes the translation cache
   (unicorn.md: a hook added after a block was translated is not called
   for it in Unicorn 2.1.4).
3. Without register values or memory, one block hook writes a whole
   block's lines from a per-block ``%`` template.  Register values need
   an instruction hook: the line of instruction N is written at the hook
   of instruction N+1 (or at the trap, for svc), after reading only the
   registers N writes, in one batched C call.
4. A fork happens inside the parent's trap: ``fork`` makes the child's
   Tracer (files of its own, hooks on the child's Unicorn), whose first
   line is the fork returning to the child (``started``).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import chain, islice, repeat
from pathlib import Path
from typing import IO, TYPE_CHECKING

from unicorn import arm64_const as A

from emu.calls import CallStack, CodeMap
from emu.coverage import Coverage
from emu.timeline import PROFILE_FORMATS, Outputs, Track
from emu.trace_hooks import Hooks, Prepared, RegReader, _reg_read_batch
from emu.trace_insn import Decoder, Insn, make_format
from emu.trace_sys import SyscallDecoder, SyscallRecord
from syscalls.consts import SIGNALS
from syscalls.table import SYSCALLS

if TYPE_CHECKING:
    from emu.machine import Machine

BATCH = 4096  # lines (or blocks) kept before a write
COVERAGE_ENV = "YMAWKY_COVERAGE"


class TraceError(Exception):
    """A tracing option that cannot be honoured (unknown symbol, bad range)."""


@dataclass
class TraceOptions:
    trace_dir: Path | None = None  # --trace DIR: one instruction trace per process
    strace: str | None = None  # --strace FILE | DIR | -: syscalls only
    fmt: str = "text"  # --trace-format text | jsonl
    regs: bool = True  # --no-trace-regs: no register values (block hooks, fastest)
    mem: bool = False  # --trace-mem: each load and store
    start: str | None = None  # --trace-from SYMBOL
    stop: str | None = None  # --trace-until SYMBOL
    ranges: list[str] = field(default_factory=list)  # --trace-range SYM | LO:HI
    children_only: bool = False  # --trace-children
    max_insns: int | None = None  # --trace-max N (per process)
    bytes_shown: int = 64  # --trace-bytes N
    coverage: Path | None = None  # --coverage FILE (lcov)
    timeline: Path | None = None  # --timeline FILE.json (Chrome trace events)
    profile: Path | None = None  # --profile FILE
    profile_format: str = PROFILE_FORMATS[0]  # --profile-format collapsed | speedscope
    # the tracks of every process of this command (every replayed process's too): emu/timeline.py
    outputs: Outputs | None = field(default=None, compare=False, repr=False)

    def wanted(self) -> bool:
        return bool(self.trace_dir or self.strace or self.coverage or self.timeline or self.profile)

    def spans(self) -> Outputs | None:
        """The timeline and profile collector of this command, made on first use (None: neither asked)."""
        if self.outputs is None and (self.timeline or self.profile):
            self.outputs = Outputs(self.timeline, self.profile, self.profile_format)
        return self.outputs


@dataclass(slots=True)
class _Entry:
    """One traced address: its line template (end included) and the registers it writes."""

    tmpl: str
    regs: Prepared  # the registers it writes, ready for one batched read
    n: int  # how many of them are shown (0 without --trace-regs)
    traced: bool
    ids: object = None  # regs' parts, unpacked for the hook
    ptrs: object = None
    get: Callable | None = None


class Tracer:
    """Tracing of one emulated process (and, after a fork, of each child)."""

    def __init__(self, opts: TraceOptions) -> None:
        self.opts = opts
        self.path, self.pid, self.ppid = "0", os.getpid(), os.getppid()
        self.st: list = [None, 0]  # [instruction waiting for its registers, last seq]
        self.buf: list[str] = []  # finished lines
        self.log: list[tuple[str, ...]] = []  # block mode: the line bodies of each executed block
        self.block_mode = False
        self.active = False
        self.want: str | None = None  # "on" / "off": asked the Machine to stop and resume
        self.error: BaseException | None = None
        self.finished = False
        self.tfile: IO[str] | None = None
        self.sfile: IO[str] | None = None  # per-process strace file (--strace DIR)
        self.sfd: int | None = None  # shared strace descriptor (--strace FILE or -)
        self.pending_sys: SyscallRecord | None = None
        self.mem_pending: list[tuple[int, int, int, int]] = []
        self.coverage: Coverage | None = None
        self.trace_handles: list[int] = []
        self.inherit_sfd: int | None = None  # a forked child's: the parent's shared strace descriptor
        self.calls: CallStack | None = None  # --timeline / --profile: the routine stack (emu/calls.py)
        self.track: Track | None = None  # ... and where its spans go
        self.parent_calls: CallStack | None = None  # a forked child's: the parent's stack at the fork
        self.sys_t0 = 0  # when the pending syscall was entered, on the track's clock

    replayed = False  # a replay's tracer: the timeline's clock is the instruction count

    # ------------------------------------------------------------ wiring (called by Machine)
    def fork(self, child: Machine) -> Tracer:
        """The tracer of a child forked inside this emulator (called in this process's fork trap):
        files of its own, and the fork's line, as the child sees the call return, comes first."""
        self._flush_lines()
        for f in (self.tfile, self.sfile):
            if f is not None:
                f.flush()  # the server's trace so far is on disk at each fork: readable while it runs
        t = Tracer(self.opts)
        t.inherit_sfd = self.sfd
        if self.calls is not None and self.calls.handle:
            t.parent_calls = self.calls
        t.attach(child)
        if self.pending_sys is not None:
            t.pending_sys = copy.copy(self.pending_sys)
        return t

    def started(self, x0: int, x1: int) -> None:
        """A forked child's first moment: the fork returns to it with x0, x1."""
        rec, self.pending_sys = self.pending_sys, None
        if rec is not None:
            self.sysdec.leave(rec, x0, x1, False, child=True)
            self._log_syscall(rec)

    def attach(self, machine: Machine) -> None:
        opts = self.opts
        self.machine, self.uc = machine, machine.uc
        assert machine.proc is not None  # the process table names the process
        self.path, self.pid, self.ppid = machine.proc.path, machine.proc.pid, machine.proc.ppid
        self.hooks, self.reader = Hooks(self.uc), RegReader(self.uc)
        self.pc_regs = self.reader.prepare([A.UC_ARM64_REG_PC])
        self.sysdec = SyscallDecoder(machine.mem, opts.bytes_shown)
        self.fmt = make_format(opts.fmt, machine.symbols)
        self.decoder = Decoder(self.uc, machine.symbols)
        self.entries: dict[int, _Entry] = {}
        self.blocks: dict[int, tuple[int, int, str]] = {}
        symbols = machine.image.symbols
        self.ranges = [parse_range(r, symbols) for r in opts.ranges]
        self.max = opts.max_insns if opts.max_insns is not None else 1 << 62
        if self.inherit_sfd is not None:
            self.sfd = os.dup(self.inherit_sfd)  # the same log, appended to by every process
        elif opts.strace and (opts.strace == "-" or not _is_dir_arg(opts.strace)):
            self.sfd = open_shared_strace(opts.strace)
        elif opts.strace:
            Path(opts.strace).mkdir(parents=True, exist_ok=True)
        if opts.coverage is not None:
            if machine.symbols.assembly is None:
                if os.environ.get(COVERAGE_ENV) != os.fspath(opts.coverage):  # asked for, not inherited
                    print(
                        f"{machine.name}: --coverage: no source line map for this program; no coverage", file=sys.stderr
                    )
            else:
                self.coverage = Coverage(opts.coverage, machine.symbols.assembly, machine.image.slide)
                self.coverage.attach(self.hooks)
        outputs = opts.spans()
        if outputs is not None:
            self.track = outputs.track(self.path, self.pid)
            self.calls = CallStack(self._code_map(outputs), None if self.replayed else outputs.clock, self.track)
            if self.parent_calls is not None and self._eligible():
                t = self.calls.now()
                self.calls.inherit(self.parent_calls, t)
                self.track.fork_in(t)
        if opts.trace_dir is not None or self.calls is not None:
            if opts.trace_dir is not None:
                Path(opts.trace_dir).mkdir(parents=True, exist_ok=True)
            if opts.start:
                self.hooks.code(self._on_start, *_bounds(resolve(opts.start, symbols)))
            if opts.stop:
                self.hooks.code(self._on_stop, *_bounds(resolve(opts.stop, symbols)))
            if self._eligible() and (not opts.start or self.parent_calls is not None):
                self._enable()
        self.hooks.flush()

    def _code_map(self, outputs: Outputs) -> CodeMap:
        """The program's calls and returns, found once per command (a fork shares them)."""
        key = (self.machine.image.path, self.machine.image.slide)
        code = outputs.code.get(key)
        if code is None:
            code = outputs.code[key] = CodeMap(self.machine.image)
        return code

    def syscall_enter(self, num: int, regs: list[int]) -> None:
        row = SYSCALLS.get(num)
        if not (self.active or self.opts.strace or (row is not None and row.forks)):
            # outside a trace window nothing shows the call (a fork names the next child): not decoded
            self.pending_sys = None
            return
        rec = self.sysdec.enter(num, regs)
        rec.pc = self.reader.read(self.pc_regs)
        if self.active:
            self._flush_lines()
        rec.seq = self.st[1]
        self.pending_sys = rec
        if self.calls is not None and self.calls.handle:
            self.sys_t0 = self.calls.now()
            if row is not None and row.frame_return:  # every register comes from the signal frame
                self.track.span(rec.name, "syscall", self.sys_t0, self.sys_t0, {"args": rec.args}, self.calls.depth())
                self.calls.pop_signal()

    def syscall_exit(self, x0: int, x1: int, carry: bool) -> None:
        """After the kernel call, with x0, x1 and NZCV already written back."""
        self._emit_prev()  # the svc line, with the registers the call wrote
        rec, self.pending_sys = self.pending_sys, None
        if rec is None:
            return
        self.sysdec.leave(rec, x0, x1, carry)
        self._log_syscall(rec)

    def resume(self) -> bool:
        """After emu_start returned: True when a hook asked to switch tracing and emulation goes on."""
        if self.error is not None:
            err, self.error = self.error, None
            raise err
        want, self.want = self.want, None
        if self.calls is not None:
            self.calls.restarted()
        if want == "on" and not self.active:
            self._enable()
        elif want == "off" and self.active:
            self._disable()
        return want is not None

    def signal(self, sig: int, action: str) -> None:
        """Machine: a signal is acted on (``action`` is "handler" or "kill"): an instant on the timeline."""
        if self.calls is None or not self.calls.handle:
            return
        name, t = SIGNALS.get(sig, f"signal {sig}"), self.calls.now()
        self.track.instant(name, "signal", t, {"signal": sig, "action": action})
        if action == "handler":
            m = self.machine
            pc = m._resume if m._resume is not None else self.uc.reg_read(A.UC_ARM64_REG_PC)
            self.calls.push_signal(f"{name} handler", t, pc)

    def finish_tree(self) -> None:
        """The process tree has ended (ProcessTree.run, also after Ctrl-C): the timeline and profile files."""
        if self.opts.outputs is not None:
            self.opts.outputs.write()

    def finish(self, status: int) -> None:
        """The process ends: last lines, exit record, coverage.  Safe to call twice."""
        if self.finished:
            return
        self.finished = True
        self._emit_prev()
        self._flush_lines()
        rec, self.pending_sys = self.pending_sys, None
        if rec is not None:
            self._log_syscall(rec)
        if self.calls is not None:
            self.calls.close_all(self.calls.now())
            self.track.insns = sum(self.track.profile.values())
        from emu.machine import SIGNUM

        fault = self.machine.fault
        if fault is not None and status != 128 + SIGNUM.get(fault.signal, 0):
            fault = None
        why = f"exited with {status}" + (f" ({fault.signal}: {fault.what})" if fault else "")
        if self.tfile is not None:
            if self.fmt.name == "jsonl":
                self.tfile.write(
                    _json(
                        {
                            "type": "exit",
                            "status": status,
                            "insns": self.st[1],
                            "signal": fault.signal if fault else None,
                        }
                    )
                    + "\n"
                )
            else:
                self.tfile.write(f"# {why} after {self.st[1]} traced instructions\n")
            self.tfile.close()
            self.tfile = None
        if self.sfd is not None or self.sfile is not None:
            if self.fmt.name == "jsonl":
                self._strace_line(
                    _json(
                        {
                            "type": "exit",
                            "proc": self.path,
                            "pid": self.pid,
                            "status": status,
                            "signal": fault.signal if fault else None,
                        }
                    )
                    + "\n"
                )
            else:
                tag = f"[{self.path} {self.pid}] " if self.sfd is not None else ""
                self._strace_line(f"{tag}+++ {why} +++\n")
        if self.sfile is not None:
            self.sfile.close()
            self.sfile = None
        if self.sfd is not None:
            os.close(self.sfd)
            self.sfd = None
        if self.coverage is not None:
            self.coverage.write()

    # ------------------------------------------------------------ processes and files
    def _eligible(self) -> bool:
        return not self.opts.children_only or self.path != "0"

    def _name(self, ext: str) -> str:
        return f"{self.path}-pid{self.pid}.{ext}"

    def _header(self) -> str:
        if self.fmt.name == "jsonl":
            return (
                _json(
                    {
                        "type": "process",
                        "proc": self.path,
                        "pid": self.pid,
                        "ppid": self.ppid,
                        "program": self.machine.image.path,
                        "format": 1,
                    }
                )
                + "\n"
            )
        return self.fmt.comment(
            f"process {self.path}, pid {self.pid} (parent pid {self.ppid}): {self.machine.image.path}"
        )

    def _trace(self) -> IO[str]:
        if self.tfile is None:
            ext = "jsonl" if self.fmt.name == "jsonl" else "trace"
            self.tfile = open(Path(self.opts.trace_dir) / self._name(ext), "w", buffering=1 << 20)  # noqa: SIM115
            self.tfile.write(self._header())
        return self.tfile

    def _strace_line(self, text: str) -> None:
        if self.sfd is not None:
            os.write(self.sfd, text.encode("utf-8", "replace"))
            return
        if self.sfile is None:
            ext = "strace.jsonl" if self.fmt.name == "jsonl" else "strace"
            self.sfile = open(Path(self.opts.strace) / self._name(ext), "w")  # noqa: SIM115
            self.sfile.write(self._header())
        self.sfile.write(text)

    def _log_syscall(self, rec: SyscallRecord) -> None:
        if self.track is not None and not rec.child:
            self._span_syscall(rec)
        jsonl = self.fmt.name == "jsonl"
        if self.active and self.opts.trace_dir is not None:
            self._flush_lines()
            self._trace().write(rec.json() + "\n" if jsonl else self.fmt.note(rec.text()))
        if self.opts.strace:
            if jsonl:
                self._strace_line(rec.json({"proc": self.path, "pid": self.pid}) + "\n")
            elif self.sfd is not None:
                self._strace_line(f"[{self.path} {self.pid}] {rec.text()}\n")
            else:
                self._strace_line(rec.text() + "\n")

    def _span_syscall(self, rec: SyscallRecord) -> None:
        """A syscall's span: its decoded arguments and result (emu/trace_sys.py's record)."""
        drawn = self.calls is not None and bool(self.calls.handle)
        row = SYSCALLS.get(rec.num)
        if row is not None and row.forks and rec.x0 is not None and not rec.carry:
            self.track.fork_out(self.sys_t0, drawn)  # counted even outside a window: it names the children
        if not drawn or (row is not None and row.frame_return):
            return
        if rec.x0 is None:
            result: object = "?"
        else:
            result = f"-1 {rec.errno}" if rec.errno else rec.ret
        args = {"args": rec.args, "result": result, "call": rec.text()}
        self.track.span(rec.name, "syscall", self.sys_t0, self.calls.now(), args, self.calls.depth())

    # ------------------------------------------------------------ instruction hooks
    # Output waits in memory and goes to the file in large writes.  Block mode
    # keeps one tuple of line bodies per executed block and numbers the lines
    # only when it writes them (map + join, no Python loop per line); the
    # instruction hook keeps finished lines.  Both are written out before a
    # syscall line, a fork, a switch and the end.

    def _enable(self) -> None:
        opts, hooks = self.opts, self.hooks
        if self.calls is not None:
            self.calls.enable(hooks, self.uc.reg_read(A.UC_ARM64_REG_PC) or self.machine.image.entry, self.ranges)
        if opts.trace_dir is not None:
            self._enable_trace()
        self.active = True
        hooks.flush()

    def _enable_trace(self) -> None:
        opts, hooks = self.opts, self.hooks
        spans = [(lo, hi - 1) for lo, hi in self.ranges] or [(1, 0)]
        self.block_mode = not opts.regs and not opts.mem
        if self.block_mode:
            cb = self._block_hook()
            self.trace_handles = [hooks.code(cb, lo, hi, block=True) for lo, hi in spans]
        elif opts.mem:
            # one unbounded hook, so that every access is attributed to its instruction
            self.trace_handles = [hooks.code(self._insn_hook()), hooks.memory(self._on_mem)]
        else:
            cb = self._insn_hook()
            self.trace_handles = [hooks.code(cb, lo, hi) for lo, hi in spans]

    def _disable(self) -> None:
        self._emit_prev()
        self._flush_lines()
        if self.calls is not None:
            self.calls.disable(self.hooks, self.uc.reg_read(A.UC_ARM64_REG_PC))
        self.hooks.remove(self.trace_handles)
        self.trace_handles = []
        self.active = False
        self.mem_pending.clear()
        self.hooks.flush()

    def _flush_lines(self) -> None:
        """Write what the hooks collected; afterwards ``self.st[1]`` is the last line's seq."""
        if self.log:
            first = self.st[1] + 1
            n = sum(map(len, self.log))
            if first + n - 1 > self.max:  # --trace-max reached inside this batch
                n = max(0, self.max - first + 1)
            self._trace().write(self._number(first, n, chain.from_iterable(self.log)))
            self.log.clear()
            self.st[1] = first + n - 1
        if self.buf:
            self._trace().write("".join(self.buf))
            self.buf.clear()

    def _number(self, first: int, n: int, bodies: Iterator[str]) -> str:
        """Lines ``first .. first+n-1``: seq prefix, number, body; joined in C, no Python loop per line."""
        out, seq, end = [], first, first + n
        while seq < end:
            digits = len(str(seq))
            stop = min(end, 10**digits)  # the same width up to the next power of ten
            k = stop - seq
            numbers = map(str, range(seq, stop))
            out.append(
                "".join(
                    chain.from_iterable(
                        zip(repeat(self.fmt.seq_prefix(digits), k), numbers, islice(bodies, k), strict=True)
                    )
                )
            )
            seq = stop
        return "".join(out)

    def _ask(self, want: str) -> None:
        self.want = want
        self.uc.emu_stop()

    def _on_start(self, _h: int, _addr: int, _size: int, _u: int) -> None:
        if not self.active and self._eligible() and self.st[1] < self.max:
            self._ask("on")

    def _on_stop(self, _h: int, _addr: int, _size: int, _u: int) -> None:
        if self.active:
            self._ask("off")

    def _traced(self, addr: int) -> bool:
        return not self.ranges or any(lo <= addr < hi for lo, hi in self.ranges)

    def _entry(self, addr: int) -> _Entry:
        insn: Insn = self.decoder.get(addr)
        regs = self.opts.regs
        prep = self.reader.prepare(insn.reg_ids, insn.narrow)
        e = _Entry(
            self.fmt.seq_fmt + self.fmt.body(insn, regs) + self.fmt.end,
            prep,
            len(insn.reg_ids) if regs else 0,
            self._traced(addr),
            prep.ids,
            prep.ptrs,
            prep.get,
        )
        self.entries[addr] = e
        return e

    def _emit_prev(self) -> None:
        """The line of the instruction that ran last, with the registers it wrote (now current)."""
        e = self.st[0]
        if e is None:
            return
        self.st[0] = None
        if e.n == 1:
            line = e.tmpl % (self.st[1], self.reader.read(e.regs))
        elif e.n:
            line = e.tmpl % (self.st[1], *self.reader.read(e.regs))
        else:
            line = e.tmpl % self.st[1]
        if self.mem_pending:
            line = line[: -len(self.fmt.end)] + self.fmt.mem(self.mem_pending) + self.fmt.end
            self.mem_pending.clear()
        self.buf.append(line)

    def _insn_hook(self) -> Callable[[int, int, int, int], None]:
        """The instruction hook: writes the previous instruction's line, remembers this one.

        Everything the hot path touches is a local of this closure (this runs
        once per guest instruction).
        """
        st, buf, append, get, make = self.st, self.buf, self.buf.append, self.entries.get, self._entry
        pending, maxn, fmt = self.mem_pending, self.max, self.fmt
        rb, handle, values = _reg_read_batch, self.reader.handle, self.reader.values
        flush = self._flush_lines

        def on_insn(_h: int, addr: int, _size: int, _u: int) -> None:
            try:
                p = st[0]
                if p is not None:
                    n = p.n
                    if n:
                        rb(handle, p.ids, p.ptrs, n)
                        line = p.tmpl % (st[1], p.get(values)) if n == 1 else p.tmpl % (st[1], *p.get(values))
                    else:
                        line = p.tmpl % st[1]
                    if pending:
                        line = line[: -len(fmt.end)] + fmt.mem(pending) + fmt.end
                        pending.clear()
                    append(line)
                    st[0] = None
                    if len(buf) > BATCH:
                        flush()
                e = get(addr) or make(addr)
                if not e.traced:
                    pending.clear()
                elif st[1] >= maxn:
                    self._ask("off")
                else:
                    st[0] = e
                    st[1] += 1
            except BaseException as ex:  # noqa: BLE001 - raised again from resume()
                self._fail(ex)

        return on_insn

    def _on_mem(self, _h: int, access: int, addr: int, size: int, value: int, _u: int) -> None:
        if self.st[0] is not None:
            self.mem_pending.append((access, addr, size, value))

    def _block(self, addr: int, size: int) -> tuple[int, tuple[str, ...]]:
        end = self.fmt.end
        insns = [i for i in self.decoder.block(addr, size) if self._traced(i.addr)]
        b = (size, tuple(self.fmt.body(i, False) % () + end for i in insns))
        self.blocks[addr] = b
        return b

    def _block_hook(self) -> Callable[[int, int, int, int], None]:
        log, get, make = self.log, self.blocks.get, self._block
        limited = self.opts.max_insns is not None

        def on_block(_h: int, addr: int, size: int, _u: int) -> None:
            try:
                b = get(addr)
                if b is None or b[0] != size:
                    b = make(addr, size)
                log.append(b[1])
                if len(log) > BATCH or limited:
                    self._flush_lines()
                    if self.st[1] >= self.max:
                        self._ask("off")
            except BaseException as ex:  # noqa: BLE001 - raised again from resume()
                self._fail(ex)

        return on_block

    def _fail(self, ex: BaseException) -> None:
        if self.error is None:
            self.error = ex
        self.uc.emu_stop()


# ---------------------------------------------------------------- symbols and ranges


def resolve(spec: str, symbols: dict[str, int]) -> int:
    """``SYMBOL``, ``SYMBOL+0x10`` or an address -> address."""
    name, plus, off = spec.partition("+")
    try:
        base = symbols[name] if name in symbols else int(name, 0)
        return base + (int(off, 0) if plus else 0)
    except ValueError:
        raise TraceError(f"{spec}: no such symbol (and not an address)") from None


def parse_range(spec: str, symbols: dict[str, int]) -> tuple[int, int]:
    """``LO:HI`` (symbols or addresses, HI excluded) or ``SYMBOL`` (up to the next non-local symbol)."""
    if ":" in spec:
        lo_s, hi_s = spec.split(":", 1)
        lo, hi = resolve(lo_s, symbols), resolve(hi_s, symbols)
    else:
        lo = resolve(spec, symbols)
        later = [a for n, a in symbols.items() if a > lo and not n.startswith(("L", "__ymL"))]
        hi = min(later) if later else lo + 4
    if hi <= lo:
        raise TraceError(f"--trace-range {spec}: empty range {lo:#x}..{hi:#x}")
    return lo, hi


def _json(rec: dict) -> str:
    return json.dumps(rec, separators=(",", ":"))


def _bounds(addr: int) -> tuple[int, int]:
    return addr, addr


def open_shared_strace(arg: str) -> int | None:
    """The descriptor of ``--strace FILE`` (emptied) or ``-`` (stderr), which every process
    appends to; None for ``--strace DIR`` (one file per process)."""
    if arg == "-":
        return os.dup(2)
    if _is_dir_arg(arg):
        return None
    Path(arg).parent.mkdir(parents=True, exist_ok=True)  # --strace t/all.strace on a fresh clone
    return os.open(arg, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC, 0o644)


def _is_dir_arg(arg: str) -> bool:
    return arg.endswith(os.sep) or os.path.isdir(arg)


# ---------------------------------------------------------------- command line


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("tracing (docs/trace-format.md; nothing is hooked unless asked)")
    g.add_argument(
        "--trace",
        metavar="DIR",
        type=Path,
        help="write an instruction trace per emulated process to DIR "
        "(0-pidP.trace for the server, 0.N-pidP.trace for its N-th child...)",
    )
    g.add_argument(
        "--strace",
        metavar="FILE|DIR|-",
        help="log every syscall strace-style: to FILE (all processes, each line tagged), "
        "one file per process in DIR (an existing folder or a path ending in /), or - for stderr",
    )
    g.add_argument(
        "--trace-format",
        choices=("text", "jsonl"),
        default="text",
        help="aligned text (default) or JSON Lines, for --trace and --strace",
    )
    g.add_argument(
        "--trace-regs",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="show the registers each instruction writes (default); --no-trace-regs is several times faster",
    )
    g.add_argument("--trace-mem", action="store_true", help="show each memory load and store")
    g.add_argument("--trace-from", metavar="SYMBOL", help="start the instruction trace when SYMBOL is reached")
    g.add_argument(
        "--trace-until", metavar="SYMBOL", help="stop it when SYMBOL is reached (again at the next --trace-from)"
    )
    g.add_argument(
        "--trace-range",
        metavar="SYM|LO:HI",
        action="append",
        default=[],
        help="trace only instructions in this routine or address range (repeatable)",
    )
    g.add_argument(
        "--trace-children",
        action="store_true",
        help="trace only forked children (each request), not the server process",
    )
    g.add_argument("--trace-max", metavar="N", type=int, help="at most N instruction lines per process")
    g.add_argument(
        "--trace-bytes",
        metavar="N",
        type=int,
        default=64,
        help="bytes of each read/write buffer shown or stored (default: 64)",
    )
    g.add_argument(
        "--coverage",
        metavar="FILE",
        type=Path,
        default=os.environ.get(COVERAGE_ENV) or None,
        help="add the counts of the source lines that ran to FILE, an lcov tracefile for genhtml "
        f"(all processes; counts add up across runs; default: ${COVERAGE_ENV})",
    )
    g.add_argument(
        "--timeline",
        metavar="FILE.json",
        type=Path,
        help="write a timeline of every process (routines, syscalls, signals, forks) as Chrome trace "
        "event JSON, for ui.perfetto.dev or chrome://tracing (docs/timeline.md)",
    )
    g.add_argument(
        "--profile",
        metavar="FILE",
        type=Path,
        help="write the guest instructions run under each call stack, for flame graphs (docs/timeline.md)",
    )
    g.add_argument(
        "--profile-format",
        choices=PROFILE_FORMATS,
        default=PROFILE_FORMATS[0],
        help="collapsed stacks for flamegraph.pl and inferno (default), or speedscope JSON",
    )


def options_from_args(ns: argparse.Namespace) -> TraceOptions | None:
    """The tracing options asked for on the command line, or None when none were."""
    opts = TraceOptions(
        trace_dir=ns.trace,
        strace=ns.strace,
        fmt=ns.trace_format,
        regs=ns.trace_regs,
        mem=ns.trace_mem,
        start=ns.trace_from,
        stop=ns.trace_until,
        ranges=list(ns.trace_range),
        children_only=ns.trace_children,
        max_insns=ns.trace_max,
        bytes_shown=ns.trace_bytes,
        coverage=Path(ns.coverage) if ns.coverage else None,
        timeline=ns.timeline,
        profile=ns.profile,
        profile_format=ns.profile_format,
    )
    if ns.profile_format != PROFILE_FORMATS[0] and opts.profile is None:
        raise TraceError(f"--profile-format {ns.profile_format}: needs --profile FILE")
    for option, path in (("--timeline", opts.timeline), ("--profile", opts.profile)):
        if path is not None:
            _check_writable(option, Path(path))
    return opts if opts.wanted() else None


def _check_writable(option: str, path: Path) -> None:
    """Before the run, not after it: the file is written when the process tree ends."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise TraceError(f"{option} {path}: cannot make its folder ({e.strerror})") from None
    if path.is_dir() or not os.access(path.parent, os.W_OK):
        raise TraceError(f"{option} {path}: cannot write a file there")
