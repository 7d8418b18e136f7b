"""The GDB stub on a replay (--replay DIR --process ID --gdb PORT): forward, then backwards.

A replay is deterministic, so going back is exact: after ``stepi`` N times,
``reverse-stepi`` must show the very registers the forward run showed one
instruction earlier, and ``reverse-continue`` must land on the earlier
breakpoint with the registers of its first hit.  The recording is
tests/replays/get, process 0.1: the child that served one GET.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from gdbclient import ROOT, Debuggee, Rsp, gdb_multiarch, run_gdb

from emu.assembler import assemble_file

RECORDING = ROOT / "tests" / "replays" / "get"
REVERSE_BUDGET_S = 1.0  # one reverse step or continue on this request: well under a second
MARK = "==mark=="
REG_NAMES = [f"x{i}" for i in range(31)] + ["sp", "pc", "cpsr"]
SVC = bytes.fromhex("011000d4")


@pytest.fixture(scope="module")
def sym() -> dict[str, int]:
    return assemble_file(ROOT / "ymawky.s").symbols


@pytest.fixture
def replay(tmp_path: Path):
    d = Debuggee(["--replay", str(RECORDING), "--process", "0.1"], tmp_path)
    yield d
    d.stop()


def _registers(chunk: str) -> dict[str, int]:
    regs = {m.group(1): int(m.group(2), 16) for m in re.finditer(r"^(\w+)\s+(0x[0-9a-f]+)", chunk, re.M)}
    assert set(REG_NAMES) <= set(regs), chunk
    return {n: regs[n] for n in REG_NAMES}


def at_stop_tid(stop: bytes) -> int:
    return int(stop.split(b"thread:")[1].split(b";")[0], 16)


def _sendfile_svc(c: Rsp, sym: dict[str, int]) -> int:
    start = sym["Lsend_file_range_sendfile"]
    code = bytes.fromhex(c.ask(b"m%x,100" % start).decode())
    return start + code.index(SVC)


@pytest.mark.skipif(gdb_multiarch() is None, reason="gdb-multiarch is not installed (Debian package)")
def test_reverse_stepi_and_reverse_continue_in_gdb(replay: Debuggee, sym: dict[str, int]) -> None:
    do_get, later = sym["do_get"], sym["serve_file"]
    steps = 6
    cmds = [f"break *{do_get:#x}", "continue", f"echo {MARK}\\n", "info registers"]
    for _ in range(steps):
        cmds += ["stepi", f"echo {MARK}\\n", "info registers"]
    for _ in range(2):
        cmds += ["reverse-stepi", f"echo {MARK}\\n", "info registers"]
    cmds += [f"break *{later:#x}", "continue", "reverse-continue", f"echo {MARK}\\n", "info registers"]
    cmds += ["delete", "reverse-continue", f"echo {MARK}\\n", "info registers", "detach"]
    out = run_gdb(replay.gdb_port, cmds)
    chunks = out.split(MARK)[1:]
    assert len(chunks) == 1 + steps + 2 + 2, out
    forward = [_registers(c) for c in chunks[: 1 + steps]]
    assert forward[0]["pc"] == do_get
    assert forward[1]["pc"] == do_get + 4
    assert len({r["pc"] for r in forward}) == len(forward), "stepi moved"
    back1, back2 = _registers(chunks[1 + steps]), _registers(chunks[2 + steps])
    assert back1 == forward[steps - 1]  # every register as the forward run had it
    assert back2 == forward[steps - 2]
    assert f"Breakpoint 2, {later:#018x} in" in out, out
    at_first = _registers(chunks[3 + steps])
    assert at_first == forward[0], "reverse-continue lands on the earlier breakpoint, as first hit"
    assert "No more reverse-execution history." in out, out
    assert _registers(chunks[4 + steps])["pc"] == sym["_main"]  # the start of the recording


def test_reverse_packets_are_exact_and_quick(replay: Debuggee, sym: dict[str, int]) -> None:
    c = Rsp(replay.gdb_port)
    feats = c.ask(b"qSupported:multiprocess+")
    assert b"ReverseStep+" in feats and b"ReverseContinue+" in feats
    assert c.ask(b"bs").endswith(b"replaylog:begin;")  # nothing before the start
    assert c.registers()[32] == sym["_main"]
    svc = _sendfile_svc(c, sym)
    assert c.ask(b"Z0,%x,4" % sym["do_get"]) == b"OK"
    assert c.ask(b"Z0,%x,4" % svc) == b"OK"
    assert c.ask(b"c").startswith(b"T05") and c.registers()[32] == sym["do_get"]
    at_get = c.registers()
    assert c.ask(b"c").startswith(b"T05") and c.registers()[32] == svc
    at_svc = c.registers()
    when = bytes.fromhex(c.ask(b"qRcmd," + b"when".hex().encode()).decode())
    assert re.fullmatch(rb"instruction \d+\n", when), when
    t0 = time.perf_counter()
    assert c.ask(b"bs").startswith(b"T05")
    step_s = time.perf_counter() - t0
    assert c.registers()[32] == svc - 4
    assert c.ask(b"s").startswith(b"T05") and c.registers() == at_svc
    t0 = time.perf_counter()
    assert c.ask(b"bc").startswith(b"T05")
    cont_s = time.perf_counter() - t0
    assert c.registers() == at_get
    assert c.ask(b"bc").endswith(b"replaylog:begin;")
    print(f"\n{when.decode().strip()} (the sendfile): reverse-stepi {step_s:.3f} s, reverse-continue {cont_s:.3f} s")
    assert step_s < REVERSE_BUDGET_S and cont_s < REVERSE_BUDGET_S
    # forward again, through both breakpoints, to the recorded end: the replay still matches its log
    assert c.ask(b"c").startswith(b"T05") and c.registers() == at_get
    assert c.ask(b"c").startswith(b"T05") and c.registers() == at_svc
    # the end of the log: a stop before the exit call, from which the way back is still open
    assert c.ask(b"c").endswith(b"replaylog:end;")
    end = c.registers()
    assert bytes.fromhex(c.ask(b"m%x,4" % end[32]).decode()) == SVC and end[16] == 1  # svc, x16 = SYS_exit
    assert c.ask(b"bc").startswith(b"T05") and c.registers() == at_svc
    assert c.ask(b"c").endswith(b"replaylog:end;") and c.registers() == end
    assert c.ask(b"c") == b"W00"  # and on from the end: the process exits as recorded
    c.close()
    assert replay.proc.wait(30) == 0
    assert "replay: 1 process(es), 45 syscalls: all as recorded" in replay.stderr()


def test_a_replay_under_gdb_needs_one_process(tmp_path: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, str(ROOT / "run_emulated.py"), "--replay", str(RECORDING), "--gdb", "1"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].endswith("--gdb debugs one process: name it with --process ID")


LONG_LOOP = """
_main:
    mov     x19, #0
    movz    x21, #{n}
