#!/usr/bin/env bash
# Quick start, command 1: install Placewise and run the demo on the embedded database (DuckDB), with the
# real published data in ../shared/reference when it is there.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
reference=()
[ -d ../shared/reference ] && reference=(--reference ../shared/reference)
exec .venv/bin/placewise demo "${reference[@]}" "$@"
