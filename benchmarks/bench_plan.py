"""Time the planning run: 256 Monte Carlo runs, the four Places, every setting and scenario, to 2040.

Run: flock /work/heavy.lock .venv/bin/python benchmarks/bench_plan.py [--scale 0.05] [--repeats 3]
Synthesises and ingests a BLMK warehouse at ``--scale`` in a temporary folder, reads the history
from it once (timed), then times the projection, demand, capacity and workforce for every scenario
(the issue's target: 256 runs within 60 seconds), both on the warehouse's base population and on
the Census 2021 populations (full size: the arrays have the same shape, so the time should match).
Prints the best wall time, the peak memory traced during one run and the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from placewise.analyse.planning.config import load_planning
from placewise.analyse.planning.demand import activity_rates
from placewise.analyse.planning.history import read_history
from placewise.analyse.planning.rates import rates_from_history, scaled_to, with_base
from placewise.analyse.planning.run import plan
from placewise.ingest.load import ingest
from placewise.profile import load_profile
from placewise.sources.synth.generate import generate
from placewise.warehouse import connect


def main() -> None:
    """Build the warehouse, read the history, time the planning run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument("--runs", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, NumPy {np.__version__}")
    profile = load_profile()
    planning = load_planning(profile)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate(profile, scale=args.scale, seed=1, out=root / "files")
        ingest(root / "files", root / "w.duckdb", b"benchmark-key-0123456789abcdef")
        con = connect(root / "w.duckdb")
        start = time.perf_counter()
        history = read_history(con, tuple(p.code for p in profile.ics.places))
        print(f"history read at scale {args.scale:g} ({int(history.population[-1].sum()):,} registered at "
              f"{history.mid_years[-1]}, {history.years} years): {time.perf_counter() - start:.1f} s")
        con.disconnect()
    rates = rates_from_history(history, planning)
    acts = activity_rates(history)
    census = with_base(rates, scaled_to(rates.population, [p.population for p in profile.ics.places]),
                       rates.base_year)
    for label, r in (("warehouse base", rates), ("Census 2021 base (full size)", census)):
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            result = plan(r, acts, planning, to=2040, runs=args.runs, seed=1)
            times.append(time.perf_counter() - start)
        tracemalloc.start()
        plan(r, acts, planning, to=2040, runs=args.runs, seed=1)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"{label}: {args.runs} runs, {len(planning.scenarios)} scenarios, {len(result.summary):,} summary rows: "
              f"best {min(times):.2f} s of {args.repeats}, peak traced {peak / 2**20:.0f} MB")


if __name__ == "__main__":
    main()
