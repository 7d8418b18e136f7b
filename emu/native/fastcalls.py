"""The hot syscalls in C (emu/native/fastcalls.c): built, loaded and fed from here.

Owns: compiling fastcalls.c with the host's C compiler on first use (cached
by source and definitions, beside the assembler's cache), the -D definitions
and tables it gets from the Python declarations (syscall numbers from the
table, errno and poll bits from syscalls/, stat64's field offsets from its
Layout), and the three objects the rest of the emulator holds: a
``NativeCpu`` per Unicorn, a ``NativeTable`` per descriptor table and a
``native_file`` per open file.

Without a compiler, on a host other than Linux, with ``--python-syscalls`` or
``YMAWKY_PYTHON_SYSCALLS=1``, ``library()`` is None and every call is Python's.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from unicorn import Uc

SOURCE = Path(__file__).with_name("fastcalls.c")
TABLE_SIZE = 1024  # guest descriptors the C table holds; a higher one is Python's
SIGPIPE_UPCALL = 0x10000  # the "interrupt number" by which C asks Python for a SIGPIPE
RANGES = 64  # writable guest ranges C holds (FC_RANGES); with more, every buffer is Python's
CLOSED = 64  # closes C answers before Python must settle them (FC_CLOSED)

# what each kind of open file lets C do (OpenFile.kind -> FC_* bits)
FC_RW, FC_REGULAR, FC_STREAM, FC_SOCKET, FC_SOCK_STREAM, FC_STAT = 1, 2, 4, 8, 16, 32
KIND_BITS = {
    "file": FC_RW | FC_REGULAR | FC_STAT,
    "dir": FC_STAT,
    "socket": FC_RW | FC_STREAM | FC_SOCKET | FC_STAT,
    "pipe": FC_RW | FC_STREAM | FC_STAT,
    "stdio": FC_RW | FC_STAT,
}
CALLS = ("read", "write", "poll", "sendfile", "gettimeofday", "fstat64", "close")

_lock = threading.Lock()
_state: dict[str, object] = {}  # "lib": the CDLL or None; "why": why not; "thread": a build in progress


def disable(why: str) -> None:
    """Every syscall goes to Python from now on (--python-syscalls)."""
    with _lock:
        _state["lib"], _state["why"] = None, why


def prepare() -> None:
    """Start building in the background (the compiler runs while Keystone assembles)."""
    with _lock:
        if "lib" in _state or "thread" in _state:
            return
        t = threading.Thread(target=_load, name="fastcalls-build", daemon=True)
        _state["thread"] = t
        t.start()


def library() -> ctypes.CDLL | None:
    """The loaded library, built now if need be; None when the syscalls are all Python's."""
    lib = _state.get("lib", False)
    if lib is not False:
        return lib  # type: ignore[return-value]
    prepare()
    t = _state.get("thread")
    if isinstance(t, threading.Thread):
        t.join()
    return _state.get("lib")  # type: ignore[return-value]


def loaded() -> ctypes.CDLL | None:
    """The library if it is loaded, without building or waiting (None: not, or not yet)."""
    return _state.get("lib")  # type: ignore[return-value]


@contextlib.contextmanager
def forced(lib: ctypes.CDLL | None) -> Iterator[None]:
    """Within: Machines and Hosts made now use ``lib`` (None: Python only).  For tests
    that run the same guest both ways."""
    library()
    with _lock:
        before = _state["lib"]
        _state["lib"] = lib
    try:
        yield
    finally:
        with _lock:
            _state["lib"] = before


def why_not() -> str:
    """Why ``library()`` is None ("" when it is not)."""
    library()
    return str(_state.get("why", ""))


def _load() -> None:
    lib, why = None, ""
    try:
        lib, why = _build_and_open()
    except Exception as e:  # noqa: BLE001 - any failure leaves the Python path, said once
        why = f"{type(e).__name__}: {e}"
    with _lock:
        _state.setdefault("lib", lib)
        _state.setdefault("why", why)
        _state.pop("thread", None)


def _build_and_open() -> tuple[ctypes.CDLL | None, str]:
    if os.environ.get("YMAWKY_PYTHON_SYSCALLS", "") not in ("", "0"):
        return None, "YMAWKY_PYTHON_SYSCALLS is set"
    if not sys.platform.startswith("linux"):
        return None, f"fastcalls.c is written for Linux hosts, not {sys.platform}"
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        return None, "no C compiler (cc, gcc or clang) on PATH"
    flags = ["-O2", "-shared", "-fPIC", "-std=gnu11", "-Wall", "-Wextra", "-Werror", *definitions()]
    key = hashlib.sha256("\0".join([SOURCE.read_text(), cc, *flags]).encode()).hexdigest()[:16]
    from emu.assembler import cache_dir

    out = cache_dir() / f"fastcalls-{key}.so"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.{os.getpid()}.{threading.get_ident()}")
        done = subprocess.run([cc, *flags, str(SOURCE), "-o", str(tmp)], capture_output=True, text=True)
        if done.returncode != 0:
            tmp.unlink(missing_ok=True)
            first = (done.stderr.strip().splitlines() or ["no output"])[0]
            return None, f"{cc} could not build {SOURCE.name}: {first}"
        os.replace(tmp, out)
    lib = ctypes.PyDLL(str(out))  # short calls: keep the GIL rather than queue for it again
    _declare(lib)
    # fork's copy of memory is long: through a second handle, which gives the GIL up meanwhile
    lib.fc_copy = ctypes.CDLL(str(out)).fc_copy
    lib.fc_copy.restype = ctypes.c_int
    lib.fc_copy.argtypes = [ctypes.c_void_p] * 3 + [ctypes.c_uint64] * 2
    return lib, ""


