"""GDB remote protocol framing, with no I/O (in the manner of h11).

Owns: turning received bytes into events (a packet's payload, Ctrl-C,
an ack) and payloads into framed bytes: ``$payload#cs``, the two-hex-digit
checksum modulo 256, ``}``-escapes (byte XOR 0x20) and run-length
expansion on input.  It does not know what a packet means (stub.py does).

Rules: a packet longer than ``MAX_PACKET`` or with a bad checksum is
reported as ``Malformed`` (the session answers ``-``) and dropped; bytes
outside a packet other than ``+``, ``-`` and 0x03 are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_PACKET = 0x4000  # the PacketSize we announce in qSupported; a longer packet is refused
INTERRUPT = 0x03
ESCAPE = ord("}")
_SPECIAL = frozenset(b"$#}*")


class PacketError(Exception):
    """A packet whose arguments cannot be read: the reply is an error (``E..``)."""


@dataclass(frozen=True)
class Packet:
    data: bytes


@dataclass(frozen=True)
class Malformed:
    why: str


@dataclass(frozen=True)
class Interrupt:
    pass


@dataclass(frozen=True)
class Ack:
    ok: bool


Event = Packet | Malformed | Interrupt | Ack


def checksum(data: bytes) -> int:
    return sum(data) & 0xFF


def escape(data: bytes) -> bytes:
    out = bytearray()
    for b in data:
        if b in _SPECIAL:
            out += bytes((ESCAPE, b ^ 0x20))
        else:
            out.append(b)
    return bytes(out)


def frame(payload: bytes) -> bytes:
    """``payload`` as one packet on the wire (escaped; no run-length encoding is sent)."""
    body = escape(payload)
    return b"$" + body + b"#" + b"%02x" % checksum(body)


def unescape(body: bytes) -> bytes:
    """The payload of a received packet body: ``}`` escapes undone, ``*`` runs expanded."""
    out = bytearray()
    i = 0
    while i < len(body):
        b = body[i]
        if b == ESCAPE:
            if i + 1 >= len(body):
                raise PacketError("escape at the end of the packet")
            out.append(body[i + 1] ^ 0x20)
            i += 2
        elif b == ord("*"):
            if not out or i + 1 >= len(body):
                raise PacketError("run-length marker without a byte to repeat")
            n = body[i + 1] - 29
            if n < 3 or len(out) + n > MAX_PACKET:
                raise PacketError("bad run length")
            out += bytes((out[-1],)) * n
            i += 2
        else:
            out.append(b)
            i += 1
    return bytes(out)


class Reader:
    """Bytes in (``feed``), events out, in order."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._in_packet = False

    def feed(self, data: bytes) -> list[Event]:
        events: list[Event] = []
        for b in data:
            if not self._in_packet:
                if b == ord("$"):
                    self._in_packet, self._buf = True, bytearray()
                elif b == INTERRUPT:
                    events.append(Interrupt())
                elif b in b"+-":
                    events.append(Ack(b == ord("+")))
                continue
            self._buf.append(b)
            hash_at = len(self._buf) - 3
            if hash_at >= 0 and self._buf[hash_at] == ord("#"):
                events.append(self._finish(bytes(self._buf)))
                self._in_packet = False
            elif len(self._buf) > 2 * MAX_PACKET + 3:  # escapes may double a payload
                events.append(Malformed(f"packet longer than {MAX_PACKET} bytes"))
                self._in_packet = False
        return events

    @staticmethod
    def _finish(raw: bytes) -> Event:
        body, cs = raw[:-3], raw[-2:]
        try:
            want = int(cs, 16)
        except ValueError:
            return Malformed("checksum is not hex")
        if checksum(body) != want:
            return Malformed(f"checksum {cs.decode(errors='replace')}, computed {checksum(body):02x}")
        try:
            data = unescape(body)
        except PacketError as e:
            return Malformed(str(e))
        if len(data) > MAX_PACKET:
            return Malformed(f"packet longer than {MAX_PACKET} bytes")
        return Packet(data)


# ---------------------------------------------------------------- arguments


def hex_int(text: bytes | str) -> int:
    """A hex number argument (PacketError if it is not one, or absurdly long)."""
    s = text.decode("ascii", "replace") if isinstance(text, bytes) else text
    if not s or len(s) > 16 or any(c not in "0123456789abcdefABCDEF" for c in s):
        raise PacketError(f"not a hex number: {s[:20]!r}")
    return int(s, 16)


def hex_bytes(text: bytes) -> bytes:
    try:
        return bytes.fromhex(text.decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        raise PacketError("bad hex data") from None


def hex_text(text: str) -> bytes:
    """``text`` as gdb's hex-encoded string (qThreadExtraInfo, qRcmd output)."""
    return text.encode().hex().encode()
