"""Every shell block of the README, run the way a person pastes it (issue 14).

Each block runs with bash, as written, in a scratch copy of this checkout
(its files as they are now, ignored ones left out, `.venv` shared), with
`YMAWKY_PORT` set to a free port and the block's `127.0.0.1:8080` pointed at
it, so that nothing here needs port 8080.  Servers a block starts in the
background are waited for by the block itself (curl's --retry-connrefused)
and stopped by it (`kill %1; wait`).  Then the test checks what the block
promises: files with content, a replay that succeeds.

Three blocks are not run here, each for its reason: `./scripts/test` is this
suite (CI runs it: .ci/run), the coverage recipe runs this suite again
(.ci/run runs it too, and checks its promises), and `./bench/run.sh` is a
benchmark, not a check.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def fenced(text: str, info: str) -> list[str]:
    """The fenced blocks of a Markdown ``text`` whose opening fence says ``info`` ("" for plain text)."""
    blocks: list[str] = []
    opened: str | None = None  # the info string of the block we are in
    lines: list[str] = []
    for line in text.splitlines():
        if line.startswith("```"):
            if opened is None:
                opened, lines = line[3:].strip(), []
            else:
                if opened == info:
                    blocks.append("\n".join(lines) + "\n")
                opened = None
        elif opened is not None:
            lines.append(line)
    return blocks


BLOCKS = fenced(README, "sh")
NOT_HERE = {
    "./scripts/test": "the suite itself: CI runs it",
    "YMAWKY_COVERAGE": "runs the whole suite: .ci/run runs it",
    "./bench/run.sh": "a benchmark, not a check",
}
BLOCK_TIMEOUT = 300
needs_curl = pytest.mark.skipif(
    shutil.which("curl") is None, reason="the README's blocks use curl (apt-get install curl)"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def block(containing: str) -> str:
    (found,) = [b for b in BLOCKS if containing in b]
    return found


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """This checkout's files (tracked and new, not ignored) in a scratch folder, .venv shared."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True, capture_output=True
        )
        .stdout.decode()
        .split("\0")
    )
    dst = tmp_path / "clone"
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / rel)
    (dst / ".venv").symlink_to(Path(sys.prefix))
    return dst


def paste(scratch: Path, text: str) -> subprocess.CompletedProcess[str]:
    script = text.replace("127.0.0.1:8080", "127.0.0.1:$YMAWKY_PORT")
    return subprocess.run(
        ["bash", "-c", script],
        cwd=scratch,
        env=user_env(free_port()),
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT,
    )


def user_env(port: int) -> dict[str, str]:
    """A user's environment: the scratch copy's own .venv, a port of our choosing."""
    env = {k: v for k, v in os.environ.items() if k not in ("YMAWKY_VENV", "YMAWKY_COVERAGE")}
    return {**env, "YMAWKY_PORT": str(port)}


def test_every_block_is_run_here_or_named_with_its_reason() -> None:
    run_here = (
        "./scripts/serve --trace",
        "./scripts/serve --record",
        "./scripts/serve --timeline",
        "clang -target",
        "--gdb 123",
    )
    for b in BLOCKS:
        assert any(k in b for k in run_here) or any(k in b for k in NOT_HERE), f"a README block no test runs:\n{b}"
    assert "./scripts/test" in (ROOT / ".ci" / "run").read_text()