def definitions() -> list[str]:
    """The -D flags: every number fastcalls.c uses, from where it is declared."""
    from emu.machine import CARRY, EXCP_SWI
    from syscalls.consts import PAGE_SIZE
    from syscalls.fds import POLLERR, POLLHUP, POLLNVAL
    from syscalls.structs import POLLFD, STAT64
    from syscalls.sysinfo import MACH_TICKS_PER_NS
    from syscalls.table import SYSCALLS

    number = {row.name: num for num, row in SYSCALLS.items()}
    d = {f"SYS_{name.upper()}": number[name] for name in CALLS}
    d.update(
        FC_RW=FC_RW, FC_REGULAR=FC_REGULAR, FC_STREAM=FC_STREAM, FC_SOCKET=FC_SOCKET,
        FC_SOCK_STREAM=FC_SOCK_STREAM, FC_STAT=FC_STAT, FC_CARRY=CARRY, EXCP_SWI=EXCP_SWI,
        FC_SIGPIPE_UPCALL=SIGPIPE_UPCALL, POLL_ALWAYS=POLLERR | POLLHUP | POLLNVAL, POLLFD_SIZE=POLLFD.size,
        FC_RANGES=RANGES, FC_CLOSED=CLOSED, FC_PAGE=PAGE_SIZE,
        MACH_TICKS_NUM=MACH_TICKS_PER_NS[0], MACH_TICKS_DEN=MACH_TICKS_PER_NS[1],
        STAT64_SIZE=STAT64.size,
    )  # fmt: skip
    d.update({f"STAT64_{name.upper()}": off for name, off in STAT64.offsets().items()})
    return [f"-D{k}={v}" for k, v in d.items()]


