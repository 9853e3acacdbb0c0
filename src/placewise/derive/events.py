"""Event tables attributed once: each event by person number, with the person's groups (their number) and the practice
of its day.

A computation reads each big event table (admissions, A&E, appointments, referrals) once, joins it to the
people by the 64-character pseudonym once and attributes every event to its registration once; every
indicator that counts those events then filters and groups that one table (:class:`EventTables`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import ibis
import ibis.expr.types as ir

from placewise.canonical import PERSON_KEY
from placewise.derive.people import GROUPS, attribute

EventSource = tuple[str, str]
"""An event table and the date column that places its events in periods, e.g. ``("inpatient_spells",
"discharge_date")``: the same table placed by another date is another source."""
ATTRIBUTES = ("pid", GROUPS, "birth_year", "birth_month")
"""The person attributes every attributed event carries: the breakdown groups as their one number, labelled only
once the events are summed."""


@dataclass(frozen=True)
class EventRead:
    """What a computation reads of one source: the columns its definitions use and the days they cover."""

    columns: tuple[str, ...]
    first: date
    last: date


def attributed(rows: ir.Table, attrs: ir.Table, intervals: ir.Table) -> ir.Table:
    """Rows with the pseudonym and a day ``d``, by person number: the person's attributes and the practice of ``d``.

    Rows of people not in the warehouse's people are dropped; a day with no registration has no practice.
    """
    j = rows.join(attrs.select(PERSON_KEY, *ATTRIBUTES), PERSON_KEY)
    return attribute(j.drop(PERSON_KEY), intervals)


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
    read: ``d`` (the placing date), the person attributes, ``practice_code`` and ``read.columns``."""
    return attributed(source_rows(con, source, read), attrs, intervals)


@dataclass(frozen=True)
class EventTables:
    """Attributed event tables read once for a whole computation (:func:`read_events`), by source."""

    tables: dict[EventSource, ir.Table]

    def of(self, source: EventSource) -> ir.Table:
        """The attributed events of a source; a source not read for this computation fails at once."""
        if source not in self.tables:
            raise KeyError(f"events of {source[0]} placed by {source[1]} were not read for this computation")
        return self.tables[source]
