"""Tracing: instruction lines, syscall lines, filters, fork tree, and the no-hook rule."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from guest import guest_source
from server import ROOT, Server
from unicorn import unicorn_const as U
from unicorn.unicorn_py3 import unicorn as ucpy

from emu.assembler import Assembly, assemble_text
from emu.host import Host
from emu.loader import load_macho
from emu.machine import Machine
from emu.macho import build_macho
from emu.trace import TraceOptions, Tracer

WWW = ROOT / "www"

# a self-contained copy of ymawky's first utoa (ymawky.s now ends it in reverse_digits), so that
# the expected trace below does not move when ymawky.s changes
UTOA = """
utoa:
    mov     x9, x0
    mov     x12, #10
Lutoa_digits:
    udiv    x10, x1, x12
    msub    x11, x10, x12, x1
    add     w11, w11, #0x30
    strb    w11, [x9], #1
    mov     x1, x10
    cbnz    x1, Lutoa_digits
    mov     x10, x0
    sub     x11, x9, #1
Lutoa_reverse:
    cmp     x10, x11
    b.hs    Lutoa_done
    ldrb    w12, [x10]
    ldrb    w13, [x11]
    strb    w13, [x10], #1
    strb    w12, [x11], #-1
    b       Lutoa_reverse
Lutoa_done:
    mov     x0, x9
    ret
after_utoa:
    ret
"""

CALL_UTOA_TWICE = """
    adr     x0, scratch
    mov     x1, #407
    bl      utoa
Lsecond:
    adr     x0, scratch
    mov     x1, #95
    bl      utoa
    mov     x0, #1
    adr     x1, msg
    mov     x2, #3
    SYSCALL 4
"""
TEXTS = UTOA + 'msg: .ascii "hi\\n"\n'


def machine(body: str, opts: TraceOptions | None, tmp: Path, text: str = TEXTS) -> tuple[Machine, Assembly]:
    asm = assemble_text(guest_source(body, text=text), "guest.s")
    exe = tmp / "guest"
    exe.write_bytes(build_macho(asm, identifier="guest"))
    m = Machine(
        load_macho(exe),
        Host(os.fspath(tmp)),
        ["guest"],
        assembly=asm,
        tracer=Tracer(opts) if opts is not None else None,
    )
    return m, asm


def run(body: str, opts: TraceOptions | None, tmp: Path, warm: bool = True) -> tuple[Machine, Assembly]:
    m, asm = machine(body, opts, tmp)
    if warm:
        m.warm()  # every block translated before tracing starts: the flush rule is exercised
    assert m.run() == 0
    return m, asm


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def only_file(folder: Path, pattern: str) -> Path:
    found = sorted(folder.glob(pattern))
    assert len(found) == 1, found
    return found[0]


# ---------------------------------------------------------------- no hooks unless asked


@pytest.fixture
def hook_kinds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every hook type added to any Unicorn (the binding and emu/trace_hooks.py both pass here)."""
    kinds: list[int] = []
    real = ucpy.uclib.uc_hook_add

    def counting(uch, handle, kind, *rest):
        kinds.append(kind)
        return real(uch, handle, kind, *rest)

    monkeypatch.setattr(ucpy.uclib, "uc_hook_add", counting)
    return kinds


def test_without_tracing_options_only_the_trap_and_fault_hooks_exist(hook_kinds: list[int], tmp_path: Path) -> None:
    run(CALL_UTOA_TWICE, None, tmp_path)
    assert set(hook_kinds) == {U.UC_HOOK_INTR, U.UC_HOOK_MEM_INVALID}  # in every Unicorn: the spare Cpu too


def test_strace_alone_adds_no_hook(hook_kinds: list[int], tmp_path: Path) -> None:
    run(CALL_UTOA_TWICE, TraceOptions(strace=os.fspath(tmp_path / "s.log")), tmp_path)
    assert set(hook_kinds) == {U.UC_HOOK_INTR, U.UC_HOOK_MEM_INVALID}  # in every Unicorn: the spare Cpu too
    assert "[0 " in (tmp_path / "s.log").read_text()


