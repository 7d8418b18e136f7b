"""Record every syscall of every emulated process, for replay (docs/replay-format.md).

Owns: the recording side of the log format: the manifest, one log per
process named by its place in the fork tree, and what one syscall keeps:
the argument registers, every byte of guest memory the call read (paths,
write buffers, iovecs, sockaddrs, pollfds: what replay compares), the
result (x0, x1, carry) and every byte it wrote to guest memory (read
data, stat64, sockaddr, directory entries, time values: what replay
gives back).  Events that are not returns are kept too: exit, death by a
signal, a fork (in both processes), a call that never returned (Ctrl-C),
and how the process ended (status, fault, the signal that ended it).

Rules:
1. Only the boundary is watched: ``Recorder.call`` wraps ``Kernel.call``
   and guest memory is seen through ``RecordingMemory``; handlers and the
   Host do not know they are recorded.
2. Each record is written with one unbuffered ``os.write`` per file as
   soon as the call returns, so a process stopped later loses nothing it
   already did.  Each guest process has its own Recorder (``fork``).
3. Nothing the guest cannot observe is kept (no host paths, no wall
   time), so re-recording the same session gives the same bytes except
   where the host really answered differently (pids, times, inodes).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from syscalls.kernel import GuestExit
from syscalls.table import SYSCALLS

if TYPE_CHECKING:
    from emu.machine import Machine
    from syscalls.kinds import Memory

FORMAT = 1
MANIFEST = "manifest.json"
UNKNOWN_ARGS = 6  # registers kept for a number the table has no row for


def log_name(path: str, pid: int) -> str:
    """``0.3-pid4133``: the base name of a process's two files (``.jsonl`` and ``.bin``)."""
    return f"{path}-pid{pid}"


def arg_count(num: int) -> int:
    row = SYSCALLS.get(num)
    return len(row.args) if row is not None else UNKNOWN_ARGS


class RecordingMemory:
    """Guest memory as the kernel sees it, noting each read and write of the current call."""

    def __init__(self, inner: Memory) -> None:
        self.inner = inner
        self.reads: list[tuple[int, bytes]] = []
        self.writes: list[tuple[int, bytes]] = []

    def read(self, addr: int, n: int) -> bytes:
        data = self.inner.read(addr, n)
        self.reads.append((addr, data))
        return data

    def write(self, addr: int, data: bytes) -> None:
        self.inner.write(addr, data)
        self.writes.append((addr, bytes(data)))

    def cstr(self, addr: int, limit: int) -> bytes:
        try:
            s = self.inner.cstr(addr, limit)
        except Exception:
            try:  # too long: what the kernel looked at is the first ``limit`` bytes
                self.reads.append((addr, self.inner.read(addr, limit)))
            except Exception:  # noqa: BLE001, S110 - a bad pointer: the registers say it all
                pass
            raise
        self.reads.append((addr, s + b"\0"))
        return s

    def probe(self, addr: int, n: int) -> None:
        """Kernel.probe_writable: a check, not data: nothing is kept."""
        self.inner.probe(addr, n)


