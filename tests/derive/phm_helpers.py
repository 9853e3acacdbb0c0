"""Shared helpers for the PHM spec tests: build the person-level tables for a hand-made warehouse."""

from __future__ import annotations

from datetime import date

import ibis
from measure_builder import Warehouse

from placewise.codelists import codes
from placewise.derive.segments import build
from placewise.profile import load_profile
from placewise.warehouse.engines import engine_for
from placewise.warehouse.engines.duckdb import SCRATCH

ON = date(2024, 3, 31)


def our_temporary_tables(con: ibis.BaseBackend) -> set[str]:
    """The session's temporary tables named as ours (``_`` first; Ibis names its own ``ibis_``): on DuckDB in the
    scratch database or TEMP, on PostgreSQL in the session's temporary schema."""
    if con.name == "duckdb":
        sql = f"SELECT table_name FROM duckdb_tables() WHERE temporary OR database_name = '{SCRATCH}'"
    else:
        sql = "SELECT relname FROM pg_class WHERE relnamespace = pg_my_temp_schema() AND relkind = 'r'"
    return {r[0] for r in engine_for(con).rows(sql) if r[0].startswith("_")}


def code(name: str) -> str:
    """The first code of a codelist."""
    return codes(name)[0]


def built(w: Warehouse, con: ibis.BaseBackend, on: date = ON) -> tuple[dict[str, dict], dict[str, set[tuple[str, str]]]]:
    """Build the PHM tables; return people by person id, and each person's (kind, item) pairs."""
    w.load(con)
    people = build(con, load_profile(), on).to_pyarrow().to_pylist()
    by_pid = {p["pid"]: p["person_id"] for p in people}
    items: dict[str, set[tuple[str, str]]] = {p["person_id"]: set() for p in people}
    for r in con.table("phm_items").to_pyarrow().to_pylist():
        if r["pid"] in by_pid:
            items[by_pid[r["pid"]]].add((r["kind"], r["item"]))
    return {p["person_id"]: p for p in people}, items
