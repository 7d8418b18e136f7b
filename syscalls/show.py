"""How values look in a trace: strace-style bytes, stat64 and wait statuses.

Shared by the argument kinds (syscalls/kinds.py), which show what a call
read or wrote, and the trace printer (emu/trace_sys.py).
"""

from __future__ import annotations

from typing import Any

from syscalls.consts import SIGNALS

_IFMT = {
    0o140000: "S_IFSOCK",
    0o120000: "S_IFLNK",
    0o100000: "S_IFREG",
    0o060000: "S_IFBLK",
    0o040000: "S_IFDIR",
    0o020000: "S_IFCHR",
    0o010000: "S_IFIFO",
}
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape(data: bytes, total: int | None = None) -> str:
    """strace-style quoted bytes; ``...`` after the quote when ``total`` is longer than ``data``."""
    out = []
    for b in data:
        c = chr(b)
        if c in _ESCAPES:
            out.append(_ESCAPES[c])
        elif 32 <= b < 127:
            out.append(c)
        else:
            out.append(f"\\x{b:02x}")
    more = "..." if total is not None and total > len(data) else ""
    return '"' + "".join(out) + '"' + more


def describe_stat(st: dict[str, Any]) -> str:
    mode = st["st_mode"]
    kind = _IFMT.get(mode & 0o170000, f"{mode & 0o170000:#o}")
    return f"{{st_mode={kind}|{mode & 0o7777:04o}, st_size={st['st_size']}, st_ino={st['st_ino']}, ...}}"


def describe_wait(status: int) -> str:
    """A Darwin wait status word, as the W* macros read it."""
    sig = status & 0x7F
    if sig == 0:
        return f"exited {(status >> 8) & 0xFF}"
    if sig == 0x7F:
        return f"stopped {SIGNALS.get((status >> 8) & 0xFF, (status >> 8) & 0xFF)}"
    core = " (core dumped)" if status & 0x80 else ""
    return f"killed by {SIGNALS.get(sig, sig)}{core}"
