"""The sessions recorded in tests/replays/ (re-record them all with ``scripts/record-replays``).

Each session is a function that talks to a live ymawky on ``port`` the way
a client would.  ``record(name)`` starts ``run_emulated.py --record`` on a
fresh root (www/ and err/ copied from the project, plus the fixed files
below, all with a fixed mtime), runs the session, waits until every
connection's process has ended, stops the server with SIGINT and leaves
the recording in ``tests/replays/<name>/``, with ``strace.txt``: what
``--strace`` shows of its replay, which tests/test_replay.py keeps byte for
byte (``scripts/record-replays --strace-only`` rewrites just those files after
a deliberate change to how calls are shown).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
STRACE = "strace.txt"  # beside each recording: its replay under --strace
MTIME = 1_700_000_000  # 2023-11-14T22:13:20Z: Last-Modified and ETag stay the same
FILES = {
    "www/range.txt": b"".join(b"%02d" % i for i in range(50)),  # 100 bytes: 000102...49
    "www/list/a.txt": b"a\n",
    "www/list/b&c <d>.html": b"<p>escaped</p>\n",
    "www/list/sub/inner.txt": b"inner\n",
    "www/gone.txt": b"to be deleted\n",
}


def _talk(port: int, data: bytes | list[bytes], pause: float = 0.0) -> bytes:
    """Send ``data`` (pieces ``pause`` seconds apart), read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        for piece in [data] if isinstance(data, bytes) else data:
            s.sendall(piece)
            time.sleep(pause)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


def _req(method: str, target: str, headers: str = "", body: bytes = b"") -> bytes:
    return f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Connection: close\r\n\r\n".encode() + body


SESSIONS: dict[str, Callable[[int], list[bytes]]] = {
    "get": lambda p: [_talk(p, _req("GET", "/hello.txt"))],
    "head": lambda p: [_talk(p, _req("HEAD", "/hello.txt"))],
    "index": lambda p: [_talk(p, _req("GET", "/"))],
    "range": lambda p: [_talk(p, _req("GET", "/range.txt", "Range: bytes=10-19\r\n"))],
    "multirange": lambda p: [_talk(p, _req("GET", "/range.txt", "Range: bytes=0-3,-4\r\n"))],
    "range-416": lambda p: [_talk(p, _req("GET", "/range.txt", "Range: bytes=500-\r\n"))],
    "listing": lambda p: [_talk(p, _req("GET", "/list/"))],
    "not-found": lambda p: [_talk(p, _req("GET", "/nope.html"))],
    "forbidden": lambda p: [_talk(p, _req("GET", "/list/../hello.txt"))],
    "put": lambda p: [
        _talk(p, _req("PUT", "/new.txt", "Content-Length: 6\r\n", b"fresh\n")),
        _talk(p, _req("GET", "/new.txt")),
    ],
    "delete": lambda p: [_talk(p, _req("DELETE", "/gone.txt")), _talk(p, _req("GET", "/gone.txt"))],
    "options": lambda p: [_talk(p, b"OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")],
    "keep-alive": lambda p: [
        _talk(
            p,
            b"GET /hello.txt HTTP/1.1\r\nHost: a\r\n\r\n"
            b"HEAD /range.txt HTTP/1.1\r\nHost: a\r\n\r\n"
            b"GET /css/site.css HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        )
    ],
    "slow-client": lambda p: [
        _talk(p, [b"GET /hello.txt HT", b"TP/1.1\r\nHost: 127.", b"0.0.1\r\nConnec", b"tion: close\r\n\r\n"], pause=0.3)
    ],
    # a head never finished: 408 after ymawky's 10 s deadline (live); replay takes no time at all
    "head-timeout": lambda p: [_talk(p, b"GET /hello.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n")],
}


def make_root(into: Path) -> Path:
    for sub in ("www", "err"):
        shutil.copytree(ROOT / sub, into / sub)
    for rel, data in FILES.items():
        (into / rel).parent.mkdir(parents=True, exist_ok=True)
        (into / rel).write_bytes(data)
    for dirpath, dirs, files in os.walk(into):
        for name in dirs + files:
            os.utime(Path(dirpath) / name, (MTIME, MTIME))
    return into


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _logs(out: Path) -> list[list[dict]]:
    return [[json.loads(x) for x in f.read_text().splitlines() if x] for f in sorted(out.glob("*.jsonl"))]


def _wait(what: Callable[[], bool], seconds: float, why: str) -> None:
    deadline = time.monotonic() + seconds
    while not what():
        if time.monotonic() > deadline:
            raise RuntimeError(why)
        time.sleep(0.02)


def record(name: str, out: Path | None = None) -> list[bytes]:
    """Record session ``name`` into ``out`` (default tests/replays/<name>); returns the responses."""
    out = out or HERE / name
    if out.exists():
        shutil.rmtree(out)
    with tempfile.TemporaryDirectory(prefix="ymawky-rec-") as tmp:
        root = make_root(Path(tmp))
        port = _free_port()
        proc = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "run_emulated.py"),
                "--root",
                str(root),
                "--port",
                str(port),
                "--record",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            # ready when process 0 has logged its listen (no probe connection: it would be a process too)
            _wait(
                lambda: any(r.get("name") == "listen" for log in _logs(out) for r in log) if out.exists() else False,
                60,
                "the server did not start listening",
            )
            responses = SESSIONS[name](port)
            # every connection's process has written its end before the server is stopped
            _wait(
                lambda: (
                    all(log[-1].get("type") == "end" for log in _logs(out)[1:]) and len(_logs(out)) > len(responses)
                ),
                20,
                "a connection's process did not end",
            )
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=20)
        if proc.returncode != 130:
            raise RuntimeError(f"server ended with {proc.returncode}: {err.decode(errors='replace')}")
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["root"] = "(a temporary copy of www/ and err/ made by tests/replays/sessions.py)"
    manifest["session"] = name
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    write_strace(out)
    return responses


def write_strace(folder: Path) -> None:
    """``folder/strace.txt``: the replay's syscalls as --strace shows them, every process in one file."""
    target = folder / STRACE
    target.unlink(missing_ok=True)
    subprocess.run(
        [sys.executable, str(ROOT / "run_emulated.py"), "--replay", str(folder), "--strace", str(target)],
        check=True,
        capture_output=True,
        timeout=120,
    )


def main(argv: list[str]) -> int:
    strace_only = "--strace-only" in argv
    argv = [a for a in argv if a != "--strace-only"]
    names = argv or list(SESSIONS)
    unknown = [n for n in names if n not in SESSIONS]
    if unknown:
        print(f"record-replays: no session {', '.join(unknown)} (have: {', '.join(SESSIONS)})", file=sys.stderr)
        return 2
    for name in names:
        t = time.monotonic()
        if strace_only:
            write_strace(HERE / name)
            print(f"{name:<12} {STRACE} {time.monotonic() - t:5.1f} s")
            continue
        responses = record(name)
        size = sum(f.stat().st_size for f in (HERE / name).iterdir())
        first = responses[0].split(b"\r\n", 1)[0].decode(errors="replace") if responses and responses[0] else "-"
        print(f"{name:<12} {first:<32} {size / 1024:6.1f} KiB  {time.monotonic() - t:5.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
