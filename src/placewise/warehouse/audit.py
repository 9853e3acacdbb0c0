"""Append-only audit trails: hash-chained rows, with the chain's head anchored outside a database that cannot guard it.

Each row carries its sequence number and a SHA-256 hash of its fields chained to the row before, so a row
changed, removed from the middle or reordered breaks the chain. Removing the newest rows (or rewriting the
whole chain) leaves a valid but shorter chain; to catch that, every append also writes the new head (table,
sequence number, hash) as one line to an anchor file beside a DuckDB database (:meth:`Engine.anchor_file`),
and :func:`verify` checks every anchored head is still in the table. PostgreSQL refuses UPDATE, DELETE and
TRUNCATE on the table itself (triggers made with it), so it needs no anchor. The anchor is a plain file
opened only to append: an operator who can also truncate the file could still hide the newest rows, so on a
real deployment it belongs on write-once storage (``chattr +a``, or a folder other roles cannot write).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa

from placewise.warehouse.connection import table_names
from placewise.warehouse.engines import engine_for

GENESIS = "0" * 64


class AuditTampered(PermissionError):
    """An audit trail has been changed (its hash chain is broken or its anchored head is gone)."""


@dataclass(frozen=True)
class Trail:
    """One audit table: its name and columns, the last two being ``seq`` and ``row_hash``."""

    table: str
    schema: ibis.Schema

    @property
    def chained(self) -> list[str]:
        """The fields each row's hash covers (every column but the hash), with the hash of the row before."""
        return [c for c in self.schema.names if c != "row_hash"]


def row_hash(trail: Trail, row: dict[str, Any], previous: str) -> str:
    """The SHA-256 of a row's audited fields and the hash of the row before it."""
    text = "\x1f".join(str(row[k]) for k in trail.chained) + "\x1f" + previous
    return hashlib.sha256(text.encode()).hexdigest()


def _anchors(con: ibis.BaseBackend, trail: Trail) -> tuple[Path | None, list[tuple[int, str]]]:
    """The anchor file and the (sequence, hash) heads it holds for this trail."""
    path = engine_for(con).anchor_file()
    if path is None or not path.is_file():
        return path, []
    heads = []
    for line in path.read_text(encoding="utf-8").splitlines():
        table, seq, h = line.split("\t")
        if table == trail.table:
            heads.append((int(seq), h))
    return path, heads


def verify(con: ibis.BaseBackend, trail: Trail) -> int:
    """The number of rows in the trail once its chain and anchored heads are checked; :class:`AuditTampered` if not."""
    path, heads = _anchors(con, trail)
    rows = con.table(trail.table).order_by("seq").to_pyarrow().to_pylist() if trail.table in table_names(con) else []
    previous = GENESIS
    for i, row in enumerate(rows, start=1):
        if row["seq"] != i or row["row_hash"] != row_hash(trail, row, previous):
            raise AuditTampered(f"{trail.table}: row {i} (sequence {row['seq']}, {row['at']}, {row['who']}) does not "
                                "match the hash chain: the audit has been changed")
        previous = row["row_hash"]
    if path is not None and rows and not heads:
        raise AuditTampered(f"{trail.table}: {len(rows)} rows but no anchored head in {path}: the anchor file has "
                            "been removed or the rows were written around it")
    for seq, h in sorted(heads, reverse=True):
        if seq > len(rows):
            raise AuditTampered(f"{trail.table}: the head anchored at sequence {seq} is gone (the table ends at "
                                f"{len(rows)}): the newest rows have been removed")
        if rows[seq - 1]["row_hash"] != h:
            raise AuditTampered(f"{trail.table}: row {seq} differs from the head anchored in {path}: the chain has "
                                "been rewritten")
    return len(rows)


def append(con: ibis.BaseBackend, trail: Trail, fields: dict[str, Any]) -> None:
    """Append one row (``fields`` without ``at``, ``seq`` and ``row_hash``), chained to the last, and anchor it."""
    if trail.table not in table_names(con):
        con.create_table(trail.table, schema=trail.schema)
        engine_for(con).append_only(trail.table, "seq")
    last = con.table(trail.table).order_by(ibis.desc("seq")).limit(1).to_pyarrow().to_pylist()
    at = pa.array([datetime.now(UTC).replace(tzinfo=None)], pa.timestamp("us")).to_pylist()[0]  # hashed as stored
    row: dict[str, Any] = {"at": at, **fields, "seq": last[0]["seq"] + 1 if last else 1}
    row["row_hash"] = row_hash(trail, row, last[0]["row_hash"] if last else GENESIS)
    con.insert(trail.table, pa.table({k: [row[k]] for k in trail.schema.names}, schema=trail.schema.to_pyarrow()))
    path = engine_for(con).anchor_file()
    if path is not None:
        with path.open("a", encoding="utf-8") as f:
            f.write(f"{trail.table}\t{row['seq']}\t{row['row_hash']}\n")
