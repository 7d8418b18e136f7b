"""The servers the benchmark runs side by side, on free 127.0.0.1 ports."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import h11
from common import KIB_FILE, PY10, ROOT
from http1 import Answer, exchange


# ============================================================ servers
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port: int, path: str, timeout: float = 10.0) -> Answer:
    """One GET on its own connection, read by h11 (the server must then close)."""
    raw = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
    return exchange(port, raw, timeout=timeout)


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
                if http_get(port, "/" + KIB_FILE, timeout=5).status == 200:
                    break
            except (OSError, h11.ProtocolError):
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
