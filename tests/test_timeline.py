"""--timeline and --profile (emu/calls.py, emu/timeline.py, docs/timeline.md).

One live GET, served with a timeline, a collapsed profile, a recording
and an instruction trace (an instruction hook: the independent count of
the guest instructions each process ran); then its recording replayed
with the same outputs.  The speedscope output is opened in speedscope
itself, in headless Chromium.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from server import Server

from emu.replay import run_replay
from emu.run import build_ymawky
from emu.trace import TraceOptions

ROOT = Path(__file__).resolve().parent.parent
# what speedscope and Chromium's WebGL say on a good load
QUIET_CONSOLE = ("speedscope v", "WebGL initialized", "Importing as ", "import: ")
GET = "0.2"  # the GET's process: the server's start-up probe (connect, close) is 0.1
SPEEDSCOPE = ROOT / "tests" / "browser" / "node_modules" / "speedscope" / "dist" / "release" / "index.html"


@pytest.fixture(scope="module")
def ymawky() -> tuple[Path, object]:
    return build_ymawky(ROOT / "ymawky.s")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A server that answered one GET and was stopped with Ctrl-C: its outputs' folder."""
    out = tmp_path_factory.mktemp("live")
    srv = Server(
        extra=[
            "--timeline",
            str(out / "live.json"),
            "--profile",
            str(out / "live.folded"),
            "--record",
            str(out / "rec"),
            "--trace",
            str(out / "t"),
            "--trace-format",
            "jsonl",
        ]
    )
    try:
        status, _, body = srv.get("/hello.txt")
        assert status == 200, body
        deadline = time.monotonic() + 15
        while not any(_ended(p) for p in (out / "t").glob(f"{GET}-*.jsonl")):  # the child has ended
            assert time.monotonic() < deadline, list((out / "t").iterdir())
            time.sleep(0.05)
    finally:
        code, _, err = srv.stop()
    assert code == 130, err  # Ctrl-C: the files are written all the same
    yield out


def _ended(trace: Path) -> bool:
    lines = trace.read_text().splitlines()
    return bool(lines) and json.loads(lines[-1])["type"] == "exit"


def replay_outputs(folder: Path, build: tuple[Path, object], out: Path, **kw: object) -> TraceOptions:
    opts = TraceOptions(**kw)  # type: ignore[arg-type]
    exe, asm = build
    done = run_replay(folder, exe, asm, None, opts, False, io.StringIO())  # type: ignore[arg-type]
    assert done.ok
    return opts


# ---------------------------------------------------------------- reading a timeline


def tracks(doc: dict) -> dict[str, list[dict]]:
    """Events per track, by the track's name (its place in the fork tree)."""
    names = {e["pid"]: e["args"]["name"] for e in doc["traceEvents"] if e["name"] == "process_name"}
    out: dict[str, list[dict]] = defaultdict(list)
    for e in doc["traceEvents"]:
        if e["ph"] != "M":
            out[names[e["pid"]]].append(e)
    return out


def _ns(us: float) -> int:
    return round(us * 1000)


def assert_nested(events: list[dict]) -> None:
    """Every two spans of a track are disjoint or one holds the other."""
    spans = [(_ns(e["ts"]), _ns(e["ts"] + e["dur"])) for e in events if e["ph"] == "X"]
    spans.sort(key=lambda s: (s[0], -s[1]))
    open_ends: list[int] = []
    for start, end in spans:
        while open_ends and open_ends[-1] <= start and not (open_ends[-1] == start == end):
            open_ends.pop()
        if open_ends:
            assert end <= open_ends[-1], f"span {start}..{end} crosses the end of its parent at {open_ends[-1]}"
        open_ends.append(end)


def inside(events: list[dict], name: str, cat: str) -> list[dict]:
    return [e for e in events if e["ph"] == "X" and e["name"] == name and e["cat"] == cat]


def check_get(doc: dict) -> None:
    """What a GET's timeline shows, live or replayed."""
    per = tracks(doc)
    for events in per.values():
        assert_nested(events)
    # the server's start-up probe (a connection that sends nothing) is 0.1, the GET the next child
    (path,) = [p for p, events in per.items() if inside(events, "do_get", "routine")]
    assert path.startswith("0.") and path.count(".") == 1
    child = per[path]
    (get,) = inside(child, "do_get", "routine")
    start, end = _ns(get["ts"]), _ns(get["ts"] + get["dur"])
    for call in ("open", "sendfile"):
        spans = inside(child, call, "syscall")
        assert any(start <= _ns(s["ts"]) and _ns(s["ts"] + s["dur"]) <= end for s in spans), call
    (sent,) = inside(child, "sendfile", "syscall")
    assert sent["args"]["result"] == 0 and sent["args"]["call"].startswith("sendfile(")
    assert get["args"]["insns"] > 0
    assert not inside(per["0"], "do_get", "routine")  # the server only forks
    # the fork's arrow: from the parent's fork span to the child's first span
    (into,) = [e for e in child if e["ph"] == "f"]
    (out,) = [e for e in per["0"] if e["ph"] == "s" and e["id"] == into["id"]]
    assert into["bp"] == "e"
    forks = inside(per["0"], "fork", "syscall")
    assert any(_ns(f["ts"]) <= _ns(out["ts"]) <= _ns(f["ts"] + f["dur"]) for f in forks)
    first = min(_ns(e["ts"]) for e in child if e["ph"] == "X")
    assert _ns(into["ts"]) == first


