"""Write an ELF64 AArch64 symbol file for an Assembly: what gdb-multiarch reads.

Owns: the ``OUT.debug`` file that ``run_emulated.py --build OUT`` writes beside
the Mach-O, because Debian's gdb-multiarch reads no Mach-O.  It holds no
program bytes: ``.text``, ``.data`` and ``.bss`` are NOBITS sections at the
addresses of the Mach-O's ``__text``, ``__data`` and ``__bss`` (as
``objcopy --only-keep-debug`` leaves them), every label as a symbol (FUNC
and sized for a routine, OBJECT for a data label, NOTYPE for a local
label), and the same DWARF as the Mach-O (emu/dwarf.py).  Runs nothing.

Numbers from the System V ABI (ELF-64 Object File Format) and the ELF for
the Arm 64-bit Architecture supplement (EM_AARCH64).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from emu.assembler import Assembly
from emu.dwarf import debug_sections, is_local, routines

ELFMAG = b"\x7fELF"
ELFCLASS64, ELFDATA2LSB, EV_CURRENT, ELFOSABI_NONE = 2, 1, 1, 0
ET_EXEC, EM_AARCH64 = 2, 183
SHT_NULL, SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_NOBITS = 0, 1, 2, 3, 8
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 0x1, 0x2, 0x4
STB_LOCAL, STB_GLOBAL = 0, 1
STT_NOTYPE, STT_OBJECT, STT_FUNC, STT_FILE = 0, 1, 2, 4
SHN_UNDEF, SHN_ABS = 0, 0xFFF1

_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")  # Elf64_Ehdr
_SHDR = struct.Struct("<IIQQQQIIQQ")  # Elf64_Shdr
_SYM = struct.Struct("<IBBHQQ")  # Elf64_Sym


@dataclass
class _Sec:
    name: str
    type: int
    flags: int = 0
    addr: int = 0
    size: int = 0
    data: bytes = b""
    link: int = 0
    info: int = 0
    align: int = 1
    entsize: int = 0


def _strtab(names: list[str]) -> tuple[bytes, dict[str, int]]:
    data, at = bytearray(b"\0"), {"": 0}
    for n in names:
        if n not in at:
            at[n] = len(data)
            data += n.encode() + b"\0"
    return bytes(data), at


def build_elf_debug(asm: Assembly, comp_dir: str = ".", entry: str = "_main") -> bytes:
    """The symbol file for ``asm``, split at ``data_start``/``bss_start`` as emu/macho.py splits it."""
    end = asm.base + len(asm.code)
    data_at = asm.symbols.get("data_start", end)
    bss_at = asm.symbols.get("bss_start", end)
    secs = [_Sec("", SHT_NULL, align=0)]
    spans: list[tuple[int, int, int]] = []  # (start, end, section index) of the program's sections
    for name, lo, hi, flags in (
        (".text", asm.base, data_at, SHF_ALLOC | SHF_EXECINSTR),
        (".data", data_at, bss_at, SHF_ALLOC | SHF_WRITE),
        (".bss", bss_at, end, SHF_ALLOC | SHF_WRITE),
    ):
        if hi > lo:
            spans.append((lo, hi, len(secs)))
            secs.append(_Sec(name, SHT_NOBITS, flags, lo, hi - lo, align=4 if name == ".text" else 8))
    for name, blob in debug_sections(asm, data_at, comp_dir, entry).items():
        secs.append(_Sec(f".{name}", SHT_PROGBITS, data=blob))

    def section_of(addr: int) -> tuple[int, int]:
        """(index, end) of the section holding ``addr``; a label at the very end belongs to the last."""
        for lo, hi, i in spans:
            if lo <= addr < hi:
                return i, hi
        return (spans[-1][2], spans[-1][1]) if spans else (SHN_ABS, addr)

    funcs = {r.name: r for r in routines(asm, data_at)}
    starts = sorted({a for n, a in asm.symbols.items() if not is_local(n)})
    names, rows = [asm.path], [(asm.path, STB_LOCAL, STT_FILE, SHN_ABS, 0, 0)]
    for addr, name in sorted((a, n) for n, a in asm.symbols.items()):
        shndx, sec_end = section_of(addr)
        if name in funcs:
            kind, size = STT_FUNC, funcs[name].high - funcs[name].low
        elif is_local(name):
            kind, size = STT_NOTYPE, 0
        else:
            kind, size = STT_OBJECT, min([s for s in starts if s > addr] + [sec_end]) - addr
        names.append(name)
        rows.append((name, STB_GLOBAL if name == entry else STB_LOCAL, kind, shndx, addr, size))
    rows.sort(key=lambda r: r[1] == STB_GLOBAL)  # locals first (the ELF rule), order kept otherwise
    strtab, str_at = _strtab(names)
    symtab = _SYM.pack(0, 0, 0, SHN_UNDEF, 0, 0) + b"".join(
        _SYM.pack(str_at[n], (bind << 4) | kind, 0, shndx, value, size) for n, bind, kind, shndx, value, size in rows
    )
    first_global = 1 + sum(r[1] == STB_LOCAL for r in rows)
    sym_index = len(secs)
    secs.append(_Sec(".symtab", SHT_SYMTAB, data=symtab, link=sym_index + 1, info=first_global, align=8, entsize=24))
    secs.append(_Sec(".strtab", SHT_STRTAB, data=strtab))
    shstrtab, sh_at = _strtab([s.name for s in secs] + [".shstrtab"])
    secs.append(_Sec(".shstrtab", SHT_STRTAB, data=shstrtab))

    out = bytearray(_EHDR.size)
    offsets = []
    for s in secs:
        if s.data:
            out += b"\0" * (-len(out) % max(s.align, 1))
        offsets.append(len(out))
        out += s.data
    out += b"\0" * (-len(out) % 8)
    shoff = len(out)
    for s, off in zip(secs, offsets, strict=True):
        size = s.size if s.type == SHT_NOBITS else len(s.data)
        out += _SHDR.pack(sh_at[s.name], s.type, s.flags, s.addr, off, size, s.link, s.info, s.align, s.entsize)
    ident = ELFMAG + bytes([ELFCLASS64, ELFDATA2LSB, EV_CURRENT, ELFOSABI_NONE])
    out[: _EHDR.size] = _EHDR.pack(
        ident, ET_EXEC, EM_AARCH64, EV_CURRENT, asm.symbols.get(entry, 0), 0, shoff, 0, _EHDR.size, 0, 0,
        _SHDR.size, len(secs), len(secs) - 1,
    )  # fmt: skip
    return bytes(out)


def write_elf_debug(asm: Assembly, path: str | Path, comp_dir: str = ".", entry: str = "_main") -> Path:
    p = Path(path)
    p.write_bytes(build_elf_debug(asm, comp_dir, entry))
    return p
