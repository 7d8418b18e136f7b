"""The live Host: one guest process's view of the real world, made of its parts."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from emu.host.descriptors import DEFAULT_FD_LIMIT, FdTable, OpenFile
from emu.host.files import Files
from emu.host.network import Network
from emu.host.system import System
from emu.native import fastcalls


@dataclass
class Host(Files, Network, System):
    """Live host, as one guest process sees it: real files under ``root``, real sockets."""

    root: str
    fd_limit: int = DEFAULT_FD_LIMIT
    fds: FdTable = field(default_factory=dict)  # type: ignore[assignment]  # an FdTable from __post_init__
    cloexec: set[int] = field(default_factory=set)  # descriptors with FD_CLOEXEC (per process)
    cwd: list[str] = field(default_factory=list)  # components below root

    fd_hard: int = (1 << 63) - 1  # RLIMIT_NOFILE's rlim_max (RLIM_INFINITY, as on macOS)
    limits: dict[int, tuple[int, int]] = field(default_factory=dict)  # setrlimit values we keep
    entropy_seed: int | None = None  # getentropy from a seeded generator: reproducible, never secret
    addr_in_use: tuple | None = None  # the last address a bind found taken (EADDRINUSE)

    def __post_init__(self) -> None:
        fastcalls.library()  # decided before the first open file: each gets its C twin, or none does
        self.fds = FdTable(self.fds)
        self.root_fd = os.open(self.root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        st = os.fstat(self.root_fd)
        self.root_id = (st.st_dev, st.st_ino)
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        for n in (0, 1, 2):
            try:
                self.fds[n] = OpenFile(os.dup(n), "stdio", f"<fd {n}>")
            except OSError:
                pass  # the emulator was started without it: so is the guest

    # ------------------------------------------------------------ processes
    def fork(self) -> Host:
        """The Host of a child forked inside this emulator: the same root, a copy of the
        descriptor table whose entries share their open files (offset, flags) with ours,
        and a wake pipe of its own (a signal for one process never wakes the other)."""
        self.settle()  # the child copies what is open now
        child = object.__new__(type(self))
        child.__dict__.update(self.__dict__)  # a shallow copy (copy.copy is several times slower)
        child.fds = FdTable({n: self._share(of) for n, of in self.fds.items()})
        child.cloexec, child.cwd, child.limits = set(self.cloexec), list(self.cwd), dict(self.limits)
        child.addr_in_use = None
        child._wake_r, child._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        return child

    def close_all(self) -> None:
        """The process has ended: every descriptor goes (a file closes with its last one)."""
        self.settle()
        for n in list(self.fds):
            self.close(n)
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass
        self._wake_r = self._wake_w = -1
