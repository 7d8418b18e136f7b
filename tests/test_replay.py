"""Record and replay (emu/record.py, emu/replay.py, docs/replay-format.md).

Every recording in tests/replays/ is replayed as a regression test: no
network, no files, the same guest behaviour byte for byte.  A new one is
a session in tests/replays/sessions.py, ``scripts/record-replays NAME``,
and nothing else: ``test_recording_replays`` picks it up.  A test of your
own is one line: ``assert_replays("get", process="0.1")``.
"""

from __future__ import annotations

import io
import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from emu.replay import Call, NoHost, Replay, ReplayError, load, run_replay
from emu.run import build_ymawky
from emu.trace import TraceOptions

ROOT = Path(__file__).resolve().parent.parent
REPLAYS = ROOT / "tests" / "replays"
RECORDINGS = sorted(p.name for p in REPLAYS.iterdir() if (p / "manifest.json").is_file())
RERECORD = "re-record with scripts/record-replays"

sys.path.insert(0, str(REPLAYS))
import sessions  # noqa: E402


@pytest.fixture(scope="session")
def ymawky() -> tuple[Path, object]:
    """ymawky.s as built now: (executable, Assembly)."""
    return build_ymawky(ROOT / "ymawky.s")


def replay_of(
    name: str,
    build: tuple[Path, object],
    process: str | None = None,
    trace: TraceOptions | None = None,
    allow_binary_change: bool = False,
) -> tuple[Replay, str]:
    """Replay tests/replays/NAME (or a folder) in this process; (what happened, what it printed)."""
    folder = Path(name) if "/" in str(name) else REPLAYS / name
    exe, asm = build
    out = io.StringIO()
    if not allow_binary_change:
        want = json.loads((folder / "manifest.json").read_text())["sha256"]
        from emu.loader import load_macho

        if load_macho(exe).sha256 != want:
            pytest.fail(
                f"{folder.name} was recorded with another build of ymawky.s (ymawky.s changed since "
                f"tests/replays was recorded): {RERECORD}",
                pytrace=False,
            )
    done = run_replay(folder, exe, asm, process, trace, allow_binary_change, out)  # type: ignore[arg-type]
    return done, out.getvalue()


@pytest.fixture
def assert_replays(ymawky: tuple[Path, object]):
    """``assert_replays(name, process=None)``: the recording replays exactly as recorded."""

    def check(name: str, process: str | None = None, **kw: object) -> Replay:
        done, text = replay_of(name, ymawky, process, **kw)  # type: ignore[arg-type]
        assert done.ok, text
        assert done.results and all(r.calls for r in done.results), text
        return done

    return check


# ---------------------------------------------------------------- the committed recordings


def test_every_session_has_a_recording() -> None:
    assert sorted(sessions.SESSIONS) == RECORDINGS, f"{RERECORD} (new or removed sessions)"


@pytest.mark.parametrize("name", RECORDINGS)
def test_recording_replays(name: str, assert_replays) -> None:
    done = assert_replays(name)
    rec = load(REPLAYS / name)
    assert {r.proc for r in done.results} == set(rec.processes)
    for r in done.results:  # each process ended as it did live (the server by Ctrl-C: 130)
        end = rec.processes[r.proc].end
        assert end is not None and r.status == end["status"], r


@pytest.mark.parametrize("name", RECORDINGS)
def test_recording_strace_is_as_committed(name: str, tmp_path: Path, ymawky) -> None:
    """What --strace shows of a recording's replay stays byte for byte what is committed beside it."""
    out = tmp_path / "strace.txt"
    done, text = replay_of(name, ymawky, trace=TraceOptions(strace=str(out)))
    assert done.ok, text
    want = (REPLAYS / name / sessions.STRACE).read_text()
    assert out.read_text() == want, f"--strace output changed; if meant: scripts/record-replays --strace-only {name}"


def test_one_strace_file_has_each_process_once(tmp_path: Path, ymawky) -> None:
    """A child's replay runs its parent's log up to the fork; --strace FILE still shows each
    recorded call once, and every replayed process appends to the file (none empties it)."""
    out = tmp_path / "all.strace"
    done, text = replay_of("keep-alive", ymawky, trace=TraceOptions(strace=str(out)))
    assert done.ok, text
    lines = out.read_text().splitlines()
    rec = load(REPLAYS / "keep-alive")
    for proc, log in rec.processes.items():
        tagged = [line for line in lines if line.startswith(f"[{proc} {log.pid}] ")]
        # its calls, after the fork as the child saw it return (strace -f shows it so too)
        assert len([t for t in tagged if "+++" not in t]) == len(log.calls) + (log.fork is not None), (proc, tagged)


