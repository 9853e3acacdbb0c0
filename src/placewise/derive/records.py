"""Coded records and look-back windows: the pieces every criterion over a person's record is built from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from placewise import codelists
from placewise.canonical import PERSON_KEY
from placewise.derive.people import OPEN_END, PID, as_date, month_number

CODE_COLUMN: dict[str, str] = {
    "clinical_events": "snomed_code",
    "medications": "dmd_code",
    "inpatient_spells": "primary_diagnosis",
    "deaths": "underlying_cause",
}
"""The coded column that a codelist is matched against, by table."""
RECORD_DATE: dict[str, str] = {"clinical_events": "event_date", "medications": "issue_date",
                               "inpatient_spells": "admission_date"}
"""The date of a coded record, by table."""
EARLIEST = date(1800, 1, 1)


def add_months(d: date, months: int) -> date:
    """The first day of the month ``months`` after the month of ``d``."""
    n = d.year * 12 + d.month - 1 + months
    return date(n // 12, n % 12 + 1, 1)


def months_back(end: date, months: int | None) -> date:
    """First day of the ``months`` months ending on ``end`` (a month end); the earliest date for none."""
    return EARLIEST if months is None else add_months(end + timedelta(days=1), -months)


def financial_year_start(end: date) -> date:
    """1 April of the NHS financial year that ``end`` falls in."""
    return date(end.year if end.month >= 4 else end.year - 1, 4, 1)


def windows(ends: list[date], lows: list[date]) -> ir.Table:
    """A small table of windows: ``period_end`` and the first day ``lo`` of the window closing on it."""
    return ibis.memtable({"period_end": ends, "lo": lows}).select(
        period_end=ibis._.period_end.cast("date"), lo=ibis._.lo.cast("date"))


def look_backs(ons: list[date], months: int | None) -> ir.Table:
    """The look-back of ``months`` months to each reference date (:func:`months_back`): ``period_end, lo``."""
    return windows(ons, [months_back(on, months) for on in ons])


def codes(names: list[str]) -> list[str]:
    """Every code of the named codelists, once, sorted."""
    return sorted({c for n in names for c in codelists.codes(n)})


def code_table(names: list[str]) -> ir.Table:
    """Every code of the named codelists as a one-column table (``code``), to semi-join against.

    One small table, not thousands of literals in an IN list: building and compiling the query
    costs the same for a list of 5 codes as for one of 5,000.
    """
    return ibis.memtable({"code": codes(names)}, schema={"code": "string"})


def with_codes(t: ir.Table, column: str, names: list[str]) -> ir.Table:
    """Rows of ``t`` whose ``column`` holds a code from any of the named codelists."""
    wanted = code_table(names)
    return t.semi_join(wanted, t[column] == wanted.code)


def coded(con: ibis.BaseBackend, people: ir.Table, table: str, names: list[str]) -> ir.Table:
    """Rows of ``table`` coded from any of the codelists, by person number: ``pid, d`` (and ``value``)."""
    t = with_codes(con.table(table), CODE_COLUMN[table], names)
    t = t.join(people.select(PERSON_KEY, PID), PERSON_KEY)
    cols: dict[str, Any] = {PID: t[PID], "d": t[RECORD_DATE[table]].cast("date")}
    if table == "clinical_events":
        cols["value"] = t.value
    return t.select(**cols)


Coded = Callable[[str, list[str]], ir.Table]
"""Where criteria and registers get coded records: ``(table, codelists)`` → ``pid, d`` (and ``value``)."""
RecordQuery = tuple[str, tuple[str, ...]]
"""A coded-record query: the table and the (sorted) codelists whose codes it matches."""


def record_query(table: str, names: list[str]) -> RecordQuery:
    """The query reading ``table``'s records coded from any of ``names`` (the same for any order of names)."""
    return table, tuple(sorted(set(names)))


def warehouse_records(con: ibis.BaseBackend, people: ir.Table) -> Coded:
    """Coded records read from the warehouse tables on every call (:func:`coded`): for one-off queries."""
    return lambda table, names: coded(con, people, table, names)


RECORDS_SCHEMA = pa.schema([("query", pa.int64()), (PID, pa.int64()), ("d", pa.date32()), ("value", pa.float64())])


