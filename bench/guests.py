"""The guest programs of the micro-benchmarks (compute, syscall, fork) and how they are run."""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from common import ROOT
from servers import rss_kib

# ============================================================ guest programs
COMPUTE_INSNS_PER_LOOP = 7
COMPUTE_FIXED_INSNS = 7  # 4 before the loop, 3 for exit

COMPUTE = """
.globl _main
_main:
    adr     x9, loops
    ldr     x0, [x9]
    adr     x10, scratch
    mov     x1, #0
Lloop:                              // 7 instructions: ALU, a store and a load, the branch
    add     x1, x1, x0
    eor     x2, x1, x0, lsl #3
    str     x2, [x10]
    ldr     x3, [x10]
    add     x1, x1, x3
    sub     x0, x0, #1
    cbnz    x0, Lloop
Ldone:
    mov     x0, #0
    mov     x16, #1
    svc     #0x80
.p2align 14
data_start:
loops:   .quad 1
scratch: .quad 0
bss_start:
"""

GETPID_LOOP = """
.globl _main
_main:
    adr     x9, loops
    ldr     x19, [x9]
Lloop:
    mov     x16, #20                // getpid
    svc     #0x80
    sub     x19, x19, #1
    cbnz    x19, Lloop
Ldone:
    mov     x0, #0
    mov     x16, #1
    svc     #0x80
.p2align 14
data_start:
loops:   .quad 1
bss_start:
"""

FORK_LOOP = """
.globl _main
_main:
    adr     x9, loops
    ldr     x20, [x9]
Lloop:
    mov     x16, #2                 // fork
    svc     #0x80
    b.cs    Lfail
    cbnz    x1, Lchild              // x1 = 1 in the child
    mov     x1, #0                  // parent: wait4(pid, NULL, 0, NULL)
    mov     x2, #0
    mov     x3, #0
    mov     x16, #7
    svc     #0x80
    b.cs    Lfail
    sub     x20, x20, #1
    cbnz    x20, Lloop
    mov     x0, #0
    mov     x16, #1
    svc     #0x80
Lchild:
    mov     x0, #0
    mov     x16, #1
    svc     #0x80
Lfail:
    mov     x0, #1
    mov     x16, #1
    svc     #0x80
.p2align 14
data_start:
loops:   .quad 1
bss_start:
"""


def build_guest(source: str, name: str, tmp: Path):  # -> (Assembly, Image)
    from emu.assembler import assemble_text
    from emu.loader import load_macho
    from emu.macho import write_macho

    asm = assemble_text(source, f"{name}.s")
    exe = write_macho(asm, tmp / name)
    return asm, load_macho(exe)


def set_loops(uc, asm, image, n: int) -> None:
    uc.mem_write(asm.symbols["loops"] + image.slide, struct.pack("<Q", n))


def bare_unicorn(image, asm, n: int, hook: Callable | None) -> float:
    """The same bytes on a bare Uc: segments mapped, a stack, run to Ldone; seconds in emu_start."""
    from unicorn import UC_ARCH_ARM64, UC_HOOK_INTR, UC_MODE_ARM, UC_PROT_EXEC, UC_PROT_READ, UC_PROT_WRITE, Uc
    from unicorn import arm64_const as A

    PROT = {1: UC_PROT_READ, 2: UC_PROT_WRITE, 4: UC_PROT_EXEC}  # noqa: N806 - RWX text runs ~15 % slower
    uc = Uc(UC_ARCH_ARM64, UC_MODE_ARM)
    for seg in image.segments:  # with the segment's protections, as the Machine maps them
        if seg.vmsize and seg.prot:
            uc.mem_map(seg.vmaddr, seg.vmsize, sum(p for bit, p in PROT.items() if seg.prot & bit))
            if seg.data:
                uc.mem_write(seg.vmaddr, seg.data)
    uc.mem_map(0x1_6000_0000, 1 << 20)
    uc.reg_write(A.UC_ARM64_REG_SP, 0x1_6000_0000 + (1 << 19))
    set_loops(uc, asm, image, n)
    if hook is not None:
        uc.hook_add(UC_HOOK_INTR, hook)
    t0 = time.perf_counter()
    uc.emu_start(image.entry, asm.symbols["Ldone"] + image.slide)
    return time.perf_counter() - t0


def our_machine(image, asm, n: int, tmp: Path, trace_args: list[str] | None = None, warm: bool = False) -> float:
    """The same program in emu.machine.Machine (tracing from run_emulated.py's own flags); seconds in run()."""
    from emu.host import Host
    from emu.machine import Machine

    tracer = None
    if trace_args:
        from emu.trace import Tracer, add_arguments, options_from_args

        p = argparse.ArgumentParser()
        add_arguments(p)
        opts = options_from_args(p.parse_args(trace_args))
        tracer = Tracer(opts) if opts is not None else None
    m = Machine(image, Host(os.fspath(tmp)), ["bench"], assembly=asm, name="bench", tracer=tracer)
    set_loops(m.uc, asm, image, n)
    if warm:
        m.warm()
    t0 = time.perf_counter()
    status = m.run()
    elapsed = time.perf_counter() - t0
    if status != 0:
        raise RuntimeError(f"guest exited {status}")
    return elapsed


def timed(run: Callable[[int], float], target: float, reps: int, start: int = 1 << 10) -> tuple[int, float]:
    """Double n until one run takes ``target`` seconds, then the best of ``reps`` runs at that n."""
    n = start
    while True:
        t = run(n)
        if t >= target or n >= 1 << 34:
            break
        n *= 2 if t <= 0 or t * 2 >= target else min(64, max(2, int(target / t)))
    return n, min([t] + [run(n) for _ in range(reps - 1)])


@functools.lru_cache(maxsize=1)
def tracing_flags() -> tuple[bool, bool]:
    """(--strace, --trace) offered by run_emulated.py at the time of this run."""
    out = subprocess.run(
        [sys.executable, os.fspath(ROOT / "run_emulated.py"), "--help"], capture_output=True, text=True, timeout=60
    ).stdout
    return "--strace" in out, bool(re.search(r"--trace\b(?!-)", out))


# ============================================================ fork probe (its own process)
def fork_probe(cycles: int) -> int:
    import resource

    from emu.host import Host
    from emu.machine import Machine

    with tempfile.TemporaryDirectory(prefix="ymawky-fork-") as d:
        tmp = Path(d)
        asm, image = build_guest(FORK_LOOP, "bench-fork", tmp)
        m = Machine(image, Host(os.fspath(tmp)), ["bench"], assembly=asm, name="bench")
        set_loops(m.uc, asm, image, cycles)
        warmed = m.warm()  # as run_macho does before serving
        m.tree.spare_ready.wait(10)  # a server has its spare Cpu long before the first request
        t0 = time.perf_counter()
        status = m.run()
        secs = time.perf_counter() - t0
    if status != 0:
        print(f"fork loop exited {status}", file=sys.stderr)
        return 1
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {"cycles": cycles, "seconds": secs, "rss_kib": rss_kib(os.getpid()), "peak_rss_kib": peak, "warmed": warmed}
        )
    )
    return 0
