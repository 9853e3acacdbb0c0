"""Population segmentation and the person-level PHM table, rebuilt after each load.

Everyone registered and alive at the reference date gets one row: practice, Place, groups, the
registers they are on, eFI, Cambridge score, hospital activity in the last 12 months and the one
segment they fall in (the first in the profile's priority order whose rule holds). The long table
``phm_items`` keeps each register, deficit and condition with its latest date, for worklists. Both
can be made at several reference dates in one pass (a row per person and date), as the risk model's
training does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir

from placewise.canonical import PERSON_KEY
from placewise.derive import frailty, multimorbidity
from placewise.derive.criteria import holding
from placewise.derive.people import PID, person_attributes, population, registrations
from placewise.derive.records import in_windows, look_backs, months_back, warehouse_records
from placewise.derive.registers import members
from placewise.profile import Profile
from placewise.profile.phm import Activity, Phm, Segment, load_phm
from placewise.profile.registers import load_registers
from placewise.warehouse.derived import replace_table, scratch

PEOPLE_TABLE = "phm_people"
ITEMS_TABLE = "phm_items"
ACTIVITY_MONTHS = 12
ACTIVITY_COLUMNS = ["emergency_admissions", "bed_days", "ae_attendances", "gp_appointments", "distinct_medicines"]
"""Each person's activity in the 12 months to the date, in ``phm_people``: zero without records."""
AT = [PID, "period_end"]
"""A person at a reference date: what the steps of a computation at several dates join on."""


def _activity_events(con: ibis.BaseBackend, people: ir.Table, kind: str) -> ir.Table:
    """Hospital events of one kind by person: ``pid, d`` (and ``bed_days`` for admissions)."""
    if kind == "ae_attendance":
        a = con.table("ae_attendances")
        a = a.join(people.select(PERSON_KEY, PID), PERSON_KEY)
        return a.select(PID, d=a.arrival.cast("date"), bed_days=ibis.literal(0, "int64"))
    s = con.table("inpatient_spells")
    s = s.filter(s.admission_method == kind.removesuffix("_admission"))
    s = s.join(people.select(PERSON_KEY, PID), PERSON_KEY)
    return s.select(PID, d=s.admission_date.cast("date"), end=s.discharge_date.cast("date"))


def _windows(events: ir.Table, ons: list[date], months: int) -> ir.Table:
    """Events in the ``months`` months to each of ``ons``: adds ``period_end``."""
    events = events.filter((events.d >= months_back(min(ons), months)) & (events.d <= max(ons)))
    return in_windows(events, look_backs(ons, months))


def _outer(a: ir.Table, b: ir.Table, **zeroed: Any) -> ir.Table:
    """Two tables by person and date joined in full: the person, the date and ``zeroed``, each column zero where its
    side has no row."""
    j = a.outer_join(b, AT)
    return j.select(pid=ibis.coalesce(a[PID], b[PID]), period_end=ibis.coalesce(a.period_end, b.period_end),
                    **{k: ibis.coalesce(v, 0) for k, v in zeroed.items()})


def activity(con: ibis.BaseBackend, people: ir.Table, ons: list[date]) -> ir.Table:
    """Each person's hospital activity in the 12 months to each of ``ons``: emergency admissions, bed days,
    A&E attendances, by ``pid, period_end``.

    Bed days are counted for every admission (any method) in the window, to discharge or to the date
    for a spell still open; a same-day spell has none.
    """
    s = con.table("inpatient_spells").join(people.select(PERSON_KEY, PID), PERSON_KEY)
    s = s.select(PID, d=s.admission_date.cast("date"), discharged=s.discharge_date.cast("date"),
                 emergency=(s.admission_method == "emergency"))
    s = _windows(s, ons, ACTIVITY_MONTHS)
    days = ibis.coalesce(s.discharged, s.period_end).delta(s.d, unit="day")
    adm = s.group_by(AT).aggregate(emergency_admissions=s.emergency.sum().cast("int64"),
                                   bed_days=days.sum().cast("int64"))
    ae = _windows(_activity_events(con, people, "ae_attendance"), ons, ACTIVITY_MONTHS)
    ae = ae.group_by(AT).aggregate(ae_attendances=ae.count().cast("int64"))
    return _outer(adm, ae, emergency_admissions=adm.emergency_admissions, bed_days=adm.bed_days,
                  ae_attendances=ae.ae_attendances)


