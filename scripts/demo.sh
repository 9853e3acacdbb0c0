#!/usr/bin/env bash
# Quick start, command 1: install Placewise and run the demo on the embedded database (DuckDB).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/placewise demo "$@"