class Recorder:
    """The log of one emulated process; ``fork`` gives a new child its own."""

    def __init__(self, out: Path, machine: Machine, manifest: dict) -> None:
        self.dir = Path(out)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.machine = machine
        self.kernel = machine.kernel
        self.mem = RecordingMemory(self.kernel.mem)
        self.kernel.mem = self.mem
        assert machine.proc is not None
        self.path, self.pid, self.ppid = machine.proc.path, machine.proc.pid, machine.proc.ppid
        self.index = 0
        self.pending: tuple[int, list[int]] | None = None
        self.finished = False
        for old in self.dir.glob("*-pid*.*"):  # a fresh recording, not a mix of two
            old.unlink()
        self.manifest = {"format": FORMAT, **manifest}
        self._write_manifest()
        self._open({"type": "process", "proc": self.path, "pid": self.pid, "ppid": self.ppid, "format": FORMAT})

    def fork(self, child: Machine) -> Recorder:
        """The log of a child forked inside this emulator (called in this process's fork trap)."""
        r = object.__new__(Recorder)
        r.dir, r.machine, r.kernel, r.manifest = self.dir, child, child.kernel, self.manifest
        r.mem = RecordingMemory(r.kernel.mem)
        r.kernel.mem = r.mem
        assert child.proc is not None
        r.path, r.pid, r.ppid = child.proc.path, child.proc.pid, child.proc.ppid
        r.index, r.pending, r.finished = 0, None, False
        r._open(
            {
                "type": "process",
                "proc": r.path,
                "pid": r.pid,
                "ppid": r.ppid,
                "format": FORMAT,
                "fork": {"parent_index": self.index + 1, "ret": [f"{r.pid:#x}", "0x1", False]},
            }
        )
        return r

    # ------------------------------------------------------------ files
    def _write_manifest(self) -> None:
        tmp = self.dir / f".{MANIFEST}.{os.getpid()}"
        tmp.write_text(json.dumps(self.manifest, indent=1) + "\n")
        os.replace(tmp, self.dir / MANIFEST)

    def _open(self, header: dict) -> None:
        base = self.dir / log_name(self.path, self.pid)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC
        self.jfd = os.open(f"{base}.jsonl", flags, 0o644)
        self.bfd = os.open(f"{base}.bin", flags, 0o644)
        self.boff = 0
        self._line(header)

    def _line(self, rec: dict) -> None:
        os.write(self.jfd, (json.dumps(rec, separators=(",", ":")) + "\n").encode())

    def _payloads(self, chunks: list[tuple[int, bytes]]) -> list[list]:
        """Append the chunks to the .bin file; their references [addr, offset, length]."""
        refs, blob = [], b"".join(d for _, d in chunks)
        for addr, data in chunks:
            refs.append([f"{addr:#x}", self.boff, len(data)])
            self.boff += len(data)
        if blob:
            os.write(self.bfd, blob)
        return refs

    def _syscall(self, num: int, regs: list[int], result: tuple[int, int, bool] | None, **extra: object) -> None:
        self.index += 1
        rec: dict = {
            "type": "sys",
            "i": self.index,
            "num": num,
            "name": SYSCALLS[num].name if num in SYSCALLS else f"syscall_{num}",
            "regs": [f"{r:#x}" for r in regs[: arg_count(num)]],
        }
        if self.mem.reads:
            rec["in"] = self._payloads(self.mem.reads)
        if result is not None:
            rec["ret"] = [f"{result[0]:#x}", f"{result[1]:#x}", result[2]]
        if self.mem.writes:
            rec["out"] = self._payloads(self.mem.writes)
        rec.update(extra)
        self._line(rec)

    # ------------------------------------------------------------ the trap (Machine._syscall)
    def call(self, num: int, regs: list[int]) -> tuple[int, int, bool]:
        self.mem.reads, self.mem.writes = [], []
        self.pending = (num, regs)
        try:
            x0, x1, carry = self.kernel.call(num, regs)
        except GuestExit as e:
            self.pending = None
            self._syscall(num, regs, None, exit=e.status)
            raise
        except BaseException as e:
            self.pending = None
            self._syscall(num, regs, None, raised=type(e).__name__)
            raise
        self.pending = None
        self._syscall(num, regs, (x0, x1, carry))
        return x0, x1, carry

    def signal(self, sig: int, blocks: int, pc: int, key: int) -> None:
        """The process enters a handler for ``sig``, ``blocks`` basic blocks after its last call
        returned (0: as it returned), at ``pc``: where a replay delivers it again.  ``key`` is
        the process's random sigreturn key (the token in x5 is made from it): replay uses it."""
        self._line(
            {"type": "signal", "sig": sig, "after": self.index, "blocks": blocks, "pc": f"{pc:#x}", "key": f"{key:#x}"}
        )

    def finish(self, status: int) -> None:
        """The process ends (Machine.run): how, and for the first process the fork tree."""
        if self.finished:
            return
        self.finished = True
        fault = fault_signal(self.machine, status)
        killed = self.machine.end_signal if fault is None else None
        self._line({"type": "end", "status": None if killed else status, "killed": killed, "fault": fault})
        os.close(self.jfd)
        os.close(self.bfd)

    def finish_tree(self, history: list[tuple[str, str]] | None = None) -> None:
        """Every process has ended: the manifest gets the fork tree (and the order of events)."""
        self.manifest["processes"] = process_tree(self.dir)
        if history is not None:
            self.manifest["history"] = [list(h) for h in history]
        self._write_manifest()


def fault_signal(machine: Machine, status: int) -> str | None:
    """The signal of the guest fault that ended the process with ``status`` (None: it did not fault)."""
    from emu.machine import SIGNUM

    fault = machine.fault
    return fault.signal if fault is not None and status == 128 + SIGNUM.get(fault.signal, 0) else None


def process_tree(folder: Path) -> list[dict]:
    """Every process log in ``folder``: proc, pid, ppid, file, calls, end; in fork-tree order."""
    out = []
    for f in Path(folder).glob("*-pid*.jsonl"):
        lines = f.read_bytes().splitlines()
        if not lines:
            continue
        head, last = json.loads(lines[0]), json.loads(lines[-1])
        end = last if last.get("type") == "end" else None
        out.append(
            {
                "proc": head["proc"],
                "pid": head["pid"],
                "ppid": head["ppid"],
                "file": f.stem,
                "calls": sum(1 for x in lines if x.startswith(b'{"type":"sys"')),
                "status": end["status"] if end else None,
                "killed": end["killed"] if end else None,
            }
        )
    return sorted(out, key=lambda p: [int(n) for n in p["proc"].split(".")])
