"""Benchmark ``placewise synth``: wall time, rows per table, rows per second and peak memory.

Usage: ``python benchmarks/bench_synth.py --scale 0.1`` (or ``--scale 1.0``; add ``--format csv``).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

from placewise.profile import load_profile
from placewise.sources.synth import calibration, generate


def main() -> None:
    """Run one generation and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: a temporary folder)")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="placewise-bench-synth-"))
    started = time.perf_counter()
    rows = generate(load_profile(), scale=args.scale, seed=args.seed, out=out, fmt=args.format)
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    report = calibration(out, load_profile(), scale=args.scale, fmt=args.format)
    calib_seconds = time.perf_counter() - started
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    total = sum(rows.values())
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"scale {args.scale}, format {args.format}, output {out}")
    for name, n in rows.items():
        print(f"  {name:<26}{n:>12,}")
    print(f"total rows {total:,} in {seconds:.1f} s = {total / seconds:,.0f} rows/s; peak RSS {peak_gb:.2f} GB")
    size = sum(p.stat().st_size for p in out.iterdir()) / 1024**2
    print(f"files {size:,.0f} MB; calibration {calib_seconds:.1f} s, {sum(r.passed for r in report)}/{len(report)} within tolerance")


if __name__ == "__main__":
    main()
