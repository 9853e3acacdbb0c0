"""Event tables attributed once: each event by person number, with the person's groups (their number) and the practice
of its day.

A computation reads each big event table (admissions, A&E, appointments, referrals) once, joins it to the
people by the 64-character pseudonym once and attributes every event to its registration once; every
indicator that counts those events then filters and groups that one table (:class:`EventTables`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import ibis
import ibis.expr.types as ir

from placewise.canonical import PERSON_KEY
from placewise.derive.people import GROUPS, age_in_month, attribute

EventSource = tuple[str, str]
"""An event table and the date column that places its events in periods, e.g. ``("inpatient_spells",
"discharge_date")``: the same table placed by another date is another source."""
ATTRIBUTES = ("pid", GROUPS, "birth_year", "birth_month")
"""The person attributes every attributed event carries: the breakdown groups as their one number, labelled only
once the events are summed."""
EVENTS = "events"
"""The column of a counted source's table (:attr:`EventRead.ages`): how many events the row stands for."""


@dataclass(frozen=True)
class EventRead:
    """What a computation reads of one source: the columns its definitions use and the days they cover."""

    columns: tuple[str, ...]
    first: date
    last: date
    ages: tuple[int, ...] | None = None
    """Where every count of the source counts each event as one and nothing else of it: the ages at which such a
    count can change (reporting age bands, counts' age limits). The events are then counted (:func:`counted`), not
    kept one by one."""


def attributed(rows: ir.Table, attrs: ir.Table, intervals: ir.Table, days: tuple[date, date] | None = None
               ) -> ir.Table:
    """Rows with the pseudonym and a day ``d``, by person number: the person's attributes and the practice of ``d``.

    Rows of people not in the warehouse's people are dropped; a day with no registration has no practice. ``days``
    (first, last), where given, holds every ``d``: only the registrations meeting them are joined (:func:`attribute`).
    """
    j = rows.join(attrs.select(PERSON_KEY, *ATTRIBUTES), PERSON_KEY)
    return attribute(j.drop(PERSON_KEY), intervals, days=days)


def source_rows(con: ibis.BaseBackend, source: EventSource, read: EventRead) -> ir.Table:
    """One source's rows from ``read.first`` to ``read.last`` as stored: the pseudonym, ``read.columns`` and ``d``
    (the placing date)."""
    table, day = source
    t = con.table(table)
    d = t[day].cast("date")
    t = t.filter((d >= read.first) & (d <= read.last))
    return t.select(PERSON_KEY, *read.columns, d=d)


def read_events(con: ibis.BaseBackend, attrs: ir.Table, intervals: ir.Table, source: EventSource,
                read: EventRead) -> ir.Table:
    """One source's events from ``read.first`` to ``read.last``, attributed (:func:`attributed`), with the columns
    read: ``d`` (the placing date), the person attributes, ``practice_code`` and ``read.columns``; counted where
    ``read.ages`` is given (:func:`counted`)."""
    events = attributed(source_rows(con, source, read), attrs, intervals, (read.first, read.last))
    if read.ages is None:
        return events
    return counted(events, read.columns, read.ages, (read.first, read.last))


def calendar(first: date, last: date) -> ir.Table:
    """Every day from ``first`` to ``last`` (``_day``) with its month's first day (``_month``) and its month number
    (``_m``, year x 12 + month): a few hundred rows a year."""
    days = [first + timedelta(days=k) for k in range((last - first).days + 1)]
    return ibis.memtable({"_day": days, "_month": [date(x.year, x.month, 1) for x in days],
                          "_m": [x.year * 12 + x.month for x in days]},
                         schema={"_day": "date", "_month": "date", "_m": "int64"})


def counted(events: ir.Table, columns: tuple[str, ...], ages: tuple[int, ...], days: tuple[date, date]
            ) -> ir.Table:
    """Attributed events counted (:data:`EVENTS`) by month (``d``, its first day), practice, groups, the age in the
    month floored to the nearest of ``ages`` below it (kept as it is below them all) and ``columns``: the rows a
    count that treats such events alike sums, about a tenth of the events (GP appointments), each summed once.

    ``days`` (first, last) holds every event's day. Each day's month and month number are looked up in a small
    :func:`calendar` (an equi-join every engine hashes) rather than worked out from the date for every event: on
    PostgreSQL each date part is a conversion of its own, five of them an event; the age in the month is then
    integer arithmetic (:func:`placewise.derive.people.age_in_month`).
    """
    cal = calendar(*days)
    e = events.join(cal, events.d == cal._day)
    age = age_in_month(e._m, e.birth_year, e.birth_month)
    floored = ibis.cases(*[(age >= a, a) for a in sorted(ages, reverse=True)], else_=age)
    keys = {"d": e._month, "practice_code": e.practice_code, GROUPS: e[GROUPS], "age": floored.cast("int64"),
            **{c: e[c] for c in columns}}
    return e.group_by(**keys).aggregate(**{EVENTS: e.count()})


@dataclass(frozen=True)
class EventTables:
    """Attributed event tables read once for a whole computation (:func:`read_events`), by source."""

    tables: dict[EventSource, ir.Table]

    def of(self, source: EventSource) -> ir.Table:
        """The attributed events of a source; a source not read for this computation fails at once."""
        if source not in self.tables:
            raise KeyError(f"events of {source[0]} placed by {source[1]} were not read for this computation")
        return self.tables[source]
