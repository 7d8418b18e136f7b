"""Syscalls as a trace shows them: decoded arguments, result, bytes moved.

Owns: turning one trap (number, x0..x7 before, (x0, x1, carry) after)
into a ``SyscallRecord`` and printing it strace-style or as a JSON
object.  Arguments are decoded by the table row's own kinds
(``syscalls.table.SYSCALLS``), so the trace and the dispatcher read the
registers the same way; a few presentation-only names (address
families, socket options, stat64 and sockaddr fields, wait status) are
added here.  Reads guest memory only, never writes it, and never calls
a handler.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import Any

from syscalls.consts import AF, LEVELS, SEEK, SIGNALS, SOCK_TYPE, SOCKOPTS, WAIT_OPTIONS
from syscalls.errno import ERRNO_NAME
from syscalls.kinds import CStr, InBuf, Kind, Memory, Ptr, s32, s64
from syscalls.structs import IOVEC, POLLFD, STAT64, describe_sockaddr
from syscalls.table import NAMES, SYSCALLS

_IFMT = {
    0o140000: "S_IFSOCK",
    0o120000: "S_IFLNK",
    0o100000: "S_IFREG",
    0o060000: "S_IFBLK",
    0o040000: "S_IFDIR",
    0o020000: "S_IFCHR",
    0o010000: "S_IFIFO",
}
_STAT_CALLS = {"stat64", "fstat64", "lstat64"}
_READS = {"read", "read_nocancel"}
_ACCEPTS = {"accept", "accept_nocancel"}
_WAITS = {"wait4", "wait4_nocancel"}
_WRITEVS = {"writev", "writev_nocancel"}
_READVS = {"readv", "readv_nocancel"}
_POLLS = {"poll", "poll_nocancel"}


def escape(data: bytes, total: int | None = None) -> str:
    """strace-style quoted bytes; ``...`` after the quote when ``total`` is longer than ``data``."""
    out = []
    for b in data:
        c = chr(b)
        if c in '"\\':
            out.append("\\" + c)
        elif c == "\n":
            out.append("\\n")
        elif c == "\r":
            out.append("\\r")
        elif c == "\t":
            out.append("\\t")
        elif 32 <= b < 127:
            out.append(c)
        else:
            out.append(f"\\x{b:02x}")
    more = "..." if total is not None and total > len(data) else ""
    return '"' + "".join(out) + '"' + more


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
            name = NAMES.get(num, f"syscall_{num}")
            return SyscallRecord(num, name, list(regs), [hex(r) for r in regs[:3]])
        rec = SyscallRecord(num, row.name, list(regs), [])
        for i, kind in enumerate(row.args):
            rec.args.append(self._arg(rec, kind, regs, i))
        self._names(rec, regs)
        try:
            if rec.name in _WRITEVS:
                self._gather(rec, regs[1], regs[2] & 0xFFFFFFFF)
            elif rec.name == "sendfile" and regs[3]:
                rec.args[3] = f"[{struct.unpack('<q', self.mem.read(regs[3], 8))[0]}]"
            elif rec.name in _POLLS:
                rec.args[0] = self._pollfds(regs[0], regs[1] & 0xFFFFFFFF, "events")
        except Exception:  # noqa: BLE001 - a bad pointer: the handler answers EFAULT
            pass
        return rec

    def _pollfds(self, addr: int, n: int, which: str) -> str:
        items = []
        for i in range(min(n, 64)):
            fd, events, revents = POLLFD.unpack(self.mem.read(addr + POLLFD.size * i, POLLFD.size))
            items.append(f"{{fd={fd}, {which}={events if which == 'events' else revents:#x}}}")
        return "[" + ", ".join(items) + "]"

    def _arg(self, rec: SyscallRecord, kind: Kind, regs: list[int], i: int) -> str:
        try:
            if isinstance(kind, InBuf):
                n = regs[kind.len_at] & kind.len_mask
                data = self.mem.read(regs[i], min(n, self.cap)) if n else b""
                if rec.name == "bind":
                    full = self.mem.read(regs[i], min(n, 128))
                    rec.struct = {"sockaddr": describe_sockaddr(full)}
                    return describe_sockaddr(full)
                if rec.name == "setsockopt" and n == 4:
                    return f"[{s32(int.from_bytes(data, 'little'))}]"
                rec.data, rec.data_len = data, n
                return escape(data, n)
            if isinstance(kind, CStr):
                return escape(kind.decode(regs, i, self.mem))
            if isinstance(kind, Ptr):
                return "NULL" if regs[i] == 0 else hex(regs[i])
            return kind.show(kind.decode(regs, i, self.mem))
        except Exception:  # noqa: BLE001 - a bad pointer: the handler answers EFAULT, we show the address
            return hex(regs[i])

    @staticmethod
    def _names(rec: SyscallRecord, regs: list[int]) -> None:
        """Integer arguments that have names."""
        a = rec.args
        if rec.name == "socket":
            a[0] = AF.get(s32(regs[0]), (a[0],))[0]
            a[1] = SOCK_TYPE.get(s32(regs[1]), (a[1],))[0]
        elif rec.name == "setsockopt":
            level, opt = s32(regs[1]), s32(regs[2])
            a[1] = LEVELS.get(level, (a[1],))[0]
            a[2] = SOCKOPTS.get((level, opt), (a[2],))[0]
        elif rec.name in _WAITS:
            a[2] = WAIT_OPTIONS.describe(s32(regs[2]))
        elif rec.name == "kill":
            a[1] = SIGNALS.get(s32(regs[1]), a[1])
        elif rec.name == "lseek":
            a[2] = SEEK.get(s32(regs[2]), (a[2],))[0]

    def _gather(self, rec: SyscallRecord, iov: int, count: int, limit: int | None = None) -> None:
        """The bytes of an iovec array (writev before, readv after: ``limit`` bytes moved)."""
        data, total = b"", 0
        for i in range(min(count, 1024)):
            base, n = IOVEC.unpack(self.mem.read(iov + IOVEC.size * i, IOVEC.size))
            if limit is not None:
                n = min(n, limit - total)
            if len(data) < self.cap and n:
                data += self.mem.read(base, min(n, self.cap - len(data)))
            total += n
        rec.data, rec.data_len = data, total
        rec.args[1] = escape(data, total)

    def leave(self, rec: SyscallRecord, x0: int, x1: int, carry: bool, child: bool = False) -> None:
        rec.x0, rec.x1, rec.carry, rec.child = x0, x1, carry, child
        if rec.name == "sendfile" and rec.raw[3]:  # *len is written back even on failure
            try:
                sent = struct.unpack("<q", self.mem.read(rec.raw[3], 8))[0]
                rec.args[3], rec.data_len, rec.struct = f"[{sent}]", sent, {"sent": sent}
            except Exception:  # noqa: BLE001
                pass
        if carry:
            rec.errno = ERRNO_NAME.get(x0, str(x0))
            return
        row = SYSCALLS.get(rec.num)
        rec.ret = s64(x0) if row is not None and row.ret == "ssize" else s32(x0)
        try:
            self._out(rec, x0)
        except Exception:  # noqa: BLE001 - memory went away: keep what the registers say
            pass

    def _out(self, rec: SyscallRecord, x0: int) -> None:
        """What the call wrote to guest memory."""
        regs, name = rec.raw, rec.name
        if name in _READS:
            rec.data = self.mem.read(regs[1], min(x0, self.cap)) if x0 else b""
            rec.data_len = x0
            rec.args[1] = escape(rec.data, x0)
        elif name in _STAT_CALLS:
            rec.struct = STAT64.fields(self.mem.read(regs[1], STAT64.size))
            rec.args[1] = describe_stat(rec.struct)
        elif name in _ACCEPTS and regs[1]:
            n = struct.unpack("<I", self.mem.read(regs[2], 4))[0]
            raw = self.mem.read(regs[1], min(n, 28))
            rec.struct = {"sockaddr": describe_sockaddr(raw), "len": n}
            rec.args[1], rec.args[2] = describe_sockaddr(raw), f"[{n}]"
        elif name in _READVS:
            self._gather(rec, regs[1], regs[2] & 0xFFFFFFFF, limit=x0)
        elif name in _POLLS:
            rec.args[0] = self._pollfds(regs[0], regs[1] & 0xFFFFFFFF, "revents")
        elif name in _WAITS and regs[1] and x0:
            status = struct.unpack("<i", self.mem.read(regs[1], 4))[0]
            rec.struct = {"status": status}
            rec.args[1] = f"[{describe_wait(status)}]"


def describe_stat(st: dict[str, Any]) -> str:
    mode = st["st_mode"]
    kind = _IFMT.get(mode & 0o170000, f"{mode & 0o170000:#o}")
    return f"{{st_mode={kind}|{mode & 0o7777:04o}, st_size={st['st_size']}, st_ino={st['st_ino']}, ...}}"


def describe_wait(status: int) -> str:
    """A Darwin wait status word, as the W* macros read it."""
    sig = status & 0x7F
    if sig == 0:
        return f"exited {(status >> 8) & 0xFF}"
    if sig == 0x7F:
        return f"stopped {SIGNALS.get((status >> 8) & 0xFF, (status >> 8) & 0xFF)}"
    core = " (core dumped)" if status & 0x80 else ""
    return f"killed by {SIGNALS.get(sig, sig)}{core}"
