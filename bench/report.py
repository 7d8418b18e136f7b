"""The benchmark's rows and the one table they print as."""

from __future__ import annotations

from dataclasses import dataclass, field


# ============================================================ results
@dataclass
class Row:
    group: str  # the heading it is printed under
    name: str
    value: str = ""  # the absolute figure, formatted
    detail: str = ""  # latencies, errors, what was measured
    ratio: str = ""  # "1.23x http.server"
    target: str = ""  # the target for this row
    status: str = ""  # met / NOT MET / n/a / skipped
    metrics: dict = field(default_factory=dict)  # the numbers behind it, for the JSON


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "NOT MET")


def fmt_ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e3:.2f} ms"


def print_table(rows: list[Row], header: str) -> None:
    cols = [
        ("measure", lambda r: "  " + r.name),
        ("value", lambda r: r.value),
        ("detail", lambda r: r.detail),
        ("side by side", lambda r: r.ratio),
        ("target", lambda r: r.target),
        ("", lambda r: r.status),
    ]
    widths = [max([len(title)] + [len(get(r)) for r in rows]) for title, get in cols]
    line = "  ".join(f"{title:<{w}}" for (title, _), w in zip(cols, widths, strict=True)).rstrip()
    print(header)
    print(line)
    print("-" * len(line))
    group = None
    for r in rows:
        if r.group != group:
            group = r.group
            print(group)
        cells = [get(r) for _, get in cols]
        out = []
        for i, (cell, w) in enumerate(zip(cells, widths, strict=True)):
            out.append(f"{cell:>{w}}" if i == 1 else f"{cell:<{w}}")  # values right-aligned
        print("  ".join(out).rstrip())
