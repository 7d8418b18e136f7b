"""Guest faults: a clear report (pc, symbol, line, instruction, registers), never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from guest import guest_source, run_guest

from emu.assembler import assemble_text
from emu.macho import write_macho

ROOT = Path(__file__).resolve().parent.parent


def test_unmapped_read_reports_pc_symbol_line_instruction_and_registers(capfd, tmp_path: Path) -> None:
    run = run_guest(
        """
        mov     x0, #0x1234
        bl      crash_here
crash_here:
        mov     x5, #0
        ldr     x1, [x5]
    """,
        tmp=tmp_path,
    )
    err = capfd.readouterr().err
    assert run.status == 139
    assert "guest fault" in err and "SIGSEGV" in err
    assert "read of unmapped memory at 0x0" in err
    assert "crash_here+0x4" in err
    line = next(
        n
        for n, text in enumerate(
            guest_source("""
        mov     x0, #0x1234
        bl      crash_here
crash_here:
        mov     x5, #0
        ldr     x1, [x5]
    """).split("\n"),
            1,
        )
        if "ldr     x1, [x5]" in text
    )
    assert f"guest.s:{line})" in err
    assert "ldr x1, [x5]" in err
    assert "x0 0x0000000000001234" in err
    assert "Traceback" not in err


def test_invalid_instruction_is_sigill(capfd, tmp_path: Path) -> None:
    run = run_guest(
        """
        .word 0xffffffff
    """,
        tmp=tmp_path,
    )
    err = capfd.readouterr().err
    assert run.status == 128 + 4
    assert "SIGILL" in err


def test_write_to_code_is_a_protection_fault(capfd, tmp_path: Path) -> None:
    run = run_guest(
        """
        adr     x1, _main
        str     x0, [x1]
    """,
        tmp=tmp_path,
    )
    err = capfd.readouterr().err
    assert run.status == 128 + 10
    assert "write to read-only memory" in err


def test_fault_in_a_forked_child_is_a_signal_to_its_parent(capfd, tmp_path: Path) -> None:
    run = run_guest(
        """
        SYSCALL 2
        cbnz    x1, child
        mov     x19, x0
        mov     x0, x19
        adr     x1, status
        mov     x2, #0
        mov     x3, #0
        SYSCALL 7
        RECORD
        b       done
child:
        mov     x5, #8
        ldr     x0, [x5]
done:
    """,
        data="status: .word 0\n.p2align 3",
        tmp=tmp_path,
    )
    err = capfd.readouterr().err
    assert run.status == 0  # the parent lives on
    ((pid, _, carry),) = run.results
    assert not carry and pid > 0
    status = int.from_bytes(run.read("status", 4), "little")
    assert status & 0x7F == 11  # Darwin WTERMSIG: SIGSEGV
    assert "guest fault" in err


def test_fault_through_the_command_line_exits_139_without_traceback(tmp_path: Path) -> None:
    asm = assemble_text(
        guest_source("""
        mov     x5, #16
        str     x5, [x5]
    """),
        "crash.s",
    )
    exe = write_macho(asm, tmp_path / "crash")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "run_emulated.py"), "--macho", str(exe), "--root", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 139
    assert "write to unmapped memory at 0x10" in proc.stderr
    assert "Traceback" not in proc.stderr
