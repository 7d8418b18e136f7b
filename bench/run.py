#!/usr/bin/env python3
"""The issue-7 benchmark: ymawky emulated side by side with python -m http.server.

    ./bench/run.sh [--quick]                 from a fresh clone (sets up .venv first)
    .venv/bin/python bench/run.py [--quick]  the same, once .venv exists

One invocation, 127.0.0.1 only, bounded in time (about 65 s by default, under
30 s with --quick, measured on 2 cores).  It prints one aligned table of absolute
figures and of ratios measured side by side in the same run (these 2-core
machines are noisy: absolute numbers swing, ratios taken together hold), with
the issue's target for each row and whether it is met, and writes everything
(every round, the host, the git commit) to bench/results/<UTC time>.json.

Rows:
  * 1 KiB GET, 16 concurrent keep-alive connections, and again with
    "Connection: close": requests/s and p50/p99 latency for ymawky emulated,
    python -m http.server (ThreadingHTTPServer, --protocol HTTP/1.1 so that it
    keeps connections alive), and nginx / busybox httpd when installed.  With
    wrk installed: wrk -t2 -c16 -d<S>s --latency; else a built-in Python load
    generator (threads, raw sockets).  All servers run at once (idle ones cost
    nothing) and the rounds alternate between them; the best round counts.
  * MB/s for one 100 MiB GET (a sparse file), read and discarded by the client.
  * guest instructions/s on a fixed compute loop: bare Unicorn (the same code
    mapped and run directly), our Machine without tracing, with --strace and
    with full tracing (--trace, and --trace --trace-mem --strace).
  * syscalls/s: a guest getpid loop through the syscall layer, next to bare
    Unicorn with a trivial UC_HOOK_INTR Python hook running the same loop.
  * fork cost: guest fork + exit + wait4 cycles, in a fresh process.
  * start to first response, cold (empty assembler cache) and warm.

Options: --quick, --duration S (per load run), --rounds N, --no-wrk (use the
Python load generator even when wrk exists), --json FILE, --skip GROUP.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, os.fspath(ROOT))

KIB_FILE = "1k.txt"
BIG_FILE = "big.bin"
BIG_SIZE = 100 << 20
CONNECTIONS = 16
GIB = 1 << 30

GROUPS = ("start", "http", "bulk", "compute", "syscall", "fork")
PY10 = "python http.server 1.0"


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


# ============================================================ servers
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port: int, path: str, timeout: float = 10.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


class Running:
    """A server process of ours: started in its own session, stopped by SIGTERM then SIGKILL."""

    def __init__(
        self,
        name: str,
        cmd: list[str],
        port: int,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        limit: float = 60.0,
    ) -> None:
        self.name, self.port = name, port
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
        while True:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise RuntimeError(f"{name} exited with {self.proc.returncode}: {err.strip()[-500:]}")
            try:
                if http_get(port, "/" + KIB_FILE, timeout=5).split(b" ", 2)[1:2] == [b"200"]:
                    break
            except (OSError, IndexError):
                pass
            if time.perf_counter() - t0 > limit:
                self.stop()
                raise RuntimeError(f"{name} did not answer 200 within {limit:.0f} s")
            time.sleep(0.005)
        self.startup = time.perf_counter() - t0
        # drain stderr so a chatty server never blocks on a full pipe
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        with contextlib.suppress(Exception):
            while self.proc.stderr and self.proc.stderr.read(65536):
                pass

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # children the server left behind, if any
        self.proc.wait()


def ymawky_cmd(site: Path, port: int) -> list[str]:
    return [sys.executable, os.fspath(ROOT / "run_emulated.py"), "--root", os.fspath(site), "--port", str(port)]


def reference_servers(site: Path, tmp: Path) -> list[tuple[str, list[str] | None, int, str]]:
    """(name, command or None when absent, port, note) for the servers ymawky is compared with."""
    www = os.fspath(site / "www")
    out: list[tuple[str, list[str] | None, int, str]] = []
    port = free_port()
    out.append(
        (
            "python http.server",
            [sys.executable, "-m", "http.server", "-b", "127.0.0.1", "-d", www, "--protocol", "HTTP/1.1", str(port)],
            port,
            "",
        )
    )
    port = free_port()
    # its default, HTTP/1.0, answers without the split writes that delayed ACKs hold up
    out.append(
        (
            PY10,
            [sys.executable, "-m", "http.server", "-b", "127.0.0.1", "-d", www, str(port)],
            port,
            "its default, HTTP/1.0",
        )
    )
    nginx = shutil.which("nginx")
    port = free_port()
    if nginx:
        prefix = tmp / "nginx"
        prefix.mkdir(exist_ok=True)
        conf = prefix / "nginx.conf"
        temps = "".join(
            f"  {k}_temp_path {prefix / k};\n" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        # as root, nginx's workers would be `nobody`, who cannot read our 0700 temporary folder
        user = "user root;\n" if os.geteuid() == 0 else ""
        conf.write_text(f"""daemon off;
{user}worker_processes auto;
error_log {prefix / "error.log"};
pid {prefix / "nginx.pid"};
events {{ worker_connections 1024; }}
http {{
  access_log off;
  sendfile on;
{temps}  server {{ listen 127.0.0.1:{port}; root {www}; }}
}}
""")
        out.append(("nginx", [nginx, "-p", os.fspath(prefix), "-c", os.fspath(conf)], port, ""))
    else:
        out.append(("nginx", None, port, "not installed"))
    busybox = shutil.which("busybox")
    port = free_port()
    has_httpd = False
    if busybox:
        listing = subprocess.run([busybox, "--list"], capture_output=True, text=True).stdout.split()
        has_httpd = "httpd" in listing
    if has_httpd:
        out.append(
            (
                "busybox httpd",
                [busybox, "httpd", "-f", "-p", f"127.0.0.1:{port}", "-h", www],
                port,
                "no keep-alive in busybox httpd",
            )
        )
    else:
        out.append(("busybox httpd", None, port, "not installed" if not busybox else "busybox without httpd"))
    return out


def rss_kib(pid: int) -> int | None:
    """Resident set of a process now (Linux /proc), in KiB."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    m = re.search(r"^VmRSS:\s+(\d+) kB", text, re.M)
    return int(m.group(1)) if m else None


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


