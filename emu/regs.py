"""A cheap path to a fixed set of guest registers.

Unicorn's Python reg_read costs ~1.9 us a register (unicorn.md); a syscall
needs ten of them and writes three.  One uc_reg_read_batch call through
ctypes with buffers made once costs ~2 us for all ten.  Falls back to the
binding's own batch calls if its internals ever move.  ``GuestBytes`` does
the same for guest memory: the binding's calls release the GIL at every
copy, which many guest processes on their threads turn into a queue.
"""

from __future__ import annotations

import ctypes
import struct

from unicorn import Uc
from unicorn.unicorn_py3.unicorn import uclib

# One private handle on Unicorn's C library for the short calls (register batches, guest-memory
# copies): PyDLL keeps the GIL through the call, which for a copy of a few bytes is quicker
# than giving the GIL away and queueing for it behind other guest processes' threads.
# Functions without argtypes take ctypes objects only, which halves the per-call cost.
UNICORN = ctypes.PyDLL(uclib._name)
reg_read_batch = UNICORN.uc_reg_read_batch
reg_write_batch = UNICORN.uc_reg_write_batch
reg_read_batch.restype = reg_write_batch.restype = ctypes.c_int


class RegisterBatch:
    """Read or write one fixed list of registers in a single C call."""

    def __init__(self, uc: Uc, ids: list[int]) -> None:
        self.uc, self.ids, n = uc, list(ids), len(ids)
        self._ids = (ctypes.c_int * n)(*ids)
        self._vals = (ctypes.c_uint64 * n)()
        base = ctypes.addressof(self._vals)
        self._ptrs = (ctypes.c_void_p * n)(*[base + 8 * i for i in range(n)])
        self._n = n
        # the values through a memoryview and a Struct: half the cost of a ctypes array slice
        self._bytes = memoryview(self._vals).cast("B")
        self._view = self._bytes.cast("Q")
        self._pack = struct.Struct(f"<{n}Q").pack_into
        try:
            self._read_fn, self._write_fn = reg_read_batch, reg_write_batch
            self._handle = ctypes.c_void_p(ctypes.cast(uc._uch, ctypes.c_void_p).value)
            self._count = ctypes.c_int(n)
        except AttributeError:  # the binding's internals moved: its own batch calls
            self._read_fn = self._write_fn = None

    def read(self) -> list[int]:
        if self._read_fn is None:
            return list(self.uc.reg_read_batch(self.ids))
        if self._read_fn(self._handle, self._ids, self._ptrs, self._count):
            raise RuntimeError("uc_reg_read_batch failed")
        return self._view.tolist()

    def write(self, values: list[int]) -> None:
        if self._write_fn is None:
            self.uc.reg_write_batch(list(zip(self.ids, values, strict=True)))
            return
        self._pack(self._bytes, 0, *values)  # callers pass 64-bit values (x0/x1 masked by the kernel)
        if self._write_fn(self._handle, self._ids, self._ptrs, self._count):
            raise RuntimeError("uc_reg_write_batch failed")


class GuestBytes:
    """uc_mem_read / uc_mem_write on one Unicorn, the GIL kept through the copy (see above)."""

    def __init__(self, uc: Uc) -> None:
        self._read, self._write = UNICORN.uc_mem_read, UNICORN.uc_mem_write
        for fn in (self._read, self._write):
            fn.restype = ctypes.c_int
            fn.argtypes = [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_void_p, ctypes.c_size_t]
        self._handle = ctypes.cast(uc._uch, ctypes.c_void_p).value

    def read(self, addr: int, n: int) -> bytes | None:
        """The bytes, or None if any of them is not mapped."""
        buf = ctypes.create_string_buffer(n)
        if self._read(self._handle, addr, buf, n):
            return None
        return buf.raw

    def write(self, addr: int, data: bytes) -> bool:
        """False if the range is not mapped."""
        return self._write(self._handle, addr, data, len(data)) == 0
