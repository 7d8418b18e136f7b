"""Unicorn hooks and register reads at the lowest Python cost, for tracing.

Owns: adding and removing code, block and memory hooks straight through
the C library (one Python frame per call instead of the binding's three;
``UC_HOOK_MEM_READ_AFTER``, which the binding refuses, gives the value a
load read), flushing the translation cache after every add and delete
(unicorn.md: a hook added after a block was translated is not called for
it in Unicorn 2.1.4), and a batched register read through a preallocated
buffer (~0.3 us against ~1.6 us for ``uc.reg_read``).

A callback here must not raise: ctypes prints the exception and carries
on.  The tracer catches everything in its callbacks itself.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any, NamedTuple

from unicorn import Uc
from unicorn import unicorn_const as U
from unicorn.unicorn_py3 import unicorn as _ucpy

from emu.regs import reg_read_batch

CODE_CFUNC = _ucpy.HOOK_CODE_CFUNC
INTR_CFUNC = _ucpy.HOOK_INTR_CFUNC
MEM_CFUNC = _ucpy.HOOK_MEM_ACCESS_CFUNC
MAX_BATCH = 16

_reg_read_batch = reg_read_batch  # emu/regs.py's handle on Unicorn (ctypes objects only)


class Hooks:
    """Hooks one tracer added to one Unicorn instance, removable together."""

    def __init__(self, uc: Uc) -> None:
        self.uc = uc
        self.handles: list[int] = []
        self._keep: dict[int, object] = {}  # the C function pointers must stay alive

    def code(
        self, callback: Callable[[int, int, int, int], None], begin: int = 1, end: int = 0, block: bool = False
    ) -> int:
        """``callback(handle, address, size, user)`` before each instruction (or block)."""
        return self._add(U.UC_HOOK_BLOCK if block else U.UC_HOOK_CODE, CODE_CFUNC(callback), begin, end)

    def interrupt(self, fptr: object, user: int | None = None) -> int:
        """A C function at each CPU exception (``svc`` is EXCP_SWI): an ``INTR_CFUNC`` callback
        ``(handle, intno, user)``, or emu/native's hook and its state as ``user``."""
        return self._add(U.UC_HOOK_INTR, fptr, 1, 0, user)

    def memory(self, callback: Callable[[int, int, int, int, int, int], None]) -> int:
        """``callback(handle, access, address, size, value, user)`` after each load, before each store."""
        return self._add(U.UC_HOOK_MEM_READ_AFTER | U.UC_HOOK_MEM_WRITE, MEM_CFUNC(callback), 1, 0)

    def _add(self, kind: int, fptr: object, begin: int, end: int, user: int | None = None) -> int:
        handle = _ucpy.uc_hook_h()
        status = _ucpy.uclib.uc_hook_add(
            self.uc._uch,
            ctypes.byref(handle),
            kind,
            ctypes.cast(fptr, ctypes.c_void_p),
            ctypes.c_void_p(user),
            ctypes.c_uint64(begin),
            ctypes.c_uint64(end),
        )
        if status != U.UC_ERR_OK:
            raise _ucpy.UcError(status)
        self.handles.append(handle.value)
        self._keep[handle.value] = fptr
        return handle.value

    def flush(self) -> None:
        """Drop translated code, so that every block is translated again with (or without) the hooks."""
        self.uc.ctl_flush_tb()

    def remove(self, handles: Sequence[int] | None = None) -> None:
        for h in list(self.handles if handles is None else handles):
            _ucpy.uclib.uc_hook_del(self.uc._uch, _ucpy.uc_hook_h(h))
            self.handles.remove(h)
            self._keep.pop(h, None)


class RegReader:
    """Read a few registers in one C call, through buffers prepared per instruction.

    ``prepare(ids, narrow)`` returns what ``read`` needs; ``read`` returns the
    values in the order of ``ids``.  Unicorn writes only 4 bytes for a 32-bit
    register (NZCV), so those get slots that never hold a 64-bit value.
    """

    def __init__(self, uc: Uc) -> None:
        self.handle = ctypes.c_void_p(uc._uch.value)
        self.values = (ctypes.c_uint64 * (2 * MAX_BATCH))()
        self.base = ctypes.addressof(self.values)

    def prepare(self, reg_ids: Sequence[int], narrow: Sequence[bool] = ()) -> Prepared:
        reg_ids = list(reg_ids)[:MAX_BATCH]
        slots = [MAX_BATCH + i if i < len(narrow) and narrow[i] else i for i in range(len(reg_ids))]
        ids = (ctypes.c_int * max(1, len(reg_ids)))(*reg_ids)
        ptrs = (ctypes.c_void_p * max(1, len(reg_ids)))(*[self.base + 8 * s for s in slots])
        get = itemgetter(*slots) if slots else None  # one slot: the value itself, else a tuple
        return Prepared(ids, ptrs, len(reg_ids), get)

    def read(self, p: Prepared) -> Any:
        """The value (one register) or the tuple of values (several)."""
        _reg_read_batch(self.handle, p.ids, p.ptrs, p.n)
        return p.get(self.values)


class Prepared(NamedTuple):
    ids: ctypes.Array
    ptrs: ctypes.Array
    n: int
    get: Callable[[ctypes.Array], tuple[int, ...]] | None