Lloop:
    bl      tick
    add     x19, x19, #1
    cmp     x19, x21
    b.ne    Lloop
Ldone:
    mov     x0, #0
    mov     x16, #1
    svc     #0x80
tick:
    add     x20, x20, x19
    ret
"""


def _recorded_loop(tmp_path: Path, n: int) -> tuple[object, Path, Path]:
    """LONG_LOOP of ``n`` turns, recorded: (its Assembly, the executable, the recording)."""
    import subprocess
    import sys

    from emu.assembler import assemble_text
    from emu.macho import write_macho

    asm = assemble_text(LONG_LOOP.format(n=n), "loop.s")
    exe = write_macho(asm, tmp_path / "loop")
    rec = tmp_path / "rec"
    done = subprocess.run(
        [sys.executable, str(ROOT / "run_emulated.py"), "--macho", str(exe), "--record", str(rec)],
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return asm, exe, rec


def test_reverse_on_a_recording_of_a_quarter_million_instructions(tmp_path: Path) -> None:
    """Time for one reverse step does not grow with the recording: it re-executes from the
    nearest snapshot only; a reverse continue to a near breakpoint costs about as little."""
    n = 40000  # 6 instructions a turn
    asm, exe, rec = _recorded_loop(tmp_path, n)
    d = Debuggee(["--replay", str(rec), "--macho", str(exe), "--process", "0"], tmp_path)
    try:
        c = Rsp(d.gdb_port)
        assert c.ask(b"Z0,%x,4" % asm.symbols["Ldone"]) == b"OK"
        assert c.ask(b"c").startswith(b"T05")
        when = bytes.fromhex(c.ask(b"qRcmd," + b"when".hex().encode()).decode())
        assert when == b"instruction %d\n" % (2 + 6 * n)
        t0 = time.perf_counter()
        assert c.ask(b"bs").startswith(b"T05")
        step_s = time.perf_counter() - t0
        regs = c.registers()
        assert regs[32] == asm.symbols["Ldone"] - 4 and regs[19] == n  # the last b.ne, not taken
        assert c.ask(b"Z0,%x,4" % asm.symbols["tick"]) == b"OK"
        t0 = time.perf_counter()
        assert c.ask(b"bc").startswith(b"T05")
        cont_s = time.perf_counter() - t0
        regs = c.registers()
        assert regs[32] == asm.symbols["tick"] and regs[19] == n - 1  # the last call of tick
        assert regs[20] == sum(range(n - 1))
        print(f"\n{2 + 6 * n} instructions: reverse-stepi {step_s:.3f} s, reverse-continue {cont_s:.3f} s")
        assert step_s < REVERSE_BUDGET_S and cont_s < REVERSE_BUDGET_S
        assert c.ask(b"Z0,%x,4" % asm.symbols["_main"]) == b"OK"
        assert c.ask(b"z0,%x,4" % asm.symbols["tick"]) == b"OK"
        t0 = time.perf_counter()
        assert c.ask(b"bc").startswith(b"T05")  # all the way back, to a breakpoint on the first instruction
        far_s = time.perf_counter() - t0
        assert c.registers()[32] == asm.symbols["_main"]
        assert bytes.fromhex(c.ask(b"qRcmd," + b"when".hex().encode()).decode()) == b"instruction 0\n"
        print(f"back to the start: {far_s:.3f} s")
        assert far_s < 5 * REVERSE_BUDGET_S
        assert c.ask(b"z0,%x,4" % asm.symbols["_main"]) == b"OK"
        assert c.ask(b"z0,%x,4" % asm.symbols["Ldone"]) == b"OK"
        assert c.ask(b"c").endswith(b"replaylog:end;")
        assert c.registers()[32] == asm.symbols["Ldone"] + 8  # the exit call
        assert c.ask(b"c") == b"W00"
        c.close()
        assert d.proc.wait(30) == 0
    finally:
        d.stop()


def test_watchpoint_forward_then_reverse_continue_back_to_it(replay: Debuggee, sym: dict[str, int]) -> None:
    c = Rsp(replay.gdb_port)
    path_buf = sym["path_buf"]
    assert c.ask(b"Z2,%x,1" % path_buf) == b"OK"  # the first byte of path_buf, written by the child
    stop = c.ask(b"c")
    assert re.fullmatch(rb"T05thread:[0-9a-f]+;watch:%x;" % path_buf, stop), stop
    at_write = c.registers()
    before = bytes.fromhex(c.ask(b"m%x,1" % path_buf).decode())
    assert c.ask(b"s").startswith(b"T05")  # over the store, the watchpoint still set
    assert bytes.fromhex(c.ask(b"m%x,1" % path_buf).decode()) == b"w" != before
    assert c.ask(b"z2,%x,1" % path_buf) == b"OK"
    assert c.ask(b"Z0,%x,4" % sym["do_get"]) == b"OK"
    assert c.ask(b"c").startswith(b"T05") and c.registers()[32] == sym["do_get"]
    assert c.ask(b"Z2,%x,1" % path_buf) == b"OK"
    stop = c.ask(b"bc")  # back past every later access, to the store
    assert b"watch:%x;" % path_buf in stop, stop
    assert c.registers() == at_write
    assert bytes.fromhex(c.ask(b"m%x,1" % path_buf).decode()) == before  # memory as it was then
    c.close()


def test_ctrl_c_on_a_replay_stops_at_an_exact_instruction(tmp_path: Path) -> None:
    """Interrupted anywhere, the clock still counts exactly: one step back and one forward
    give back the registers the interrupt showed."""
    n = 60000
    asm, exe, rec = _recorded_loop(tmp_path, n)
    d = Debuggee(["--replay", str(rec), "--macho", str(exe), "--process", "0"], tmp_path)
    try:
        c = Rsp(d.gdb_port)
        c.packet(b"c")
        assert c.ack() == b"+"
        time.sleep(0.3)
        c.raw(b"\x03")
        stop = c.reply()
        assert stop.startswith(b"T02"), stop  # else the loop ended first: make n larger
        at_stop = c.registers()
        when = int(bytes.fromhex(c.ask(b"qRcmd," + b"when".hex().encode()).decode()).split()[1])
        assert 0 < when < 2 + 6 * n
        turn = at_stop[19]
        assert at_stop[20] in (sum(range(turn)), sum(range(turn + 1)))  # tick's sum, just before or after
        assert c.ask(b"bs").startswith(b"T05")
        assert c.ask(b"s").startswith(b"T05")
        assert c.registers() == at_stop
        assert bytes.fromhex(c.ask(b"qRcmd," + b"when".hex().encode()).decode()) == b"instruction %d\n" % when
        assert c.ask(b"c") == b"T05thread:%x;replaylog:end;" % at_stop_tid(stop)
        assert c.ask(b"c") == b"W00"
        c.close()
        assert d.proc.wait(30) == 0
    finally:
        d.stop()


def test_stepped_registers_match_the_instruction_trace_of_the_same_replay(tmp_path: Path, sym: dict[str, int]) -> None:
    """Two readings of one replay: --trace's changed registers, and the stub's after each stepi."""
    import json
    import subprocess
    import sys

    traces = tmp_path / "t"
    done = subprocess.run(
        [sys.executable, str(ROOT / "run_emulated.py"), "--replay", str(RECORDING), "--process", "0.1"]
        + ["--trace", str(traces), "--trace-format", "jsonl", "--trace-range", "do_get"],
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    (trace,) = traces.glob("0.1-*.jsonl")
    insns = [r for r in map(json.loads, trace.read_text().splitlines()) if r["type"] == "insn"]
    index = {name: i for i, name in enumerate(REG_NAMES)} | {"nzcv": REG_NAMES.index("cpsr"), "fp": 29, "lr": 30}
    d = Debuggee(["--replay", str(RECORDING), "--process", "0.1"], tmp_path)
    try:
        c = Rsp(d.gdb_port)
        assert c.ask(b"Z0,%x,4" % sym["do_get"]) == b"OK"
        assert c.ask(b"c").startswith(b"T05")
        assert c.ask(b"z0,%x,4" % sym["do_get"]) == b"OK"
        compared = 0
        for rec in insns:
            if c.registers()[32] != int(rec["pc"], 16):
                break  # do_get called out: the trace (of do_get only) skips the callee
            assert c.ask(b"s").startswith(b"T05")
            regs = c.registers()
            for name, value in rec["regs"].items():
                assert regs[index[name]] == int(value, 16), (rec, name)
            compared += 1
        assert compared >= 5
        assert c.ask(b"D") == b"OK"
        c.close()
        assert d.proc.wait(30) == 0  # detached: no hook left, the replay runs to its recorded end
    finally:
        d.stop()


def test_going_back_over_a_signal_handler_replays_it_again(tmp_path: Path) -> None:
    """A recorded kill(getpid(), SIGUSR1) enters the guest's handler through its trampoline;
    reverse-continue from the end lands in the handler again with the same registers, and
    the replay still ends as recorded (the signal state is part of every snapshot)."""
    from guest import guest_source, record_guest
    from test_signal_delivery import ASM, INSTALL_USR1, KILL_SELF_USR1, TEXT, data

    from emu.assembler import assemble_text

    pad = """
    movz    x9, #3000                // a snapshot falls between sigaction and kill
