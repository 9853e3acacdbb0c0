"""Derived tables written back to the warehouse: replaced whole, never left half-written."""

from __future__ import annotations

import uuid

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from placewise.warehouse.engines import engine_for


def replace_table(con: ibis.BaseBackend, name: str, obj: ir.Table | pa.Table) -> ir.Table:
    """Write ``obj`` under a new name, then swap it in, so a failed build leaves the old table whole."""
    return engine_for(con).replace_table(name, obj)


def temp_table(con: ibis.BaseBackend, prefix: str, expr: ir.Table) -> ir.Table:
    """Materialise a step as a temporary table under a fresh name, on any engine (gone when the session ends)."""
    return engine_for(con).temp_table(f"{prefix}_{uuid.uuid4().hex[:12]}", expr)
