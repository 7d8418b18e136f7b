"""Assemble an AArch64 source file with Keystone.

Owns: the Keystone call (run in a worker process, emu/ks_worker.py, because
Keystone 0.9.2 segfaults, aborts or loops forever on some input), the label -> address
table, the address -> source line map, ``file:line: message`` errors, and
a cache keyed by the source hash.  Knows nothing about Mach-O.

Keystone gives back bytes and nothing else, so the symbol table and the
line map come from a second assembly of the same source in which every
line that may emit bytes carries a marker label and a table of ``.quad``
entries (one per label and marker) is appended after a final ``.ltorg``.
Lines inside ``.if`` blocks are marked too; their table entries are
guarded by ``.ifdef`` so a branch Keystone skipped reads as missing.

Errors are located by bisecting on line prefixes (blocks still open at the
cut are closed, labels defined later are stubbed at the end).  A bad line
inside a macro body is reported at the line that invokes the macro; the
message names the macro and the body line.  A bad line inside a ``.rept``
or ``.if`` block is reported at that line itself.

Before Keystone sees the source a lint refuses the forms Keystone gets
silently wrong, crashes on or hangs on (keystone-aarch64.md).  Inside an
``.ifdef APPLE`` branch (or the ``.else`` of ``.ifndef APPLE``) clang-only
forms are allowed, since Keystone skips that branch.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Where __text starts: one 16 KiB page above the Mach-O header.
DEFAULT_BASE = 0x1_0000_4000
# adr, ldr-literal, cbz and b.cond reach +-1 MiB; Keystone checks only
# +-2 MiB and silently mis-encodes in between.  Refusing images larger
# than 1 MiB makes every in-image reference safe.
MAX_IMAGE = 1 << 20
CACHE_VERSION = "2"
# Seconds one Keystone run may take: it loops forever on some input
# (``.p2align 40``, a negative ``.zero`` size, ...).
KS_TIMEOUT = 30.0

MARKER = "__ymL"
_MACRO_PROBE = "__ymM"
_TABLE_MAGIC = 0x796D_614C_4D59_5F5F  # b"__YMLamy": where the table starts
_MISSING = (1 << 64) - 1  # what a guarded entry reads when its symbol is not defined

_LABEL_RE = re.compile(r"\s*([A-Za-z_.$][\w.$]*)\s*:(?!:)")
_STRING_RE = re.compile(r'"(?:\\.|[^"\\])*"')
_CHAR_RE = re.compile(r"'(?:\\.|[^\\'])'")
_DIRECTIVE_RE = re.compile(r"\.(\w+)")
_ASSIGN_RE = re.compile(r"[A-Za-z_.$][\w.$]*\s*=(?!=)")

_REPEAT_OPEN = {"macro": ".endm", "rept": ".endr", "irp": ".endr", "irpc": ".endr"}
_COND_OPEN = {
    "if",
    "ifdef",
    "ifndef",
    "ifc",
    "ifnc",
    "ifeq",
    "ifne",
    "ifeqs",
    "ifnes",
    "ifb",
    "ifnb",
    "ifgt",
    "ifge",
    "iflt",
    "ifle",
}
_CLOSE = {"endm", "endmacro", "endr", "endif"}
_SYMBOL_ONLY = {"globl", "global", "private_extern"}  # stripped: with them Keystone zeroes .quad sym
# directives that never emit bytes (no marker needed)
_NO_BYTES = (
    _COND_OPEN
    | _CLOSE
    | _SYMBOL_ONLY
    | {"equ", "set", "equiv", "eqv", "else", "elseif", "macro", "purgem", "exitm", "extern", "type", "weak_definition"}
)

# Directives and forms Keystone accepts but gets wrong, crashes or hangs on
# (keystone-aarch64.md).  Anchored patterns apply to the statement after
# any labels; all apply outside strings and comments.
_FORBIDDEN: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"^\.(text|data|bss|section|pushsection|popsection|previous|subsection)\b", re.I),
        "section directives break Keystone (.text crashes it, .section loses bytes): keep one section",
    ),
    (re.compile(r"\.req\b", re.I), ".req makes Keystone emit nothing at all"),
    (re.compile(r"^\.inst\b", re.I), ".inst is silently dropped by Keystone: use .word"),
    (re.compile(r"^\.(file|loc)\b", re.I), ".file/.loc make Keystone emit nothing at all"),
    (
        re.compile(r"^\.(comm|lcomm|zerofill)\b", re.I),
        ".comm/.lcomm/.zerofill reserve nothing under Keystone: use .zero",
    ),
    (
        re.compile(r"^\.(include|incbin)\b", re.I),
        ".include/.incbin are not supported (Keystone reads paths from the process's cwd and ignores a missing"
        " file): keep one file",
    ),
    (re.compile(r"^\.(err|error)\b", re.I), ".err/.error are ignored by Keystone"),
    (re.compile(r"^\.end\b", re.I), ".end makes Keystone ignore the rest of the source"),
    (re.compile(r"\badrp\b", re.I), "adrp encodes an absolute page under Keystone: use adr"),
    (re.compile(r":lo12:|@PAGE", re.I), ":lo12:/@PAGE need a linker (Keystone aborts or mis-encodes): use adr"),
    (re.compile(r"\\@"), "\\@ hangs Keystone: build unique labels from a macro argument"),
    (re.compile(r"^\.zero\s+-", re.I), "a negative .zero size hangs Keystone"),
]
_NUMERIC_LABEL = re.compile(r"^\s*\d+\s*:")

_KS_MESSAGES = {
    "KS_ERR_ASM_MNEMONICFAIL": "unknown instruction",
    "KS_ERR_ASM_SYMBOL_MISSING": "undefined symbol",
    "KS_ERR_ASM_INVALIDOPERAND": "invalid operand",
    "KS_ERR_ASM_MISSINGFEATURE": "instruction not supported",
    "KS_ERR_ASM_DIRECTIVE_UNKNOWN": "unknown directive",
    "KS_ERR_ASM_DIRECTIVE_INVALID": "invalid directive or directive operand",
    "KS_ERR_ASM_DIRECTIVE_TOKEN": "unexpected token in directive",
    "KS_ERR_ASM_DIRECTIVE_VALUE_RANGE": "value out of range for the directive",
    "KS_ERR_ASM_SYMBOL_REDEFINED": "symbol defined twice",
    "KS_ERR_ASM_FIXUP_INVALID": "target out of range",
    "KS_ERR_ASM_FRAGMENT_INVALID": "invalid fragment (an .org that goes backwards?)",
    "Unknown error": "invalid operand or immediate out of range (Keystone says only 'Unknown error')",
    "fixup value out of range": "pc-relative target out of range: adr, ldr literal, cbz and b.cond reach"
    " +-1 MiB, and this line puts a target out of reach (Keystone aborted)",
    "invalid imm12 fixup value": "12-bit offset out of range (Keystone aborted)",
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
    text: str = field(default="", repr=False, compare=False)  # the source, for debug info (emu/dwarf.py)

    def line_of(self, addr: int) -> int | None:
        """The source line whose bytes hold ``addr`` (None outside the image)."""
        if not self.base <= addr < self.base + len(self.code):
            return None
        i = bisect.bisect_right(self.line_addrs, addr) - 1
        return self.line_nums[i] if i >= 0 else None


# ---------------------------------------------------------------- source scan


def _lex(raw: list[str]) -> tuple[list[str], list[bool], dict[int, int], dict[int, str], int | None]:
    """Each line without comments, strings as ``""`` and character literals as ``0``.

    Also: whether each line (and the end) starts inside a ``/* */`` comment,
    where code resumes on a line that starts inside one, per-line lexical
    errors, and the line of a ``/*`` never closed.
    """
    bares: list[str] = []
    in_comment: list[bool] = []
    resume: dict[int, int] = {}
    errors: dict[int, str] = {}
    opened: int | None = None  # line of the /* still open
    for n, line in enumerate(raw):
        in_comment.append(opened is not None)
        if opened is None and line.lstrip().startswith("#"):
            bares.append("")
            continue
        out: list[str] = []
        i = 0
        while i < len(line):
            if opened is not None:
                end = line.find("*/", i)
                if end < 0:
                    break
                opened, i = None, end + 2
                resume.setdefault(n, i)
                out.append(" ")
                continue
            c = line[i]
            if c == '"':
                m = _STRING_RE.match(line, i)
                if m is None:
                    errors.setdefault(n, "unterminated string (Keystone hangs on it)")
                    break
                out.append('""')
                i = m.end()
                continue
            if c == "'" and (m := _CHAR_RE.match(line, i)) is not None:
                out.append("0")
                i = m.end()
                continue
            if line.startswith("//", i):
                break
            if line.startswith("/*", i):
                opened, i = n, i + 2
                continue
            out.append(c)
            i += 1
        bares.append("".join(out))
    in_comment.append(opened is not None)
    return bares, in_comment, resume, errors, opened


