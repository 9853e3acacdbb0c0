"""Population segmentation and the person-level PHM table, rebuilt after each load.

Everyone registered and alive at the reference date gets one row: practice, Place, groups, the
registers they are on, eFI, Cambridge score, hospital activity in the last 12 months and the one
segment they fall in (the first in the profile's priority order whose rule holds). The long table
``phm_items`` keeps each register, deficit and condition with its latest date, for worklists.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import ibis
import ibis.expr.types as ir

from placewise.canonical import PERSON_KEY
from placewise.derive import frailty, multimorbidity
from placewise.derive.criteria import holding
from placewise.derive.people import PID, person_attributes, population, registrations
from placewise.derive.records import months_back, warehouse_records
from placewise.derive.registers import members
from placewise.profile import Profile
from placewise.profile.phm import Activity, Phm, Segment, load_phm
from placewise.profile.registers import load_registers
from placewise.warehouse.derived import replace_table

PEOPLE_TABLE = "phm_people"
ITEMS_TABLE = "phm_items"
ACTIVITY_MONTHS = 12
ACTIVITY_COLUMNS = ["emergency_admissions", "bed_days", "ae_attendances", "gp_appointments", "distinct_medicines"]
"""Each person's activity in the 12 months to the date, in ``phm_people``: zero without records."""


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


def _window(events: ir.Table, on: date, months: int) -> ir.Table:
    """Events in the ``months`` months to ``on``."""
    return events.filter((events.d <= on) & (events.d >= months_back(on, months)))


def activity(con: ibis.BaseBackend, people: ir.Table, on: date) -> ir.Table:
    """Each person's hospital activity in the 12 months to ``on``: emergency admissions, bed days, A&E attendances.

    Bed days are counted for every admission (any method) in the window, to discharge or to ``on``
    for a spell still open; a same-day spell has none.
    """
    s = con.table("inpatient_spells").join(people.select(PERSON_KEY, PID), PERSON_KEY)
    s = s.select(PID, d=s.admission_date.cast("date"), end=ibis.coalesce(s.discharge_date.cast("date"), on),
                 emergency=(s.admission_method == "emergency"))
    s = _window(s, on, ACTIVITY_MONTHS)
    days = s.end.delta(s.d, unit="day")
    adm = s.group_by(PID).aggregate(emergency_admissions=s.emergency.sum().cast("int64"),
                                    bed_days=days.sum().cast("int64"))
    ae = _window(_activity_events(con, people, "ae_attendance"), on, ACTIVITY_MONTHS)
    ae = ae.group_by(PID).aggregate(ae_attendances=ae.count().cast("int64"))
    return adm.outer_join(ae, PID).select(
        pid=ibis.coalesce(adm[PID], ae[PID]), emergency_admissions=ibis.coalesce(adm.emergency_admissions, 0),
        bed_days=ibis.coalesce(adm.bed_days, 0), ae_attendances=ibis.coalesce(ae.ae_attendances, 0))


def primary_care_activity(con: ibis.BaseBackend, people: ir.Table, on: date) -> ir.Table:
    """Each person's GP appointments and distinct dm+d products issued in the 12 months to ``on``:
    ``pid, gp_appointments, distinct_medicines`` (people with neither are absent)."""
    ids = people.select(PERSON_KEY, PID)
    a = con.table("gp_appointments")
    a = a.select(PERSON_KEY, d=a.appointment_date.cast("date"))
    a = _window(a, on, ACTIVITY_MONTHS).join(ids, PERSON_KEY)
    a = a.group_by(PID).aggregate(gp_appointments=a.count().cast("int64"))
    m = con.table("medications")
    m = m.select(PERSON_KEY, "dmd_code", d=m.issue_date.cast("date"))
    m = _window(m, on, ACTIVITY_MONTHS).join(ids, PERSON_KEY)
    m = m.group_by(PID).aggregate(distinct_medicines=m.dmd_code.nunique().cast("int64"))
    return a.outer_join(m, PID).select(
        pid=ibis.coalesce(a[PID], m[PID]), gp_appointments=ibis.coalesce(a.gp_appointments, 0),
        distinct_medicines=ibis.coalesce(m.distinct_medicines, 0))


def _activity_rule(con: ibis.BaseBackend, people: ir.Table, a: Activity, on: date) -> ir.Table:
    """People with at least ``at_least`` events of the kind in the window: ``pid``."""
    e = _window(_activity_events(con, people, a.kind), on, a.months)
    g = e.group_by(PID).aggregate(n=e.count())
    return g.filter(g.n >= a.at_least).select(PID)


