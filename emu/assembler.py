"""Assemble an AArch64 source file with Keystone.

Owns: the Keystone call (run in a forked child, because Keystone 0.9.2
segfaults or aborts on some input), the label -> address table, the
address -> source line map, ``file:line: message`` errors, and a cache
keyed by the source hash.  Knows nothing about Mach-O.

Keystone gives back bytes and nothing else, so the symbol table and the
line map come from a second assembly of the same source in which every
top-level line carries a marker label and a table of ``.quad`` entries
(one per label and marker) is appended after a final ``.ltorg``.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import json
import os
import re
import signal
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

# Where __text starts: one 16 KiB page above the Mach-O header.
DEFAULT_BASE = 0x1_0000_4000
# adr, ldr-literal, cbz and b.cond reach +-1 MiB; Keystone checks only
# +-2 MiB and silently mis-encodes in between.  Refusing images larger
# than 1 MiB makes every in-image reference safe.
MAX_IMAGE = 1 << 20
CACHE_VERSION = "1"

MARKER = "__ymL"
_LABEL_RE = re.compile(r"^\s*([A-Za-z_.$][A-Za-z0-9_.$]*)\s*:(?!:)")
_BLOCK_OPEN = re.compile(r"^\s*\.(macro|rept|irp|irpc|if|ifdef|ifndef|ifc|ifnc|ifeq|ifne|ifb|ifnb)\b")
_BLOCK_CLOSE = re.compile(r"^\s*\.(endm|endr|endif)\b")
_NO_BYTES = re.compile(r"^\s*\.(equ|set|globl|global|private_extern|ltorg|else|elseif)\b|^\s*[A-Za-z_.$][\w.$]*\s*=")

# Directives and forms Keystone accepts but gets wrong (keystone-aarch64.md).
_FORBIDDEN: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^\s*\.(text|data|bss|section)\b"), "section directives break Keystone: keep one section"),
    (re.compile(r"\.req\b"), ".req makes Keystone emit nothing"),
    (re.compile(r"^\s*\.inst\b"), ".inst is silently dropped by Keystone: use .word"),
    (re.compile(r"^\s*\.(file|loc)\b"), ".file/.loc make Keystone emit nothing"),
    (re.compile(r"^\s*\.(comm|lcomm|zerofill)\b"), ".comm/.lcomm/.zerofill reserve nothing under Keystone: use .zero"),
    (re.compile(r"^\s*\.include\b"), ".include is not supported: keep one file"),
    (re.compile(r"^\s*\.(err|error)\b"), ".err/.error are ignored by Keystone"),
    (re.compile(r"\badrp\b"), "adrp encodes an absolute page under Keystone: use adr"),
    (re.compile(r":lo12:|@PAGE"), ":lo12:/@PAGE need a linker: use adr"),
    (re.compile(r"^\s*\d+\s*:"), "numeric labels are rejected by Keystone: use a named label"),
]

_KS_MESSAGES = {
    "KS_ERR_ASM_MNEMONICFAIL": "unknown instruction",
    "KS_ERR_ASM_SYMBOL_MISSING": "undefined symbol",
    "KS_ERR_ASM_INVALIDOPERAND": "invalid operand",
    "KS_ERR_ASM_MISSINGFEATURE": "instruction not supported",
    "KS_ERR_ASM_DIRECTIVE_UNKNOWN": "unknown directive",
    "KS_ERR_ASM_SYMBOL_REDEFINED": "symbol defined twice",
    "KS_ERR_ASM_FIXUP_INVALID": "target out of range",
}


class AssemblyError(Exception):
    """A source line Keystone refused; ``str()`` is ``file:line: message``."""

    def __init__(self, path: str, line: int | None, message: str, text: str = "") -> None:
        self.path, self.line, self.message, self.text = path, line, message, text
        where = f"{path}:{line}" if line else path
        detail = f"\n    {text.strip()}" if text.strip() else ""
        super().__init__(f"{where}: {message}{detail}")


@dataclass(frozen=True)
class Assembly:
    """Bytes of the program as placed at ``base``, with its labels and lines."""

    path: str
    base: int
    code: bytes
    symbols: dict[str, int]
    line_addrs: list[int] = field(repr=False)
    line_nums: list[int] = field(repr=False)

    def line_of(self, addr: int) -> int | None:
        """The source line whose bytes hold ``addr`` (None outside the image)."""
        if not self.base <= addr < self.base + len(self.code):
            return None
        i = bisect.bisect_right(self.line_addrs, addr) - 1
        return self.line_nums[i] if i >= 0 else None


# ---------------------------------------------------------------- source scan

def _strip_comment(line: str) -> str:
    """The line without its // or /* */ comment (quotes respected)."""
    out, i, quote = [], 0, False
    while i < len(line):
        c = line[i]
        if c == '"' and (i == 0 or line[i - 1] != "\\"):
            quote = not quote
        if not quote and line.startswith("//", i):
            break
        if not quote and line.startswith("/*", i):
            end = line.find("*/", i + 2)
            if end < 0:
                break
            i = end + 2
            continue
        out.append(c)
        i += 1
    text = "".join(out)
    return "" if text.lstrip().startswith("#") else text


