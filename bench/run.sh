#!/usr/bin/env bash
# The issue-7 benchmark from a fresh clone: sets up .venv on first use (as
# scripts/serve and scripts/test do), then runs bench/run.py; arguments go
# to it (--quick for ~30 s, --help for the rest).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$here/scripts/setup-venv"
# the servers it compares against, and wrk: from Debian when they are missing (and we may install)
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ] && \
   ! { command -v nginx && command -v busybox && command -v wrk; } >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx busybox wrk >/dev/null 2>&1 || true
fi
cd "$here"
exec "${YMAWKY_VENV:-$here/.venv}/bin/python" "$here/bench/run.py" "$@"
