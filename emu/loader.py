"""Load an arm64 Mach-O executable with LIEF.

Owns: parsing any arm64 Mach-O that makes raw syscalls (ours, or one
linked by ld64.lld or Apple's ld), its segments with their protections,
the entry point (LC_MAIN or LC_UNIXTHREAD), its symbols, and a slide.
Does not decide syscall behaviour or touch Unicorn.

The header and the load-command table are checked in Python before LIEF
sees the bytes: LIEF accepts truncated or foreign files with at most a
warning, so every refusal here is a LoadError that names the problem.
A fat (universal) file is cut down to its arm64 slice first, because the
segment file offsets inside a slice count from the slice's start.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import signal
import struct
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from emu.macho_format import (
    ARM_THREAD_STATE64,
    ARM_THREAD_STATE64_COUNT,
    CPU_TYPE_ARM64,
    FAT_MAGIC,
    FAT_MAGIC_64,
    LC_MAIN,
    LC_UNIXTHREAD,
    MH_EXECUTE,
    MH_MAGIC,
    MH_MAGIC_64,
    N_SECT,
    N_STAB,
    N_TYPE,
)
from syscalls.consts import PAGE_SIZE

if TYPE_CHECKING:
    import lief


PAGE = PAGE_SIZE
CACHE_VERSION = "2"  # bump when Image or the parse changes

_CPU_NAMES = {
    7: "i386",
    0x01000007: "x86_64",
    12: "arm",
    CPU_TYPE_ARM64: "arm64",
    0x0200000C: "arm64_32",
    18: "ppc",
    0x01000012: "ppc64",
}
_HEADER = struct.Struct("<IiiIIIII")  # mach_header_64
_FAT_ARCH = struct.Struct(">iiIII")  # fat_arch
_FAT_ARCH_64 = struct.Struct(">iiQQII")  # fat_arch_64


class LoadError(Exception):
    """The file is not an arm64 Mach-O executable we can run."""


@dataclass(frozen=True)
class Segment:
    name: str
    vmaddr: int  # slid
    vmsize: int  # rounded up to a 16 KiB page
    prot: int  # VM_PROT_* bits: 1 read, 2 write, 4 execute
    data: bytes  # file bytes; the rest of vmsize is zero-fill


@dataclass(frozen=True)
class Image:
    path: str
    sha256: str
    slide: int
    header: int  # slid address of the mach_header
    entry: int  # slid address of the first instruction
    entry_kind: str  # "LC_MAIN" or "LC_UNIXTHREAD"
    segments: list[Segment]
    symbols: dict[str, int] = field(repr=False)  # name -> slid address


def _cpu_name(cputype: int) -> str:
    return _CPU_NAMES.get(cputype, f"cputype {cputype:#x}")


def _arm64_slice(raw: bytes, path: str) -> bytes:
    """The thin 64-bit Mach-O inside ``raw``: itself, or the arm64 slice of a fat file."""
    if len(raw) < 4:
        raise LoadError(f"{path}: not a Mach-O file ({len(raw)} bytes)")
    (magic_be,) = struct.unpack_from(">I", raw)
    (magic,) = struct.unpack_from("<I", raw)
    if magic == MH_MAGIC_64:
        return raw
    if magic == MH_MAGIC:
        raise LoadError(f"{path}: a 32-bit Mach-O, not arm64")
    if magic_be in (MH_MAGIC, MH_MAGIC_64):
        raise LoadError(f"{path}: a big-endian Mach-O, not arm64")
    if magic_be not in (FAT_MAGIC, FAT_MAGIC_64):
        raise LoadError(f"{path}: not a Mach-O file")
    entry = _FAT_ARCH_64 if magic_be == FAT_MAGIC_64 else _FAT_ARCH
    nfat = struct.unpack_from(">I", raw, 4)[0] if len(raw) >= 8 else 0
    if nfat == 0 or 8 + nfat * entry.size > len(raw):
        raise LoadError(f"{path}: truncated or not a Mach-O file (fat header with {nfat} slices)")
    arches = []
    for i in range(nfat):
        cputype, _sub, offset, size, *_ = entry.unpack_from(raw, 8 + i * entry.size)
        if cputype == CPU_TYPE_ARM64:
            if offset + size > len(raw):
                raise LoadError(f"{path}: truncated: the arm64 slice runs past the end of the file")
            return raw[offset : offset + size]
        arches.append(_cpu_name(cputype))
    raise LoadError(f"{path}: no arm64 slice (has {', '.join(arches)})")


def _check_commands(raw: bytes, path: str) -> int:
    """Validate the header and the load-command table; returns the number of entry commands."""
    if len(raw) < _HEADER.size:
        raise LoadError(f"{path}: truncated: the Mach-O header is cut short")
    _magic, cputype, _sub, filetype, ncmds, sizeofcmds, _flags, _ = _HEADER.unpack_from(raw)
    if cputype != CPU_TYPE_ARM64:
        raise LoadError(f"{path}: a Mach-O for {_cpu_name(cputype)}, not arm64")
    if filetype != MH_EXECUTE:
        raise LoadError(f"{path}: not an executable (Mach-O file type {filetype})")
    end = _HEADER.size + sizeofcmds
    if end > len(raw):
        raise LoadError(f"{path}: truncated: the load commands run past the end of the file")
    off, entries = _HEADER.size, 0
    for i in range(ncmds):
        if off + 8 > end:
            raise LoadError(f"{path}: malformed: load command {i} lies outside sizeofcmds")
        cmd, size = struct.unpack_from("<II", raw, off)
        if size < 8 or size % 8 or off + size > end:
            raise LoadError(f"{path}: malformed: load command {i} has size {size}")
        entries += cmd in (LC_MAIN, LC_UNIXTHREAD)
        off += size
    return entries


def _binary(raw: bytes, path: str) -> lief.MachO.Binary:
    import lief  # here, not at the top: a cached image needs no LIEF (its import is ~0.4 s and ~50 MB)

    lief.logging.disable()
    try:
        fat = lief.MachO.parse(raw)
    except Exception as e:  # noqa: BLE001 - LIEF's own errors become ours
        raise LoadError(f"{path}: LIEF cannot parse it: {e}") from None
    if fat is None or fat.size == 0:
        raise LoadError(f"{path}: LIEF cannot parse it")
    binary = fat.take(lief.MachO.Header.CPU_TYPE.ARM64)  # take(): the Binary owns itself afterwards
    if binary is None:
        raise LoadError(f"{path}: no arm64 slice")
    return binary


def load_macho(path: str | Path, slide: int = 0, cache: bool = True) -> Image:
    """Parse ``path`` and lay out its segments at ``slide`` (a multiple of 16 KiB).

    What LIEF found is cached by the file's sha256 (in the assembler's cache
    folder), so a second start of the same executable needs no LIEF at all.
    """
    if slide % PAGE or slide < 0:
        raise LoadError(f"slide {slide:#x} is not a non-negative multiple of 16 KiB")
    whole = Path(path).read_bytes()
    sha = hashlib.sha256(whole).hexdigest()
    image = _cached(sha) if cache else None
    if image is None:
        with _interrupts_deferred():
            image = _parse(whole, str(path))
        if cache:
            _store(image)
    return _slid(image, str(path), slide)


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Ctrl-C (and SIGTERM) wait until LIEF is done: raised inside its C++ import or parse,
    the KeyboardInterrupt aborts the whole process (nanobind: std::terminate).  On the
    main thread only (where Python runs signal handlers); raised again right after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    saved = {sig: signal.signal(sig, lambda n, _f: caught.append(n)) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    if caught:
        handler = saved[caught[0]]
        if callable(handler):
            handler(caught[0], None)  # the emulator's own: KeyboardInterrupt or Terminated
        elif handler == signal.SIG_DFL:
            signal.raise_signal(caught[0])


def _parse(whole: bytes, path: str) -> Image:
    """The image at its preferred address (slide 0), read by LIEF."""
    raw = _arm64_slice(whole, str(path))
    entries = _check_commands(raw, str(path))
    if entries != 1:
        raise LoadError(f"{path}: {entries} LC_MAIN/LC_UNIXTHREAD commands, not exactly one")
    b = _binary(raw, str(path))
    segments, header = _segments(b, raw, path)
    entry, kind = _entry(b, header, path)
    if not any(s.prot & 4 and s.vmaddr <= entry < s.vmaddr + s.vmsize for s in segments):
        raise LoadError(f"{path}: entry point {entry:#x} is not in an executable segment")
    return Image(str(path), hashlib.sha256(whole).hexdigest(), 0, header, entry, kind, segments, _symbols(b))


def _segments(b: lief.MachO.Binary, raw: bytes, path: str) -> tuple[list[Segment], int]:
    """The segments the guest sees, and the address of the Mach-O header among them."""
    segments: list[Segment] = []
    header = None
    for seg in b.segments:
        if seg.virtual_size == 0 or seg.init_protection == 0:
            continue  # __PAGEZERO, empty segments, and __DWARF (debug info: no access, nothing for the guest)
        if seg.file_offset + seg.file_size > len(raw):
            raise LoadError(f"{path}: truncated: segment {seg.name} runs past the end of the file")
        if seg.virtual_address % PAGE:
            raise LoadError(f"{path}: segment {seg.name} at {seg.virtual_address:#x} is not 16 KiB aligned")
        if seg.file_offset == 0 and seg.file_size:
            header = seg.virtual_address
        size = (seg.virtual_size + PAGE - 1) // PAGE * PAGE  # ld64.lld leaves __LINKEDIT's unrounded
        data = raw[seg.file_offset : seg.file_offset + min(seg.file_size, seg.virtual_size)]
        segments.append(Segment(seg.name, seg.virtual_address, size, seg.init_protection, data))
    if header is None:
        raise LoadError(f"{path}: no segment maps the Mach-O header")
    spans = sorted((s.vmaddr, s.vmaddr + s.vmsize, s.name) for s in segments)
    for (_, end, name), (start, _, other) in zip(spans, spans[1:], strict=False):
        if start < end:
            raise LoadError(f"{path}: segments {name} and {other} overlap")
    return segments, header


def _entry(b: lief.MachO.Binary, header: int, path: str) -> tuple[int, str]:
    """The entry point and the command that gives it (LC_MAIN: an offset from the header)."""
    if b.has_main_command:
        return header + b.main_command.entrypoint, "LC_MAIN"
    if b.has_thread_command:
        thread = b.thread_command
        if thread.flavor != ARM_THREAD_STATE64 or thread.count != ARM_THREAD_STATE64_COUNT:
            raise LoadError(
                f"{path}: LC_UNIXTHREAD flavor {thread.flavor} count {thread.count}, not ARM_THREAD_STATE64"
            )
        return thread.pc, "LC_UNIXTHREAD"
    raise LoadError(f"{path}: no LC_MAIN or LC_UNIXTHREAD")


def _symbols(b: lief.MachO.Binary) -> dict[str, int]:
    """Defined section symbols (N_SECT, not a stab) by name."""
    symbols = {}
    for sym in b.symbols:
        if not isinstance(sym.name, str):
            continue  # LIEF hands back bytes for a name that is not text: not a label anyone wrote
        if sym.value and sym.name and not sym.raw_type & N_STAB and sym.raw_type & N_TYPE == N_SECT:
            symbols[sym.name] = sym.value
    return symbols


def _slid(image: Image, path: str, slide: int) -> Image:
    segs = [Segment(g.name, g.vmaddr + slide, g.vmsize, g.prot, g.data) for g in image.segments]
    syms = {name: addr + slide for name, addr in image.symbols.items()}
    return Image(path, image.sha256, slide, image.header + slide, image.entry + slide, image.entry_kind, segs, syms)


def _cache_file(sha: str) -> Path:
    from emu.assembler import cache_dir

    return cache_dir() / f"image-{CACHE_VERSION}-{sha}.json"


def _cached(sha: str) -> Image | None:
    try:
        doc = json.loads(_cache_file(sha).read_text())
        segs = [
            Segment(g["name"], g["vmaddr"], g["vmsize"], g["prot"], base64.b64decode(g["data"]))
            for g in doc["segments"]
        ]
        image = Image("", doc["sha256"], 0, doc["header"], doc["entry"], doc["entry_kind"], segs, dict(doc["symbols"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return image if image.sha256 == sha else None


def _store(image: Image) -> None:
    doc = {
        "sha256": image.sha256,
        "header": image.header,
        "entry": image.entry,
        "entry_kind": image.entry_kind,
        "segments": [
            {
                "name": g.name,
                "vmaddr": g.vmaddr,
                "vmsize": g.vmsize,
                "prot": g.prot,
                "data": base64.b64encode(g.data).decode(),
            }
            for g in image.segments
        ],
        "symbols": image.symbols,
    }
    target = _cache_file(image.sha256)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(doc)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".image-")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, target)
    except (OSError, TypeError, ValueError):
        pass  # no cache: only the next start is slower