def test_run_macho_builds_no_tracer_when_nothing_is_asked() -> None:
    assert not TraceOptions().wanted()
    assert TraceOptions(strace="-").wanted() and TraceOptions(trace_dir=Path("t")).wanted()


# ---------------------------------------------------------------- instruction lines


def _utoa_expected(s: int) -> list[tuple[str, dict[str, int]]]:
    """utoa(scratch, 407), instruction by instruction: mnemonic and the registers it writes."""
    return [
        ("mov", {"x9": s}),
        ("mov", {"x12": 10}),
        ("udiv", {"x10": 40}),
        ("msub", {"x11": 7}),
        ("add", {"w11": 0x37}),
        ("strb", {"x9": s + 1}),
        ("mov", {"x1": 40}),
        ("cbnz", {}),
        ("udiv", {"x10": 4}),
        ("msub", {"x11": 0}),
        ("add", {"w11": 0x30}),
        ("strb", {"x9": s + 2}),
        ("mov", {"x1": 4}),
        ("cbnz", {}),
        ("udiv", {"x10": 0}),
        ("msub", {"x11": 4}),
        ("add", {"w11": 0x34}),
        ("strb", {"x9": s + 3}),
        ("mov", {"x1": 0}),
        ("cbnz", {}),
        ("mov", {"x10": s}),
        ("sub", {"x11": s + 2}),
        ("cmp", {"nzcv": 0x80000000}),
        ("b.hs", {}),  # s < s+2: N set, C clear
        ("ldrb", {"w12": 0x37}),
        ("ldrb", {"w13": 0x34}),
        ("strb", {"x10": s + 1}),
        ("strb", {"x11": s + 1}),
        ("b", {}),
        ("cmp", {"nzcv": 0x60000000}),
        ("b.hs", {}),  # equal: Z and C set
        ("mov", {"x0": s + 3}),
        ("ret", {}),
    ]


def test_utoa_trace_matches_its_registers_line_by_line(tmp_path: Path) -> None:
    opts = TraceOptions(trace_dir=tmp_path / "t", fmt="jsonl", ranges=["utoa:after_utoa"])
    m, asm = run(CALL_UTOA_TWICE, opts, tmp_path)
    insns = [r for r in records(only_file(tmp_path / "t", "0-pid*.jsonl")) if r["type"] == "insn"]
    first = insns[:33]
    s = asm.symbols["scratch"] + m.image.slide
    want = _utoa_expected(s)
    for got, (mnem, regs) in zip(first, want, strict=True):
        assert got["asm"].split(" ")[0] == mnem, got
        assert {k: int(v, 16) for k, v in got["regs"].items()} == regs, got
        assert got["sym"].startswith(("utoa", "Lutoa")) and got["file"] == "guest.s"
        assert asm.line_of(int(got["pc"], 16)) == got["line"]
    assert [r["seq"] for r in insns] == list(range(1, len(insns) + 1))
    assert first[0]["off"] == 0 and first[0]["sym"] == "utoa"
    assert len(insns) > 33  # the second call (95) is traced too
    assert bytes(m.uc.mem_read(s, 3)) == b"957"  # "95" over "407"


def test_text_lines_are_aligned_columns(tmp_path: Path) -> None:
    run(CALL_UTOA_TWICE, TraceOptions(trace_dir=tmp_path / "t", ranges=["utoa"]), tmp_path)
    lines = [
        x
        for x in only_file(tmp_path / "t", "0-pid*.trace").read_text().splitlines()
        if not x.startswith(("#", " " * 10))
    ]
    assert re.fullmatch(r"\s+1  0x[0-9a-f]+  utoa\+0x0 +guest\.s:\d+ +mov +x9, x0 +x9=0x[0-9a-f]+", lines[0])
    assert re.search(r"udiv +x10, x1, x12 +x10=0x28$", lines[2])
    # every column starts at the same place on every line
    assert len({line.index(" 0x") for line in lines}) == 1
    assert len({line.index("guest.s:") for line in lines}) == 1