def read_records(con: ibis.BaseBackend, people: ir.Table, queries: list[RecordQuery]) -> ir.Table:
    """Every record the queries want, by person number, in one scan of each table: ``query, pid, d, value``.

    ``query`` is the query's index in ``queries``; a record is there once for each query whose codes it
    matches, so a query reads exactly the rows :func:`coded` would. Each table's rows are matched to the codes first
    and the people are joined once, to their union: PostgreSQL, which takes every row for a match (it cannot know
    that 1.05 of 3.99 million medications are coded from the codelists at scale 0.2), joined each table to the
    people before the codes, and cannot move a join below a union. Not sorted: the measure asks the engine to
    store them clustered by query where its filters gain from it (PostgreSQL; on DuckDB the sort cost more than its
    zone maps saved).
    """
    ids = people.select(PERSON_KEY, PID)
    empty = ibis.memtable(RECORDS_SCHEMA.empty_table())
    parts = [empty.select("query", **{PERSON_KEY: ibis.null("string")}, d="d", value="value")]
    for table in sorted({q[0] for q in queries}):
        wanted = [(i, code) for i, q in enumerate(queries) if q[0] == table for code in codes(list(q[1]))]
        m = ibis.memtable({"query": [w[0] for w in wanted], "code": [w[1] for w in wanted]},
                          schema={"query": "int64", "code": "string"})
        t = con.table(table)
        j = t.join(m, t[CODE_COLUMN[table]] == m.code)
        value = j.value if table == "clinical_events" else ibis.null("float64")
        parts.append(j.select(query=j.query, **{PERSON_KEY: j[PERSON_KEY]}, d=j[RECORD_DATE[table]].cast("date"),
                              value=value.cast("float64")))
    coded = ibis.union(*parts).join(ids, PERSON_KEY)
    return coded.select("query", PID, "d", "value")


@dataclass(frozen=True)
class Records:
    """Coded records read once for a whole computation (:func:`read_records`), shared by every query."""

    table: ir.Table
    queries: tuple[RecordQuery, ...]

    def _index(self, table: str, names: list[str]) -> int:
        """The number of the query reading ``table``'s records coded from any of the codelists."""
        q = record_query(table, names)
        if q not in self.queries:
            raise KeyError(f"records of {table} coded from {', '.join(q[1])} were not read for this computation")
        return self.queries.index(q)

    def coded(self, table: str, names: list[str]) -> ir.Table:
        """The records of ``table`` coded from any of the codelists: ``pid, d`` (and ``value``), as :func:`coded`."""
        t = self.table.filter(self.table.query == self._index(table, names))
        return t.select(PID, "d", "value") if table == "clinical_events" else t.select(PID, "d")

    def daily_lowest(self, names: dict[str, list[str]]) -> ir.Table:
        """Each person's lowest clinical value on each day from each named set of codelists, in one pass over the
        records (not one aggregate a set, joined on person and day): ``pid, d`` and a column a name, null where the
        day has no value from that set."""
        index = {n: self._index("clinical_events", lists) for n, lists in names.items()}
        t = self.table.filter(self.table.query.isin(list(index.values())) & self.table.value.notnull())
        return t.group_by([PID, "d"]).aggregate(**{n: t.value.min(where=t.query == i) for n, i in index.items()})

    def of(self, people: ir.Table) -> Records:
        """The same records, only those of ``people`` (a table with :data:`PID`)."""
        return Records(self.table.semi_join(people.select(PID), PID), self.queries)


def expiry(d: ir.DateValue, months: int | None) -> ir.DateValue:
    """The first reference date whose last ``months`` months no longer hold a record of day ``d``.

    The window closing on ``e`` starts on the first day of the month of ``e`` + 1 day, ``months`` months earlier
    (:func:`months_back`), so it holds ``d`` while ``e`` + 1 day is before the first day of the month ``months`` + 1
    months after ``d``'s: for ``months`` 12 and ``d`` 15 March 2025, up to 30 March 2026 (31 March 2026's window
    starts on 1 April 2025).
    """
    if months is None:
        return ibis.literal(OPEN_END, "date")
    return as_date(d.truncate("M") + ibis.interval(months=months + 1) - ibis.interval(days=1))


def standing(days: ir.Table, months: int | None) -> ir.Table:
    """Each row of ``days`` (one per person and day) standing from its day until the person's next day or until
    it falls out of the ``months``-month look-back, whichever is first: ``start, stop`` and its columns.

    At any date a person's latest row in the look-back is the one whose span holds the date: the spans of one
    person never overlap.
    """
    nxt = days.d.lead().over(ibis.window(group_by=days[PID], order_by=days.d)).fill_null(OPEN_END).cast("date")
    days = days.mutate(_next=nxt)
    stop = days._next if months is None else ibis.least(days._next, expiry(days.d, months))
    return days.mutate(start=days.d, stop=stop).drop("_next")