@dataclass
class _Block:
    closer: str
    kind: str  # "macro", "rept" or "cond"
    line: int  # where it opens
    apple: bool = False  # the current branch is clang-only (.ifdef APPLE)
    apple_if: str = ""  # "ifdef"/"ifndef" for a conditional on APPLE
    macro: str = ""  # name of a macro definition worth recording


@dataclass
class _Scan:
    lines: list[str]  # source lines as handed to Keystone
    stmts: list[str]  # each line's statement: no comment, no labels, strings as ""
    closers: list[tuple[str, ...]]  # what closes the blocks open before line i, innermost first
    in_comment: list[bool]  # line i starts inside a /* */ comment
    marks: list[int]  # lines that get a marker label in the symbol pass
    mark_at: dict[int, int]  # where the marker goes when not at the start (after a */)
    guarded: set[int]  # marks inside .if blocks: Keystone may skip them
    labels: dict[str, tuple[int, bool]]  # label -> (first line index, defined inside an .if block)
    macros: dict[str, list[tuple[int, int]]]  # macro name -> (.macro line, .endm line) of each definition


def _scan(path: str, text: str) -> _Scan:
    """Every line checked and classified before Keystone sees any (see the module's rules)."""
    raw = text.split("\n")
    bares, in_comment, resume, lex_errors, unclosed = _lex(raw)
    s = _Scan([], [], [], in_comment, [], {}, set(), {}, {})
    stack: list[_Block] = []
    for i, line in enumerate(raw):
        s.closers.append(tuple(b.closer for b in reversed(stack)))
        if "\0" in line:
            raise AssemblyError(path, i + 1, "NUL character: Keystone ignores the rest of the source", line)
        if i in lex_errors:
            raise AssemblyError(path, i + 1, lex_errors[i], line)
        names, stmt = _split_labels(bares[i])
        s.stmts.append(stmt)
        d = _DIRECTIVE_RE.match(stmt)
        directive = d.group(1).lower() if d else ""
        arg = stmt[d.end() :].strip() if d else ""
        if not any(b.apple for b in stack):
            _lint(path, i, line, bares[i], stmt)
        if directive in _SYMBOL_ONLY:
            line = " ".join(f"{name}:" for name in names)
        # may Keystone assemble this line as written, at top level or in a taken .if branch?
        live = all(b.kind == "cond" and not b.apple for b in stack)
        if live:
            _note_labels(s, path, i, line, names, bool(stack))
            if stmt and directive not in _NO_BYTES and not _ASSIGN_RE.match(stmt):  # it emits bytes
                s.marks.append(i)
                if in_comment[i]:
                    s.mark_at[i] = resume[i]
                if stack:
                    s.guarded.add(i)
        _track_block(s, stack, i, directive, arg, live)
        s.lines.append(line)
    s.closers.append(tuple(b.closer for b in reversed(stack)))
    if unclosed is not None:
        raise AssemblyError(path, unclosed + 1, "/* comment never closed (Keystone hangs on it)", raw[unclosed])
    if stack:
        b = stack[-1]
        raise AssemblyError(path, b.line + 1, f"block never closed: {b.closer} missing", raw[b.line])
    return s


