"""PostgreSQL's own tuning for the measure workload: what the planner is told, and the session's memory."""

from __future__ import annotations

from datetime import date, timedelta

import ibis
import pyarrow as pa
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


def test_results_read_by_copy_keep_every_value(postgres_url: str) -> None:
    """A result read through COPY as CSV gives back what the rows hold: NULL apart from the empty string, text
    that looks like a missing value kept as text, NaN and infinities as floats, booleans, dates, newlines."""
    con = connect(postgres_url)
    try:
        con.con.execute("CREATE TABLE awkward (n bigint, x double precision, s text, b boolean, d date)")
        con.con.execute("""INSERT INTO awkward VALUES
            (1, 'NaN', 'NA', true, '2024-02-29'), (2, 'Infinity', '', false, NULL), (3, '-Infinity', NULL, NULL, NULL),
            (4, 0.1, 'NaN', true, '2020-01-01'), (5, NULL, 'two' || chr(10) || 'lines, "quoted"', false, NULL),
            (9007199254740993, 1e-300, 'NULL', true, '1900-01-01')""")
        got = con.table("awkward").order_by("n").to_pyarrow().to_pylist()
        x = [r.pop("x") for r in got]
        assert x[0] != x[0] and x[1:4] == [float("inf"), float("-inf"), 0.1] and x[4] is None and x[5] == 1e-300
        assert [r["s"] for r in got] == ["NA", "", None, "NaN", 'two\nlines, "quoted"', "NULL"]
        assert [r["b"] for r in got] == [True, False, None, True, False, True]
        assert [r["n"] for r in got] == [1, 2, 3, 4, 5, 9007199254740993]
        assert [str(r["d"]) for r in got] == ["2024-02-29", "None", "None", "2020-01-01", "None", "1900-01-01"]
    finally:
        con.disconnect()


def test_a_one_column_null_result_is_a_row(postgres_url: str) -> None:
    """The latest date of an empty table is one row holding NULL (COPY writes it as an empty line), not no rows."""
    con = connect(postgres_url)
    try:
        con.con.execute("CREATE TABLE nothing (d date)")
        assert con.table("nothing").d.max().to_pyarrow().as_py() is None
        assert con.table("nothing").select("d").union(ibis.memtable({"d": [None, date(2024, 1, 1), None]},
                                                                    schema={"d": "date"})).to_pyarrow().num_rows == 3
    finally:
        con.disconnect()


def test_a_date_truncated_to_its_month_stays_a_date_and_joins_by_hash(postgres_url: str) -> None:
    """Events joined to their period's months by the month's first day: a date on both sides, so PostgreSQL
    can hash the join (a timestamp with time zone against a date allows only a merge join, sorting every event)."""
    con = connect(postgres_url)
    try:
        con.con.execute("CREATE TABLE ev AS SELECT DATE '2024-01-01' + (i % 700) AS d FROM generate_series(1, 20000) i")
        con.con.execute("CREATE TABLE months AS SELECT make_date(2024, k, 1) AS m FROM generate_series(1, 12) k")
        con.con.execute("ANALYZE ev; ANALYZE months")
        ev, months = con.table("ev"), con.table("months")
        ev = ev.mutate(month=ev.d.truncate("M"))
        joined = ev.join(months, ev.month == months.m)
        plan = "\n".join(r[0] for r in con.con.execute(f"EXPLAIN {con.compile(joined)}").fetchall())
        assert "Hash Join" in plan and "Merge Join" not in plan, plan
        got = joined.group_by("m").aggregate(n=joined.count()).order_by("m").to_pyarrow()
        assert got.schema.field("m").type == pa.date32()
        days = [date(2024, 1, 1) + timedelta(days=i % 700) for i in range(1, 20001)]
        assert got["n"].to_pylist() == [sum(1 for d in days if (d.year, d.month) == (2024, k)) for k in range(1, 13)]
    finally:
        con.disconnect()


