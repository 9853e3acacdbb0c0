"""Warehouse tables: the canonical tables from ``canonical.py`` plus the ingest's own bookkeeping."""

from __future__ import annotations

from ibis.backends import BaseBackend

from placewise.canonical import SQL_TYPES, TABLES, Column, Table

LOAD_LOG = Table(
    "load_log",
    "One row per loaded batch",
    (
        Column("batch_id", "string", "Batch identifier (UTC time and checksum prefix)"),
        Column("loaded_at", "timestamp", "When the batch was committed (UTC)"),
        Column("source", "string", "Folder the files were read from"),
        Column("files", "int", "Files loaded in the batch"),
        Column("rows_read", "int", "Data rows read"),
        Column("rows_loaded", "int", "Rows written to canonical tables"),
        Column("rows_replaced", "int", "Existing rows replaced because their key arrived again"),
        Column("rows_quarantined", "int", "Rows refused and written to the quarantine"),
    ),
    key=("batch_id",),
)

LOAD_FILES = Table(
    "load_files",
    "One row per file of each loaded batch, with its checksum",
    (
        Column("batch_id", "string", "Batch identifier"),
        Column("file_name", "string", "File name as delivered"),
        Column("table_name", "string", "Canonical table the file fed"),
        Column("sha256", "string", "SHA-256 of the file's bytes"),
        Column("rows_read", "int", "Data rows read"),
        Column("rows_loaded", "int", "Rows written"),
        Column("rows_replaced", "int", "Existing rows replaced"),
        Column("rows_quarantined", "int", "Rows quarantined"),
    ),
    key=("batch_id", "file_name"),
)

QUARANTINE = Table(
    "quarantine",
    "Rows refused by validation: one line per problem; NHS numbers are masked, never stored raw",
    (
        Column("batch_id", "string", "Batch identifier"),
        Column("file_name", "string", "File name as delivered"),
        Column("table_name", "string", "Canonical table"),
        Column("row_number", "int", "1-based data row in the file (the CSV header row is not counted)"),
        Column("field", "string", "Column at fault"),
        Column("reason", "string", "What is wrong"),
        Column("value", "string", "Offending value (NHS numbers masked)", required=False),
    ),
    key=("batch_id", "file_name", "row_number", "field", "reason"),
)

PSEUDONYMISATION = Table(
    "pseudonymisation",
    "The fingerprint of the key the warehouse's pseudonyms were made with (never the key itself)",
    (
        Column("key_fingerprint", "string", "HMAC-SHA256 of a fixed label under the key, hex"),
        Column("recorded_at", "timestamp", "When the key was first used or rotated to (UTC)"),
    ),
    key=("key_fingerprint",),
)

BOOKKEEPING: tuple[Table, ...] = (LOAD_LOG, LOAD_FILES, QUARANTINE, PSEUDONYMISATION)


def create_table_sql(t: Table) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for a table in warehouse form (person key, not NHS number)."""
    cols = ", ".join(f'"{c.name}" {SQL_TYPES[c.dtype]}' for c in t.warehouse_columns())
    return f'CREATE TABLE IF NOT EXISTS "{t.name}" ({cols})'


def ensure_tables(con: BaseBackend) -> None:
    """Create every canonical and bookkeeping table that does not exist yet (one transaction)."""
    statements = [create_table_sql(t) for t in (*TABLES, *BOOKKEEPING)]
    raw = con.con
    if con.name == "postgres":
        with raw.transaction():
            for s in statements:
                raw.execute(s)
    else:
        raw.execute("BEGIN TRANSACTION")
        for s in statements:
            raw.execute(s)
        raw.execute("COMMIT")
