"""The same ingest on PostgreSQL (a real server) gives the same warehouse as on DuckDB."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import psycopg
import pytest
from batch_builder import NHS, spoil_done_when, write_batch
from ingest_support import ingest_cli, query, run_cli

from placewise.canonical import SQL_TYPES, TABLES
from placewise.measure.computation import complete_to
from placewise.measure.periods import month_end
from placewise.warehouse.connection import opened
from placewise.warehouse.schema import QUARANTINE

pytestmark = pytest.mark.postgres
Batch = dict[str, pd.DataFrame]


def pg_rows(url: str, sql: str) -> list[tuple]:
    """Rows of a query on PostgreSQL."""
    with psycopg.connect(url) as con:
        return con.execute(sql).fetchall()


def canonical_rows(url_or_db: str | Path, table: str, columns: str = "*") -> list[tuple]:
    """A table's rows, sorted, from either engine."""
    sql = f'SELECT {columns} FROM "{table}"'
    rows = pg_rows(str(url_or_db), sql) if str(url_or_db).startswith("postgresql://") else query(Path(url_or_db), sql)
    return sorted(rows, key=repr)


def test_duckdb_and_postgres_agree(tmp_path: Path, batch: Batch, postgres_url: str) -> None:
    """Same rows in every canonical table, the same quarantine and the same column types on both engines."""
    spoil_done_when(batch)
    folder = write_batch(tmp_path / "in", batch)
    db = tmp_path / "wh.duckdb"
    assert ingest_cli(folder, str(db))[0] == 3
    code, output = ingest_cli(folder, postgres_url, "--report", str(tmp_path / "pg.csv"))
    assert code == 3, output
    for t in TABLES:
        duck = canonical_rows(db, t.name)
        assert duck == canonical_rows(postgres_url, t.name), t.name
        assert duck, t.name
    qcols = ", ".join(c.name for c in QUARANTINE.columns if c.name != "batch_id")
    assert canonical_rows(db, "quarantine", qcols) == canonical_rows(postgres_url, "quarantine", qcols)
    pg_types = dict(pg_rows(postgres_url, "SELECT table_name || '.' || column_name, data_type "
                                          "FROM information_schema.columns WHERE table_schema = 'public'"))
    expected = {"VARCHAR": "character varying", "BIGINT": "bigint", "DOUBLE PRECISION": "double precision",
                "DATE": "date", "TIMESTAMP": "timestamp without time zone", "BOOLEAN": "boolean"}
    for t in TABLES:
        for c in t.warehouse_columns():
            assert pg_types[f"{t.name}.{c.name}"] == expected[SQL_TYPES[c.dtype]]


def test_postgres_rerun_adds_nothing_and_refusal_changes_nothing(tmp_path: Path, batch: Batch,
                                                                 postgres_url: str) -> None:
    """On PostgreSQL too: a re-run is a no-op, and a broken batch (missing column) is refused with no change."""
    folder = write_batch(tmp_path / "in", batch)
    assert ingest_cli(folder, postgres_url)[0] == 0
    snapshot = {t: canonical_rows(postgres_url, t) for t in ("people", "clinical_events", "load_log", "load_files")}
    code, output = ingest_cli(folder, postgres_url)
    assert code == 0 and "Nothing new" in output
    code, output = run_cli("status", "--db", postgres_url)
    (batch_id,) = pg_rows(postgres_url, "SELECT batch_id FROM load_log")[0]
    assert code == 0 and batch_id in output and "Quarantine is empty" in output
    broken = {k: v.copy() for k, v in batch.items()}
    broken["clinical_events"].loc[len(broken["clinical_events"])] = ["EV6", NHS[3], date(2024, 3, 3), "22298006", None, None]
    broken["people"] = broken["people"].drop(columns=["sex"])
    broken["people"].at[0, "birth_year"] = 1951
    code, output = ingest_cli(write_batch(tmp_path / "broken", broken), postgres_url)
    assert code == 2 and "'sex' is missing" in output
    assert {t: canonical_rows(postgres_url, t) for t in snapshot} == snapshot


def test_postgres_replaces_rows_by_key(tmp_path: Path, batch: Batch, postgres_url: str) -> None:
    """A changed file on PostgreSQL replaces the row with the same key rather than duplicating it."""
    assert ingest_cli(write_batch(tmp_path / "one", batch), postgres_url)[0] == 0
    people = batch["people"].copy()
    people.at[2, "date_of_death"] = date(2025, 1, 1)
    assert ingest_cli(write_batch(tmp_path / "two", {"people": people}), postgres_url)[0] == 0
    assert pg_rows(postgres_url, "SELECT count(*), count(date_of_death) FROM people") == [(6, 2)]
    assert pg_rows(postgres_url, "SELECT rows_replaced FROM load_log ORDER BY loaded_at DESC LIMIT 1") == [(6,)]


def test_postgres_reads_the_latest_activity_from_an_index(tmp_path: Path, batch: Batch, postgres_url: str) -> None:
    """Ingest indexes each table's activity date, so the measure's reporting range is found without a scan; the
    range is the same as on DuckDB."""
    folder = write_batch(tmp_path / "in", batch)
    db = tmp_path / "wh.duckdb"
    assert ingest_cli(folder, str(db))[0] == 0
    assert ingest_cli(folder, postgres_url)[0] == 0
    active = [t for t in TABLES if t.activity]
    assert {t.name for t in active} == {"clinical_events", "gp_appointments", "inpatient_spells"}
    with psycopg.connect(postgres_url) as con:
        con.execute("SET enable_seqscan = off")  # a table of a few rows is scanned whatever its indexes
        for t in active:
            plan = "\n".join(r[0] for r in con.execute(f'EXPLAIN SELECT max("{t.activity}") FROM "{t.name}"'))
            assert f"Index Only Scan Backward using {t.name}_{t.activity}" in plan, plan
    latest = max(batch[t.name][t.activity].max() for t in active)
    with opened(db) as duck, opened(postgres_url) as pg:
        assert complete_to(pg) == complete_to(duck) == month_end(latest)


def test_postgres_ingest_leaves_statistics_of_every_table_it_wrote(tmp_path: Path, batch: Batch,
                                                                   postgres_url: str) -> None:
    """Ingest analyses each table it wrote before it commits, so a measure started at once plans from the rows
    loaded (autovacuum would get there a minute or more later): each table's statistics count its rows."""
    assert ingest_cli(write_batch(tmp_path / "in", batch), postgres_url)[0] == 0
    loaded = [t.name for t in TABLES if len(batch.get(t.name, ())) > 0]
    assert "gp_appointments" in loaded and "people" in loaded
    stats = dict(pg_rows(postgres_url, "SELECT relname, last_analyze IS NOT NULL FROM pg_stat_user_tables"))
    tuples = dict(pg_rows(postgres_url, "SELECT relname, reltuples FROM pg_class WHERE relkind = 'r'"))
    for name in loaded:
        assert stats[name], f"{name} not analysed by ingest"
        assert tuples[name] == pg_rows(postgres_url, f'SELECT count(*) FROM "{name}"')[0][0], name
    assert stats["load_log"]
