"""PostgreSQL's own tuning for the measure workload: what the planner is told, and the session's memory."""

from __future__ import annotations

import ibis
import pytest

from placewise.warehouse import connect
from placewise.warehouse.engines.postgres import PostgresEngine

pytestmark = pytest.mark.postgres


def test_in_memory_tables_are_analysed(postgres_url: str) -> None:
    """A small table Ibis sends (codes, windows, period ends) has statistics, so the planner knows its size."""
    con = connect(postgres_url)
    try:
        t = ibis.memtable({"period_end": list(range(24))})
        assert con.execute(t.count()) == 24
        rows = con.con.execute("SELECT reltuples FROM pg_class WHERE relname = %s", (t.op().name,)).fetchone()
        assert rows[0] == 24  # never analysed, reltuples is -1 and the planner guesses from the page count
    finally:
        con.disconnect()


def test_session_opens_with_room_for_temporary_tables(postgres_url: str) -> None:
    """temp_buffers is set when the session opens, the only time PostgreSQL allows it."""
    con = connect(postgres_url)
    try:
        assert con.con.execute("SHOW temp_buffers").fetchone()[0] == PostgresEngine.TEMP_BUFFERS
    finally:
        con.disconnect()
