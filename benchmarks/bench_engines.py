"""Benchmark: one delivery through ingest and the whole catalogue on several engines, and their agreement.

Usage (after ``placewise synth --scale 0.05 --out DIR``):

    .venv/bin/python benchmarks/bench_engines.py DIR duckdb=/tmp/w.duckdb postgres=postgresql://… \
        spark=spark:///tmp/wh

Ingests DIR into each warehouse (which must be new), recomputes every indicator there, then compares
each engine's measurements with the first's after sorting on the full key (counts exactly when whole,
values and intervals within 1e-9 relative). Prints each stage's time, the rows and every difference.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

from placewise.analyse.measurements import KEYS, measure_all
from placewise.analyse.verify import COMPARED, compare
from placewise.ingest.load import ingest
from placewise.profile import load_profile
from placewise.warehouse import connect

KEY = b"benchmark key, not a secret"


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("delivery", type=Path, help="folder of canonical files (placewise synth --out)")
    parser.add_argument("warehouses", nargs="+", help="label=URL, the first the reference")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}; delivery {args.delivery}")
    first = None
    for item in args.warehouses:
        label, url = item.split("=", 1)
        start = time.perf_counter()
        result = ingest(args.delivery, url, KEY)
        loaded = sum(f.rows_loaded for f in result.files)
        ingested = time.perf_counter() - start
        con = connect(url)
        start, cpu = time.perf_counter(), time.process_time()
        table = measure_all(con, load_profile())
        measured, cpu = time.perf_counter() - start, time.process_time() - cpu
        frame = table.select([*KEYS, *COMPARED]).to_pandas().sort_values(KEYS, ignore_index=True)
        con.disconnect()
        print(f"{label}: ingest {ingested:.1f} s ({loaded:,} rows); measure {measured:.1f} s wall, {cpu:.1f} s "
              f"CPU in this process (a JVM's or server's is not counted) ({table.num_rows:,} measurements); load "
              f"average {os.getloadavg()[0]:.1f}", flush=True)
        if first is None:
            first = (label, frame)
            continue
        found = compare(first[1], frame, label)
        print(f"{label} against {first[0]}: {len(found)} differences", flush=True)
        for d in found[:20]:
            print(f"  {d}")

if __name__ == "__main__":
    main()
