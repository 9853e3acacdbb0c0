"""Compare two saved measurement tables (Parquet, as ``bench_measure.py --save`` writes): same rows, same figures.

Usage: .venv/bin/python benchmarks/compare_measurements.py BEFORE.parquet AFTER.parquet

Rows are matched on the full key. Prints the rows only in one table, the rows whose whole-number counts
differ at all, and the largest relative difference of fractional sums (expected cases), value, lower and
upper; exits 1 if any row or whole count differs or any other figure by more than 1e-9 relative (the
order DuckDB adds floating-point numbers in is not fixed, so such sums vary in the last bit between runs).
"""

from __future__ import annotations

import sys

import numpy as np
import pyarrow.parquet as pq

KEYS = ["indicator_id", "period_start", "period_end", "geography_type", "geography_code", "breakdown",
        "breakdown_group"]


def main() -> None:
    """Compare and print."""
    before, after = (pq.read_table(p).to_pandas() for p in sys.argv[1:3])
    j = before.merge(after, on=KEYS, how="outer", suffixes=("_a", "_b"), indicator=True)
    only = j[j["_merge"] != "both"]
    both = j[j["_merge"] == "both"]
    print(f"rows: {len(before):,} before, {len(after):,} after, {len(only):,} in one only")
    bad = len(only) > 0
    for c in ("numerator", "denominator"):
        a, b = both[f"{c}_a"].to_numpy(float), both[f"{c}_b"].to_numpy(float)
        differ = ~((a == b) | (np.isnan(a) & np.isnan(b)))
        whole = (a == np.round(a)) & (b == np.round(b))
        rel = np.abs(a - b) / np.maximum(np.abs(a), 1e-300)
        print(f"{c}: {(differ & whole).sum():,} whole counts differ; {(differ & ~whole).sum():,} fractional sums "
              f"(expected cases) differ, by at most {np.nanmax(rel[differ & ~whole], initial=0.0):.2e} relative")
        bad |= bool((differ & whole).any()) or bool((rel[differ & ~whole] > 1e-9).any())
    for c in ("value", "lower", "upper"):
        a, b = both[f"{c}_a"].to_numpy(float), both[f"{c}_b"].to_numpy(float)
        nan_differ = np.isnan(a) != np.isnan(b)
        ok = ~np.isnan(a) & ~np.isnan(b)
        rel = np.abs(a[ok] - b[ok]) / np.maximum(np.abs(a[ok]), 1e-300)
        worst = rel.max() if rel.size else 0.0
        exact = int((a[ok] == b[ok]).sum())
        print(f"{c}: {exact:,} of {ok.sum():,} identical, largest relative difference {worst:.2e}, "
              f"{nan_differ.sum():,} null in one only")
        bad |= bool(nan_differ.any()) or worst > 1e-9
    if bad:
        print("DIFFERENT")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
