"""PostgreSQL's workspace: the measure's working tables in a schema of the run's own, seen by both its sessions, and
gone after the run, whether it ends well, fails or is killed."""

from __future__ import annotations

import sys
import time
from datetime import date
from pathlib import Path

import ibis
import psycopg
import pytest

from placewise.measure import ReportingRange, compute, load_catalogue
from placewise.measure.computation import KEYS, counts_by_indicator
from placewise.profile import load_profile
from placewise.warehouse import connect
from placewise.warehouse.engines import engine_for
from placewise.warehouse.engines.postgres import WORK_SCHEMA

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "measure"))
from scenario import scenario

pytestmark = pytest.mark.postgres

RANGE = ReportingRange(date(2024, 1, 1), date(2024, 3, 31))
SHARING = ["gp_dna_rate", "gp_appointments_rate", "ae_attendances_rate", "hypertension_treated_to_target"]
"""Indicators that share sides (GP appointments, the registered population), so tables are made in one session and
read in the other."""
COMPARED = [*KEYS, "numerator", "denominator"]
"""The counts' key and whole counts (the indicators above have no fractional ones), compared exactly."""


def _work_schemas(url: str) -> list[str]:
    """The work schemas in the database, read on a connection of their own."""
    with psycopg.connect(url) as con:
        return [
            r[0]
            for r in con.execute(
                "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, %s)", (WORK_SCHEMA,)
            ).fetchall()
        ]


def test_working_tables_are_unlogged_in_the_run_schema_and_seen_beside(postgres_url: str) -> None:
    """Inside a workspace a working table is an UNLOGGED table of the run's schema, read in the second session and
    scanned by parallel workers when they pay; outside one it is the session's TEMP table, and no session beside."""
    con = connect(postgres_url)
    engine = engine_for(con)
    try:
        assert engine.beside() is None
        with engine.workspace():
            (schema,) = _work_schemas(postgres_url)
            engine.temp_table("_t", ibis.memtable({"x": list(range(1000))}))
            assert engine.rows(
                "SELECT n.nspname, c.relpersistence FROM pg_class c JOIN pg_namespace n "
                "ON n.oid = c.relnamespace WHERE c.relname = '_t'"
            ) == [(schema, "u")]
            other = engine.beside()
            assert other is not None
            try:
                assert other.rows(f'SELECT count(*), sum(x) FROM "{schema}"."_t"') == [(1000, 499500)]
                with other.settings(
                    {
                        "parallel_setup_cost": "0",
                        "parallel_tuple_cost": "0",
                        "min_parallel_table_scan_size": "0",
                        "max_parallel_workers_per_gather": "2",
                    }
                ):
                    plan = "\n".join(r[0] for r in other.rows(f'EXPLAIN SELECT sum(x) FROM "{schema}"."_t"'))
                assert "Parallel Seq Scan" in plan
            finally:
                other.close()
            assert "_t" not in engine.table_names()  # the warehouse's listing is its own schema's
        assert _work_schemas(postgres_url) == []
        made = engine.temp_table("_t", ibis.memtable({"x": [1]}))
        assert made.count().to_pyarrow().as_py() == 1
        assert engine.rows("SELECT relpersistence FROM pg_class WHERE relname = '_t'") == [("t",)]
    finally:
        con.disconnect()


