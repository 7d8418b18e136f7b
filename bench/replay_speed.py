#!/usr/bin/env python3
"""Record and replay, measured: the whole tests/replays set, and record-mode overhead.

    .venv/bin/python bench/replay_speed.py [--seconds 5] [--clients 8] [--rounds 2]

1. Replays every recording in tests/replays in this process (as the test
   suite does) and prints the wall time, after one warm-up pass; the
   executable is built first and not counted.
2. Serves a 1 KiB file live and with ``--record`` (into a temporary
   folder), alternating, ``--rounds`` times each, N concurrent clients,
   one connection per request, and prints requests/second side by side.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import ROOT  # (common puts the project and tests/ on the path)
from servers import free_port, http_get


def ok(port: int) -> bool:
    return http_get(port, "/1k.txt").status == 200


def serve(site: Path, extra: list[str]) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "run_emulated.py"), "--root", str(site), "--port", str(port), *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if ok(port):
                return proc, port
        except OSError:
            time.sleep(0.02)
    proc.kill()
    raise RuntimeError("server did not answer")


def load(port: int, seconds: float, clients: int) -> float:
    stop = time.perf_counter() + seconds
    counts = [0] * clients

    def worker(i: int) -> None:
        while time.perf_counter() < stop:
            try:
                if ok(port):
                    counts[i] += 1
            except OSError:
                pass

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - t0)


def replay_set() -> tuple[float, int, int, int]:
    from emu.replay import run_replay
    from emu.run import build_ymawky

    exe, asm = build_ymawky(ROOT / "ymawky.s")
    folders = sorted(p for p in (ROOT / "tests" / "replays").iterdir() if (p / "manifest.json").exists())
    for f in folders:  # warm-up: imports, LIEF, Capstone tables
        run_replay(f, exe, asm, out=io.StringIO())
    t0 = time.perf_counter()
    procs = calls = 0
    for f in folders:
        done = run_replay(f, exe, asm, out=io.StringIO())
        assert done.ok, f
        procs += len(done.results)
        calls += sum(r.calls for r in done.results)
    return time.perf_counter() - t0, len(folders), procs, calls


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2)
    opts = ap.parse_args()

    secs, n, procs, calls = replay_set()
    print(
        f"replay of tests/replays: {n} recordings, {procs} processes, {calls} syscalls in {secs:.2f} s "
        f"({secs / n * 1000:.0f} ms per recording)"
    )

    site = Path(tempfile.mkdtemp(prefix="ymawky-bench-"))
    rec = Path(tempfile.mkdtemp(prefix="ymawky-rec-"))
    (site / "www").mkdir()
    (site / "www" / "1k.txt").write_bytes(b"x" * 1023 + b"\n")
    results: dict[str, list[float]] = {"live": [], "record": []}
    try:
        for _ in range(opts.rounds):
            for mode in ("live", "record"):
                extra = ["--record", str(rec / "r")] if mode == "record" else []
                proc, port = serve(site, extra)
                results[mode].append(load(port, opts.seconds, opts.clients))
                proc.send_signal(signal.SIGINT)
                proc.wait(timeout=30)
        size = sum(f.stat().st_size for f in (rec / "r").iterdir()) if (rec / "r").exists() else 0
        files = len(list((rec / "r").iterdir())) if (rec / "r").exists() else 0
    finally:
        shutil.rmtree(site, ignore_errors=True)
        shutil.rmtree(rec, ignore_errors=True)
    live, recd = (sum(v) / len(v) for v in (results["live"], results["record"]))
    print(f"1 KiB GET, {opts.clients} clients, {opts.seconds:g} s x {opts.rounds} rounds each, alternating:")
    print(f"  live    {live:7.1f} req/s   (rounds: {', '.join(f'{v:.1f}' for v in results['live'])})")
    print(f"  record  {recd:7.1f} req/s   (rounds: {', '.join(f'{v:.1f}' for v in results['record'])})")
    print(
        f"  record / live = {recd / live:.3f} ({(1 - recd / live) * 100:+.1f}% slower); last recording "
        f"{files // 2 - 0} logs, {size / 1024:.0f} KiB"
    )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
