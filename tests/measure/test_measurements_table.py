"""measure_all writes the measurements table, replacing only the indicators it recomputes."""

from __future__ import annotations

from datetime import UTC, date, datetime

import ibis
import pyarrow.compute as pc
import pytest
from scenario import scenario

from placewise.analyse.measurements import SCHEMA, measure_all, measurements
from placewise.measure import ReportingRange, compute, load_catalogue
from placewise.profile import load_profile
from placewise.warehouse.engines import engine_for

Q4 = ReportingRange(date(2024, 1, 1), date(2024, 3, 31))
IDS = ["hypertension_treated_to_target", "ae_4hr_type1", "emergency_admissions_dsr"]


def _stored(con: ibis.BaseBackend, indicator: str | None = None) -> int:
    t = con.table("measurements")
    return int((t.filter(t.indicator_id == indicator) if indicator else t).count().execute())


def _check(con: ibis.BaseBackend) -> None:
    profile = load_profile()
    first = measure_all(con, profile, periods_range=Q4, indicators=IDS)
    assert first.schema == SCHEMA
    assert _stored(con) == first.num_rows
    htn = first.filter(pc.and_(pc.equal(first["indicator_id"], "hypertension_treated_to_target"),
                               pc.and_(pc.equal(first["geography_type"], "ics"),
                                       pc.equal(first["breakdown"], "none")))).to_pylist()
    march = next(r for r in htn if r["period_end"] == date(2024, 3, 31))
    assert (march["numerator"], march["denominator"], march["value"]) == (4, 8, 50)   # hand-worked in test_compute
    catalogue = load_catalogue(profile)
    serial = measurements(compute(con, catalogue, periods_range=Q4, indicators=IDS), catalogue, datetime.now(UTC))
    assert first.drop_columns("computed_at").equals(serial.drop_columns("computed_at"))  # same rows, same order
    before_ae = _stored(con, "ae_4hr_type1")
    again = measure_all(con, profile, periods_range=Q4, indicators=["hypertension_treated_to_target"])
    assert _stored(con, "hypertension_treated_to_target") == again.num_rows   # replaced, not duplicated
    assert _stored(con, "ae_4hr_type1") == before_ae                           # others untouched
    dsr = con.table("measurements").filter(ibis._.indicator_id == "emergency_admissions_dsr").execute()
    assert dsr["value"].isna().all()   # under 10 events everywhere: no DSR is published (UKHSA rule)


def test_measure_all_on_duckdb():
    _check(scenario().load(ibis.duckdb.connect()))


@pytest.mark.postgres
def test_measure_all_on_postgres(postgres_url):
    _check(scenario().load(ibis.connect(postgres_url)))


def _old_table_gains_the_new_columns(con: ibis.BaseBackend) -> None:
    """A measurements table written before ``events`` and ``sum_squares`` existed keeps its rows, gains the columns
    (null), and takes the new rows."""
    profile = load_profile()
    first = measure_all(con, profile, periods_range=Q4, indicators=IDS)
    old = con.table("measurements").drop("events", "sum_squares").to_pyarrow()
    engine_for(con).replace_table("measurements", old)
    measure_all(con, profile, periods_range=Q4, indicators=["hypertension_treated_to_target"])
    t = con.table("measurements")
    assert set(SCHEMA.names) <= set(t.columns)
    assert _stored(con) == first.num_rows                      # the others' rows kept, this one's replaced
    assert t.events.isnull().all().execute()


def test_an_old_measurements_table_gains_the_new_columns_on_duckdb():
    _old_table_gains_the_new_columns(scenario().load(ibis.duckdb.connect()))


@pytest.mark.postgres
def test_an_old_measurements_table_gains_the_new_columns_on_postgres(postgres_url):
    _old_table_gains_the_new_columns(scenario().load(ibis.connect(postgres_url)))
