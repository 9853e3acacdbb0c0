"""The report's assembly closes the warehouse it opens, however it ends, so the same process can open the file
again as it likes."""

from __future__ import annotations

import duckdb
import pytest

from placewise.publish.assembly import build_models


def test_a_refused_report_leaves_its_warehouse_closed(tmp_path):
    """A warehouse without measurements is refused, and the file then opens read-only in the same process while
    the error (and its traceback, which holds the assembly's frame) is still held: DuckDB refuses a second
    configuration of a file while a connection to it is open."""
    db = tmp_path / "wh.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE people (person_id VARCHAR)")
    with pytest.raises(FileNotFoundError, match="no measurements yet") as refused:
        build_models(warehouse=str(db))
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM people").fetchone() == (0,)
    assert refused.traceback
