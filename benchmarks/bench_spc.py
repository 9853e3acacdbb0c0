"""Time Making Data Count SPC (limits, all four rules, point types, both icons) on many series at once.

Run: .venv/bin/python benchmarks/bench_spc.py [--repeats 5]
Shapes: 30,000 series x 36 months (the issue's target: within 2 seconds) and 1,000 series x 60 months.
Prints the best wall time over the repeats, points per second and the peak memory traced during one run.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import tracemalloc
import warnings

import numpy as np

from placewise.analyse.spc import ShortSeriesWarning, spc

SHAPES = ((30_000, 36), (1_000, 60))


def workload(n_series: int, n_points: int) -> dict[str, object]:
    """Monthly proportions like 4-hour performance: ragged, with level shifts, rebases and targets."""
    rng = np.random.default_rng(2024)
    level = rng.uniform(0.6, 0.98, (n_series, 1))
    shifted = np.arange(n_points) >= rng.integers(6, n_points, (n_series, 1))
    shift = np.where(shifted, rng.normal(0, 0.03, (n_series, 1)), 0)
    values = np.clip(level + shift + rng.normal(0, 0.015, (n_series, n_points)), 0, 1)
    lengths = rng.integers(n_points - 12, n_points + 1, n_series)
    values[np.arange(n_points) >= lengths[:, None]] = np.nan
    rebase = np.zeros(values.shape, dtype=bool)
    chosen = rng.random(n_series) < 0.2
    rebase[np.flatnonzero(chosen), rng.integers(12, n_points - 12, chosen.sum())] = True
    return {"values": values, "polarity": "higher_is_better", "target": np.full(n_series, 0.95), "rebase": rebase}


def run(kwargs: dict[str, object]) -> None:
    """One SPC computation, silencing the expected short-segment warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShortSeriesWarning)
        spc(**kwargs)


def main() -> None:
    """Time each shape and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, NumPy {np.__version__}")
    for n_series, n_points in SHAPES:
        kwargs = workload(n_series, n_points)
        run(kwargs)
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            run(kwargs)
            times.append(time.perf_counter() - start)
        tracemalloc.start()
        run(kwargs)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        points = int(np.isfinite(kwargs["values"]).sum())
        best = min(times)
        print(f"{n_series:>6,} series x {n_points} points ({points:,} values): best {best:.3f} s, "
              f"median {sorted(times)[len(times) // 2]:.3f} s, {points / best / 1e6:.1f} M points/s, "
              f"peak traced memory {peak / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
