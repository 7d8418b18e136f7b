"""What each routine of ymawky.s really writes, against what its header says.

A routine is a label that does not start with ``L``, from its address to the
next such label (code only: up to ``Lliterals``).  Capstone decodes the
Keystone bytes; a routine's writes are its own instructions' (``svc`` writes
x0 and x1, darwin-abi.md 1.1) plus those of every routine it reaches by
``bl``, ``blr`` (the method_routines table) or a branch out of its own body
(a tail call).  A callee-saved register (x19-x28) it stores on the stack
before it writes it, and loads back, is kept.  x29, x30 and sp are the frame's
and are not counted.  What a routine takes (live_in) is what it, or a callee
before the call, reads before writing it, in the order of the bytes.

The header is the ``// --- name ---`` comment block above the label: the
registers named on the ``clobbers:`` line (``x9-x11`` ranges, ``nothing``),
those named after ``in:`` and those named after ``out:``.  A local helper (``bl Lname``) runs from its
label to the next label not its own (``Lname_...``); its header is the
comment right above it.  Run as a script (``python tests/ymawky_regs.py``
from the project root) to print every routine whose header differs from the
code, and every read of a register a call just changed.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from capstone import CS_ARCH_ARM64, CS_MODE_ARM, Cs, CsInsn

from emu.assembler import Assembly, assemble_file

SOURCE = Path(__file__).resolve().parent.parent / "ymawky.s"
CODE_END = "Lliterals"  # the literal pool ends the code
DISPATCH = "method_routines"  # offsets of the routines that answer_request calls with blr
KEEP = frozenset(range(19, 29))  # x19-x28: what AAPCS64 makes a callee keep
FRAME = frozenset({29, 30})

_REG = re.compile(r"\b[xw](\d+)\b")
_RANGE = re.compile(r"\bx(\d+)(?:-x(\d+))?\b")
_BANNER = re.compile(r"^// --- (.+?) -+$")


@dataclass
class Routine:
    name: str
    start: int
    end: int
    writes: set[int] = field(default_factory=set)  # its own instructions
    stored_first: set[int] = field(default_factory=set)  # x19-x28 saved before written
    loaded: set[int] = field(default_factory=set)  # x19-x28 loaded back from the stack
    calls: set[str] = field(default_factory=set)
    has_call: bool = False  # bl or blr: needs a frame
    frame: bool = False  # stp x29, x30, [sp, #-N]! ; mov x29, sp before its first call
    touches_x18: bool = False


@dataclass(frozen=True)
class Header:
    clobbers: frozenset[int]
    outs: frozenset[int]
    ins: frozenset[int]
    text: str


def _regnum(name: str) -> int | None:
    if name in ("fp", "x29"):
        return 29
    if name in ("lr", "x30"):
        return 30
    m = re.fullmatch(r"[xw](\d+)", name)
    return int(m.group(1)) if m else None


def access(insn: CsInsn) -> tuple[set[int], set[int]]:
    """Registers an instruction reads and writes, by number (sp, xzr, flags left out)."""
    read, written = insn.regs_access()
    regs_r = {n for n in (_regnum(insn.reg_name(x)) for x in read) if n is not None}
    regs_w = {n for n in (_regnum(insn.reg_name(x)) for x in written) if n is not None}
    if insn.mnemonic in ("cmp", "cmn", "tst"):  # Capstone 5 lists their first operand as written
        regs_r |= regs_w
        regs_w = set()
    if insn.mnemonic == "svc":
        regs_w |= {0, 1}
    return regs_r, regs_w


@cache
def assembly() -> Assembly:
    return assemble_file(SOURCE, cache=True)


def methods() -> dict[str, int]:
    """The M_* values, as ymawky.s declares them."""
    text = SOURCE.read_text(encoding="utf-8")
    return {m: int(v) for m, v in re.findall(r"^\.equ (M_\w+),\s*(\d+)", text, re.M)}


def dispatch_targets(a: Assembly) -> dict[int, int]:
    """M_* -> the routine address method_routines holds for it (int32 offsets from the table)."""
    at = a.symbols[DISPATCH]
    out = {}
    for m in methods().values():
        (rel,) = struct.unpack_from("<i", a.code, at - a.base + 4 * m)
        out[m] = at + rel
    return out


@cache
def routines() -> dict[str, Routine]:
    """Every routine of the code, with what its own instructions do."""
    a = assembly()
    end = a.symbols[CODE_END]
    names = sorted((addr, n) for n, addr in a.symbols.items() if not n.startswith("L") and addr < end)
    spans = [(n, addr, names[i + 1][0] if i + 1 < len(names) else end) for i, (addr, n) in enumerate(names)]
    by_addr = [(s, e, n) for n, s, e in spans]
    table = list(dispatch_targets(a).values()) if DISPATCH in a.symbols else []

    def owner(addr: int) -> str | None:
        return next((n for s, e, n in by_addr if s <= addr < e), None)

    md = Cs(CS_ARCH_ARM64, CS_MODE_ARM)
    md.detail = True
    out: dict[str, Routine] = {}
    for name, start, stop in spans:
        r = Routine(name, start, stop)
        insns = list(md.disasm(a.code[start - a.base : stop - a.base], start))
        for k, insn in enumerate(insns):
            regs_r, regs_w = access(insn)
            if 18 in regs_w | regs_r:
                r.touches_x18 = True
            m = insn.mnemonic
            if m in ("stp", "str") and "[sp" in insn.op_str:
                r.stored_first |= (regs_r & KEEP) - r.writes
            if m in ("ldp", "ldr") and "[sp" in insn.op_str:
                r.loaded |= regs_w & KEEP
            if m in ("bl", "blr"):
                if not r.has_call:
                    r.frame = _opens_frame(insns[:k])
                r.has_call = True
                regs_w.discard(30)
                if m == "blr":
                    r.calls |= {n for n in (owner(t) for t in table) if n}
            if m in ("b", "bl", "cbz", "cbnz", "tbz", "tbnz") or m.startswith("b."):
                target = insn.operands[-1]  # a direct branch: always an address
                if not start <= target.imm < stop:
                    callee = owner(target.imm)
                    if callee:
                        r.calls.add(callee)
            r.writes |= regs_w
        out[name] = r
    return out


def clobbers() -> dict[str, set[int]]:
    """Registers each routine leaves changed (x29, x30 aside), callees included."""
    rs = routines()
    kept = {n: r.stored_first & r.loaded for n, r in rs.items()}
    result = {n: (r.writes - FRAME) - kept[n] for n, r in rs.items()}
    changed = True
    while changed:
        changed = False
        for n, r in rs.items():
            more = set().union(*(result[c] for c in r.calls)) - kept[n] if r.calls else set()
            if not more <= result[n]:
                result[n] |= more
                changed = True
    return result


def parse_regs(text: str) -> frozenset[int]:
    regs: set[int] = set()
    for lo, hi in _RANGE.findall(text):
        regs |= set(range(int(lo), int(hi or lo) + 1))
    return frozenset(regs)


def _header(body: list[str]) -> Header:
    head = "\n".join(body)
    clob = head.split("clobbers:", 1)[1].split("\n")[0] if "clobbers:" in head else ""
    out_part = head.split("out:", 1)[1].split("clobbers:", 1)[0] if "out:" in head else ""
    in_part = head.split("in:", 1)[1].split("out:", 1)[0] if "in:" in head else ""
    outs = frozenset(int(n) for n in _REG.findall(out_part))
    return Header(parse_regs(clob.split("(")[0]), outs, frozenset(int(n) for n in _REG.findall(in_part)), head)


def headers(text: str | None = None) -> dict[str, Header]:
    """Each routine's header, by name (a banner may name several routines)."""
    lines = (SOURCE.read_text(encoding="utf-8") if text is None else text).splitlines()
    out: dict[str, Header] = {}
    for i, line in enumerate(lines):
        m = _BANNER.match(line)
        if not m:
            continue
        body = []
        for follow in lines[i + 1 :]:
            if not follow.startswith("//"):
                break
            body.append(follow[2:])
        for name in m.group(1).split(", "):
            name = "_main" if name == "main" else name  # the C entry point's label
            out[name] = _header(body)
    return out


