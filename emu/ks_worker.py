"""The Keystone worker: a separate process that assembles on request.

Keystone 0.9.2 crashes (LLVM aborts) and loops forever on some input, so
it never runs inside the emulator: emu/assembler.py starts this module as
a child process (``python -m emu.ks_worker``, portable: no fork) and keeps
it for the next request, replacing it when it dies or has to be stopped.

Protocol on stdin/stdout, little-endian: a request is ``u64 base, u32 n``
and n bytes of source; the answer is one tag byte (``K`` code, ``E``
Keystone's message), ``u32 n`` and n bytes.
"""

from __future__ import annotations

import struct
import sys

REQUEST = struct.Struct("<QI")
ANSWER = struct.Struct("<cI")
SILENT = "Keystone cannot read this line (a number such as 0o17 or 1_000? write 017 or 0xf)"


def _read(stream: object, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = stream.read(n - len(data))  # type: ignore[attr-defined]
        if not chunk:
            raise EOFError
        data += chunk
    return data


def main() -> None:
    import keystone

    ks = keystone.Ks(keystone.KS_ARCH_ARM64, keystone.KS_MODE_LITTLE_ENDIAN)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            base, n = REQUEST.unpack(_read(stdin, REQUEST.size))
            source = _read(stdin, n)
        except EOFError:
            return  # the emulator has gone: so do we
        try:
            enc, statements = ks.asm(source, base, as_bytes=True)
            tag, body = b"K", enc or b""
            if not statements and source.strip():
                # Keystone gives up on some input without a word (a number it cannot read,
                # such as 0o17 or 1_000): no code and no statements, as if the source were empty
                tag, body = b"E", SILENT.encode()
        except keystone.KsError as e:
            tag, body = b"E", str(e).encode()
        stdout.write(ANSWER.pack(tag, len(body)) + body)
        stdout.flush()


if __name__ == "__main__":
    main()
