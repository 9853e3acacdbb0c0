"""Admission risk model: the panel's statistics by hand, the checks, reproducibility, and the dataset's windows."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import duckdb
import ibis
import numpy as np
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from placewise.analyse.risk import (
    LOUD_OE, MIN_GROUP_EVENTS, GroupPerformance, _auroc, _calibration, checks, dataset, feature_names, fit,
    performance)
from placewise.cli import app
from placewise.profile import load_profile
from placewise.warehouse import connect, ensure_tables
from placewise.warehouse.engines.duckdb import SCRATCH

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "measure"))
from measure_builder import Warehouse


def test_auroc_by_hand():
    # positives 0.9, 0.4; negatives 0.8, 0.3, 0.1: of 6 pairs the positive ranks higher in 5
    y = np.array([1, 1, 0, 0, 0])
    p = np.array([0.9, 0.4, 0.8, 0.3, 0.1])
    auc, lo, hi = _auroc(y, p)
    assert auc == pytest.approx(5 / 6) and lo < auc < hi


def test_calibration_of_true_probabilities_has_slope_one_and_intercept_zero():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.01, 0.6, 200_000)
    y = (rng.random(len(p)) < p).astype("int8")
    _s, s_lo, s_hi, _i, i_lo, i_hi = _calibration(y, p)
    assert s_lo < 1 < s_hi and i_lo < 0 < i_hi
    over = np.clip(p * 1.5, 0, 0.99)            # over-predicting: O/E below 1, intercept negative
    r = performance("overall", "All", y, over, threshold=0.5)
    assert r.observed_expected == pytest.approx(y.sum() / over.sum()) and r.intercept < 0


def test_error_rates_at_the_threshold():
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    p = np.array([0.9, 0.8, 0.1, 0.85, 0.2, 0.2, 0.1, 0.1])
    r = performance("overall", "All", y, p, threshold=0.8)
    assert r.fpr == pytest.approx(1 / 5) and r.fnr == pytest.approx(1 / 3)


def _row(dim: str, group: str, oe: float, admitted: int = 500, auroc: float = 0.8) -> GroupPerformance:
    """A panel row with the given O/E and otherwise good figures."""
    return GroupPerformance(dim, group, 10_000, admitted, auroc, 0, 1, 1.0, 0.9, 1.1, 0.0, -0.1, 0.1, oe, oe, oe,
                            0.04, 0, 1, 0.6, 0, 1)


def test_checks_stop_training_when_a_groups_oe_leaves_the_loud_range():
    rows = [_row("overall", "All", 1.0), _row("imd_quintile", "1", 1.05), _row("ethnic_group", "Mixed", 1.3),
            _row("sex", "male", 1.5)]
    missed, fatal = checks(rows)
    assert fatal == [f"O/E 1.300 in ethnic_group Mixed outside {LOUD_OE[0]}-{LOUD_OE[1]}"]    # sex is not checked
    assert any("Mixed" in m for m in missed)
    few = [_row("overall", "All", 1.0), _row("ethnic_group", "Mixed", 1.3, admitted=MIN_GROUP_EVENTS - 1)]
    assert checks(few) == ([], [])


def test_checks_report_auroc_and_imd_gap():
    rows = [_row("overall", "All", 1.0, auroc=0.7), _row("imd_quintile", "1", 1.0, auroc=0.80),
            _row("imd_quintile", "5", 1.0, auroc=0.76)]
    missed, fatal = checks(rows)
    assert fatal == [] and any("AUROC 0.700" in m for m in missed) and any("gap" in m for m in missed)


def test_ethnicity_is_never_a_predictor():
    assert not [f for f in feature_names(load_profile()) if "ethnic" in f]


def test_the_same_seed_gives_the_same_model():
    rng = np.random.default_rng(1)
    n = 4000
    cols = {f: rng.integers(0, 5, n) for f in ["age", "registers"]}
    y = (rng.random(n) < 0.05 + 0.08 * cols["registers"] / 4).astype("int8")
    t = pa.table({**cols, "admitted": y})
    b1, r1 = fit(t, ["age", "registers"], seed=7)
    b2, r2 = fit(t, ["age", "registers"], seed=7)
    X = np.column_stack([cols["age"], cols["registers"]]).astype(float)
    assert r1 == r2 and np.array_equal(b1.predict_proba(X), b2.predict_proba(X))


def test_dataset_outcome_is_an_emergency_admission_in_the_next_12_months(connect=None):
    w = Warehouse()
    for p in ("next_day", "last_day", "too_late", "elective", "before"):
        w.person(p)
    on = date(2023, 3, 31)
    w.spell("next_day", date(2023, 4, 1), date(2023, 4, 2))
    w.spell("last_day", date(2024, 3, 31), date(2024, 4, 2))
    w.spell("too_late", date(2024, 4, 1), date(2024, 4, 2))
    w.spell("elective", date(2023, 6, 1), date(2023, 6, 2), method="elective")
    w.spell("before", date(2023, 3, 31), date(2023, 4, 2))                 # on the date: a predictor, not the outcome
    con = w.load(ibis.duckdb.connect())
    d = dataset(con, load_profile(), [on], with_outcome=True).to_pylist()
    got = {r["person_id"]: (r["admitted"], r["emergency_admissions"]) for r in d}
    assert got == {"next_day": (1, 0), "last_day": (1, 0), "too_late": (0, 0), "elective": (0, 0), "before": (0, 1)}
    assert all(set(feature_names(load_profile())) <= set(r) for r in d)


def test_scoring_reads_the_stored_phm_tables_at_their_date_and_gets_the_same_dataset():
    """Features from ``placewise phm``'s stored tables equal those made afresh (whose steps' temporary tables are
    dropped once read); another date is made afresh."""
    from placewise.codelists import codes
    from placewise.derive.segments import PEOPLE_TABLE, build

    w = Warehouse()
    for p, born in (("a", (1940, 1)), ("b", (1980, 6)), ("c", (2001, 3))):
        w.person(p, born=born)
    w.event("a", date(2015, 1, 1), codes("hypertension")[0])
    w.event("b", date(2022, 5, 1), codes("type2_diabetes")[0])
    w.spell("a", date(2022, 12, 1), date(2022, 12, 5))
    w.gp_appointment("b", date(2022, 6, 1))
    w.medication("a", date(2022, 7, 1), "318135004")
    con = w.load(ibis.duckdb.connect())
    on = date(2023, 3, 31)
    fresh = dataset(con, load_profile(), [on], with_outcome=False).sort_by("person_id")
    assert con.con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = ?", [SCRATCH]).fetchall() == []
    assert fresh["gp_appointments"].to_pylist() == [0, 1, 0] and fresh["distinct_medicines"].to_pylist() == [1, 0, 0]
    build(con, load_profile(), on)
    con.raw_sql(f"UPDATE {PEOPLE_TABLE} SET age = age + 100 WHERE person_id = 'c'")   # marks the stored table
    stored = dataset(con, load_profile(), [on], with_outcome=False).sort_by("person_id")
    assert stored.drop_columns(["age", "age_band"]).equals(fresh.drop_columns(["age", "age_band"]))
    assert stored["age"].to_pylist() == [a + (100 if p == "c" else 0)
                                          for p, a in zip(fresh["person_id"].to_pylist(), fresh["age"].to_pylist())]
    earlier = dataset(con, load_profile(), [date(2022, 3, 31)], with_outcome=False)
    assert max(earlier["age"].to_pylist()) < 100                                      # not the stored table
    con.raw_sql(f"ALTER TABLE {PEOPLE_TABLE} DROP COLUMN gp_appointments")             # stored before the column
    assert dataset(con, load_profile(), [on], with_outcome=False).sort_by("person_id").equals(fresh)


def test_ceiling_auroc_from_a_truth_file(tmp_path):
    import pyarrow.parquet as pq

    from placewise.analyse.risk import ceiling_auroc
    rng = np.random.default_rng(3)
    p = rng.beta(0.5, 6, 50_000)
    status = np.where(rng.random(len(p)) < 0.9, "registered", "died")
    pq.write_table(pa.table({"nhs_number": ["x"] * len(p), "status": status, "admission_probability_12m": p}),
                   tmp_path / "t.parquet")
    got = ceiling_auroc(tmp_path / "t.parquet", seed=1)
    reg = p[status == "registered"]
    y = np.random.default_rng(1).random(len(reg)) < reg
    assert got == pytest.approx(_auroc(y.astype("int8"), reg)[0]) and 0.6 < got < 0.9


def test_tested_ceiling_is_the_true_probabilities_at_the_test_date_against_the_drawn_outcomes(tmp_path):
    """Like for like: only the people registered on the test date, their outcomes as drawn; a truth file made for
    another test date (or before the columns existed) gives none, so the card falls back to the forward ceiling."""
    import pyarrow.parquet as pq

    from placewise.analyse.risk import tested_ceiling
    p = np.array([0.9, 0.4, 0.8, 0.3, 0.1, 0.7])
    on = np.array([True, True, True, True, True, False])
    y = np.array([True, True, False, False, False, True])
    t = pa.table({"registered_year_before": on, "admission_probability_12m_year_before": p,
                  "emergency_admission_year_before": y}).replace_schema_metadata({"year_before": "2025-09-30"})
    pq.write_table(t, tmp_path / "t.parquet")
    got = tested_ceiling(tmp_path / "t.parquet", date(2025, 9, 30))
    assert got is not None and got.auroc == pytest.approx(5 / 6)      # the last person is not tested
    assert (got.people, got.admitted) == (5, 2)
    assert tested_ceiling(tmp_path / "t.parquet", date(2024, 9, 30)) is None
    pq.write_table(t.replace_schema_metadata(None), tmp_path / "old.parquet")
    assert tested_ceiling(tmp_path / "old.parquet", date(2025, 9, 30)) is None


def test_a_refused_risk_command_leaves_the_warehouse_closed(tmp_path):
    """A risk command refused once the warehouse is open (no clinical events to date it by; a date that is not one)
    closes it: the same process can then open the file with another configuration, which DuckDB refuses while a
    connection is open."""
    db = str(tmp_path / "w.duckdb")
    con = connect(db)
    ensure_tables(con)
    con.disconnect()
    for args, why in ((["risk", "score", "--db", db], "no clinical events"),
                      (["risk", "train", "--db", db, "--on", "31/03/2024"], "Invalid isoformat")):
        r = CliRunner().invoke(app, args)
        assert r.exit_code == 2 and "Refused" in r.output and why in r.output, r.output
        with duckdb.connect(db, read_only=True) as c:
            assert c.execute("SELECT count(*) FROM clinical_events").fetchone() == (0,)