def _outside_quotes(text: str) -> str:
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', text)


@dataclass
class _Scan:
    lines: list[str]            # source lines as handed to Keystone
    top_level: list[bool]       # line i starts outside any block
    emits: list[bool]           # line i may emit bytes (marker worth placing)
    labels: dict[str, int]      # top-level label -> line index


def _scan(path: str, text: str) -> _Scan:
    raw = text.split("\n")
    lines, top, emits = [], [], []
    labels: dict[str, int] = {}
    # open blocks; "apple" marks an .ifdef APPLE branch, where clang-only forms are allowed
    stack: list[str] = []
    for i, line in enumerate(raw):
        code = _strip_comment(line)
        bare = _outside_quotes(code)
        at_top = not stack
        top.append(at_top)
        if re.match(r"^\s*\.(globl|global|private_extern)\b", code):
            lines.append("")       # emits nothing; with it Keystone zeroes .quad sym
            emits.append(False)
            continue
        if "apple" not in stack:
            for pattern, why in _FORBIDDEN:
                if pattern.search(bare):
                    raise AssemblyError(path, i + 1, why, line)
            if ";" in bare:
                raise AssemblyError(path, i + 1, "';' separates statements under Keystone"
                                    " but starts a comment under clang: use //", line)
        opener = _BLOCK_OPEN.match(code)
        if opener:
            stack.append("apple" if re.match(r"^\s*\.ifdef\s+APPLE\b", code) else "block")
        elif _BLOCK_CLOSE.match(code):
            if stack:
                stack.pop()
        elif re.match(r"^\s*\.else\b", code) and stack and stack[-1] == "apple":
            stack[-1] = "else"
        if at_top and not opener:
            rest = code
            while (m := _LABEL_RE.match(rest)) is not None:
                name = m.group(1)
                if name in labels:
                    raise AssemblyError(path, i + 1, f"label {name!r} already defined on line {labels[name] + 1}", line)
                labels[name] = i
                rest = rest[m.end():]
            emits.append(bool(rest.strip()) and not _NO_BYTES.match(rest))
        else:
            emits.append(False)
        lines.append(line)
    return _Scan(lines, top, emits, labels)


# ---------------------------------------------------------------- keystone, isolated

class _KsFailure(Exception):
    pass


def _ks_asm(source: bytes, base: int) -> bytes:
    """Run Keystone in a forked child; a crash there becomes _KsFailure."""
    rd, wr = os.pipe()
    erd, ewr = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never returns
        try:
            os.close(rd)
            os.close(erd)
            os.dup2(ewr, 2)
            from keystone import KS_ARCH_ARM64, KS_MODE_LITTLE_ENDIAN, Ks, KsError
            try:
                enc, _ = Ks(KS_ARCH_ARM64, KS_MODE_LITTLE_ENDIAN).asm(source, base, as_bytes=True)
                msg = b"K" + (enc or b"")
            except KsError as e:
                msg = b"E" + str(e).encode()
            with os.fdopen(wr, "wb") as f:
                f.write(msg)
        finally:
            os._exit(0)
    os.close(wr)
    os.close(ewr)
    with os.fdopen(rd, "rb") as f:
        out = f.read()
    with os.fdopen(erd, "rb") as f:
        err = f.read().decode(errors="replace").strip()
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        raise _KsFailure(f"Keystone crashed ({signal.Signals(os.WTERMSIG(status)).name}) on this line")
    if not out:
        raise _KsFailure(err.splitlines()[-1] if err else "Keystone failed without a message")
    if out[:1] == b"E":
        raise _KsFailure(out[1:].decode())
    return out[1:]


def _friendly(msg: str) -> str:
    for key, text in _KS_MESSAGES.items():
        if key in msg:
            return text
    return msg.replace("LLVM ERROR: ", "")


