"""What the benchmark's parts share: where things are, the site's files, the groups."""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, os.fspath(ROOT))
sys.path.insert(0, os.fspath(ROOT / "tests"))  # http1: the one HTTP client, shared with the tests

KIB_FILE = "1k.txt"
BIG_FILE = "big.bin"
BIG_SIZE = 100 << 20
CONNECTIONS = 16
GIB = 1 << 30

GROUPS = ("start", "http", "bulk", "compute", "syscall", "fork")
PY10 = "python http.server 1.0"
