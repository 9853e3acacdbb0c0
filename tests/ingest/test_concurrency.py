"""Two ingests at once: they serialise (PostgreSQL, threads) or the second is refused clearly (a DuckDB file held
by another process); never a duplicated row, never an internal error."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import duckdb
import pandas as pd
import psycopg
import pytest
from batch_builder import AS_OF, KEY, write_batch
from ingest_support import cli_process, finish, query

from placewise.ingest import ingest
from placewise.warehouse.engines.postgres import INGEST_LOCK

Batch = dict[str, pd.DataFrame]


def ingest_args(folder: Path, db: str) -> list[str]:
    """Command-line arguments of one ingest."""
    return ["ingest", str(folder), "--db", db, "--as-of", AS_OF.isoformat()]


def test_duckdb_file_held_by_another_process_is_refused_clearly(tmp_path: Path, batch: Batch) -> None:
    """While another process holds the DuckDB file, ingest, status and measure refuse with exit 2 and say why."""
    folder = write_batch(tmp_path / "in", batch)
    db = tmp_path / "wh.duckdb"
    holder = duckdb.connect(str(db))
    try:
        for args in (ingest_args(folder, str(db)), ["status", "--db", str(db)], ["measure", "--db", str(db)]):
            code, output = finish(cli_process(*args, key=KEY))
            assert code == 2, output
            assert "in use by another process" in output and "Traceback" not in output, output
    finally:
        holder.close()
    assert query(db, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main'") == [(0,)]


def test_two_duckdb_ingests_at_once_never_duplicate(tmp_path: Path, batch: Batch) -> None:
    """Two processes ingesting the same batch at once: one loads, the other is refused or finds nothing new."""
    folder = write_batch(tmp_path / "in", batch)
    db = tmp_path / "wh.duckdb"
    runs = [finish(p) for p in [cli_process(*ingest_args(folder, str(db)), key=KEY) for _ in range(2)]]
    assert sorted(code for code, _ in runs)[0] == 0, runs
    for code, output in runs:
        assert "Traceback" not in output, output
        assert code == 0 or (code == 2 and "in use by another process" in output), output
    assert query(db, "SELECT count(*) FROM load_log") == [(1,)]
    assert query(db, "SELECT count(*), count(DISTINCT person_id) FROM people") == [(6, 6)]
    assert query(db, "SELECT count(*) FROM clinical_events") == [(len(batch["clinical_events"]),)]


def test_two_threads_ingesting_one_duckdb_file_serialise(tmp_path: Path, batch: Batch) -> None:
    """Two threads of one process share DuckDB's database instance: the ingest lock makes them take turns."""
    folder = write_batch(tmp_path / "in", batch)
    db = tmp_path / "wh.duckdb"
    results: list[object] = []

    def run() -> None:
        try:
            results.append(ingest(folder, db, KEY.encode(), as_of=AS_OF))
        except Exception as e:
            results.append(e)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert [type(r).__name__ for r in results] == ["IngestResult", "IngestResult"], results
    assert sorted(r.nothing_new for r in results) == [False, True]  # type: ignore[attr-defined]
    assert query(db, "SELECT count(*) FROM load_log") == [(1,)]
    assert query(db, "SELECT count(*) FROM clinical_events") == [(len(batch["clinical_events"]),)]


def waiting_for_lock(url: str) -> int:
    """How many sessions wait for the ingest's advisory lock."""
    with psycopg.connect(url) as con:
        return con.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted").fetchone()[0]


@pytest.mark.postgres
def test_postgres_ingests_wait_for_each_other(tmp_path: Path, batch: Batch, postgres_url: str) -> None:
    """Into an empty database, two ingests started while a third holds the lock both wait; released, one loads and
    the other finds nothing new: no duplicated row, no catalogue error."""
    folder = write_batch(tmp_path / "in", batch)
    with psycopg.connect(postgres_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (INGEST_LOCK,))
        processes = [cli_process(*ingest_args(folder, postgres_url), key=KEY) for _ in range(2)]
        deadline = time.monotonic() + 60
        while waiting_for_lock(postgres_url) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert waiting_for_lock(postgres_url) == 2
        holder.execute("SELECT pg_advisory_unlock(%s)", (INGEST_LOCK,))
    runs = [finish(p) for p in processes]
    assert sorted(code for code, _ in runs) == [0, 0], runs
    assert sum("Nothing new" in output for _, output in runs) == 1, runs
    with psycopg.connect(postgres_url) as con:
        assert con.execute("SELECT count(*) FROM load_log").fetchone() == (1,)
        assert con.execute("SELECT count(*), count(DISTINCT person_id) FROM people").fetchone() == (6, 6)
        assert con.execute("SELECT count(*) FROM clinical_events").fetchone() == (len(batch["clinical_events"]),)


@pytest.mark.postgres
def test_postgres_ingests_at_once_into_an_empty_database(tmp_path: Path, batch: Batch, postgres_url: str) -> None:
    """Two ingests started together into an empty database, with no help from the test: both exit 0, rows once."""
    folder = write_batch(tmp_path / "in", batch)
    runs = [finish(p) for p in [cli_process(*ingest_args(folder, postgres_url), key=KEY) for _ in range(2)]]
    assert sorted(code for code, _ in runs) == [0, 0], runs
    assert not any("Traceback" in output for _, output in runs)
    with psycopg.connect(postgres_url) as con:
        assert con.execute("SELECT count(*) FROM load_log").fetchone() == (1,)
        assert con.execute("SELECT count(*) FROM clinical_events").fetchone() == (len(batch["clinical_events"]),)
