"""Derived tables written back to the warehouse: replaced whole, never left half-written."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
import uuid

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from placewise.warehouse.engines import engine_for


def replace_table(con: ibis.BaseBackend, name: str, obj: ir.Table | pa.Table) -> ir.Table:
    """Write ``obj`` under a new name, then swap it in, so a failed build leaves the old table whole."""
    return engine_for(con).replace_table(name, obj)


@contextmanager
def scratch(con: ibis.BaseBackend) -> Iterator[Callable[[str, ir.Table], ir.Table]]:
    """Materialise a piece of work's steps as temporary tables under fresh names, on any engine, and drop them all
    when it ends: they would otherwise outlive it until the session closed (on DuckDB, until the process ended, in the
    scratch database every connection of the process shares)."""
    engine = engine_for(con)
    made: list[str] = []

    def make(prefix: str, expr: ir.Table) -> ir.Table:
        """A step made a temporary table, dropped with the others at the end."""
        made.append(_fresh(prefix))
        return engine.temp_table(made[-1], expr)

    try:
        yield make
    finally:
        for name in made:
            engine.drop_temp(name)


def _fresh(prefix: str) -> str:
    """A temporary table's name no other piece of work uses, in one process or in several."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"
