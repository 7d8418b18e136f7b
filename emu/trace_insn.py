"""What one traced instruction looks like: decoded once, formatted from a template.

Owns: Capstone disassembly cached per address (mnemonic, operands, the
registers the instruction writes, as Unicorn register ids), symbol+offset
and source line per address, and the two output formats of an
instruction line (aligned text, JSON Lines; docs/trace-format.md).  Each
address gets a ``%``-template once; at run time a line costs one
``template % values``.  Knows nothing about hooks or files.
"""

from __future__ import annotations

import bisect
import json
import os
import re
from dataclasses import dataclass

from unicorn import Uc
from unicorn import arm64_const as A

from emu.symbols import Symbolizer

# Capstone 5 lists the first operand of a compare as written and the link
# register for svc: what these really write is fixed here.
_WRITES_FIXED = {
    "cmp": ("nzcv",),
    "cmn": ("nzcv",),
    "tst": ("nzcv",),
    "ccmp": ("nzcv",),
    "ccmn": ("nzcv",),
    "fcmp": ("nzcv",),
    "fccmp": ("nzcv",),
    "svc": ("x0", "x1", "nzcv"),
}
_ALIASES = {"fp": "x29", "lr": "x30"}
_TARGETS = {"b", "bl", "cbz", "cbnz", "tbz", "tbnz", "adr", "ldr"}
_GPR = re.compile(r"^(?:[xw](?:[12]?[0-9]|30)|sp|wsp|nzcv)$")
MEM_OPS = {16: "R", 17: "W", 25: "R"}  # UC_MEM_READ, UC_MEM_WRITE, UC_MEM_READ_AFTER


@dataclass(frozen=True)
class Insn:
    addr: int
    size: int
    text: str  # "mnemonic operands" (with <symbol> after a direct target)
    sym: str | None
    off: int
    file: str | None
    line: int | None
    writes: tuple[str, ...]  # register names as shown
    reg_ids: tuple[int, ...]  # their Unicorn ids, same order (wN is read as xN: a W write zeroes the top)
    narrow: tuple[bool, ...]  # 32-bit in Unicorn (NZCV)
    is_svc: bool


class Decoder:
    """Address -> Insn, disassembling each address once."""

    def __init__(self, uc: Uc, symbols: Symbolizer) -> None:
        self.uc, self.symbols = uc, symbols
        from capstone import CS_ARCH_ARM64, CS_MODE_ARM, Cs  # only when tracing: ~5 MB a fork copies

        self.cs = Cs(CS_ARCH_ARM64, CS_MODE_ARM)
        self.cs.detail = True
        self.cache: dict[int, Insn] = {}
        # several names at one address ("t_index_end" is "t_200"): prefer one that starts something
        best: dict[int, str] = {}
        for a, n in zip(symbols.addrs, symbols.names, strict=True):
            if a not in best or (best[a].endswith("_end") and not n.endswith("_end")):
                best[a] = n
        self.addrs = sorted(best)
        self.names = [best[a] for a in self.addrs]
        asm = symbols.assembly
        self.file = os.path.basename(asm.path) if asm is not None else None

    def symbol(self, addr: int) -> tuple[str, int] | None:
        i = bisect.bisect_right(self.addrs, addr) - 1
        return (self.names[i], addr - self.addrs[i]) if i >= 0 else None

    def get(self, addr: int) -> Insn:
        insn = self.cache.get(addr)
        if insn is None:
            self.block(addr, 4)
            insn = self.cache[addr]
        return insn

    def block(self, addr: int, size: int) -> list[Insn]:
        out = []
        try:
            code = bytes(self.uc.mem_read(addr, size))
        except Exception:  # noqa: BLE001 - unmapped: shown as undecodable
            code = b""
        decoded = {i.address: i for i in self.cs.disasm(code, addr)}
        for a in range(addr, addr + size, 4):
            insn = self.cache.get(a)
            if insn is None:
                insn = self.cache[a] = self._make(a, decoded.get(a))
            out.append(insn)
        return out

    def _make(self, addr: int, cs_insn: object) -> Insn:
        sym = self.symbol(addr)
        line = self.symbols.assembly.line_of(addr - self.symbols.slide) if self.symbols.assembly else None
        if cs_insn is None:
            return Insn(
                addr, 4, "(undecodable)", sym and sym[0], sym[1] if sym else 0, self.file, line, (), (), (), False
            )
        mnem, ops = cs_insn.mnemonic, cs_insn.op_str
        text = f"{mnem} {ops}".strip()
        if (mnem in _TARGETS or mnem.startswith("b.")) and "#0x" in ops and "[" not in ops:
            target = self.symbol(int(ops.rsplit("#", 1)[1], 16))
            if target:
                plus = f"+{target[1]:#x}" if target[1] else ""
                text += f" <{target[0]}{plus}>"
        if mnem in _WRITES_FIXED:
            names = list(_WRITES_FIXED[mnem])
        else:
            try:
                names = [cs_insn.reg_name(r) for r in cs_insn.regs_access()[1]]
            except Exception:  # noqa: BLE001 - Capstone has no access info for it
                names = []
        writes, ids, narrow = [], [], []
        for n in names:
            n = _ALIASES.get(n, n)
            if not _GPR.match(n) or n in writes:
                continue  # zero registers, and SIMD/FP registers (not traced)
            read_as = "sp" if n == "wsp" else ("x" + n[1:] if n[0] == "w" else n)
            writes.append(n)
            ids.append(getattr(A, f"UC_ARM64_REG_{read_as.upper()}"))
            narrow.append(n == "nzcv")
        return Insn(
            addr,
            4,
            text,
            sym and sym[0],
            sym[1] if sym else 0,
            self.file,
            line,
            tuple(writes),
            tuple(ids),
            tuple(narrow),
            mnem == "svc",
        )