# ---------------------------------------------------------------- live


def test_live_timeline_of_a_get(live: Path) -> None:
    doc = json.loads((live / "live.json").read_text())
    check_get(doc)
    names = {e["args"]["name"]: e["pid"] for e in doc["traceEvents"] if e["name"] == "process_name"}
    assert {f"{p}-pid{pid}.jsonl" for p, pid in names.items()} == {p.name for p in (live / "t").iterdir()}


def test_collapsed_profile_counts_every_guest_instruction(live: Path) -> None:
    lines = (live / "live.folded").read_text().splitlines()
    stacks = {line.rsplit(" ", 1)[0]: int(line.rsplit(" ", 1)[1]) for line in lines}
    assert "_main;accept_loop;handle_connection;answer_request;do_get;serve_file" in stacks
    # the instruction trace's hook runs before every instruction: its count is the oracle
    executed = sum(json.loads(p.read_text().splitlines()[-1])["insns"] for p in (live / "t").glob("*.jsonl"))
    assert sum(stacks.values()) == executed


# ---------------------------------------------------------------- replay


def test_replayed_timeline_is_the_same_bytes_every_time(live: Path, ymawky, tmp_path: Path) -> None:
    texts = []
    for run in ("a", "b"):
        replay_outputs(live / "rec", ymawky, tmp_path, timeline=tmp_path / f"{run}.json")
        texts.append((tmp_path / f"{run}.json").read_bytes())
    assert texts[0] == texts[1]
    doc = json.loads(texts[0])
    check_get(doc)
    # the replay's clock is the instruction count: a span lasts as many µs as it ran instructions
    (get,) = inside(tracks(doc)[GET], "do_get", "routine")
    assert get["dur"] == get["args"]["insns"]


def test_replayed_profile_is_the_live_one(live: Path, ymawky, tmp_path: Path) -> None:
    replay_outputs(live / "rec", ymawky, tmp_path, profile=tmp_path / "r.folded")
    # the same guest ran the same instructions, up to the server's wait that Ctrl-C cut short
    live_lines = set((live / "live.folded").read_text().splitlines())
    replayed = (tmp_path / "r.folded").read_text().splitlines()
    child = [x for x in replayed if "handle_connection" in x]
    assert child and set(child) <= live_lines


def test_a_window_hooks_only_its_routine(live: Path, ymawky, tmp_path: Path) -> None:
    replay_outputs(
        live / "rec",
        ymawky,
        tmp_path,
        timeline=tmp_path / "w.json",
        profile=tmp_path / "w.folded",
        start="do_get",
        stop="log_request",
    )
    doc = json.loads((tmp_path / "w.json").read_text())
    per = tracks(doc)
    routines = [e for e in per[GET] if e["ph"] == "X" and e["cat"] == "routine"]
    (get,) = [e for e in routines if e["name"] == "do_get"]
    assert min(_ns(e["ts"]) for e in routines) == _ns(get["ts"])  # nothing before the window
    assert not [e for e in per.get("0", []) if e["ph"] == "X"]  # the server never reaches do_get
    counts = dict(x.rsplit(" ", 1) for x in (tmp_path / "w.folded").read_text().splitlines())
    # after do_get, until log_request is reached: the end of its caller, counted from where it is
    assert {k for k in counts if not k.startswith("do_get")} <= {"answer_request", "handle_connection"}
    replay_outputs(live / "rec", ymawky, tmp_path, timeline=tmp_path / "full.json")
    (whole,) = inside(tracks(json.loads((tmp_path / "full.json").read_text()))[GET], "do_get", "routine")
    assert sum(int(n) for k, n in counts.items() if k.startswith("do_get")) == whole["args"]["insns"]


