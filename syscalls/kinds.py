"""Argument kinds: how a syscall row's registers are decoded and shown.

One kind per row argument does three jobs from one declaration: it turns
a raw register into the value the handler takes, prints it for a trace,
and (later) decides what a recording keeps.  Guest memory is reached only
through the ``Memory`` protocol, so the kinds never import Unicorn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol

MASK64 = (1 << 64) - 1


class Memory(Protocol):
    def read(self, addr: int, n: int) -> bytes: ...
    def write(self, addr: int, data: bytes) -> None: ...
    def cstr(self, addr: int, limit: int) -> bytes: ...


def s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def s64(v: int) -> int:
    v &= MASK64
    return v - (1 << 64) if v >> 63 else v


class Kind:
    """Decodes register ``i`` of ``regs``; shows the decoded value."""

    def decode(self, regs: list[int], i: int, mem: Memory) -> Any:
        return regs[i]

    def show(self, value: Any) -> str:
        return str(value)


class Int(Kind):          # C int: low 32 bits, signed
    def decode(self, regs, i, mem):
        return s32(regs[i])


class UInt(Kind):         # u_int, socklen_t
    def decode(self, regs, i, mem):
        return regs[i] & 0xFFFFFFFF


class Fd(Int):
    pass


class Size(Kind):         # size_t
    def decode(self, regs, i, mem):
        return regs[i] & MASK64


class Off(Kind):          # off_t: one 64-bit register
    def decode(self, regs, i, mem):
        return s64(regs[i])


class Ptr(Kind):          # a guest address the handler uses itself (out-buffer, struct out)
    def show(self, value):
        return hex(value)


@dataclass
class Flags(Int):         # a C int of flags, shown by name
    describe: Callable[[int], str]

    def show(self, value):
        return self.describe(value)


@dataclass
class CStr(Kind):         # NUL-terminated string (a path: Darwin's PATH_MAX)
    limit: int = 1024

    def decode(self, regs, i, mem):
        return mem.cstr(regs[i], self.limit)

    def show(self, value):
        return repr(value)[1:]


@dataclass
class InBuf(Kind):        # bytes the guest passes in; length in register ``len_at``
    len_at: int

    def decode(self, regs, i, mem):
        n = regs[self.len_at] & MASK64
        return mem.read(regs[i], n) if n else b""

    def show(self, value):
        shown = value[:32]
        return repr(shown)[1:] + ("..." if len(value) > 32 else "")
