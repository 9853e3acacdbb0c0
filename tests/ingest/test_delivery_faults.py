"""Faults around a delivery: where the quarantine report goes, rows retried on re-delivery, the pseudonymisation
key of the warehouse and its deliberate rotation."""

from __future__ import annotations

import hashlib
import hmac
import shutil
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import psycopg
import pytest
from batch_builder import KEY, NHS, spoil_done_when, write_batch
from ingest_support import ingest_cli, query, quarantine, run_cli

import placewise.ingest.load as load_module
from placewise.canonical import TABLES
from placewise.warehouse.identity import key_from_env as identity_key
from placewise.warehouse.identity import new_key, nhs_numbers, open_store

Batch = dict[str, pd.DataFrame]
OTHER_KEY = "a-different-key-9876543210-abcdef"


def counts(db: Path | str) -> dict[str, int]:
    """Rows in every canonical and bookkeeping table of a warehouse (a DuckDB file or a PostgreSQL URL); a table
    not yet made counts as absent."""
    names = [t.name for t in TABLES] + ["load_log", "load_files", "quarantine"]
    if isinstance(db, Path):
        if not db.exists():
            return {}
        present = {r[0] for r in query(db, "SELECT table_name FROM information_schema.tables")}
        return {n: query(db, f'SELECT count(*) FROM "{n}"')[0][0] for n in names if n in present}
    with psycopg.connect(db) as con:
        present = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                             "WHERE table_schema = current_schema()").fetchall()}
        return {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names if n in present}


ENGINES = ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]


def warehouse_for(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> Path | str:
    """A new warehouse on the engine under test: a DuckDB file path, or a fresh PostgreSQL database's URL."""
    return tmp_path / "wh.duckdb" if engine == "duckdb" else request.getfixturevalue("postgres_url")


# --- the quarantine report -----------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_report_in_a_missing_folder_refuses_before_loading(tmp_path: Path, batch: Batch, engine: str,
                                                           request: pytest.FixtureRequest) -> None:
    """--report in a folder that does not exist: exit 2 naming it, and truly nothing loaded."""
    spoil_done_when(batch)
    db = warehouse_for(engine, tmp_path, request)
    code, output = ingest_cli(write_batch(tmp_path / "in", batch), str(db), "--report",
                              str(tmp_path / "nowhere" / "q.csv"))
    assert code == 2 and "nothing loaded" in output and "nowhere" in output, output
    assert "load_log" not in counts(db) or counts(db)["load_log"] == 0