def test_replay_opens_no_socket(monkeypatch: pytest.MonkeyPatch, ymawky) -> None:
    """Done when: every recording replays with the network disabled for this process."""

    def no_network(*_a: object, **_k: object) -> None:
        raise AssertionError("replay opened a socket")

    for name in ("socket", "create_connection", "socketpair", "fromfd", "create_server"):
        monkeypatch.setattr(socket, name, no_network)
    for name in RECORDINGS:
        done, text = replay_of(name, ymawky)
        assert done.ok, text


def test_no_host_refuses_everything() -> None:
    with pytest.raises(ReplayError, match="reached the Host"):
        NoHost().read(3, 10)


def test_no_host_has_the_whole_host_interface_and_nothing_else() -> None:
    """The replay's Host implements every public method of the live one (no catch-all)."""
    import inspect

    from emu.host import Host
    from emu.replay import host_interface

    names = host_interface()
    assert {"open", "read", "accept", "sendfile", "time_ns", "fork", "kind"} <= set(names)
    for name in names:
        assert inspect.isfunction(getattr(NoHost, name)), name
    assert not hasattr(NoHost, "__getattr__")
    assert not hasattr(NoHost(), "no_such_method")
    with pytest.raises(ReplayError, match=r"\(accept\)"):
        NoHost().accept(3)
    NoHost().close_all()  # housekeeping does nothing, and says nothing
    assert set(names) == {n for n, v in inspect.getmembers(Host, inspect.isfunction) if not n.startswith("_")}


def test_one_child_replays_alone(assert_replays) -> None:
    """A request alone: process 0's log up to its fork, then the child's log; no live parent."""
    done = assert_replays("keep-alive", process="0.1")
    assert [r.proc for r in done.results] == ["0.1"] and done.results[0].status == 0
    assert assert_replays("put", process="0.2").results[0].status == 0
    assert assert_replays("put", process="0").results[0].status == 130


def test_unknown_process_is_refused(ymawky) -> None:
    with pytest.raises(ReplayError, match="no process 0.9"):
        replay_of("get", ymawky, process="0.9")


def test_log_records_compare_as_values() -> None:
    a, b = load(REPLAYS / "get"), load(REPLAYS / "get")
    assert a.processes["0.1"].calls == b.processes["0.1"].calls
    first = a.processes["0.1"].calls[0]
    assert isinstance(first, Call) and first == Call(**first.__dict__)
    assert a.manifest["format"] == 1 and len(a.manifest["sha256"]) == 64
    assert [p["proc"] for p in a.manifest["processes"]] == a.order()


# ---------------------------------------------------------------- divergence and the binary check


@pytest.fixture(scope="module")
def changed_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """ymawky.s with one byte of every response changed: "Server: ymawky" -> "Server: ymawkz"."""
    src = (ROOT / "ymawky.s").read_text()
    assert "Server: ymawky" in src
    copy = tmp_path_factory.mktemp("changed") / "ymawky.s"
    copy.write_text(src.replace("Server: ymawky", "Server: ymawkz"))
    return build_ymawky(copy)


def test_other_binary_is_refused(changed_build) -> None:
    exe, asm = changed_build
    with pytest.raises(ReplayError, match="different guest binary.*--allow-binary-change"):
        run_replay(REPLAYS / "get", exe, asm, out=io.StringIO())


def test_changed_response_byte_is_reported_at_its_write(changed_build) -> None:
    done, text = replay_of("get", changed_build, allow_binary_change=True)
    assert not done.ok
    bad = [r for r in done.results if r.divergence is not None]
    assert [r.proc for r in bad] == ["0.1"]  # the server process itself writes no response
    report = bad[0].divergence.report
    assert "replay diverged in process 0.1" in report
    assert "recorded b'y\\r\\n" in report and "now b'z\\r\\n" in report
    assert 'expected  write(4, "HTTP/1.1 200 OK' in report and "actual    write(4, " in report
    assert "write_all" in report and "ymawky.s:" in report  # pc, symbol, source line
    assert "last instructions:" in report and "svc #0x80" in report
    assert "replaying anyway" in text


