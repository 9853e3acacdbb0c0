"""Time ``placewise report`` at full scale: every catalogue indicator, the ICS and its four Places.

Run: .venv/bin/python benchmarks/bench_report.py [--warehouse URL] [--months N] [--no-pdf]

Without --warehouse the script writes a full-shape ``measurements`` table into a temporary DuckDB
warehouse: every indicator of the BLMK catalogue, the months ``placewise measure`` covers by default (``--months``),
every geography the catalogue computes
(ICS, Places, PCNs, practices, care alliances, legacy CCGs) and every breakdown group, so the report
reads from a table of the size a full-scale run produces. The report's cost depends on this shape,
not on the number of people behind the counts. The reports are assembled by ``build_models`` and written by
``write_reports``, as ``placewise report`` does. Prints wall time by stage, pages and peak memory.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from placewise.analyse.measurements import SCHEMA, write_measurements
from placewise.analyse.statistics import proportion
from placewise.measure import load_catalogue
from placewise.profile import load_profile
from placewise.publish.assembly import build_models
from placewise.publish.render import write_reports
from placewise.warehouse import connect
from placewise.warehouse import ensure_tables

from commands import add_months_option

GROUPS = {"none": ["All"], "imd_quintile": list("12345"), "ethnic_group": ["A", "B", "C", "D", "E", "Z"],
          "sex": ["female", "male"], "age_band": [str(a) for a in range(0, 90, 10)]}


def full_shape(months: int) -> pa.Table:
    """A measurements table of full-scale shape with plausible proportions and Wilson intervals."""
    profile = load_profile()
    catalogue = load_catalogue(profile)
    ics = profile.ics
    geos = [("ics", ics.code)] + [("place", p.code) for p in ics.places]
    geos += [("pcn", f"U{i:05d}") for i in range(sum(p.pcns for p in ics.places))]
    geos += [("practice", f"E8{i:04d}") for i in range(sum(p.practices for p in ics.places))]
    geos += [(g.kind, g.code) for g in ics.groupings]
    starts = pd.date_range(end=date(2025, 3, 1), periods=months, freq="MS")
    groups = [(b, g) for b, gs in GROUPS.items() for g in gs]
    rng = np.random.default_rng(7)
    keys = pd.MultiIndex.from_product(
        [[i.id for i in catalogue.indicators], starts, range(len(geos)), range(len(groups))],
        names=["indicator_id", "period_start", "geo", "group"],
    ).to_frame(index=False)
    scale = np.where(keys.geo == 0, 40.0, np.where(keys.geo < 5, 10.0, 0.05)) / np.where(keys.group == 0, 1, 5)
    den = np.maximum(1, rng.poisson(1000 * scale))
    num = rng.binomial(den, rng.uniform(0.55, 0.9, len(keys)))
    est = proportion(num, den, multiplier=100)
    frame = pd.DataFrame({
        "indicator_id": keys.indicator_id,
        "period_start": keys.period_start.dt.date,
        "period_end": (keys.period_start + pd.offsets.MonthEnd(0)).dt.date,
        "geography_type": [geos[g][0] for g in keys.geo],
        "geography_code": [geos[g][1] for g in keys.geo],
        "breakdown": [groups[g][0] for g in keys.group],
        "breakdown_group": [groups[g][1] for g in keys.group],
        "numerator": num.astype(float), "denominator": den.astype(float),
        "value": est.value, "lower": est.lower, "upper": est.upper,
        "computed_at": pd.Timestamp("2025-04-02"),
    })
    return pa.Table.from_pandas(frame, schema=SCHEMA, preserve_index=False)


def practices_frame() -> pd.DataFrame:
    """The practices of :func:`full_shape`, each in a PCN and Place, so the totals nest as in a real warehouse."""
    places = load_profile().ics.places
    n_pcn, n_practice = sum(p.pcns for p in places), sum(p.practices for p in places)
    pcn_place = np.repeat([p.code for p in places], [p.pcns for p in places])
    pcn = np.arange(n_practice) % n_pcn
    return pd.DataFrame({"practice_code": [f"E8{i:04d}" for i in range(n_practice)], "practice_name": "p",
                         "pcn_code": [f"U{i:05d}" for i in pcn], "pcn_name": "n", "la_code": pcn_place[pcn],
                         "list_size": 10_000})


def main() -> None:
    """Build (or open) the warehouse, then time assembly, HTML and PDF of every report as ``placewise report`` does."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", help="an existing warehouse with measurements (default: build one)")
    add_months_option(parser)
    parser.add_argument("--no-pdf", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-report-"))
    url = args.warehouse
    if url is None:
        url = str(tmp / "bench.duckdb")
        table = full_shape(args.months)
        con = connect(url)
        ensure_tables(con)
        write_measurements(con, table, sorted(set(table["indicator_id"].to_pylist())))
        con.con.register("_practices", practices_frame())
        con.con.execute("INSERT INTO practices SELECT * FROM _practices")
        con.disconnect()
        print(f"measurements rows: {table.num_rows:,}")
    load = os.getloadavg()
    t0 = time.perf_counter()
    models = build_models(warehouse=url)
    t1 = time.perf_counter()
    written = write_reports(models, tmp / "out", pdf=not args.no_pdf)
    t2 = time.perf_counter()
    pages = sum(n for *_, n in written)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    children, cpu = kids.ru_maxrss / 1024, kids.ru_utime + kids.ru_stime
    machine = platform.processor() or platform.machine()
    print(f"machine: {machine}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"read measurements, decide disclosure over all of them and assemble {len(models)} reports "
          f"({sum(len(m.pages) for _, m in models)} indicator pages, SPC, comparisons, SII): {t1 - t0:.2f} s")
    print(f"render HTML{'' if args.no_pdf else ' and PDF'} (2 processes): {t2 - t1:.2f} s wall, {cpu:.1f} s CPU "
          f"in the workers, {pages} PDF pages; load average before: {load[0]:.1f}")
    print(f"total: {t2 - t0:.2f} s; peak memory {own:.0f} MB (main), {children:.0f} MB (largest worker)")


if __name__ == "__main__":
    main()
