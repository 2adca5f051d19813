#!/usr/bin/env bash
# install.sh — installs everything epochpp needs (apt + pip), builds it, and runs the demo:
# examples/chunked_mixed.py plain and accelerated, with the before/after profile.
set -euo pipefail
cd "$(dirname "$0")"
scripts/deps.sh --bench
scripts/build.sh
echo "== demo: the chunked NumPy loop, before (plain CPython) and after (epochpp), with its profile"
python3 -m epochpp run --compare examples/chunked_mixed.py
