"""Glue for the command line: build ymawky's executable and run a Mach-O.

Owns: where the built executable is cached, and starting one Machine with
a Host rooted at the guest's folder.  Kept apart from run_emulated.py so
that tests reach the same code the command runs.
"""

from __future__ import annotations

import hashlib
import os
import signal
import sys
from pathlib import Path

from emu.assembler import Assembly, assemble_file, cache_dir
from emu.elf_debug import write_elf_debug
from emu.host import Host
from emu.loader import load_macho
from emu.machine import Machine, Terminated
from emu.macho import build_macho
from emu.trace import TraceOptions, Tracer


def debug_path(out: Path) -> Path:
    """Where ``--build OUT`` puts the ELF symbol file for gdb: ``OUT.debug``."""
    return out.with_name(out.name + ".debug")


def build_ymawky(source: Path, out: Path | None = None) -> tuple[Path, Assembly]:
    """Assemble ``source`` and write its executable (cached by content when ``out`` is None).

    With ``out``, also ``debug_path(out)``; both name the source's folder in their
    DWARF, so a debugger finds ymawky.s from anywhere.  The cached executable names
    ``.`` instead: its bytes, and so the sha256 a recording carries, must not depend
    on where the checkout lies.
    """
    asm = assemble_file(source)
    comp_dir = str(source.resolve().parent) if out else "."
    image = build_macho(asm, identifier=out.name if out else "ymawky", comp_dir=comp_dir)
    built = out is not None
    if out is None:
        out = cache_dir() / f"ymawky-{hashlib.sha256(image).hexdigest()[:16]}"
        if out.exists():
            return out, asm
    out.parent.mkdir(parents=True, exist_ok=True)  # the cache, or --build t/ymawky on a fresh clone
    if built:
        write_elf_debug(asm, debug_path(out), comp_dir)
    tmp = out.with_name(f".{out.name}.{os.getpid()}")
    tmp.write_bytes(image)
    tmp.chmod(0o755)
    os.replace(tmp, out)
    return out, asm


def run_macho(
    path: Path,
    root: Path,
    argv: list[str],
    assembly: Assembly | None = None,
    strict: bool = False,
    slide: int = 0,
    trace: TraceOptions | None = None,
    record: Path | None = None,
    entropy_seed: int | None = None,
    control: Path | None = None,
    gdb: int | None = None,
) -> int:
    """Run an arm64 Mach-O until it exits; returns its exit status.

    ``trace``: what to trace (emu/trace.py); None or nothing asked = no hook at all.
    ``record``: log every syscall of every process into this folder (emu/record.py).
    ``entropy_seed``: getentropy gives the same bytes every run (tests; never for real use).
    ``control``: a Unix socket answering ps / kill for the guest's processes (emu/control.py).
    ``gdb``: the first process waits at its entry point for gdb on 127.0.0.1:``gdb`` (emu/gdb/).
    """
    image = load_macho(path, slide=slide)
    host = Host(os.fspath(root), entropy_seed=entropy_seed)
    tracer = Tracer(trace) if trace is not None and trace.wanted() else None
    machine = Machine(image, host, argv, assembly=assembly, strict=strict, name="ymawky-emu", tracer=tracer)
    if record is not None:
        from emu.record import Recorder

        machine.log = Recorder(
            record,
            machine,
            {
                "program": Path(image.path).name,
                "sha256": image.sha256,
                "slide": slide,
                "argv": machine.argv,
                "envp": machine.envp,
                "root": os.fspath(root),
                "strict": strict,
            },
        )
    machine.warm()
    handle = None
    if control is not None:
        from emu.control import Control

        handle = Control(control, machine.tree)
    server = None
    if gdb is not None:
        from emu.gdb.attach import attach_live

        server = attach_live(machine, gdb)
    # SIGTERM ends the server like Ctrl-C: children stopped, status 143
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        status = machine.run()
    finally:
        signal.signal(signal.SIGTERM, previous)
        if handle is not None:
            handle.close()
        if server is not None:
            server.close()
    if status and host.addr_in_use is not None:
        # the guest's own message cannot say which address, nor why: we know both
        where = host.addr_in_use
        name = f"[{where[0]}]:{where[1]}" if ":" in str(where[0]) else f"{where[0]}:{where[1]}"
        print(f"ymawky-emu: {name} is already in use (the guest's bind got EADDRINUSE)", file=sys.stderr)
    return status


def _terminate(signum: int, frame: object) -> None:
    raise Terminated