def read_response(sock: socket.socket, buf: bytearray) -> tuple[int, bool]:
    """One response framed by Content-Length: (status, server closes after it)."""
    while (end := buf.find(b"\r\n\r\n")) < 0:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the end of a head")
        buf += chunk
    head = bytes(buf[:end]).decode("latin-1").lower()
    status = int(head.split(" ", 2)[1])
    m = re.search(r"\r\ncontent-length:\s*(\d+)", head)
    length = int(m.group(1)) if m else 0
    close = bool(re.search(r"\r\nconnection:\s*close", head)) or head.startswith("http/1.0")
    need = end + 4 + length
    while len(buf) < need:
        chunk = sock.recv(max(65536, need - len(buf)))
        if not chunk:
            raise ConnectionError("closed inside a body")
        buf += chunk
    del buf[:need]
    return status, close


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
                status, close = read_response(sock, buf)
                lat[i].append(time.perf_counter() - t0)
                if not 200 <= status < 400:
                    bad[i] += 1
                if close or not keepalive:
                    sock.close()
                    sock = None
            except OSError:
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
        m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
        if (
            not head.startswith(b"HTTP/1.")
            or b" 200 " not in head.split(b"\r\n", 1)[0]
            or not m
            or int(m.group(1)) != size
        ):
            raise RuntimeError(f"unexpected head for {path}: {head[:300]!r}")
        got = len(rest)
        while got < size:
            n = s.recv_into(view)
            if not n:
                raise RuntimeError(f"closed after {got} of {size} bytes")
            got += n
        return time.perf_counter() - t0


# ============================================================ guest programs
COMPUTE_INSNS_PER_LOOP = 7
COMPUTE_FIXED_INSNS = 7  # 4 before the loop, 3 for exit

COMPUTE = """
.globl _main
_main:
    adr     x9, loops
    ldr     x0, [x9]
    adr     x10, scratch
    mov     x1, #0
Lloop:                              // 7 instructions: ALU, a store and a load, the branch
    add     x1, x1, x0
    eor     x2, x1, x0, lsl #3
    str     x2, [x10]
    ldr     x3, [x10]
    add     x1, x1, x3
    sub     x0, x0, #1
    cbnz    x0, Lloop
Ldone:
    mov     x0, #0
    mov     x16, #1
    svc     #0x80
.p2align 14
data_start:
loops:   .quad 1
scratch: .quad 0
bss_start:
"""

