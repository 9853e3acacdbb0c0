"""Values that must never pass: impossible dates, events before birth, births in the future, deaths before birth,
NaN and infinite numbers, clinically impossible measurements and dates holding a time. Each is quarantined with a
clear reason, and DuckDB and PostgreSQL give the same verdict on the same batch."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from batch_builder import write_batch
from ingest_support import ingest_cli, load, query, quarantine
from test_postgres import canonical_rows
from test_rules import both, setter

from placewise.canonical import TABLE_BY_NAME, TABLES, Plausible
from placewise.warehouse.schema import QUARANTINE

Batch = dict[str, pd.DataFrame]

CSV_CASES = [
    # (id, spoil, table, row, field, reason fragment): CSV text as a supplier might send it
    ("minus-infinity-date", setter("clinical_events", 3, "event_date", "-infinity"), "clinical_events", 3,
     "event_date", "not a valid date (YYYY-MM-DD)"),
    ("infinity-date", setter("medications", 1, "issue_date", "infinity"), "medications", 1, "issue_date",
     "not a valid date"),
    ("epoch-date", setter("gp_appointments", 1, "appointment_date", "epoch"), "gp_appointments", 1,
     "appointment_date", "not a valid date"),
    ("minus-infinity-timestamp", setter("ae_attendances", 2, "arrival", "-infinity"), "ae_attendances", 2,
     "arrival", "not a valid date and time"),
    ("date-holding-a-time", setter("clinical_events", 4, "event_date", "2024-02-02 14:30:00"), "clinical_events",
     4, "event_date", "holds a time of day"),
    ("huge-birth-year", setter("people", 2, "birth_year", "1000000000000"), "people", 2, "birth_year",
     "born in the future"),
    ("nan-text", setter("medications", 2, "quantity", "NaN"), "medications", 2, "quantity",
     "not a finite number"),
    ("infinite-text", setter("aggregate_returns", 1, "numerator", "inf"), "aggregate_returns", 1, "numerator",
     "not a finite number"),
]

PARQUET_CASES = [
    ("pre-1900-date", setter("referrals", 1, "referral_date", date(1899, 12, 31)), "referrals", 1,
     "referral_date", "before 1900-01-01"),
    ("year-one-date", setter("community_contacts", 1, "contact_date", date(1, 1, 1)), "community_contacts", 1,
     "contact_date", "before 1900-01-01"),
    ("event-before-birth", setter("clinical_events", 4, "event_date", date(1985, 11, 30)), "clinical_events", 4,
     "event_date", "before the person's birth (1985-12)"),
    ("registered-before-birth", setter("registrations", 5, "start_date", date(2015, 8, 31)), "registrations", 5,
     "start_date", "before the person's birth (2015-09)"),
    ("admitted-before-birth", setter("inpatient_spells", 2, "admission_date", date(2000, 1, 7)),
     "inpatient_spells", 2, "admission_date", "before the person's birth"),
    ("birth-year-in-future", setter("people", 4, "birth_year", 2030), "people", 4, "birth_year",
     "born in the future (after 2025-03)"),
    ("birth-month-in-future", both(setter("people", 4, "birth_year", 2025), setter("people", 4, "birth_month", 4)),
     "people", 4, "birth_year", "born in the future"),
    ("death-before-birth", setter("people", 6, "date_of_death", date(1930, 1, 1)), "people", 6, "date_of_death",
     "before the person's birth (1938-11)"),
    ("registered-death-before-birth", setter("deaths", 1, "date_of_death", date(1938, 10, 31)), "deaths", 1,
     "date_of_death", "before the person's birth"),
    ("infinite-value", setter("clinical_events", 2, "value", float("inf")), "clinical_events", 2, "value",
     "not a finite number"),
    ("systolic-9999", setter("clinical_events", 2, "value", 9999.0), "clinical_events", 2, "value",
     "implausible for systolic blood pressure"),
    ("systolic-negative", setter("clinical_events", 2, "value", -5.0), "clinical_events", 2, "value",
     "implausible for systolic blood pressure"),
]


def run_case(tmp_path: Path, batch: Batch, spoil: Callable[[Batch], None], fmt: str, table: str, row: int,
             field: str, reason: str) -> None:
    """Spoil, load, and check that exactly the spoiled row is quarantined for the expected reason."""
    spoil(batch)
    code, output = load(tmp_path, batch, fmt=fmt)
    assert code == 3, output
    db = tmp_path / "wh.duckdb"
    lines = quarantine(db, table)
    assert {(r, f) for _, r, f, _, _ in lines} == {(row, field)}, lines
    assert any(reason in why for *_, why, _ in lines), lines
    assert query(db, f'SELECT count(*) FROM "{table}"') == [(len(batch[table]) - 1,)]


@pytest.mark.parametrize(("spoil", "table", "row", "field", "reason"), [c[1:] for c in CSV_CASES],
                         ids=[c[0] for c in CSV_CASES])
def test_csv_value_is_quarantined(tmp_path: Path, batch: Batch, spoil: Callable[[Batch], None], table: str,
                                  row: int, field: str, reason: str) -> None:
    """A CSV value that only looks like a date or number is quarantined, naming row, field and reason."""
    run_case(tmp_path, batch, spoil, "csv", table, row, field, reason)


@pytest.mark.parametrize(("spoil", "table", "row", "field", "reason"), [c[1:] for c in PARQUET_CASES],
                         ids=[c[0] for c in PARQUET_CASES])
def test_impossible_value_is_quarantined(tmp_path: Path, batch: Batch, spoil: Callable[[Batch], None],
                                         table: str, row: int, field: str, reason: str) -> None:
    """A typed (Parquet) value that cannot be true is quarantined, naming row, field and reason."""
    run_case(tmp_path, batch, spoil, "parquet", table, row, field, reason)


def test_parquet_timestamp_with_a_time_in_a_date_column(tmp_path: Path, batch: Batch) -> None:
    """A Parquet timestamp column delivered for a date: midnight values load as dates, a time of day is
    quarantined rather than silently cut off."""
    folder = write_batch(tmp_path / "in", batch)
    t = pq.read_table(folder / "gp_appointments.parquet")
    stamps = pa.array([datetime(2024, 1, 2), datetime(2024, 1, 3, 9, 45)], pa.timestamp("us"))
    pq.write_table(t.set_column(t.schema.get_field_index("appointment_date"), "appointment_date", stamps),
                   folder / "gp_appointments.parquet")
    code, output = ingest_cli(folder, str(tmp_path / "wh.duckdb"))
    assert code == 3, output
    lines = quarantine(tmp_path / "wh.duckdb", "gp_appointments")
    assert {(r, f) for _, r, f, _, _ in lines} == {(2, "appointment_date")}
    assert "holds a time of day" in next(iter(lines))[3]
    assert query(tmp_path / "wh.duckdb", "SELECT appointment_date FROM gp_appointments") == [(date(2024, 1, 2),)]


def test_nan_in_parquet_is_quarantined(tmp_path: Path, batch: Batch) -> None:
    """A Parquet NaN (not a null) passes no numeric rule: today's '≥ 0' would have let it through."""
    folder = write_batch(tmp_path / "in", batch)
    t = pq.read_table(folder / "medications.parquet")
    values = pa.array([float("nan"), 56.0], pa.float64())
    pq.write_table(t.set_column(t.schema.get_field_index("quantity"), "quantity", values),
                   folder / "medications.parquet")
    code, output = ingest_cli(folder, str(tmp_path / "wh.duckdb"))
    assert code == 3, output
    assert {(r, f, why) for _, r, f, why, _ in quarantine(tmp_path / "wh.duckdb", "medications")} == {
        (1, "quantity", "not a finite number (NaN or infinite)")}


