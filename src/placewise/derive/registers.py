"""Condition registers compiled to one query each: who is on a register at each reference date."""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from placewise.derive.people import PID
from placewise.derive.records import (
    Coded,
    RecordQuery,
    latest_daily_value,
    latest_in_windows,
    months_back,
    record_query,
    windows,
)
from placewise.profile.registers import Recent, Register

KEYS = [PID, "period_end"]


def _latest_dates(records: ir.Table, ends: list[date]) -> ir.Table:
    """Each person's latest record date up to each reference date: ``pid, period_end, d``."""
    days = records.select(PID, "d").distinct()
    return latest_in_windows(days, windows(ends, [months_back(e, None) for e in ends])).select(*KEYS, "d")


def recent(records: Coded, r: Recent, ends: list[date]) -> ir.Table:
    """People with a record from the codelists in the ``months`` months to each reference date: ``pid, period_end``."""
    days = records(r.table, r.codelist).select(PID, "d").distinct()
    return latest_in_windows(days, windows(ends, [months_back(e, r.months) for e in ends])).select(*KEYS)


def _diagnosed(records: Coded, reg: Register, ends: list[date]) -> ir.Table:
    """People whose latest diagnosis is not followed by a resolved code (and is after any cut-off)."""
    diag = _latest_dates(records("clinical_events", reg.diagnosis), ends)
    if reg.diagnosed_on_or_after:
        diag = diag.filter(diag.d >= reg.diagnosed_on_or_after)
    if reg.resolved:
        res = _latest_dates(records("clinical_events", reg.resolved), ends).rename(res="d")
        j = diag.left_join(res, KEYS).select(*KEYS, "d", "res")
        diag = j.filter(j.res.isnull() | (j.res <= j.d))     # a same-day resolved code does not remove
    return diag.select(*KEYS)


def record_queries(reg: Register) -> list[RecordQuery]:
    """Every coded-record query the register's rules read (for :class:`placewise.derive.records.Records`)."""
    out = [record_query("clinical_events", names) for names in (reg.diagnosis, reg.resolved) if names]
    if reg.latest:
        out.append(record_query("clinical_events", reg.latest.codelist))
    out += [record_query(r.table, r.codelist) for r in (reg.requires, reg.or_recent) if r]
    return out


def qualifying(records: Coded, reg: Register, ends: list[date]) -> ir.Table:
    """People whose record meets the register's rules at each reference date (``pid, period_end``, once each),
    before its age range and the registered population are applied."""
    parts: list[ir.Table] = []
    if reg.diagnosis:
        parts.append(_diagnosed(records, reg, ends))
    if reg.latest:
        lw = windows(ends, [months_back(e, reg.latest.months) for e in ends])
        v = latest_daily_value(records("clinical_events", reg.latest.codelist), lw)
        parts.append(v.filter(v.v >= reg.latest.at_least).select(*KEYS))
    on = parts[0] if len(parts) == 1 else parts[0].intersect(parts[1])
    if reg.requires:
        on = on.semi_join(recent(records, reg.requires, ends), KEYS)
    if reg.or_recent:
        on = on.union(recent(records, reg.or_recent, ends), distinct=True)
    return on


def members(records: Coded, population: ir.Table, reg: Register, ends: list[date]) -> ir.Table:
    """Rows of the registered population (``pid, period_end, age`` and any attributes) on the register at each date.

    Every population column is kept, so a cohort drawn from a register starts from its members rather
    than from the whole population.
    """
    keep = ibis.literal(True)
    if reg.age.min is not None:
        keep = keep & (population.age >= reg.age.min)
    if reg.age.max is not None:
        keep = keep & (population.age <= reg.age.max)
    return population.filter(keep).semi_join(qualifying(records, reg, ends), KEYS)


def all_members(records: Coded, population: ir.Table, regs: list[Register], ends: list[date]) -> ir.Table:
    """:func:`members` of every register at once (``register_id`` and the population columns).

    The population (a row per person and date) is read once for all the registers rather than once each.
    """
    ons = [qualifying(records, r, ends).mutate(
        register_id=ibis.literal(r.id), _lo=ibis.literal(r.age.min if r.age.min is not None else -1, "int64"),
        _hi=ibis.literal(r.age.max if r.age.max is not None else 1000, "int64")) for r in regs]
    on = ons[0].union(*ons[1:]) if len(ons) > 1 else ons[0]
    j = population.join(on, KEYS)
    return j.filter((j.age >= j._lo) & (j.age <= j._hi)).select("register_id", *population.columns)
