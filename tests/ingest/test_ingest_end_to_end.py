"""End to end through the ``placewise`` command: synthesise a small ICS, ingest it, check the warehouse."""

from __future__ import annotations

from pathlib import Path

import duckdb
import psycopg
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from placewise.canonical import TABLES
from placewise.cli import app

pytestmark = pytest.mark.slow


def placewise(*args: str) -> tuple[int, str]:
    """Run the real ``placewise`` command line; exit code and output."""
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def delivery(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic BLMK at scale 0.01 written by ``placewise synth``."""
    out = tmp_path_factory.mktemp("synth") / "delivery"
    code, output = placewise("synth", "--out", str(out), "--scale", "0.01", "--seed", "3")
    assert code == 0, output
    return out


def test_synthetic_delivery_loads_cleanly_and_once(delivery: Path, tmp_path: Path) -> None:
    """Every synthetic row passes validation; counts match the files; a re-run adds nothing; status agrees."""
    db = tmp_path / "wh.duckdb"
    code, output = placewise("ingest", str(delivery), "--db", str(db))
    assert code == 0, output
    assert "calibration.csv" in output  # reported as not canonical, and ignored
    with duckdb.connect(str(db), read_only=True) as con:
        for t in TABLES:
            expected = pq.read_metadata(delivery / f"{t.name}.parquet").num_rows
            assert con.execute(f'SELECT count(*) FROM "{t.name}"').fetchone()[0] == expected > 0, t.name
        log = con.execute("SELECT files, rows_read, rows_loaded, rows_quarantined FROM load_log").fetchall()
    total = sum(pq.read_metadata(delivery / f"{t.name}.parquet").num_rows for t in TABLES)
    assert log == [(len(TABLES), total, total, 0)]
    code, output = placewise("ingest", str(delivery), "--db", str(db))
    assert code == 0 and "Nothing new" in output
    code, output = placewise("status", "--db", str(db))
    assert code == 0 and f"{total:,}" in output


def test_no_delivered_nhs_number_in_any_text_column(delivery: Path, tmp_path: Path) -> None:
    """Scan every text column of every warehouse table: no 10-digit run in any value is a delivered NHS number."""
    db = tmp_path / "wh.duckdb"
    assert placewise("ingest", str(delivery), "--db", str(db))[0] == 0
    people = str(delivery / "people.parquet")
    with duckdb.connect(str(db), read_only=True) as con:
        columns = con.execute("SELECT table_name, column_name FROM information_schema.columns "
                              "WHERE table_schema = 'main' AND data_type = 'VARCHAR'").fetchall()
        assert len(columns) > 40
        for table, column in columns:
            hits = con.execute(
                f'SELECT count(*) FROM "{table}", unnest(regexp_extract_all("{column}", \'[0-9]{{10}}\')) u(run) '
                "WHERE run IN (SELECT nhs_number FROM read_parquet(?))", [people]).fetchone()[0]
            assert hits == 0, (table, column)


@pytest.mark.postgres
def test_synthetic_delivery_identical_on_duckdb_and_postgres(delivery: Path, tmp_path: Path,
                                                               postgres_url: str) -> None:
    """The same synthetic delivery gives the same rows in every table on DuckDB and on PostgreSQL."""
    db = tmp_path / "wh.duckdb"
    assert placewise("ingest", str(delivery), "--db", str(db))[0] == 0
    code, output = placewise("ingest", str(delivery), "--db", postgres_url)
    assert code == 0, output
    with duckdb.connect(str(db), read_only=True) as duck, psycopg.connect(postgres_url) as pg:
        for t in TABLES:
            order = ", ".join(f'"{c.name}"' for c in t.warehouse_columns())
            sql = f'SELECT {order} FROM "{t.name}" ORDER BY {order}'
            assert duck.execute(sql).fetchall() == pg.execute(sql).fetchall(), t.name
