"""Start ymawky emulated on a free 127.0.0.1 port and talk to it.

``Server`` runs ``run_emulated.py`` as a subprocess, exactly as a user runs
it, waits until the port accepts, and on ``stop()`` sends SIGINT and checks
the server went away cleanly.  Its guest processes live inside the emulator:
``processes``, ``children`` and ``kill_guest`` reach them through its
``--control`` socket.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from http1 import parse_response

from emu.control import ask

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 30.0
IO_TIMEOUT = 10.0


def build_with_apple_toolchain(out_dir: Path) -> Path:
    """ymawky.s built the way a Mac would build it: clang (APPLE dialect) + ld64.lld."""
    import shutil

    if not (shutil.which("clang") and shutil.which("ld64.lld-14")):
        import pytest

        pytest.skip("clang and ld64.lld-14 are needed for the Apple-toolchain build")
    obj, exe = out_dir / "ymawky.o", out_dir / "ymawky-lld"
    subprocess.run(
        [
            "clang",
            "-target",
            "arm64-apple-macos11",
            "-Wa,-defsym,APPLE=1",
            "-c",
            str(ROOT / "ymawky.s"),
            "-o",
            str(obj),
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            "ld64.lld-14",
            "-arch",
            "arm64",
            "-platform_version",
            "macos",
            "11.0",
            "11.0",
            "-e",
            "_main",
            "-o",
            str(exe),
            str(obj),
        ],
        check=True,
        capture_output=True,
    )
    return exe


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(
        self,
        root: Path = ROOT,
        extra: list[str] | None = None,
        env: dict[str, str] | None = None,
        port: int | None = None,
        macho: Path | None = None,
        log: Path | None = None,
    ) -> None:
        """``log``: the access log (stdout) goes to this file instead of a pipe, so a
        long-running server never blocks on a full pipe; ``stop()`` returns it all the same."""
        self.port = port or free_port()
        self.root = root
        self.log = log
        # guest processes live inside the emulator: the control socket lists and signals them
        self.control = Path(tempfile.mkdtemp(prefix="ymawky-ctl-")) / "control"
        cmd = [
            sys.executable,
            str(ROOT / "run_emulated.py"),
            "--root",
            str(root),
            "--control",
            str(self.control),
            *(extra or []),
        ]
        # ymawky from ymawky.s via Keystone, or a given executable (e.g. the clang + ld64.lld build)
        cmd += ["--macho", str(macho), "--", str(self.port)] if macho else ["--port", str(self.port)]
        stdout = log.open("wb") if log else subprocess.PIPE
        self.proc = subprocess.Popen(
            cmd, stdout=stdout, stderr=subprocess.PIPE, env={**os.environ, **(env or {})}, start_new_session=True
        )
        if log:
            stdout.close()
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                out, err = self.proc.communicate()
                raise RuntimeError(f"server exited with {self.proc.returncode}: {err.decode()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    self.kill()
                    raise RuntimeError("server did not start listening") from None
                time.sleep(0.05)

    def processes(self) -> dict[int, tuple[int, str, str]]:
        """Every guest process not yet reaped: pid -> (ppid, place in the fork tree, R or Z)."""
        out = {}
        for line in ask(self.control, "ps").splitlines():
            if line != ".":
                pid, ppid, proc, state = line.split()
                out[int(pid)] = (int(ppid), proc, state)
        return out

    def children(self) -> dict[int, str]:
        """The server process's guest children and their states (R running, Z not yet reaped)."""
        return {pid: state for pid, (_, proc, state) in self.processes().items() if proc.count(".") == 1}

    def live_children(self) -> list[int]:
        return [pid for pid, state in self.children().items() if state != "Z"]

    def kill_guest(self, pid: int, sig: str = "SIGKILL") -> None:
        """The guest's kill(2), from outside (the control socket)."""
        answer = ask(self.control, f"kill {pid} {sig}").strip()
        assert answer == "ok", answer

    def request(self, raw: bytes, timeout: float = IO_TIMEOUT) -> bytes:
        """Send raw bytes, read until the server closes the connection."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            s.sendall(raw)
            chunks = []
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return b"".join(chunks)
                chunks.append(chunk)

    def get(
        self, path: str, method: str = "GET", headers: dict[str, str] | None = None, body: bytes = b""
    ) -> tuple[int, dict[str, str], bytes]:
        """One request on a fresh connection ("Connection: close"); (status, headers, body)."""
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        raw = self.request(
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}Connection: close\r\n\r\n".encode() + body
        )
        return parse_response(raw, method)

    def connect(self, timeout: float = IO_TIMEOUT) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)

    def stop(self, timeout: float = 15.0) -> tuple[int, str, str]:
        """SIGINT (as Ctrl-C) and wait: returns (exit status, stdout, stderr)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        if self.log:
            out = self.log.read_bytes()
        return self.proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.communicate()


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """True if the server closes the connection within ``seconds`` (sending nothing more)."""
    sock.settimeout(seconds)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
