"""Argument kinds: how a syscall row's registers are decoded, shown and compared.

One kind per row argument does three jobs from one declaration: it turns
a raw register into the value the handler takes (``decode``, copying in
what the call reads), shows the argument in a trace before and after the
call (``enter``/``leave``: an out-kind shows what the call wrote), and
says what a replay compares (``normal``: a pointer compares as itself,
its bytes through the recorded reads).  Guest memory is reached only
through the ``Memory`` protocol, so the kinds never import Unicorn.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from syscalls.errno import DarwinError
from syscalls.show import describe_wait, escape
from syscalls.structs import IOVEC, POLLFD, SOCKADDR_IN6_LEN, Layout, describe_sockaddr

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


@dataclass
class Seen:
    """One call as a trace sees it: its registers, guest memory (read only), how many
    bytes of a buffer to show, and what the kinds found (bytes moved, struct fields)."""

    regs: list[int]
    mem: Memory
    cap: int = 64
    data: bytes | None = None  # bytes moved (read, write), at most ``cap``
    data_len: int = 0  # bytes moved in all
    struct: dict[str, Any] = field(default_factory=dict)  # stat64 / sockaddr fields

    def moved(self, addr: int, n: int) -> str:
        """``n`` bytes at ``addr`` the call moved: kept (the first ``cap``) and shown quoted."""
        self.data = self.mem.read(addr, min(n, self.cap)) if n else b""
        self.data_len = n
        return escape(self.data, n)

    def u32(self, addr: int) -> int:
        return int.from_bytes(self.mem.read(addr, 4), "little")

    def s32(self, addr: int) -> int:
        return s32(self.u32(addr))

    def s64(self, addr: int) -> int:
        return s64(int.from_bytes(self.mem.read(addr, 8), "little"))


class Kind:
    """Register ``i`` of ``regs``: decoded for the handler, shown for a trace, compared by a replay."""

    def decode(self, regs: list[int], i: int, mem: Memory) -> Any:
        return regs[i]

    def show(self, value: Any) -> str:
        return str(value)

    def enter(self, seen: Seen, i: int) -> str:
        """The argument as a trace shows it when the call is made."""
        return self.show(self.decode(seen.regs, i, seen.mem))

    def leave(self, seen: Seen, i: int, ret: int | None) -> str | None:
        """What the call wrote there, once it returned ``ret`` (None: it failed); None: as before."""
        return None

    def normal(self, regs: list[int] | tuple[int, ...], i: int) -> int:
        """The register as a replay compares it: as decoded; memory arguments: the pointer itself."""
        return self.decode(list(regs), i, None)  # type: ignore[arg-type]


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

    def enter(self, seen, i):
        return "NULL" if seen.regs[i] == 0 else hex(seen.regs[i])

    def normal(self, regs, i):
        return regs[i]


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

    def enter(self, seen, i):
        return escape(self.decode(seen.regs, i, seen.mem))

    def normal(self, regs, i):
        return regs[i]


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

    def enter(self, seen, i):
        return seen.moved(seen.regs[i], seen.regs[self.len_at] & self.len_mask)

    def normal(self, regs, i):
        return regs[i]


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


# ---------------------------------------------------------------- names for integers


@dataclass
class Enum(Int):
    """A C int that is one of a set of named values (``names``: value -> name, or -> (name, ...))."""

    names: Mapping[int, Any]

    def show(self, value):
        name = self.names.get(value)
        return str(value) if name is None else name if isinstance(name, str) else name[0]


@dataclass
class SockOpt(Int):
    """setsockopt's option name, which means something only with its level (register ``level_at``)."""

    names: Mapping[tuple[int, int], tuple[str, Any]]
    level_at: int

    def enter(self, seen, i):
        name = self.names.get((s32(seen.regs[self.level_at]), s32(seen.regs[i])))
        return str(s32(seen.regs[i])) if name is None else name[0]


# ---------------------------------------------------------------- what a call reads from memory


@dataclass
class SockaddrIn(InBuf):
    """A sockaddr the guest passes (bind, connect): shown by its fields."""

    def enter(self, seen, i):
        n = seen.regs[self.len_at] & self.len_mask
        shown = describe_sockaddr(seen.mem.read(seen.regs[i], min(n, 128)))
        seen.struct = {"sockaddr": shown}
        return shown


@dataclass
class OptVal(InBuf):
    """setsockopt's value: an int option shows as ``[value]``, anything else as bytes."""

    def enter(self, seen, i):
        n = seen.regs[self.len_at] & self.len_mask
        if n == 4:
            return f"[{seen.s32(seen.regs[i])}]"
        return super().enter(seen, i)