@needs_curl
def test_quick_start_serves_index_html_byte_for_byte(scratch: Path) -> None:
    """`./scripts/serve` as a person runs it: it answers, and Ctrl-C stops it with 130."""
    assert "./scripts/serve" in block("./scripts/serve      #")
    port = free_port()
    proc = subprocess.Popen(
        ["./scripts/serve"],
        cwd=scratch,
        env=user_env(port),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        got = subprocess.run(
            ["curl", "-s", "--retry", "60", "--retry-connrefused", "--retry-delay", "1", f"http://127.0.0.1:{port}/"],
            capture_output=True,
            timeout=120,
        ).stdout
        assert got == (scratch / "www" / "index.html").read_bytes()
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err


@needs_curl
def test_tracing_block(scratch: Path) -> None:
    done = paste(scratch, block("--trace t --trace-children"))
    # the terminal shows the server's lines (listening, the access log) and curl's answer
    assert "ymawky: listening on http://127.0.0.1:" in done.stdout, done.stderr
    assert (scratch / "www" / "hello.txt").read_text() in done.stdout
    (child,) = (scratch / "t").glob("0.1-pid*.trace")
    trace = child.read_text()
    assert "do_get" in trace and 'open("www/hello.txt"' in trace
    strace = (scratch / "t" / "all.strace").read_text()
    assert re.search(r'\[0\.1 \d+\] open\("www/hello\.txt"', strace)
    assert "+++ exited with 143 +++" in strace  # kill %1: SIGTERM, files complete
    assert not list((scratch / "t").glob("0-pid*.trace"))  # --trace-children: not the server


@needs_curl
def test_record_and_replay_block(scratch: Path) -> None:
    done = paste(scratch, block("--record rec"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert (scratch / "www" / "hello.txt").read_text() in done.stdout
    assert (scratch / "rec" / "manifest.json").is_file() and list((scratch / "rec").glob("0.1-pid*.bin"))
    assert re.search(r"replay: \d+ process\(es\), \d+ syscalls: all as recorded", done.stderr), done.stderr
    assert "diverged" not in done.stderr
    (trace,) = (scratch / "t").glob("0.1-pid*.trace")
    assert "do_get" in trace.read_text()


@needs_curl
def test_timeline_block(scratch: Path) -> None:
    done = paste(scratch, block("--timeline t/timeline.json"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert (scratch / "www" / "hello.txt").read_text() in done.stdout
    doc = json.loads((scratch / "t" / "timeline.json").read_text())
    assert any(e["name"] == "do_get" for e in doc["traceEvents"])
    profile = (scratch / "t" / "profile.folded").read_text()
    assert re.search(r"^_main;accept_loop;handle_connection;answer_request;do_get \d+$", profile, flags=re.M)
    speedscope = json.loads((scratch / "t" / "get.speedscope.json").read_text())
    assert {"name": "do_get"} in speedscope["shared"]["frames"]


@needs_curl
@pytest.mark.skipif(shutil.which("gdb-multiarch") is None, reason="needs gdb-multiarch (apt-get install gdb-multiarch)")
def test_debugging_blocks(scratch: Path) -> None:
    done = paste(scratch, block("--gdb 1234").replace("1234", str(free_port())))
    assert done.returncode == 0, done.stdout + done.stderr
    assert (scratch / "www" / "hello.txt").read_text() in done.stdout  # curl's answer, after detach
    # the transcript the README shows is what gdb says, line for line (thread ids aside)
    (shown,) = [t for t in fenced(README, "") if "hit Breakpoint 1, do_get" in t]
    for line in shown.splitlines():
        if not re.search(r"Thread \d+\]$", line):
            assert line in done.stdout.splitlines(), f"README transcript line not in gdb's output: {line!r}"
    done = paste(scratch, block("--gdb 1235").replace("1235", str(free_port())))
    assert done.returncode == 0, done.stdout + done.stderr
    hits = re.findall(r"^Breakpoint (\d), (\w+) \(\) at ymawky\.s:\d+$", done.stdout, re.M)
    assert hits == [("1", "send_file_range"), ("2", "do_get")], done.stdout  # the second by reverse-continue
    lines = re.findall(r"^(\d+)\t(.*)$", done.stdout, re.M)
    assert "SYSCALL SYS_open" in lines[-2][1], done.stdout  # next 5: do_get's open
    assert int(lines[-1][0]) == int(lines[-2][0]) - 1, done.stdout  # reverse-step: the line before
    assert '<path_buf>:\t"www/hello.txt"' in done.stdout
    assert "replay: 1 process(es), 45 syscalls: all as recorded" in done.stderr


@pytest.mark.skipif(shutil.which("gdb-multiarch") is None, reason="needs gdb-multiarch (apt-get install gdb-multiarch)")
def test_the_debugging_docs_block_runs_as_pasted(scratch: Path) -> None:
    """docs/debugging.md's session on a recording: forward to serve_file, one instruction back, back to do_get."""
    (text,) = fenced((ROOT / "docs" / "debugging.md").read_text(), "sh")
    done = paste(scratch, text.replace("1235", str(free_port())))
    assert done.returncode == 0, done.stdout + done.stderr
    whens = [int(n) for n in re.findall(r"^instruction (\d+)$", done.stdout + done.stderr, re.M)]
    assert len(whens) == 2 and whens[1] == whens[0] - 1, done.stdout + done.stderr
    hits = re.findall(r"^Breakpoint (\d), (\w+) \(\)", done.stdout, re.M)
    assert hits == [("1", "do_get"), ("2", "serve_file"), ("1", "do_get")], done.stdout
    assert "replay: 1 process(es), 45 syscalls: all as recorded" in done.stderr


@pytest.mark.skipif(not (shutil.which("clang") and shutil.which("ld64.lld-14")), reason="needs clang and ld64.lld-14")
def test_apple_toolchain_block_builds_an_arm64_macho(scratch: Path) -> None:
    done = paste(scratch, block("clang -target"))
    assert done.returncode == 0, done.stderr
    head = (scratch / "ymawky").read_bytes()[:8]
    assert head[:4] == bytes.fromhex("cffaedfe") and head[4:8] == bytes.fromhex("0c000001")  # MH_MAGIC_64, arm64


def test_blocks_need_no_sleep() -> None:
    """Waiting is the commands' own (curl --retry-connrefused, wait), never a guess in the docs."""
    for b in BLOCKS:
        assert not re.search(r"\bsleep\b", b), b
