"""An outside handle on a running emulator: list its guest processes, signal one.

Guest processes live inside the emulator (emu/tree.py), so a host ``ps`` or
``kill`` cannot see them.  ``--control PATH`` opens a Unix-domain socket
that answers one command per connection (a line; the answer, then it closes):

    ps                  one line per guest process: PID PPID PROC STATE, then "."
                        (PROC: its place in the fork tree, 0, 0.1 ...; STATE: R
                        running, Z exited and not yet waited for)
    kill PID SIGNAL     sends SIGNAL (a Darwin name, SIGTERM or TERM, or a
                        Darwin number) to guest process PID: "ok", or
                        "error: <why>" (ESRCH for a pid that is not a guest's)

Only the guest's own processes can be reached, with the guest's own
signal numbers: this is the guest's kill(2), from outside.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from syscalls.consts import NSIG, SIGNAL_NUMBER
from syscalls.errno import DarwinError

if TYPE_CHECKING:
    from emu.tree import ProcessTree

MAX_LINE = 256


def parse_signal(word: str) -> int:
    """A Darwin signal number from ``SIGTERM``, ``TERM`` or ``15``."""
    if word.isdigit():
        sig = int(word)
    else:
        name = word.upper()
        sig = SIGNAL_NUMBER.get(name if name.startswith("SIG") else "SIG" + name, -1)
    if not 0 < sig < NSIG:
        raise ValueError(f"no signal {word!r}")
    return sig


class Control:
    """The control socket of one run (a daemon thread; ``close`` removes the socket)."""

    def __init__(self, path: Path, tree: ProcessTree) -> None:
        self.path, self.tree = Path(path), tree
        with contextlib.suppress(FileNotFoundError):
            if self.path.is_socket():
                self.path.unlink()  # left by an emulator that was killed
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(os.fspath(self.path))
        self.sock.listen(4)
        threading.Thread(target=self._serve, name="control", daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # closed
            with conn, conn.makefile("rwb", buffering=0) as f:  # one command per connection
                raw = f.readline(MAX_LINE)
                f.write((self.answer(raw.decode("ascii", "replace").strip()) + "\n").encode())

    def answer(self, line: str) -> str:
        words = line.split()
        if words == ["ps"]:
            rows = [f"{p.pid} {p.ppid} {p.path} {'R' if p.alive else 'Z'}" for p in self.tree.procs.all()]
            return "\n".join(rows) + "\n." if rows else "."
        if len(words) == 3 and words[0] == "kill":
            try:
                pid, sig = int(words[1]), parse_signal(words[2])
                target = self.tree.procs.procs.get(pid)
                if target is None or not target.alive:
                    raise DarwinError("ESRCH", f"no guest process {pid}")
                self.tree.procs.post(target, sig)
            except (ValueError, DarwinError) as e:
                return f"error: {e}"
            return "ok"
        return "error: commands are: ps | kill PID SIGNAL"

    def close(self) -> None:
        self.sock.close()
        with contextlib.suppress(OSError):
            self.path.unlink()


def ask(path: Path | str, command: str, timeout: float = 5.0) -> str:
    """Send one command to a control socket; its answer.  The socket answers one command
    per connection and closes it, so when this returns nothing of it is left open."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(os.fspath(path))
        s.sendall(command.encode() + b"\n")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    return data.decode()
