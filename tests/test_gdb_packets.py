"""The GDB stub at the packet level: framing (emu/gdb/packets.py) and a session against ymawky under --gdb.

The session tests talk to ``run_emulated.py --gdb PORT`` through tests/gdbclient.py's own
framing, on 127.0.0.1 only: hostile or malformed packets get ``-``, ``E..`` or an empty
reply and the stub goes on answering; the guest waits at its entry point, steps, stops
on Ctrl-C in a blocking call, and serves on after ``D``.
"""

from __future__ import annotations

import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from gdbclient import ROOT, Debuggee, Rsp, get_in_background, serve_under_gdb
from http1 import parse_response

from emu.assembler import assemble_file, assemble_text
from emu.gdb.packets import MAX_PACKET, Ack, Interrupt, Malformed, Packet, Reader, escape, frame, unescape
from emu.gdb.stub import AddressError, parse_listen, stop_reply
from emu.gdb.target import Stop
from emu.macho import write_macho

SVC = struct.pack("<I", 0xD4001001)  # svc #0x80


# ---------------------------------------------------------------- framing, no I/O


def test_frame_checksums_and_escapes_the_four_special_bytes() -> None:
    assert frame(b"OK") == b"$OK#9a"
    body = frame(b"a$b#c}d*e")[1:-3]
    assert body == b"a}\x04b}\x03c}]d}\x0ae"
    assert unescape(body) == b"a$b#c}d*e"


def test_reader_splits_packets_acks_and_interrupts() -> None:
    r = Reader()
    events = r.feed(b"+$g#67\x03-$m1,2#")
    assert events == [Ack(True), Packet(b"g"), Interrupt(), Ack(False)]
    assert r.feed(b"fc") == [Packet(b"m1,2")]  # a packet split across reads


def test_reader_reports_a_bad_checksum_and_recovers() -> None:
    r = Reader()
    assert r.feed(b"$g#00") == [Malformed("checksum 00, computed 67")]
    assert r.feed(b"$g#zz$?#3f") == [Malformed("checksum is not hex"), Packet(b"?")]


def test_reader_refuses_an_endless_packet_then_reads_the_next() -> None:
    r = Reader()
    events = r.feed(b"$" + b"A" * (2 * MAX_PACKET + 10))
    assert len(events) == 1 and isinstance(events[0], Malformed)
    assert r.feed(b"$?#3f") == [Packet(b"?")]


def test_run_length_is_expanded_on_input() -> None:
    assert unescape(b"0* ") == b"0" * 4  # ' ' is 32: three more
    assert isinstance(Reader().feed(b"$*!#4b")[0], Malformed)  # nothing to repeat


def test_stop_replies() -> None:
    assert stop_reply(Stop(0x1234)) == b"T05thread:1234;"
    assert stop_reply(Stop(7, watch=("awatch", 0x10))) == b"T05thread:7;awatch:10;"
    assert stop_reply(Stop(7, replaylog="begin")) == b"T05thread:7;replaylog:begin;"
    assert stop_reply(Stop(7, exited=0)) == b"W00"
    assert stop_reply(Stop(7, exited=139)) == b"X0b"


def test_listens_on_loopback_only() -> None:
    assert parse_listen("1234") == 1234
    assert parse_listen("127.0.0.1:1234") == parse_listen("localhost:1234") == 1234
    for bad in ("0.0.0.0:1234", "192.168.1.2:1234", ":99999", "x"):
        with pytest.raises(AddressError):
            parse_listen(bad)


def test_command_line_refuses_another_address_in_one_line() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "run_emulated.py"), "--gdb", "0.0.0.0:1234"], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "run_emulated.py: --gdb 0.0.0.0:1234: the debugger port listens on 127.0.0.1 only"
    ]


# ---------------------------------------------------------------- a session with ymawky


@pytest.fixture(scope="module")
def symbols() -> dict[str, int]:
    return assemble_file(ROOT / "ymawky.s").symbols


