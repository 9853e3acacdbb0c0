"""Condition registers compiled to one query each: who is on a register at each reference date.

A register is computed once per person as spans of days on it (``pid, start, stop``: on from ``start`` up to
the day before ``stop``), from the days their coded records change their state; the spans are then joined to
the registered population at each reference date. Each person's spans never overlap, so a person is on a
register at a date through one span at most.
"""

from __future__ import annotations

from collections.abc import Callable

import ibis
import ibis.expr.types as ir

from placewise.derive.people import PID
from placewise.derive.records import (
    EARLIEST,
    Coded,
    RecordQuery,
    at_dates,
    held,
    record_query,
    standing,
)
from placewise.profile.registers import Latest, Recent, Register

SPAN = [PID, "start", "stop"]
NARROW = [PID, "period_end", "practice_code", "age"]
"""A register member's row in :func:`all_members`: the population's columns without the person's groups."""


def recent(records: Coded, r: Recent) -> ir.Table:
    """Spans when a person has a record from the codelists in the last ``months`` months: ``pid, start, stop``."""
    days = records(r.table, r.codelist).select(PID, "d")
    return held(days.filter(days.d >= EARLIEST), r.months)


def _diagnosed(records: Coded, reg: Register) -> ir.Table:
    """Spans when the latest diagnosis is not followed by a resolved code (and is on or after any cut-off).

    A resolved code on the same day as the latest diagnosis does not remove.
    """
    diag = records("clinical_events", reg.diagnosis).select(PID, "d", _diag=ibis.literal(1))
    if reg.resolved:
        res = records("clinical_events", reg.resolved).select(PID, "d", _diag=ibis.literal(0))
        diag = diag.union(res)
    days = diag.filter(diag.d >= EARLIEST).group_by([PID, "d"]).aggregate(
        _diag=diag._diag.max(), _res=(1 - diag._diag).max())
    upto = ibis.cumulative_window(group_by=days[PID], order_by=days.d)
    days = days.mutate(_last_diag=ibis.ifelse(days._diag == 1, days.d, ibis.null("date")).max().over(upto),
                       _last_res=ibis.ifelse(days._res == 1, days.d, ibis.null("date")).max().over(upto))
    s = standing(days, None)
    on = s._last_diag.notnull() & (s._last_res.isnull() | (s._last_res <= s._last_diag))
    if reg.diagnosed_on_or_after:
        on = on & (s._last_diag >= reg.diagnosed_on_or_after)
    return s.filter(on).select(*SPAN)


def _latest_at_least(records: Coded, latest: Latest) -> ir.Table:
    """Spans when the latest value in the look-back (lowest of its day) is at least the threshold."""
    r = records("clinical_events", latest.codelist)
    r = r.filter(r.value.notnull() & (r.d >= EARLIEST))
    daily = r.group_by([PID, "d"]).aggregate(v=r.value.min())
    s = standing(daily, latest.months)
    return s.filter(s.v >= latest.at_least).select(*SPAN)


def _both(a: ir.Table, b: ir.Table) -> ir.Table:
    """Spans when a person is in a span of ``a`` and one of ``b``."""
    b = b.rename(b_pid=PID, b_start="start", b_stop="stop")
    j = a.join(b, [a[PID] == b.b_pid, a.start < b.b_stop, b.b_start < a.stop])
    return j.select(PID, start=ibis.greatest(j.start, j.b_start), stop=ibis.least(j.stop, j.b_stop))


def _either(a: ir.Table, b: ir.Table) -> ir.Table:
    """Spans when a person is in a span of ``a`` or one of ``b``: overlapping or touching spans merged into one."""
    u = a.union(b)
    upto = ibis.cumulative_window(group_by=PID, order_by=["start", "stop"])
    u = u.mutate(_reach=u.stop.max().over(upto))
    u = u.mutate(_before=u._reach.lag().over(ibis.window(group_by=PID, order_by=["start", "stop"])))
    u = u.mutate(_new=ibis.ifelse(u._before.isnull() | (u.start > u._before), 1, 0))
    u = u.mutate(_island=u._new.sum().over(upto))
    return u.group_by([PID, "_island"]).aggregate(start=u.start.min(), stop=u.stop.max()).select(*SPAN)


def record_queries(reg: Register) -> list[RecordQuery]:
    """Every coded-record query the register's rules read (for :class:`placewise.derive.records.Records`)."""
    out = [record_query("clinical_events", names) for names in (reg.diagnosis, reg.resolved) if names]
    if reg.latest:
        out.append(record_query("clinical_events", reg.latest.codelist))
    out += [record_query(r.table, r.codelist) for r in (reg.requires, reg.or_recent) if r]
    return out


def spans(records: Coded, reg: Register) -> ir.Table:
    """When each person's record meets the register's rules: ``pid, start, stop``, never overlapping, before its age
    range and the registered population are applied."""
    parts: list[ir.Table] = []
    if reg.diagnosis:
        parts.append(_diagnosed(records, reg))
    if reg.latest:
        parts.append(_latest_at_least(records, reg.latest))
    on = parts[0] if len(parts) == 1 else _both(parts[0], parts[1])
    if reg.requires:
        on = _both(on, recent(records, reg.requires))
    if reg.or_recent:
        on = _either(on, recent(records, reg.or_recent))
    return on


def members(records: Coded, population: ir.Table, reg: Register) -> ir.Table:
    """Rows of the registered population (``pid, period_end, age`` and any attributes) on the register at each date.

    Every population column is kept, so a cohort drawn from a register starts from its members rather
    than from the whole population.
    """
    keep = ibis.literal(True)
    if reg.age.min is not None:
        keep = keep & (population.age >= reg.age.min)
    if reg.age.max is not None:
        keep = keep & (population.age <= reg.age.max)
    return at_dates(population.filter(keep), spans(records, reg)).select(*population.columns)


def all_members(records: Coded, within: Callable[[ir.Table], ir.Table], regs: list[Register]) -> ir.Table:
    """:func:`members` of every register at once, narrow: ``register`` (the register's place in ``regs``), ``pid,
    period_end, practice_code, age``.

    ``within`` gives the population rows inside spans (:func:`placewise.derive.people.population_in`): the registers'
    spans meet the registration intervals, so no row per person and date of the whole population is read. The
    person's breakdown groups are left out (most of the cost of writing the rows, as text); join them back by person
    number where a cohort needs them (:func:`placewise.derive.people.with_groups`).
    """
    ons = [spans(records, r).mutate(
        register=ibis.literal(i, "int16"), _lo=ibis.literal(r.age.min if r.age.min is not None else -1, "int64"),
        _hi=ibis.literal(r.age.max if r.age.max is not None else 1000, "int64")) for i, r in enumerate(regs)]
    j = within(ons[0].union(*ons[1:]) if len(ons) > 1 else ons[0])
    return j.filter((j.age >= j._lo) & (j.age <= j._hi)).select("register", *NARROW)
