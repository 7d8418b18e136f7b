"""Load an arm64 Mach-O executable with LIEF.

Owns: parsing any arm64 Mach-O that makes raw syscalls (ours, or one
linked by ld64.lld or Apple's ld), its segments with their protections,
the entry point (LC_MAIN or LC_UNIXTHREAD), its symbols, and a slide.
Does not decide syscall behaviour or touch Unicorn.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import lief

PAGE = 0x4000


class LoadError(Exception):
    """The file is not an arm64 Mach-O executable we can run."""


@dataclass(frozen=True)
class Segment:
    name: str
    vmaddr: int          # slid
    vmsize: int          # rounded up to a 16 KiB page
    prot: int            # VM_PROT_* bits: 1 read, 2 write, 4 execute
    data: bytes          # file bytes; the rest of vmsize is zero-fill


@dataclass(frozen=True)
class Image:
    path: str
    sha256: str
    slide: int
    header: int                    # slid address of the mach_header
    entry: int                     # slid address of the first instruction
    entry_kind: str                # "LC_MAIN" or "LC_UNIXTHREAD"
    segments: list[Segment]
    symbols: dict[str, int] = field(repr=False)   # name -> slid address


def _binary(raw: bytes, path: str) -> lief.MachO.Binary:
    lief.logging.disable()
    fat = lief.MachO.parse(list(raw))
    if fat is None or fat.size == 0:
        raise LoadError(f"{path}: not a Mach-O file")
    binary = fat.take(lief.MachO.Header.CPU_TYPE.ARM64)
    if binary is None:
        raise LoadError(f"{path}: no arm64 slice")
    return binary


def load_macho(path: str | Path, slide: int = 0) -> Image:
    """Parse ``path`` and lay out its segments at ``slide`` (a multiple of 16 KiB)."""
    if slide % PAGE:
        raise LoadError(f"slide {slide:#x} is not a multiple of 16 KiB")
    raw = Path(path).read_bytes()
    b = _binary(raw, str(path))
    if b.header.file_type != lief.MachO.Header.FILE_TYPE.EXECUTE:
        raise LoadError(f"{path}: not an executable (file type {b.header.file_type})")

    segments = []
    header = None
    for seg in b.segments:
        if seg.virtual_size == 0 or (seg.init_protection == 0 and seg.file_size == 0):
            continue  # __PAGEZERO and empty segments
        if seg.file_offset + seg.file_size > len(raw):
            raise LoadError(f"{path}: segment {seg.name} runs past the end of the file")
        if seg.file_offset == 0 and seg.file_size:
            header = seg.virtual_address + slide
        size = (seg.virtual_size + PAGE - 1) // PAGE * PAGE
        data = raw[seg.file_offset: seg.file_offset + min(seg.file_size, seg.virtual_size)]
        segments.append(Segment(seg.name, seg.virtual_address + slide, size, seg.init_protection, data))
    if header is None:
        raise LoadError(f"{path}: no segment maps the Mach-O header")

    if b.has_main_command:
        entry, kind = header + b.main_command.entrypoint, "LC_MAIN"
    elif b.has_thread_command:
        entry, kind = b.thread_command.pc + slide, "LC_UNIXTHREAD"
    else:
        raise LoadError(f"{path}: no LC_MAIN or LC_UNIXTHREAD")

    symbols = {}
    for sym in b.symbols:
        if sym.value and sym.name and sym.raw_type & 0xE0 == 0 and sym.raw_type & 0x0E == 0x0E:  # N_SECT, no stab
            symbols[sym.name] = sym.value + slide
    return Image(str(path), hashlib.sha256(raw).hexdigest(), slide, header, entry, kind, segments, symbols)