def test_plausible_ranges_are_declared_in_the_canonical_model() -> None:
    """The ranges live in the model (per SNOMED CT code of the measurement), each with a sensible low and high."""
    ranges = TABLE_BY_NAME["clinical_events"].column("value").plausible
    by_code = {p.code: p for p in ranges}
    assert by_code["271649006"] == Plausible("271649006", "systolic blood pressure", 40, 300, "mmHg")
    assert {"271650006", "60621009", "1003671000000109"} <= set(by_code)
    assert all(p.low < p.high for p in ranges)
    assert not [c for t in TABLES for c in t.columns if c.plausible and t.name != "clinical_events"]


def test_plausible_value_at_the_limits_loads(tmp_path: Path, batch: Batch) -> None:
    """The limits themselves are plausible (inclusive): 300 mmHg loads."""
    setter("clinical_events", 2, "value", 300.0)(batch)
    code, output = load(tmp_path, batch)
    assert code == 0, output


ALL_SPOILS = [c for c in CSV_CASES if c[0] not in ("date-holding-a-time",)] + \
    [c for c in PARQUET_CASES if c[0] not in ("year-one-date", "birth-month-in-future", "systolic-negative",
                                              "registered-before-birth", "infinite-value")]


@pytest.mark.postgres
def test_duckdb_and_postgres_give_the_same_verdict(tmp_path: Path, batch: Batch, postgres_url: str) -> None:
    """One CSV batch with every kind of impossible value: both engines load the same rows and quarantine the same
    lines; PostgreSQL is not refused on -infinity, and no message names an internal staging table."""
    for _, spoil, *_ in ALL_SPOILS:
        spoil(batch)
    folder = write_batch(tmp_path / "in", batch, "csv")
    db = tmp_path / "wh.duckdb"
    code, output = ingest_cli(folder, str(db))
    assert code == 3, output
    code, output = ingest_cli(folder, postgres_url, "--report", str(tmp_path / "pg.csv"))
    assert code == 3, output
    assert "stage_" not in output and "raw_" not in output
    for t in TABLES:
        assert canonical_rows(db, t.name) == canonical_rows(postgres_url, t.name), t.name
    qcols = ", ".join(c.name for c in QUARANTINE.columns if c.name != "batch_id")
    lines = canonical_rows(db, "quarantine", qcols)
    assert lines == canonical_rows(postgres_url, "quarantine", qcols)
    assert {(t, r) for _, t, r, *_ in lines} >= {(c[2], c[3]) for c in ALL_SPOILS}
