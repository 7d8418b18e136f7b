"""Shared fixtures: the project root on sys.path, a per-test asm cache."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(autouse=True, scope="session")
def _asm_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep the suite's assembler cache apart from the user's."""
    import os

    os.environ.setdefault("YMAWKY_CACHE_DIR", str(tmp_path_factory.mktemp("asm-cache")))


@pytest.fixture(params=["c", "python"])
def syscall_path(request: pytest.FixtureRequest):
    """Run the test twice: with emu/native/fastcalls.c answering the hot calls, and with
    every call in Python (the reference), so that the two must agree."""
    from emu.native import fastcalls

    lib = fastcalls.library()
    if request.param == "c" and lib is None:
        pytest.skip(f"no C syscall path here: {fastcalls.why_not()}")
    with fastcalls.forced(lib if request.param == "c" else None):
        yield request.param