@pytest.fixture
def ymawky(tmp_path: Path):
    d = serve_under_gdb(tmp_path)
    yield d
    d.stop()


def test_first_process_waits_at_its_entry_point(ymawky: Debuggee, symbols: dict[str, int]) -> None:
    c = Rsp(ymawky.gdb_port)
    feats = c.ask(b"qSupported:multiprocess+;swbreak+;xmlRegisters=aarch64")
    assert b"qXfer:features:read+" in feats and b"ReverseStep+" not in feats
    stop = c.ask(b"?")
    assert stop.startswith(b"T05thread:")
    assert len(c.ask(b"g")) == 2 * (33 * 8 + 4)  # x0-x30, sp, pc of 8 bytes, cpsr of 4
    regs = c.registers()
    assert regs[32] == symbols["_main"]  # pc
    assert regs[31] % 16 == 0 and regs[31] > 0x1_0000_0000  # sp: the initial stack
    tid = int(stop.split(b":")[1].rstrip(b";"), 16)
    assert c.ask(b"qfThreadInfo") == b"m%x" % tid
    assert c.ask(b"qsThreadInfo") == b"l"
    assert bytes.fromhex(c.ask(b"qThreadExtraInfo,%x" % tid).decode()).decode() == f"process 0 (pid {tid})"
    threads = c.ask(b"qXfer:threads:read::0,fff")
    assert threads.startswith(b"l") and f'id="{tid:x}" name="0"'.encode() in threads
    xml = c.ask(b"qXfer:features:read:target.xml:0,3fff")
    assert xml.startswith(b"l") and b"org.gnu.gdb.aarch64.core" in xml and b'name="cpsr" bitsize="32"' in xml
    part = c.ask(b"qXfer:features:read:target.xml:0,10")
    assert part == b"m" + xml[1:17]
    c.close()


def test_hostile_packets_get_errors_and_the_stub_goes_on(ymawky: Debuggee, symbols: dict[str, int]) -> None:
    c = Rsp(ymawky.gdb_port)
    c.raw(b"$g#00")
    assert c.ack() == b"-"  # bad checksum
    c.raw(b"$" + b"m" * (3 * MAX_PACKET) + b"#00")
    assert c.ack() == b"-"  # longer than announced
    assert c.ask(b"qNoSuchThing") == b""
    assert c.ask(b"j\xff\x00garbage") == b""
    assert c.ask(b"mzz,4") == b"E01"  # bad hex
    assert c.ask(b"m" + b"f" * 40 + b",4") == b"E01"  # a number wider than 64 bits
    assert c.ask(b"m10,4") == b"E0e"  # outside the map
    assert c.ask(b"Mffffffffffff0000,2:0102") == b"E0e"
    assert c.ask(b"M10000c000,2:01") == b"E01"  # length and data disagree
    assert c.ask(b"G00") == b"E01"
    assert c.ask(b"P99=00") == b"E01"
    assert c.ask(b"Z9,1000,4") == b""  # a breakpoint type we do not know
    assert c.ask(b"Z2,10000c000,0") == b"E16"  # a watchpoint of no bytes
    assert c.ask(b"Hgdeadbeef") == b"E03"
    assert c.ask(b"Tdeadbeef") == b"E03"
    assert c.ask(b"vCont;x") == b"E16"
    assert c.ask(b"bs") == b""  # no reverse execution on a live run
    big = c.ask(b"m%x,100000" % symbols["_main"])  # far more than a packet: cut to what fits
    assert len(big) // 2 == (MAX_PACKET - 8) // 2
    main_bytes = c.ask(b"m%x,8" % symbols["_main"])
    assert big.startswith(main_bytes)
    assert c.ask(b"?").startswith(b"T05")  # still answering
    c.close()