GETPID_LOOP = """
.globl _main
_main:
    adr     x9, loops
    ldr     x19, [x9]
Lloop:
    mov     x16, #20                // getpid
    svc     #0x80
    sub     x19, x19, #1
    cbnz    x19, Lloop
Ldone:
    mov     x0, #0
    mov     x16, #1
    svc     #0x80
.p2align 14
data_start:
loops:   .quad 1
bss_start:
"""

FORK_LOOP = """
.globl _main
_main:
    adr     x9, loops
    ldr     x20, [x9]
Lloop:
    mov     x16, #2                 // fork
    svc     #0x80
    b.cs    Lfail
    cbnz    x1, Lchild              // x1 = 1 in the child
    mov     x1, #0                  // parent: wait4(pid, NULL, 0, NULL)
    mov     x2, #0
    mov     x3, #0
    mov     x16, #7
    svc     #0x80
    b.cs    Lfail
    sub     x20, x20, #1
    cbnz    x20, Lloop
    mov     x0, #0
    mov     x16, #1
    svc     #0x80
Lchild:
    mov     x0, #0
    mov     x16, #1
    svc     #0x80
Lfail:
    mov     x0, #1
    mov     x16, #1
    svc     #0x80
.p2align 14
data_start:
loops:   .quad 1
bss_start:
"""


def build_guest(source: str, name: str, tmp: Path):  # -> (Assembly, Image)
    from emu.assembler import assemble_text
    from emu.loader import load_macho
    from emu.macho import write_macho

    asm = assemble_text(source, f"{name}.s")
    exe = write_macho(asm, tmp / name)
    return asm, load_macho(exe)


def set_loops(uc, asm, image, n: int) -> None:
    uc.mem_write(asm.symbols["loops"] + image.slide, struct.pack("<Q", n))


def bare_unicorn(image, asm, n: int, hook: Callable | None) -> float:
    """The same bytes on a bare Uc: segments mapped, a stack, run to Ldone; seconds in emu_start."""
    from unicorn import UC_ARCH_ARM64, UC_HOOK_INTR, UC_MODE_ARM, UC_PROT_EXEC, UC_PROT_READ, UC_PROT_WRITE, Uc
    from unicorn import arm64_const as A

    PROT = {1: UC_PROT_READ, 2: UC_PROT_WRITE, 4: UC_PROT_EXEC}  # noqa: N806 - RWX text runs ~15 % slower
    uc = Uc(UC_ARCH_ARM64, UC_MODE_ARM)
    for seg in image.segments:  # with the segment's protections, as the Machine maps them
        if seg.vmsize and seg.prot:
            uc.mem_map(seg.vmaddr, seg.vmsize, sum(p for bit, p in PROT.items() if seg.prot & bit))
            if seg.data:
                uc.mem_write(seg.vmaddr, seg.data)
    uc.mem_map(0x1_6000_0000, 1 << 20)
    uc.reg_write(A.UC_ARM64_REG_SP, 0x1_6000_0000 + (1 << 19))
    set_loops(uc, asm, image, n)
    if hook is not None:
        uc.hook_add(UC_HOOK_INTR, hook)
    t0 = time.perf_counter()
    uc.emu_start(image.entry, asm.symbols["Ldone"] + image.slide)
    return time.perf_counter() - t0


def our_machine(image, asm, n: int, tmp: Path, trace_args: list[str] | None = None, warm: bool = False) -> float:
    """The same program in emu.machine.Machine (tracing from run_emulated.py's own flags); seconds in run()."""
    from emu.host import Host
    from emu.machine import Machine

    tracer = None
    if trace_args:
        from emu.trace import Tracer, add_arguments, options_from_args

        p = argparse.ArgumentParser()
        add_arguments(p)
        opts = options_from_args(p.parse_args(trace_args))
        tracer = Tracer(opts) if opts is not None else None
    m = Machine(image, Host(os.fspath(tmp)), ["bench"], assembly=asm, name="bench", tracer=tracer)
    set_loops(m.uc, asm, image, n)
    if warm:
        m.warm()
    t0 = time.perf_counter()
    status = m.run()
    elapsed = time.perf_counter() - t0
    if status != 0:
        raise RuntimeError(f"guest exited {status}")
    return elapsed


