"""The benchmarks time what the commands do: the reporting range is ``placewise measure``'s unless ``--months`` is
given, taken from ``default_range`` rather than written again in each script (bench_measure.py once used 24 months
where the command uses 36)."""

from __future__ import annotations

import argparse
import ast
import importlib.util
from datetime import date
from pathlib import Path
from types import ModuleType

import duckdb
import psycopg
import pytest

from placewise.measure import default_range
from placewise.warehouse import connect

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"


def _commands() -> ModuleType:
    """``benchmarks/commands.py``, which the scripts import from their own folder."""
    spec = importlib.util.spec_from_file_location("commands", BENCHMARKS / "commands.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_months_option_defaults_to_the_range_placewise_measure_uses(tmp_path):
    con = connect(str(tmp_path / "w.duckdb"))
    con.raw_sql(
        "CREATE TABLE clinical_events AS SELECT * FROM (VALUES (DATE '2023-01-05'), (DATE '2026-09-15')) "
        "AS t(event_date)"
    )
    parser = argparse.ArgumentParser()
    _commands().add_months_option(parser)
    months = parser.parse_args([]).months
    assert default_range(con, months) == default_range(con)  # the command passes no months
    assert default_range(con, months).first == date(2023, 10, 1)  # 36 months: October 2023 to September 2026
    assert parser.parse_args(["--months", "24"]).months == 24


def test_no_benchmark_sets_its_own_months():
    for script in sorted(BENCHMARKS.glob("*.py")):
        for node in ast.walk(ast.parse(script.read_text(), str(script))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            first = node.args[0] if node.args else None
            if name == "add_argument" and isinstance(first, ast.Constant) and first.value == "--months":
                assert script.name == "commands.py", f"{script.name} line {node.lineno}: --months of its own"
            if name == "default_range" and len(node.args) > 1:
                assert not isinstance(node.args[1], ast.Constant), f"{script.name} line {node.lineno}: fixed months"


def _bench_postgres(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """``benchmarks/bench_postgres.py``, importing from its own folder."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location("bench_postgres", BENCHMARKS / "bench_postgres.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_bench_postgres_names_a_statement_by_the_working_table_it_makes_or_reads(monkeypatch):
    """``bench_postgres.py --statements`` lists the dearest statements by the working table they make or read, not by
    SQL cut off before it names one (the run's schema and tag dropped, so runs compare)."""
    bench = _bench_postgres(monkeypatch)
    work = '"placewise_work_98e635ce1f5f410d"'
    made = f'CREATE UNLOGGED TABLE {work}."_placewise_cells_emergency_admissions_dsr_bdbd93dd" AS WITH "t1" AS (…)'
    assert bench.statement_label(made) == "cells_emergency_admissions_dsr"
    assert bench.statement_label('CREATE TEMP TABLE "_placewise_records_0a1b2c3d" AS SELECT 1') == "records"
    read = f'COPY (WITH "t11" AS (SELECT "t3"."period_start" FROM {work}."_placewise_side_0_bdbd93dd" AS "t3"))'
    assert bench.statement_label(read) == "COPY reading side_0"
    assert bench.statement_label('DELETE  FROM "measurements"\n WHERE "indicator_id" IN ($1)') == (
        'DELETE FROM "measurements" WHERE "indicator_id" IN ($1)'
    )


@pytest.mark.postgres
def test_bench_postgres_starts_its_throwaway_server_with_the_settings_given(monkeypatch):
    """``--setting NAME=VALUE`` starts the benchmark's server with a setting that only takes effect when the server
    starts: the server says it runs with it, and without it with PostgreSQL's default."""
    bench = _bench_postgres(monkeypatch)
    with bench.throwaway_server(settings={"shared_buffers": "160MB"}) as url, psycopg.connect(url) as con:
        assert con.execute("SHOW shared_buffers").fetchone() == ("160MB",)
    with bench.throwaway_server() as url, psycopg.connect(url) as con:
        assert con.execute("SHOW shared_buffers").fetchone() == ("128MB",)


def test_replicate_warehouse_repeats_people_and_their_records_under_new_keys_and_reference_tables_once(tmp_path):
    """The scale 2.0 and 4.0 warehouses of docs/scale.md are copies of scale 1.0's: each copy's people and records
    are new people and records (distinct keys, a person's records still theirs), practices are not copied."""
    spec = importlib.util.spec_from_file_location("replicate_warehouse", BENCHMARKS / "replicate_warehouse.py")
    assert spec is not None and spec.loader is not None
    replicate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(replicate)
    source, target = tmp_path / "s.duckdb", tmp_path / "t.duckdb"
    con = duckdb.connect(str(source))
    con.execute("CREATE TABLE people AS SELECT * FROM (VALUES ('p1', 1930), ('p2', 1990)) AS t(person_id, birth_year)")
    con.execute(
        "CREATE TABLE clinical_events AS SELECT * FROM (VALUES ('e1', 'p1'), ('e2', 'p1'), ('e3', 'p2')) "
        "AS t(event_id, person_id)"
    )
    con.execute("CREATE TABLE practices AS SELECT * FROM (VALUES ('A81001'), ('A81002')) AS t(practice_code)")
    con.close()
    replicate.replicate(source, target, 3)
    con = duckdb.connect(str(target), read_only=True)
    assert con.execute("SELECT count(*), count(DISTINCT person_id) FROM people").fetchone() == (6, 6)
    assert con.execute("SELECT count(*), count(DISTINCT event_id) FROM clinical_events").fetchone() == (9, 9)
    assert con.execute("SELECT count(*) FROM practices").fetchone() == (2,)
    per_person = con.execute(
        "SELECT p.birth_year, count(*) FROM clinical_events e JOIN people p USING (person_id) GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert per_person == [(1930, 6), (1990, 3)]  # each copy of p1 keeps its two events
