"""A cheap path to a fixed set of guest registers.

Unicorn's Python reg_read costs ~1.9 us a register (unicorn.md); a syscall
needs ten of them and writes three.  One uc_reg_read_batch call through
ctypes with buffers made once costs ~2 us for all ten.  Falls back to the
binding's own batch calls if its internals ever move.
"""

from __future__ import annotations

import ctypes

from unicorn import Uc


class RegisterBatch:
    """Read or write one fixed list of registers in a single C call."""

    def __init__(self, uc: Uc, ids: list[int]) -> None:
        self.uc, self.ids, n = uc, list(ids), len(ids)
        self._ids = (ctypes.c_int * n)(*ids)
        self._vals = (ctypes.c_uint64 * n)()
        base = ctypes.addressof(self._vals)
        self._ptrs = (ctypes.c_void_p * n)(*[base + 8 * i for i in range(n)])
        self._n = n
        try:
            from unicorn.unicorn_py3.unicorn import uclib
            # a private handle on the C functions, without argtypes: the arguments are
            # already ctypes objects, and skipping the per-call conversion halves the cost
            lib = ctypes.CDLL(uclib._name)
            self._read_fn, self._write_fn = lib.uc_reg_read_batch, lib.uc_reg_write_batch
            self._read_fn.restype = self._write_fn.restype = ctypes.c_int
            self._handle = ctypes.c_void_p(ctypes.cast(uc._uch, ctypes.c_void_p).value)
            self._count = ctypes.c_int(n)
        except (ImportError, AttributeError, OSError):
            self._read_fn = self._write_fn = None

    def read(self) -> list[int]:
        if self._read_fn is None:
            return list(self.uc.reg_read_batch(self.ids))
        if self._read_fn(self._handle, self._ids, self._ptrs, self._count):
            raise RuntimeError("uc_reg_read_batch failed")
        return self._vals[:]

    def write(self, values: list[int]) -> None:
        if self._write_fn is None:
            self.uc.reg_write_batch(list(zip(self.ids, values, strict=True)))
            return
        self._vals[:] = values   # callers pass 64-bit values (x0/x1 masked by the kernel)
        if self._write_fn(self._handle, self._ids, self._ptrs, self._count):
            raise RuntimeError("uc_reg_write_batch failed")
