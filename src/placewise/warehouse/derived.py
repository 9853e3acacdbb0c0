"""Derived tables written back to the warehouse: replaced whole, never left half-written."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import pyarrow as pa


def execute(con: ibis.BaseBackend, sql: str) -> None:
    """Run one statement of ours (Ibis 12's own drop and rename are broken with the pinned sqlglot)."""
    if con.name == "postgres":
        with con.con.cursor() as cur:
            cur.execute(sql)
    else:
        con.con.execute(sql)


def replace_table(con: ibis.BaseBackend, name: str, obj: ir.Table | pa.Table) -> ir.Table:
    """Write ``obj`` under a new name, then swap it in, so a failed build leaves the old table whole."""
    staged = f"{name}__new"
    execute(con, f'DROP TABLE IF EXISTS "{staged}"')
    if isinstance(obj, pa.Table):   # Ibis 12 registers Arrow data as a view it then fails to drop: insert instead
        con.create_table(staged, schema=ibis.Schema.from_pyarrow(obj.schema))
        con.insert(staged, obj)
    else:
        con.create_table(staged, obj)
    execute(con, f'DROP TABLE IF EXISTS "{name}"')
    execute(con, f'ALTER TABLE "{staged}" RENAME TO "{name}"')
    return con.table(name)
