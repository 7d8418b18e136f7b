"""Syscalls as a trace shows them: decoded arguments, result, bytes moved.

Owns: turning one trap (number, x0..x7 before, (x0, x1, carry) after)
into a ``SyscallRecord`` and printing it strace-style or as a JSON
object.  Each argument is shown by its table row's own kind
(``syscalls.table.SYSCALLS``, syscalls/kinds.py): as the call is made,
and, for what the call writes (read's bytes, a stat64, a sockaddr), once
it returned; so the trace and the dispatcher read the registers the same
way and nothing here names a call.  Reads guest memory only, never
writes it, and never calls a handler.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from syscalls.errno import ERRNO_NAME
from syscalls.kinds import Memory, Seen, s32, s64
from syscalls.show import describe_stat, describe_wait, escape
from syscalls.table import SYSCALLS

__all__ = ["SyscallDecoder", "SyscallRecord", "describe_stat", "describe_wait", "escape"]
UNKNOWN_SHOWN = 3  # registers shown for a number the table has no row for


@dataclass
class SyscallRecord:
    """One syscall: what the guest asked and what it got."""

    num: int
    name: str
    raw: list[int]  # x0..x7 as passed
    args: list[str]  # each argument as shown
    seq: int = 0  # the svc's instruction number (0: not traced)
    pc: int = 0
    x0: int | None = None  # None: did not return (exit, interrupted)
    x1: int = 0
    carry: bool = False
    ret: int | None = None  # the result as the row's return kind reads it
    errno: str | None = None
    data: bytes | None = None  # bytes moved (read, write), at most the shown limit
    data_len: int = 0  # bytes moved in all
    struct: dict[str, Any] = field(default_factory=dict)  # stat64 / sockaddr fields
    child: bool = False  # fork, as seen by the new child

    def text(self) -> str:
        call = f"{self.name}({', '.join(self.args)})"
        if self.x0 is None:
            return f"{call} = ?"
        if self.errno:
            return f"{call} = -1 {self.errno}"
        extra = f" (in the child: x1={self.x1})" if self.child else ""
        return f"{call} = {self.ret}{extra}"

    def record(self) -> dict[str, Any]:
        rec: dict[str, Any] = {
            "type": "syscall",
            "seq": self.seq,
            "pc": f"{self.pc:#x}",
            "num": self.num,
            "name": self.name,
            "args": self.args,
            "raw": [f"{r:#x}" for r in self.raw],
        }
        if self.x0 is None:
            rec["returned"] = False
        else:
            rec.update(
                returned=True, ret=self.ret, errno=self.errno, x0=f"{self.x0:#x}", x1=f"{self.x1:#x}", carry=self.carry
            )
        if self.data is not None:
            rec["data"] = self.data.decode("latin-1")
            rec["len"] = self.data_len
        if self.struct:
            rec["struct"] = self.struct
        if self.child:
            rec["child"] = True
        return rec

    def json(self, extra: dict[str, Any] | None = None) -> str:
        rec = self.record()
        if extra:
            rec.update(extra)
        return json.dumps(rec, separators=(",", ":"))


class SyscallDecoder:
    """Builds records from the trap's registers, reading guest memory through ``mem``."""

    def __init__(self, mem: Memory, bytes_shown: int = 64) -> None:
        self.mem, self.cap = mem, bytes_shown

    def enter(self, num: int, regs: list[int]) -> SyscallRecord:
        row = SYSCALLS.get(num)
        if row is None:
            return SyscallRecord(num, f"syscall_{num}", list(regs), [hex(r) for r in regs[:UNKNOWN_SHOWN]])
        rec = SyscallRecord(num, row.name, list(regs), [])
        seen = Seen(rec.raw, self.mem, self.cap)
        for i, kind in enumerate(row.args):
            try:
                rec.args.append(kind.enter(seen, i))
            except Exception:  # noqa: BLE001 - a bad pointer: the handler answers EFAULT, we show the address
                rec.args.append(hex(regs[i]))
        self._keep(rec, seen)
        return rec

    def leave(self, rec: SyscallRecord, x0: int, x1: int, carry: bool, child: bool = False) -> None:
        rec.x0, rec.x1, rec.carry, rec.child = x0, x1, carry, child
        row = SYSCALLS.get(rec.num)
        if carry:
            rec.errno = ERRNO_NAME.get(x0, str(x0))
        else:
            rec.ret = s64(x0) if row is not None and row.ret == "ssize" else s32(x0)
        if row is None:
            return
        seen = Seen(rec.raw, self.mem, self.cap)
        for i, kind in enumerate(row.args):
            try:
                shown = kind.leave(seen, i, None if carry else x0)
            except Exception:  # noqa: BLE001, S112 - memory went away: keep what was shown on entry
                continue
            if shown is not None:
                rec.args[i] = shown
        self._keep(rec, seen)

    @staticmethod
    def _keep(rec: SyscallRecord, seen: Seen) -> None:
        """What the kinds found: the bytes moved, the struct fields."""
        if seen.data is not None:
            rec.data, rec.data_len = seen.data, seen.data_len
        elif seen.data_len:
            rec.data_len = seen.data_len
        if seen.struct:
            rec.struct = seen.struct