def _segment_members(con: ibis.BaseBackend, people: ir.Table, s: Segment, base: ir.Table, items: ir.Table,
                     on: date) -> list[ir.Table]:
    """Tables of ``pid`` for each rule of a segment; a person is in it if in any."""
    parts: list[ir.Table] = []
    if s.ages is not None:
        keep = ibis.literal(True)
        if s.ages.min is not None:
            keep = keep & (base.age >= s.ages.min)
        if s.ages.max is not None:
            keep = keep & (base.age <= s.ages.max)
        parts.append(base.filter(keep).select(PID))
    if s.registers:
        parts.append(items.filter((items.kind == "register") & items.item.isin(s.registers)).select(PID))
    if s.registers_at_least is not None:
        parts.append(base.filter(base.registers >= s.registers_at_least).select(PID))
    if s.efi_bands:
        parts.append(base.filter(base.efi_band.isin(s.efi_bands)).select(PID))
    if s.cms_at_least is not None:
        parts.append(base.filter(base.cms >= s.cms_at_least).select(PID))
    if s.any:
        parts.append(holding(con, people, [(f"{s.id}#{i}", c) for i, c in enumerate(s.any)], on).select(PID))
    parts += [_activity_rule(con, people, a, on) for a in s.activity]
    return parts


def segment(con: ibis.BaseBackend, people: ir.Table, phm: Phm, base: ir.Table, items: ir.Table,
            on: date) -> ir.Table:
    """Each person's segment: ``pid, segment, segment_rank`` (rank in priority order, 1 first)."""
    segs = phm.segmentation.segments
    ranked = [p.select(PID, rank=ibis.literal(i + 1, "int64"))
              for i, s in enumerate(segs[:-1]) for p in _segment_members(con, people, s, base, items, on)]
    u = ranked[0].union(*ranked[1:])
    first = u.group_by(PID).aggregate(rank=u["rank"].min())
    j = base.select(PID).left_join(first, PID)
    rank = ibis.coalesce(j["rank"], len(segs))
    names = ibis.cases(*[(rank == i + 1, s.id) for i, s in enumerate(segs)], else_=segs[-1].id)
    return j.select(PID, segment=names, segment_rank=rank.cast("int64"))


def _temp(con: ibis.BaseBackend, expr: ir.Table) -> ir.Table:
    """Materialise a step as a temporary table: Ibis compiles small graphs far faster than one large one."""
    return con.create_table(f"_phm_{uuid.uuid4().hex[:12]}", expr, temp=True)


def phm_tables(con: ibis.BaseBackend, profile: Profile, on: date) -> tuple[ir.Table, ir.Table]:
    """The person-level PHM table and its long items table at ``on`` (see module docstring).

    Each step is a temporary table: person numbers are fixed once, so every part agrees on them,
    and each query stays small.
    """
    phm = load_phm(profile)
    regs = load_registers(profile)
    attrs = _temp(con, person_attributes(con))
    pop = population(registrations(con, attrs), attrs, [on])
    pop = _temp(con, pop.join(con.table("practices").select("practice_code", "la_code"), "practice_code"))
    reg_items = [members(warehouse_records(con, attrs), pop, r).select(PID, kind=ibis.literal("register"), item=ibis.literal(r.id),
                                                          d=ibis.null("date"))
                 for r in (regs.registers if regs else [])]
    deficits = _temp(con, frailty.deficits(con, attrs, phm.frailty, on))
    conds = _temp(con, multimorbidity.conditions(con, attrs, phm.multimorbidity, on))
    items = ibis.union(*reg_items, deficits.select(PID, kind=ibis.literal("deficit"), item="item", d="d"),
                       conds.select(PID, kind=ibis.literal("condition"), item="item", d="d"))
    items = _temp(con, items.semi_join(pop.select(PID), PID))
    nreg = items.filter(items.kind == "register").group_by(PID).aggregate(registers=ibis._.count())
    efi = frailty.frailty_index(deficits, pop, phm.frailty)
    cms = multimorbidity.score(conds, pop, phm.multimorbidity)
    act = _temp(con, activity(con, attrs, on))
    primary = _temp(con, primary_care_activity(con, attrs, on))
    base = pop.select(PID, "practice_code", "la_code", "imd_quintile", "ethnic_group", "sex", "age")
    base = base.left_join(nreg, PID).select(*base.columns, registers=ibis.coalesce(nreg.registers, 0).cast("int64"))
    base = base.left_join(efi, PID).drop(f"{PID}_right")
    base = base.left_join(cms, PID).drop(f"{PID}_right")
    base = base.left_join(act, PID).drop(f"{PID}_right")
    base = base.left_join(primary, PID).drop(f"{PID}_right")
    base = _temp(con, base.mutate(**{c: ibis.coalesce(base[c], 0) for c in ACTIVITY_COLUMNS}))
    seg = segment(con, attrs, phm, base, items, on)
    out = base.join(seg, PID).join(attrs.select(PID, PERSON_KEY), PID)
    return out.mutate(reference_date=ibis.literal(on, "date")), items


def build(con: ibis.BaseBackend, profile: Profile, on: date) -> ir.Table:
    """Materialise ``phm_people`` and ``phm_items`` in the warehouse at ``on``; returns the people table."""
    people, items = phm_tables(con, profile, on)
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