def helper_header(name: str) -> Header:
    """The comment lines right above a local helper's label."""
    lines = SOURCE.read_text(encoding="utf-8").splitlines()
    at = lines.index(f"{name}:")
    body: list[str] = []
    while lines[at - 1 - len(body)].startswith("//"):
        body.insert(0, lines[at - 1 - len(body)][2:])
    return _header(body)


def show(regs: set[int] | frozenset[int]) -> str:
    """x0-x3, x9 style, as the headers write them."""
    if not regs:
        return "nothing"
    parts, run = [], []
    for n in sorted(regs):
        if run and n != run[-1] + 1:
            parts.append(run)
            run = []
        run.append(n)
    parts.append(run)
    return ", ".join(
        f"x{p[0]}" if len(p) == 1 else f"x{p[0]}, x{p[1]}" if len(p) == 2 else f"x{p[0]}-x{p[-1]}" for p in parts
    )


def differences(heads: dict[str, Header] | None = None) -> dict[str, tuple[set[int], frozenset[int]]]:
    """Routines whose header clobbers (out: registers aside) differ from the code's."""
    found = clobbers()
    heads = headers() if heads is None else heads
    diff = {}
    for name, regs in found.items():
        h = heads.get(name)
        declared = h.clobbers if h else frozenset()
        outs = h.outs if h else frozenset()
        if regs - outs != declared - outs:
            diff[name] = (regs - outs, declared - outs)
    return diff