Lpad:
    subs    x9, x9, #1
    b.ne    Lpad
"""
    asm = assemble_text(guest_source(ASM + INSTALL_USR1 + pad + KILL_SELF_USR1, TEXT, data()), "guest.s")
    live, exe = record_guest(asm, tmp_path)
    assert live.status == 0
    d = Debuggee(["--replay", str(tmp_path / "rec"), "--macho", str(exe), "--process", "0"], tmp_path)
    try:
        c = Rsp(d.gdb_port)
        assert c.ask(b"Z0,%x,4" % asm.symbols["on_signal"]) == b"OK"
        assert c.ask(b"c").startswith(b"T05")
        in_handler = c.registers()
        assert in_handler[32] == asm.symbols["on_signal"] and in_handler[0] == 30  # signo: SIGUSR1
        assert c.ask(b"c").endswith(b"replaylog:end;")
        assert c.registers()[16] == 1  # at the exit call (not at sigreturn, which also does not return)
        back = c.ask(b"bc")
        assert back.startswith(b"T05"), d.stderr()
        assert c.registers() == in_handler
        assert c.ask(b"z0,%x,4" % asm.symbols["on_signal"]) == b"OK"
        assert c.ask(b"c").endswith(b"replaylog:end;")
        assert c.ask(b"c") == b"W00"
        c.close()
        assert d.proc.wait(30) == 0
    finally:
        d.stop()
    assert "all as recorded" in d.stderr()
