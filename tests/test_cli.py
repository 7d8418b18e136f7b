"""run_emulated.py as a user runs it: help, --macho, --build, errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from guest import guest_source

from emu.assembler import assemble_text
from emu.macho import write_macho

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, str(ROOT / "run_emulated.py")]


def run(*args: str, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60, **kw)


def test_help_explains_options_with_examples() -> None:
    out = run("--help").stdout
    for option in ("--root", "--port", "--macho", "--build", "--strict", "--slide"):
        assert option in out
    assert "examples:" in out and "run_emulated.py --macho prog -- a b" in out


def test_macho_passes_stdout_argv_and_exit_status_through(tmp_path: Path) -> None:
    # prints argv[1] and exits with argc
    asm = assemble_text(
        guest_source("""
        mov     x19, x0
        ldr     x1, [x1, #8]
        mov     x2, #0
    count:
        ldrb    w9, [x1, x2]
        cbz     w9, counted
        add     x2, x2, #1
        b       count
    counted:
        mov     x0, #1
        SYSCALL 4
        mov     x0, x19
        SYSCALL 1
    """),
        "echo.s",
    )
    exe = write_macho(asm, tmp_path / "echo")
    proc = run("--macho", str(exe), "--root", str(tmp_path), "--", "hello-arg", "second")
    assert proc.stdout == "hello-arg"
    assert proc.returncode == 3


def test_build_writes_a_macho_for_a_mac(tmp_path: Path) -> None:
    out = tmp_path / "ymawky"
    proc = run("--build", str(out))
    assert proc.returncode == 0, proc.stderr
    data = out.read_bytes()
    assert data[:4] == bytes.fromhex("cffaedfe")  # MH_MAGIC_64, little-endian
    assert int.from_bytes(data[4:8], "little") == 0x0100000C  # CPU_TYPE_ARM64


def test_bad_source_line_is_reported_as_file_and_line(tmp_path: Path) -> None:
    src = tmp_path / "broken.s"
    src.write_text(
        (ROOT / "ymawky.s")
        .read_text()
        .replace("    bl      reap_children\n", "    bl      reap_children\n    frobnicate x0\n", 1)
    )
    line = src.read_text().split("\n").index("    frobnicate x0") + 1
    proc = run("--source", str(src), "--port", "18999")
    assert proc.returncode == 65
    assert proc.stderr.startswith(f"broken.s:{line}: ")
    assert "Traceback" not in proc.stderr


def test_missing_root_and_bad_port_are_clear_errors(tmp_path: Path) -> None:
    proc = run("--root", str(tmp_path / "nope"))
    assert proc.returncode == 2 and "not a folder" in proc.stderr
    proc = run("--port", "70000")
    assert proc.returncode == 2 and "1..65535" in proc.stderr


def test_not_a_macho_is_a_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.write_text("not an executable\n")
    proc = run("--macho", str(junk))
    assert proc.returncode == 66
    assert "Traceback" not in proc.stderr and "junk" in proc.stderr


@pytest.mark.parametrize(("sig", "status"), [("SIGINT", 130), ("SIGTERM", 143)])
def test_ctrl_c_or_sigterm_stops_a_guest_that_spins_without_syscalls(tmp_path: Path, sig: str, status: int) -> None:
    """Ctrl-C ends with 130 and SIGTERM with 143 (128 + the signal, as a shell reports a killed job)."""
    import signal
    import time

    asm = assemble_text(
        guest_source("""
    spin:
        b       spin
    """),
        "spin.s",
    )
    exe = write_macho(asm, tmp_path / "spin")
    proc = subprocess.Popen([*CLI, "--macho", str(exe), "--root", str(tmp_path)], stderr=subprocess.PIPE, text=True)
    time.sleep(2.5)  # past start-up (a cold first import can take over a second): the guest spins
    proc.send_signal(getattr(signal, sig))
    try:
        _, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == status
    assert "Traceback" not in err


def test_a_port_in_use_is_named_with_its_cause() -> None:
    """ymawky can only say that listening failed; the emulator saw the bind's EADDRINUSE and says where."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = run("--port", str(port))
    assert proc.returncode == 71, proc.stderr
    assert "cannot listen" in proc.stderr  # the guest's own line stays
    assert f":{port} is already in use" in proc.stderr and "Traceback" not in proc.stderr


# ---------------------------------------------------------------- issue 14, items 6 and 7
def test_a_root_without_www_is_served_with_a_warning(tmp_path: Path) -> None:
    """--root pointing at a document root itself: every request would be 404, so it says so."""
    from server import Server

    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "index.html").write_text("<p>hi</p>\n")
    srv = Server(root=tmp_path / "www")
    try:
        assert srv.get("/")[0] == 404
    finally:
        _, _, err = srv.stop()
    assert (
        f"warning: {tmp_path / 'www'} has no www/ folder, so every request will be 404 "
        f"(did you mean --root {tmp_path}?)" in err
    )


def test_an_installed_copy_serves_a_copy_of_the_bundled_site_and_says_where(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import run_emulated

    empty = tmp_path / "cwd"
    empty.mkdir()
    site = run_emulated.default_root(empty, installed=True, data_home=tmp_path / "data")
    assert site == tmp_path / "data" / "ymawky-emu" / "site"
    assert (site / "www" / "index.html").read_bytes() == (run_emulated.PROJECT / "www" / "index.html").read_bytes()
    assert (site / "err" / "404.html").is_file()
    assert f"serving a copy of the bundled site, {site}" in capsys.readouterr().err
    (site / "www" / "new.txt").write_text("put here")  # what a PUT leaves stays in the copy
    assert run_emulated.default_root(empty, installed=True, data_home=tmp_path / "data") == site
    assert (site / "www" / "new.txt").read_text() == "put here"
    assert not (run_emulated.PROJECT / "www" / "new.txt").exists()
    assert run_emulated.default_root(empty, installed=False) == run_emulated.PROJECT


def test_help_and_errors_use_the_name_the_user_typed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import run_emulated

    monkeypatch.setattr(run_emulated, "PROG", "ymawky-emu")
    with pytest.raises(SystemExit):
        run_emulated.parse_args(["--help"])
    out = capsys.readouterr().out
    assert out.startswith("usage: ymawky-emu ") and "  ymawky-emu --replay rec" in out and "run_emulated.py" not in out
    assert run_emulated.main(["--root", "/no/such/folder"]) == 2
    assert capsys.readouterr().err == "ymawky-emu: --root /no/such/folder: not a folder\n"


@pytest.mark.parametrize("delay", [0.08, 0.15, 0.25, 0.4, 0.6, 0.8, 1.2])
def test_ctrl_c_at_any_moment_of_start_up_ends_quietly_with_130(delay: float, tmp_path: Path) -> None:
    """From our first line through the assembly, LIEF's import and parse (a cold cache in
    YMAWKY_CACHE_DIR) to serving: status 130, and at most one line, never a traceback.  (The
    interpreter's own first ~30 ms, before any line of ours runs, are Python's.)"""
    import os
    import signal
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "YMAWKY_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "run_emulated.py"), "--root", str(ROOT), "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    text = err.decode(errors="replace")
    assert proc.returncode == 130, text
    assert "Traceback" not in text and "terminate called" not in text, text
    assert len(text.strip().splitlines()) <= 1, text
