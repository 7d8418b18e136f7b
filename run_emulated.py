#!/usr/bin/env python3
"""Run ymawky (or any arm64 macOS program that makes raw syscalls) emulated.

Owns: the command line only.  Serving assembles ymawky.s (cached), writes
the Mach-O, loads it and runs it; ``--macho`` runs a given executable.
Everything it does is reachable from tests through emu/ and syscalls/.
"""

from __future__ import annotations

import os
import signal

if __name__ == "__main__":  # the command, not an import: Ctrl-C before main() is ready ends it quietly
    signal.signal(signal.SIGINT, lambda _n, _f: os._exit(130))

import argparse  # noqa: E402
import faulthandler  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
# a plain (non-editable) `pip install .` puts ymawky.s, www/ and err/ here instead
SHARE = Path(sys.prefix) / "share" / "ymawky-emu"
PROJECT = HERE if (HERE / "ymawky.s").is_file() else SHARE
INSTALLED = PROJECT == SHARE
PROG = "ymawky-emu" if INSTALLED else "run_emulated.py"  # the name a user typed, in --help and errors

EXAMPLES = """\
examples:
  run_emulated.py                         serve ./www on http://127.0.0.1:8080/
  run_emulated.py --port 9000             the same on port 9000
  run_emulated.py --root /srv/site        serve /srv/site/www (the guest's / is /srv/site)
  run_emulated.py --build ymawky.macho    only write the arm64 Mach-O a Mac would run (and ymawky.macho.debug)
  run_emulated.py --macho prog -- a b     run an arm64 Mach-O with argv [prog, a, b]
  run_emulated.py --trace t --trace-children --strace t/   trace each request, one file per process
  run_emulated.py --coverage ymawky.info  lcov counts of ymawky.s lines (genhtml ymawky.info -o cov)
  run_emulated.py --record rec            serve, logging every syscall of every process into rec/
  run_emulated.py --replay rec            replay every recorded process, no network or files
  run_emulated.py --replay rec --process 0.3 --trace t   the instruction trace of one recorded request
  run_emulated.py --gdb 1234              serve, waiting for gdb (target remote :1234) at the entry point
  run_emulated.py --replay rec --process 0.3 --gdb 1234   debug one recorded request, also backwards
"""


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog=PROG,
        description=__doc__.splitlines()[0],
        epilog=EXAMPLES.replace("run_emulated.py", PROG),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--root",
        metavar="DIR",
        help="the guest's / and working directory; nothing outside it is reachable "
        "(default: the folder holding www/ and err/: the current one if it has www/, "
        "else this project's)",
    )
    p.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("YMAWKY_PORT", "8080")),
        metavar="N",
        help="port ymawky listens on, on 127.0.0.1 only (default: $YMAWKY_PORT, else 8080)",
    )
    p.add_argument(
        "--source",
        metavar="FILE",
        default=None,
        help="the assembly to serve with (default: ymawky.s beside this script)",
    )
    p.add_argument(
        "--python-syscalls",
        action="store_true",
        help="answer every syscall in Python (default: read, write, poll, sendfile, gettimeofday and fstat64 "
        "in C, emu/native/fastcalls.c, when a C compiler is at hand; $YMAWKY_PYTHON_SYSCALLS=1 does the same)",
    )
    p.add_argument(
        "--macho", metavar="FILE", help="run this arm64 Mach-O instead of ymawky; arguments after -- are its argv[1:]"
    )
    p.add_argument(
        "--build",
        metavar="OUT",
        help="assemble and write the Mach-O to OUT and its ELF symbol file (for gdb-multiarch) to OUT.debug, then stop",
    )
    p.add_argument(
        "--slide",
        type=lambda s: int(s, 0),
        default=0,
        metavar="HEX",
        help="load the executable this far above its preferred address (multiple of 0x4000)",
    )
    p.add_argument(
        "--entropy-seed",
        type=int,
        metavar="N",
        help="getentropy returns a pseudo-random sequence from seed N, the same every run "
        "(reproducible temp names in tests; not secret, never for real use)",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="stop on the first syscall the emulator does not implement "
        "(default: report it once and return ENOSYS to the guest)",
    )
    p.add_argument(
        "--control",
        metavar="SOCKET",
        type=Path,
        help="answer 'ps' and 'kill PID SIGNAL' on this Unix socket: the guest's processes "
        "live inside the emulator, where a host kill cannot reach them",
    )
    p.add_argument(
        "--gdb",
        metavar="PORT",
        help="wait at the entry point for a GDB remote debugger on 127.0.0.1:PORT "
        "(with --replay: one --process, which also runs backwards)",
    )
    g = p.add_argument_group("record and replay (docs/replay-format.md)")
    g.add_argument(
        "--record",
        metavar="DIR",
        type=Path,
        help="log every syscall of every process into DIR (a manifest and one log per process)",
    )
    g.add_argument(
        "--replay",
        metavar="DIR",
        type=Path,
        help="run the guest against the log in DIR: no sockets, no files; stop at the first difference",
    )
    g.add_argument(
        "--process",
        metavar="ID",
        help="with --replay: only this process of the fork tree (0, 0.3, 0.3.1 ...; "
        "default: every process, one after another)",
    )
    g.add_argument(
        "--allow-binary-change",
        action="store_true",
        help="with --replay: replay a recording made with another build, to see where it differs",
    )
    from emu.trace import add_arguments

    add_arguments(p)
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def default_root(cwd: Path | None = None, installed: bool = INSTALLED, data_home: Path | None = None) -> Path:
    """The current folder if it has www/; else this project; else, for an installed copy, a
    copy of the bundled site in the user's data folder (never the installed files: a PUT or
    DELETE would change them), said on stderr."""
    cwd = cwd or Path.cwd()
    if (cwd / "www").is_dir():
        return cwd
    if not installed:
        return PROJECT
    home = data_home or Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    site = home / "ymawky-emu" / "site"
    if not (site / "www").is_dir():
        import shutil

        for part in ("www", "err"):
            shutil.copytree(PROJECT / part, site / part, dirs_exist_ok=True)
    print(f"{PROG}: serving a copy of the bundled site, {site} (--root DIR serves your own)", file=sys.stderr)
    return site


