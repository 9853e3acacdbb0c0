"""Audit trails: a changed, removed or rewritten row is caught, the newest rows included, on a DuckDB file."""

from __future__ import annotations

from pathlib import Path

import ibis
import pytest

from placewise.warehouse.audit import GENESIS, AuditTampered, Trail, append, row_hash, verify

TRAIL = Trail("test_audit", ibis.schema({"at": "timestamp", "who": "string", "rows": "int64", "seq": "int64",
                                         "row_hash": "string"}))


@pytest.fixture
def db(tmp_path: Path) -> ibis.BaseBackend:
    """A DuckDB file holding a trail of three rows."""
    con = ibis.duckdb.connect(str(tmp_path / "store.duckdb"))
    for who, n in (("ann", 1), ("bob", 2), ("cat", 3)):
        append(con, TRAIL, {"who": who, "rows": n})
    return con


def test_appended_rows_chain_and_verify(db, tmp_path):
    assert verify(db, TRAIL) == 3
    rows = db.table(TRAIL.table).order_by("seq").to_pyarrow().to_pylist()
    assert [r["seq"] for r in rows] == [1, 2, 3]
    assert rows[0]["row_hash"] == row_hash(TRAIL, rows[0], GENESIS)
    assert rows[2]["row_hash"] == row_hash(TRAIL, rows[2], rows[1]["row_hash"])
    anchor = (tmp_path / "store.audit-anchor").read_text().splitlines()
    assert anchor == [f"test_audit\t{r['seq']}\t{r['row_hash']}" for r in rows]


def test_a_changed_row_breaks_the_chain(db):
    db.raw_sql(f"UPDATE {TRAIL.table} SET who = 'eve' WHERE seq = 2")
    with pytest.raises(AuditTampered, match=r"row 2 .* does not match the hash chain"):
        verify(db, TRAIL)


@pytest.mark.parametrize("removed", [[3], [2, 3]])
def test_removing_the_newest_rows_is_caught(db, removed):
    db.raw_sql(f"DELETE FROM {TRAIL.table} WHERE seq IN ({', '.join(map(str, removed))})")
    with pytest.raises(AuditTampered, match=f"sequence 3 is gone \\(the table ends at {3 - len(removed)}\\)"):
        verify(db, TRAIL)


def test_a_rewritten_chain_is_caught_by_its_anchored_heads(db):
    """Rows re-hashed from the start form a valid chain, but not the one whose heads were anchored."""
    db.raw_sql(f"UPDATE {TRAIL.table} SET who = 'eve' WHERE seq = 1")
    rows = db.table(TRAIL.table).order_by("seq").to_pyarrow().to_pylist()
    previous = GENESIS
    for r in rows:
        r["row_hash"] = previous = row_hash(TRAIL, r, previous)
        db.raw_sql(f"UPDATE {TRAIL.table} SET row_hash = '{r['row_hash']}' WHERE seq = {r['seq']}")
    with pytest.raises(AuditTampered, match=r"row \d differs from the head anchored"):
        verify(db, TRAIL)


def test_a_removed_anchor_file_is_caught(db, tmp_path):
    (tmp_path / "store.audit-anchor").unlink()
    with pytest.raises(AuditTampered, match="no anchored head"):
        verify(db, TRAIL)


def test_a_trail_in_memory_has_no_anchor_and_still_chains():
    con = ibis.duckdb.connect()
    append(con, TRAIL, {"who": "ann", "rows": 1})
    append(con, TRAIL, {"who": "bob", "rows": 0})
    assert verify(con, TRAIL) == 2
