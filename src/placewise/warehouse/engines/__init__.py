"""The warehouse engines, one module each behind :class:`Engine`: DuckDB (embedded default), PostgreSQL
and Spark.

Every other module reaches an engine through :func:`engine_for` (an open backend) or
:func:`engine_class` (a URL) and never branches on an engine's name. An engine's module is imported
when it is first needed, so a run on DuckDB does not load PostgreSQL's or Spark's drivers (their import
is a third of a second of every short run).
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Any

from ibis.backends import BaseBackend

from placewise.warehouse.engines.base import Batch, Engine, WarehouseError, Written, redact

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
