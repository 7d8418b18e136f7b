"""The syscall boundary: dispatch one trap through the table.

Owns: decoding registers by the row's argument kinds (descriptor
arguments are looked up first, as XNU does before any copy-in), calling the
handler, writing its memory results, and the Darwin return convention
(carry clear and x0/x1 on success; carry set, x0 = errno, x1 = 0 on
failure).  Host OSErrors become Darwin errno values here, by name.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from syscalls.errno import DARWIN_ERRNO, DarwinError, from_host
from syscalls.kinds import MASK64, Fd, Kind, Memory, s32
from syscalls.procs import DEFAULT_UMASK
from syscalls.sigstate import SignalState

if TYPE_CHECKING:
    from emu.host import Host
    from syscalls.itimer import RealTimer
    from syscalls.procs import Proc, ProcessTable

ENOSYS = DARWIN_ERRNO["ENOSYS"]
EFAULT = DARWIN_ERRNO["EFAULT"]


class BadAddress(Exception):
    """A guest pointer that does not reach mapped memory (EFAULT)."""


class GuestExit(Exception):
    """The guest asked to end this process with ``status``."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class Unimplemented(Exception):
    """A syscall the table has no handler for, under --strict."""


class Ret:
    """A handler's answer: x0, x1, and bytes to copy out to the guest.  A plain class with
    slots: one is made at every syscall."""

    __slots__ = ("value", "value2", "writes")

    def __init__(self, value: int = 0, value2: int = 0, writes: Sequence[tuple[int, bytes]] = ()) -> None:
        self.value, self.value2, self.writes = value, value2, writes

    def __repr__(self) -> str:
        return f"Ret({self.value}, {self.value2}, writes={list(self.writes)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Ret):
            return NotImplemented
        return (self.value, self.value2, list(self.writes)) == (other.value, other.value2, list(other.writes))


@dataclass(frozen=True)
class Syscall:
    """One row: Darwin name, how x0/x1 are written, argument kinds, handler (None: not
    implemented, ENOSYS), where it knowingly differs from macOS, and what else it is."""

    name: str
    ret: str  # "int", "ssize" (64-bit), "void"
    args: tuple[Kind, ...]
    handler: Callable[..., Ret] | None
    note: str = ""
    socket: bool = False  # a socket call: the host's EOPNOTSUPP is Darwin's EOPNOTSUPP (102), not ENOTSUP (45)
    forks: bool = False  # makes a process: the fork tree grows here (record and replay follow it)
    # the process state it changes, which a replay rebuilds by running the call again
    # rather than by writing back what it copied out ("the address space", "the signal state")
    rerun: str = ""
    # does not return to its svc: every register comes back from a signal frame (sigreturn)
    frame_return: bool = False
    fds: tuple[int, ...] = field(init=False, repr=False, compare=False)  # which arguments are descriptors

    def __post_init__(self) -> None:
        object.__setattr__(self, "fds", tuple(i for i, kind in enumerate(self.args) if isinstance(kind, Fd)))


class VirtualMemory(Protocol):
    """The guest's address space, as mmap/munmap/mprotect change it (emu/machine.py provides it).

    Addresses and sizes are multiples of ``page``; ``prot`` is Darwin's
    PROT_* bits (READ 1, WRITE 2, EXEC 4), which are also Unicorn's.
    ``map`` gives zero-filled memory over a range ``regions`` shows free;
    ``unmap`` and ``protect`` may span several regions and holes.
    """

    page: int

    def regions(self) -> list[tuple[int, int, int]]: ...  # (start, end exclusive, prot), sorted
    def map(self, addr: int, size: int, prot: int) -> None: ...
    def unmap(self, addr: int, size: int) -> None: ...
    def protect(self, addr: int, size: int, prot: int) -> None: ...


class GuestKilled(Exception):
    """The guest process ends by a signal's default action (``signal`` is Darwin's number)."""

    def __init__(self, signal: int) -> None:
        super().__init__(signal)
        self.signal = signal


@dataclass
class Kernel:
    """What a handler may use: the Host, guest memory, and this process's signal state."""

    host: Host
    mem: Memory
    table: dict[int, Syscall]
    strict: bool = False
    where: Callable[[], str] = lambda: ""  # "pc sym+off (file:line)" for reports
    reported: set[int] = field(default_factory=set)
    vm: VirtualMemory | None = None  # None: mmap and kin answer ENOSYS
    signals: SignalState = field(default_factory=SignalState)
    # this process and the table of all (emu/tree.py fills these in)
    procs: ProcessTable | None = None
    proc: Proc | None = None
    fork: Callable[[], int] | None = None  # the Machine's fork: the child's pid
    interrupted: Callable[[], bool] = lambda: False  # a signal (or the end of the run) wants this process
    itimer: RealTimer | None = None  # ITIMER_REAL: SIGALRM from a timer thread

    def raise_signal(self, sig: int) -> None:
        """A signal this process's own syscall generated (SIGPIPE on a broken pipe): it is
        delivered, by its action, as the call returns (emu/machine.py)."""
        assert self.procs is not None and self.proc is not None
        self.procs.post(self.proc, sig)

    def call(self, num: int, regs: list[int]) -> tuple[int, int, bool]:
        """Run syscall ``num`` with x0..x7 = ``regs``: returns (x0, x1, carry)."""
        row = self.table.get(num)
        if row is None or row.handler is None:
            return self._unimplemented(num, row)
        try:
            # the kernel looks a descriptor up before it copies anything in:
            # write(99, bad_ptr, n) is EBADF, not EFAULT
            for i in row.fds:
                self.host.check(s32(regs[i]))
            if row.args:
                mem = self.mem
                ret = row.handler(self, *[kind.decode(regs, i, mem) for i, kind in enumerate(row.args)])
            else:
                ret = row.handler(self)
            for addr, data in ret.writes:
                self.mem.write(addr, data)
        except DarwinError as e:
            return e.errno, 0, True
        except BadAddress:
            return EFAULT, 0, True
        except OSError as e:
            return from_host(e.errno, socket=row.socket), 0, True
        if row.ret == "int":
            return _sext32(ret.value), _sext32(ret.value2), False
        return ret.value & MASK64, ret.value2 & MASK64, False

    @property
    def umask(self) -> int:
        """This process's file-creation mask (a Kernel without a process: launchd's default)."""
        return self.proc.umask if self.proc is not None else DEFAULT_UMASK

    def probe_writable(self, addr: int, n: int) -> None:
        """Raise BadAddress unless guest ``addr .. addr+n`` can be written.

        Lets a handler fail with EFAULT *before* it consumes anything from
        the host (a read's bytes, an accepted connection, a reaped child).
        """
        if n > 0:
            self.mem.probe(addr, n)

    def _unimplemented(self, num: int, row: Syscall | None) -> tuple[int, int, bool]:
        name = row.name if row else "unknown"
        msg = f"unimplemented syscall {num} ({name}) at {self.where()}"
        if self.strict:
            raise Unimplemented(msg)
        if num not in self.reported:
            self.reported.add(num)
            print(f"ymawky-emu: {msg}; returning ENOSYS", file=sys.stderr, flush=True)
        return ENOSYS, 0, True


def _sext32(v: int) -> int:
    v &= 0xFFFFFFFF
    return (v | 0xFFFFFFFF00000000) if v & 0x80000000 else v
