"""Run a small assembly program in the emulator and look at what it left.

A test writes only the interesting part: the body of ``_main`` (and, if it
needs them, read-only texts and writable data).  The prelude gives it
``SYSCALL num`` and ``RECORD``: RECORD stores x0, x1 and the carry flag,
exactly as the trap left them, into the next slot of ``results``, so the
test can assert what a Mac would have put in the registers (``ok(v)`` and
``err(errno)`` spell the two shapes).  Every syscall of the pinned
syscalls.master excerpt (tests/syscalls_master.py) is named for it:
``SYSCALL SYS_read``.

    run = run_guest('''
        mov x0, #1
        adr x1, msg
        mov x2, #3
        SYSCALL 4
        RECORD
    ''', text='msg: .ascii "hi\\n"')
    assert run.results[0] == (3, 0, False)
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

from syscalls_master import master_rows, user_name

from emu.assembler import Assembly, assemble_text
from emu.host import Host
from emu.loader import load_macho
from emu.machine import Machine
from emu.macho import build_macho

# every syscall a Mac has that the pinned syscalls.master excerpt holds, by its name: SYS_read ...
SYS_EQUS = "".join(f".equ SYS_{user_name(name)}, {num}\n" for num, (_, name, _) in sorted(master_rows().items()))

PRELUDE = (
    SYS_EQUS
    + """
.macro SYSCALL num
    mov     x16, #\\num
    svc     #0x80
.endm
.macro RECORD
    str     x30, [sp, #-16]!
    bl      record
    ldr     x30, [sp], #16
.endm
.macro LOAD_ADDR reg, sym
    adr     \\reg, \\sym
.endm
.globl _main
_main:
"""
)

EPILOGUE = """
    mov     x0, #0
    mov     x16, #1
    svc     #0x80

// record: results[rec_count++] = {x0, x1, carry}; keeps every register but x9-x13 (RECORD keeps lr)
record:
    mrs     x9, nzcv
    ubfx    x9, x9, #29, #1
    adr     x10, rec_count
    ldr     x11, [x10]
    adr     x12, results
    mov     x13, #24
    madd    x12, x11, x13, x12
    str     x0, [x12]
    str     x1, [x12, #8]
    str     x9, [x12, #16]
    add     x11, x11, #1
    str     x11, [x10]
    ret
.ltorg
"""

MAX_RESULTS = 64


def ok(v: int = 0, v2: int = 0) -> tuple[int, int, bool]:
    """Success as Darwin returns it: carry clear, x0 = ``v``, x1 = ``v2``."""
    return (v, v2, False)


def err(e: int) -> tuple[int, int, bool]:
    """Failure as Darwin returns it: carry set, x0 = the Darwin errno, x1 = 0."""
    return (e, 0, True)


class InspectableHost(Host):
    """A Host whose first process keeps its descriptors open after it exits, so that a
    test can look at the host side of what the guest made (a socket's options, its
    address); a forked child's are closed at its exit, as always."""

    keep = True

    def fork(self) -> Host:
        child = super().fork()
        child.keep = False  # type: ignore[attr-defined]
        return child

    def close_all(self) -> None:
        if not self.keep:
            super().close_all()


@dataclass
class GuestRun:
    status: int
    machine: Machine
    asm: Assembly

    def addr(self, label: str) -> int:
        return self.asm.symbols[label] + self.machine.image.slide

    def read(self, label: str, n: int, offset: int = 0) -> bytes:
        return bytes(self.machine.uc.mem_read(self.addr(label) + offset, n))

    def u64(self, label: str, offset: int = 0) -> int:
        return struct.unpack("<Q", self.read(label, 8, offset))[0]

    @property
    def results(self) -> list[tuple[int, int, bool]]:
        n = self.u64("rec_count")
        raw = self.read("results", 24 * n)
        return [(a, b, bool(c)) for a, b, c in struct.iter_unpack("<QQQ", raw)]


def guest_source(body: str, text: str = "", data: str = "", bss: str = "") -> str:
    return (
        PRELUDE
        + body
        + EPILOGUE
        + "\n"
        + text
        + "\n.p2align 14\ndata_start:\n"
        + f"rec_count: .quad 0\nresults: .zero {24 * MAX_RESULTS}\n"
        + data
        + "\nbss_start:\nscratch: .zero 4096\n"
        + bss
        + "\n"
    )


def run_guest(
    body: str,
    text: str = "",
    data: str = "",
    bss: str = "",
    root: Path | None = None,
    argv: list[str] | None = None,
    slide: int = 0,
    strict: bool = False,
    tmp: Path | None = None,
) -> GuestRun:
    """Assemble, write, load and run a guest; returns what it left behind."""
    asm = assemble_text(guest_source(body, text, data, bss), "guest.s")
    exe = (tmp or Path(os.environ.get("TMPDIR", "/tmp"))) / f"guest-{os.getpid()}-{id(asm)}"
    exe.write_bytes(build_macho(asm, identifier=exe.name))
    try:
        image = load_macho(exe, slide=slide)
    finally:
        exe.unlink()
    host = InspectableHost(os.fspath(root or Path.cwd()))
    machine = Machine(image, host, argv or ["guest"], assembly=asm, strict=strict, name="guest")
    status = machine.run()
    return GuestRun(status, machine, asm)


def record_guest(asm: Assembly, folder: Path) -> tuple[GuestRun, Path]:
    """Run an assembled guest under --record into ``folder``/rec (root: ``folder``):
    (the run, its executable, for replaying the recording)."""
    from emu.record import Recorder

    exe = folder / "guest"
    exe.write_bytes(build_macho(asm, identifier="guest"))
    image = load_macho(exe)
    machine = Machine(image, Host(str(folder)), ["guest"], assembly=asm, name="guest")
    machine.log = Recorder(
        folder / "rec",
        machine,
        {
            "program": "guest",
            "sha256": image.sha256,
            "slide": 0,
            "argv": machine.argv,
            "envp": machine.envp,
            "root": str(folder),
            "strict": False,
        },
    )
    return GuestRun(machine.run(), machine, asm), exe