def test_work_schema_dropped_after_a_run_and_after_a_failed_one(postgres_url: str) -> None:
    """The measure's run (two sessions) leaves no work schema behind; nor does a run whose caller fails while it reads
    the counts, nor a statement that fails inside the workspace."""
    con = scenario().load(connect(postgres_url))
    cat = load_catalogue(load_profile())
    try:
        counts = compute(con, cat, periods_range=RANGE, indicators=SHARING)
        on_duckdb = compute(scenario().load(ibis.duckdb.connect()), cat, periods_range=RANGE, indicators=SHARING)
        assert counts.num_rows == on_duckdb.num_rows > 0
        assert counts.select(COMPARED).to_pylist() == on_duckdb.select(COMPARED).to_pylist()
        assert _work_schemas(postgres_url) == []

        run = counts_by_indicator(con, cat, periods_range=RANGE, indicators=SHARING)
        next(run)
        assert len(_work_schemas(postgres_url)) == 1  # the run's own, while it runs
        with pytest.raises(RuntimeError):
            try:
                raise RuntimeError("the write of the counts failed")
            finally:
                run.close()
        assert _work_schemas(postgres_url) == []

        engine = engine_for(con)
        with pytest.raises(psycopg.errors.UndefinedTable), engine.workspace():
            engine.temp_table("_t", ibis.memtable({"x": [1]}))
            engine.execute('SELECT * FROM "no_such_table"')
        assert _work_schemas(postgres_url) == []
        assert compute(con, cat, periods_range=RANGE, indicators=SHARING).equals(counts)  # and runs again
    finally:
        con.disconnect()


def test_schema_of_a_killed_run_is_dropped_by_the_next(postgres_url: str) -> None:
    """A run killed inside its workspace leaves its schema; the warehouse's table listing does not see it, and the next
    run drops it (its advisory lock died with the session) but never a live run's."""
    killed, live, later = connect(postgres_url), connect(postgres_url), connect(postgres_url)
    try:
        held = engine_for(killed).workspace()  # held: once collected, its exit would drop the schema
        held.__enter__()
        engine_for(killed).temp_table("_t", ibis.memtable({"x": [1]}))
        (stale,) = _work_schemas(postgres_url)
        (pid,) = engine_for(killed).rows("SELECT pg_backend_pid()")[0]
        killed.disconnect()  # as a killed process: no exit from the workspace
        for _ in range(100):  # its backend ends (and its lock goes) just after the connection closes
            if not engine_for(later).rows(f"SELECT 1 FROM pg_stat_activity WHERE pid = {pid}"):
                break
            time.sleep(0.05)
        with engine_for(live).workspace():
            (own,) = set(_work_schemas(postgres_url)) - {stale}
            assert stale not in _work_schemas(postgres_url)
            assert not any(t.startswith(WORK_SCHEMA) or t == "_t" for t in engine_for(later).table_names())
            with engine_for(later).workspace():
                assert own in _work_schemas(postgres_url) and len(_work_schemas(postgres_url)) == 2
            assert _work_schemas(postgres_url) == [own]
        assert _work_schemas(postgres_url) == []
    finally:
        live.disconnect()
        later.disconnect()


def test_a_role_without_create_measures_in_one_session_over_temp_tables(postgres_url: str) -> None:
    """A role that may read the warehouse but not create a schema in its database (as a reporting role on an ICB's
    server) works over TEMP tables, which only its own session sees: no work schema, no session beside, one indicator
    at a time (``side_by_side`` 1), and the same counts as the owner's run in two sessions."""
    owner = scenario().load(connect(postgres_url))
    role = f"reader_{time.time_ns()}"
    cat = load_catalogue(load_profile())
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN')  # no CREATE on the database: PUBLIC has only CONNECT and TEMP
        admin.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"')
    reader = connect(postgres_url.replace("placewise@", f"{role}@", 1))
    try:
        engine = engine_for(reader)
        with engine.workspace():
            assert _work_schemas(postgres_url) == []
            assert engine.side_by_side == 1
            assert engine.beside() is None
        with engine_for(owner).workspace():
            assert engine_for(owner).side_by_side == 2
        counts = compute(reader, cat, periods_range=RANGE, indicators=SHARING)
        assert counts.num_rows > 0
        on_owner = compute(owner, cat, periods_range=RANGE, indicators=SHARING)
        assert counts.select(COMPARED).to_pylist() == on_owner.select(COMPARED).to_pylist()
        assert _work_schemas(postgres_url) == []
    finally:
        reader.disconnect()
        owner.disconnect()
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f'DROP OWNED BY "{role}"')
            admin.execute(f'DROP ROLE "{role}"')