def timed(run: Callable[[int], float], target: float, reps: int, start: int = 1 << 10) -> tuple[int, float]:
    """Double n until one run takes ``target`` seconds, then the best of ``reps`` runs at that n."""
    n = start
    while True:
        t = run(n)
        if t >= target or n >= 1 << 34:
            break
        n *= 2 if t <= 0 or t * 2 >= target else min(64, max(2, int(target / t)))
    return n, min([t] + [run(n) for _ in range(reps - 1)])


@functools.lru_cache(maxsize=1)
def tracing_flags() -> tuple[bool, bool]:
    """(--strace, --trace) offered by run_emulated.py at the time of this run."""
    out = subprocess.run(
        [sys.executable, os.fspath(ROOT / "run_emulated.py"), "--help"], capture_output=True, text=True, timeout=60
    ).stdout
    return "--strace" in out, bool(re.search(r"--trace\b(?!-)", out))


# ============================================================ the groups
class Bench:
    def __init__(self, opts: argparse.Namespace, tmp: Path) -> None:
        self.opts, self.tmp = opts, tmp
        self.rows: list[Row] = []
        self.raw: dict = {}
        self.site = tmp / "site"
        (self.site / "www").mkdir(parents=True)
        (self.site / "www" / KIB_FILE).write_bytes((b"0123456789abcdef" * 64)[:1023] + b"\n")
        with open(self.site / "www" / BIG_FILE, "wb") as f:
            f.truncate(BIG_SIZE)  # sparse: no disk, page cache zeros
        self.cache = tmp / "asm-cache"
        self.env = {**os.environ, "YMAWKY_CACHE_DIR": os.fspath(self.cache)}
        self.servers: list[Running] = []
        self.notes: list[str] = []

    def row(self, *a, **kw) -> Row:
        r = Row(*a, **kw)
        self.rows.append(r)
        return r

    # ------------------------------------------------------------ start-up
    def start_ymawky(self) -> Running:
        port = free_port()
        return Running("ymawky emulated", ymawky_cmd(self.site, port), port, env=self.env)

    def group_start(self) -> Running:
        g = "start to first response (ymawky emulated)"
        cold = self.start_ymawky()  # the cache dir is still empty
        cold.stop()
        warms = []
        server = None
        for _ in range(self.opts.warm_starts):
            if server is not None:
                server.stop()
            server = self.start_ymawky()
            warms.append(server.startup)
        assert server is not None
        warm = statistics.median(warms)
        self.raw["start"] = {"cold_s": cold.startup, "warm_s": warms, "server_rss_kib": rss_kib(server.proc.pid)}
        self.row(
            g,
            "cold (empty YMAWKY_CACHE_DIR)",
            f"{cold.startup:.3f} s",
            "Popen to first 200 on /1k.txt",
            target="<= 1 s",
            status=verdict(cold.startup <= 1.0),
            metrics={"seconds": cold.startup},
        )
        self.row(
            g,
            "warm (same cache again)",
            f"{warm:.3f} s",
            f"median of {len(warms)}" if len(warms) > 1 else "",
            target="<= 0.3 s",
            status=verdict(warm <= 0.3),
            metrics={"seconds": warm, "runs": warms},
        )
        return server

    # ------------------------------------------------------------ HTTP
    def group_http(self, ymawky: Running | None) -> None:
        use_wrk = shutil.which("wrk") is not None and not self.opts.no_wrk
        tool = "wrk -t2 -c16" if use_wrk else "python load generator, 16 threads"
        servers: list[tuple[str, Running | None, str]] = []
        if ymawky is None:
            ymawky = self.start_ymawky()
            self.servers.append(ymawky)
        servers.append(("ymawky emulated", ymawky, ""))
        for name, cmd, port, note in reference_servers(self.site, self.tmp):
            if cmd is None:
                servers.append((name, None, note))
                continue
            try:
                srv = Running(name, cmd, port, env=self.env, cwd=self.tmp)
            except (RuntimeError, OSError) as e:
                servers.append((name, None, f"did not start: {e}"))
                continue
            self.servers.append(srv)
            servers.append((name, srv, note))
        live = [(n, s) for n, s, _ in servers if s is not None]
        self.raw["http"] = {"tool": tool, "rounds": {}}
        results: dict[tuple[str, bool], list[Load]] = {}
        for keepalive in (True, False):
            for rnd in range(self.opts.rounds):
                order = live if rnd % 2 == 0 else list(reversed(live))  # alternate who goes first
                for name, srv in order:
                    try:
                        if use_wrk:
                            res = wrk_load(srv.port, "/" + KIB_FILE, self.opts.duration, keepalive)
                        else:
                            res = py_load(srv.port, "/" + KIB_FILE, self.opts.duration, keepalive)
                    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
                        res = Load(0.0, None, None, 0, 1, f"failed: {e}", tool)
                    results.setdefault((name, keepalive), []).append(res)
                    self.raw["http"]["rounds"].setdefault(
                        f"{name} / {'keep-alive' if keepalive else 'close'}", []
                    ).append(asdict(res))
        for keepalive in (True, False):
            g = (
                f"1 KiB GET, {CONNECTIONS} connections, "
                + ("keep-alive" if keepalive else "Connection: close")
                + f" ({tool}, {self.opts.duration:g} s x {self.opts.rounds}, best round)"
            )
            # judged against python's fastest configuration in this run
            py = max(
                (r for n in ("python http.server", PY10) for r in results.get((n, keepalive), [])),
                key=lambda r: r.rps,
                default=None,
            )
            busy = max(results.get(("busybox httpd", keepalive), []), key=lambda r: r.rps, default=None)
            for name, srv, note in servers:
                if srv is None:
                    self.row(g, name, "-", note, status="skipped")
                    continue
                best = max(results[(name, keepalive)], key=lambda r: r.rps)
                detail = f"p50 {fmt_ms(best.p50)}  p99 {fmt_ms(best.p99)}"
                if best.error_text:
                    detail += f"  errors: {best.error_text}"
                if note:
                    detail += f"  ({note})"
                ratio, target, status = "", "", ""
                if py is not None and py.rps > 0:
                    x = best.rps / py.rps
                    ratio = f"{x:.2f}x http.server"
                if name == "ymawky emulated":
                    want = 5.0 if keepalive else 1.5
                    target = f">= {want:g}x http.server (fastest)"
                    if busy is not None and busy.rps > 0:
                        detail += f"  {best.rps / busy.rps:.2f}x busybox httpd"
                    status = verdict(None if py is None or py.rps <= 0 else best.rps / py.rps >= want)
                self.row(
                    g,
                    name,
                    f"{best.rps:,.0f} req/s",
                    detail,
                    ratio,
                    target,
                    status,
                    metrics={**asdict(best), "ratio_to_http_server": best.rps / py.rps if py and py.rps else None},
                )
                if name == "python http.server" and not keepalive and "read" in best.error_text:
                    self.notes.append(
                        "http.server, Connection: close: wrk counts a read error per request "
                        "because http.server closes without sending Connection: close; "
                        "the responses themselves are complete"
                    )
        if self.bulk_wanted():
            self.group_bulk([(n, s) for n, s in live if n in ("ymawky emulated", "python http.server")])

    def bulk_wanted(self) -> bool:
        return "bulk" not in self.opts.skip

    def group_bulk(self, servers: list[tuple[str, Running]]) -> None:
        g = "100 MiB GET (sparse file; client reads into one buffer and discards)"
        rates: dict[str, float] = {}
        self.raw["bulk"] = {}
        for name, srv in servers:
            try:
                times = [bulk_get(srv.port, "/" + BIG_FILE, BIG_SIZE) for _ in range(self.opts.bulk_reps)]
            except (RuntimeError, OSError) as e:
                self.row(g, name, "-", f"failed: {e}", status="n/a")
                continue
            self.raw["bulk"][name] = times
            rates[name] = BIG_SIZE / min(times)
        py = rates.get("python http.server")
        for name, rate in rates.items():
            r = self.row(
                g,
                name,
                f"{rate / 1e6:,.0f} MB/s",
                f"{BIG_SIZE / rate * 1e3:.0f} ms, best of {self.opts.bulk_reps}; {rate / GIB:.2f} GiB/s",
                f"{rate / py:.2f}x http.server" if py else "",
                metrics={"bytes_per_s": rate},
            )
            if name == "ymawky emulated":
                r.target, r.status = ">= 1 GiB/s (1074 MB/s)", verdict(rate >= GIB)

    # ------------------------------------------------------------ guest code
    def _micro(
        self, g: str, configs: list[tuple[str, Callable[[int], float] | None, str]], start: int
    ) -> list[tuple[Row, int, float]]:
        """Rows in config order; each measured config gives (row, n, best seconds)."""
        out = []
        for name, run, note in configs:
            if run is None:
                self.row(g, name, "-", note, status="skipped")
                continue
            shutil.rmtree(self.tmp / "traces", ignore_errors=True)
            (self.tmp / "traces").mkdir()
            try:
                n, secs = timed(run, self.opts.micro_seconds, self.opts.micro_reps, start=start)
            except Exception as e:  # noqa: BLE001 - a tracing API in flux must not sink the whole run
                self.row(g, name, "-", f"failed: {type(e).__name__}: {e}"[:90], status="n/a")
                continue
            finally:
                shutil.rmtree(self.tmp / "traces", ignore_errors=True)
            out.append((self.row(g, name, detail=note), n, secs))
        return out

    def group_compute(self) -> None:
        g = (
            f"guest instructions/s, compute loop ({COMPUTE_INSNS_PER_LOOP} insns: ALU, str, ldr, cbnz; "
            f"best of {self.opts.micro_reps})"
        )
        asm, image = build_guest(COMPUTE, "bench-compute", self.tmp)
        has_strace, has_trace = tracing_flags()
        t = os.fspath(self.tmp / "traces")
        no_strace, no_trace = "run_emulated.py has no --strace", "run_emulated.py has no --trace"

        def machine(args: list[str] | None) -> Callable[[int], float]:
            return lambda n: our_machine(image, asm, n, self.tmp, args)

        configs: list[tuple[str, Callable[[int], float] | None, str]] = [
            ("bare Unicorn", lambda n: bare_unicorn(image, asm, n, None), ""),
            ("our Machine, no tracing", machine(None), ""),
            (
                "our Machine --strace FILE",
                machine(["--strace", t + "/s.log"]) if has_strace else None,
                "" if has_strace else no_strace,
            ),
            (
                "our Machine --trace DIR",
                machine(["--trace", t + "/t"]) if has_trace else None,
                "registers on (default)" if has_trace else no_trace,
            ),
            (
                "our Machine, full tracing",
                machine(["--trace", t + "/t", "--trace-mem", "--strace", t + "/s.log"])
                if has_trace and has_strace
                else None,
                "--trace --trace-mem --strace" if has_trace and has_strace else no_trace,
            ),
        ]
        measured = self._micro(g, configs, start=1 << 10)
        self.raw["compute"] = {}
        bare = None
        for row, n, secs in measured:
            insns = COMPUTE_INSNS_PER_LOOP * n + COMPUTE_FIXED_INSNS
            rate = insns / secs
            bare = rate if row.name == "bare Unicorn" else bare
            self.raw["compute"][row.name] = {"loops": n, "instructions": insns, "seconds": secs}
            row.value = f"{rate / 1e6:,.2f} M/s"
            row.detail = "; ".join(x for x in (f"{insns:,} insns", row.detail) if x)
            row.metrics = {"insns_per_s": rate, "ratio_to_bare": rate / bare if bare else None}
            if bare:
                row.ratio = f"{rate / bare:.3f}x bare"
            if row.name == "our Machine, no tracing":
                row.target, row.status = ">= 0.90x bare", verdict(rate / bare >= 0.9 if bare else None)

    def group_syscall(self) -> None:
        g = f"syscall round trip, guest getpid loop (svc + 3 insns per call; best of {self.opts.micro_reps})"
        from unicorn import arm64_const as A

        asm, image = build_guest(GETPID_LOOP, "bench-getpid", self.tmp)
        pid = os.getpid()
        x0, x16, nzcv, carry = A.UC_ARM64_REG_X0, A.UC_ARM64_REG_X16, A.UC_ARM64_REG_NZCV, 1 << 29

        def empty(uc, intno, data) -> None:
            pass

        def trivial(uc, intno, data) -> None:  # unicorn.md's minimal trap: x16 in, x0 out, carry
            if uc.reg_read(x16) == 20:
                uc.reg_write(x0, pid)
            uc.reg_write(nzcv, uc.reg_read(nzcv) & ~carry)

        has_strace, _ = tracing_flags()
        strace = os.fspath(self.tmp / "traces" / "s.log")
        configs: list[tuple[str, Callable[[int], float] | None, str]] = [
            ("bare Unicorn, empty INTR hook", lambda n: bare_unicorn(image, asm, n, empty), "hook: pass"),
            (
                "bare Unicorn, trivial INTR hook",
                lambda n: bare_unicorn(image, asm, n, trivial),
                "read x16, write x0, clear C",
            ),
            ("our Machine (syscall layer)", lambda n: our_machine(image, asm, n, self.tmp), "trap -> Kernel -> Host"),
            (
                "our Machine --strace FILE",
                (lambda n: our_machine(image, asm, n, self.tmp, ["--strace", strace])) if has_strace else None,
                "" if has_strace else "run_emulated.py has no --strace",
            ),
        ]
        measured = self._micro(g, configs, start=256)
        self.raw["syscall"] = {}
        ref = next((n / secs for row, n, secs in measured if row.name == "bare Unicorn, trivial INTR hook"), None)
        for row, n, secs in measured:
            rate = n / secs
            self.raw["syscall"][row.name] = {"syscalls": n, "seconds": secs}
            row.value = f"{1e6 / rate:.2f} us/call"
            row.detail = "; ".join(x for x in (f"{rate:,.0f} calls/s", row.detail) if x)
            row.metrics = {"syscalls_per_s": rate, "us_per_call": 1e6 / rate}
            if ref:
                row.ratio = f"{ref / rate:.2f}x trivial hook's time"
            if row.name == "our Machine (syscall layer)":
                row.target, row.status = "<= 4 us round trip", verdict(1e6 / rate <= 4.0)

    def group_fork(self) -> None:
        g = "fork cost (guest fork + child exit + wait4, fresh process)"
        cycles = self.opts.fork_cycles
        probe = [sys.executable, os.fspath(Path(__file__)), "--fork-probe"]
        # once to fill the loader's cache, so the measured process is as light as a warm
        # server (a cache miss imports LIEF: ~50 MB more to copy at every fork)
        subprocess.run([*probe, "1"], capture_output=True, env=self.env, timeout=300)
        proc = subprocess.run([*probe, str(cycles)], capture_output=True, text=True, env=self.env, timeout=300)
        try:
            res = json.loads(proc.stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            self.row(
                g,
                f"{cycles} cycles",
                "-",
                f"probe failed ({proc.returncode}): {proc.stderr.strip()[-200:]}",
                status="n/a",
            )
            return
        self.raw["fork"] = res
        per = res["seconds"] / cycles
        rss = f"RSS {res['rss_kib'] / 1024:.0f} MiB" if res.get("rss_kib") else "RSS ?"
        server = self.raw.get("start", {}).get("server_rss_kib")
        if server:
            rss += f" (ymawky server: {server / 1024:.0f} MiB)"
        self.row(
            g,
            f"{cycles} cycles in our Machine",
            f"{per * 1e3:.2f} ms/cycle",
            rss,
            target="<= 0.3 ms",
            status=verdict(per <= 0.0003),
            metrics={"ms_per_cycle": per * 1e3, **res},
        )

    # ------------------------------------------------------------ all of it
    def run(self) -> None:
        skip = set(self.opts.skip)
        ymawky = None
        try:
            if "start" not in skip:
                ymawky = self.group_start()
                self.servers.append(ymawky)
            if "http" not in skip:
                self.group_http(ymawky)
            elif self.bulk_wanted():
                srv = ymawky or self.start_ymawky()
                self.servers.append(srv)
                port = free_port()
                py = Running(
                    "python http.server",
                    [
                        sys.executable,
                        "-m",
                        "http.server",
                        "-b",
                        "127.0.0.1",
                        "-d",
                        os.fspath(self.site / "www"),
                        "--protocol",
                        "HTTP/1.1",
                        str(port),
                    ],
                    port,
                    env=self.env,
                )
                self.servers.append(py)
                self.group_bulk([("ymawky emulated", srv), ("python http.server", py)])
        finally:
            for s in self.servers:
                s.stop()
        for name in ("compute", "syscall", "fork"):
            if name not in skip:
                getattr(self, f"group_{name}")()


# ============================================================ fork probe (its own process)
def fork_probe(cycles: int) -> int:
    import resource

    from emu.host import Host
    from emu.machine import Machine

    with tempfile.TemporaryDirectory(prefix="ymawky-fork-") as d:
        tmp = Path(d)
        asm, image = build_guest(FORK_LOOP, "bench-fork", tmp)
        m = Machine(image, Host(os.fspath(tmp)), ["bench"], assembly=asm, name="bench")
        set_loops(m.uc, asm, image, cycles)
        warmed = m.warm()  # as run_macho does before serving
        m.tree.spare_ready.wait(10)  # a server has its spare Cpu long before the first request
        t0 = time.perf_counter()
        status = m.run()
        secs = time.perf_counter() - t0
    if status != 0:
        print(f"fork loop exited {status}", file=sys.stderr)
        return 1
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {"cycles": cycles, "seconds": secs, "rss_kib": rss_kib(os.getpid()), "peak_rss_kib": peak, "warmed": warmed}
        )
    )
    return 0


