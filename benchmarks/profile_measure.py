"""Profile the recompute: the shared tables, then each indicator, by wall time and CPU time.

Usage: .venv/bin/python benchmarks/profile_measure.py FILE [--months N] [--only ID,ID,...]

Prints one line per phase with its wall seconds and the CPU seconds the process used meanwhile (user +
system, all threads): ``context`` (the tables every indicator shares: person attributes, registrations,
population, coded records, attributed event tables, registers, population cells; each temporary table on its
own line), then each indicator's cells and expansion, then the sort of the counts (as ``compute`` sorts them),
the statistics and the write of ``measurements`` (into the warehouse given: use a copy). The default range is
``placewise measure``'s. On a shared machine the CPU time is the figure to compare between runs; the load
average is printed at the end.
"""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime
import time
from collections.abc import Callable
from itertools import count
from typing import TypeVar

import pyarrow as pa

from placewise.analyse.measurements import measurements, write_measurements
from placewise.measure import computation, default_range, load_catalogue
from placewise.measure.periods import periods
from placewise.profile import load_profile
from placewise.warehouse import connect
from placewise.warehouse.engines import engine_for

from commands import add_months_option
from cputime import cpu_seconds

T = TypeVar("T")


def _timed(name: str, f: Callable[[], T], totals: list[tuple[float, float]]) -> T:
    """Run ``f``, print its wall and CPU seconds, and add them to ``totals``."""
    start, cpu = time.perf_counter(), cpu_seconds()
    out = f()
    totals.append((time.perf_counter() - start, cpu_seconds() - cpu))
    print(f"{name:45s} {totals[-1][0]:8.2f} s wall {totals[-1][1]:8.2f} s CPU", flush=True)
    return out


def main() -> None:
    """Run the phases in the order ``compute`` does and print their times."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="warehouse: DuckDB file or postgresql://…")
    add_months_option(parser)
    parser.add_argument("--only", help="comma-separated indicator ids (default: all)")
    args = parser.parse_args()
    con = connect(args.url)
    catalogue = load_catalogue(load_profile())
    rng = default_range(con, args.months)
    wanted = set(args.only.split(",")) if args.only else None
    chosen = [i for i in catalogue.indicators if wanted is None or i.id in wanted]
    engine = engine_for(con)
    totals: list[tuple[float, float]] = []
    temp = computation._temp
    parts = []
    with engine.settings(engine.analytic):
        ends = computation._period_ends(rng, chosen)
        complete = computation.complete_to(con)
        work = [(i, computation.followed_up(periods(rng, i.frequency), i, complete)) for i in chosen]
        reads = computation.catalogue_event_reads(work, catalogue.age_bands)
        own = computation._own_names()
        computation._temp = lambda c, name, expr, clustered_by=None: _timed(
            f"  {name}", lambda: temp(c, name, expr, clustered_by), [])
        try:
            ctx = _timed("context (shared tables)",
                         lambda: computation._context(con, catalogue, ends, work, reads, own), totals)
        finally:
            computation._temp = temp
        shared = computation.SharedSides(computation.shared_keys(work), own)
        cohorts = count()
        done: dict = {}     # each distinct expression compiled once per computation, as compute does
        for ind, ps in work:
            steps = computation._plan(ctx, ind, ps, shared, cohorts, own)  # compiled then run here, not pipelined: each alone
            parts.append(_timed(ind.id, lambda s=steps: computation._run(engine, computation._compiled(engine, s, done)),
                                totals))
    counts = _timed("sort counts", lambda: computation.sort_by_keys(pa.concat_tables(parts), computation.KEYS), totals)
    table = _timed("statistics", lambda: measurements(counts, catalogue, datetime.now(UTC)), totals)
    _timed("write measurements", lambda: write_measurements(con, table, [i.id for i in chosen]), totals)
    print(f"total: {sum(t[0] for t in totals):.1f} s wall, {sum(t[1] for t in totals):.1f} s CPU; "
          f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
