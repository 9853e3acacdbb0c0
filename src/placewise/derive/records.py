"""Coded records and look-back windows: the pieces every criterion over a person's record is built from."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir

from placewise import codelists
from placewise.canonical import PERSON_KEY
from placewise.derive.people import PID

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


def in_windows(records: ir.Table, win: ir.Table) -> ir.Table:
    """Records joined to every window they fall in: adds ``period_end``."""
    return records.join(win, [records.d >= win.lo, records.d <= win.period_end]).drop("lo")


def latest_daily_value(records: ir.Table, win: ir.Table) -> ir.Table:
    """Each person's latest value in each window: ``pid, period_end, d, v``.

    Several values on the latest day: the lowest counts, as the QOF business rules take it.
    """
    r = records.filter(records.value.notnull())
    daily = r.group_by([PID, "d"]).aggregate(v=r.value.min())
    j = in_windows(daily, win)
    return j.group_by([PID, "period_end"]).aggregate(v=j.v.argmax(j.d), d=j.d.max())
