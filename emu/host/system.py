"""System: who the guest runs as, its limits, the machine it sees, entropy and the clock."""

from __future__ import annotations

import os
import resource
import socket
import time


class System:
    """Identity, limits, entropy and time: the parts of the Host with no descriptor."""

    limits: dict[int, tuple[int, int]]
    entropy_seed: int | None

    # ------------------------------------------------------------ identity and limits
    def ids(self) -> tuple[int, int, int, int]:
        """(uid, euid, gid, egid) of this process."""
        return os.getuid(), os.geteuid(), os.getgid(), os.getegid()

    def getrlimit(self, res: int) -> tuple[int, int]:
        if res in self.limits:
            return self.limits[res]
        return resource.getrlimit(res)

    def setrlimit(self, res: int, soft: int, hard: int) -> None:
        """Kept for the guest only: the emulator's own limits stay as they are."""
        self.limits[res] = (soft, hard)

    def cpu_count(self) -> int:
        return os.cpu_count() or 1

    def memsize(self) -> int:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")

    def hostname(self) -> str:
        return socket.gethostname()

    def entropy(self, n: int) -> bytes:
        if self.entropy_seed is None:
            return os.urandom(n)
        if not hasattr(self, "_entropy"):
            import random

            self._entropy = random.Random(self.entropy_seed)
        return self._entropy.randbytes(n)

    # ------------------------------------------------------------ clock
    def time_ns(self) -> int:
        return time.time_ns()

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()
