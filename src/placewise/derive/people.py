"""Who a person is and where they were registered, at any date: the attributes every definition shares.

Everything here is an Ibis expression over the warehouse, so it compiles once and runs on every
engine. People are numbered (:data:`PID`) within one computation, which is far cheaper to join on
than the 64-character pseudonym.
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from placewise.canonical import ETHNIC_CATEGORIES, PERSON_KEY

PID = "pid"
"""A person's number within one computation."""
ESP_TOP_BAND = 90
"""The 2013 European Standard Population's five-year age bands end with 90 and over."""
OPEN_END = date(9999, 12, 31)
"""The end an open registration sorts as: an open registration ends later than any closed one."""


def age_at(d: ir.DateValue, birth_year: ir.IntegerValue, birth_month: ir.IntegerValue) -> ir.IntegerValue:
    """Age in whole years at ``d``, taking the birthday as the first of the birth month."""
    return ((d.year() * 12 + d.month() - birth_year * 12 - birth_month) // 12).cast("int64")


def standard_band(age: ir.IntegerValue) -> ir.IntegerValue:
    """Lower bound of the person's 2013 ESP five-year age band (0, 5, …, 90)."""
    return ibis.least((age // 5) * 5, ESP_TOP_BAND).cast("int64")


def person_attributes(con: ibis.BaseBackend) -> ir.Table:
    """Every person's number (:data:`PID`) and attributes: sex, ONS ethnic group, IMD quintile, birth, death."""
    people = con.table("people")
    geo = con.table("geography")
    j = people.left_join(geo, people.lsoa_code == geo.lsoa_code)
    ethnic = {code: group for code, (_, group) in ETHNIC_CATEGORIES.items()}
    return j.select(
        PERSON_KEY,
        pid=ibis.row_number().over(ibis.window()),
        sex=j.sex.fill_null("unknown"),
        ethnic_group=j.ethnicity.substitute(ethnic, else_="Not known"),
        imd_quintile=((j.imd_decile + 1) // 2).cast("string").fill_null("Unknown"),
        birth_year=j.birth_year,
        birth_month=j.birth_month,
        date_of_death=j.date_of_death,
    )


def _day_after(d: ir.DateValue) -> ir.DateValue:
    """The next calendar day, as a date on every engine."""
    return (d + ibis.interval(days=1)).cast("date")


def registrations(con: ibis.BaseBackend, attrs: ir.Table) -> ir.Table:
    """Each person's registration history as intervals that never overlap: ``pid, practice_code, start_date, end_date``.

    Follows the rule GP extracts need: on any day, of the registrations spanning it, the one with
    the latest start stands, then the latest end (an open registration ends latest), then the
    highest practice code. So a person with an open registration and a later temporary one
    elsewhere is with the temporary practice while it lasts and back with the first after it ends.
    Intervals are cut wherever any registration starts or ends; days no registration spans are
    in no interval.
    """
    r = con.table("registrations")
    r = r.join(attrs.select(PERSON_KEY, PID), PERSON_KEY).select(PID, "practice_code", "start_date", "end_date")
    cuts = r.select(PID, b=r.start_date).union(
        r.filter(r.end_date.notnull()).select(PID, b=_day_after(r.end_date)), distinct=True)
    w = ibis.window(group_by=cuts[PID], order_by=cuts.b)
    segs = cuts.mutate(s_end=(cuts.b.lead().over(w) - ibis.interval(days=1)).cast("date"))
    segs = segs.rename(s_pid=PID)
    j = segs.join(r, [segs.s_pid == r[PID], r.start_date <= segs.b, r.end_date.isnull() | (r.end_date >= segs.b)])
    rank = ibis.row_number().over(ibis.window(
        group_by=[j.s_pid, j.b],
        order_by=[j.start_date.desc(), j.end_date.fill_null(OPEN_END).desc(), j.practice_code.desc()]))
    j = j.mutate(_rank=rank)
    won = j.filter(j._rank == 0)
    return won.select(pid=won.s_pid, practice_code=won.practice_code, start_date=won.b, end_date=won.s_end)


def registered_on(r: ir.Table, d: ir.DateValue) -> ir.BooleanValue:
    """Whether the registration interval covers day ``d``."""
    return (r.start_date <= d) & (r.end_date.isnull() | (r.end_date >= d))


def population(intervals: ir.Table, attrs: ir.Table, period_ends: list[date]) -> ir.Table:
    """People registered with a practice at each period end and alive then: practice, groups and age."""
    ends = ibis.memtable({"period_end": period_ends}).mutate(period_end=ibis._.period_end.cast("date"))
    r = intervals.join(ends, registered_on(intervals, ends.period_end))
    j = r.join(attrs, PID)
    j = j.filter(j.date_of_death.isnull() | (j.date_of_death > j.period_end))
    return j.select(
        PID, "period_end", "practice_code", imd_quintile=j.imd_quintile, ethnic_group=j.ethnic_group,
        sex=j.sex, age=age_at(j.period_end, j.birth_year, j.birth_month),
    )


POPULATION_DIMS = ["period_end", "practice_code", "imd_quintile", "ethnic_group", "sex", "age"]


def age_group(age: ir.IntegerValue, lowers: list[int]) -> ir.IntegerValue:
    """The lowest age of the group ``age`` falls in, groups starting at each of ``lowers``; younger ages keep their own."""
    return ibis.cases(*[(age >= lo, lo) for lo in sorted(set(lowers), reverse=True)], else_=age).cast("int64")


def population_cells(pop: ir.Table, age_lowers: list[int] | None = None) -> ir.Table:
    """The population counted in cells: period end, practice, breakdown groups, age in years.

    With ``age_lowers``, ``age`` is the lowest age of its group (:func:`age_group`): far fewer cells, and the
    same sums for every use that only compares ages with those bounds (age ranges, reporting and ESP bands).
    """
    if age_lowers:
        pop = pop.mutate(age=age_group(pop.age, age_lowers))
    return pop.group_by(POPULATION_DIMS).aggregate(n=pop.count())


def attribute(events: ir.Table, intervals: ir.Table, day: str = "d") -> ir.Table:
    """Events (keyed by :data:`PID`) with ``practice_code``: where the person was registered on the event's day.

    Not where they are at the period end, so admissions of people who later died or moved away
    count where they happened; an event on a day with no registration has no practice.
    """
    r = intervals.rename(r_pid=PID, r_start="start_date", r_end="end_date")
    j = events.left_join(r, [events[PID] == r.r_pid, r.r_start <= events[day],
                             r.r_end.isnull() | (r.r_end >= events[day])])
    return j.select(*events.columns, "practice_code")
