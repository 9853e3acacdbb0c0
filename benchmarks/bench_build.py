"""Time building every indicator's queries: the Python the main thread runs before the engine's first query.

Usage: .venv/bin/python benchmarks/bench_build.py FILE [--months N] [--repeats 3] [--profile 30]

Makes the shared tables as ``compute`` does (not timed), then builds every indicator's plan (``_plan``: Ibis
expressions, no SQL yet) ``--repeats`` times, each with fresh shared sides as a computation starts with, and prints
the wall and CPU seconds of each; then compiles the last plans to SQL once (done on another thread while the
engine runs, on DuckDB). ``--profile N`` prints the N costliest of Placewise's functions under cProfile (which about
doubles the time) over one more build. On a shared machine the CPU time is the figure to compare.
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import os
import pstats
import time

from placewise.measure import computation, default_range, load_catalogue
from placewise.measure.periods import periods
from placewise.profile import load_profile
from placewise.warehouse import connect
from placewise.warehouse.engines import engine_for

from commands import add_months_option
from cputime import cpu_seconds


def main() -> None:
    """Make the shared tables, then time building and compiling every indicator's queries."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="warehouse: DuckDB file or postgresql://…")
    add_months_option(parser)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", type=int, default=0, help="print this many functions under cProfile")
    args = parser.parse_args()
    con = connect(args.url)
    catalogue = load_catalogue(load_profile())
    rng = default_range(con, args.months)
    chosen = list(catalogue.indicators)
    engine = engine_for(con)
    with engine.settings(engine.analytic):
        complete = computation.complete_to(con)
        work = [(i, computation.followed_up(periods(rng, i.frequency), i, complete)) for i in chosen]
        reads = computation.catalogue_event_reads(work, catalogue.age_bands)
        own = computation._own_names()
        ctx = computation._context(con, catalogue, computation._period_ends(rng, chosen), work, reads, own)

        def build() -> list[list[computation.Step]]:
            shared, cohorts = computation.SharedSides(computation.shared_keys(work), own), itertools.count()
            return [computation._plan(ctx, ind, ps, shared, cohorts, own) for ind, ps in work]

        for _ in range(args.repeats):
            start, cpu = time.perf_counter(), cpu_seconds()
            plans = build()
            print(f"built {len(chosen)} indicators' plans ({sum(map(len, plans))} queries): "
                  f"{time.perf_counter() - start:.2f} s wall, {cpu_seconds() - cpu:.2f} s CPU", flush=True)
        start, cpu = time.perf_counter(), cpu_seconds()
        for steps in plans:
            computation._compiled(engine, steps, {})
        print(f"compiled them: {time.perf_counter() - start:.2f} s wall, {cpu_seconds() - cpu:.2f} s CPU")
        if args.profile:
            profiler = cProfile.Profile()
            profiler.runcall(build)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats("placewise", args.profile)
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