@dataclass
class IovecIn(Ptr):
    """An iovec array the call gathers from (writev); its count in register ``count_at``."""

    count_at: int

    def enter(self, seen, i):
        return gather(seen, seen.regs[i], seen.regs[self.count_at] & MASK32)


@dataclass
class PollFds(Ptr):
    """A pollfd array, read and written back (poll); its count in register ``count_at``."""

    count_at: int

    def enter(self, seen, i):
        return self._items(seen, i, "events")

    def leave(self, seen, i, ret):
        return None if ret is None else self._items(seen, i, "revents")

    def _items(self, seen: Seen, i: int, which: str) -> str:
        items = []
        for k in range(min(seen.regs[self.count_at] & MASK32, 64)):
            pfd = POLLFD.fields(seen.mem.read(seen.regs[i] + POLLFD.size * k, POLLFD.size))
            items.append(f"{{fd={pfd['fd']}, {which}={pfd[which]:#x}}}")
        return "[" + ", ".join(items) + "]"


# ---------------------------------------------------------------- what a call writes to memory


@dataclass
class OutBuf(Ptr):
    """Bytes the call writes: as many as it returns (read), or as register ``len_at`` asks."""

    len_at: int | None = None

    def leave(self, seen, i, ret):
        if ret is None:
            return None
        return seen.moved(seen.regs[i], ret if self.len_at is None else seen.regs[self.len_at] & MASK64)


@dataclass
class IovecOut(Ptr):
    """An iovec array the call scatters into (readv): as many bytes as it returns."""

    count_at: int

    def leave(self, seen, i, ret):
        if ret is None:
            return None
        return gather(seen, seen.regs[i], seen.regs[self.count_at] & MASK32, limit=ret)


@dataclass
class StructOut(Ptr):
    """A struct the call fills in on success, shown by ``describe`` from its named fields."""

    layout: Layout
    describe: Callable[[dict[str, Any]], str]

    def leave(self, seen, i, ret):
        if ret is None or not seen.regs[i]:
            return None
        seen.struct = self.layout.fields(seen.mem.read(seen.regs[i], self.layout.size))
        return self.describe(seen.struct)


@dataclass
class SockaddrOut(Ptr):
    """A sockaddr the call fills in (accept); its socklen_t in/out pointer in register ``len_at``."""

    len_at: int

    def leave(self, seen, i, ret):
        if ret is None or not seen.regs[i]:
            return None
        n = seen.u32(seen.regs[self.len_at])
        shown = describe_sockaddr(seen.mem.read(seen.regs[i], min(n, SOCKADDR_IN6_LEN)))
        seen.struct = {"sockaddr": shown, "len": n}
        return shown


class LenOut(Ptr):
    """A socklen_t the call updates (accept's length): ``[value]`` after the call."""

    def leave(self, seen, i, ret):
        return None if ret is None or not seen.regs[i] else f"[{seen.u32(seen.regs[i])}]"


class OffInOut(Ptr):
    """An off_t in and out (sendfile's length: asked, then sent; written back even on failure)."""

    def enter(self, seen, i):
        return f"[{seen.s64(seen.regs[i])}]" if seen.regs[i] else super().enter(seen, i)

    def leave(self, seen, i, ret):
        if not seen.regs[i]:
            return None
        sent = seen.s64(seen.regs[i])
        seen.data_len, seen.struct = sent, {"sent": sent}
        return f"[{sent}]"


class StatusOut(Ptr):
    """wait4's status word, written when a child was reaped."""

    def leave(self, seen, i, ret):
        if not ret or not seen.regs[i]:
            return None
        status = seen.s32(seen.regs[i])
        seen.struct = {"status": status}
        return f"[{describe_wait(status)}]"


def gather(seen: Seen, iov: int, count: int, limit: int | None = None) -> str:
    """The bytes of an iovec array as a trace shows them (at most ``limit`` bytes moved)."""
    data, total = b"", 0
    for k in range(min(count, 1024)):
        vec = IOVEC.fields(seen.mem.read(iov + IOVEC.size * k, IOVEC.size))
        n = vec["iov_len"] if limit is None else min(vec["iov_len"], limit - total)
        if len(data) < seen.cap and n:
            data += seen.mem.read(vec["iov_base"], min(n, seen.cap - len(data)))
        total += n
    seen.data, seen.data_len = data, total
    return escape(data, total)
