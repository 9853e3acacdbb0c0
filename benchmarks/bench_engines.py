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
    frames = {}
    for item in args.warehouses:
        label, url = item.split("=", 1)
        start = time.perf_counter()
        result = ingest(args.delivery, url, KEY)
        loaded = sum(f.rows_loaded for f in result.files)
        ingested = time.perf_counter() - start
        con = connect(url)
        start = time.perf_counter()
        table = measure_all(con, load_profile())
        measured = time.perf_counter() - start
        frames[label] = table.select([*KEYS, *COMPARED]).to_pandas().sort_values(KEYS, ignore_index=True)
        con.disconnect()
        print(f"{label}: ingest {ingested:.1f} s ({loaded:,} rows); measure {measured:.1f} s "
              f"({table.num_rows:,} measurements)", flush=True)
    labels = list(frames)
    for label in labels[1:]:
        found = compare(frames[labels[0]], frames[label], label)
        print(f"{label} against {labels[0]}: {len(found)} differences")
        for d in found[:20]:
            print(f"  {d}")


if __name__ == "__main__":
    main()
