"""Time the public-health statistics on 100,000 groups: Wilson, Byar, DSR (19 bands), funnels.

Run: .venv/bin/python benchmarks/bench_statistics.py [--groups 100000] [--repeats 5]
Prints the best wall time of each step over the repeats, the total, throughput and the peak
memory traced while the whole set runs once.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import tracemalloc
from collections.abc import Callable

import numpy as np

from placewise.analyse.statistics import (
    ESP2013,
    crude_rate,
    directly_standardised_rate,
    indirectly_standardised_ratio,
    proportion,
    proportion_funnel_limits,
    proportion_funnel_significance,
    rate_funnel_significance,
    ratio_funnel_limits,
    ratio_funnel_significance,
    slope_index_of_inequality,
)


def workload(n_groups: int) -> dict[str, Callable[[], object]]:
    """The steps to time, on synthetic data shaped like practice-level indicators."""
    rng = np.random.default_rng(2024)
    denominators = rng.integers(50, 20_000, n_groups).astype(float)
    numerators = rng.binomial(denominators.astype(np.int64), 0.3).astype(float)
    events = rng.poisson(denominators * 0.01).astype(float)
    n_bands = len(ESP2013)
    band_pop = rng.integers(20, 2_000, n_groups * n_bands).astype(float)
    band_events = rng.poisson(band_pop * 0.005).astype(float)
    group = np.repeat(np.arange(n_groups), n_bands)
    band = np.tile(np.arange(n_bands), n_groups)
    expected = denominators * 0.01
    return {
        "Wilson proportions": lambda: proportion(numerators, denominators),
        "crude rates (Byar/exact)": lambda: crude_rate(events, denominators),
        "DSR, 19 bands (Dobson)": lambda: directly_standardised_rate(band_events, band_pop, group, band),
        "ISR (Byar/exact)": lambda: indirectly_standardised_ratio(events, expected),
        "proportion funnel limits": lambda: proportion_funnel_limits(denominators, 0.3),
        "funnel significance x3": lambda: (
            proportion_funnel_significance(numerators, denominators),
            rate_funnel_significance(events, denominators),
            ratio_funnel_significance(events, expected),
        ),
        "ratio funnel limits (exact)": lambda: ratio_funnel_limits(expected),
    }


def best_time(step: Callable[[], object], repeats: int) -> float:
    """Best wall-clock seconds over `repeats` runs, after one warm-up."""
    step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    """Time each step and the whole set, and report throughput and peak memory."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--groups", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    steps = workload(args.groups)
    print(f"{args.groups:,} groups; {os.cpu_count()} CPUs; {platform.processor() or platform.machine()}; "
          f"Python {platform.python_version()}; NumPy {np.__version__}")  # fmt: skip
    for name, step in steps.items():
        seconds = best_time(step, args.repeats)
        print(f"{name:30s} {seconds:8.4f} s  {args.groups / seconds:14,.0f} groups/s")
    together = best_time(lambda: [step() for step in steps.values()], args.repeats)
    print(f"{'all together':30s} {together:8.4f} s")
    tracemalloc.start()
    for step in steps.values():
        step()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"peak traced memory while running every step once: {peak / 2**20:.0f} MiB")
    print(f"SII/RII, 100 groups x 10 deciles x 100,000 draws: {best_time(sii_step(), 1):.2f} s")


def sii_step() -> Callable[[], object]:
    """SII and RII with PHE's default 100,000 simulated draws for 100 groups of deciles."""
    rng = np.random.default_rng(7)
    values = np.sort(rng.uniform(50, 90, size=(100, 10)), axis=1)
    populations = rng.integers(5_000, 40_000, size=(100, 10))
    errors = rng.uniform(0.5, 2.0, size=(100, 10))
    return lambda: slope_index_of_inequality(values, populations, standard_errors=errors)


if __name__ == "__main__":
    main()
