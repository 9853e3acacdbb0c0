"""Benchmark: recompute every indicator of the bundled catalogue on a loaded warehouse.

Usage (after ``placewise synth --scale 1.0 --out DIR`` and ``placewise ingest DIR --db FILE``):

    .venv/bin/python benchmarks/bench_measure.py FILE [--months N] [--per-indicator] [--save OUT.parquet]

Prints the time of the whole recompute (counts, statistics and the atomic write of the
``measurements`` table), the CPU time the process used (a fairer figure than wall time on a shared
machine), rows written, counts per second, peak memory, load average and the machine; with
``--per-indicator``, the time of each indicator's query as well. Without ``--months`` the range is
``placewise measure``'s (``default_range``'s default), so the two cannot differ. ``--save`` writes the measurements
(without ``computed_at``) for ``compare_measurements.py`` to check a change left every figure as it was.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time

import pyarrow.parquet as pq

from placewise.analyse.measurements import measure_all
from placewise.measure import compute, default_range, load_catalogue
from placewise.profile import load_profile
from placewise.warehouse import connect

from commands import add_months_option
from cputime import cpu_seconds


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="warehouse: DuckDB file or postgresql://…")
    add_months_option(parser)
    parser.add_argument("--per-indicator", action="store_true", help="also time each indicator on its own")
    parser.add_argument("--save", help="write the measurements to this Parquet file")
    args = parser.parse_args()
    con = connect(args.url)
    profile = load_profile()
    catalogue = load_catalogue(profile)
    rng = default_range(con, args.months)
    people = con.table("people").count().execute()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"warehouse {args.url} ({con.name}); {people:,} people; range {rng.first:%b %Y}-{rng.last:%b %Y}")
    start, cpu = time.perf_counter(), cpu_seconds()
    table = measure_all(con, profile, periods_range=rng)
    seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"all {len(catalogue.indicators)} indicators: {seconds:.1f} s ({cpu:.1f} s CPU), {table.num_rows:,} "
          f"measurements ({table.num_rows / seconds:,.0f} rows/s), peak memory {peak_mb:,.0f} MB, "
          f"load average {os.getloadavg()[0]:.1f}")
    if args.save:
        pq.write_table(table.drop(["computed_at"]), args.save)
    if args.per_indicator:
        for ind in catalogue.indicators:
            t = time.perf_counter()
            n = compute(con, catalogue, periods_range=rng, indicators=[ind.id]).num_rows
            print(f"  {ind.id:40s} {time.perf_counter() - t:6.1f} s  {n:>9,} rows (includes the population)")


if __name__ == "__main__":
    main()
