#!/usr/bin/env python3
"""Guest instructions per second under each tracing option, in one run.

The same guest (copies of ymawky's first utoa and copy loops, and one getpid syscall per
~1400 instructions) runs: on bare Unicorn with only a syscall hook; in a
Machine with no tracing; with --strace; with an instruction trace
without register values (block hooks); with register values; with
registers and memory; with coverage; with --timeline and --profile; and
with a trace window (--trace-from mark) over the last 1 % of the loops,
where the guest calls ``mark`` once, and with one that never opens (the
speed outside a window).  Prints million instructions per
second, the ratio to bare Unicorn and the ratio to the untraced Machine
(issue 17's targets: timeline and profile >= 5 M instructions/s, a 1 %
window >= 0.8x untraced).  Traces go to a temporary folder.

    .venv/bin/python bench/trace_speed.py [--loops N] [--repeat R]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, os.fspath(HERE.parent))

from unicorn import UC_ARCH_ARM64, UC_HOOK_BLOCK, UC_HOOK_INTR, UC_MODE_ARM, Uc  # noqa: E402
from unicorn import arm64_const as A  # noqa: E402

from emu.assembler import Assembly, assemble_text  # noqa: E402
from emu.host import Host  # noqa: E402
from emu.loader import load_macho  # noqa: E402
from emu.machine import Machine  # noqa: E402
from emu.macho import build_macho  # noqa: E402
from emu.trace import TraceOptions, Tracer  # noqa: E402

GUEST = """
.globl _main
_main:
    ldr     x20, =LOOPS
    ldr     x21, =WINDOW
Louter:
    adr     x0, buf
    ldr     x1, =1234567890123
    bl      utoa
    adr     x0, buf2
    adr     x1, buf
    mov     x2, #256
    bl      copy
    mov     x16, #20                     // getpid
    svc     #0x80
    cmp     x20, x21
    b.ne    Lnot_yet
    bl      mark                         // the last WINDOW loops begin: --trace-from mark
Lnot_yet:
    sub     x20, x20, #1
    cbnz    x20, Louter
    mov     x0, #0
    mov     x16, #1                      // exit
    svc     #0x80

mark:
    ret

never:                                   // never called: a window that never opens
    ret

copy:
    cbz     x2, Lcopy_done
    ldrb    w9, [x1], #1
    strb    w9, [x0], #1
    sub     x2, x2, #1
    b       copy
Lcopy_done:
    ret

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
.ltorg
.p2align 14
data_start:
bss_start:
buf:  .zero 512
buf2: .zero 512
"""


def build(loops: int, tmp: Path) -> tuple[Path, Assembly]:
    window = max(1, loops // 100)  # 1 % of the run
    asm = assemble_text(f".equ LOOPS, {loops}\n.equ WINDOW, {window}\n" + GUEST, "bench-guest.s")
    exe = tmp / "bench-guest"
    exe.write_bytes(build_macho(asm, identifier="bench-guest"))
    return exe, asm


def count_instructions(exe: Path, asm: Assembly, tmp: Path) -> int:
    """Instructions the guest executes (a block hook counts them once)."""
    m = Machine(load_macho(exe), Host(os.fspath(tmp)), ["bench"], assembly=asm)
    total = [0]

    def on_block(uc: Uc, addr: int, size: int, _d: object) -> None:
        total[0] += size // 4

    m.uc.hook_add(UC_HOOK_BLOCK, on_block)
    m.run()
    return total[0]


def run_bare(exe: Path) -> float:
    """Bare Unicorn: the same bytes, a minimal syscall hook, nothing else."""
    image = load_macho(exe)
    uc = Uc(UC_ARCH_ARM64, UC_MODE_ARM)
    for seg in image.segments:
        if seg.vmsize and seg.vmaddr:
            uc.mem_map(seg.vmaddr, seg.vmsize)
            if seg.data:
                uc.mem_write(seg.vmaddr, seg.data)
    uc.mem_map(0x1_6000_0000, 1 << 20)
    uc.reg_write(A.UC_ARM64_REG_SP, 0x1_6000_0000 + (1 << 19))

    def on_intr(uc: Uc, intno: int, _d: object) -> None:
        if uc.reg_read(A.UC_ARM64_REG_X16) == 1:
            uc.emu_stop()
        else:
            uc.reg_write(A.UC_ARM64_REG_X0, 4242)

    uc.hook_add(UC_HOOK_INTR, on_intr)
    t = time.perf_counter()
    uc.emu_start(image.entry, 1)
    return time.perf_counter() - t


def run_machine(exe: Path, asm: Assembly, tmp: Path, opts: TraceOptions | None) -> float:
    tracer = Tracer(opts) if opts is not None else None
    m = Machine(load_macho(exe), Host(os.fspath(tmp)), ["bench"], assembly=asm, tracer=tracer)
    m.warm()
    t = time.perf_counter()
    status = m.run()
    elapsed = time.perf_counter() - t
    assert status == 0, status
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loops", type=int, default=2000, help="outer loops (~1400 instructions each)")
    ap.add_argument("--repeat", type=int, default=3, help="best of R runs per configuration")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        exe, asm = build(args.loops, tmp)
        n = count_instructions(exe, asm, tmp)
        modes: list[tuple[str, TraceOptions | None]] = [
            ("no tracing", None),
            ("--strace FILE", TraceOptions(strace=os.fspath(tmp / "s.strace"))),
            ("--trace --no-trace-regs", TraceOptions(trace_dir=tmp / "t0", regs=False)),
            ("--trace (registers)", TraceOptions(trace_dir=tmp / "t1")),
            ("--trace --trace-mem", TraceOptions(trace_dir=tmp / "t2", mem=True)),
            ("--trace-format jsonl", TraceOptions(trace_dir=tmp / "t3", fmt="jsonl")),
            ("--coverage FILE", TraceOptions(coverage=tmp / "c.info")),
            ("--timeline FILE", TraceOptions(timeline=tmp / "tl.json")),
            ("--profile FILE", TraceOptions(profile=tmp / "p.folded")),
            ("--profile speedscope", TraceOptions(profile=tmp / "p.json", profile_format="speedscope")),
            ("--trace, 1 % window", TraceOptions(trace_dir=tmp / "w0", start="mark")),
            ("--no-trace-regs, 1 % window", TraceOptions(trace_dir=tmp / "w3", regs=False, start="mark")),
            ("--timeline, 1 % window", TraceOptions(timeline=tmp / "w1.json", start="mark")),
            ("--profile, 1 % window", TraceOptions(profile=tmp / "w2.folded", start="mark")),
            ("--trace, window not reached", TraceOptions(trace_dir=tmp / "n0", start="never")),
            ("--timeline, not reached", TraceOptions(timeline=tmp / "n1.json", start="never")),
        ]
        bare = min(run_bare(exe) for _ in range(args.repeat))
        rows = [("bare Unicorn", bare)]
        for name, opts in modes:
            rows.append((name, min(run_machine(exe, asm, tmp, opts) for _ in range(args.repeat))))
        untraced = rows[1][1]
        print(f"{n} guest instructions, {args.loops} syscalls; best of {args.repeat}")
        print(f"{'configuration':<26} {'M insn/s':>10} {'vs bare':>9} {'vs untraced':>12}")
        for name, secs in rows:
            print(f"{name:<26} {n / secs / 1e6:>10.2f} {bare / secs:>9.3f} {untraced / secs:>12.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
