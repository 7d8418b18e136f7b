"""A small GDB remote protocol client for the tests, and ymawky started under --gdb.

The client frames packets itself (not through emu/gdb/packets.py), so the
stub's framing is checked against an independent reading of the protocol.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from server import free_port

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 60.0
READY = "waiting for gdb on"


class Rsp:
    """One connection to a stub: ``ask`` sends a packet and returns the reply's payload."""

    def __init__(self, port: int, timeout: float = 30.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as gdb does
        self.buf = b""

    def raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def packet(self, payload: bytes) -> None:
        self.raw(b"$" + payload + b"#%02x" % (sum(payload) & 0xFF))

    def _byte(self) -> bytes:
        while not self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the stub closed the connection")
            self.buf += chunk
        b, self.buf = self.buf[:1], self.buf[1:]
        return b

    def ack(self) -> bytes:
        """The next ``+`` or ``-``."""
        b = self._byte()
        while b not in b"+-":
            b = self._byte()
        return b

    def reply(self) -> bytes:
        """The next packet's payload (checked, acknowledged, escapes undone)."""
        while self._byte() != b"$":
            pass
        body = b""
        while (b := self._byte()) != b"#":
            body += b
        cs = self._byte() + self._byte()
        assert int(cs, 16) == sum(body) & 0xFF, f"bad checksum from the stub: {body[:60]!r}"
        self.raw(b"+")
        out, i = bytearray(), 0
        while i < len(body):
            if body[i : i + 1] == b"}":
                out.append(body[i + 1] ^ 0x20)
                i += 2
            else:
                out.append(body[i])
                i += 1
        return bytes(out)

    def ask(self, payload: bytes) -> bytes:
        self.packet(payload)
        assert self.ack() == b"+"
        return self.reply()

    def registers(self) -> list[int]:
        raw = bytes.fromhex(self.ask(b"g").decode())
        return [int.from_bytes(raw[8 * i : 8 * i + 8], "little") for i in range(33)] + [
            int.from_bytes(raw[264:268], "little")
        ]

    def close(self) -> None:
        self.sock.close()


class Debuggee:
    """``run_emulated.py ... --gdb PORT`` as a user runs it, stderr in a file, ready for a debugger."""

    def __init__(self, args: list[str], tmp: Path) -> None:
        self.gdb_port = free_port()
        self.err_path = tmp / f"stderr-{self.gdb_port}"
        self.out_path = tmp / f"stdout-{self.gdb_port}"
        cmd = [sys.executable, str(ROOT / "run_emulated.py"), *args, "--gdb", str(self.gdb_port)]
        with self.err_path.open("wb") as err, self.out_path.open("wb") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=tmp, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while READY not in self.stderr():
            if self.proc.poll() is not None:
                raise RuntimeError(f"exited with {self.proc.returncode}: {self.stderr()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the stub did not start")
            time.sleep(0.05)

    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def stop(self, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(2)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def served(tmp: Path) -> tuple[Path, int]:
    """A copy of www/ and err/ to serve, and a free HTTP port."""
    site = Path(tempfile.mkdtemp(dir=tmp, prefix="site-"))
    for part in ("www", "err"):
        shutil.copytree(ROOT / part, site / part)
    return site, free_port()


def get_when_listening(port: int, path: str, out: list[bytes], deadline_s: float = 90.0) -> None:
    """GET ``path`` as soon as the server listens (from a thread, while gdb holds it); the raw
    answer, read to the close, appended to ``out``."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=60)
        except OSError:
            time.sleep(0.1)
            continue
        with s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            raw = b""
            while chunk := s.recv(65536):
                raw += chunk
        out.append(raw)
        return


def serve_under_gdb(tmp: Path) -> Debuggee:
    """ymawky on a copy of www/ and err/, waiting for a debugger; its HTTP port is ``http_port``."""
    site, port = served(tmp)
    d = Debuggee(["--root", str(site), "--port", str(port)], tmp)
    d.http_port = port  # type: ignore[attr-defined]
    return d


def get_in_background(port: int, path: str, out: list[bytes]) -> threading.Thread:
    """``get_when_listening`` on a daemon thread, started."""
    t = threading.Thread(target=get_when_listening, args=(port, path, out), daemon=True)
    t.start()
    return t


def run_lldb(commands: list[str], timeout: float = 120.0) -> str:
    """lldb --batch with each command as an -o: its standard output."""
    args = ["lldb", "--batch", "--no-lldbinit"]
    for c in commands:
        args += ["-o", c]
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout).stdout


def gdb_multiarch() -> str | None:
    return shutil.which("gdb-multiarch")


def run_gdb(port: int, commands: list[str], timeout: float = 120.0, symbols: Path | None = None) -> str:
    """gdb-multiarch -batch against 127.0.0.1:PORT: its whole output.  ``symbols``: an ELF
    symbol file (``run_emulated.py --build OUT`` writes OUT.debug) for names and source lines."""
    exe = gdb_multiarch()
    assert exe is not None
    args = [exe, "-batch", "-nx", "-ex", "set architecture aarch64", "-ex", "set pagination off"]
    if symbols is not None:
        args += ["-ex", f"file {symbols}"]
    args += ["-ex", f"target remote 127.0.0.1:{port}"]
    for c in commands:
        args += ["-ex", c]
    env = {**os.environ, "TERM": "dumb"}
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env)
    return done.stdout + done.stderr
