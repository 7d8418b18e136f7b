"""Write an arm64 macOS executable (MH_EXECUTE) from an Assembly.

Owns: the file layout a real arm64 Mac accepts (macho.md): __PAGEZERO,
__TEXT r-x (header, load commands, __text), __DATA rw- (__data, then
__bss as zero-fill not stored in the file), __LINKEDIT (symbols, strings,
code signature), LC_MAIN, LC_LOAD_DYLINKER, LC_LOAD_DYLIB libSystem,
LC_BUILD_VERSION, 16 KiB pages, and the ad-hoc signature in the form
ld64.lld writes.  Runs nothing; LIEF reads the result back.
The DWARF of emu/dwarf.py (ymawky.s lines, routines) goes in a ``__DWARF``
segment between __DATA and __LINKEDIT, with no access rights: nothing of
the program is in it, so the loader does not map it.

The assembly is split at two labels of the source: ``data_start`` (16 KiB
aligned, where writable data begins) and ``bss_start`` (after which the
image holds only zeros).  Every address Keystone computed stays true.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path

from emu.assembler import Assembly
from emu.dwarf import debug_sections
from emu.macho_format import (
    CPU_SUBTYPE_ARM64_ALL,
    CPU_TYPE_ARM64,
    CS_ADHOC,
    CS_EXECSEG_MAIN_BINARY,
    CS_HASH_SIZE,
    CS_HASHTYPE_SHA256,
    CS_LINKER_SIGNED,
    CS_PAGE_SHIFT,
    CS_SUPPORTSEXECSEG,
    CSMAGIC_CODEDIRECTORY,
    CSMAGIC_EMBEDDED_SIGNATURE,
    CSSLOT_CODEDIRECTORY,
    LC_BUILD_VERSION,
    LC_CODE_SIGNATURE,
    LC_DYLD_INFO_ONLY,
    LC_DYSYMTAB,
    LC_LOAD_DYLIB,
    LC_LOAD_DYLINKER,
    LC_MAIN,
    LC_SEGMENT_64,
    LC_SOURCE_VERSION,
    LC_SYMTAB,
    LC_UUID,
    MH_DYLDLINK,
    MH_EXECUTE,
    MH_MAGIC_64,
    MH_NOUNDEFS,
    MH_PIE,
    MH_TWOLEVEL,
    N_EXT,
    N_SECT,
    PLATFORM_MACOS,
    REFERENCED_DYNAMICALLY,
    S_ATTR_DEBUG,
    S_ATTR_PURE_INSTRUCTIONS,
    S_ATTR_SOME_INSTRUCTIONS,
    S_REGULAR,
    S_ZEROFILL,
    SEG_DWARF,
    TOOL_LD,
    VM_PROT_EXECUTE,
    VM_PROT_READ,
    VM_PROT_WRITE,
)
from syscalls.consts import PAGE_SIZE

PAGE = PAGE_SIZE
TEXT_VMADDR = 0x1_0000_0000  # __TEXT maps the header at 4 GiB, above __PAGEZERO

MACOS_11 = 11 << 16

DYLD_PATH = "/usr/lib/dyld"
LIBSYSTEM = "/usr/lib/libSystem.B.dylib"
LIBSYSTEM_VERSION = (1319 << 16) | (100 << 8) | 3

_SUPERBLOB = struct.Struct(">III")  # magic, length, count
_BLOBINDEX = struct.Struct(">II")  # type, offset
_CODEDIR = struct.Struct(">IIIIIIIIIBBBBIIIIQQQQ")  # CS_CodeDirectory up to execSegFlags (88 bytes)
_CS_HEADERS = (_SUPERBLOB.size + _BLOBINDEX.size + 7) // 8 * 8


def _align(n: int, a: int) -> int:
    return (n + a - 1) // a * a


def _name16(s: str) -> bytes:
    return s.encode().ljust(16, b"\0")


def _str_cmd(cmd: int, fixed: bytes, text: str) -> bytes:
    """A load command whose string follows the fixed part, padded to 8."""
    body = fixed + text.encode() + b"\0"
    size = _align(8 + len(body), 8)
    return struct.pack("<II", cmd, size) + body.ljust(size - 8, b"\0")


def signature_size(code_limit: int, identifier: str) -> int:
    """Bytes the ad-hoc signature takes for a file of ``code_limit`` bytes."""
    headers = _align(_CS_HEADERS + _CODEDIR.size + len(identifier) + 1, 16)
    pages = (code_limit + (1 << CS_PAGE_SHIFT) - 1) >> CS_PAGE_SHIFT
    return _align(headers + pages * CS_HASH_SIZE, 16)


def adhoc_signature(
    data: bytes, identifier: str, text_fileoff: int, text_filesize: int, main_binary: bool = True
) -> bytes:
    """The ad-hoc SuperBlob over ``data`` (the file up to the signature)."""
    page = 1 << CS_PAGE_SHIFT
    code_limit = len(data)
    npages = (code_limit + page - 1) // page
    size = signature_size(code_limit, identifier)
    ident_pad = _align(_CS_HEADERS + _CODEDIR.size + len(identifier) + 1, 16) - _CS_HEADERS - _CODEDIR.size
    codedir = _CODEDIR.pack(
        CSMAGIC_CODEDIRECTORY,
        size - _CS_HEADERS,
        CS_SUPPORTSEXECSEG,
        CS_ADHOC | CS_LINKER_SIGNED,
        _CODEDIR.size + ident_pad,
        _CODEDIR.size,
        0,
        npages,
        code_limit,
        CS_HASH_SIZE,
        CS_HASHTYPE_SHA256,
        0,
        CS_PAGE_SHIFT,
        0,
        0,
        0,
        0,
        0,
        text_fileoff,
        text_filesize,
        CS_EXECSEG_MAIN_BINARY if main_binary else 0,
    )
    hashes = b"".join(hashlib.sha256(data[i * page : (i + 1) * page]).digest() for i in range(npages))
    blob = (
        _SUPERBLOB.pack(CSMAGIC_EMBEDDED_SIGNATURE, size, 1) + _BLOBINDEX.pack(CSSLOT_CODEDIRECTORY, _CS_HEADERS)
    ).ljust(_CS_HEADERS, b"\0")
    blob += codedir + identifier.encode().ljust(ident_pad, b"\0") + hashes
    return blob.ljust(size, b"\0")


@dataclass(frozen=True)
class _Section:
    sectname: str
    segname: str
    addr: int
    size: int
    offset: int
    align: int
    flags: int

    def pack(self) -> bytes:
        return struct.pack(
            "<16s16sQQIIIIIIII",
            _name16(self.sectname),
            _name16(self.segname),
            self.addr,
            self.size,
            self.offset,
            self.align,
            0,
            0,
            self.flags,
            0,
            0,
            0,
        )


def _segment(
    name: str, vmaddr: int, vmsize: int, fileoff: int, filesize: int, prot: int, sections: list[_Section]
) -> bytes:
    head = struct.pack(
        "<II16sQQQQiiII",
        LC_SEGMENT_64,
        72 + 80 * len(sections),
        _name16(name),
        vmaddr,
        vmsize,
        fileoff,
        filesize,
        prot,
        prot,
        len(sections),
        0,
    )
    return head + b"".join(s.pack() for s in sections)


@dataclass
class _Seg:
    """One LC_SEGMENT_64, its sections, and the bytes it places at ``fileoff``."""

    name: str
    vmaddr: int
    vmsize: int
    fileoff: int
    filesize: int
    prot: int
    sections: list[_Section]
    content: bytes = b""

    def command(self) -> bytes:
        return _segment(self.name, self.vmaddr, self.vmsize, self.fileoff, self.filesize, self.prot, self.sections)


def build_macho(asm: Assembly, identifier: str = "ymawky", entry: str = "_main", comp_dir: str = ".") -> bytes:
    """The signed executable for ``asm`` (assembled at TEXT_VMADDR + PAGE).

    ``comp_dir``: the folder the DWARF names the source from (``.``: wherever the
    debugger runs, so the bytes do not depend on where the checkout lies).
    """
    data_at, bss_at = _split(asm, entry)
    segs = _program(asm, data_at, bss_at)
    sections = [sec for seg in segs for sec in seg.sections]  # numbered from 1 in this order
    segs.append(_dwarf(asm, data_at, comp_dir, entry, segs[-1]))
    nlist, strtab, nlocal, nexternal = _symbols(asm, sections, entry)

    symoff = segs[-1].fileoff + segs[-1].filesize
    stroff = symoff + len(nlist)
    sig_off = _align(stroff + len(strtab), 16)
    sig_size = signature_size(sig_off, identifier)
    linkedit_size = sig_off + sig_size - symoff
    after = segs[-1].vmaddr + segs[-1].vmsize
    segs.append(_Seg("__LINKEDIT", after, _align(linkedit_size, PAGE), symoff, linkedit_size, VM_PROT_READ, []))

    cmds = [seg.command() for seg in segs]
    cmds.append(struct.pack("<II10I", LC_DYLD_INFO_ONLY, 48, *([0] * 10)))
    cmds.append(struct.pack("<IIIIII", LC_SYMTAB, 24, symoff, nlocal + nexternal, stroff, len(strtab)))
    cmds.append(
        struct.pack("<II18I", LC_DYSYMTAB, 80, 0, nlocal, nlocal, nexternal, nlocal + nexternal, 0, *([0] * 12))
    )
    cmds.append(_str_cmd(LC_LOAD_DYLINKER, struct.pack("<I", 12), DYLD_PATH))
    uuid_at = 32 + sum(map(len, cmds)) + 8
    cmds.append(struct.pack("<II16s", LC_UUID, 24, b"\0" * 16))
    cmds.append(
        struct.pack("<IIIIIIII", LC_BUILD_VERSION, 32, PLATFORM_MACOS, MACOS_11, MACOS_11, 1, TOOL_LD, (1 << 16))
    )
    cmds.append(struct.pack("<IIQ", LC_SOURCE_VERSION, 16, 0))
    cmds.append(struct.pack("<IIQQ", LC_MAIN, 24, asm.symbols[entry] - TEXT_VMADDR, 0))
    cmds.append(_str_cmd(LC_LOAD_DYLIB, struct.pack("<IIII", 24, 2, LIBSYSTEM_VERSION, 1 << 16), LIBSYSTEM))
    cmds.append(struct.pack("<IIII", LC_CODE_SIGNATURE, 16, sig_off, sig_size))
    flags = MH_NOUNDEFS | MH_DYLDLINK | MH_TWOLEVEL | MH_PIE
    header = struct.pack(
        "<IiiIIIII",
        MH_MAGIC_64,
        CPU_TYPE_ARM64,
        CPU_SUBTYPE_ARM64_ALL,
        MH_EXECUTE,
        len(cmds),
        sum(map(len, cmds)),
        flags,
        0,
    )
    head = header + b"".join(cmds)
    if len(head) > PAGE:
        raise ValueError("load commands do not fit in the first page")

    out = bytearray(sig_off)
    for seg in segs:
        out[seg.fileoff : seg.fileoff + len(seg.content)] = seg.content
    out[: len(head)] = head
    out[symoff : symoff + len(nlist)] = nlist
    out[stroff : stroff + len(strtab)] = strtab
    # a content-derived UUID keeps the output reproducible, as ld64 does
    out[uuid_at : uuid_at + 16] = hashlib.md5(bytes(out)).digest()
    out += adhoc_signature(bytes(out), identifier, 0, segs[1].filesize)
    return bytes(out)


def _split(asm: Assembly, entry: str) -> tuple[int, int]:
    """Where ``__data`` and ``__bss`` start (the ``data_start``/``bss_start`` labels, else the end)."""
    if asm.base != TEXT_VMADDR + PAGE:
        raise ValueError(f"assemble at {TEXT_VMADDR + PAGE:#x} to build an executable, not {asm.base:#x}")
    if entry not in asm.symbols:
        raise ValueError(f"no entry label {entry!r} in {asm.path}")
    end = asm.base + len(asm.code)
    data_at = asm.symbols.get("data_start", end)
    bss_at = asm.symbols.get("bss_start", end)
    if "data_start" in asm.symbols and data_at % PAGE:
        raise ValueError(f"data_start must be 16 KiB aligned (.p2align 14), it is at {data_at:#x}")
    if not asm.base <= data_at <= bss_at <= end:
        raise ValueError("data_start and bss_start out of order")
    if any(asm.code[bss_at - asm.base :]):
        raise ValueError("bytes after bss_start must all be zero")
    return data_at, bss_at


def _program(asm: Assembly, data_at: int, bss_at: int) -> list[_Seg]:
    """__PAGEZERO, __TEXT (the header page, then the code) and, if there is any, __DATA."""
    end = asm.base + len(asm.code)
    text = asm.code[: data_at - asm.base]
    data = asm.code[data_at - asm.base : bss_at - asm.base]
    text_size = _align(PAGE + len(text), PAGE)
    code = _Section(
        "__text", "__TEXT", asm.base, len(text), PAGE, 2, S_ATTR_PURE_INSTRUCTIONS | S_ATTR_SOME_INSTRUCTIONS
    )
    segs = [
        _Seg("__PAGEZERO", 0, TEXT_VMADDR, 0, 0, 0, []),
        _Seg("__TEXT", TEXT_VMADDR, text_size, 0, text_size, VM_PROT_READ | VM_PROT_EXECUTE, [code]),
    ]
    segs[1].content = bytes(PAGE) + text  # the header goes over the first page, once it is known
    if data or end > bss_at:
        secs = []
        if data:
            secs.append(_Section("__data", "__DATA", data_at, len(data), text_size, 3, S_REGULAR))
        if end > bss_at:
            secs.append(_Section("__bss", "__DATA", bss_at, end - bss_at, 0, 3, S_ZEROFILL))
        prot = VM_PROT_READ | VM_PROT_WRITE
        segs.append(
            _Seg("__DATA", data_at, _align(end - data_at, PAGE), text_size, _align(len(data), PAGE), prot, secs)
        )
        segs[-1].content = data
    return segs


def _dwarf(asm: Assembly, data_at: int, comp_dir: str, entry: str, last: _Seg) -> _Seg:
    """The __DWARF segment after ``last``: debug sections only, no access, not mapped."""
    fileoff, vmaddr = last.fileoff + last.filesize, last.vmaddr + last.vmsize
    blob, secs = b"", []
    for name, part in debug_sections(asm, data_at, comp_dir, entry).items():
        secs.append(
            _Section(f"__{name}", SEG_DWARF, vmaddr + len(blob), len(part), fileoff + len(blob), 0, S_ATTR_DEBUG)
        )
        blob += part
    size = _align(len(blob), PAGE)
    # (symbols name only the program's sections, numbered before these)
    return _Seg(SEG_DWARF, vmaddr, size, fileoff, size, 0, secs, blob)


def _symbols(asm: Assembly, sections: list[_Section], entry: str) -> tuple[bytes, bytes, int, int]:
    """nlist entries and their string table: locals, then externals sorted by name (LC_DYSYMTAB's rule)."""

    def sect_of(addr: int) -> int:
        for n, sec in reversed(list(enumerate(sections, 1))):
            if addr >= sec.addr:
                return n
        return 1

    externals = {"__mh_execute_header": TEXT_VMADDR, entry: asm.symbols[entry]}
    local = sorted((a, n) for n, a in asm.symbols.items() if n not in externals)
    strtab = bytearray(b" \0")
    nlist = bytearray()

    def add(name: str, addr: int, ntype: int, desc: int = 0) -> None:
        nlist.extend(struct.pack("<IBBHQ", len(strtab), ntype, sect_of(addr), desc, addr))
        strtab.extend(name.encode() + b"\0")

    for addr, name in local:
        add(name, addr, N_SECT)
    for name in sorted(externals):
        add(name, externals[name], N_SECT | N_EXT, REFERENCED_DYNAMICALLY if name == "__mh_execute_header" else 0)
    return bytes(nlist), bytes(strtab).ljust(_align(len(strtab), 8), b"\0"), len(local), len(externals)


def write_macho(asm: Assembly, path: str | Path, entry: str = "_main", comp_dir: str = ".") -> Path:
    """Write the executable for ``asm`` to ``path`` (mode 0755)."""
    p = Path(path)
    p.write_bytes(build_macho(asm, identifier=p.name, entry=entry, comp_dir=comp_dir))
    p.chmod(0o755)
    return p
