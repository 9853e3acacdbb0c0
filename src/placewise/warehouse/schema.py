"""Warehouse tables: the canonical tables from ``canonical.py`` plus the ingest's own bookkeeping."""

from __future__ import annotations

from placewise.canonical import Column, Table

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