def test_block_mode_gives_the_same_lines_without_registers(tmp_path: Path) -> None:
    full, fast = tmp_path / "full", tmp_path / "fast"
    run(CALL_UTOA_TWICE, TraceOptions(trace_dir=full, fmt="jsonl"), tmp_path)
    run(CALL_UTOA_TWICE, TraceOptions(trace_dir=fast, fmt="jsonl", regs=False), tmp_path)

    def key(folder: Path) -> list[tuple]:
        return [
            (r["seq"], r["pc"], r["asm"], r["line"])
            for r in records(only_file(folder, "*.jsonl"))
            if r["type"] == "insn"
        ]

    assert key(full) == key(fast) and len(key(full)) > 70
    assert all("regs" not in r for r in records(only_file(fast, "*.jsonl")) if r["type"] == "insn")


def test_trace_mem_shows_loads_and_stores_with_values(tmp_path: Path) -> None:
    m, asm = run(
        CALL_UTOA_TWICE,
        TraceOptions(trace_dir=tmp_path / "t", fmt="jsonl", mem=True, ranges=["utoa:after_utoa"]),
        tmp_path,
    )
    insns = [r for r in records(only_file(tmp_path / "t", "*.jsonl")) if r["type"] == "insn"]
    s = asm.symbols["scratch"] + m.image.slide
    store = insns[5]  # strb w11, [x9], #1 with w11 = '7'
    assert store["mem"] == [{"op": "W", "addr": hex(s), "size": 1, "value": "0x37"}]
    load = insns[24]  # ldrb w12, [x10]
    assert load["mem"] == [{"op": "R", "addr": hex(s), "size": 1, "value": "0x37"}]
    assert "mem" not in insns[0]


def test_trace_from_starts_on_code_already_translated_and_until_stops(tmp_path: Path) -> None:
    opts = TraceOptions(trace_dir=tmp_path / "t", fmt="jsonl", start="Lsecond", stop="Lutoa_reverse")
    run(CALL_UTOA_TWICE, opts, tmp_path, warm=True)
    insns = [r for r in records(only_file(tmp_path / "t", "*.jsonl")) if r["type"] == "insn"]
    assert insns[0]["sym"] == "Lsecond" and insns[0]["off"] == 0
    assert insns[1]["regs"] == {"x1": hex(95)}
    # stopped at the first Lutoa_reverse: the last line is the one before it
    assert insns[-1]["asm"].startswith("sub x11, x9, #1")
    assert not any(r["sym"] == "Lutoa_reverse" for r in insns)


def test_trace_max_caps_lines_in_both_modes(tmp_path: Path) -> None:
    for regs in (True, False):
        out = tmp_path / f"t{regs}"
        run(CALL_UTOA_TWICE, TraceOptions(trace_dir=out, fmt="jsonl", regs=regs, max_insns=7), tmp_path)
        recs = records(only_file(out, "*.jsonl"))
        assert [r["seq"] for r in recs if r["type"] == "insn"] == list(range(1, 8))
        assert recs[-1]["type"] == "exit" and recs[-1]["status"] == 0


def test_syscall_lines_inline_and_in_the_strace_log(tmp_path: Path) -> None:
    opts = TraceOptions(trace_dir=tmp_path / "t", strace=os.fspath(tmp_path / "s") + "/")
    run(CALL_UTOA_TWICE, opts, tmp_path)
    trace = only_file(tmp_path / "t", "0-pid*.trace").read_text()
    strace = only_file(tmp_path / "s", "0-pid*.strace").read_text().splitlines()
    assert '          -> write(1, "hi\\n", 3) = 3' in trace
    svc = trace.splitlines()[trace.splitlines().index('          -> write(1, "hi\\n", 3) = 3') - 1]
    assert re.search(r"svc +#0x80 +x0=0x3 x1=0x0 nzcv=0x[0-9a-f]+$", svc)
    assert strace[1:] == ['write(1, "hi\\n", 3) = 3', "exit(0) = ?", "+++ exited with 0 +++"]


