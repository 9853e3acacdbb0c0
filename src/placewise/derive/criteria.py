"""Criteria over a person's coded record, compiled together: one scan of each table for all of them.

A criterion (:class:`placewise.profile.phm.Criterion`) holds at a reference date if the person has
enough records from its codelists in its window, or a latest value below a threshold, and none of
its ``unless`` criteria holds. :func:`holding` answers for many keyed criteria at once, and at several
reference dates at once, so the eFI's 36 deficits and the Cambridge score's conditions cost one pass over
events and one over medicines however many dates are asked.
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from placewise.canonical import PERSON_KEY
from placewise.derive.people import PID
from placewise.derive.records import (
    CODE_COLUMN,
    RECORD_DATE,
    codes,
    in_windows,
    look_backs,
    months_back,
    with_codes,
)
from placewise.profile.phm import Criterion

HIT_COLUMNS = [PID, "period_end", "key", "d", "n", "v"]
"""A criterion that holds for a person at a reference date: its key, latest record date, record count and value
(value rules)."""


def _flatten(keyed: list[tuple[str, Criterion]]) -> list[tuple[str, Criterion]]:
    """The criteria and, under derived keys, every ``unless`` criterion beneath them."""
    out: list[tuple[str, Criterion]] = []
    for key, c in keyed:
        out.append((key, c))
        out.extend(_flatten([(f"{key}~unless{i}", u) for i, u in enumerate(c.unless)]))
    return out


def _count_hits(con: ibis.BaseBackend, people: ir.Table, table: str, keyed: list[tuple[str, Criterion]],
                ons: list[date]) -> ir.Table:
    """Count criteria on one table: people with at least ``at_least`` records in each window, at each date."""
    rows = [(key, code, on, months_back(on, c.months), c.at_least)
            for key, c in keyed for code in codes(c.codelist) for on in ons]
    spec = ibis.memtable({"key": [r[0] for r in rows], "code": [r[1] for r in rows], "period_end": [r[2] for r in rows],
                          "lo": [r[3] for r in rows], "at_least": [r[4] for r in rows]},
                         schema={"key": "string", "code": "string", "period_end": "date", "lo": "date",
                                 "at_least": "int64"})
    t = con.table(table)
    t = t.filter(t[CODE_COLUMN[table]].isin(sorted({r[1] for r in rows})))
    t = t.select(PERSON_KEY, code=t[CODE_COLUMN[table]], d=t[RECORD_DATE[table]].cast("date"))
    t = t.filter(t.d <= max(ons)).join(people.select(PERSON_KEY, PID), PERSON_KEY)
    j = t.join(spec, "code")
    j = j.filter((j.d >= j.lo) & (j.d <= j.period_end))
    g = j.group_by([PID, "period_end", "key"]).aggregate(d=j.d.max(), n=j.count(), at_least=j.at_least.max())
    g = g.filter(g.n >= g.at_least)
    return g.select(PID, "period_end", "key", "d", n=g.n.cast("int64"), v=ibis.null("float64"))


def _value_hit(con: ibis.BaseBackend, people: ir.Table, key: str, c: Criterion, ons: list[date]) -> ir.Table:
    """A value criterion: the highest of the last ``of_last`` daily values (each the lowest of its day) is below."""
    t = con.table("clinical_events")
    t = with_codes(t, "snomed_code", c.codelist)
    t = t.filter(t.value.notnull())
    t = t.select(PERSON_KEY, d=t.event_date.cast("date"), value=t.value)
    t = t.filter((t.d <= max(ons)) & (t.d >= min(months_back(on, c.months) for on in ons)))
    t = t.join(people.select(PERSON_KEY, PID), PERSON_KEY)
    daily = in_windows(t.group_by([PID, "d"]).aggregate(v=t.value.min()), look_backs(ons, c.months))
    daily = daily.mutate(_r=ibis.row_number().over(ibis.window(group_by=[daily[PID], daily.period_end],
                                                               order_by=daily.d.desc())))
    last = daily.filter(daily._r < c.of_last)
    worst = last.group_by([PID, "period_end"]).aggregate(d=last.d.max(), v=last.v.max())
    worst = worst.filter(worst.v < c.value_below)
    return worst.select(PID, "period_end", key=ibis.literal(key), d=worst.d, n=ibis.literal(1, "int64"),
                        v=worst.v.cast("float64"))


def holding(con: ibis.BaseBackend, people: ir.Table, keyed: list[tuple[str, Criterion]], ons: list[date]) -> ir.Table:
    """Every (person, date, key) whose criterion holds at each of ``ons``: ``pid, period_end, key, d, n, v`` (see
    :data:`HIT_COLUMNS`)."""
    flat = _flatten(keyed)
    parts = []
    for table in ("clinical_events", "medications"):
        counted = [(k, c) for k, c in flat if c.table == table and c.value_below is None]
        if counted:
            parts.append(_count_hits(con, people, table, counted, ons))
    parts += [_value_hit(con, people, k, c, ons) for k, c in flat if c.value_below is not None]
    hits = parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]
    blockers = [(key, f"{key}~unless{i}") for key, c in flat for i in range(len(c.unless))]
    if not blockers:
        return hits
    mine = hits.filter(~hits.key.contains("~"))
    pairs = ibis.memtable({"key": [b[0] for b in blockers], "blocker": [b[1] for b in blockers]})
    blocked = hits.join(pairs, hits.key == pairs.blocker).select(PID, "period_end", key=pairs.key)
    return mine.anti_join(blocked, [PID, "period_end", "key"])