def primary_care_activity(con: ibis.BaseBackend, people: ir.Table, ons: list[date]) -> ir.Table:
    """Each person's GP appointments and distinct dm+d products issued in the 12 months to each of ``ons``:
    ``pid, period_end, gp_appointments, distinct_medicines`` (people with neither are absent)."""
    ids = people.select(PERSON_KEY, PID)
    a = con.table("gp_appointments")
    a = a.select(PERSON_KEY, d=a.appointment_date.cast("date"))
    a = _windows(a.join(ids, PERSON_KEY), ons, ACTIVITY_MONTHS)
    a = a.group_by(AT).aggregate(gp_appointments=a.count().cast("int64"))
    m = con.table("medications")
    m = m.select(PERSON_KEY, "dmd_code", d=m.issue_date.cast("date"))
    m = _windows(m.join(ids, PERSON_KEY), ons, ACTIVITY_MONTHS)
    m = m.group_by(AT).aggregate(distinct_medicines=m.dmd_code.nunique().cast("int64"))
    return _outer(a, m, gp_appointments=a.gp_appointments, distinct_medicines=m.distinct_medicines)


def _activity_rule(con: ibis.BaseBackend, people: ir.Table, a: Activity, ons: list[date]) -> ir.Table:
    """People with at least ``at_least`` events of the kind in the window to each date: ``pid, period_end``."""
    e = _windows(_activity_events(con, people, a.kind), ons, a.months)
    g = e.group_by(AT).aggregate(n=e.count())
    return g.filter(g.n >= a.at_least).select(*AT)


def _segment_members(con: ibis.BaseBackend, people: ir.Table, s: Segment, base: ir.Table, items: ir.Table,
                     ons: list[date]) -> list[ir.Table]:
    """Tables of ``pid, period_end`` for each rule of a segment; a person is in it at a date if in any."""
    parts: list[ir.Table] = []
    if s.ages is not None:
        keep = ibis.literal(True)
        if s.ages.min is not None:
            keep = keep & (base.age >= s.ages.min)
        if s.ages.max is not None:
            keep = keep & (base.age <= s.ages.max)
        parts.append(base.filter(keep).select(*AT))
    if s.registers:
        parts.append(items.filter((items.kind == "register") & items.item.isin(s.registers)).select(*AT))
    if s.registers_at_least is not None:
        parts.append(base.filter(base.registers >= s.registers_at_least).select(*AT))
    if s.efi_bands:
        parts.append(base.filter(base.efi_band.isin(s.efi_bands)).select(*AT))
    if s.cms_at_least is not None:
        parts.append(base.filter(base.cms >= s.cms_at_least).select(*AT))
    if s.any:
        parts.append(holding(con, people, [(f"{s.id}#{i}", c) for i, c in enumerate(s.any)], ons).select(*AT))
    parts += [_activity_rule(con, people, a, ons) for a in s.activity]
    return parts


def segment(con: ibis.BaseBackend, people: ir.Table, phm: Phm, base: ir.Table, items: ir.Table,
            ons: list[date]) -> ir.Table:
    """Each person's segment at each date: ``pid, period_end, segment, segment_rank`` (rank in priority order,
    1 first)."""
    segs = phm.segmentation.segments
    ranked = [p.select(*AT, rank=ibis.literal(i + 1, "int64"))
              for i, s in enumerate(segs[:-1]) for p in _segment_members(con, people, s, base, items, ons)]
    u = ranked[0].union(*ranked[1:])
    first = u.group_by(AT).aggregate(rank=u["rank"].min())
    j = base.select(*AT).left_join(first, AT)
    rank = ibis.coalesce(j["rank"], len(segs))
    names = ibis.cases(*[(rank == i + 1, s.id) for i, s in enumerate(segs)], else_=segs[-1].id)
    return j.select(*AT, segment=names, segment_rank=rank.cast("int64"))


def _attach(base: ir.Table, t: ir.Table) -> ir.Table:
    """``base`` with the columns of ``t`` (by person and date) beside it; null where ``t`` has no row."""
    return base.left_join(t, AT).drop(*[f"{k}_right" for k in AT])


