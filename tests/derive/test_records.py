"""Look-backs as spans of days: the same answer at every month end as counting the records in each window."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

import ibis
import ibis.expr.operations as ops
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from placewise.derive.people import PID
from placewise.derive.records import add_months, at_dates, counted, held, months_back, read_records, record_query, standing
from placewise.measure.periods import month_end

FIRST = date(2022, 1, 1)
ENDS = [month_end(date(2022 + m // 12, m % 12 + 1, 1)) for m in range(30)]
"""Every month end from January 2022 to June 2024: the reference dates the spans are asked about."""

records = st.lists(
    st.tuples(st.integers(1, 3), st.integers(0, 900), st.integers(20, 90)),   # person, day after FIRST, value
    max_size=25,
)


def _table(rows: list[tuple[int, int, int]]) -> ibis.Table:
    """The records as a table: ``pid, d, value``."""
    return ibis.memtable(pa.table({PID: [r[0] for r in rows], "d": [FIRST + timedelta(days=r[1]) for r in rows],
                                   "value": [float(r[2]) for r in rows]},
                                  schema=pa.schema([(PID, pa.int64()), ("d", pa.date32()), ("value", pa.float64())])))


def _ends() -> ibis.Table:
    """Every person at every month end."""
    return ibis.memtable({PID: [p for p in (1, 2, 3) for _ in ENDS], "period_end": ENDS * 3},
                         schema={PID: "int64", "period_end": "date"})


def _in_window(rows: list[tuple[int, int, int]], pid: int, end: date, months: int) -> list[tuple[date, int]]:
    """The person's records in the ``months`` months closing on ``end``, by hand from the window's first day."""
    lo = months_back(end, months)
    return [(d, r[2]) for r in rows if r[0] == pid and lo <= (d := FIRST + timedelta(days=r[1])) <= end]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=records, months=st.sampled_from([1, 6, 12]), at_least=st.integers(1, 4))
def test_counted_spans_hold_where_the_window_has_enough_records(rows, months, at_least):
    con = ibis.duckdb.connect()
    spans = counted(_table(rows), months, at_least)
    got = {(r[PID], r["period_end"]) for r in con.to_pyarrow(at_dates(_ends(), spans).select(PID, "period_end"))
           .to_pylist()}
    want = {(p, e) for p in (1, 2, 3) for e in ENDS if len(_in_window(rows, p, e, months)) >= at_least}
    assert got == want


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=records, months=st.sampled_from([1, 6, 12]))
def test_held_spans_hold_each_day_a_record_is_in_the_look_back_one_span_a_run(rows, months):
    days = _table(rows).select(PID, "d")   # a day may come more than once
    spans = sorted((r[PID], r["start"], r["stop"]) for r in ibis.duckdb.connect().to_pyarrow(held(days, months))
                   .to_pylist())
    # A record of day d is in the look-back of every day from d up to the day before the first day of the month
    # months + 1 months after d's (months_back): e.g. 15 March with 12 months, to 30 March a year on.
    want = {(r[0], FIRST + timedelta(days=r[1] + k)) for r in rows
            for k in range((add_months(FIRST + timedelta(days=r[1]), months + 1) - FIRST).days - r[1] - 1)}
    got = {(p, start + timedelta(days=k)) for p, start, stop in spans for k in range((stop - start).days)}
    assert got == want
    # Joined up: a person's next span starts after a day their last one does not hold.
    assert all(a[2] < b[1] for a, b in pairwise(spans) if a[0] == b[0])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=records, months=st.sampled_from([1, 6, 12]))
def test_a_standing_value_is_the_latest_in_the_window_lowest_of_its_day(rows, months):
    con = ibis.duckdb.connect()
    t = _table(rows)
    daily = t.group_by([PID, "d"]).aggregate(v=t.value.min())
    j = at_dates(_ends(), standing(daily, months))
    got = {(r[PID], r["period_end"]): r["v"] for r in con.to_pyarrow(j.select(PID, "period_end", "v")).to_pylist()}
    want = {}
    for p in (1, 2, 3):
        for e in ENDS:
            found = _in_window(rows, p, e, months)
            if found:
                last = max(d for d, _ in found)
                want[(p, e)] = float(min(v for d, v in found if d == last))
    assert got == want


def test_a_record_leaves_the_twelve_month_window_on_the_month_end_before_its_month_a_year_on():
    # 15 March 2023 is in the 12 months closing on 29 February 2024 (from 1 March 2023), not those closing on
    # 31 March 2024 (from 1 April 2023); six records reach the count only while all six are in.
    days = [date(2023, 3, 15), *(date(2023, m, 1) for m in (5, 7, 9, 11)), date(2024, 2, 29)]
    t = ibis.memtable({PID: [1] * 6, "d": days}, schema={PID: "int64", "d": "date"})
    ends = ibis.memtable({PID: [1, 1, 1], "period_end": [date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31)]},
                         schema={PID: "int64", "period_end": "date"})
    got = ibis.duckdb.connect().to_pyarrow(at_dates(ends, counted(t, 12, 6)).select("period_end")).to_pylist()
    assert [r["period_end"] for r in got] == [date(2024, 2, 29)]


def test_the_people_are_joined_once_to_every_table_matched_to_its_codes_first() -> None:
    """:func:`read_records` matches each table's rows to the codes, then joins the people once to their union: the
    codes first, whatever a planner estimates (PostgreSQL took every medication for a match and joined all 3.99 million
    to the people, where 1.05 million match at scale 0.2), as no engine moves a join below a union."""
    con = ibis.duckdb.connect()
    con.raw_sql("CREATE TABLE medications (person_id VARCHAR, dmd_code VARCHAR, issue_date DATE)")
    con.raw_sql("CREATE TABLE clinical_events (person_id VARCHAR, snomed_code VARCHAR, event_date DATE, value DOUBLE)")
    con.raw_sql("CREATE TABLE people (person_id VARCHAR, pid BIGINT)")
    people = con.table("people").op()
    queries = [record_query("medications", ["analgesics"]), record_query("clinical_events", ["alcohol_consumption"])]
    chains = read_records(con, con.table("people"), queries).op().find(ops.JoinChain)
    to_people = [c for c in chains if any(people in link.table.find(ops.DatabaseTable) for link in c.rest)]
    assert len(to_people) == 1
    assert to_people[0].first.find(ops.Union)
    assert {t.name for t in to_people[0].first.find(ops.DatabaseTable)} == {"medications", "clinical_events"}
    assert all(people not in c.find(ops.DatabaseTable) for c in chains if c is not to_people[0])
