"""Which source lines ran, as an lcov tracefile that genhtml renders.

Owns: counting executed blocks (one block hook, ~10 M instructions/s),
mapping them to source lines through the assembler's line map, and
merging each process's counts into one lcov file under a lock.  Every
emulated process (the server and each forked child, which runs the
request code) adds its own counts when it ends, so the file always holds
the sum over all processes that have finished, and several runs (a whole
test suite) add up in one file.  Delete the file to start over.

Only lines that hold instructions are reported (``DA:line,count``, 0 for
lines that never ran); directives, texts and literal pools are not.
Functions (``FN``/``FNDA``) are the program's non-local symbols.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import tempfile
from collections import defaultdict
from pathlib import Path

from emu.assembler import Assembly
from emu.trace_hooks import Hooks

_LABEL = re.compile(r"^\s*[A-Za-z_.$][\w.$]*:")


def code_lines(asm: Assembly) -> dict[int, list[int]]:
    """Source line -> addresses of its instructions (base-relative to ``asm.base``)."""
    try:
        source = Path(asm.path).read_text(errors="replace").splitlines()
    except OSError:
        source = None
    out: dict[int, list[int]] = defaultdict(list)
    addrs, nums = asm.line_addrs, asm.line_nums
    end_all = asm.base + len(asm.code)
    for i, (addr, line) in enumerate(zip(addrs, nums, strict=True)):
        end = addrs[i + 1] if i + 1 < len(addrs) else end_all
        if end <= addr or (source is not None and not _is_code(source, line)):
            continue
        out[line].extend(range(addr, end, 4))
    return dict(out)


def _is_code(source: list[str], line: int) -> bool:
    if not 0 < line <= len(source):
        return False
    text = source[line - 1].split("//", 1)[0]
    while True:
        m = _LABEL.match(text)
        if not m:
            break
        text = text[m.end() :]
    text = text.strip()
    return bool(text) and not text.startswith(".")


class Coverage:
    """Block counts of one process, written as lcov when it ends."""

    def __init__(self, path: Path, assembly: Assembly, slide: int = 0, test_name: str = "ymawky") -> None:
        self.path, self.asm, self.slide, self.test_name = Path(path), assembly, slide, test_name
        self.counts: dict[int, int] = {}
        self.hooks: Hooks | None = None

    def attach(self, hooks: Hooks) -> None:
        counts = self.counts

        def on_block(_h: int, addr: int, size: int, _u: int) -> None:
            key = addr << 16 | size
            counts[key] = counts.get(key, 0) + 1

        self._cb = on_block
        hooks.code(on_block, block=True)
        self.hooks = hooks

    def reset(self) -> None:
        """In a forked child: the parent reports what ran before the fork."""
        self.counts.clear()

    def line_counts(self) -> dict[int, int]:
        per_addr: dict[int, int] = defaultdict(int)
        for key, n in self.counts.items():
            addr, size = (key >> 16) - self.slide, key & 0xFFFF
            for a in range(addr, addr + size, 4):
                per_addr[a] += n
        return {
            line: max((per_addr.get(a, 0) for a in addrs), default=0) for line, addrs in code_lines(self.asm).items()
        }

    def functions(self, lines: dict[int, int]) -> dict[str, tuple[int, int]]:
        out = {}
        for name, addr in self.asm.symbols.items():
            if name.startswith(("L", "__")):
                continue
            line = self.asm.line_of(addr)
            if line in lines:
                out[name] = (line, lines[line])
        return out

    def write(self) -> None:
        """Add this process's counts to the lcov file (under a lock)."""
        lines = self.line_counts()
        record = Record(lines, self.functions(lines))
        source = os.fspath(Path(self.asm.path).resolve())
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(_lock_path(self.path), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                records = read_lcov(self.path.read_text()) if self.path.exists() else {}
            except (OSError, ValueError):
                records = {}
            records[source] = records[source].merged(record) if source in records else record
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
            tmp.write_text(format_lcov(records, self.test_name))
            os.replace(tmp, self.path)


def _lock_path(path: Path) -> Path:
    """The lock every writer of ``path`` takes: in the temporary folder, so that the user's
    folder gets the tracefile and nothing else (a lock file cannot be removed safely)."""
    key = hashlib.sha256(os.fsencode(path.resolve())).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"ymawky-coverage-{key}.lock"


class Record:
    """One source file's counts: line -> count, function -> (line, count)."""

    def __init__(self, lines: dict[int, int], functions: dict[str, tuple[int, int]]) -> None:
        self.lines, self.functions = lines, functions

    def merged(self, other: Record) -> Record:
        lines = dict(self.lines)
        for k, v in other.lines.items():
            lines[k] = lines.get(k, 0) + v
        funcs = dict(self.functions)
        for k, (ln, v) in other.functions.items():
            funcs[k] = (ln, funcs[k][1] + v) if k in funcs else (ln, v)
        return Record(lines, funcs)


def read_lcov(text: str) -> dict[str, Record]:
    """The records of an lcov tracefile (lines, functions; branches are not kept)."""
    out: dict[str, Record] = {}
    sf, lines, fn_line, fn_count = None, {}, {}, {}
    for raw in text.splitlines():
        key, _, val = raw.strip().partition(":")
        if key == "SF":
            sf, lines, fn_line, fn_count = val, {}, {}, {}
        elif key == "DA" and sf is not None:
            ln, cnt = val.split(",")[:2]
            lines[int(ln)] = lines.get(int(ln), 0) + int(cnt)
        elif key == "FN" and sf is not None:
            ln, name = val.split(",", 1)
            fn_line[name] = int(ln)
        elif key == "FNDA" and sf is not None:
            cnt, name = val.split(",", 1)
            fn_count[name] = fn_count.get(name, 0) + int(cnt)
        elif raw.strip() == "end_of_record" and sf is not None:
            rec = Record(lines, {n: (ln, fn_count.get(n, 0)) for n, ln in fn_line.items()})
            out[sf] = out[sf].merged(rec) if sf in out else rec
            sf = None
    return out


def format_lcov(records: dict[str, Record], test_name: str = "ymawky") -> str:
    out = []
    for sf, rec in records.items():
        out += [f"TN:{test_name}", f"SF:{sf}"]
        funcs = sorted(rec.functions.items(), key=lambda kv: kv[1][0])
        out += [f"FN:{ln},{name}" for name, (ln, _) in funcs]
        out += [f"FNDA:{cnt},{name}" for name, (_, cnt) in funcs]
        out += [f"FNF:{len(funcs)}", f"FNH:{sum(1 for _, (_, c) in funcs if c)}"]
        out += [f"DA:{ln},{cnt}" for ln, cnt in sorted(rec.lines.items())]
        out += [f"LF:{len(rec.lines)}", f"LH:{sum(1 for c in rec.lines.values() if c)}", "end_of_record"]
    return "\n".join(out) + "\n"
