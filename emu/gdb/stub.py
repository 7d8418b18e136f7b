"""The debugger's session: one gdb connection on a loopback socket, served on its own thread.

Owns: listening (127.0.0.1 only), reading packets (packets.py) and
answering each one from the Debugger (target.py): queries, registers,
memory, breakpoints, resuming and the stop replies.  Rules: every packet
gets an answer (``E..`` for bad arguments, an empty one for what we do not
know); nothing a client sends can raise out of the session; the
connection's end, like ``D``, lets every process run on.
"""

from __future__ import annotations

import os
import select
import socket
import sys
import threading
import traceback
from collections.abc import Callable

from emu.gdb.packets import (
    MAX_PACKET,
    Ack,
    Interrupt,
    Malformed,
    Packet,
    PacketError,
    Reader,
    frame,
    hex_bytes,
    hex_int,
    hex_text,
)
from emu.gdb.target import REG_BYTES, REGISTERS, Debugger, Stop, Thread

LOOPBACK = ("127.0.0.1", "localhost")
CLOSE_WAIT_S = 5.0  # at the end of the run: how long the session gets to finish
E_ARG, E_NOTHREAD, E_FAULT, E_INVAL = b"E01", b"E03", b"E0e", b"E16"  # errno-style codes
MAX_READ = (MAX_PACKET - 8) // 2  # memory bytes that fit one reply as hex
REG_TYPES = {"sp": "data_ptr", "pc": "code_ptr"}


class AddressError(ValueError):
    """--gdb names an address other than loopback."""


def parse_listen(text: str) -> int:
    """``PORT`` or ``127.0.0.1:PORT`` (``localhost:PORT``): the port, on loopback only."""
    host, _, port = text.rpartition(":")
    if host and host.strip("[]") not in LOOPBACK:
        raise AddressError(f"--gdb {text}: the debugger port listens on 127.0.0.1 only")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise AddressError(f"--gdb {text}: not a port in 1..65535")
    return int(port)


def target_xml() -> bytes:
    regs = "".join(
        f'<reg name="{n}" bitsize="{8 * size}" type="{REG_TYPES.get(n, "int")}"/>' for n, _, size in REGISTERS
    )
    return (
        '<?xml version="1.0"?><!DOCTYPE target SYSTEM "gdb-target.dtd"><target version="1.0">'
        f'<architecture>aarch64</architecture><feature name="org.gnu.gdb.aarch64.core">{regs}</feature></target>'
    ).encode()


def stop_reply(stop: Stop) -> bytes:
    if stop.exited is not None:
        return b"X%02x" % (stop.exited - 128) if stop.exited > 128 else b"W%02x" % (stop.exited & 0xFF)
    out = b"T%02xthread:%x;" % (stop.signal, stop.tid)
    if stop.watch is not None:
        out += b"%s:%x;" % (stop.watch[0].encode(), stop.watch[1])
    if stop.replaylog is not None:
        out += b"replaylog:%s;" % stop.replaylog.encode()
    return out


