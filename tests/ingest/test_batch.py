"""Whole-batch behaviour: the issue's "done when" scenario, refusal, idempotency, replacement, no raw NHS number."""

from __future__ import annotations

import csv
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from batch_builder import NHS, reserved_range_numbers, spoil_done_when, write_batch
from ingest_support import ingest_cli, query, quarantine, run_cli

from placewise.canonical import TABLES

Batch = dict[str, pd.DataFrame]


def snapshot(db: Path) -> dict[str, object]:
    """Every canonical table's rows, plus the load log and quarantine, to compare before and after."""
    out: dict[str, object] = {t.name: sorted(query(db, f'SELECT * FROM "{t.name}"'), key=repr) for t in TABLES}
    for t in ("load_log", "load_files", "quarantine"):
        out[t] = sorted(query(db, f"SELECT * FROM {t}"), key=repr)
    return out


def test_done_when_scenario(tmp_path: Path, batch: Batch) -> None:
    """Good rows load, exactly the four bad rows are quarantined with reasons, exit 3; a re-run adds nothing."""
    spoil_done_when(batch)
    folder = write_batch(tmp_path / "in", batch)
    db = tmp_path / "wh.duckdb"
    code, output = ingest_cli(folder, str(db))
    assert code == 3, output
    lines = {(t, r, f, why) for t, r, f, why, _ in quarantine(db)}
    assert lines == {
        ("clinical_events", 1, "nhs_number", "not a valid NHS number (10 digits with a Modulus 11 check digit)"),
        ("clinical_events", 3, "event_date", "in the future (after 2025-03-31)"),
        ("gp_appointments", 2, "nhs_number", "unknown person: NHS number not in people (this batch or the warehouse)"),
        ("inpatient_spells", 1, "discharge_date", "discharge_date is before admission_date"),
    }
    for name, df in batch.items():
        bad = {"clinical_events": 2, "gp_appointments": 1, "inpatient_spells": 1}.get(name, 0)
        assert query(db, f'SELECT count(*) FROM "{name}"') == [(len(df) - bad,)], name
    assert query(db, "SELECT files, rows_quarantined FROM load_log") == [(18, 4)]
    assert "Quarantined rows: 4" in output
    before = snapshot(db)
    code, output = ingest_cli(folder, str(db))
    assert code == 0, output
    assert "Nothing new" in output
    assert snapshot(db) == before


def test_quarantine_report_csv(tmp_path: Path, batch: Batch) -> None:
    """The CSV report lists each problem with its data row number and never the raw NHS number."""
    spoil_done_when(batch)
    folder = write_batch(tmp_path / "in", batch)
    report = tmp_path / "report.csv"
    ingest_cli(folder, str(tmp_path / "wh.duckdb"), "--report", str(report))
    with report.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4
    assert {(r["table_name"], r["row_number"], r["field"]) for r in rows} == {
        ("clinical_events", "1", "nhs_number"), ("clinical_events", "3", "event_date"),
        ("gp_appointments", "2", "nhs_number"), ("inpatient_spells", "1", "discharge_date")}
    text = report.read_text()
    assert "9990001009" not in text and reserved_range_numbers(1, start=999_900_000)[0] not in text


def test_default_report_sits_next_to_the_database(tmp_path: Path, batch: Batch) -> None:
    """Without --report the CSV is written beside the DuckDB file and named after the batch."""
    spoil_done_when(batch)
    folder = write_batch(tmp_path / "in", batch)
    (tmp_path / "db").mkdir()
    ingest_cli(folder, str(tmp_path / "db" / "wh.duckdb"))
    (batch_id,) = query(tmp_path / "db" / "wh.duckdb", "SELECT batch_id FROM load_log")[0]
    assert (tmp_path / "db" / f"quarantine-{batch_id}.csv").is_file()


def all_text(db: Path) -> str:
    """Every value of every text column of every table in the warehouse, joined."""
    cols = query(db, "SELECT table_name, column_name FROM information_schema.columns "
                     "WHERE table_schema = 'main' AND data_type = 'VARCHAR'")
    parts = [str(v) for t, c in cols for (v,) in query(db, f'SELECT "{c}" FROM "{t}"') if v is not None]
    return "\n".join(parts)


