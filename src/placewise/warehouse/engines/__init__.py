"""The warehouse engines, one module each behind :class:`Engine`: DuckDB (embedded default), PostgreSQL
and Spark.

Every other module reaches an engine through :func:`engine_for` (an open backend) or
:func:`engine_class` (a URL) and never branches on an engine's name. An engine's module is imported
when it is first needed, so a run on DuckDB does not load PostgreSQL's or Spark's drivers (their import
is a third of a second of every short run), and Ibis's SQL compilers are imported one dialect at a time
(:func:`compilers_on_demand`).
"""

from __future__ import annotations

import ast
import sys
from importlib import import_module
from importlib.util import find_spec, module_from_spec
from pathlib import Path
from typing import Any

import ibis.backends.sql
from ibis.backends import BaseBackend

from placewise.warehouse.engines import construction, rewrites
from placewise.warehouse.engines.base import Batch, Engine, WarehouseError, Written, redact

COMPILERS = "ibis.backends.sql.compilers"


def compilers_on_demand() -> None:
    """Stand in for ``ibis.backends.sql.compilers`` a package that imports a dialect's compiler when it is first
    named, in place of Ibis's, which imports the compilers of all twenty dialects Ibis supports (with sqlglot's
    ClickHouse, Trino and Hive dialects) when a backend is first loaded: about 0.2 s of CPU time in every run, for
    the one or two a warehouse uses. Its names are read from Ibis's own ``__init__.py``; nothing is done if that
    package was already imported."""
    spec = find_spec(COMPILERS)
    if COMPILERS in sys.modules or spec is None or spec.origin is None or spec.submodule_search_locations is None:
        return
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    home = {alias.name: node.module for node in tree.body if isinstance(node, ast.ImportFrom)
            and node.module is not None and node.module.startswith(COMPILERS + ".") for alias in node.names}
    package = module_from_spec(spec)

    def attribute(name: str) -> Any:
        """A compiler class (``DuckDBCompiler``) or a dialect's compiler module (``duckdb``), imported now."""
        if name in home:
            return getattr(import_module(home[name]), name)
        if not name.startswith("__") and find_spec(f"{COMPILERS}.{name}") is not None:
            return import_module(f"{COMPILERS}.{name}")
        raise AttributeError(f"module {COMPILERS!r} has no attribute {name!r}")

    package.__getattr__ = attribute  # type: ignore[method-assign]
    sys.modules[COMPILERS] = package
    ibis.backends.sql.compilers = package


compilers_on_demand()
rewrites.install()
construction.install()

MODULES: dict[str, str] = {
    "duckdb": "placewise.warehouse.engines.duckdb:DuckDBEngine",
    "postgres": "placewise.warehouse.engines.postgres:PostgresEngine",
    "pyspark": "placewise.warehouse.engines.spark:SparkEngine",
}
"""Every engine by the name of its Ibis backend, in the order a URL is tried against them."""


def _load(backend: str) -> type[Engine]:
    """The engine class for an Ibis backend's name, its module imported on first use."""
    module, attr = MODULES[backend].split(":")
    engine: type[Engine] = getattr(import_module(module), attr)
    return engine


def __getattr__(name: str) -> Any:
    """``ENGINES`` (every engine class), ``DIALECTS`` (their SQL dialects) and ``DATABASE_ERRORS`` (the
    exceptions a failed statement raises on any engine): each imports every engine, so only on request."""
    engines = tuple(_load(b) for b in MODULES)
    if name == "ENGINES":
        return engines
    if name == "DIALECTS":
        return tuple(engine.dialect for engine in engines)
    if name == "DATABASE_ERRORS":
        return tuple(e for engine in engines for e in engine.errors)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def engine_class(url: str | Path) -> type[Engine]:
    """The engine a warehouse URL names (engines later in the order are not imported once one claims it)."""
    text = str(url)
    for backend in MODULES:
        engine = _load(backend)
        if engine.claims(text):
            return engine
    raise WarehouseError(f"{redact(text)}: unsupported warehouse URL; use a DuckDB file path, duckdb:///path "
                         "postgresql://… or spark:///path")


def describe_error(e: Exception) -> str:
    """What a failed statement's error says, in one line, as its engine words it."""
    for backend in MODULES:
        engine = _load(backend)
        if isinstance(e, engine.errors):
            return engine.reason(e)
    return str(e).splitlines()[0]


def engine_for(con: BaseBackend) -> Engine:
    """The engine behind an open Ibis backend."""
    if con.name not in MODULES:
        raise WarehouseError(f"unsupported warehouse engine {con.name!r}")
    return _load(con.name)(con)


__all__ = ["DATABASE_ERRORS", "DIALECTS", "ENGINES", "Batch", "Engine", "WarehouseError", "Written", "describe_error",
           "engine_class", "engine_for"]
