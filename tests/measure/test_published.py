"""Indicators from aggregate returns: NHS England's A&E statistics for the BLMK providers."""

from __future__ import annotations

import csv
from datetime import date

import ibis
from measure_builder import Warehouse

from placewise.measure import ReportingRange, compute, load_catalogue
from placewise.profile import load_profile
from placewise.sources.nhse_ae import aggregate_returns

FY17 = ReportingRange(date(2017, 4, 1), date(2018, 3, 31))


def test_type1_four_hours_from_the_published_statistics(reference_dir):
    source = reference_dir / "nhse_ae_attendances_2016_2019.csv"
    w = Warehouse()
    for row in aggregate_returns(source, ("RC9", "RC1", "RD8")).to_pylist():
        w.add("aggregate_returns", **row)
    out = compute(w.load(ibis.duckdb.connect()), load_catalogue(load_profile()), periods_range=FY17,
                  indicators=["ae_4hr_type1_published"]).to_pandas()
    with source.open(encoding="utf-8", newline="") as f:
        april = [r for r in csv.DictReader(f) if r["period"] == "2017-04-01" and r["type"] == "1"
                 and r["org_code"] in ("RC9", "RC1", "RD8")]
    by_org = {r["org_code"]: (int(r["attendances"]) - int(r["breaches"]), int(r["attendances"])) for r in april}
    first = out[out.period_start == date(2017, 4, 1)]
    for org, (seen, attended) in by_org.items():
        row = first[(first.geography_type == "provider") & (first.geography_code == org)]
        assert row[["numerator", "denominator"]].iloc[0].tolist() == [seen, attended]
    system = first[first.geography_type == "ics"]
    assert system.numerator.iloc[0] == sum(v[0] for v in by_org.values())
    assert system.denominator.iloc[0] == sum(v[1] for v in by_org.values())
    assert len(out[out.geography_type == "ics"]) == 12
    # England, the national comparator, is its own geography (every provider in the statistics), not in the ICS.
    england = first[first.geography_type == "england"]
    assert england.geography_code.tolist() == ["E92000001"] and england.denominator.iloc[0] > 1_000_000