def _locate(path: str, scan: _Scan, base: int, msg: str) -> AssemblyError:
    """Bisect on top-level line prefixes to find the first line that fails."""
    cuts = [i for i in range(len(scan.lines) + 1) if i == len(scan.lines) or scan.top_level[i]]

    def fails(k: int) -> bool:
        later = [name for name, at in scan.labels.items() if at >= k]
        src = "\n".join(scan.lines[:k] + [f"{name}:" for name in later]) + "\n"
        try:
            _ks_asm(src.encode(), base)
            return False
        except _KsFailure:
            return True

    lo, hi = 0, len(cuts) - 1  # fails(cuts[hi]) is known true
    while lo < hi:
        mid = (lo + hi) // 2
        if fails(cuts[mid]):
            hi = mid
        else:
            lo = mid + 1
    end = cuts[lo]
    start = cuts[lo - 1] if lo > 0 else 0
    # the failing unit is lines[start:end]; report its first line with content
    line = next((i for i in range(start, end) if _strip_comment(scan.lines[i]).strip()), max(end - 1, 0))
    return AssemblyError(path, line + 1, _friendly(msg), scan.lines[line] if scan.lines else "")


# ---------------------------------------------------------------- public entry

def cache_dir() -> Path:
    root = os.environ.get("YMAWKY_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "ymawky-emu")
    return Path(root)


def assemble_text(text: str, path: str = "<source>", base: int = DEFAULT_BASE, cache: bool = True) -> Assembly:
    """Assemble ``text`` placed at ``base``; raise AssemblyError on a bad line."""
    key = hashlib.sha256(f"{CACHE_VERSION}:{base:x}:".encode() + text.encode()).hexdigest()
    cached = cache_dir() / f"asm-{key}.json"
    if cache and cached.exists():
        try:
            return _from_json(path, json.loads(cached.read_text()))
        except (ValueError, KeyError):
            pass
    asm = _assemble(text, path, base)
    if cache:
        _store(cached, asm)
    return asm


def assemble_file(path: str | os.PathLike[str], base: int = DEFAULT_BASE, cache: bool = True) -> Assembly:
    p = Path(path)
    return assemble_text(p.read_text(encoding="utf-8"), p.name, base, cache)


def _assemble(text: str, path: str, base: int) -> Assembly:
    scan = _scan(path, text)
    plain = ("\n".join(scan.lines) + "\n").encode()
    try:
        code = _ks_asm(plain, base)
    except _KsFailure as e:
        raise _locate(path, scan, base, str(e)) from None
    if len(code) > MAX_IMAGE:
        raise AssemblyError(path, None, f"image is {len(code)} bytes; above {MAX_IMAGE} pc-relative references may be mis-encoded")

    marked = list(scan.lines)
    markers = [i for i, e in enumerate(scan.emits) if e]
    for i in markers:
        marked[i] = f"{MARKER}{i}: {marked[i]}"
    names = list(scan.labels)
    table = [f".quad {name}" for name in names] + [f".quad {MARKER}{i}" for i in markers]
    src2 = "\n".join(marked + [".ltorg", ".p2align 3", *table]) + "\n"
    try:
        out = _ks_asm(src2.encode(), base)
    except _KsFailure as e:
        raise AssemblyError(path, None, f"symbol pass failed: {_friendly(str(e))}") from None
    n = len(table)
    words = [int.from_bytes(out[len(out) - 8 * (n - j): len(out) - 8 * (n - j - 1)], "little") for j in range(n)]
    if out[: len(code)] != code:
        raise AssemblyError(path, None, "internal: marker pass changed the bytes")
    symbols = dict(zip(names, words[: len(names)]))
    by_addr: dict[int, int] = {}
    for i, addr in zip(markers, words[len(names):]):
        by_addr[addr] = i + 1  # the last line at an address is the one that emits there
    addrs = sorted(by_addr)
    return Assembly(path, base, code, symbols, addrs, [by_addr[a] for a in addrs])


def _store(target: Path, asm: Assembly) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        doc = {"base": asm.base, "code": base64.b64encode(asm.code).decode(), "symbols": asm.symbols,
               "line_addrs": asm.line_addrs, "line_nums": asm.line_nums}
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".asm-")
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f)
        os.replace(tmp, target)
    except OSError:
        pass  # a read-only cache only costs speed


def _from_json(path: str, doc: dict) -> Assembly:
    return Assembly(path, doc["base"], base64.b64decode(doc["code"]), dict(doc["symbols"]),
                    list(doc["line_addrs"]), list(doc["line_nums"]))