def _split_labels(bare: str) -> tuple[list[str], str]:
    """The labels that start a line (``a: b: insn``) and the statement after them."""
    names: list[str] = []
    while (m := _LABEL_RE.match(bare)) is not None:
        names.append(m.group(1))
        bare = bare[m.end() :]
    return names, bare.strip()


def _lint(path: str, i: int, line: str, bare: str, stmt: str) -> None:
    """Refuse what Keystone gets wrong (hangs, truncates, or reads unlike clang) on line ``i``."""
    if _NUMERIC_LABEL.match(stmt):
        raise AssemblyError(path, i + 1, "numeric labels are rejected by Keystone: use a named label", line)
    for pattern, why in _FORBIDDEN:
        if pattern.search(stmt):
            raise AssemblyError(path, i + 1, why, line)
    if ";" in bare:
        raise AssemblyError(
            path, i + 1, "';' separates statements under Keystone but starts a comment under clang: use //", line
        )


def _note_labels(s: _Scan, path: str, i: int, line: str, names: list[str], in_block: bool) -> None:
    """Labels Keystone defines on line ``i``; a second definition at top level is an error."""
    for name in names:
        first = s.labels.get(name)
        if first is not None and not in_block and not first[1]:
            raise AssemblyError(path, i + 1, f"label {name!r} already defined on line {first[0] + 1}", line)
        if first is None:
            s.labels[name] = (i, in_block)