# ============================================================ main
def host_info() -> dict:
    info: dict = {"python": sys.version.split()[0], "platform": platform.platform(), "cpus": os.cpu_count()}
    with contextlib.suppress(OSError):
        info["loadavg"] = os.getloadavg()
    with contextlib.suppress(Exception):
        import unicorn

        info["unicorn"] = unicorn.__version__
    with contextlib.suppress(Exception):
        info["git"] = subprocess.run(
            ["git", "-C", os.fspath(ROOT), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    wrk = shutil.which("wrk")
    if wrk:
        with contextlib.suppress(Exception):
            out = subprocess.run([wrk, "-v"], capture_output=True, text=True, timeout=10)
            info["wrk"] = (out.stdout or out.stderr).splitlines()[0].strip()
    return info


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="bench/run.py", description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="about 30 s: shorter load runs, fewer repeats")
    ap.add_argument("--duration", type=float, help="seconds per load run (default 5, --quick 2)")
    ap.add_argument("--rounds", type=int, help="load rounds per server and mode, alternating (default 2, --quick 1)")
    ap.add_argument("--no-wrk", action="store_true", help="use the built-in Python load generator even with wrk")
    ap.add_argument("--skip", action="append", default=[], choices=GROUPS, help="leave out a group (repeatable)")
    ap.add_argument("--json", metavar="FILE", help="where to write the results (default bench/results/<UTC>.json)")
    ap.add_argument("--fork-probe", type=int, metavar="N", help=argparse.SUPPRESS)
    opts = ap.parse_args(argv)
    q = opts.quick
    opts.duration = opts.duration or (2.0 if q else 5.0)
    opts.rounds = opts.rounds or (1 if q else 2)
    opts.warm_starts = 1 if q else 3
    opts.bulk_reps = 2 if q else 3
    opts.micro_seconds = 0.1 if q else 0.4
    opts.micro_reps = 2 if q else 3
    opts.fork_cycles = 20 if q else 50
    return opts


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    if opts.fork_probe is not None:
        return fork_probe(opts.fork_probe)
    stamp = datetime.now(UTC)
    info = host_info()  # the load average before we add ours: how busy the host was
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ymawky-bench-") as d:
        bench = Bench(opts, Path(d))
        bench.run()
    total = time.perf_counter() - t0
    with contextlib.suppress(OSError):
        info["loadavg_after"] = os.getloadavg()
    header = (
        f"ymawky-emu benchmark {stamp:%Y-%m-%d %H:%M:%S} UTC, {info.get('git', '?')}, "
        f"{info['cpus']} CPUs, load before {' '.join(f'{x:.2f}' for x in info.get('loadavg', ()))}, "
        f"{total:.0f} s{' (--quick)' if opts.quick else ''}"
    )
    print()
    print_table(bench.rows, header)
    judged = [r for r in bench.rows if r.status in ("met", "NOT MET")]
    missed = [f"{r.group.split(' (')[0]} / {r.name}" for r in judged if r.status == "NOT MET"]
    print(
        f"\ntargets met: {len(judged) - len(missed)} of {len(judged)}"
        + (f"; not met: {'; '.join(missed)}" if missed else "")
    )
    for note in bench.notes:
        print(f"note: {note}")
    out = Path(opts.json) if opts.json else HERE / "results" / f"{stamp:%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "timestamp": stamp.isoformat(),
        "seconds": total,
        "argv": sys.argv[1:] if argv is None else argv,
        "quick": opts.quick,
        "duration": opts.duration,
        "rounds": opts.rounds,
        "host": info,
        "rows": [asdict(r) for r in bench.rows],
        "raw": bench.raw,
    }
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