def test_errno_names_and_bad_pointers(tmp_path: Path) -> None:
    body = """
        adr     x0, nothere
        mov     x1, #0
        mov     x2, #0
        SYSCALL 5
        mov     x0, #99
        mov     x1, #0
        mov     x2, #4
        SYSCALL 4
    """
    m, _ = machine(
        body,
        TraceOptions(strace=os.fspath(tmp_path / "s.log")),
        tmp_path,
        text=TEXTS + 'nothere: .asciz "no/such/file"\n',
    )
    assert m.run() == 0
    lines = (tmp_path / "s.log").read_text().splitlines()
    assert re.sub(r"\[0 \d+\] ", "", lines[0]) == 'open("no/such/file", O_RDONLY, 0) = -1 ENOENT'
    assert re.sub(r"\[0 \d+\] ", "", lines[1]) == "write(99, 0x0, 4) = -1 EBADF"


def test_unknown_symbol_is_a_clear_error(tmp_path: Path) -> None:
    from emu.trace import TraceError

    with pytest.raises(TraceError, match="nosuch: no such symbol"):
        machine(CALL_UTOA_TWICE, TraceOptions(trace_dir=tmp_path / "t", start="nosuch"), tmp_path)


# ---------------------------------------------------------------- ymawky serving a traced GET


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    out = tmp_path_factory.mktemp("traced")
    srv = Server(
        extra=[
            "--trace",
            str(out / "t"),
            "--trace-format",
            "jsonl",
            "--strace",
            str(out / "s") + "/",
            "--trace-bytes",
            "4096",
        ]
    )
    yield srv, out
    srv.stop()