def _track_block(s: _Scan, stack: list[_Block], i: int, directive: str, arg: str, live: bool) -> None:
    """Open or close a .macro/.rept/.if block on line ``i`` (and flip sides of an APPLE test)."""
    if directive in _REPEAT_OPEN:
        block = _Block(_REPEAT_OPEN[directive], "macro" if directive == "macro" else "rept", i)
        if directive == "macro" and live and arg:
            block.macro = re.split(r"[\s,]", arg, maxsplit=1)[0]
        stack.append(block)
    elif directive in _COND_OPEN:
        on_apple = directive if directive in ("ifdef", "ifndef") and arg == "APPLE" else ""
        stack.append(_Block(".endif", "cond", i, apple=on_apple == "ifdef", apple_if=on_apple))
    elif directive in ("else", "elseif") and stack and stack[-1].kind == "cond":
        if stack[-1].apple_if:  # the other branch of an APPLE test: Keystone's side flips
            stack[-1].apple = stack[-1].apple_if == "ifndef"
    elif directive in _CLOSE and stack:
        block = stack.pop()
        if block.macro:
            s.macros.setdefault(block.macro, []).append((block.line, i))


# ---------------------------------------------------------------- keystone, isolated


class _KsFailure(Exception):
    def __init__(self, message: str, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


class _Worker:
    """The Keystone worker process (emu/ks_worker.py), started on first use and kept.

    One request at a time (a lock: the emulator has several threads).  A
    worker that crashes is gone with its request; one that overruns the time
    limit is killed and reaped; either way the next request starts a new one.
    """

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.lock = threading.Lock()

    def _start(self) -> subprocess.Popen[bytes]:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "emu.ks_worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=Path(__file__).resolve().parent.parent,
            )
        return self.proc

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
        if proc is not None:
            proc.wait()
            for f in (proc.stdin, proc.stdout, proc.stderr):
                if f is not None:
                    f.close()

    def asm(self, source: bytes, base: int, limit: float) -> bytes:
        from emu.ks_worker import ANSWER, REQUEST

        with self.lock:
            proc = self._start()
            answer: list[bytes | BaseException] = []

            def exchange() -> None:
                try:
                    assert proc.stdin is not None and proc.stdout is not None
                    proc.stdin.write(REQUEST.pack(base, len(source)) + source)
                    proc.stdin.flush()
                    head = proc.stdout.read(ANSWER.size)
                    if len(head) < ANSWER.size:
                        raise EOFError
                    tag, n = ANSWER.unpack(head)
                    answer.append(tag + proc.stdout.read(n))
                except (OSError, EOFError, ValueError) as e:
                    answer.append(e)

            t = threading.Thread(target=exchange, name="keystone", daemon=True)
            t.start()
            t.join(limit)
            if t.is_alive():  # Keystone loops: end it (the reader sees EOF)
                self.stop()
                t.join()
                raise _KsFailure(
                    f"Keystone did not finish within {limit:g} s (it loops forever on some input)", timed_out=True
                )
            got = answer[0]
            if isinstance(got, BaseException):
                proc.wait()
                err = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
                self.stop()
                code = proc.returncode
                why = (
                    f"Keystone crashed ({signal.Signals(-code).name})"
                    if code < 0
                    else err.splitlines()[-1]
                    if err
                    else f"Keystone exited with status {code} and no message"
                )
                raise _KsFailure(why)
        if got[:1] == b"E":
            raise _KsFailure(got[1:].decode(errors="replace"))
        return got[1:]


_WORKER = _Worker()


def _ks_asm(source: bytes, base: int, timeout: float | None = None) -> bytes:
    """Keystone in its worker process; a crash or hang there becomes _KsFailure."""
    return _WORKER.asm(source, base, KS_TIMEOUT if timeout is None else timeout)


def _friendly(msg: str) -> str:
    for key, text in _KS_MESSAGES.items():
        if key in msg:
            return text
    return msg.replace("LLVM ERROR: ", "")


