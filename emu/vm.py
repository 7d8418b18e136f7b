"""The guest's address space as mmap/munmap/mprotect change it.

Owns: Unicorn's regions seen as (start, end, prot) triples, and keeping
GuestMemory's writable ranges (which the syscall layer checks before it
copies out) in step with every map, unmap and protect.  The policy (where
an anonymous map goes, which flags are allowed) is in syscalls/mem.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from unicorn import Uc

from syscalls.consts import PAGE_SIZE

if TYPE_CHECKING:
    from emu.machine import GuestMemory

PAGE = PAGE_SIZE


class UnicornVM:
    """Kernel.vm for a Machine."""

    page = PAGE

    def __init__(self, uc: Uc, mem: GuestMemory) -> None:
        self.uc, self.mem = uc, mem

    def regions(self) -> list[tuple[int, int, int]]:
        return sorted((lo, hi + 1, perms) for lo, hi, perms in self.uc.mem_regions())

    def map(self, addr: int, size: int, prot: int) -> None:
        self.uc.mem_map(addr, size, prot)
        self._writable(addr, size, bool(prot & 2))

    def unmap(self, addr: int, size: int) -> None:
        for lo, hi, _ in self.regions():
            a, b = max(lo, addr), min(hi, addr + size)
            if a < b:
                self.uc.mem_unmap(a, b - a)
        self._writable(addr, size, False)

    def protect(self, addr: int, size: int, prot: int) -> None:
        self.uc.mem_protect(addr, size, prot)
        self._writable(addr, size, bool(prot & 2))

    def _writable(self, addr: int, size: int, on: bool) -> None:
        end, kept = addr + size, []
        for lo, hi in self.mem.writable:
            if hi <= addr or lo >= end:
                kept.append((lo, hi))
                continue
            if lo < addr:
                kept.append((lo, addr))
            if hi > end:
                kept.append((end, hi))
        if on:
            kept.append((addr, end))
        self.mem.writable = sorted(kept)