def test_a_dates_parts_are_integers_with_no_time_zone(postgres_url: str) -> None:
    """A date's year, month and day, its month's first day and an age in whole years from them: the values Python
    gives, across leap days, year ends and far dates, computed on integers and timestamps without time zone (the
    plan has no NUMERIC extract and no timestamp with time zone, each several times dearer per row)."""
    rows = [(date(2024, 2, 29), 1990, 3), (date(2023, 12, 31), 2000, 12), (date(2024, 1, 1), 1923, 1),
            (date(1900, 3, 1), 1850, 4), (date(2099, 11, 30), 2099, 11), (date(1969, 12, 31), 1970, 1)]
    con = connect(postgres_url)
    try:
        con.con.execute("CREATE TABLE born (d date, by bigint, bm bigint)")
        with con.con.cursor() as cur:
            cur.executemany("INSERT INTO born VALUES (%s, %s, %s)", rows)
        t = con.table("born")
        age = ((t.d.year() * 12 + t.d.month() - t.by * 12 - t.bm) // 12).cast("int64")
        expr = t.select("d", y=t.d.year(), m=t.d.month(), dd=t.d.day(), first=t.d.truncate("M"), age=age)
        plan = "\n".join(r[0] for r in con.con.execute(f"EXPLAIN VERBOSE {con.compile(expr)}").fetchall())
        assert "EXTRACT" not in plan.upper() and "with time zone" not in plan, plan
        got = {r["d"]: r for r in expr.to_pyarrow().to_pylist()}
        for d, by, bm in rows:
            assert (got[d]["y"], got[d]["m"], got[d]["dd"]) == (d.year, d.month, d.day)
            assert got[d]["first"] == d.replace(day=1)
            assert got[d]["age"] == (d.year * 12 + d.month - by * 12 - bm) // 12
    finally:
        con.disconnect()


def test_the_measure_joins_by_hash_not_merge(postgres_url: str) -> None:
    """Under the measure's settings a join that PostgreSQL would otherwise merge is hashed, with the same rows: a merge
    on one key testing the other as a filter threw away 64-80 million rows per join in one measure statement."""
    con = connect(postgres_url)
    engine = PostgresEngine(con)
    try:
        con.con.execute("CREATE TABLE a AS SELECT i AS k, i % 7 AS x FROM generate_series(1, 50000) i")
        con.con.execute("CREATE TABLE b AS SELECT i AS k, i % 5 AS y FROM generate_series(1, 50000) i")
        con.con.execute("CREATE INDEX ON a (k); CREATE INDEX ON b (k); ANALYZE a; ANALYZE b")
        sql = "SELECT a.k, x, y FROM a JOIN b ON a.k = b.k ORDER BY a.k"
        before = "\n".join(r[0] for r in con.con.execute(f"EXPLAIN {sql}").fetchall())
        assert "Merge Join" in before, before   # the planner's own choice for this shape
        with engine.settings(engine.analytic):
            plan = "\n".join(r[0] for r in con.con.execute(f"EXPLAIN {sql}").fetchall())
            got = con.con.execute(sql).fetchall()
        assert "Merge Join" not in plan and "Hash Join" in plan, plan
        assert got == [(i, i % 7, i % 5) for i in range(1, 50001)]
    finally:
        con.disconnect()


def test_a_value_banded_by_lower_bounds_is_worked_out_once(postgres_url: str) -> None:
    """A case banding one integer by descending lower bounds (an age band) is sent as one ``width_bucket`` of the value,
    with the CASE's answer at every bound, between bounds, below the lowest, for NULL, and with a default or none, the
    default a constant or an expression (an age floored to the bounds, kept as it is below them, as events are counted);
    other cases stay a CASE."""
    con = connect(postgres_url)
    try:
        ages = [-1, 0, 17, 18, 44, 45, 64, 65, 74, 75, 84, 85, 120, None]
        t = ibis.memtable({"n": list(range(len(ages))), "age": ages}, schema={"n": "int64", "age": "int64"})
        bands = ibis.cases(*[(t.age >= lo, i) for i, lo in reversed(list(enumerate([0, 18, 45, 65, 75, 85])))],
                           else_=ibis.null("int64"))
        points = ibis.cases((t.age >= 75, "two"), (t.age >= 65, "one"), else_="none")
        unsorted = ibis.cases((t.age >= 18, 1), (t.age >= 65, 2), else_=0)   # not descending: the first match wins
        floored = ibis.cases(*[(t.age >= lo, lo) for lo in (65, 45, 18)], else_=t.age)
        expr = t.select("n", band=bands, points=points, unsorted=unsorted, floored=floored).order_by("n")
        sql = con.compile(expr)
        assert sql.count("WIDTH_BUCKET") == 3 and sql.count("CASE") == 1, sql
        got = expr.to_pyarrow().to_pydict()
        assert got["band"] == [None, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, None]
        assert got["points"] == ["none"] * 7 + ["one", "one", "two", "two", "two", "two", "none"]
        assert got["unsorted"] == [0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]
        assert got["floored"] == [-1, 0, 17, 18, 18, 45, 45, 65, 65, 65, 65, 65, 65, None]
    finally:
        con.disconnect()


def test_a_working_table_clustered_by_a_column_reads_one_value_by_its_index(postgres_url: str) -> None:
    """A temporary table made clustered by a column is written in its order with a BRIN index on it (as DuckDB's zone
    maps), so a filter on one value reads that value's pages, not the whole table, with the same rows; a table made
    without it has no index."""
    con = connect(postgres_url)
    engine = PostgresEngine(con)
    try:
        n = 200_000
        rows = ibis.memtable({"query": [i % 40 for i in range(n)], "pid": list(range(n))})
        clustered = engine.temp_table("_clustered", rows, clustered_by="query")
        engine.temp_table("_unclustered", rows)
        indexes = dict(con.con.execute("SELECT tablename, indexdef FROM pg_indexes WHERE tablename LIKE %s",
                                       ("\\_%clustered",)).fetchall())
        assert list(indexes) == ["_clustered"] and "USING brin (query)" in indexes["_clustered"], indexes
        one = clustered.filter(clustered.query == 7)
        with engine.settings(engine.analytic):
            plan = "\n".join(r[0] for r in con.con.execute(f"EXPLAIN {con.compile(one)}").fetchall())
            got = sorted(one.pid.to_pyarrow().to_pylist())
        assert "Bitmap Index Scan" in plan and "Seq Scan" not in plan, plan
        assert got == list(range(7, n, 40))
    finally:
        con.disconnect()
