"""Load generators: wrk when installed, else threads on raw sockets; and one bulk GET."""

from __future__ import annotations

import re
import socket
import subprocess
import threading
import time
from dataclasses import dataclass

import h11
from common import CONNECTIONS
from http1 import client, read_one


# ============================================================ load generators
@dataclass
class Load:
    rps: float
    p50: float | None  # seconds
    p99: float | None
    requests: int
    errors: int  # socket errors + non-2xx answers
    error_text: str = ""
    tool: str = ""


_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def _wrk_time(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    if not m:
        raise ValueError(f"wrk time {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(out: str) -> Load:
    def pct(p: str) -> float | None:
        m = re.search(rf"^\s+{p}%\s+(\S+)", out, re.M)
        return _wrk_time(m.group(1)) if m else None

    rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    if not rps:
        raise RuntimeError(f"no Requests/sec in wrk output:\n{out}")
    reqs = re.search(r"^\s+(\d+) requests in", out, re.M)
    errors, texts = 0, []
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock:
        for name, n in zip(("connect", "read", "write", "timeout"), map(int, sock.groups()), strict=True):
            if n:
                errors += n
                texts.append(f"{n} {name}")
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        errors += int(non2xx.group(1))
        texts.append(f"{non2xx.group(1)} non-2xx")
    return Load(
        float(rps.group(1)), pct("50"), pct("99"), int(reqs.group(1)) if reqs else 0, errors, ", ".join(texts), "wrk"
    )


def wrk_load(port: int, path: str, seconds: float, keepalive: bool) -> Load:
    cmd = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{max(1, round(seconds))}s", "--latency", "--timeout", "5s"]
    if not keepalive:
        cmd += ["-H", "Connection: close"]
    cmd.append(f"http://127.0.0.1:{port}{path}")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30)
    if proc.returncode:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr.strip()}")
    return parse_wrk(proc.stdout)


def py_load(port: int, path: str, seconds: float, keepalive: bool, conns: int = CONNECTIONS) -> Load:
    """The built-in load generator: ``conns`` threads, each one connection at a time, for ``seconds``."""
    req = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n" + ("" if keepalive else "Connection: close\r\n") + "\r\n"
    ).encode()
    lat: list[list[float]] = [[] for _ in range(conns)]
    errs = [0] * conns
    bad = [0] * conns
    start = threading.Barrier(conns + 1)
    deadline = [0.0]

    def worker(i: int) -> None:
        start.wait()
        sock: socket.socket | None = None
        buf = bytearray()
        while (t0 := time.perf_counter()) < deadline[0]:
            try:
                if sock is None:
                    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    buf = bytearray()
                sock.sendall(req)
                answer = read_one(sock, buf, version=None)  # python's http.server answers HTTP/1.0
                status, close = answer.status, answer.closes
                lat[i].append(time.perf_counter() - t0)
                if not 200 <= status < 400:
                    bad[i] += 1
                if close or not keepalive:
                    sock.close()
                    sock = None
            except (OSError, h11.ProtocolError):
                errs[i] += 1
                if sock is not None:
                    sock.close()
                sock = None
        if sock is not None:
            sock.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(conns)]
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    deadline[0] = t0 + seconds
    start.wait()
    for t in threads:
        t.join(seconds + 30)
    elapsed = time.perf_counter() - t0
    every = sorted(x for per in lat for x in per)
    n = len(every)
    pick = (lambda q: every[min(n - 1, int(q * n))]) if n else (lambda q: None)
    texts = [f"{sum(errs)} socket"] if sum(errs) else []
    if sum(bad):
        texts.append(f"{sum(bad)} non-2xx")
    return Load(n / elapsed, pick(0.50), pick(0.99), n, sum(errs) + sum(bad), ", ".join(texts), "python")


def bulk_get(port: int, path: str, size: int) -> float:
    """Seconds for one GET of ``size`` body bytes, read into one reused buffer and discarded."""
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        t0 = time.perf_counter()
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(65536)
            if not chunk:
                raise RuntimeError(f"closed before the end of the head: {head[:200]!r}")
            head += chunk
        head, _, rest = head.partition(b"\r\n\r\n")
        # h11 reads the head; the body is only counted, at full speed, into one buffer
        conn = client()
        conn.receive_data(head + b"\r\n\r\n")
        answer = conn.next_event()
        length = dict(answer.headers).get(b"content-length") if isinstance(answer, h11.Response) else None
        if not isinstance(answer, h11.Response) or answer.status_code != 200 or length != str(size).encode():
            raise RuntimeError(f"unexpected head for {path}: {head[:300]!r}")
        got = len(rest)
        while got < size:
            n = s.recv_into(view)
            if not n:
                raise RuntimeError(f"closed after {got} of {size} bytes")
            got += n
        return time.perf_counter() - t0