def test_no_raw_nhs_number_anywhere_in_the_warehouse(tmp_path: Path, batch: Batch) -> None:
    """Scan every text column of every table, quarantine included: no delivered NHS number appears."""
    spoil_done_when(batch)
    delivered = {v for df in batch.values() if "nhs_number" in df for v in df["nhs_number"]}
    folder = write_batch(tmp_path / "in", batch)
    ingest_cli(folder, str(tmp_path / "wh.duckdb"))
    text = all_text(tmp_path / "wh.duckdb")
    assert len(text) > 1000
    assert not [n for n in delivered if n in text]
    assert query(tmp_path / "wh.duckdb", "SELECT min(length(person_id)), max(length(person_id)) FROM people") == \
        [(64, 64)]
    with pytest.raises(Exception, match="nhs_number"):
        query(tmp_path / "wh.duckdb", "SELECT nhs_number FROM people")


def test_pseudonym_is_keyed(tmp_path: Path, batch: Batch, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same person gets the same pseudonym under the same key and a different one under another key."""
    tables = {"geography": batch["geography"], "people": batch["people"]}
    folder = write_batch(tmp_path / "in", tables)
    ingest_cli(folder, str(tmp_path / "a.duckdb"))
    ingest_cli(folder, str(tmp_path / "b.duckdb"))
    monkeypatch.setenv("PLACEWISE_PSEUDONYMISATION_KEY", "another-key-entirely-0123456789")
    ingest_cli(folder, str(tmp_path / "c.duckdb"))
    ids = [set(query(tmp_path / f"{n}.duckdb", "SELECT person_id FROM people")) for n in "abc"]
    assert ids[0] == ids[1] and not ids[0] & ids[2]
    import hashlib
    import hmac
    expected = hmac.new(b"another-key-entirely-0123456789", NHS[0].encode(), hashlib.sha256).hexdigest()
    assert (expected,) in ids[2]


def test_key_is_required_and_never_stored(tmp_path: Path, batch: Batch, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a key the run is refused (exit 2, no database made); with one, the key is nowhere in the warehouse."""
    folder = write_batch(tmp_path / "in", batch)
    monkeypatch.delenv("PLACEWISE_PSEUDONYMISATION_KEY")
    code, output = ingest_cli(folder, str(tmp_path / "wh.duckdb"))
    assert code == 2 and "PLACEWISE_PSEUDONYMISATION_KEY" in output
    assert not (tmp_path / "wh.duckdb").exists()
    monkeypatch.setenv("MY_KEY", "a-key-from-elsewhere-0123456789")
    code, _ = ingest_cli(folder, str(tmp_path / "wh.duckdb"), "--key-env", "MY_KEY")
    assert code == 0
    assert "a-key-from-elsewhere" not in all_text(tmp_path / "wh.duckdb")


def refused_unchanged(tmp_path: Path, batch: Batch, break_folder) -> str:  # type: ignore[no-untyped-def]
    """Load a good batch, then a broken one: assert exit 2 and an unchanged warehouse; the error text."""
    db = tmp_path / "wh.duckdb"
    assert ingest_cli(write_batch(tmp_path / "first", batch), str(db))[0] == 0
    before = snapshot(db)
    second = tmp_path / "second"
    changed = {k: v.copy() for k, v in batch.items()}
    changed["clinical_events"].loc[len(changed["clinical_events"])] = ["EV6", NHS[3], date(2024, 3, 3), "22298006", None,
                                                                       None]
    write_batch(second, changed)
    break_folder(second)
    code, output = ingest_cli(second, str(db))
    assert code == 2, output
    assert "nothing loaded" in output
    assert snapshot(db) == before
    return " ".join(output.split())


def test_missing_required_column_refuses_the_batch(tmp_path: Path, batch: Batch) -> None:
    """A file without a required column: exit 2 naming file and column; the warehouse is unchanged."""
    def drop(folder: Path) -> None:
        t = pq.read_table(folder / "inpatient_spells.parquet").drop_columns(["admission_date"])
        pq.write_table(t, folder / "inpatient_spells.parquet")
    text = refused_unchanged(tmp_path, batch, drop)
    assert "inpatient_spells.parquet: required column 'admission_date' is missing" in text


def test_unreadable_parquet_refuses_the_batch(tmp_path: Path, batch: Batch) -> None:
    """A file that is not Parquet at all is refused."""
    text = refused_unchanged(tmp_path, batch, lambda f: (f / "medications.parquet").write_text("hello"))
    assert "medications.parquet: not a readable Parquet file" in text


def test_wrong_encoding_refuses_the_batch(tmp_path: Path, batch: Batch) -> None:
    """A Latin-1 CSV is refused with a clear encoding message."""
    def latin1(folder: Path) -> None:
        (folder / "practices.parquet").unlink()
        df = batch["practices"].copy()
        df.at[0, "practice_name"] = "Café Surgery"
        (folder / "practices.csv").write_bytes(df.to_csv(index=False).encode("latin-1"))
    text = refused_unchanged(tmp_path, batch, latin1)
    assert "practices.csv" in text and "UTF-8" in text


def test_wrong_encoding_in_csv_header_refuses_the_batch(tmp_path: Path, batch: Batch) -> None:
    """Non-UTF-8 bytes in the header are caught before reading rows."""
    def bad(folder: Path) -> None:
        (folder / "deaths.parquet").unlink()
        (folder / "deaths.csv").write_bytes(b"nhs_number,date_of_d\xe9ath\n1,2\n")
    assert "deaths.csv: not UTF-8" in refused_unchanged(tmp_path, batch, bad)


def test_ragged_csv_refuses_the_batch(tmp_path: Path, batch: Batch) -> None:
    """A CSV row with the wrong number of fields is a broken file; the message does not echo NHS numbers."""
    def ragged(folder: Path) -> None:
        (folder / "registrations.parquet").unlink()
        text = batch["registrations"].to_csv(index=False) + f"{NHS[0]},E81001\n"
        (folder / "registrations.csv").write_text(text)
    text = refused_unchanged(tmp_path, batch, ragged)
    assert "registrations.csv: unreadable CSV" in text and NHS[0] not in text


def test_wrong_column_type_refuses_the_batch(tmp_path: Path, batch: Batch) -> None:
    """A Parquet date column stored as true/false cannot be converted: refused, naming file and column."""
    def booleans(folder: Path) -> None:
        t = pq.read_table(folder / "referrals.parquet")
        i = t.schema.get_field_index("referral_date")
        pq.write_table(t.set_column(i, "referral_date", pa.array([True] * t.num_rows)), folder / "referrals.parquet")
    text = refused_unchanged(tmp_path, batch, booleans)
    assert "referrals.parquet: column 'referral_date' holds bool values where date values are expected" in text


def test_csv_column_that_never_converts_refuses_the_batch(tmp_path: Path, batch: Batch) -> None:
    """A CSV column none of whose values converts is the wrong type, not a set of bad rows."""
    def words(folder: Path) -> None:
        (folder / "gp_appointments.parquet").unlink()
        df = batch["gp_appointments"].copy()
        df["appointment_date"] = ["Monday", "Tuesday"]
        df.to_csv(folder / "gp_appointments.csv", index=False)
    text = refused_unchanged(tmp_path, batch, words)
    assert "gp_appointments.csv: column 'appointment_date' cannot be read as date" in text


def test_two_files_for_one_table_refuse_the_batch(tmp_path: Path, batch: Batch) -> None:
    """people.parquet and people.csv together are ambiguous."""
    text = refused_unchanged(tmp_path, batch, lambda f: batch["people"].to_csv(f / "people.csv", index=False))
    assert "feed table people" in text


def test_unknown_files_are_reported_and_ignored(tmp_path: Path, batch: Batch) -> None:
    """Files that are not canonical tables are listed and do not stop the load."""
    folder = write_batch(tmp_path / "in", batch)
    (folder / "notes.txt").write_text("hello")
    (folder / "patients.csv").write_text("a\n1\n")
    code, output = ingest_cli(folder, str(tmp_path / "wh.duckdb"))
    assert code == 0
    assert "notes.txt" in output and "patients.csv" in output


def test_empty_folder_is_refused(tmp_path: Path) -> None:
    """A folder with no canonical files is refused."""
    (tmp_path / "empty").mkdir()
    code, output = ingest_cli(tmp_path / "empty", str(tmp_path / "wh.duckdb"))
    assert code == 2 and "no canonical files" in output


def test_changed_file_replaces_rows_by_key(tmp_path: Path, batch: Batch) -> None:
    """A re-delivered file with a corrected row and a new row: the key is not duplicated, the latest wins."""
    db = tmp_path / "wh.duckdb"
    assert ingest_cli(write_batch(tmp_path / "one", batch), str(db))[0] == 0
    spells = batch["inpatient_spells"].copy()
    spells.at[0, "discharge_date"] = date(2024, 1, 12)
    spells.loc[len(spells)] = ["S4", NHS[2], "RC9", "RC971", "emergency", "21", "19", date(2024, 2, 2),
                               date(2024, 2, 3), "1", "19", "J45", None]
    code, output = ingest_cli(write_batch(tmp_path / "two", {**batch, "inpatient_spells": spells}), str(db))
    assert code == 0, output
    assert query(db, "SELECT spell_id, discharge_date FROM inpatient_spells ORDER BY spell_id") == [
        ("S1", date(2024, 1, 12)), ("S2", date(2024, 1, 7)), ("S3", date(2024, 6, 1)), ("S4", date(2024, 2, 3))]
    # The latest batch by commit time: batch ids start with the second, so two loads in one second tie there.
    files = query(db, "SELECT f.table_name, f.rows_loaded, f.rows_replaced FROM load_files f JOIN load_log g "
                      "USING (batch_id) ORDER BY g.loaded_at DESC LIMIT 1")
    assert files == [("inpatient_spells", 4, 3)]
    assert query(db, "SELECT count(*) FROM load_log") == [(2,)]
    assert query(db, "SELECT count(*) FROM people") == [(6,)]


def test_csv_and_parquet_give_the_same_warehouse(tmp_path: Path, batch: Batch) -> None:
    """The same delivery as CSV and as Parquet loads identical canonical tables."""
    ingest_cli(write_batch(tmp_path / "p", batch), str(tmp_path / "p.duckdb"))
    ingest_cli(write_batch(tmp_path / "c", batch, "csv"), str(tmp_path / "c.duckdb"))
    for t in TABLES:
        a = sorted(query(tmp_path / "p.duckdb", f'SELECT * FROM "{t.name}"'), key=repr)
        b = sorted(query(tmp_path / "c.duckdb", f'SELECT * FROM "{t.name}"'), key=repr)
        assert a == b and a, t.name


def test_status_command(tmp_path: Path, batch: Batch) -> None:
    """``placewise status`` shows counts, the load log and the quarantine summary."""
    spoil_done_when(batch)
    db = tmp_path / "wh.duckdb"
    ingest_cli(write_batch(tmp_path / "in", batch), str(db))
    code, output = run_cli("status", "--db", str(db))
    assert code == 0
    assert "clinical_events" in output and "discharge_date is before admission_date" in output
    (batch_id,) = query(db, "SELECT batch_id FROM load_log")[0]
    assert batch_id in output


def test_header_row_is_not_counted_in_csv_row_numbers(tmp_path: Path, batch: Batch) -> None:
    """Row numbers are data rows: the first row under the CSV header is row 1, as in the Parquet file."""
    batch["deaths"].at[0, "place_of_death"] = "garden"
    shutil.rmtree(tmp_path / "x", ignore_errors=True)
    ingest_cli(write_batch(tmp_path / "x", batch, "csv"), str(tmp_path / "wh.duckdb"))
    assert {(r, f) for _, r, f, _, _ in quarantine(tmp_path / "wh.duckdb", "deaths")} == {(1, "place_of_death")}


def test_failure_midway_rolls_the_whole_batch_back(tmp_path: Path, batch: Batch) -> None:
    """A database error while loading a late table (an integer beyond BIGINT) undoes the tables loaded before it."""
    def huge(folder: Path) -> None:
        t = pq.read_table(folder / "ae_attendances.parquet")
        i = t.schema.get_field_index("department_type")
        values = pa.array([1, 2**63 + 5, 3], type=pa.uint64())
        pq.write_table(t.set_column(i, "department_type", values), folder / "ae_attendances.parquet")
    text = refused_unchanged(tmp_path, batch, huge)
    assert "the database stopped the batch" in text


def test_extra_columns_are_reported_and_not_stored(tmp_path: Path, batch: Batch) -> None:
    """A column the canonical table does not define is named in the output and never reaches the warehouse."""
    batch["people"]["gp_notes"] = "free text"
    code, output = ingest_cli(write_batch(tmp_path / "in", batch, "csv"), str(tmp_path / "wh.duckdb"))
    assert code == 0 and "ignored columns: gp_notes" in output
    assert "free text" not in all_text(tmp_path / "wh.duckdb")


def test_spaces_in_nhs_numbers_are_the_display_format(tmp_path: Path, batch: Batch) -> None:
    """'999 000 1009'-style NHS numbers are the same person as the unspaced number."""
    events = batch["clinical_events"]
    events["nhs_number"] = [f"{n[:3]} {n[3:6]} {n[6:]}" for n in events["nhs_number"]]
    code, output = ingest_cli(write_batch(tmp_path / "in", batch, "csv"), str(tmp_path / "wh.duckdb"))
    assert code == 0, output
    db = tmp_path / "wh.duckdb"
    assert query(db, "SELECT count(*) FROM clinical_events JOIN people USING (person_id)") == [(len(events),)]


def test_bad_as_of_date_is_refused(tmp_path: Path, batch: Batch) -> None:
    """An --as-of that is not a date is refused before anything is read."""
    code, output = run_cli("ingest", str(write_batch(tmp_path / "in", batch)), "--db", str(tmp_path / "w.duckdb"),
                           "--as-of", "31/03/2025")
    assert code == 2 and "'31/03/2025' is not a date in the form YYYY-MM-DD" in output
    assert not (tmp_path / "w.duckdb").exists()


def test_time_zone_aware_timestamps_become_uk_local_time(tmp_path: Path, batch: Batch) -> None:
    """A UTC arrival at 12:00 in July is 13:00 British Summer Time, whatever the machine's time zone."""
    folder = write_batch(tmp_path / "in", batch)
    t = pq.read_table(folder / "ae_attendances.parquet")
    utc = pa.timestamp("us", tz="UTC")
    arrivals = [datetime(2024, 1, 5, 10, 0, tzinfo=UTC), datetime(2024, 7, 1, 12, 0, tzinfo=UTC),
                datetime(2024, 2, 1, 9, 15, tzinfo=UTC)]
    departures = [datetime(2024, 1, 5, 13, 59, tzinfo=UTC), datetime(2024, 7, 1, 15, 0, tzinfo=UTC),
                  datetime(2024, 2, 1, 10, 0, tzinfo=UTC)]
    for name, values in (("arrival", arrivals), ("departure", departures)):
        t = t.set_column(t.schema.get_field_index(name), name, pa.array(values, utc))
    pq.write_table(t, folder / "ae_attendances.parquet")
    code, output = ingest_cli(folder, str(tmp_path / "wh.duckdb"))
    assert code == 0, output
    assert query(tmp_path / "wh.duckdb", "SELECT attendance_id, arrival, departure FROM ae_attendances "
                                         "ORDER BY attendance_id") == [
        ("AE1", datetime(2024, 1, 5, 10, 0), datetime(2024, 1, 5, 13, 59)),
        ("AE2", datetime(2024, 7, 1, 13, 0), datetime(2024, 7, 1, 16, 0)),
        ("AE3", datetime(2024, 2, 1, 9, 15), datetime(2024, 2, 1, 10, 0))]


def test_csv_with_byte_order_mark_loads(tmp_path: Path, batch: Batch) -> None:
    """Excel's "CSV UTF-8" starts with a byte-order mark; the first column is still recognised."""
    folder = write_batch(tmp_path / "in", batch, "csv")
    path = folder / "people.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    code, output = ingest_cli(folder, str(tmp_path / "wh.duckdb"))
    assert code == 0, output
    assert query(tmp_path / "wh.duckdb", "SELECT count(*) FROM people") == [(6,)]


def test_status_of_a_missing_warehouse_creates_nothing(tmp_path: Path) -> None:
    """A mistyped --db is an error, not a new empty warehouse."""
    code, output = run_cli("status", "--db", str(tmp_path / "typo.duckdb"))
    assert code == 2 and "no warehouse here yet" in output
    assert not (tmp_path / "typo.duckdb").exists()


def test_same_day_repeats_are_kept_and_a_redelivery_does_not_duplicate(tmp_path: Path, batch: Batch) -> None:
    """Two readings under one code on one day and two inhaler issues on one day are four records, not two;
    delivering the same records again (in a changed file) leaves four."""
    db = tmp_path / "wh.duckdb"
    events = batch["clinical_events"].copy()
    events.loc[len(events)] = ["EV6", NHS[0], date(2023, 1, 10), "271649006", 136.0, "mmHg"]  # EV2's code and day
    meds = batch["medications"].copy()
    meds.loc[len(meds)] = ["MD3", NHS[0], date(2023, 2, 1), "319740004", 28.0]  # MD1's product and day
    first = {**batch, "clinical_events": events, "medications": meds}
    assert ingest_cli(write_batch(tmp_path / "one", first), str(db))[0] == 0
    readings = "SELECT value FROM clinical_events WHERE snomed_code = '271649006' ORDER BY value"
    issues = "SELECT count(*) FROM medications WHERE dmd_code = '319740004' AND issue_date = DATE '2023-02-01'"
    assert query(db, readings) == [(136.0,), (142.0,)]
    assert query(db, issues) == [(2,)]
    again = events.copy()
    again.loc[len(again)] = ["EV7", NHS[1], date(2023, 5, 5), "271649006", 128.0, "mmHg"]  # the file changes
    code, output = ingest_cli(write_batch(tmp_path / "two", {**first, "clinical_events": again}), str(db))
    assert code == 0, output
    assert query(db, readings) == [(128.0,), (136.0,), (142.0,)]
    assert query(db, issues) == [(2,)]
