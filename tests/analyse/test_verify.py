"""``placewise verify``: the comparison finds every kind of difference, and the CLI proves engines agree."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "measure"))
from scenario import scenario

from placewise.analyse.measurements import KEYS
from placewise.analyse.verify import COMPARED, compare, sample
from placewise.cli import app
from placewise.measure import load_catalogue
from placewise.profile import load_profile
from placewise.warehouse import connect
from placewise.warehouse.engines import engine_for

INDICATORS = ["hypertension_treated_to_target", "ae_4hr_type1", "los_emergency_mean"]


def _frame(rows: list[tuple[str, str, float, float, float]]) -> pd.DataFrame:
    """Measurements with the given indicator, geography code, numerator, denominator and value."""
    key = dict(period_start=date(2024, 1, 1), period_end=date(2024, 3, 31), geography_type="ics",
               breakdown="none", breakdown_group="all")
    return pd.DataFrame([dict(key, indicator_id=i, geography_code=g, numerator=n, denominator=d, value=v,
                              lower=v, upper=v, events=float("nan"), sum_squares=float("nan"))
                         for i, g, n, d, v in rows])[[*KEYS, *COMPARED]]


def test_compare_finds_missing_rows_and_changed_numbers() -> None:
    """A row on one side only, a count off by one and a value off by one part in a million are differences;
    a value off by one part in a trillion is not, nor is NaN against NaN."""
    ref = _frame([("a", "X", 10, 20, 0.5), ("a", "Y", 3, 4, 0.75), ("b", "X", 1, 3, 1 / 3),
                  ("c", "X", 0, 0, float("nan"))])
    other = _frame([("a", "X", 11, 20, 0.5), ("b", "X", 1, 3, 1 / 3 * (1 + 1e-12)), ("b", "Z", 1, 1, 1.0),
                    ("c", "X", 0, 0, float("nan"))])
    found = {(d.indicator_id, d.key.split()[-3], d.column) for d in compare(ref, other, "other")}
    assert found == {("a", "X", "numerator"), ("a", "Y", "row"), ("b", "Z", "row")}
    moved = other.copy()
    moved.loc[1, "value"] = 1 / 3 * (1 + 1e-6)
    assert [(d.indicator_id, d.column) for d in compare(ref, moved, "other") if d.column != "row"] == [
        ("a", "numerator"), ("b", "value")]


def test_compare_takes_a_fractional_sum_that_is_whole_on_one_engine_within_tolerance() -> None:
    """Expected cases summing to 26 on one engine and 26 plus rounding on another agree; 26 against 27 does not."""
    ref = _frame([("d", "X", 18, 26.0, 18 / 26), ("d", "Y", 18, 26.0, 18 / 26)])
    other = _frame([("d", "X", 18, 26.00000000000001, 18 / 26), ("d", "Y", 18, 27.0, 18 / 26)])
    assert [(d.key.split()[-3], d.column) for d in compare(ref, other, "other")] == [("Y", "denominator")]


def test_compare_finds_a_rate_of_summed_values_whose_events_or_squares_differ() -> None:
    """A bed-day rate's interval rests on its spells (events) and squared days as well as its days: the same days over
    a different number of spells, or with other squared days, is a difference; absent (NaN) on both sides is not."""
    ref = _frame([("beds", "X", 13, 1000, 13.0), ("beds", "Y", 13, 1000, 13.0), ("a", "X", 1, 2, 0.5)])
    ref.loc[:1, ["events", "sum_squares"]] = [3.0, 105.0]
    other = ref.copy()
    other.loc[0, "events"] = 4.0
    other.loc[1, "sum_squares"] = 107.0
    assert [(d.key.split()[-3], d.column) for d in compare(ref, other, "other")] == [("X", "events"),
                                                                                   ("Y", "sum_squares")]


def test_sample_takes_one_indicator_of_each_kind() -> None:
    """The default sample covers every measure type of the catalogue, once per numerator kind."""
    cat = load_catalogue(load_profile())
    chosen = sample(cat)
    assert {cat.indicator(i).measure for i in chosen} == {i.measure for i in cat.indicators}
    assert len(chosen) == len({(cat.indicator(i).measure, type(cat.indicator(i).numerator)) for i in chosen})


def _warehouse(url: str) -> str:
    """The hand-made scenario written to the warehouse at ``url``."""
    con = scenario().load(connect(url))
    con.disconnect()
    return url


def _verify(engines: str, urls: list[str]) -> tuple[int, str]:
    """Run ``placewise verify`` over the scenario's first quarter of 2024."""
    args = ["verify", "--engines", engines, *(a for u in urls for a in ("--db", u))]
    result = CliRunner().invoke(app, [*args, *(a for i in INDICATORS for a in ("-i", i))])
    return result.exit_code, result.output


def test_verify_cli_reports_agreement_and_a_difference(tmp_path: Path) -> None:
    """Two DuckDB warehouses with the same data agree (exit 0); remove one A&E attendance and verify
    names the differing indicator and exits 1."""
    a, b = _warehouse(str(tmp_path / "a.duckdb")), _warehouse(str(tmp_path / "b.duckdb"))
    code, out = _verify("duckdb,duckdb", [a, b])
    assert code == 0, out
    assert "The engines agree" in out
    con = connect(b)
    engine_for(con).execute("DELETE FROM ae_attendances WHERE arrival = (SELECT min(arrival) FROM ae_attendances)")
    con.disconnect()
    code, out = _verify("duckdb,duckdb", [a, b])
    assert code == 1, out
    assert "differences from duckdb #1" in out and "ae_4hr_type1" in out
    assert "hypertension_treated_to_target" not in out


def test_verify_cli_refuses_a_mismatched_engine(tmp_path: Path) -> None:
    """An URL whose engine is not the one named is refused (exit 2) before anything is computed."""
    code, out = _verify("duckdb,postgres", [str(tmp_path / "a.duckdb"), str(tmp_path / "b.duckdb")])
    assert code == 2 and "is a duckdb warehouse, not postgres" in out


@pytest.mark.postgres
def test_verify_cli_duckdb_and_postgres_agree(tmp_path: Path, postgres_url: str) -> None:
    """The scenario on DuckDB and on PostgreSQL: verify finds no difference."""
    code, out = _verify("duckdb,postgres", [_warehouse(str(tmp_path / "a.duckdb")), _warehouse(postgres_url)])
    assert code == 0, out


@pytest.mark.postgres
@pytest.mark.spark
def test_verify_cli_duckdb_postgres_and_spark_agree(tmp_path: Path, postgres_url: str, spark_url: str) -> None:
    """``placewise verify --engines duckdb,postgres,spark`` as the issue names it: the scenario on all three, no
    difference, and each engine's measurements counted."""
    urls = [_warehouse(str(tmp_path / "a.duckdb")), _warehouse(postgres_url), _warehouse(spark_url)]
    code, out = _verify("duckdb,postgres,spark", urls)
    assert code == 0, out
    assert "The engines agree" in out and "postgres" in out and "spark" in out
