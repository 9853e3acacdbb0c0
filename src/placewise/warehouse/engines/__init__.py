"""The warehouse engines, one module each behind :class:`Engine`: DuckDB (embedded default), PostgreSQL
and Spark.

Every other module reaches an engine through :func:`engine_for` (an open backend) or
:func:`engine_class` (a URL) and never branches on an engine's name.
"""

from __future__ import annotations

from pathlib import Path

from ibis.backends import BaseBackend

from placewise.warehouse.engines.base import Batch, Engine, WarehouseError, Written, redact
from placewise.warehouse.engines.duckdb import DuckDBEngine
from placewise.warehouse.engines.postgres import PostgresEngine
from placewise.warehouse.engines.spark import SparkEngine

ENGINES: tuple[type[Engine], ...] = (DuckDBEngine, PostgresEngine, SparkEngine)
"""Every engine, in the order a URL is tried against them."""

DIALECTS: tuple[str, ...] = tuple(engine.dialect for engine in ENGINES)
"""The SQL dialect of each engine, for showing what an indicator compiles to."""

DATABASE_ERRORS: tuple[type[Exception], ...] = tuple(e for engine in ENGINES for e in engine.errors)
"""Exceptions a failed statement raises on any engine (the batch's transaction has been rolled back)."""


def engine_class(url: str | Path) -> type[Engine]:
    """The engine a warehouse URL names."""
    text = str(url)
    for engine in ENGINES:
        if engine.claims(text):
            return engine
    raise WarehouseError(f"{redact(text)}: unsupported warehouse URL; use a DuckDB file path, duckdb:///path "
                         "postgresql://… or spark:///path")


def describe_error(e: Exception) -> str:
    """What a failed statement's error says, in one line, as its engine words it."""
    for engine in ENGINES:
        if isinstance(e, engine.errors):
            return engine.reason(e)
    return str(e).splitlines()[0]


def engine_for(con: BaseBackend) -> Engine:
    """The engine behind an open Ibis backend."""
    for engine in ENGINES:
        if engine.backend == con.name:
            return engine(con)
    raise WarehouseError(f"unsupported warehouse engine {con.name!r}")


__all__ = ["DATABASE_ERRORS", "DIALECTS", "ENGINES", "Batch", "Engine", "WarehouseError", "Written", "describe_error", "engine_class",
           "engine_for"]
