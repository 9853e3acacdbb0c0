"""The warehouse layer: URLs, table creation from the canonical model, and the status summary."""

from __future__ import annotations

from pathlib import Path

import duckdb
import ibis
import pytest

from placewise.canonical import TABLES
from placewise.warehouse import (
    BOOKKEEPING,
    WarehouseError,
    connect,
    connect_existing,
    engine,
    engine_of,
    ensure_tables,
    table_names,
)
from placewise.warehouse.engines import engine_for
from placewise.warehouse.engines.duckdb import duckdb_path
from placewise.warehouse.status import status


@pytest.mark.parametrize(("url", "kind"), [
    ("placewise.duckdb", "duckdb"), ("duckdb:///tmp/x.duckdb", "duckdb"), ("/abs/wh.db", "duckdb"),
    ("postgresql://u@h:5432/db", "postgres"), ("postgres://u@h/db", "postgres"),
])
def test_engine_of_urls(url: str, kind: str) -> None:
    """A plain path or duckdb:// is DuckDB; postgresql:// (or postgres://) is PostgreSQL."""
    assert engine_of(url) == kind


def test_unsupported_and_in_memory_urls_are_refused() -> None:
    """Other schemes and in-memory DuckDB are errors that name the URL."""
    with pytest.raises(WarehouseError, match="mysql://x: unsupported"):
        engine_of("mysql://x")
    with pytest.raises(WarehouseError, match="not an in-memory database"):
        duckdb_path("duckdb://:memory:")


def test_duckdb_path_forms(tmp_path: Path) -> None:
    """duckdb:///abs, duckdb://rel and a plain path all name the file."""
    assert duckdb_path(f"duckdb://{tmp_path}/a.duckdb") == tmp_path / "a.duckdb"
    assert duckdb_path("duckdb://rel/a.duckdb") == Path("rel/a.duckdb")
    assert duckdb_path(tmp_path / "a.duckdb") == tmp_path / "a.duckdb"


def test_missing_folder_is_refused(tmp_path: Path) -> None:
    """A DuckDB file in a folder that does not exist is a clear error, not a silent new folder."""
    with pytest.raises(WarehouseError, match="does not exist"):
        connect(tmp_path / "no" / "wh.duckdb")


def _check_created(con) -> None:  # type: ignore[no-untyped-def]
    """Every canonical table exists with warehouse columns: person_id in place of nhs_number."""
    ensure_tables(con)
    ensure_tables(con)  # idempotent
    assert {t.name for t in (*TABLES, *BOOKKEEPING)} <= table_names(con)
    people = con.table("people").schema()
    assert "person_id" in people and "nhs_number" not in people
    assert list(people) == [c.name for c in TABLES[2].warehouse_columns()]
    spells = con.table("inpatient_spells").schema()
    assert str(spells["admission_date"]) == "date" and str(spells["discharge_date"]) == "date"
    assert str(con.table("ae_attendances").schema()["arrival"]).startswith("timestamp")
    s = status(con)
    assert s.counts == {t.name: 0 for t in TABLES}
    assert s.load_log.empty and s.quarantine.empty


def test_duckdb_tables_created_from_the_canonical_model(tmp_path: Path) -> None:
    """DuckDB: creation, idempotent, read back through Ibis by canonical name."""
    con = connect(f"duckdb://{tmp_path}/wh.duckdb")
    assert engine(con) == "duckdb"
    _check_created(con)


@pytest.mark.postgres
def test_postgres_tables_created_from_the_canonical_model(postgres_url: str) -> None:
    """PostgreSQL: the same tables and types."""
    con = connect(postgres_url)
    assert engine(con) == "postgres"
    _check_created(con)


def test_status_of_an_empty_warehouse(tmp_path: Path) -> None:
    """A warehouse no batch has touched reports zero rows everywhere rather than failing."""
    s = status(connect(tmp_path / "new.duckdb"))
    assert set(s.counts) == {t.name for t in TABLES} and not any(s.counts.values())
    assert list(s.quarantine.columns) == ["table_name", "field", "reason", "lines"]


def test_duckdb_memory_is_bounded_whatever_the_machine(tmp_path: Path) -> None:
    """DuckDB gets a fixed memory limit, not its default share of the machine, and spills beside the file."""
    con = connect(tmp_path / "w.duckdb")
    limit, spill = con.con.execute(
        "SELECT current_setting('memory_limit'), current_setting('temp_directory')").fetchone()
    assert limit == "3.7 GiB"                      # DuckDB reports 4 GB (10^9 bytes) in GiB
    assert spill == str(tmp_path / "w.duckdb.tmp")


def test_duckdb_temporary_tables_on_a_warehouse_opened_read_only(tmp_path: Path) -> None:
    """A reader (the web app) can make temporary tables on a warehouse it opened read-only: they live in the
    in-memory database attached read-write beside it."""
    con = connect(tmp_path / "w.duckdb")
    ensure_tables(con)
    con.disconnect()
    reader = engine_for(connect_existing(tmp_path / "w.duckdb", read_only=True))
    made = reader.temp_table("_t", ibis.memtable({"x": [1, 2, 3]}))
    assert sorted(made.x.to_pyarrow().to_pylist()) == [1, 2, 3]
    reader.drop_temp("_t")
    with pytest.raises(duckdb.Error):
        made.to_pyarrow()


def test_duckdb_keeps_its_buffers_within_the_memory_limit(tmp_path: Path) -> None:
    """A read-write warehouse keeps the memory its block allocator has touched, up to the memory limit, instead of
    faulting it in again for each query; a read-only one (the web app's) keeps nothing it no longer uses."""
    con = connect(tmp_path / "w.duckdb")
    ensure_tables(con)
    assert con.con.execute("SELECT current_setting('block_allocator_memory')").fetchone()[0] == "3.7 GiB"
    con.disconnect()
    reader = connect_existing(tmp_path / "w.duckdb", read_only=True)
    assert reader.con.execute("SELECT current_setting('block_allocator_memory')").fetchone()[0] == "0 bytes"