class Session:
    """One debugger connection; ``serve`` answers packets until detach, kill or disconnect."""

    def __init__(self, debugger: Debugger, conn: socket.socket) -> None:
        self.dbg, self.conn = debugger, conn
        self.reverse = debugger.timeline is not None  # a replay: it also runs backwards
        self.reader = Reader()
        self.acks = True
        self.g_tid = self.c_tid = 0  # 0 / -1: any thread
        self.done = False
        self.last: Stop | None = debugger.stop

    # ------------------------------------------------------------ I/O
    def serve(self) -> None:
        try:
            self.dbg.hold_all()  # the first process is at its gate (its pc the entry point) before any answer
            while not self.done:
                data = self.conn.recv(65536)
                if not data:
                    break
                self._take(data)
        except OSError:
            pass
        finally:
            if not self.done:
                self.dbg.detach()  # the debugger went away: everything runs on
            self.conn.close()

    def _take(self, data: bytes) -> None:
        for ev in self.reader.feed(data):
            if isinstance(ev, Malformed):
                self.conn.sendall(b"-")
            elif isinstance(ev, Packet):
                ack = b"+" if self.acks else b""
                if self.acks and ev.data[:1] in (b"c", b"s", b"C", b"S", b"b", b"v"):
                    self.conn.sendall(ack)  # the reply may take long: the debugger knows it arrived
                    ack = b""
                reply = self.answer(ev.data)
                self.conn.sendall(ack + (frame(reply) if reply is not None else b""))
                if self.done:
                    return
            elif isinstance(ev, Interrupt):
                self.dbg.interrupt()
            elif isinstance(ev, Ack):
                pass  # we never resend: the link is a reliable socket

    def _wait_stop(self) -> bytes:
        """After a resume: the stop reply, while Ctrl-C (0x03) from the debugger still interrupts."""

        def interrupted() -> bool:
            ready, _, _ = select.select([self.conn], [], [], 0)
            if ready:
                data = self.conn.recv(4096)
                if not data:
                    raise ConnectionResetError
                for ev in self.reader.feed(data):
                    if isinstance(ev, Interrupt):
                        self.dbg.interrupt()
            return False

        stop = self.dbg.wait_stop(interrupted)
        assert stop is not None
        self.last = stop
        self.g_tid = self.c_tid = stop.tid
        if stop.exited is not None:
            self.done = True
        return stop_reply(stop)

    # ------------------------------------------------------------ packets
    def answer(self, data: bytes) -> bytes | None:
        """The reply to one packet (None: no reply, as after ``k``)."""
        try:
            return self._dispatch(data)
        except PacketError:
            return E_ARG
        except (ValueError, IndexError, KeyError, OverflowError):
            return E_ARG
        except (OSError, ConnectionError):
            raise
        except Exception:  # noqa: BLE001 - our bug: said once, and the session goes on
            print(f"gdb stub: internal error answering {data[:40]!r}:", file=sys.stderr)
            traceback.print_exc()
            return E_ARG

    def _dispatch(self, data: bytes) -> bytes | None:
        if not data:
            return b""
        head, rest = data[:1], data[1:]
        simple: dict[bytes, Callable[[bytes], bytes | None]] = {
            b"?": lambda _r: stop_reply(self.last) if self.last else b"S05",
            b"g": lambda _r: self._read_all(),
            b"G": self._write_all,
            b"p": self._read_one,
            b"P": self._write_one,
            b"m": self._read_mem,
            b"M": self._write_mem,
            b"X": self._write_bin,
            b"Z": lambda r: self._point(r, True),
            b"z": lambda r: self._point(r, False),
            b"H": self._set_thread,
            b"T": lambda r: b"OK" if self.dbg.thread(hex_int(r)) else E_NOTHREAD,
            b"c": lambda _r: self._resume({}, "run"),
            b"C": lambda _r: self._resume({}, "run"),
            b"s": lambda _r: self._resume({self._tid(self.c_tid): "step"}, None),
            b"S": lambda _r: self._resume({self._tid(self.c_tid): "step"}, None),
            b"D": self._detach,
            b"k": self._kill,
        }
        if head == b"b" and rest in (b"s", b"c"):
            if not self.reverse:
                return b""
            mode = "reverse-step" if rest == b"s" else "reverse-continue"
            return self._resume({self._tid(self.c_tid): mode}, None)
        if head == b"q" or head == b"Q":
            return self._query(data)
        if head == b"v":
            return self._v(data)
        handler = simple.get(head)
        return handler(rest) if handler is not None else b""

    def _query(self, data: bytes) -> bytes:
        if data.startswith(b"qSupported"):
            feats = f"PacketSize={MAX_PACKET:x};qXfer:features:read+;qXfer:threads:read+;QStartNoAckMode+"
            feats += ";vContSupported+"
            if self.reverse:
                feats += ";ReverseStep+;ReverseContinue+"
            return feats.encode()
        if data == b"QStartNoAckMode":
            self.acks = False
            return b"OK"
        if data == b"qC":
            return b"QC%x" % self._tid(self.g_tid)
        if data == b"qAttached":
            return b"1"
        if data == b"qfThreadInfo":
            return b"m" + b",".join(b"%x" % t.tid for t in self.dbg.order) if self.dbg.order else b"l"
        if data == b"qsThreadInfo":
            return b"l"
        if data.startswith(b"qThreadExtraInfo,"):
            t = self.dbg.thread(hex_int(data.split(b",", 1)[1]))
            return hex_text(t.what) if t else E_NOTHREAD
        if data.startswith(b"qXfer:features:read:target.xml:"):
            return self._xfer(target_xml(), data.rsplit(b":", 1)[1])
        if data.startswith(b"qXfer:threads:read::"):
            return self._xfer(self._threads_xml(), data.rsplit(b":", 1)[1])
        if data.startswith(b"qSymbol"):
            return b"OK"
        if data.startswith(b"qRcmd,"):
            return self._monitor(hex_bytes(data[6:]).decode("utf-8", "replace").strip())
        return b""

    def _monitor(self, command: str) -> bytes:
        """gdb's ``monitor``: ``when`` gives a replay's clock (instructions since its start), as rr's does."""
        timeline = self.dbg.timeline
        if command == "when" and timeline is not None:
            return hex_text(f"instruction {timeline.now}\n")
        return b""

    def _v(self, data: bytes) -> bytes:
        if data == b"vCont?":
            return b"vCont;c;C;s;S"  # going back has packets of its own (bs, bc), announced in qSupported
        if data.startswith(b"vCont;"):
            modes: dict[int, str] = {}
            others: str | None = None
            for action in data[6:].split(b";"):
                what, _, tid = action.partition(b":")
                mode = {b"c": "run", b"s": "step"}.get(what[:1])
                if mode is None:
                    return E_INVAL
                if not tid or tid == b"-1":
                    others = others or mode
                else:
                    modes.setdefault(hex_int(tid), mode)
            return self._resume(modes, others)
        if data.startswith(b"vKill"):
            return self._kill(b"")
        return b""  # vMustReplyEmpty and everything else we do not know

    def _xfer(self, doc: bytes, span: bytes) -> bytes:
        off, _, n = span.partition(b",")
        start, length = hex_int(off), min(hex_int(n), MAX_PACKET - 8)
        chunk = doc[start : start + length]
        return (b"m" if start + length < len(doc) else b"l") + chunk

    def _threads_xml(self) -> bytes:
        rows = "".join(f'<thread id="{t.tid:x}" name="{t.place}">{t.what}</thread>' for t in self.dbg.order)
        return f'<?xml version="1.0"?><threads>{rows}</threads>'.encode()

    # ------------------------------------------------------------ threads
    def _tid(self, tid: int) -> int:
        if tid > 0 and self.dbg.thread(tid):
            return tid
        return self.last.tid if self.last is not None else (self.dbg.order[0].tid if self.dbg.order else 0)

    def _thread(self) -> Thread:
        t = self.dbg.thread(self._tid(self.g_tid))
        if t is None:
            raise PacketError("no such thread")
        return t

    def _set_thread(self, rest: bytes) -> bytes:
        which, tid_text = rest[:1], rest[1:]
        tid = -1 if tid_text == b"-1" else hex_int(tid_text)
        if tid > 0 and self.dbg.thread(tid) is None:
            return E_NOTHREAD
        if which == b"g":
            self.g_tid = tid
        elif which == b"c":
            self.c_tid = tid
        else:
            return E_ARG
        return b"OK"

    def _resume(self, modes: dict[int, str], others: str | None) -> bytes:
        if self.last is not None and self.last.exited is not None:
            return stop_reply(self.last)
        waiting = self.dbg.resume(modes, others)
        if waiting is not None:
            self.last = waiting
            return stop_reply(waiting)
        return self._wait_stop()

    def _detach(self, _rest: bytes) -> bytes:
        self.dbg.detach()
        self.done = True
        return b"OK"

    def _kill(self, _rest: bytes) -> None:
        self.done = True
        self.dbg.kill()
        return None

    # ------------------------------------------------------------ registers and memory
    def _read_all(self) -> bytes:
        values = self.dbg.read_registers(self._thread())
        return b"".join(v.to_bytes(n, "little").hex().encode() for v, n in zip(values, REG_BYTES, strict=True))

    def _write_all(self, rest: bytes) -> bytes:
        raw = hex_bytes(rest)
        if len(raw) != sum(REG_BYTES):
            return E_ARG
        t, at = self._thread(), 0
        for i, n in enumerate(REG_BYTES):
            self.dbg.write_register(t, i, int.from_bytes(raw[at : at + n], "little"))
            at += n
        return b"OK"

    def _read_one(self, rest: bytes) -> bytes:
        n = hex_int(rest)
        if n >= len(REG_BYTES):
            return b""  # gdb asks for registers it was not told of: "unavailable"
        v = self.dbg.read_registers(self._thread())[n]
        return v.to_bytes(REG_BYTES[n], "little").hex().encode()

    def _write_one(self, rest: bytes) -> bytes:
        num, _, val = rest.partition(b"=")
        n, raw = hex_int(num), hex_bytes(val)
        if n >= len(REG_BYTES) or len(raw) != REG_BYTES[n]:
            return E_ARG
        self.dbg.write_register(self._thread(), n, int.from_bytes(raw, "little"))
        return b"OK"

    @staticmethod
    def _addr_len(text: bytes) -> tuple[int, int]:
        a, _, n = text.partition(b",")
        return hex_int(a), hex_int(n)

    def _read_mem(self, rest: bytes) -> bytes:
        addr, n = self._addr_len(rest)
        data = self.dbg.read_memory(self._thread(), addr, min(n, MAX_READ))
        return data.hex().encode() if data or n == 0 else E_FAULT

    def _write_mem(self, rest: bytes) -> bytes:
        where, _, hexdata = rest.partition(b":")
        addr, n = self._addr_len(where)
        data = hex_bytes(hexdata)
        if len(data) != n:
            return E_ARG
        return b"OK" if self.dbg.write_memory(self._thread(), addr, data) else E_FAULT

    def _write_bin(self, rest: bytes) -> bytes:
        where, _, data = rest.partition(b":")
        addr, n = self._addr_len(where)
        if len(data) != n:
            return E_ARG
        return b"OK" if self.dbg.write_memory(self._thread(), addr, data) else E_FAULT

    def _point(self, rest: bytes, insert: bool) -> bytes:
        kind_t, addr_t, size_t = (rest.split(b";")[0].split(b",") + [b"", b""])[:3]
        kind, addr = hex_int(kind_t), hex_int(addr_t)
        length = hex_int(size_t) if size_t else 4
        if kind > 4:
            return b""
        ok = self.dbg.insert(kind, addr, length) if insert else self.dbg.remove(kind, addr)
        return b"OK" if ok else E_INVAL


class Server:
    """Listens on 127.0.0.1:``port`` and serves one debugger connection on a thread."""

    def __init__(self, debugger: Debugger, port: int, name: str = "ymawky-emu") -> None:
        self.dbg = debugger
        try:
            self.sock = socket.create_server(("127.0.0.1", port))
        except OSError as e:
            why = os.strerror(e.errno) if e.errno else str(e)
            raise OSError(f"--gdb {port}: cannot listen on 127.0.0.1:{port} ({why})") from None
        self.port = self.sock.getsockname()[1]
        print(f"{name}: waiting for gdb on 127.0.0.1:{self.port} (target remote :{self.port})", file=sys.stderr)
        self.thread = threading.Thread(target=self._run, name="gdb stub", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.sock.settimeout(None)
            conn, _ = self.sock.accept()
        except OSError:
            return
        finally:
            self.sock.close()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        Session(self.dbg, conn).serve()

    def close(self) -> None:
        """The run is over: stop listening, and let the session send its last reply (W or X)."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes an accept still waiting (close alone does not)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(CLOSE_WAIT_S)
