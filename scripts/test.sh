#!/usr/bin/env bash
# Quick start, command 2: install Placewise, its test tools and a PostgreSQL server, then lint (ruff),
# type-check (mypy) and run every test. Lint and type errors fail the run before any test starts.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
.venv/bin/ruff check src tests scripts benchmarks
.venv/bin/mypy
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: failing the run" >&2
  exit 1
fi
exit "$rc"