def _source(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def _probe(lines: list[str], base: int, timeout: float) -> str | None:
    """Keystone's error for ``lines``, or None when they assemble."""
    try:
        _ks_asm(_source(lines), base, timeout)
    except _KsFailure as e:
        return str(e)
    return None


def _first_failing(lo: int, hi: int, fails: Callable[[int], str | None]) -> tuple[int, str]:
    """The smallest k in [lo, hi] with fails(k) not None; fails(hi) is known to fail."""
    found: dict[int, str] = {}
    while lo < hi:
        mid = (lo + hi) // 2
        msg = fails(mid)
        if msg is None:
            lo = mid + 1
        else:
            hi, found[mid] = mid, msg
    return lo, found.get(lo, "")


def _stubs(scan: _Scan, k: int) -> list[str]:
    return [f"{name}:" for name, (at, _) in scan.labels.items() if at >= k]


def _prefix(scan: _Scan, k: int) -> list[str]:
    """Lines [:k], closed so Keystone can take them, with later labels stubbed."""
    return scan.lines[:k] + (["*/"] if scan.in_comment[k] else []) + list(scan.closers[k]) + _stubs(scan, k)


def _locate(path: str, scan: _Scan, base: int, msg: str, timeout: float) -> AssemblyError:
    """Bisect on line prefixes to find the first line that fails."""
    k, found = _first_failing(0, len(scan.lines), lambda k: _probe(_prefix(scan, k), base, timeout))
    if k == 0:
        return AssemblyError(path, None, _friendly(msg))
    line = k - 1
    while line > 0 and not scan.stmts[line]:  # a failure that shows only at the end: the last statement
        line -= 1
    text = _friendly(found or msg)
    inside = _in_macro(scan, line, base, timeout)
    if inside is not None:
        text += f" (in macro {inside})"
    return AssemblyError(path, line + 1, text, scan.lines[line])


def _in_macro(scan: _Scan, line: int, base: int, timeout: float) -> str | None:
    """For a failing macro invocation: ``NAME, line N: body text`` of the body line at fault."""
    word = scan.stmts[line].split(None, 1)[0] if scan.stmts[line] else ""
    defs = [d for d in scan.macros.get(word, []) if d[1] < line]
    if not defs or scan.in_comment[line]:
        return None
    start, end = defs[-1]
    name = re.compile(rf"(?<![\w.$]){re.escape(word)}(?![\w.$])")
    header = name.sub(_MACRO_PROBE, scan.lines[start], count=1)  # the same macro under another name
    invoke = name.sub(_MACRO_PROBE, scan.lines[line], count=1)
    after = [*scan.closers[line + 1], *_stubs(scan, line + 1)]
    outer = len(scan.closers[start + 1])

    def body(j: int) -> str | None:  # the macro cut before body line j
        inner = list(scan.closers[j][: len(scan.closers[j]) - outer])
        src = [
            *scan.lines[:line],
            header,
            *scan.lines[start + 1 : j],
            *(["*/"] if scan.in_comment[j] else []),
            *inner,
            ".endm",
            invoke,
            *after,
        ]
        return _probe(src, base, timeout)

    if body(end) is None or body(start + 1) is not None:
        return None
    j, _ = _first_failing(start + 1, end, body)
    return f"{word}, line {j}: {scan.lines[j - 1].strip()}"


def _symbol_pass(path: str, scan: _Scan, base: int, code: bytes) -> tuple[dict[str, int], list[int], list[int]]:
    """Labels and the line map, from the source with markers and a .quad table."""
    marked = list(scan.lines)
    for i in scan.marks:
        at = scan.mark_at.get(i, 0)
        marked[i] = f"{marked[i][:at]} {MARKER}{i}: {marked[i][at:]}"
    names = list(scan.labels)
    entries = [(name, scan.labels[name][1]) for name in names]
    entries += [(f"{MARKER}{i}", i in scan.guarded) for i in scan.marks]
    table = [".ltorg", ".p2align 3", f".quad {_TABLE_MAGIC:#x}"]
    for sym, guarded in entries:
        table += [f".ifdef {sym}", f".quad {sym}", ".else", ".quad -1", ".endif"] if guarded else [f".quad {sym}"]
    try:
        out = _ks_asm(_source(marked + table), base)
    except _KsFailure as e:
        raise AssemblyError(path, None, f"internal: symbol pass failed: {_friendly(str(e))}") from None
    n = len(entries)
    at = len(out) - 8 * (n + 1)
    if at < len(code) or out[: len(code)] != code:
        raise AssemblyError(path, None, "internal: marker pass changed the bytes")
    if int.from_bytes(out[at : at + 8], "little") != _TABLE_MAGIC:
        raise AssemblyError(path, None, "internal: symbol table not found after the code")
    words = [int.from_bytes(out[at + 8 * (j + 1) : at + 8 * (j + 2)], "little") for j in range(n)]
    symbols = {name: addr for name, addr in zip(names, words[: len(names)], strict=True) if addr != _MISSING}
    by_addr: dict[int, int] = {}
    for i, addr in zip(scan.marks, words[len(names) :], strict=True):
        if addr != _MISSING:
            by_addr[addr] = i + 1  # the last line at an address is the one that emits there
    addrs = sorted(by_addr)
    return symbols, addrs, [by_addr[a] for a in addrs]


# ---------------------------------------------------------------- public entry


def cache_dir() -> Path:
    root = os.environ.get("YMAWKY_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "ymawky-emu"
    )
    return Path(root)


def _code_version() -> str:
    """This module's own hash: a change to it invalidates the cache."""
    try:
        return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
    except OSError:
        return ""


_CODE_VERSION = _code_version()


def assemble_text(text: str, path: str = "<source>", base: int = DEFAULT_BASE, cache: bool = True) -> Assembly:
    """Assemble ``text`` placed at ``base``; raise AssemblyError on a bad line."""
    key = hashlib.sha256(
        f"{CACHE_VERSION}:{_CODE_VERSION}:{base:x}:".encode() + text.encode(errors="surrogatepass")
    ).hexdigest()
    cached = cache_dir() / f"asm-{key}.json"
    if cache:
        hit = _load(cached, path, base, text)
        if hit is not None:
            return hit
    asm = _assemble(text, path, base)
    if cache:
        _store(cached, asm)
    return asm


def assemble_file(path: str | os.PathLike[str], base: int = DEFAULT_BASE, cache: bool = True) -> Assembly:
    p = Path(path)
    data = p.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise AssemblyError(p.name, line, "not UTF-8 text") from None
    return assemble_text(text.replace("\r\n", "\n").replace("\r", "\n"), p.name, base, cache)


def _assemble(text: str, path: str, base: int) -> Assembly:
    scan = _scan(path, text)
    started = time.monotonic()
    try:
        code = _ks_asm(_source(scan.lines), base)
    except _KsFailure as e:
        # a prefix takes no longer than the whole; a hang shows as a timeout
        took = time.monotonic() - started
        probe = min(KS_TIMEOUT, 2.0 if e.timed_out else max(2.0, 4 * took))
        raise _locate(path, scan, base, str(e), probe) from None
    symbols, addrs, nums = _symbol_pass(path, scan, base, code)
    asm = Assembly(path, base, code, symbols, addrs, nums, text)
    if len(code) > MAX_IMAGE:
        line = asm.line_of(base + MAX_IMAGE)
        raise AssemblyError(
            path,
            line,
            f"image is {len(code)} bytes, more than {MAX_IMAGE} (1 MiB): Keystone"
            " silently mis-encodes adr/ldr/cbz/b.cond across more than 1 MiB; the image"
            " passes the limit on this line",
            scan.lines[line - 1] if line else "",
        )
    return asm


def _store(target: Path, asm: Assembly) -> None:
    tmp = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "base": asm.base,
            "code": base64.b64encode(asm.code).decode(),
            "sha256": hashlib.sha256(asm.code).hexdigest(),
            "symbols": asm.symbols,
            "line_addrs": asm.line_addrs,
            "line_nums": asm.line_nums,
        }
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".asm-")
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f)
        os.replace(tmp, target)
        tmp = None
    except OSError:
        pass  # a read-only cache only costs speed
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _load(cached: Path, path: str, base: int, text: str) -> Assembly | None:
    """The cached Assembly, or None when it is missing, unreadable or damaged."""
    try:
        return _from_json(path, json.loads(cached.read_text()), base, text)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _from_json(path: str, doc: dict[str, Any], base: int, text: str) -> Assembly:
    if doc["base"] != base:
        raise ValueError("cached for another base")
    code = base64.b64decode(doc["code"], validate=True)
    if hashlib.sha256(code).hexdigest() != doc["sha256"]:
        raise ValueError("cached code damaged")
    symbols = {str(name): int(addr) for name, addr in doc["symbols"].items()}
    addrs = [int(a) for a in doc["line_addrs"]]
    nums = [int(n) for n in doc["line_nums"]]
    if len(addrs) != len(nums) or addrs != sorted(addrs):
        raise ValueError("cached line map damaged")
    return Assembly(path, base, code, symbols, addrs, nums, text)
