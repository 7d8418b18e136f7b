"""A run as pictures: a timeline for Perfetto and a profile for flame graphs.

Owns: the events of each guest process (``Track``: routine and syscall
spans, signal instants, the two ends of a fork's arrow, guest
instructions per stack), gathering every process's track of a run
(``Outputs``, one per command, shared by every process and every replayed
process) and writing them, when the process tree ends, as one Chrome
trace event JSON file (``--timeline``) and one profile (``--profile``:
collapsed stacks, as flamegraph.pl and inferno read them, or speedscope
JSON).  docs/timeline.md describes both outputs.

Rules:
1. A file is written whole, to a temporary name and then renamed, at the
   end of each process tree (and again after each replayed process), so
   Ctrl-C leaves the last complete file, never half of one.
2. A replay runs a parent's log again to reach each child: the same
   process can then be seen twice, once in part.  Per process, the track
   that ran the most guest instructions is kept (ties: the first).
3. Nothing here reads the host clock but ``Outputs.clock`` (live runs);
   a replay's tracks are functions of the recording alone, so two
   replays write the same bytes.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from emu.calls import CodeMap

PROFILE_FORMATS = ("collapsed", "speedscope")
# The host clock's step on a live timeline: 1/8 µs is exact as a binary fraction and as whole ns,
# so every reader's ts + dur (in double µs, or ns) is exact and spans that nest on our clock nest
# in the viewer too (a span ending with its parent does not end a rounding error after it).
TICK_NS = 125
SPEEDSCOPE_SCHEMA = "https://www.speedscope.app/file-format-schema.json"


class Track:
    """The events of one guest process: one track of the timeline, one profile."""

    def __init__(self, path: str, pid: int) -> None:
        self.path, self.pid = path, pid
        self.events: list[tuple[Any, ...]] = []  # (ph, name, cat, t0 ns, t1 ns, args, depth in the stack)
        self.flows: list[tuple[str, str, int]] = []  # ("s" | "f", child's path, t ns)
        self.profile: dict[tuple[str, ...], int] = {}  # stack -> guest instructions
        self.insns = 0  # guest instructions traced, set when the track ends
        self.forks = 0  # successful forks seen: the next child is path.N

    def span(self, name: str, cat: str, t0: int, t1: int, args: dict[str, Any], depth: int) -> None:
        """``depth``: how many spans hold it (0: outermost), which orders spans that start and end together."""
        self.events.append(("X", name, cat, t0, max(t0, t1), args, depth))

    def instant(self, name: str, cat: str, t: int, args: dict[str, Any]) -> None:
        self.events.append(("i", name, cat, t, t, args, 0))

    def fork_out(self, t: int, drawn: bool = True) -> None:
        """This process forked (parent side): the arrow to its next child starts at ``t``
        (every fork is counted, drawn or not: the N-th child is ``path.N``)."""
        self.forks += 1
        if drawn:
            self.flows.append(("s", f"{self.path}.{self.forks}", t))

    def fork_in(self, t: int) -> None:
        """This process is a child just forked: the arrow from its parent ends at ``t``."""
        self.flows.append(("f", self.path, t))


class Outputs:
    """Every track of one command's run, and the files they are written to."""

    def __init__(self, timeline: Path | None, profile: Path | None, profile_format: str = "collapsed") -> None:
        self.timeline, self.profile, self.profile_format = timeline, profile, profile_format
        self.origin = time.perf_counter_ns()
        self.tracks: list[Track] = []
        self.code: dict[tuple[str, int], CodeMap] = {}  # each program's calls and returns, found once
        self.lock = threading.Lock()

    def clock(self) -> int:
        """ns since the run started, in steps of ``TICK_NS`` (live runs only; rule 3)."""
        return (time.perf_counter_ns() - self.origin) // TICK_NS * TICK_NS

    def track(self, path: str, pid: int) -> Track:
        t = Track(path, pid)
        with self.lock:
            self.tracks.append(t)
        return t

    def chosen(self) -> list[Track]:
        """One track per process (rule 2), in fork-tree order."""
        with self.lock:
            tracks = list(self.tracks)
        best: dict[str, Track] = {}
        for t in tracks:
            if t.path not in best or t.insns > best[t.path].insns:
                best[t.path] = t
        return [best[p] for p in sorted(best, key=lambda p: [int(x) for x in p.split(".")])]

    def write(self) -> None:
        tracks = self.chosen()
        if self.timeline is not None:
            _write(self.timeline, chrome_trace(tracks))
        if self.profile is not None:
            if self.profile_format == "speedscope":
                _write(self.profile, speedscope(tracks, name=self.profile.name))
            else:
                _write(self.profile, collapsed(tracks))


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _us(ns: int) -> int | float:
    """Chrome trace timestamps are in µs; whole ones stay integers (a replay's always are)."""
    return ns // 1000 if ns % 1000 == 0 else round(ns / 1000, 3)


