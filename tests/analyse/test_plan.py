"""Plan against actual: variance, RAG by polarity, forecast to year end, trajectories from CSV."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pytest

from placewise.analyse.measurements import SCHEMA
from placewise.analyse.plan import RagRule, forecast_year_end, load_plans, plan_against_actual, rag
from placewise.measure import load_catalogue
from placewise.profile import ProfileError, load_profile

HTN = "hypertension_treated_to_target"


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue(load_profile())


def _measurements(values: dict[date, float]) -> pa.Table:
    """ICS rows (no breakdown) of the hypertension indicator, plus a broken-down row that must be ignored."""
    rows = [dict(indicator_id=HTN, period_start=d, period_end=d, geography_type="ics", geography_code="QHG",
                 breakdown="none", breakdown_group="All", numerator=None, denominator=None, value=v, lower=None,
                 upper=None, computed_at=None) for d, v in values.items()]
    rows.append({**rows[0], "breakdown": "sex", "breakdown_group": "male", "value": 99.0})
    return pa.table({f.name: pa.array([r[f.name] for r in rows], f.type) for f in SCHEMA})


def test_rag_honours_polarity_and_the_amber_band():
    rule = RagRule(amber_within=0.05)
    actual = np.array([7.0, 8.3, 10.0, 8.0, 9.0, np.nan])
    plan = np.full(6, 8.0)
    direction = np.array([-1, -1, -1, 1, 0, 1], dtype=float)   # lower better x3, higher better, neutral, missing
    assert rag(actual, plan, direction, rule).tolist() == ["green", "amber", "red", "green", None, None]


def test_variance_and_rag_against_the_bundled_trajectory(catalogue):
    plans = load_plans(load_profile(), catalogue)
    m = _measurements({date(2023, 12, 1): 60.0, date(2024, 1, 1): 68.0, date(2024, 2, 1): 65.0})
    out = plan_against_actual(m, plans, catalogue).to_pylist()
    assert [r["period_start"] for r in out] == [date(2023, 12, 1), date(2024, 1, 1), date(2024, 2, 1),
                                                date(2024, 3, 1)]
    assert [r["plan"] for r in out] == [62.4, 67.27, 72.13, 77.0]
    assert out[0]["variance"] == pytest.approx(-2.4)
    assert out[0]["relative_variance"] == pytest.approx(-2.4 / 62.4)
    assert [r["rag"] for r in out] == ["amber", "green", "red", None]   # -3.8% amber; -9.9% red; March no actual
    assert out[3]["actual"] is None


def test_forecast_to_year_end_carries_the_recent_mean_variance(catalogue):
    plans = load_plans(load_profile(), catalogue)
    pva = plan_against_actual(_measurements({date(2023, 12, 1): 60.0, date(2024, 1, 1): 68.0,
                                             date(2024, 2, 1): 65.0}), plans, catalogue)
    (f,) = forecast_year_end(pva, plans, catalogue).to_pylist()
    assert f["year_start"] == date(2023, 4, 1) and f["year_end_period"] == date(2024, 3, 1)
    assert f["periods_used"] == 3
    assert f["forecast"] == pytest.approx(77 + (-2.4 + 0.73 - 7.13) / 3)   # 74.0667
    assert f["rag"] == "amber"


def test_trajectories_from_csv_by_geography(tmp_path, catalogue):
    path = tmp_path / "plan.csv"
    path.write_text("indicator_id,geography_type,geography_code,period_start,value\n"
                    "gp_dna_rate,place,E06000032,2024-01-01,5.0\n"
                    "gp_dna_rate,place,E06000032,2024-02-01,4.5\n", encoding="utf-8")
    plans = load_plans(load_profile(), catalogue, (path,))
    luton = [t for t in plans.trajectories if t.geography_code == "E06000032"]
    assert [(p.period, p.value) for p in luton[0].points] == [(date(2024, 1, 1), 5.0), (date(2024, 2, 1), 4.5)]


def test_bad_csv_value_names_file_row_and_field(tmp_path, catalogue):
    path = tmp_path / "plan.csv"
    path.write_text("indicator_id,geography_type,geography_code,period_start,value\n"
                    "gp_dna_rate,place,E06000032,2024-01-01,5.0\n"
                    "gp_dna_rate,place,E06000032,2024-02-01,lots\n", encoding="utf-8")
    with pytest.raises(ProfileError, match=r"plan.csv: row 3, field value: 'lots' is not a valid number"):
        load_plans(load_profile(), catalogue, (path,))


def test_unknown_indicator_in_a_trajectory(tmp_path, catalogue):
    path = tmp_path / "plan.csv"
    path.write_text("indicator_id,geography_type,geography_code,period_start,value\n"
                    "waiting_list,ics,QHG,2024-01-01,5.0\n", encoding="utf-8")
    with pytest.raises(ProfileError, match="unknown indicator 'waiting_list'"):
        load_plans(load_profile(), catalogue, (path,))
