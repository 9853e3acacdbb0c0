"""Benchmark ``placewise ingest``: synthesise a delivery, ingest it, report seconds, rows/s and peak memory.

Usage: ``python benchmarks/bench_ingest.py --scale 0.1`` (DuckDB), ``--scale 1.0``, or
``--db postgresql://user@host/db`` for PostgreSQL. ``--source DIR`` reuses an existing synth output.
Peak memory is the process's maximum resident set size (generation runs in a child process so that it
does not count against the ingest).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from placewise.ingest.load import ingest
from placewise.warehouse.connection import engine_of
from placewise.warehouse.engines.duckdb import duckdb_path

KEY = b"benchmark-pseudonymisation-key-0123456789"


def synthesise(scale: float, out: Path) -> float:
    """Run ``placewise synth`` in a child process; its wall seconds."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "placewise.cli", "synth", "--out", str(out), "--scale", str(scale),
                    "--seed", "1"], check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    """Generate (or reuse) a delivery, ingest it once and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--source", type=Path, default=None, help="existing synth output to ingest")
    parser.add_argument("--db", default=None, help="warehouse URL (default: a new DuckDB file in a temp folder)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="placewise-bench-ingest-"))
    source = args.source
    if source is None:
        source = work / "delivery"
        print(f"synthesising scale {args.scale} into {source}: {synthesise(args.scale, source):.1f} s")
    db = args.db or str(work / "warehouse.duckdb")
    steps: list[tuple[float, str]] = []
    started = time.perf_counter()
    result = ingest(source, db, KEY, report=work / "quarantine.csv",
                    progress=lambda message, done, total: steps.append((time.perf_counter(), message)))
    seconds = time.perf_counter() - started
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    rows = sum(f.rows_read for f in result.files)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"load average at end {os.getloadavg()[0]:.1f}")
    print(f"source {source} ({sum(p.stat().st_size for p in source.iterdir()) / 1024**2:,.0f} MB), "
          f"warehouse {engine_of(db)}")
    for (t0, message), (t1, _) in zip(steps, [*steps[1:], (started + seconds, "")], strict=True):
        if t1 - t0 >= 0.5:
            print(f"  {message:<55}{t1 - t0:8.1f} s")
    for f in result.files:
        print(f"  {f.table_name:<26}{f.rows_read:>12,} read{f.rows_loaded:>12,} loaded{f.rows_quarantined:>8,} quarantined")
    print(f"total {rows:,} rows in {seconds:.1f} s = {rows / seconds:,.0f} rows/s; peak RSS {peak_gb:.2f} GB; "
          f"exit code {result.exit_code}")
    if engine_of(db) == "duckdb":
        print(f"warehouse file {duckdb_path(db).stat().st_size / 1024**2:,.0f} MB")


if __name__ == "__main__":
    main()
