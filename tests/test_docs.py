"""Docs that are generated from code stay in step with it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_syscall_table_doc_matches_the_table() -> None:
    table = subprocess.run(
        [sys.executable, "-m", "syscalls.table"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    doc = (ROOT / "docs" / "syscalls.md").read_text()
    assert table.strip() in doc, "docs/syscalls.md is stale: regenerate it with python -m syscalls.table"


def test_readme_quick_start_is_two_commands_that_exist() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## Quick start", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines() if line.strip()]
    assert len(commands) == 2
    for cmd in commands:
        assert (ROOT / cmd.split()[0]).is_file()


def test_pip_install_ships_every_file_of_www_and_err() -> None:
    import tomllib

    shipped = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["data-files"]
    listed = {f for files in shipped.values() for f in files}
    on_disk = {str(p.relative_to(ROOT)) for d in ("www", "err") for p in (ROOT / d).rglob("*") if p.is_file()}
    assert on_disk | {"ymawky.s"} == listed, "update [tool.setuptools.data-files] in pyproject.toml"


def test_what_the_readmes_commands_make_is_ignored_by_git() -> None:
    """The folders and files the README's tracing, coverage and recording commands create."""
    import shutil

    import pytest

    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a clone")
    made = ["t/0-pid1.trace", "t/all.strace", "rec/manifest.json", "coverage.info", "coverage-html/index.html"]
    readme = (ROOT / "README.md").read_text()
    for path in ("t/", "rec", "coverage.info", "coverage-html"):
        assert path in readme, f"the README no longer makes {path}: update this test"
    got = subprocess.run(["git", "check-ignore", "--no-index", *made], cwd=ROOT, capture_output=True, text=True)
    assert sorted(got.stdout.split()) == sorted(made)