def stale_reads() -> list[str]:
    """Reads, after a call, of a register the callee changes and does not return.

    Within the straight line after each ``bl`` (up to the next call, ``b`` or
    ``ret``): a read of a register before the routine writes it again, when
    the callee's clobbers (minus its out: registers) hold it.
    """
    a = assembly()
    found = clobbers()
    heads = headers()
    md = Cs(CS_ARCH_ARM64, CS_MODE_ARM)
    md.detail = True
    rs = routines()
    owner = {r.start: n for n, r in rs.items()}
    problems = []
    for name, r in rs.items():
        insns = list(md.disasm(a.code[r.start - a.base : r.end - a.base], r.start))
        for k, insn in enumerate(insns):
            if insn.mnemonic != "bl":
                continue
            target = insn.operands[0].imm
            callee = owner.get(target)
            if callee is None:
                continue  # a helper inside this routine
            h = heads.get(callee)
            dead = found[callee] - (h.outs if h else frozenset()) - FRAME
            for later in insns[k + 1 :]:
                regs_r, regs_w = access(later)
                m = later.mnemonic
                bad = regs_r & dead
                if bad:
                    line = a.line_of(later.address)
                    problems.append(f"{name}: ymawky.s:{line} reads {show(bad)}, which {callee} changed")
                    break
                dead -= regs_w
                if m in ("bl", "blr", "b", "ret", "br") or not dead:
                    break
    return problems


def _opens_frame(insns: list[CsInsn]) -> bool:
    """stp x29, x30, [sp, #-N]! then mov x29, sp, somewhere in these instructions."""
    return any(
        p.mnemonic == "stp"
        and re.fullmatch(r"x29, x30, \[sp, #-\w+\]!", p.op_str) is not None
        and q.mnemonic == "mov"
        and q.op_str == "x29, sp"
        for p, q in zip(insns, insns[1:], strict=False)
    )


