"""Argument kinds: how a syscall row's registers are decoded and shown.

One kind per row argument does three jobs from one declaration: it turns
a raw register into the value the handler takes, prints it for a trace,
and (later) decides what a recording keeps.  Guest memory is reached only
through the ``Memory`` protocol, so the kinds never import Unicorn.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from syscalls.errno import DarwinError

MASK64 = (1 << 64) - 1
MASK32 = (1 << 32) - 1
INT_MAX = (1 << 31) - 1  # Darwin refuses a read/write of more bytes (EINVAL)
CHUNK = 1 << 20  # InBuf copies in at most this much at a time


class Memory(Protocol):
    def read(self, addr: int, n: int) -> bytes: ...
    def write(self, addr: int, data: bytes) -> None: ...
    def cstr(self, addr: int, limit: int) -> bytes: ...
    def probe(self, addr: int, n: int) -> None: ...  # BadAddress unless writable; copies nothing


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


class Int(Kind):  # C int: low 32 bits, signed
    def decode(self, regs, i, mem):
        return s32(regs[i])


class UInt(Kind):  # u_int, socklen_t
    def decode(self, regs, i, mem):
        return regs[i] & 0xFFFFFFFF


class Fd(Int):
    pass


class Size(Kind):  # size_t
    def decode(self, regs, i, mem):
        return regs[i] & MASK64


class Off(Kind):  # off_t: one 64-bit register
    def decode(self, regs, i, mem):
        return s64(regs[i])


class Ptr(Kind):  # a guest address the handler uses itself (out-buffer, struct out)
    def show(self, value):
        return hex(value)


@dataclass
class Flags(Int):  # a C int of flags, shown by name
    describe: Callable[[int], str]

    def show(self, value):
        return self.describe(value)


@dataclass
class UFlags(UInt):  # a C u_int of flags, shown by name
    describe: Callable[[int], str]

    def show(self, value):
        return self.describe(value)


@dataclass
class CStr(Kind):  # NUL-terminated string (a path: Darwin's PATH_MAX)
    limit: int = 1024

    def decode(self, regs, i, mem):
        return mem.cstr(regs[i], self.limit)

    def show(self, value):
        return repr(value)[1:]


@dataclass
class InBuf(Kind):  # bytes the guest passes in; length in register ``len_at``
    """Guest bytes copied in before the handler runs.

    ``len_mask`` is the width of the length argument (size_t or socklen_t).
    A length above ``limit`` either fails with errno ``over`` (checked before
    any memory is touched, as the kernel checks before copyin) or, with
    ``over=None``, is clipped to ``limit`` (the kernel copies in only what
    the call needs).  Memory is read in chunks, so a huge length over a
    small mapping fails fast with EFAULT instead of allocating gigabytes.
    """

    len_at: int
    len_mask: int = MASK64
    limit: int | None = None
    over: str | None = "EINVAL"

    def decode(self, regs, i, mem):
        n = regs[self.len_at] & self.len_mask
        if self.limit is not None and n > self.limit:
            if self.over is not None:
                raise DarwinError(self.over, f"length {n} > {self.limit}")
            n = self.limit
        out = bytearray()
        addr = regs[i]
        while len(out) < n:
            out += mem.read(addr + len(out), min(n - len(out), CHUNK))
        return bytes(out)

    def show(self, value):
        shown = value[:32]
        return repr(shown)[1:] + ("..." if len(value) > 32 else "")


class DirFd(Int):  # the dirfd of an *at() call: AT_FDCWD (-2) decodes to None
    def decode(self, regs, i, mem):
        v = s32(regs[i])
        return None if v == -2 else v

    def show(self, value):
        return "AT_FDCWD" if value is None else str(value)


class ULong(Kind):  # u_long (an ioctl request): one 64-bit register, unsigned
    def decode(self, regs, i, mem):
        return regs[i] & MASK64

    def show(self, value):
        return hex(value)


class Long(Kind):  # C long (fcntl's arg): one 64-bit register, signed
    def decode(self, regs, i, mem):
        return s64(regs[i])