def _pct(s: str) -> str:
    return s.replace("%", "%%")


class TextFormat:
    """Aligned columns: seq, address, symbol+offset, file:line, instruction, registers, memory."""

    name = "text"
    seq_fmt = "%8d"
    end = "\n"

    @staticmethod
    def seq_prefix(digits: int) -> str:
        """What goes before a seq of ``digits`` digits: ``seq_prefix(d) + str(seq)`` == ``seq_fmt % seq``."""
        return " " * max(0, 8 - digits)

    def __init__(self, sym_width: int = 26) -> None:
        self.sym_width = sym_width

    def body(self, insn: Insn, regs: bool) -> str:
        """The line after its seq and before its end, as a ``%`` template: ``%#x`` per written register."""
        where = f"{insn.sym}+{insn.off:#x}" if insn.sym else "?"
        src = f"{insn.file}:{insn.line}" if insn.line else ""
        mnem, _, ops = insn.text.partition(" ")
        line = f"  {insn.addr:#x}  {_pct(where):<{self.sym_width}} {src:<14} {mnem:<7} {_pct(ops):<30}"
        if regs and insn.writes:
            line += "  " + " ".join(f"{n}=%#x" for n in insn.writes)
        return line.rstrip()

    def mem(self, accesses: list[tuple[int, int, int, int]]) -> str:
        return "".join(
            f"  {MEM_OPS.get(op, '?')}{size} [{addr:#x}]={value & ((1 << 8 * size) - 1):#x}"
            for op, addr, size, value in accesses
        )

    def note(self, text: str) -> str:
        return f"{'':8}  -> {text}\n"

    def comment(self, text: str) -> str:
        return f"# {text}\n"


class JsonFormat:
    """One JSON object per line (docs/trace-format.md)."""

    name = "jsonl"
    seq_fmt = '{"type":"insn","seq":%d'
    end = "}\n"

    @staticmethod
    def seq_prefix(digits: int) -> str:
        return '{"type":"insn","seq":'

    def body(self, insn: Insn, regs: bool) -> str:
        fields = {"sym": insn.sym, "off": insn.off, "file": insn.file, "line": insn.line, "asm": insn.text}
        line = f',"pc":"{insn.addr:#x}",{_pct(json.dumps(fields, separators=(",", ":"))[1:-1])}'
        if regs:
            line += ',"regs":{' + ",".join(f'"{n}":"%#x"' for n in insn.writes) + "}"
        return line

    def mem(self, accesses: list[tuple[int, int, int, int]]) -> str:
        return (
            ',"mem":['
            + ",".join(
                f'{{"op":"{MEM_OPS.get(op, "?")}","addr":"{addr:#x}","size":{size},'
                f'"value":"{value & ((1 << 8 * size) - 1):#x}"}}'
                for op, addr, size, value in accesses
            )
            + "]"
        )

    def note(self, text: str) -> str:
        return text + "\n"

    def comment(self, text: str) -> str:
        return ""


def make_format(name: str, symbols: Symbolizer) -> TextFormat | JsonFormat:
    if name == "jsonl":
        return JsonFormat()
    width = max((len(n) for n in symbols.names), default=10) + 6
    return TextFormat(min(max(width, 16), 34))