def helpers() -> dict[str, Routine]:
    """Local helpers (``bl Lname``): what each changes (callees included) and whether it makes a frame.

    A helper runs from its label to the next label that is not one of its own
    (``Lname_...``).
    """
    a = assembly()
    rs = routines()
    found = clobbers()
    md = Cs(CS_ARCH_ARM64, CS_MODE_ARM)
    md.detail = True
    starts = {r.start: n for n, r in rs.items()}
    labels = sorted((addr, n) for n, addr in a.symbols.items() if addr < a.symbols[CODE_END])
    targets = set()
    for r in rs.values():
        for insn in md.disasm(a.code[r.start - a.base : r.end - a.base], r.start):
            if insn.mnemonic == "bl" and insn.operands[0].imm not in starts:
                targets.add(insn.operands[0].imm)
    out = {}
    for addr in sorted(targets):
        name = next(n for at, n in labels if at == addr and n.startswith("L"))
        end = next(at for at, n in labels if at > addr and not n.startswith(name + "_"))
        h = Routine(name, addr, end)
        insns = list(md.disasm(a.code[addr - a.base : end - a.base], addr))
        for k, insn in enumerate(insns):
            h.writes |= access(insn)[1]
            if insn.mnemonic == "bl":
                h.frame = h.frame or (not h.has_call and _opens_frame(insns[:k]))
                h.has_call = True
                if insn.operands[0].imm in starts:
                    h.writes |= found[starts[insn.operands[0].imm]]
        h.writes -= FRAME
        out[name] = h
    return out


def live_in() -> dict[str, set[int]]:
    """Registers each routine reads before it writes them, its callees included.

    In the order of the bytes: a read that comes before any write of that
    register in the routine, or a callee's such read before the call.  Saving
    a callee-saved register on the stack is not reading it.
    """
    a = assembly()
    rs = routines()
    changes = clobbers()
    heads = headers()
    local = helpers()
    md = Cs(CS_ARCH_ARM64, CS_MODE_ARM)
    md.detail = True
    spans = [(r.start, r.end, n) for n, r in rs.items()]
    helper_at = {a.symbols[n]: n for n in local}
    table = list(dispatch_targets(a).values())

    def owner(addr: int) -> str | None:
        return next((n for s, e, n in spans if s <= addr < e), None)

    def returns(callee: str) -> set[int]:
        h = heads.get(callee)
        return changes[callee] | (h.outs if h else frozenset())

    result: dict[str, set[int]] = {n: set() for n in rs}
    changed = True
    while changed:
        changed = False
        for name, r in rs.items():
            written: set[int] = set()
            need: set[int] = set()
            for insn in md.disasm(a.code[r.start - a.base : r.end - a.base], r.start):
                regs_r, regs_w = access(insn)
                m = insn.mnemonic
                if m in ("stp", "str") and "[sp" in insn.op_str:
                    regs_r -= KEEP | FRAME
                need |= regs_r - written
                callees: list[str] = []
                if m == "blr":
                    callees = [n for n in (owner(t) for t in table) if n]
                elif m in ("b", "bl", "cbz", "cbnz") or m.startswith("b."):
                    target = insn.operands[-1].imm
                    if m == "bl" and target in helper_at:
                        written |= local[helper_at[target]].writes
                    elif not r.start <= target < r.end and owner(target):
                        callees = [owner(target)]  # type: ignore[list-item]
                for callee in callees:
                    need |= result[callee] - written
                for callee in callees:
                    written |= returns(callee)
                written |= regs_w
            need -= FRAME
            if need != result[name]:
                result[name] = need
                changed = True
    return result


if __name__ == "__main__":
    for name, (real, said) in differences().items():
        print(f"{name}: the code changes {show(real)}, the header says {show(said)}")
    heads = headers()
    for name, reads in live_in().items():
        if reads - {19, 28} != heads[name].ins - {19, 28}:
            print(f"{name}: the code takes {show(reads)}, in: says {show(heads[name].ins)}")
    print("\n".join(stale_reads()))