def held(days: ir.Table, months: int | None) -> ir.Table:
    """Spans when a person has one of ``days`` (``pid, d``, any number of rows per person and day) in the last
    ``months`` months: ``pid, start, stop``, each as long as the days keep on holding it, not one per day
    (:func:`standing`).

    A day's span runs on into the next day's where the next comes before it falls out of the look-back; joined up,
    the spans hold the same days in far fewer rows (a monthly repeat prescription: one span, not one a month), so
    every join that meets them (a register's requirement, a criterion checked at each period end) meets fewer.

    Every day of a month falls out of the look-back on the same day (:func:`expiry`), so only a month's first day can
    open a span and only its last can close one: the days are taken a person's month at a time (the first day of
    each), and whether a span opens or closes is a comparison of month numbers (:func:`month_number`), the day it
    ends worked out only where one does. Two passes: one marks the months that open and close a span, the next pairs
    each opening with its closing.
    """
    m = days.group_by([days[PID], month_number(days.d).name("_m")]).aggregate(d=days.d.min())
    w = ibis.window(group_by=m[PID], order_by=m._m)
    before, after = m._m.lag().over(w), m._m.lead().over(w)
    if months is None:
        m = m.mutate(_opens=before.isnull(), _closes=after.isnull())
    else:   # the last day a month's records are in the look-back is before the first day of month _m + months + 1
        m = m.mutate(_opens=before.isnull() | (m._m - before > months),
                     _closes=after.isnull() | (after - m._m > months))
    edges = m.filter(m._opens | m._closes)
    edges = edges.mutate(_gone=expiry(edges.d, months))
    stop = ibis.ifelse(edges._closes, edges._gone, edges._gone.lead().over(ibis.window(group_by=edges[PID],
                                                                                       order_by=edges._m)))
    edges = edges.mutate(stop=stop.cast("date"))
    opened = edges.filter(edges._opens)
    return opened.select(PID, start=opened.d, stop=opened.stop)


def counted(records: ir.Table, months: int, at_least: int) -> ir.Table:
    """Spans when a person has at least ``at_least`` records in the last ``months`` months: ``pid, start, stop``.

    Each record counts one from its day and stops counting on the day it falls out of the look-back
    (:func:`expiry`); a person's running total between two such days stands until the next. Spans of one
    person never overlap. At least one record: the days held (:func:`held`), without a running total (a third of the
    work).
    """
    r = records.filter(records.d.notnull())
    if at_least == 1:
        return held(r.select(PID, "d"), months)
    steps = r.select(PID, d=r.d, n=ibis.literal(1, "int64")).union(
        r.select(PID, d=expiry(r.d, months), n=ibis.literal(-1, "int64")))
    change = steps.group_by([PID, "d"]).aggregate(n=steps.n.sum())
    change = change.mutate(
        total=change.n.sum().over(ibis.cumulative_window(group_by=change[PID], order_by=change.d)),
        stop=change.d.lead().over(ibis.window(group_by=change[PID], order_by=change.d)).fill_null(OPEN_END))
    reached = change.filter(change.total >= at_least)
    return reached.select(PID, start=reached.d, stop=reached.stop.cast("date"))


def at_dates(t: ir.Table, spans: ir.Table) -> ir.Table:
    """Rows of ``t`` (``pid, period_end``, …) inside the span of their person holding their ``period_end``, with the
    spans' other columns."""
    s = spans.rename(s_pid=PID)
    on = [t[PID] == s.s_pid, s.start <= t.period_end, t.period_end < s.stop]
    return t.join(s, on).drop("s_pid", "start", "stop")


def in_windows(records: ir.Table, win: ir.Table) -> ir.Table:
    """Records joined to every window they fall in: adds ``period_end``."""
    return records.join(win, [records.d >= win.lo, records.d <= win.period_end]).drop("lo")


def latest_in_windows(days: ir.Table, win: ir.Table) -> ir.Table:
    """Each person's latest row in each window: ``pid, period_end`` and the row's columns.

    ``days`` has at most one row per person and day (``pid, d``, …). Each row stands from its day until the
    person's next, so it meets only the window ends in that span, not every end after it: the rows joined are
    one per person and window, however many records came before.
    """
    nxt = days.d.lead().over(ibis.window(group_by=days[PID], order_by=days.d))
    spans = days.mutate(_next=nxt.fill_null(OPEN_END).cast("date"))
    j = spans.join(win, [spans.d <= win.period_end, spans._next > win.period_end, spans.d >= win.lo])
    return j.drop("_next", "lo")


def latest_daily_value(records: ir.Table, win: ir.Table) -> ir.Table:
    """Each person's latest value in each window: ``pid, period_end, d, v``.

    Several values on the latest day: the lowest counts, as the QOF business rules take it.
    """
    r = records.filter(records.value.notnull())
    daily = r.group_by([PID, "d"]).aggregate(v=r.value.min())
    return latest_in_windows(daily, win).select(PID, "period_end", "d", "v")
