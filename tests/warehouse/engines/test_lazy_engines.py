"""An engine's module is imported only when a warehouse of that engine is used, and Ibis's SQL compiler for a dialect
only when that dialect is used."""

from __future__ import annotations

import subprocess
import sys

from placewise.warehouse.engines import MODULES, _load

DUCKDB_RUN = """
import sys
import ibis
from placewise.warehouse.engines import engine_class, engine_for
import placewise.analyse.cli
assert engine_class(sys.argv[1]).name == "duckdb"
engine_for(ibis.duckdb.connect())
print(sorted({m.split(".")[0] for m in sys.modules} & {"psycopg", "psycopg_pool", "pyspark", "py4j", "scipy"}))
"""


COMPILERS_RUN = """
import sys
import ibis
import placewise.warehouse.engines
con = ibis.duckdb.connect()
t = con.create_table("t", ibis.memtable({"a": [1, 2, 3]}))
assert t.filter(t.a > 1).count().to_pyarrow().as_py() == 2
print(sorted(m.rsplit(".", 1)[1] for m in sys.modules if m.startswith("ibis.backends.sql.compilers.")))
print(ibis.to_sql(ibis.table({"a": "int64"}, name="t").filter(ibis._.a > 1), dialect="postgres").split())
from ibis.backends.sql.compilers import PostgresCompiler, PySparkCompiler
import ibis.backends.sql.compilers as sc
print(type(sc.postgres.compiler) is PostgresCompiler, PySparkCompiler.__module__)
print(sorted(m.rsplit(".", 1)[1] for m in sys.modules if m.startswith("ibis.backends.sql.compilers.")))
"""


def test_a_duckdb_run_imports_only_the_duckdb_compiler() -> None:
    """Querying DuckDB through Ibis loads its compiler alone, not the twenty dialects Ibis supports; another
    dialect's compiler is imported when it is named (by class, by module, or by ``ibis.to_sql``)."""
    out = subprocess.run([sys.executable, "-c", COMPILERS_RUN], capture_output=True, text=True, check=True)
    first, sql, named, last = out.stdout.strip().splitlines()
    assert first == "['_compat', 'base', 'duckdb']"
    assert sql == str(["SELECT", "*", "FROM", '"t"', "AS", '"t0"', "WHERE", '"t0"."a"', ">", "1"])
    assert named == "True ibis.backends.sql.compilers.pyspark"
    assert last == "['_compat', 'base', 'duckdb', 'postgres', 'pyspark']"


def test_each_engine_is_registered_under_its_backends_name() -> None:
    """The registry's key is what ``engine_for`` matches an open backend's name against."""
    assert {b: _load(b).backend for b in MODULES} == {b: b for b in MODULES}


def test_a_duckdb_measure_does_not_import_the_server_drivers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Opening a DuckDB warehouse and loading ``placewise measure`` leaves PostgreSQL's and Spark's drivers alone,
    and SciPy (needed only for a few statistics, imported where they are computed)."""
    out = subprocess.run([sys.executable, "-c", DUCKDB_RUN, str(tmp_path / "w.duckdb")], capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_server_engines_are_found_by_url() -> None:
    """A PostgreSQL or Spark URL still finds its engine, importing it then."""
    from placewise.warehouse.engines import engine_class

    assert engine_class("postgresql://me@host/db").name == "postgres"
    assert engine_class("spark:///data/wh").name == "spark"
