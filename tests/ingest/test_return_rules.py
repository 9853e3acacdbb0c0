"""Aggregate returns break their measure's rule (placewise.returns): each bad row is quarantined, naming the row,
field and rule; good rows of the same file load."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from ingest_support import load, query, quarantine

Batch = dict[str, pd.DataFrame]
M = date(2024, 3, 1)

CASES = [
    # (id, row, field, reason fragment)
    ("numerator-above-denominator", {"measure": "rtt_within_18wk", "numerator": 11.0, "denominator": 10.0},
     "numerator", "numerator is above the denominator"),
    ("numerator-without-denominator", {"measure": "cancer_62d", "numerator": 5.0}, "denominator",
     "numerator and denominator together"),
    ("proportion-with-nothing", {"measure": "cancer_fds_28d"}, "value", "needs numerator and denominator, or the value"),
    ("share-above-one", {"measure": "cancer_fds_28d", "value": 76.25}, "value", "share between 0 and 1"),
    ("count-without-value", {"measure": "rtt_over_52wk", "numerator": 3.0, "denominator": 4.0}, "value",
     "a count needs its value"),
    ("count-not-whole", {"measure": "rtt_waiting_list", "value": 10.5}, "value", "a count is a whole number"),
    ("negative-count", {"measure": "rtt_over_65wk", "value": -1.0}, "value", "negative"),
    ("mean-without-incidents", {"measure": "ambulance_cat2_mean", "numerator": 300.0}, "denominator",
     "numerator and denominator together"),
    ("quarterly-return-for-a-month", {"measure": "ga_bed_occupancy", "numerator": 90.0, "denominator": 100.0},
     "period", "a quarterly return's period is the first day of a quarter"),
    ("quarterly-return-mid-month", {"measure": "ga_bed_occupancy", "period": date(2024, 4, 15), "numerator": 90.0,
                                    "denominator": 100.0}, "period", "first day of a quarter"),
]
GOOD = [
    {"measure": "rtt_within_18wk", "numerator": 10.0, "denominator": 10.0},
    {"measure": "cancer_fds_28d", "value": 0.7625},
    {"measure": "rtt_over_65wk", "value": 0.0},
    {"measure": "ambulance_cat1_mean", "value": 6.08},
    {"measure": "something_local", "numerator": 11.0, "denominator": 10.0},
    {"measure": "ga_bed_occupancy", "period": date(2024, 1, 1), "numerator": 930.0, "denominator": 1000.0},
]


def _returns(rows: list[dict]) -> pd.DataFrame:
    """An aggregate-returns file: one provider per row so that keys never clash."""
    frame = pd.DataFrame([{"period": M, "org_code": f"R{i:02d}", "numerator": None, "denominator": None,
                           "value": None, **r} for i, r in enumerate(rows)])
    return frame[["period", "org_code", "measure", "numerator", "denominator", "value"]]


@pytest.mark.parametrize(("bad", "field", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_return_row_is_quarantined(tmp_path: Path, batch: Batch, bad: dict, field: str, reason: str) -> None:
    batch["aggregate_returns"] = _returns([*GOOD, bad])
    code, output = load(tmp_path, batch, fmt="csv")
    assert code == 3, output
    lines = quarantine(tmp_path / "wh.duckdb", "aggregate_returns")
    assert {(r, f) for _, r, f, _, _ in lines} == {(len(GOOD) + 1, field)}, lines
    assert any(reason in why for *_, why, _ in lines), lines
    assert query(tmp_path / "wh.duckdb", "SELECT count(*) FROM aggregate_returns") == [(len(GOOD),)]
