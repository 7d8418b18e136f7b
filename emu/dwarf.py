"""DWARF 4 debug info for an Assembly: ymawky.s lines and routines for gdb and lldb.

Owns: the routines of a program (which labels start code, and where each
ends), and the bytes of ``.debug_abbrev``, ``.debug_info``, ``.debug_aranges``,
``.debug_line``, ``.debug_str`` and ``.debug_frame`` for them.  One writer for both containers:
emu/macho.py puts the sections in a ``__DWARF`` segment, emu/elf_debug.py in
the ELF symbol file that gdb-multiarch reads.  Knows no container format.

The debug info holds one compile unit (the source file, assembler language)
whose range is ``__text``; its line program has one row per source line
that emits bytes there (the assembler's line map); one DW_TAG_subprogram
per routine.  A routine is a label that is not local (``L…`` / ``.L…`` are
local, as in Mach-O and ELF assemblers), lies in ``__text``, and whose first
bytes come from an instruction (or macro) line rather than a data directive.
It ends at the next non-local label, or at the end of ``__text``, so a
routine never covers the tables that follow it.  ``.debug_frame`` has an FDE
only for the routines whose header says they never return (main, the accept
loop): there a backtrace ends, and every other frame is gdb's prologue reading.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from emu.assembler import MARKER, Assembly

PRODUCER = "ymawky-emu (Keystone; emu/dwarf.py)"
DWARF_VERSION = 4
ADDR_SIZE = 8

# tags, attributes, forms, language (DWARF 4, section 7)
DW_TAG_compile_unit, DW_TAG_subprogram = 0x11, 0x2E
DW_CHILDREN_no, DW_CHILDREN_yes = 0, 1
DW_AT_name, DW_AT_stmt_list, DW_AT_low_pc, DW_AT_high_pc = 0x03, 0x10, 0x11, 0x12
DW_AT_language, DW_AT_comp_dir, DW_AT_producer = 0x13, 0x1B, 0x25
DW_AT_decl_file, DW_AT_decl_line, DW_AT_external = 0x3A, 0x3B, 0x3F
DW_FORM_addr, DW_FORM_data2, DW_FORM_data4, DW_FORM_data8 = 0x01, 0x05, 0x06, 0x07
DW_FORM_data1, DW_FORM_strp, DW_FORM_udata = 0x0B, 0x0E, 0x0F
DW_FORM_sec_offset, DW_FORM_flag_present = 0x17, 0x19
DW_LANG_Mips_Assembler = 0x8001

# line program (DWARF 4, section 6.2)
DW_LNS_copy, DW_LNS_advance_pc, DW_LNS_advance_line = 1, 2, 3
DW_LNE_end_sequence, DW_LNE_set_address = 1, 2
LINE_BASE, LINE_RANGE, OPCODE_BASE = -5, 14, 13
STANDARD_OPCODE_LENGTHS = (0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1)  # operands of opcodes 1..12

# abbreviation codes
_ABBREV_CU, _ABBREV_ROUTINE, _ABBREV_ENTRY = 1, 2, 3

_LABEL_RE = re.compile(r"\s*([A-Za-z_.$][\w.$]*)\s*:(?!:)")


@dataclass(frozen=True)
class Routine:
    name: str
    low: int  # address of its first byte
    high: int  # address after its last byte
    line: int  # source line of its label


def is_local(name: str) -> bool:
    """Assembler-local labels (``L…``, ``.L…``) and the assembler's line markers."""
    return name.startswith(("L", ".L", MARKER))


def _labels_by_line(text: str) -> tuple[dict[str, list[int]], list[str]]:
    """Each label -> the lines (1-based) defining it; each line's statement after its labels."""
    defs: dict[str, list[int]] = {}
    stmts: list[str] = []
    for n, line in enumerate(text.split("\n"), 1):
        rest = line.split("//", 1)[0]
        while (m := _LABEL_RE.match(rest)) is not None:
            defs.setdefault(m.group(1), []).append(n)
            rest = rest[m.end() :]
        stmts.append(rest.strip())
    return defs, stmts


