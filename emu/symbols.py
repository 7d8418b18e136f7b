"""Addresses -> names people recognise: ``symbol+offset (ymawky.s:LINE)``.

Owns: symbol lookup for any Mach-O with an LC_SYMTAB, and source lines
through the assembler's line map when the program came from our source.
"""

from __future__ import annotations

import bisect

from emu.assembler import Assembly


class Symbolizer:
    def __init__(self, symbols: dict[str, int], assembly: Assembly | None = None, slide: int = 0) -> None:
        ranked = sorted(
            (addr, name)
            for name, addr in symbols.items()
            if name != "__mh_execute_header" and not name.startswith("__ymL")
        )
        self.addrs = [a for a, _ in ranked]
        self.names = [n for _, n in ranked]
        self.assembly, self.slide = assembly, slide

    def symbol(self, addr: int) -> tuple[str, int] | None:
        i = bisect.bisect_right(self.addrs, addr) - 1
        return (self.names[i], addr - self.addrs[i]) if i >= 0 else None

    def line(self, addr: int) -> str | None:
        if self.assembly is None:
            return None
        n = self.assembly.line_of(addr - self.slide)
        return f"{self.assembly.path}:{n}" if n else None

    def describe(self, addr: int) -> str:
        out = f"{addr:#x}"
        sym = self.symbol(addr)
        if sym:
            out += f" {sym[0]}+{sym[1]:#x}"
        line = self.line(addr)
        if line:
            out += f" ({line})"
        return out