# ---------------------------------------------------------------- tracing and the command line


def test_replay_trace_is_byte_identical(tmp_path: Path, ymawky) -> None:
    outs = []
    for run in ("a", "b"):
        opts = TraceOptions(trace_dir=tmp_path / run, strace=str(tmp_path / f"{run}-strace") + "/")
        done, text = replay_of("keep-alive", ymawky, process="0.1", trace=opts)
        assert done.ok, text
        outs.append({p.relative_to(tmp_path / run).as_posix(): p.read_bytes() for p in (tmp_path / run).iterdir()})
        outs[-1].update({"s/" + p.name: p.read_bytes() for p in (tmp_path / f"{run}-strace").iterdir()})
    assert outs[0] == outs[1]
    rec = load(REPLAYS / "keep-alive").processes["0.1"]
    name = f"0.1-pid{rec.pid}.trace"
    assert name in outs[0]  # named by the recorded fork tree and pid
    assert b'write(4, "HTTP/1.1 200 OK' in outs[0][name]


def test_cli_replay(tmp_path: Path) -> None:
    run = [sys.executable, str(ROOT / "run_emulated.py"), "--replay"]
    ok = subprocess.run([*run, str(REPLAYS / "head"), "--process", "0.1"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "all as recorded" in ok.stderr
    missing = subprocess.run([*run, str(tmp_path)], capture_output=True, text=True)
    assert missing.returncode == 2 and "not a recording" in missing.stderr


def test_record_then_replay(tmp_path: Path, ymawky) -> None:
    """A fresh recording (live server, real sockets) replays as recorded: the whole loop."""
    responses = sessions.record("put", out=tmp_path / "put")
    assert responses[0].startswith(b"HTTP/1.1 201 ") and responses[1].endswith(b"fresh\n")
    names = sorted(p.name for p in (tmp_path / "put").iterdir())
    assert "manifest.json" in names and any(n.startswith("0.2-pid") and n.endswith(".bin") for n in names)
    done, text = replay_of(str(tmp_path / "put"), ymawky)
    assert done.ok, text
    shutil.rmtree(tmp_path / "put")


def test_small_guest_records_and_replays_in_process(tmp_path: Path) -> None:
    """Pids, time, fork and wait4 come back from the log; the child (0.1) replays alone."""
    from guest import guest_source, record_guest

    from emu.assembler import assemble_text

    asm = assemble_text(
        guest_source("""
        SYSCALL 20                  // getpid
        adr     x0, scratch
        mov     x1, #0
        mov     x2, #0
        SYSCALL 116                 // gettimeofday(scratch, NULL, NULL)
        SYSCALL 2                   // fork
        cbnz    x1, Lchild
        mov     x0, #-1
        adr     x1, scratch
        mov     x2, #0
        mov     x3, #0
        SYSCALL 7                   // wait4(-1, scratch, 0, NULL)
        b       Ldone
    Lchild:
        mov     x0, #7
        SYSCALL 1
    Ldone:
    """),
        "guest.s",
    )
    run, exe = record_guest(asm, tmp_path)
    assert run.status == 0
    rec = load(tmp_path / "rec")
    assert sorted(rec.processes) == ["0", "0.1"]
    names = [c.name for c in rec.processes["0"].calls]
    assert names == ["getpid", "gettimeofday", "fork", "wait4", "exit"]
    assert rec.processes["0"].calls[2].ret[0] == rec.processes["0.1"].pid
    done = run_replay(tmp_path / "rec", exe, asm, out=io.StringIO())
    assert done.ok and {r.proc: r.status for r in done.results} == {"0": 0, "0.1": 7}


def test_ctrl_c_with_a_request_in_flight_leaves_every_log_and_trace_complete(tmp_path: Path, ymawky) -> None:
    """Ctrl-C while a child waits for the rest of a request: every process ends its files
    (end record, exit line) and the child's recording replays up to where it was stopped."""
    from server import Server

    srv = Server(extra=["--record", str(tmp_path / "rec"), "--strace", str(tmp_path / "s") + "/"])
    try:
        assert srv.get("/hello.txt")[0] == 200
        deadline = time.monotonic() + 10
        while srv.live_children():  # that request's child is done
            assert time.monotonic() < deadline, srv.processes()
        half = srv.connect()
        half.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n")  # no blank line: the child waits
        while len(live := srv.live_children()) != 1:
            assert time.monotonic() < deadline, srv.processes()
        (child,) = live
        proc = srv.processes()[child][1]
        while not any('"name":"read"' in p.read_text() for p in (tmp_path / "rec").glob(f"{proc}-pid*.jsonl")):
            assert time.monotonic() < deadline, "the child never read"  # it has the first half
    finally:
        status, _, err = srv.stop()
    half.close()
    assert status == 130, err
    logs = {p.name.split("-pid")[0]: p for p in (tmp_path / "rec").glob("*-pid*.jsonl")}
    assert {"0", "0.1", proc} <= set(logs)
    for name in ("0", proc):
        last = json.loads(logs[name].read_text().splitlines()[-1])
        assert last["type"] == "end" and last["status"] == 130, (name, last)
    straces = {p.name.split("-pid")[0]: p.read_text() for p in (tmp_path / "s").glob("*.strace")}
    assert straces[proc].rstrip().endswith("+++ exited with 130 +++"), straces[proc][-300:]
    manifest = json.loads((tmp_path / "rec" / "manifest.json").read_text())
    assert ["fork", proc] in manifest["history"] and ["exit", proc] in manifest["history"]
    done, text = replay_of(str(tmp_path / "rec"), ymawky, process=proc)
    assert done.ok, text


def test_replaying_a_folder_that_does_not_exist_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import run_emulated

    assert run_emulated.main(["--replay", str(tmp_path / "rec")]) == 2
    assert (
        capsys.readouterr().err == f"run_emulated.py: --replay {tmp_path / 'rec'}: no such folder (a recording "
        "is made with run_emulated.py --record DIR)\n"
    )
    (tmp_path / "empty").mkdir()
    assert run_emulated.main(["--replay", str(tmp_path / "empty")]) == 2
    assert "no manifest.json" in capsys.readouterr().err


def test_ctrl_c_with_a_keep_alive_connection_open_keeps_its_request_everywhere(tmp_path: Path, ymawky) -> None:
    """An answered request on a connection kept open, then Ctrl-C: that request (an OPTIONS,
    which nothing else here makes) is in its process's trace, strace, recording and the coverage."""
    from server import Server

    from emu.coverage import read_lcov

    cov = tmp_path / "cov.info"
    srv = Server(
        extra=[
            "--record",
            str(tmp_path / "rec"),
            "--strace",
            str(tmp_path / "s") + "/",
            "--trace",
            str(tmp_path / "t"),
            "--trace-children",
            "--coverage",
            str(cov),
        ]
    )
    try:
        conn = srv.connect()
        conn.sendall(b"OPTIONS /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")  # keep-alive: HTTP/1.1's default
        got = b""
        while b"\r\n\r\n" not in got:
            got += conn.recv(65536)
        assert got.startswith(b"HTTP/1.1 204 ") or got.startswith(b"HTTP/1.1 200 "), got
        deadline = time.monotonic() + 10
        while len(live := srv.live_children()) != 1:
            assert time.monotonic() < deadline, srv.processes()
        proc = srv.processes()[live[0]][1]  # answered, waiting for the next request
    finally:
        status, _, err = srv.stop()
    conn.close()
    assert status == 130, err
    (trace,) = (tmp_path / "t").glob(f"{proc}-pid*.trace")
    text = trace.read_text()
    assert "do_options" in text and text.rstrip().endswith("traced instructions")  # its exit line: complete
    (strace,) = (tmp_path / "s").glob(f"{proc}-pid*.strace")
    assert 'read(4, "OPTIONS /hello.txt' in strace.read_text() and "+++ exited with 130 +++" in strace.read_text()
    (log,) = (tmp_path / "rec").glob(f"{proc}-pid*.jsonl")
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert lines[-1]["type"] == "end" and lines[-1]["status"] == 130
    assert any(x.get("name") == "write" for x in lines)  # the answer it sent
    source = str((ROOT / "ymawky.s").resolve())
    rec = read_lcov(cov.read_text())[source]
    line, count = rec.functions["do_options"]
    assert count >= 1, "do_options is not in the coverage"
    done, text = replay_of(str(tmp_path / "rec"), ymawky, process=proc)
    assert done.ok, text
