"""Profile the measure's event sources: each source's read split into scan, pseudonym join, attribution and write.

Usage: .venv/bin/python benchmarks/profile_event_sources.py FILE [--months N] [--repeats 1]

For every event source the catalogue counts (``measure.compile.catalogue_event_reads``, over ``placewise measure``'s
default range), four steps are timed, each including the ones before it: ``scan`` (the days and columns read,
summed rather than written, so nothing is kept), ``join`` (joined to the people by the 64-character pseudonym,
``derive.events.attributed``'s first join), ``attribute`` (each event given the practice of its day,
``derive.people.attribute``) and ``write`` (the temporary table ``measure.computation`` makes of it). The
differences between the columns are each step's own cost. CPU seconds (user + system, all threads) are the figure
to compare on a shared machine; the load average is printed at the end. Temporary tables only: the warehouse is
not changed, but open a copy all the same.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import ibis.expr.types as ir

from placewise.canonical import PERSON_KEY
from placewise.derive.events import ATTRIBUTES, attributed, source_rows
from placewise.derive.people import person_attributes, registrations
from placewise.measure import computation, default_range, load_catalogue
from placewise.measure.compile import catalogue_event_reads
from placewise.measure.periods import periods
from placewise.profile import load_profile
from placewise.warehouse import connect
from placewise.warehouse.engines import engine_for

from commands import add_months_option
from cputime import cpu_seconds


def _cost(f: Callable[[], object]) -> tuple[float, float]:
    """Wall and CPU seconds of running ``f``."""
    start, cpu = time.perf_counter(), cpu_seconds()
    f()
    return time.perf_counter() - start, cpu_seconds() - cpu


def _summed(t: ir.Table) -> ir.Table:
    """One row that needs every row and column of ``t`` (so no step is optimised away), without writing ``t``."""
    return t.aggregate(n=t.count(), **{f"c_{c}": t[c].count() for c in t.columns})


def main() -> None:
    """Time each source's steps and print one line per source with the steps' cumulative CPU and wall seconds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="warehouse: DuckDB file or postgresql://…")
    add_months_option(parser)
    parser.add_argument("--repeats", type=int, default=1, help="runs of each step; the least CPU is printed")
    args = parser.parse_args()
    con = connect(args.url)
    catalogue = load_catalogue(load_profile())
    rng = default_range(con, args.months)
    engine = engine_for(con)
    with engine.settings(engine.analytic):
        complete = computation.complete_to(con)
        reads = catalogue_event_reads([(i, computation.followed_up(periods(rng, i.frequency), i, complete))
                                       for i in catalogue.indicators])
        attrs = engine.temp_table("_profile_people", person_attributes(con))
        intervals = engine.temp_table("_profile_registrations", registrations(con, attrs))
        print(f"{'source':50s} {'rows':>11s}   CPU s: scan  +join  +attr +write   (wall s)")
        total = [0.0] * 4
        for source, read in reads.items():
            rows = source_rows(con, source, read)
            joined = rows.join(attrs.select(PERSON_KEY, *ATTRIBUTES), PERSON_KEY).drop(PERSON_KEY)
            steps: list[Callable[[], object]] = [
                lambda r=rows: _summed(r).execute(),
                lambda j=joined: _summed(j).execute(),
                lambda r=rows: _summed(attributed(r, attrs, intervals)).execute(),
                lambda r=rows: engine.temp_table("_profile_events", attributed(r, attrs, intervals)),
            ]
            costs = [min((_cost(f) for _ in range(args.repeats)), key=lambda c: c[1]) for f in steps]
            n = rows.count().execute()
            for k, c in enumerate(costs):
                total[k] += c[1]
            print(f"{source[0] + '.' + source[1]:50s} {n:11,d}   " + " ".join(f"{c[1]:6.2f}" for c in costs)
                  + "   (" + " ".join(f"{c[0]:.2f}" for c in costs) + ")", flush=True)
        print(f"{'all sources':50s} {'':11s}   " + " ".join(f"{t:6.2f}" for t in total)
              + f"   load average {os.getloadavg()[0]:.1f}")
        for name in ("_profile_events", "_profile_registrations", "_profile_people"):
            engine.drop(name)


if __name__ == "__main__":
    main()