def wait_for_exit(folder: Path, pattern: str, containing: str, timeout: float = 15.0) -> Path:
    """The trace of the process that did ``containing``, once it has ended (the client sees EOF first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in folder.glob(pattern):
            text = p.read_text()
            if containing in text and text.rstrip().splitlines()[-1].startswith('{"type":"exit"'):
                return p
        time.sleep(0.05)
    raise AssertionError(f"no finished {pattern} in {folder}: {list(folder.iterdir())}")


def test_traced_get_shows_open_fstat_and_the_exact_response(traced: tuple[Server, Path]) -> None:
    srv, out = traced
    raw = srv.request(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    want = (WWW / "hello.txt").read_bytes()
    assert raw.endswith(want)
    child = wait_for_exit(out / "t", "0.*-pid*.jsonl", "www/hello.txt")
    assert re.fullmatch(r"0\.\d+-pid\d+\.jsonl", child.name)
    recs = records(child)
    assert recs[0]["type"] == "process" and recs[0]["proc"] == child.name.split("-")[0]
    calls = [r for r in recs if r["type"] == "syscall"]
    opened = next(r for r in calls if r["name"] == "open")
    assert opened["args"][:2] == ['"www/hello.txt"', "O_RDONLY|O_NONBLOCK|O_NOFOLLOW_ANY"]
    fd = opened["ret"]
    assert fd >= 0 and opened["errno"] is None
    fstat = next(r for r in calls if r["name"] == "fstat64")
    assert fstat["args"][0] == str(fd) and fstat["struct"]["st_size"] == len(want)
    client = next(r for r in calls if r["name"] == "read")["args"][0]
    written = "".join(r["data"] for r in calls if r["name"] in ("write", "writev") and r["args"][0] == client)
    # the body goes either through write or, from the file, through sendfile (its count is the *len it wrote back)
    sent = sum(r["struct"]["sent"] for r in calls if r["name"] == "sendfile" and r["args"][1] == client)
    assert written.encode("latin-1") + want[:sent] == raw
    assert sent in (0, len(want))
    # the instruction before the open line is its svc, at the ymawky.s line that asks for it
    i = recs.index(opened)
    svc = recs[i - 1]
    assert svc["type"] == "insn" and svc["asm"] == "svc #0x80" and svc["seq"] == opened["seq"]
    assert svc["file"] == "ymawky.s" and svc["regs"]["x0"] == hex(fd)
    assert any(r.get("sym") == "serve_file" for r in recs)
    source = (ROOT / "ymawky.s").read_text().splitlines()
    assert "SYS_open" in source[svc["line"] - 1]
    # the strace log of the same child says the same
    strace = only_file(out / "s", child.name.replace(".jsonl", ".strace.jsonl"))
    assert [r["name"] for r in records(strace) if r["type"] == "syscall"] == [r["name"] for r in calls]


def test_the_server_process_has_its_own_trace(traced: tuple[Server, Path]) -> None:
    _, out = traced
    root = only_file(out / "t", "0-pid*.jsonl")
    names = [r["name"] for r in map(json.loads, root.read_text().splitlines()) if r.get("type") == "syscall"]
    assert names[:2] == ["open", "getdirentries64"]  # start-up's sweep of stale temp files, then
    first = names.index("socket")  # the listener
    assert names[first : first + 4] == ["socket", "setsockopt", "bind", "listen"]
    assert "fork" in names and "accept" in names


def test_children_only_text_strace_to_one_file(tmp_path: Path) -> None:
    srv = Server(
        extra=[
            "--trace",
            str(tmp_path / "t"),
            "--trace-children",
            "--no-trace-regs",
            "--strace",
            str(tmp_path / "all.strace"),
        ]
    )
    try:
        code = srv.get("/")[0]
        assert code == 200
        # wait until every child seen in the log has exited: the readiness probe's child
        # may finish first, before the one that served the GET has written its trace
        deadline = time.monotonic() + 15
        while True:
            lines = (tmp_path / "all.strace").read_text().splitlines()
            seen = {m.group(1) for x in lines if (m := re.match(r"\[(0\.\d+) \d+\]", x))}
            done = {m.group(1) for x in lines if (m := re.match(r"\[(0\.\d+) \d+\] \+\+\+ exited", x))}
            if seen and seen == done and any("fstat64(" in x for x in lines):
                break
            assert time.monotonic() < deadline, lines[-5:]
            time.sleep(0.05)
    finally:
        srv.stop()
    # one trace per child (the readiness probe of Server is a connection too), none of the server itself
    traces = sorted(p.name for p in (tmp_path / "t").iterdir())
    assert traces and all(re.fullmatch(r"0\.\d+-pid\d+\.trace", t) for t in traces), traces
    text = next(t for t in ((tmp_path / "t" / n).read_text() for n in traces) if "serve_file" in t)
    assert "serve_file+0x0" in text
    assert '-> open("www/index.html", O_RDONLY|O_NONBLOCK|O_NOFOLLOW_ANY, 0) = ' in text
    log = (tmp_path / "all.strace").read_text().splitlines()
    assert re.fullmatch(r'\[0 \d+\] open\("www", O_RDONLY\|O_DIRECTORY\|O_NOFOLLOW_ANY, 0\) = 3', log[0])
    assert any(re.fullmatch(r"\[0 \d+\] socket\(AF_INET, SOCK_STREAM, 0\) = 3", x) for x in log)
    assert any(
        re.fullmatch(r"\[0\.\d+ \d+\] fstat64\(\d+, \{st_mode=S_IFREG\|0\d{3}, st_size=\d+, .*\}\) = 0", x) for x in log
    )


def test_strace_file_in_a_folder_that_does_not_exist_yet(tmp_path: Path) -> None:
    """As the README's tracing block does on a fresh clone: --strace t/all.strace makes t/."""
    out = tmp_path / "t" / "all.strace"
    run(CALL_UTOA_TWICE, TraceOptions(strace=os.fspath(out)), tmp_path)
    assert "[0 " in out.read_text()