def _declare(lib: ctypes.CDLL) -> None:
    P, INT, U64 = ctypes.c_void_p, ctypes.c_int, ctypes.c_uint64
    sigs = {
        "fc_cpu_new": (P, []),
        "fc_cpu_setup": (None, [P, P, P, P, P, P, P, P, P, P, P, P]),
        "fc_cpu_own": (None, [P, P, INT]),
        "fc_cpu_sticky": (None, [P, INT]),
        "fc_cpu_kick": (None, [P]),
        "fc_cpu_count": (U64, [P, INT]),
        "fc_cpu_pipe_fd": (U64, [P]),
        "fc_cpu_ranges": (None, [P, P, INT]),
        "fc_table_new": (P, [INT]),
        "fc_table_free": (None, [P]),
        "fc_table_set": (None, [P, INT, P]),
        "fc_table_take_closed": (INT, [P, P]),
        "fc_table_nclosed_offset": (INT, []),
        "fc_file_size": (INT, []),
        "fc_file_init": (None, [P, INT, INT, INT, INT]),
        "fc_open_beneath": (INT, [INT, ctypes.c_char_p, INT, INT, ctypes.POINTER(ctypes.c_int)]),
        "fc_close": (INT, [INT]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args


def _errno_map() -> bytes:
    """Host errno -> Darwin errno, as Kernel.call translates (syscalls/errno.py's from_host)."""
    from syscalls.errno import from_host

    out = bytearray(256)
    for code in range(1, 256):
        if code in errno.errorcode:
            out[code] = from_host(code) & 0xFF
    return bytes(out)


def _poll_maps() -> tuple[ctypes.Array, ctypes.Array]:
    """Bit i -> the bits it becomes, Darwin to host and host to Darwin (consts.POLL_BITS)."""
    from syscalls.consts import POLL_BITS

    to_host, to_darwin = (ctypes.c_uint32 * 16)(), (ctypes.c_uint32 * 16)()
    for i in range(16):
        to_host[i] = POLL_BITS.to_host(1 << i, allow_unknown=True)
        to_darwin[i] = POLL_BITS.to_darwin(1 << i)
    return to_host, to_darwin


class NativeCpu:
    """fastcalls.c's state for one Unicorn: its trap hook answers the hot calls and hands
    the rest to ``python`` (the Cpu's own Python trap hook, a ctypes callback)."""

    def __init__(self, lib: ctypes.CDLL, uc: Uc, python: object, in_ids: list[int], out_ids: list[int]) -> None:
        from emu.regs import UNICORN

        self.lib, self.uc = lib, uc
        self.ptr = lib.fc_cpu_new()
        if not self.ptr:
            raise MemoryError("fc_cpu_new")
        self._keep = [python, (ctypes.c_int * 10)(*in_ids), (ctypes.c_int * 3)(*out_ids), *_poll_maps()]
        errnos = ctypes.create_string_buffer(_errno_map(), 256)
        self._keep.append(errnos)
        fn = [ctypes.cast(getattr(UNICORN, n), ctypes.c_void_p) for n in
              ("uc_reg_read_batch", "uc_reg_write_batch", "uc_mem_read", "uc_mem_write")]  # fmt: skip
        lib.fc_cpu_setup(
            self.ptr, ctypes.cast(python, ctypes.c_void_p), None, *fn,
            self._keep[1], self._keep[2], errnos, self._keep[3], self._keep[4],
        )  # fmt: skip
        self.hook = ctypes.cast(lib.fc_hook, ctypes.c_void_p)
        self._sticky = 1
        self._ranges = (ctypes.c_uint64 * (2 * RANGES))()

    def own(self, table: NativeTable | None, wake_r: int) -> None:
        """Whose descriptors and wake pipe the calls use now (None: no owner, all Python)."""
        self.lib.fc_cpu_own(self.ptr, table.ptr if table is not None else None, wake_r)

    def sticky(self, on: bool) -> None:
        """On: every call goes to Python (a tracer, a recording, a debugger, signal handlers)."""
        if on != self._sticky:
            self._sticky = on
            self.lib.fc_cpu_sticky(self.ptr, int(on))

    def kick(self) -> None:
        """From any thread: the next call goes to Python, which delivers what came."""
        self.lib.fc_cpu_kick(self.ptr)

    def ranges(self, writable: list[tuple[int, int]]) -> None:
        """The writable guest ranges (GuestMemory.writable) C may copy out to."""
        n = len(writable) if len(writable) <= RANGES else 0
        for i, (lo, hi) in enumerate(writable[:n]):
            self._ranges[2 * i], self._ranges[2 * i + 1] = lo, hi
        self.lib.fc_cpu_ranges(self.ptr, self._ranges, n)

    def copy(self, source: Uc, lo: int, size: int) -> bool:
        """Guest memory [lo, lo+size) from ``source`` into this Unicorn, the pages that differ."""
        return self.lib.fc_copy(self.ptr, source._uch, self.uc._uch, lo, size) == 0

    def counts(self) -> tuple[int, int]:
        """(calls answered in C, calls handed to Python) on this Unicorn so far."""
        return self.lib.fc_cpu_count(self.ptr, 0), self.lib.fc_cpu_count(self.ptr, 1)

    def pipe_fd(self) -> int:
        """The guest descriptor of the SIGPIPE upcall in progress."""
        return self.lib.fc_cpu_pipe_fd(self.ptr)


class NativeTable:
    """One descriptor table's C twin: guest number -> a native_file (kept in step by FdTable)."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self.lib, self.ptr = lib, lib.fc_table_new(TABLE_SIZE)
        self._closed = (ctypes.c_int32 * CLOSED)()
        self._nclosed = ctypes.c_int32.from_address(self.ptr + lib.fc_table_nclosed_offset())
        if not self.ptr:
            raise MemoryError("fc_table_new")
        self._free = lib.fc_table_free

    def set(self, n: int, file: ctypes.Array | None) -> None:
        self.lib.fc_table_set(self.ptr, n, file)

    def pending(self) -> int:
        """How many closes C answered since the last look: read in place, no call into C."""
        return self._nclosed.value

    def take_closed(self) -> list[int]:
        """The descriptors C closed since the last look (Descriptors.settle closes them here)."""
        n = self.lib.fc_table_take_closed(self.ptr, self._closed)
        return list(self._closed[:n]) if n else []

    def __del__(self) -> None:
        self._free(self.ptr)


def native_file(lib: ctypes.CDLL) -> ctypes.Array:
    """An open file's C twin, zeroed: C tables point at it, so it lives as long as its
    OpenFile and is only ever filled in again (``fill_file``), never replaced."""
    return ctypes.create_string_buffer(lib.fc_file_size())


def fill_file(
    lib: ctypes.CDLL, buf: ctypes.Array, host: int, kind: str, sock_stream: bool, nonblock: bool, nosigpipe: bool
) -> None:
    """What C needs of an open file, written into its twin."""
    bits = KIND_BITS.get(kind, 0) | (FC_SOCK_STREAM if sock_stream else 0)
    lib.fc_file_init(buf, host, bits, int(nonblock), int(nosigpipe))


_is_dir = ctypes.c_int()


def open_beneath(lib: ctypes.CDLL, root_fd: int, path: bytes, flags: int, mode: int) -> tuple[int, bool] | None:
    """(host fd, is a directory) for ``path`` beneath ``root_fd`` with no symlink on the
    way, in one host call with the GIL kept; None when the host refuses (the caller walks
    the path itself, for the exact errno).  Called with the GIL held: ``_is_dir`` is safe."""
    fd = lib.fc_open_beneath(root_fd, path, flags, mode, ctypes.byref(_is_dir))
    return (fd, bool(_is_dir.value)) if fd >= 0 else None