def chrome_trace(tracks: list[Track]) -> str:
    """The Chrome trace event JSON of ``tracks`` (what Perfetto UI and chrome://tracing open)."""
    events: list[dict[str, Any]] = []
    ends = {(ph, key) for t in tracks for ph, key, _ in list(t.flows)}
    arrows = sorted({key for ph, key in ends if ph == "s" and ("f", key) in ends}, key=_tree_key)
    flow_id = {key: i + 1 for i, key in enumerate(arrows)}
    for index, t in enumerate(tracks):
        ids = {"pid": t.pid, "tid": t.pid}
        for meta, args in (
            ("process_name", {"name": t.path}),
            ("process_sort_index", {"sort_index": index}),
            ("thread_name", {"name": t.path}),
        ):
            events.append({"ph": "M", "name": meta, **ids, "args": args})
        spans = list(t.events)  # a copy: after Ctrl-C a process that has not ended may still add some
        order = sorted(range(len(spans)), key=lambda i: (spans[i][3], spans[i][3] - spans[i][4], spans[i][6], i))
        for i in order:
            ph, name, cat, t0, t1, args, _depth = spans[i]
            ev: dict[str, Any] = {"ph": ph, "name": name, "cat": cat, **ids, "ts": _us(t0)}
            if ph == "X":
                ev["dur"] = _us(t1 - t0)
            else:
                ev["s"] = "t"  # an instant on its thread's track
            ev["args"] = args
            events.append(ev)
        for ph, key, at in list(t.flows):
            if key in flow_id:
                ev = {"ph": ph, "name": "fork", "cat": "fork", "id": flow_id[key], **ids, "ts": _us(at)}
                if ph == "f":
                    ev["bp"] = "e"  # bound to the slice that encloses it: the child's first span
                events.append(ev)
    doc = {"traceEvents": events, "displayTimeUnit": "ns", "otherData": {"generator": "ymawky-emu"}}
    return json.dumps(doc, separators=(",", ":")) + "\n"


def _tree_key(path: str) -> list[int]:
    return [int(x) for x in path.split(".")]


def _merged(tracks: list[Track]) -> dict[tuple[str, ...], int]:
    total: dict[tuple[str, ...], int] = defaultdict(int)
    for t in tracks:
        for stack, n in dict(t.profile).items():  # copied in one step (see chrome_trace)
            total[stack] += n
    return total


def collapsed(tracks: list[Track]) -> str:
    """One line per call stack, ``outer;inner;innermost COUNT`` (guest instructions), every process added up."""
    lines = [f"{';'.join(stack)} {n}" for stack, n in sorted(_merged(tracks).items()) if n]
    return "\n".join(lines) + ("\n" if lines else "")


def speedscope(tracks: list[Track], name: str = "ymawky") -> str:
    """speedscope's file format: a sampled profile per process, weighted by guest instructions
    (it opens on the process that ran the most)."""
    frames: dict[str, int] = {}
    profiles = []
    for t in tracks:
        samples, weights = [], []
        for stack, n in sorted(dict(t.profile).items()):
            if n:
                samples.append([frames.setdefault(f, len(frames)) for f in stack])
                weights.append(n)
        profiles.append(
            {
                "type": "sampled",
                "name": f"{t.path} (pid {t.pid})",
                "unit": "none",
                "startValue": 0,
                "endValue": sum(weights),
                "samples": samples,
                "weights": weights,
            }
        )
    doc = {
        "$schema": SPEEDSCOPE_SCHEMA,
        "name": name,
        "exporter": "ymawky-emu",
        "activeProfileIndex": max(range(len(profiles)), key=lambda i: profiles[i]["endValue"], default=0),
        "shared": {"frames": [{"name": f} for f in frames]},
        "profiles": profiles,
    }
    return json.dumps(doc, separators=(",", ":")) + "\n"
