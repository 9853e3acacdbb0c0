"""Referral variation at BLMK size: 86 practices × 20 specialties × 36 months, age-sex (20 strata) and need-adjusted
(age band × sex × 5 IMD quintiles × 4 multimorbidity bands: 400 strata) ratios and funnel signals, on Poisson data of
the cube's shape; with ``--warehouse PATH``, also the cube read from a warehouse (SQL, multimorbidity bands from the
profile's registers) and the pack's ratios over it.

    PYTHONPATH=src python benchmarks/bench_variation.py [--warehouse /tmp/data9/w0.05.duckdb]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from placewise.analyse.variation import STRATA, disagreement, signal, standardised_ratios


def ratios(refs: np.ndarray, pop: np.ndarray) -> int:
    """Whole-window ratios and their funnel signals per specialty, as the pack works them; the number of signals."""
    r = standardised_ratios(refs.sum(axis=2), pop.sum(axis=1))
    s = signal(r)
    disagreement(s, s)
    return int((s != 0).sum())


def synthetic() -> None:
    """Time both ratio sets on Poisson data of the right shape."""
    rng = np.random.default_rng(1)
    units, specs, months = 86, 20, 36
    for strata in (20, int(np.prod(STRATA))):
        pop = rng.gamma(2.0, 13_000 / strata, (units, months, strata))
        refs = rng.poisson(np.broadcast_to(pop[:, None] * 0.0008, (units, specs, months, strata))).astype(float)
        started = time.perf_counter()
        monthly = standardised_ratios(refs, pop)
        n = ratios(refs, pop)
        elapsed = time.perf_counter() - started
        print(f"{units} x {specs} x {months} months x {strata} strata: {elapsed:.2f} s "
              f"({refs.size:,} cells; monthly ratios {monthly.ratio.shape}; {n} signals)")


def warehouse(path: str, months: int = 36) -> None:
    """Time the cube read from the warehouse, then both ratio sets over it."""
    from placewise.analyse.variation import multimorbidity_registers, referral_cube
    from placewise.profile import load_profile
    from placewise.warehouse import connect_existing

    con = connect_existing(path)
    try:
        end = pd.Timestamp(con.table("referrals").referral_date.max().to_pandas()).to_period("M")
        span = [p.to_timestamp().date() for p in pd.period_range(end - months + 1, end, freq="M")]
        started = time.perf_counter()
        cube = referral_cube(con, span, multimorbidity_registers(load_profile()))
        read = time.perf_counter() - started
    finally:
        con.disconnect()
    started = time.perf_counter()
    n = ratios(*cube.age_sex()), ratios(cube.referrals, cube.population)
    print(f"{path}: cube {len(cube.practices)} practices x {len(cube.specialties)} specialties x {len(cube.months)} "
          f"months x {cube.referrals.shape[-1]} strata read in {read:.1f} s; both ratio sets and signals in "
          f"{time.perf_counter() - started:.2f} s ({n[0]} and {n[1]} signals)")


def main() -> None:
    """Synthetic arrays, then the warehouse if given."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--warehouse")
    args = parser.parse_args()
    synthetic()
    if args.warehouse:
        warehouse(args.warehouse)


if __name__ == "__main__":
    main()