def test_a_range_counts_only_its_own_instructions(live: Path, ymawky, tmp_path: Path) -> None:
    replay_outputs(live / "rec", ymawky, tmp_path, profile=tmp_path / "r.folded", ranges=["do_get"])
    # do_get's own instructions, callees left out: as many as the live instruction trace ran there
    from emu.loader import load_macho
    from emu.trace import parse_range

    lo, hi = parse_range("do_get", load_macho(ymawky[0]).symbols)  # do_get and its local labels
    (trace,) = (live / "t").glob(f"{GET}-pid*.jsonl")
    records = [json.loads(line) for line in trace.read_text().splitlines()]
    own = sum(1 for r in records if r["type"] == "insn" and lo <= int(r["pc"], 16) < hi)
    assert (tmp_path / "r.folded").read_text() == f"do_get {own}\n"


def test_children_only_leaves_the_server_out(live: Path, ymawky, tmp_path: Path) -> None:
    replay_outputs(live / "rec", ymawky, tmp_path, profile=tmp_path / "all.json", profile_format="speedscope")
    per_process = {
        p["name"].split()[0]: p["endValue"] for p in json.loads((tmp_path / "all.json").read_text())["profiles"]
    }
    replay_outputs(live / "rec", ymawky, tmp_path, profile=tmp_path / "kids.folded", children_only=True)
    counts = dict(x.rsplit(" ", 1) for x in (tmp_path / "kids.folded").read_text().splitlines())
    assert not [k for k in counts if k.startswith("_main")]  # a child starts where fork returned to it
    assert sum(map(int, counts.values())) == sum(n for p, n in per_process.items() if p != "0")


# ---------------------------------------------------------------- speedscope, in a browser


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (.ci/run installs it)")
@pytest.mark.skipif(_chromium() is None, reason="Chromium is not installed (.ci/run installs it from Debian)")
@pytest.mark.skipif(
    not SPEEDSCOPE.is_file(), reason="speedscope is not installed: npm install --prefix tests/browser (as .ci/run)"
)
def test_speedscope_opens_the_profile(live: Path, ymawky, tmp_path: Path) -> None:
    profile = tmp_path / "get.speedscope.json"
    replay_outputs(live / "rec", ymawky, tmp_path, profile=profile, profile_format="speedscope")
    url = _speedscope_url(profile)
    for attempt in range(3):  # a loaded machine can dump the page before the table is drawn: look again
        dom = _open_in_chromium(url, tmp_path / f"chromium-{attempt}", "Importing as speedscope json file")
        if ">do_get<" in dom:
            break
    assert f"<title>{profile.name} - speedscope</title>" in dom
    shown = re.sub(r"<[^>]+>", " ", re.sub(r"<style.*?</style>", "", dom, flags=re.S))
    assert ">do_get<" in dom, " ".join(shown.split())[:2000]  # the sandwich view's table names the routine


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (.ci/run installs it)")
@pytest.mark.skipif(_chromium() is None, reason="Chromium is not installed (.ci/run installs it from Debian)")
@pytest.mark.skipif(
    not SPEEDSCOPE.is_file(), reason="speedscope is not installed: npm install --prefix tests/browser (as .ci/run)"
)
def test_speedscope_reads_the_timeline_as_chrome_trace_events(live: Path, ymawky, tmp_path: Path) -> None:
    """An outside reader of the Trace Event Format: it takes every span without a warning."""
    replayed = tmp_path / "get.json"
    replay_outputs(live / "rec", ymawky, tmp_path, timeline=replayed)
    lived = tmp_path / "live.json"
    shutil.copy(live / "live.json", lived)  # the host clock's µs, with fractions
    for timeline in (replayed, lived):
        dom = _open_in_chromium(
            _speedscope_url(timeline), tmp_path / f"chromium-{timeline.stem}", "Importing as Trace Event Format profile"
        )
        assert f"<title>{timeline.name} - speedscope</title>" in dom


def _speedscope_url(path: Path) -> str:
    """What speedscope's own command line does: a script beside the page hands it the file."""
    loader = path.with_name(path.name + ".js")
    data = base64.b64encode(path.read_bytes()).decode()
    loader.write_text(f"speedscope.loadFileFromBase64({json.dumps(path.name)}, {json.dumps(data)})")
    return f"{SPEEDSCOPE.as_uri()}#localProfilePath={loader}&view=sandwich"