def test_registers_and_memory_round_trip(ymawky: Debuggee, symbols: dict[str, int]) -> None:
    c = Rsp(ymawky.gdb_port)
    c.ask(b"QStartNoAckMode")
    c.packet(b"p3")  # no acks from here on
    assert len(c.reply()) == 16
    c.packet(b"P3=efbeadde00000000")
    assert c.reply() == b"OK"
    c.packet(b"p3")
    assert c.reply() == b"efbeadde00000000"
    buf = symbols["path_buf"]
    payload = b"a$#}*z"
    c.packet(b"X%x,%x:" % (buf, len(payload)) + escape(payload))
    assert c.reply() == b"OK"
    c.packet(b"m%x,%x" % (buf, len(payload)))
    assert bytes.fromhex(c.reply().decode()) == payload
    c.packet(b"M%x,2:4142" % buf)
    assert c.reply() == b"OK"
    c.packet(b"m%x,3" % buf)
    assert c.reply() == b"41422300"[:6]
    c.close()


def test_step_and_breakpoint_then_ctrl_c_in_accept_then_detach(ymawky: Debuggee, symbols: dict[str, int]) -> None:
    c = Rsp(ymawky.gdb_port)
    main = symbols["_main"]
    assert c.registers()[32] == main
    stop = c.ask(b"vCont;s")  # main begins with "bl parse_port"
    assert stop.startswith(b"T05thread:")
    regs = c.registers()
    assert (regs[32], regs[30]) == (symbols["parse_port"], main + 4)  # pc, lr
    assert c.ask(b"s").startswith(b"T05")
    assert c.registers()[32] == symbols["parse_port"] + 4
    target = symbols["open_listener"]
    assert c.ask(b"Z0,%x,4" % target) == b"OK"
    assert c.ask(b"vCont;c").startswith(b"T05")
    assert c.registers()[32] == target
    assert c.ask(b"z0,%x,4" % target) == b"OK"
    c.packet(b"c")
    assert c.ack() == b"+"
    time.sleep(1.5)  # the server is in accept() by now
    c.raw(b"\x03")
    stop = c.reply()
    assert stop.startswith(b"T02thread:")
    pc = c.registers()[32]
    assert bytes.fromhex(c.ask(b"m%x,4" % pc).decode()) == SVC  # held at the blocking call, to restart it
    assert c.ask(b"D") == b"OK"
    with socket.create_connection(("127.0.0.1", ymawky.http_port), timeout=10) as s:
        s.sendall(b"GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
    status, _headers, body = parse_response(raw)
    assert status == 200 and body == (ROOT / "www" / "index.html").read_bytes()


def test_a_guest_fault_is_a_stop_with_sigsegv(tmp_path: Path) -> None:
    asm = assemble_text(
        """
_main:
    mov x5, #0
    ldr x1, [x5]
""",
        "crash.s",
    )
    exe = write_macho(asm, tmp_path / "crash")
    d = Debuggee(["--macho", str(exe)], tmp_path)
    try:
        c = Rsp(d.gdb_port)
        assert c.ask(b"c").startswith(b"T0bthread:")  # SIGSEGV in gdb's numbering
        assert c.registers()[32] == asm.symbols["_main"] + 4  # at the load that faulted
        assert c.ask(b"c") == b"X0b"  # resumed, the process ends by the signal
        assert d.proc.wait(30) == 139
    finally:
        d.stop()
    assert "read of unmapped memory at 0x0" in d.stderr()


def test_ctrl_c_while_waiting_for_a_debugger_ends_quietly(ymawky: Debuggee) -> None:
    t0 = time.monotonic()
    assert ymawky.stop() == 130
    assert time.monotonic() - t0 < 5
    assert "Traceback" not in ymawky.stderr()


def test_kill_ends_the_run(ymawky: Debuggee) -> None:
    c = Rsp(ymawky.gdb_port)
    c.packet(b"k")
    assert c.ack() == b"+"
    assert ymawky.proc.wait(30) == 137  # 128 + SIGKILL
    assert "Traceback" not in ymawky.stderr()


def test_a_debugger_that_goes_away_lets_the_server_run(ymawky: Debuggee) -> None:
    c = Rsp(ymawky.gdb_port)
    assert c.ask(b"?").startswith(b"T05")
    c.close()  # no D: as when gdb is killed
    deadline = time.monotonic() + 30
    while True:
        try:
            s = socket.create_connection(("127.0.0.1", ymawky.http_port), timeout=10)
            break
        except OSError:
            assert time.monotonic() < deadline, "the server never listened"
            time.sleep(0.1)
    with s:
        s.sendall(b"GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
    assert parse_response(raw)[0] == 200


def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, str(ROOT / "run_emulated.py"), "--port", "1", "--gdb", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 66
    assert done.stderr.strip().splitlines() == [
        f"run_emulated.py: --gdb {port}: cannot listen on 127.0.0.1:{port} (Address already in use)"
    ]


def test_random_packets_never_end_the_session(ymawky: Debuggee) -> None:
    """A bounded fuzz: 400 packets of random letters, hex and punctuation, each answered."""
    import random

    rng = random.Random(16)
    alphabet = b"mMgGpPXZzHTqQvbsc?:;,=0123456789abcdefxyz-+*}"
    safe = (b"c", b"s", b"C", b"S", b"D", b"k", b"v", b"b", b"vCont;c", b"vCont;s", b"vKill")
    c = Rsp(ymawky.gdb_port)
    sent = 0
    while sent < 400:
        body = bytes(rng.choice(alphabet) for _ in range(rng.randrange(1, 40)))
        if body.startswith(safe):
            continue  # resuming, detaching or killing is not what this test is about
        c.packet(body)
        if c.ack() == b"-":  # a run-length marker or escape that does not decode: refused, no reply
            assert b"*" in body or b"}" in body, body
            sent += 1
            continue
        reply = c.reply()
        assert (
            reply == b""
            or reply.startswith((b"E", b"O", b"m", b"l", b"Q", b"T"))
            or all(ch in b"0123456789abcdef" for ch in reply)
        ), (body, reply)
        sent += 1
    assert c.ask(b"?").startswith(b"T05")
    c.close()


def test_each_request_is_a_new_thread(ymawky: Debuggee, symbols: dict[str, int]) -> None:

    c = Rsp(ymawky.gdb_port)
    server = int(c.ask(b"?").split(b"thread:")[1].split(b";")[0], 16)
    assert c.ask(b"Z0,%x,4" % symbols["do_get"]) == b"OK"
    answers: list[bytes] = []
    first = get_in_background(ymawky.http_port, "/hello.txt", answers)
    stop = c.ask(b"vCont;c")
    child1 = int(stop.split(b"thread:")[1].split(b";")[0], 16)
    assert child1 != server and c.registers()[32] == symbols["do_get"]
    assert set(c.ask(b"qfThreadInfo")[1:].split(b",")) == {b"%x" % server, b"%x" % child1}
    c.packet(b"vCont;c")
    assert c.ack() == b"+"
    first.join(30)
    assert len(answers) == 1 and parse_response(answers[0])[0] == 200  # the first child answered
    second = get_in_background(ymawky.http_port, "/hello.txt", answers)
    stop = c.reply()  # the next child, at the same breakpoint
    child2 = int(stop.split(b"thread:")[1].split(b";")[0], 16)
    assert child2 not in (server, child1) and c.registers()[32] == symbols["do_get"]
    names = c.ask(b"qXfer:threads:read::0,fff")
    assert b'name="0.2"' in names
    assert c.ask(b"D") == b"OK"
    second.join(30)
    assert len(answers) == 2 and parse_response(answers[1])[2] == (ROOT / "www" / "hello.txt").read_bytes()
    c.close()


def test_a_plain_pip_install_ships_the_stub() -> None:
    import tomllib

    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    assert "emu.gdb" in packages  # listed by name: setuptools would leave the folder out
