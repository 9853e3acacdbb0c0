"""Time the disclosure decision on a warehouse and count the totals it hides.

Run: PYTHONPATH=src .venv/bin/python benchmarks/bench_disclosure.py WAREHOUSE.duckdb
(opened read-only; run it under ``flock /work/heavy.lock`` for a warehouse at scale 0.2 or more).
Prints the decision's wall and CPU time, the share of whole-population cells hidden at the ICS, Place
and practice, how many ICS whole-population cells are hidden other than as small counts, and the
indicators that lose the ICS total most often.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import ibis
import pandas as pd

from placewise.measure.catalogue import load_catalogue
from placewise.profile.model import load_profile
from placewise.publish import disclosure as d
from placewise.publish.inputs import read_measurements


def hidden_shares(cells: pd.DataFrame) -> pd.DataFrame:
    """Share of published whole-population cells hidden, by geography type: all, small counts, secondary."""
    mine = cells[(cells.breakdown == "none") & (cells.reason != d.UNPUBLISHED)]
    mine = mine.assign(small=mine.reason == d.PRIMARY, secondary=mine.reason == d.SECONDARY)
    out = mine.groupby("geography_type")[["suppressed", "small", "secondary"]].mean()
    return out.loc[[g for g in ("ics", "place", "pcn", "practice") if g in out.index]]


def main() -> None:
    """Make the decision once over the warehouse's measurements and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("warehouse")
    args = parser.parse_args()
    con = ibis.duckdb.connect(args.warehouse, read_only=True)
    profile = load_profile()
    frame = read_measurements(con)
    practices = con.table("practices").select("practice_code", "pcn_code", "la_code").to_pandas()
    rule = d.load_rule(profile)
    measures = {i.id: i.measure for i in load_catalogue(profile).indicators}
    relations = d.geography_relations(profile, practices, frame)
    wall, cpu = time.perf_counter(), time.process_time()
    cells = d.decide(frame, rule, measures, relations).cells
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    print(f"{len(frame):,} measurement rows; decision {wall:.1f} s wall, {cpu:.1f} s CPU")
    print("whole-population cells hidden (share of published cells):")
    print(hidden_shares(cells).to_string(float_format=lambda x: f"{x:.1%}"))
    ics = cells[(cells.geography_type == "ics") & (cells.breakdown == "none") & (cells.reason != d.UNPUBLISHED)]
    print("ICS whole-population cells:", len(ics), "hidden:", ics.reason[ics.suppressed].value_counts().to_dict())
    worst = ics.groupby("indicator_id").suppressed.mean().sort_values(ascending=False)
    print("ICS total hidden, share of periods (worst indicators):")
    print(worst[worst > 0].head(12).to_string())


if __name__ == "__main__":
    main()