def warn_without_www(root: Path) -> None:
    """ymawky serves ROOT/www: a --root that is itself a document root would 404 everything."""
    if not (root / "www").is_dir():
        hint = f" (did you mean --root {root.parent}?)" if root.name == "www" or (root / "index.html").exists() else ""
        print(f"{PROG}: warning: {root} has no www/ folder, so every request will be 404{hint}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """The command (also the installed ``ymawky-emu``); Ctrl-C at any moment ends it with 130, quietly."""
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # from here Ctrl-C is a KeyboardInterrupt
        return _main(argv)
    except KeyboardInterrupt as e:  # before the emulator's own handling is in place (imports, start-up)
        return 143 if type(e).__name__ == "Terminated" else 130


def _main(argv: list[str] | None) -> int:
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        faulthandler.enable()  # a crash of ours in native code (Unicorn, LIEF) says where every thread was
    except (ValueError, OSError):
        pass  # stderr is not a file (called from a test that captures it)
    from emu.native import fastcalls

    if opts.python_syscalls:
        fastcalls.disable("--python-syscalls")
    fastcalls.prepare()  # the C compiler runs while Keystone assembles
    from emu.run import build_ymawky, debug_path, run_macho
    from emu.trace import COVERAGE_ENV, TraceError, options_from_args

    root = Path(opts.root) if opts.root else default_root()
    if not root.is_dir():
        print(f"{PROG}: --root {root}: not a folder", file=sys.stderr)
        return 2
    try:
        trace = options_from_args(opts)
    except TraceError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 2
    if opts.gdb is not None:
        from emu.gdb.stub import AddressError, parse_listen

        try:
            opts.gdb = parse_listen(opts.gdb)
        except AddressError as e:
            print(f"{PROG}: {e}", file=sys.stderr)
            return 2
        if trace is not None and trace.coverage is not None and os.environ.get(COVERAGE_ENV) == str(trace.coverage):
            trace.coverage = None  # the test suite's $YMAWKY_COVERAGE counts servers, not debugger sessions
        if trace is not None and trace.wanted():
            print(f"{PROG}: --gdb cannot be combined with tracing", file=sys.stderr)
            return 2
    if opts.replay is not None:
        return _replay(opts, trace)
    try:
        if opts.macho:
            return run_macho(
                Path(opts.macho),
                root,
                [Path(opts.macho).name, *opts.args],
                strict=opts.strict,
                slide=opts.slide,
                trace=trace,
                record=opts.record,
                entropy_seed=opts.entropy_seed,
                control=opts.control,
                gdb=opts.gdb,
            )
        source = Path(opts.source) if opts.source else PROJECT / "ymawky.s"
        exe, asm = build_ymawky(source, Path(opts.build) if opts.build else None)
        if opts.build:
            print(f"wrote {exe} (arm64 Mach-O, DWARF for lldb) and {debug_path(exe)} (ELF symbols for gdb-multiarch)")
            return 0
        warn_without_www(root)
        if not 0 < opts.port < 65536:
            print(f"{PROG}: --port {opts.port}: not in 1..65535", file=sys.stderr)
            return 2
        return run_macho(
            exe,
            root,
            ["ymawky", str(opts.port), *opts.args],
            assembly=asm,
            strict=opts.strict,
            slide=opts.slide,
            trace=trace,
            record=opts.record,
            entropy_seed=opts.entropy_seed,
            control=opts.control,
            gdb=opts.gdb,
        )
    except TraceError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - mapped by failure_status, else raised again
        return failure_status(e)
    except KeyboardInterrupt as e:  # Ctrl-C or SIGTERM while starting or cleaning up: no traceback
        from emu.machine import interrupt_status

        return interrupt_status(e)


def failure_status(e: Exception) -> int:
    """Print a failure the user can act on and give its exit status; anything else is our bug."""
    from emu.assembler import AssemblyError
    from emu.loader import LoadError

    if isinstance(e, AssemblyError):  # ymawky.s:LINE: message
        print(e, file=sys.stderr)
        return 65  # sysexits.h EX_DATAERR
    if isinstance(e, (LoadError, OSError)):
        print(f"{PROG}: {e}", file=sys.stderr)
        return 66  # EX_NOINPUT
    raise e


def _replay(opts: argparse.Namespace, trace: object) -> int:
    """--replay DIR: the program is ymawky.s (or --source / --macho) as built now."""
    from emu.replay import ReplayError, run_replay
    from emu.run import build_ymawky

    try:
        if opts.macho:
            exe, asm = Path(opts.macho), None
        else:
            exe, asm = build_ymawky(Path(opts.source) if opts.source else PROJECT / "ymawky.s")
        done = run_replay(
            opts.replay,
            exe,
            asm,
            process=opts.process,
            trace=trace,
            allow_binary_change=opts.allow_binary_change,
            gdb=opts.gdb,
        )
        return 0 if done.ok else 1
    except ReplayError as e:
        print(f"{PROG}: --replay {opts.replay}: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - mapped by failure_status, else raised again
        return failure_status(e)


if __name__ == "__main__":
    sys.path.insert(0, os.fspath(HERE))
    sys.exit(main())