@pytest.mark.parametrize("engine", ENGINES)
def test_report_pointing_at_a_folder_refuses_before_loading(tmp_path: Path, batch: Batch, engine: str,
                                                            request: pytest.FixtureRequest) -> None:
    """--report naming a folder: exit 2, nothing loaded; a good earlier batch is untouched."""
    db = warehouse_for(engine, tmp_path, request)
    assert ingest_cli(write_batch(tmp_path / "one", {k: batch[k] for k in ("geography", "practices")}), str(db))[0] == 0
    before = counts(db)
    assert before["practices"] == 2
    spoil_done_when(batch)
    code, output = ingest_cli(write_batch(tmp_path / "in", batch), str(db), "--report", str(tmp_path))
    assert code == 2 and "is a folder" in output and "nothing loaded" in output, output
    assert counts(db) == before


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A tiny tmpfs, filled up: a folder where no file can be written (skips where mounting is not allowed)."""
    mount = tmp_path / "full"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                      capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        with (mount / "filler").open("wb") as f, pytest.raises(OSError):
            f.write(b"x" * (1 << 20))
            f.flush()
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


@pytest.mark.parametrize("engine", ENGINES)
def test_report_on_a_full_disk_refuses_and_loads_nothing(tmp_path: Path, batch: Batch, full_disk: Path, engine: str,
                                                         request: pytest.FixtureRequest) -> None:
    """The report cannot be written (no space): the batch is rolled back and the output says nothing loaded."""
    db = warehouse_for(engine, tmp_path, request)
    assert ingest_cli(write_batch(tmp_path / "one", {k: batch[k] for k in ("geography", "practices")}), str(db))[0] == 0
    before = counts(db)
    spoil_done_when(batch)
    code, output = ingest_cli(write_batch(tmp_path / "in", batch), str(db), "--report", str(full_disk / "q.csv"))
    assert code == 2 and "nothing loaded" in output and "quarantine report" in output, output
    assert counts(db) == before
    assert sorted(p.name for p in full_disk.iterdir()) == ["filler"]


@pytest.mark.parametrize("engine", ENGINES)
def test_report_lost_after_commit_is_reported_truthfully(tmp_path: Path, batch: Batch, engine: str,
                                                         request: pytest.FixtureRequest,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """If the written report cannot be moved into place after the commit, the output says the batch loaded and only
    the report failed, with exit 4."""
    db = warehouse_for(engine, tmp_path, request)

    def fail(*_: object) -> None:
        raise OSError(5, "Input/output error")
    monkeypatch.setattr(load_module.os, "replace", fail)
    spoil_done_when(batch)
    code, output = ingest_cli(write_batch(tmp_path / "in", batch), str(db), "--report", str(tmp_path / "q.csv"))
    assert code == 4, output
    assert "loaded" in " ".join(output.split()) and "report could not be written" in " ".join(output.split())
    after = counts(db)
    assert after["load_log"] == 1 and after["quarantine"] == 4


# --- quarantined rows retried on re-delivery ------------------------------------------------------------------


def without_second_practice(batch: Batch) -> Batch:
    """The batch with practice E81002 missing: its registrations and appointments are quarantined."""
    return {**batch, "practices": batch["practices"].iloc[:1].copy()}


def test_redelivered_file_loads_rows_quarantined_before(tmp_path: Path, batch: Batch) -> None:
    """Registrations quarantined for an unknown practice load when the practice arrives and the same registrations
    file is re-delivered; the output says so and the quarantine no longer holds them."""
    db = tmp_path / "wh.duckdb"
    first = write_batch(tmp_path / "one", without_second_practice(batch))
    code, _ = ingest_cli(first, str(db))
    assert code == 3
    assert {(t, r) for t, r, *_ in quarantine(db)} == {("registrations", 3), ("registrations", 4),
                                                         ("gp_appointments", 2)}
    second = write_batch(tmp_path / "two", {"practices": batch["practices"]})
    for name in ("registrations", "gp_appointments"):
        shutil.copy(first / f"{name}.parquet", second / f"{name}.parquet")
    code, output = ingest_cli(second, str(db))
    text = " ".join(output.split())
    assert code == 0, output
    assert "re-checked 2 rows quarantined in batch" in text and "2 now loaded" in text, text
    assert query(db, "SELECT count(*) FROM registrations") == [(6,)]
    assert query(db, "SELECT count(*) FROM gp_appointments") == [(2,)]
    assert quarantine(db) == set()
    code, output = ingest_cli(second, str(db))
    assert code == 0 and "Nothing new" in output
    assert query(db, "SELECT count(*) FROM registrations") == [(6,)]


def test_redelivery_still_failing_moves_the_lines_without_duplicating(tmp_path: Path, batch: Batch) -> None:
    """Re-delivered with other news but still without the practice: the rows stay quarantined once (exit 3), not
    twice; the same folder again, with nothing changed since, is nothing new."""
    db = tmp_path / "wh.duckdb"
    first = write_batch(tmp_path / "one", without_second_practice(batch))
    assert ingest_cli(first, str(db))[0] == 3
    contacts = batch["community_contacts"].copy()
    contacts.at[0, "service"] = "therapy"
    second = write_batch(tmp_path / "two", {"community_contacts": contacts})
    shutil.copy(first / "registrations.parquet", second / "registrations.parquet")
    code, output = ingest_cli(second, str(db))
    assert code == 3, output
    assert "2 still quarantined" in " ".join(output.split())
    assert query(db, "SELECT count(*) FROM quarantine WHERE table_name = 'registrations'") == [(2,)]
    assert query(db, "SELECT count(*) FROM registrations") == [(4,)]
    code, output = ingest_cli(second, str(db))
    assert code == 0 and "Nothing new" in output, output
    assert query(db, "SELECT count(*) FROM quarantine") == [(3,)]


def test_retried_row_does_not_overwrite_a_later_delivery(tmp_path: Path, batch: Batch) -> None:
    """A quarantined row whose key has since arrived in a later file is not replaced by the old file's version."""
    db = tmp_path / "wh.duckdb"
    bad = {k: v.copy() for k, v in batch.items()}
    bad["ae_attendances"]["provider_code"] = bad["ae_attendances"]["provider_code"].astype(object)
    bad["ae_attendances"].at[0, "disposal"] = "home"  # quarantined: not an allowed disposal
    first = write_batch(tmp_path / "one", bad)
    assert ingest_cli(first, str(db))[0] == 3
    fixed = batch["ae_attendances"].copy()
    fixed.at[0, "disposal"] = "referred"
    assert ingest_cli(write_batch(tmp_path / "two", {"ae_attendances": fixed}), str(db))[0] == 0
    third = tmp_path / "three"
    third.mkdir()
    shutil.copy(first / "ae_attendances.parquet", third / "ae_attendances.parquet")
    code, output = ingest_cli(third, str(db))
    assert code == 3, output  # still not an allowed value
    assert query(db, "SELECT disposal FROM ae_attendances WHERE attendance_id = 'AE1'") == [("referred",)]