def routines(asm: Assembly, code_end: int) -> list[Routine]:
    """The routines of ``asm`` in address order (rules in the module docstring).

    ``code_end`` is where ``__text`` ends.  Without the source text there is no
    telling code from data, so every non-local label in ``__text`` counts.
    """
    defs, stmts = _labels_by_line(asm.text)
    starts = sorted(
        {a for name, a in asm.symbols.items() if not is_local(name) and asm.base <= a < code_end} | {code_end}
    )
    found: dict[int, Routine] = {}
    for name, addr in sorted(asm.symbols.items(), key=lambda kv: (kv[1], kv[0])):
        if is_local(name) or not asm.base <= addr < code_end or addr in found:
            continue
        row = asm.line_of(addr)
        if asm.text and (row is None or not stmts[row - 1] or stmts[row - 1].startswith(".")):
            continue  # data: its first bytes come from a directive
        lines = defs.get(name, [])
        # the definition Keystone assembled: the last one at or before the row's line
        line = max((n for n in lines if row is None or n <= row), default=lines[0] if lines else row or 0)
        end = next(s for s in starts if s > addr)
        found[addr] = Routine(name, addr, end, line)
    return [found[a] for a in sorted(found)]


# ---------------------------------------------------------------- encoding


def uleb(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def sleb(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        done = (n == 0 and not byte & 0x40) or (n == -1 and byte & 0x40)
        out.append(byte | (0 if done else 0x80))
        if done:
            return bytes(out)


class _Strings:
    """.debug_str: each string once, offsets handed out as they are added."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.offsets: dict[str, int] = {}

    def __call__(self, s: str) -> bytes:
        if s not in self.offsets:
            self.offsets[s] = len(self.data)
            self.data += s.encode() + b"\0"
        return struct.pack("<I", self.offsets[s])


def _abbrev() -> bytes:
    def entry(code: int, tag: int, children: int, attrs: list[tuple[int, int]]) -> bytes:
        body = b"".join(uleb(a) + uleb(f) for a, f in attrs)
        return uleb(code) + uleb(tag) + bytes([children]) + body + b"\0\0"

    common = [(DW_AT_name, DW_FORM_strp), (DW_AT_decl_file, DW_FORM_data1), (DW_AT_decl_line, DW_FORM_udata)]
    common += [(DW_AT_low_pc, DW_FORM_addr), (DW_AT_high_pc, DW_FORM_data4)]
    cu = [(DW_AT_producer, DW_FORM_strp), (DW_AT_language, DW_FORM_data2), (DW_AT_name, DW_FORM_strp)]
    cu += [(DW_AT_comp_dir, DW_FORM_strp), (DW_AT_stmt_list, DW_FORM_sec_offset)]
    cu += [(DW_AT_low_pc, DW_FORM_addr), (DW_AT_high_pc, DW_FORM_data8)]
    return (
        entry(_ABBREV_CU, DW_TAG_compile_unit, DW_CHILDREN_yes, cu)
        + entry(_ABBREV_ROUTINE, DW_TAG_subprogram, DW_CHILDREN_no, common)
        + entry(_ABBREV_ENTRY, DW_TAG_subprogram, DW_CHILDREN_no, [*common, (DW_AT_external, DW_FORM_flag_present)])
        + b"\0"
    )


def _info(asm: Assembly, code_end: int, comp_dir: str, found: list[Routine], entry: str, strp: _Strings) -> bytes:
    body = struct.pack("<HIB", DWARF_VERSION, 0, ADDR_SIZE)  # version, abbrev offset, address size
    body += uleb(_ABBREV_CU) + strp(PRODUCER) + struct.pack("<H", DW_LANG_Mips_Assembler)
    body += strp(asm.path) + strp(comp_dir) + struct.pack("<IQQ", 0, asm.base, code_end - asm.base)
    for r in found:
        body += uleb(_ABBREV_ENTRY if r.name == entry else _ABBREV_ROUTINE)
        body += strp(r.name) + bytes([1]) + uleb(r.line) + struct.pack("<QI", r.low, r.high - r.low)
    body += b"\0"  # end of the unit's children
    return struct.pack("<I", len(body)) + body


def _aranges(asm: Assembly, code_end: int) -> bytes:
    head = struct.pack("<HIBB", 2, 0, ADDR_SIZE, 0)  # version 2, .debug_info offset, sizes
    head += b"\0" * (-(4 + len(head)) % (2 * ADDR_SIZE))  # tuples start 16-aligned
    body = head + struct.pack("<QQQQ", asm.base, code_end - asm.base, 0, 0)
    return struct.pack("<I", len(body)) + body


def _line_program(rows: list[tuple[int, int]], code_end: int) -> bytes:
    out = bytearray()
    if not rows:
        return bytes(out)
    addr, line = rows[0][0], 1
    out += b"\0" + uleb(1 + ADDR_SIZE) + bytes([DW_LNE_set_address]) + struct.pack("<Q", addr)
    for at, n in rows:
        step, delta = at - addr, n - line
        special = (delta - LINE_BASE) + LINE_RANGE * step + OPCODE_BASE
        if LINE_BASE <= delta < LINE_BASE + LINE_RANGE and special <= 255:
            out.append(special)
        else:
            if step:
                out += bytes([DW_LNS_advance_pc]) + uleb(step)
            if delta:
                out += bytes([DW_LNS_advance_line]) + sleb(delta)
            out.append(DW_LNS_copy)
        addr, line = at, n
    out += bytes([DW_LNS_advance_pc]) + uleb(code_end - addr)
    out += b"\0\1" + bytes([DW_LNE_end_sequence])
    return bytes(out)


def _line(asm: Assembly, code_end: int) -> bytes:
    rows = [(a, n) for a, n in zip(asm.line_addrs, asm.line_nums, strict=True) if asm.base <= a < code_end]
    files = asm.path.encode() + b"\0" + uleb(0) + uleb(0) + uleb(0) + b"\0"  # in the comp dir; no mtime, size
    header = struct.pack("<BBBbBB", 1, 1, 1, LINE_BASE, LINE_RANGE, OPCODE_BASE)  # min insn length 1: data too
    header += bytes(STANDARD_OPCODE_LENGTHS) + b"\0" + files  # no include directories
    program = _line_program(rows, code_end)
    body = struct.pack("<HI", DWARF_VERSION, len(header)) + header + program
    return struct.pack("<I", len(body)) + body


def debug_sections(asm: Assembly, code_end: int, comp_dir: str = ".", entry: str = "_main") -> dict[str, bytes]:
    """The DWARF sections, by name without prefix (``debug_line`` …), for ``__text`` =
    ``[asm.base, code_end)``.  ``comp_dir`` is the folder the source is named from."""
    strp = _Strings()
    found = routines(asm, code_end)
    info = _info(asm, code_end, comp_dir, found, entry, strp)
    return {
        "debug_abbrev": _abbrev(),
        "debug_info": info,
        "debug_aranges": _aranges(asm, code_end),
        "debug_line": _line(asm, code_end),
        "debug_str": bytes(strp.data),
        "debug_frame": _frame(outermost(asm, found)),
    }


# call frame information (DWARF 4, section 6.4): only for routines that never return
DW_CFA_nop, DW_CFA_undefined, DW_CFA_def_cfa = 0x00, 0x07, 0x0C
CIE_ID = 0xFFFFFFFF
REG_SP, REG_LR = 31, 30  # DWARF numbers for aarch64 (sp, x30)
_NEVER_RETURNS = re.compile(r"^\s*//\s*out:\s*never returns")


def outermost(asm: Assembly, found: list[Routine]) -> list[Routine]:
    """The routines whose header says ``out: never returns`` (main, the accept loop): a
    backtrace ends there, instead of gdb guessing a caller from a frame they never made."""
    lines = asm.text.splitlines() if asm.text else []
    out = []
    for r in found:
        header = lines[max(0, r.line - 12) : r.line - 1]
        if any(_NEVER_RETURNS.match(h) for h in header[-8:]):
            out.append(r)
    return out


def _pad(entry: bytearray) -> bytes:
    """A CIE or FDE with its length in front, padded with DW_CFA_nop to the address size."""
    while (len(entry) + 4) % ADDR_SIZE:
        entry.append(DW_CFA_nop)
    return struct.pack("<I", len(entry)) + bytes(entry)


def _frame(ends: list[Routine]) -> bytes:
    """One CIE (the CFA is sp, the return address x30) and, for each routine that never
    returns, an FDE saying its return address is undefined: the outermost frame."""
    cie = bytearray(struct.pack("<IBBBB", CIE_ID, DWARF_VERSION, 0, ADDR_SIZE, 0))  # no augmentation
    cie += uleb(4) + sleb(-8) + uleb(REG_LR) + bytes([DW_CFA_def_cfa]) + uleb(REG_SP) + uleb(0)
    out = _pad(cie)
    for r in ends:
        fde = bytearray(struct.pack("<IQQ", 0, r.low, r.high - r.low))  # CIE at offset 0
        fde += bytes([DW_CFA_undefined]) + uleb(REG_LR)
        out += _pad(fde)
    return out
