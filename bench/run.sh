#!/usr/bin/env bash
# The issue-7 benchmark from a fresh clone: sets up .venv on first use (as
# scripts/serve and scripts/test do), then runs bench/run.py; arguments go
# to it (--quick for ~30 s, --help for the rest).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$here/scripts/setup-venv"
cd "$here"
exec "${YMAWKY_VENV:-$here/.venv}/bin/python" "$here/bench/run.py" "$@"