@contextmanager
def phm_tables(con: ibis.BaseBackend, profile: Profile, ons: list[date]) -> Iterator[tuple[ir.Table, ir.Table]]:
    """The person-level PHM table and its long items table at each of ``ons`` (see module docstring), each row with
    its ``reference_date``, to be read within the block.

    Each step is a temporary table, dropped when the block ends: person numbers are fixed once, so every part agrees
    on them, and each query stays small (Ibis compiles small graphs far faster than one large one). Every source
    table is read once for all the dates.
    """
    phm = load_phm(profile)
    regs = load_registers(profile)
    with scratch(con) as temp:
        attrs = temp("_phm", person_attributes(con))
        pop = population(registrations(con, attrs), attrs, ons)
        pop = temp("_phm", pop.join(con.table("practices").select("practice_code", "la_code"), "practice_code"))
        reg_items = [members(warehouse_records(con, attrs), pop, r).select(
            *AT, kind=ibis.literal("register"), item=ibis.literal(r.id), d=ibis.null("date"))
                     for r in (regs.registers if regs else [])]
        deficits = temp("_phm", frailty.deficits(con, attrs, phm.frailty, ons))
        conds = temp("_phm", multimorbidity.conditions(con, attrs, phm.multimorbidity, ons))
        items = ibis.union(*reg_items, deficits.select(*AT, kind=ibis.literal("deficit"), item="item", d="d"),
                           conds.select(*AT, kind=ibis.literal("condition"), item="item", d="d"))
        items = temp("_phm", items.semi_join(pop.select(*AT), AT))
        nreg = items.filter(items.kind == "register").group_by(AT).aggregate(registers=ibis._.count())
        efi = frailty.frailty_index(deficits, pop, phm.frailty)
        cms = multimorbidity.score(conds, pop, phm.multimorbidity)
        act = temp("_phm", activity(con, attrs, ons))
        primary = temp("_phm", primary_care_activity(con, attrs, ons))
        base = pop.select(*AT, "practice_code", "la_code", "imd_quintile", "ethnic_group", "sex", "age")
        base = base.left_join(nreg, AT).select(*base.columns,
                                               registers=ibis.coalesce(nreg.registers, 0).cast("int64"))
        for t in (efi, cms, act, primary):
            base = _attach(base, t)
        base = temp("_phm", base.mutate(**{c: ibis.coalesce(base[c], 0) for c in ACTIVITY_COLUMNS}))
        seg = segment(con, attrs, phm, base, items, ons)
        out = base.join(seg, AT).join(attrs.select(PID, PERSON_KEY), PID)
        out = out.select(*[c for c in out.columns if c != "period_end"], reference_date=out.period_end)
        yield out, items.select(PID, "kind", "item", "d", reference_date=items.period_end)


def build(con: ibis.BaseBackend, profile: Profile, on: date) -> ir.Table:
    """Materialise ``phm_people`` and ``phm_items`` in the warehouse at ``on``; returns the people table."""
    with phm_tables(con, profile, [on]) as (people, items):
        replace_table(con, ITEMS_TABLE, items)
        return replace_table(con, PEOPLE_TABLE, people)


def pyramid(people: ir.Table, phm: Phm) -> ir.Table:
    """The volume-against-complexity pyramid: people, activity and bed days per segment, most complex first."""
    g = people.group_by(["segment", "segment_rank"]).aggregate(
        people=people.count(), emergency_admissions=people.emergency_admissions.sum(),
        bed_days=people.bed_days.sum(), ae_attendances=people.ae_attendances.sum())
    cx = ibis.memtable({"segment": [s.id for s in phm.segmentation.segments],
                        "title": [s.title for s in phm.segmentation.segments],
                        "complexity": [s.complexity for s in phm.segmentation.segments]})
    return g.join(cx, "segment").order_by("complexity")


def latest_month_end(con: ibis.BaseBackend) -> date:
    """The last month end the primary-care data covers in full: the reference date a rebuild defaults to."""
    last = con.table("clinical_events").event_date.max().to_pyarrow().as_py()
    if last is None:
        raise ValueError("the warehouse has no clinical events: load data before building PHM tables")
    nxt = date(last.year + (last.month == 12), last.month % 12 + 1, 1)
    return last if (nxt - last).days == 1 else date(last.year, last.month, 1) - timedelta(days=1)