def _open_in_chromium(url: str, profile_dir: Path, importing: str) -> str:
    """The page's DOM once speedscope has drawn it; fails on any error or warning the page reports."""
    run = subprocess.run(
        [
            _chromium(),
            "--headless",
            "--no-sandbox",
            "--use-angle=swiftshader",
            "--enable-unsafe-swiftshader",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=10000",
            "--window-size=1280,10000",  # the sandwich table draws only the rows in view
            f"--user-data-dir={profile_dir}",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HOME": str(profile_dir)},
    )
    assert run.returncode == 0, run.stderr[-2000:]
    console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
    assert any(importing in line for line in console), console
    # anything else the page says is a complaint (speedscope logs a span that does not nest, for one)
    said = [re.sub(r'^[^"]*"|", source: .*$', "", line) for line in console]
    bad = [line for line in said if not line.startswith(QUIET_CONSOLE) and "GL Driver Message" not in line]
    assert not bad, bad
    assert "Something went wrong" not in run.stdout
    assert "- speedscope</title>" in run.stdout
    return run.stdout


# ---------------------------------------------------------------- a signal, in a small guest


def test_a_signal_is_an_instant_and_its_handler_a_span(tmp_path: Path) -> None:
    from guest import InspectableHost, guest_source
    from test_signal_delivery import ASM, INSTALL_USR1, KILL_SELF_USR1, TEXT, data
    from unicorn import UC_HOOK_CODE

    from emu.assembler import assemble_text
    from emu.loader import load_macho
    from emu.machine import Machine
    from emu.macho import build_macho
    from emu.trace import Tracer

    asm = assemble_text(guest_source(ASM + INSTALL_USR1 + KILL_SELF_USR1, text=TEXT, data=data()), "guest.s")
    exe = tmp_path / "guest"
    exe.write_bytes(build_macho(asm, identifier="guest"))
    opts = TraceOptions(timeline=tmp_path / "sig.json", profile=tmp_path / "sig.folded")
    m = Machine(load_macho(exe), InspectableHost(str(tmp_path)), ["guest"], assembly=asm, tracer=Tracer(opts))
    executed = [0]
    m.uc.hook_add(UC_HOOK_CODE, lambda *_: executed.__setitem__(0, executed[0] + 1))  # the oracle
    assert m.run() == 0
    (track,) = tracks(json.loads((tmp_path / "sig.json").read_text())).values()
    assert_nested(track)
    (sig,) = [e for e in track if e["ph"] == "i"]
    assert sig["name"] == "SIGUSR1" and sig["args"]["action"] == "handler"
    (handler,) = inside(track, "SIGUSR1 handler", "routine")
    (kill,) = inside(track, "kill", "syscall")
    assert _ns(kill["ts"] + kill["dur"]) <= _ns(sig["ts"]) == _ns(handler["ts"])
    hend = _ns(handler["ts"] + handler["dur"])
    for name, cat in (("on_signal", "routine"), ("sigreturn", "syscall")):
        (e,) = inside(track, name, cat)
        assert _ns(handler["ts"]) <= _ns(e["ts"]) and _ns(e["ts"] + e["dur"]) <= hend, name
    counts = dict(x.rsplit(" ", 1) for x in (tmp_path / "sig.folded").read_text().splitlines())
    assert "_main;SIGUSR1 handler;on_signal" in counts  # entered from the guest's trampoline by blr
    assert sum(int(n) for n in counts.values()) == executed[0]


# ---------------------------------------------------------------- the command line


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (
            ["--timeline", "/proc/no/such/t.json"],
            "--timeline /proc/no/such/t.json: cannot make its folder (No such file or directory)",
        ),
        (["--profile", "/tmp"], "--profile /tmp: cannot write a file there"),
        (["--profile-format", "speedscope"], "--profile-format speedscope: needs --profile FILE"),
    ],
)
def test_an_output_that_cannot_be_written_is_one_line_before_the_run(args: list[str], says: str) -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "run_emulated.py"), "--replay", str(ROOT / "tests" / "replays" / "get"), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert run.stderr == f"run_emulated.py: {says}\n"


# ---------------------------------------------------------------- a window, in a small guest


def test_a_window_counts_what_an_instruction_trace_of_the_same_window_counts(tmp_path: Path) -> None:
    """--trace-from opens both at once: the profile has every instruction the trace has, and only those."""
    from test_trace import CALL_UTOA_TWICE, run

    opts = TraceOptions(trace_dir=tmp_path / "t", fmt="jsonl", profile=tmp_path / "w.folded", start="Lsecond")
    run(CALL_UTOA_TWICE, opts, tmp_path)  # warmed first: the hooks must reach code already translated
    counts = dict(x.rsplit(" ", 1) for x in (tmp_path / "w.folded").read_text().splitlines())
    assert set(counts) == {"_main", "_main;utoa"}  # from Lsecond in _main: the second call only
    (trace,) = (tmp_path / "t").glob("0-pid*.jsonl")
    insns = [json.loads(line) for line in trace.read_text().splitlines()]
    assert sum(map(int, counts.values())) == insns[-1]["insns"]
    in_utoa = [r for r in insns if r["type"] == "insn" and r["sym"].startswith(("utoa", "Lutoa"))]
    assert int(counts["_main;utoa"]) == len(in_utoa) > 0
