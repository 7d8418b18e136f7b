#!/usr/bin/env python3
"""Quick side-by-side numbers: start-up to first response, and requests/s.

    .venv/bin/python bench/quick.py [--seconds 5] [--clients 8]

Prints time from starting run_emulated.py to the first 200 response, cold
(empty assembler cache) and warm (cached), and requests/second for a 1 KiB
GET with N concurrent clients (one connection per request, as ymawky closes
after each response) for ymawky emulated and for python -m http.server
(ThreadingHTTPServer) in the same run, with their ratio.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port: int, path: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


def start(cmd: list[str], port: int, env: dict[str, str]) -> tuple[subprocess.Popen, float]:
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    while time.perf_counter() - t0 < 60 and proc.poll() is None:
        try:
            if get(port, "/1k.txt").split(b" ", 2)[1:2] == [b"200"]:
                return proc, time.perf_counter() - t0
        except OSError:
            time.sleep(0.01)
    proc.kill()
    raise RuntimeError(f"{' '.join(cmd)} did not answer 200 within 60 s")


def load(port: int, seconds: float, clients: int) -> tuple[float, int]:
    stop = time.perf_counter() + seconds
    counts = [0] * clients
    errors = [0]

    def worker(i: int) -> None:
        while time.perf_counter() < stop:
            try:
                if get(port, "/1k.txt").startswith(b"HTTP/1."):
                    counts[i] += 1
            except OSError:
                errors[0] += 1

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - t0), errors[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--clients", type=int, default=8)
    opts = ap.parse_args()
    site = Path(tempfile.mkdtemp(prefix="ymawky-bench-"))
    (site / "www").mkdir()
    (site / "www" / "1k.txt").write_bytes(b"x" * 1023 + b"\n")
    cache = Path(tempfile.mkdtemp(prefix="ymawky-cache-"))
    env = {**os.environ, "YMAWKY_CACHE_DIR": str(cache)}
    try:
        rows = []
        for label in ("cold", "warm"):
            port = free_port()
            proc, secs = start([sys.executable, str(ROOT / "run_emulated.py"), "--root", str(site),
                                "--port", str(port)], port, env)
            rows.append((f"start to first response ({label})", f"{secs:.3f} s"))
            if label == "warm":
                emu_rps, emu_err = load(port, opts.seconds, opts.clients)
            proc.send_signal(2)
            proc.wait(timeout=15)
        port = free_port()
        proc, _ = start([sys.executable, "-m", "http.server", "-b", "127.0.0.1", "-d", str(site / "www"),
                         str(port)], port, env)
        py_rps, py_err = load(port, opts.seconds, opts.clients)
        proc.terminate()
        proc.wait(timeout=15)
        rows.append((f"ymawky emulated, 1 KiB GET, {opts.clients} clients", f"{emu_rps:.0f} req/s ({emu_err} errors)"))
        rows.append((f"python http.server, same load", f"{py_rps:.0f} req/s ({py_err} errors)"))
        rows.append(("ratio ymawky / http.server", f"{emu_rps / py_rps:.2f}x"))
        width = max(len(r[0]) for r in rows)
        for name, value in rows:
            print(f"{name:<{width}}  {value}")
    finally:
        shutil.rmtree(site, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
