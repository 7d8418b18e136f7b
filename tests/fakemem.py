"""Guest memory for handler tests that need no Unicorn: one bytearray, the rest unmapped."""

from __future__ import annotations

import struct


class Unmapped(Exception):
    """An access outside the fake's one region (a real one would be BadAddress)."""


class FakeMem:
    """``size`` bytes at ``base``; anything outside raises Unmapped.  Keeps each write's (addr, n)."""

    def __init__(self, base: int, size: int) -> None:
        self.base, self.buf = base, bytearray(size)
        self.writes: list[tuple[int, int]] = []

    def _at(self, addr: int, n: int) -> int:
        if addr < self.base or addr + n > self.base + len(self.buf):
            raise Unmapped(hex(addr))
        return addr - self.base

    def read(self, addr: int, n: int) -> bytes:
        i = self._at(addr, n)
        return bytes(self.buf[i : i + n])

    def write(self, addr: int, data: bytes) -> None:
        i = self._at(addr, len(data))
        self.buf[i : i + len(data)] = data
        self.writes.append((addr, len(data)))

    def u32(self, addr: int) -> int:
        return struct.unpack("<I", self.read(addr, 4))[0]

    def i32(self, addr: int) -> int:
        return struct.unpack("<i", self.read(addr, 4))[0]

    def u64(self, addr: int) -> int:
        return struct.unpack("<Q", self.read(addr, 8))[0]

    def cstr(self, addr: int, limit: int) -> bytes:
        i = self._at(addr, 1)
        end = self.buf.find(b"\0", i, i + limit)
        if end < 0:
            raise Unmapped(f"no NUL within {limit} bytes of {addr:#x}")
        return bytes(self.buf[i:end])