# --- the pseudonymisation key ---------------------------------------------------------------------------------


def fingerprint(key: str) -> str:
    """The fingerprint the warehouse records: HMAC-SHA256 of a fixed label under the key."""
    return hmac.new(key.encode(), b"placewise pseudonymisation key fingerprint v1", hashlib.sha256).hexdigest()


def test_key_fingerprint_is_recorded_and_another_key_refused(tmp_path: Path, batch: Batch,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The first batch records the key's fingerprint (never the key); a batch under another key is refused with
    exit 2 and no second copy of anyone."""
    db = tmp_path / "wh.duckdb"
    assert ingest_cli(write_batch(tmp_path / "one", batch), str(db))[0] == 0
    assert query(db, "SELECT key_fingerprint FROM pseudonymisation") == [(fingerprint(KEY),)]
    people = batch["people"].copy()
    people.at[0, "birth_month"] = 2  # a changed file, so it is not skipped as already loaded
    monkeypatch.setenv("PLACEWISE_PSEUDONYMISATION_KEY", OTHER_KEY)
    code, output = ingest_cli(write_batch(tmp_path / "two", {"people": people}), str(db))
    text = " ".join(output.split())
    assert code == 2 and "different pseudonymisation key" in text and "rotate-key" in text, text
    assert query(db, "SELECT count(*) FROM people") == [(6,)]
    assert KEY not in text and OTHER_KEY not in text


@pytest.mark.postgres
def test_postgres_refuses_another_key(tmp_path: Path, batch: Batch, postgres_url: str,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """On PostgreSQL too: the fingerprint is kept and a batch under another key changes nothing."""
    code, output = ingest_cli(write_batch(tmp_path / "one", batch), postgres_url)
    assert code == 0, output
    people = batch["people"].copy()
    people.at[0, "birth_month"] = 2
    monkeypatch.setenv("PLACEWISE_PSEUDONYMISATION_KEY", OTHER_KEY)
    code, output = ingest_cli(write_batch(tmp_path / "two", {"people": people}), postgres_url)
    assert code == 2 and "different pseudonymisation key" in output, output
    with psycopg.connect(postgres_url) as con:
        assert con.execute("SELECT count(*) FROM people").fetchone() == (6,)
        assert con.execute("SELECT key_fingerprint FROM pseudonymisation").fetchall() == [(fingerprint(KEY),)]


def pseudonym(key: str, nhs: str) -> str:
    """HMAC-SHA256 of an NHS number under a key."""
    return hmac.new(key.encode(), nhs.encode(), hashlib.sha256).hexdigest()


def rotate(db: str, people: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    """``placewise rotate-key`` from the tests' key to OTHER_KEY."""
    monkeypatch.setenv("NEW_KEY", OTHER_KEY)
    return run_cli("rotate-key", "--db", db, "--people", str(people), "--new-key-env", "NEW_KEY")


@pytest.mark.parametrize("engine", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_rotate_key_repseudonymises_every_table(tmp_path: Path, batch: Batch, monkeypatch: pytest.MonkeyPatch,
                                                request: pytest.FixtureRequest, engine: str) -> None:
    """rotate-key re-keys every person column in one go; links hold; the old key is then refused, the new accepted."""
    db = str(tmp_path / "wh.duckdb") if engine == "duckdb" else request.getfixturevalue("postgres_url")
    folder = write_batch(tmp_path / "one", batch)
    assert ingest_cli(folder, db)[0] == 0
    code, output = rotate(db, folder / "people.parquet", monkeypatch)
    assert code == 0, output
    assert "6 people" in output
    sql = {"people": "SELECT person_id FROM people", "events": "SELECT person_id FROM clinical_events",
           "fingerprint": "SELECT key_fingerprint FROM pseudonymisation"}
    if engine == "duckdb":
        got = {k: {r[0] for r in query(Path(db), v)} for k, v in sql.items()}
    else:
        with psycopg.connect(db) as con:
            got = {k: {r[0] for r in con.execute(v).fetchall()} for k, v in sql.items()}
    assert got["people"] == {pseudonym(OTHER_KEY, n) for n in NHS}
    assert got["events"] <= got["people"] and len(got["events"]) == 4
    assert got["fingerprint"] == {fingerprint(OTHER_KEY)}
    people = batch["people"].copy()
    people.at[0, "birth_month"] = 2
    again = write_batch(tmp_path / "two", {"people": people})
    assert ingest_cli(again, db)[0] == 2  # the old key is refused now
    monkeypatch.setenv("PLACEWISE_PSEUDONYMISATION_KEY", OTHER_KEY)
    code, output = ingest_cli(again, db)
    assert code == 0 and "6 " in output, output


def test_rotate_key_refuses_when_people_are_missing(tmp_path: Path, batch: Batch,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A people file that does not cover everyone stored would orphan them: refused, nothing changed."""
    db = tmp_path / "wh.duckdb"
    folder = write_batch(tmp_path / "one", batch)
    assert ingest_cli(folder, str(db))[0] == 0
    before = sorted(query(db, "SELECT person_id FROM people"))
    partial = write_batch(tmp_path / "partial", {"people": batch["people"].iloc[:4]})
    code, output = rotate(str(db), partial / "people.parquet", monkeypatch)
    assert code == 2 and "2 people in the warehouse are not in" in " ".join(output.split()), output
    assert sorted(query(db, "SELECT person_id FROM people")) == before


def test_rotate_key_refuses_the_wrong_old_key(tmp_path: Path, batch: Batch, monkeypatch: pytest.MonkeyPatch) -> None:
    """The current key must be the warehouse's: otherwise nothing can be matched, and nothing changes."""
    db = tmp_path / "wh.duckdb"
    folder = write_batch(tmp_path / "one", batch)
    assert ingest_cli(folder, str(db))[0] == 0
    monkeypatch.setenv("PLACEWISE_PSEUDONYMISATION_KEY", "not-the-warehouse-key-000000")
    code, output = rotate(str(db), folder / "people.parquet", monkeypatch)
    assert code == 2 and "not the key this warehouse was built with" in " ".join(output.split()), output
    assert query(db, "SELECT key_fingerprint FROM pseudonymisation") == [(fingerprint(KEY),)]


def test_death_date_change_under_same_key_still_loads(tmp_path: Path, batch: Batch) -> None:
    """The key check does not get in the way of an ordinary re-delivery under the same key."""
    db = tmp_path / "wh.duckdb"
    assert ingest_cli(write_batch(tmp_path / "one", batch), str(db))[0] == 0
    people = batch["people"].copy()
    people.at[2, "date_of_death"] = date(2025, 1, 1)
    assert ingest_cli(write_batch(tmp_path / "two", {"people": people}), str(db))[0] == 0
    assert query(db, "SELECT count(date_of_death) FROM people") == [(2,)]


@pytest.mark.postgres
def test_postgres_redelivery_loads_quarantined_rows_once(tmp_path: Path, batch: Batch, postgres_url: str) -> None:
    """On PostgreSQL too: rows quarantined for an unknown practice load on re-delivery once the practice is there,
    their quarantine lines go, and a retried row never overwrites a key stored since."""
    bad = without_second_practice(batch)
    bad["ae_attendances"] = batch["ae_attendances"].copy()
    bad["ae_attendances"].at[0, "disposal"] = "home"
    first = write_batch(tmp_path / "one", bad)
    assert ingest_cli(first, postgres_url, "--report", str(tmp_path / "q1.csv"))[0] == 3
    fixed = batch["ae_attendances"].copy()
    fixed.at[0, "disposal"] = "referred"
    assert ingest_cli(write_batch(tmp_path / "fix", {"ae_attendances": fixed}), postgres_url)[0] == 0
    second = write_batch(tmp_path / "two", {"practices": batch["practices"]})
    for name in ("registrations", "gp_appointments", "ae_attendances"):
        shutil.copy(first / f"{name}.parquet", second / f"{name}.parquet")
    code, output = ingest_cli(second, postgres_url, "--report", str(tmp_path / "q2.csv"))
    assert code == 3, output  # the old disposal is still not allowed
    assert "2 now loaded" in " ".join(output.split())
    with psycopg.connect(postgres_url) as con:
        assert con.execute("SELECT count(*) FROM registrations").fetchone() == (6,)
        assert con.execute("SELECT table_name, count(*) FROM quarantine GROUP BY 1").fetchall() == \
            [("ae_attendances", 1)]
        assert con.execute("SELECT disposal FROM ae_attendances WHERE attendance_id = 'AE1'").fetchone() == \
            ("referred",)


@pytest.mark.parametrize("engine", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_rotate_key_moves_the_identity_store_to_the_new_pseudonyms(tmp_path: Path, batch: Batch,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   request: pytest.FixtureRequest, engine: str) -> None:
    """The identity store follows the rotation: each link under its new pseudonym, every token encrypted afresh."""
    db = str(tmp_path / "wh.duckdb") if engine == "duckdb" else request.getfixturevalue("postgres_url")
    store_url = str(tmp_path / "identity.duckdb")
    monkeypatch.setenv("PLACEWISE_IDENTITY_STORE", store_url)
    monkeypatch.setenv("PLACEWISE_IDENTITY_KEY", new_key())
    folder = write_batch(tmp_path / "one", batch)
    assert ingest_cli(folder, db)[0] == 0
    store = open_store(store_url)
    before = {r["person_id"]: r["nhs_number_encrypted"] for r in store.table("identity_link").to_pyarrow().to_pylist()}
    store.disconnect()
    code, output = rotate(db, folder / "people.parquet", monkeypatch)
    assert code == 0 and "6 links moved and re-encrypted" in " ".join(output.split()), output
    store = open_store(store_url)
    after = {r["person_id"]: r["nhs_number_encrypted"] for r in store.table("identity_link").to_pyarrow().to_pylist()}
    linked = nhs_numbers(store, identity_key(), list(after))
    store.disconnect()
    assert set(after) == {pseudonym(OTHER_KEY, n) for n in NHS} and linked == {pseudonym(OTHER_KEY, n): n for n in NHS}
    assert not set(after.values()) & set(before.values())


def test_rotate_key_refuses_a_wrong_identity_key_and_changes_nothing(tmp_path: Path, batch: Batch,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """An identity key that does not open the store stops the rotation before anything is written."""
    db = tmp_path / "wh.duckdb"
    store_url = str(tmp_path / "identity.duckdb")
    monkeypatch.setenv("PLACEWISE_IDENTITY_STORE", store_url)
    monkeypatch.setenv("PLACEWISE_IDENTITY_KEY", new_key())
    folder = write_batch(tmp_path / "one", batch)
    assert ingest_cli(folder, str(db))[0] == 0
    before = sorted(query(db, "SELECT person_id FROM people"))
    monkeypatch.setenv("PLACEWISE_IDENTITY_KEY", new_key())
    code, output = rotate(str(db), folder / "people.parquet", monkeypatch)
    assert code == 2 and "identity key does not open" in " ".join(output.split()), output
    assert sorted(query(db, "SELECT person_id FROM people")) == before
    store = open_store(store_url)
    assert {r["person_id"] for r in store.table("identity_link").to_pyarrow().to_pylist()} == {p for (p,) in before}
    store.disconnect()
