#!/usr/bin/env bash
# install.sh — installs everything epochpp needs (apt + pip), builds it, and runs the demo.
set -euo pipefail
cd "$(dirname "$0")"
scripts/deps.sh --bench
scripts/build.sh
echo "== demo"
python3 examples/demo.py
