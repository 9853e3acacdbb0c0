"""Compile catalogue definitions into Ibis expressions over the warehouse.

Every definition becomes a table of *units* (a person in a period, or an event) carrying the
geography and breakdown attributes and two measures, ``num`` and ``den``. Units are summed
into fine cells (one set-based query, materialised), then expanded to every period, geography
and breakdown group in a second. No query is built or run per period, geography or group.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir

from placewise import codelists
from placewise.canonical import ETHNIC_CATEGORIES, PERSON_KEY, TABLE_BY_NAME
from placewise.measure.catalogue import (
    CODE_COLUMN,
    EVENT_DATE,
    AgeAtEvent,
    AgeCriterion,
    Aggregate,
    AllOf,
    AnyOf,
    Catalogue,
    Count,
    Criterion,
    DaysBetween,
    Duration,
    Events,
    Expected,
    FollowedBy,
    HasCode,
    Indicator,
    LatestValue,
    Not,
    Persons,
    Subset,
    window_months,
)
from placewise.measure.periods import add_months

DIMS = (
    "period_start", "period_end", "ics_code", "practice_code", "pcn_code", "la_code", "provider_code",
    "site_code", "imd_quintile", "ethnic_group", "sex", "age_band", "standard_band",
)
"""Attributes of a unit: its period, every geography it belongs to and every breakdown group."""
GEOGRAPHY_COLUMN = {
    "ics": "ics_code", "place": "la_code", "pcn": "pcn_code", "practice": "practice_code",
    "provider": "provider_code", "site": "site_code",
}
BREAKDOWN_COLUMN = {"imd_quintile": "imd_quintile", "ethnic_group": "ethnic_group", "sex": "sex", "age_band": "age_band"}
EARLIEST = date(1800, 1, 1)
ONE = ibis.literal(1).cast("float64")
"""1 as a double: a float literal would be NUMERIC on PostgreSQL and come back as Decimal."""
ESP_TOP_BAND = 90
"""The 2013 European Standard Population's five-year age bands end with 90 and over."""
PID = "pid"
"""A person's number within one computation: far cheaper to store and join than the 64-character pseudonym."""


@dataclass(frozen=True)
class Context:
    """What every compilation step needs: the backend, the catalogue, the population snapshots."""

    con: ibis.BaseBackend
    catalogue: Catalogue
    attributes: ir.Table
    """Every person's breakdown attributes (:func:`person_attributes`)."""
    registrations: ir.Table
    """Registration intervals that do not overlap, with practice geography (:func:`registrations`)."""
    population: ir.Table
    """One row per person registered at each period end: ``pid, period_end`` and attributes."""
    population_cells: ir.Table
    """The population counted by period end, geography, breakdown groups and single year of age."""


def age_at(d: ir.DateValue, birth_year: ir.IntegerValue, birth_month: ir.IntegerValue) -> ir.IntegerValue:
    """Age in whole years at ``d``, taking the birthday as the first of the birth month."""
    return ((d.year() * 12 + d.month() - birth_year * 12 - birth_month) // 12).cast("int64")


def age_band(age: ir.IntegerValue, lowers: list[int]) -> ir.StringValue:
    """The reporting age band label ('18-44', '85+') for an age."""
    labels = [f"{lo}-{hi - 1}" for lo, hi in zip(lowers, lowers[1:])] + [f"{lowers[-1]}+"]
    return ibis.cases(*[(age >= lo, label) for lo, label in reversed(list(zip(lowers, labels)))], else_=None)


def standard_band(age: ir.IntegerValue) -> ir.IntegerValue:
    """Lower bound of the person's 2013 ESP five-year age band (0, 5, …, 90)."""
    return ibis.least((age // 5) * 5, ESP_TOP_BAND).cast("int64")


def person_attributes(con: ibis.BaseBackend) -> ir.Table:
    """Every person's number (:data:`PID`) and breakdown attributes: sex, ONS ethnic group, IMD quintile, birth."""
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


def registrations(con: ibis.BaseBackend, attrs: ir.Table) -> ir.Table:
    """Registrations of known people (by :data:`PID`) as intervals that do not overlap.

    A registration covers its start and end dates inclusive, and a later registration ends any
    earlier one (``next_start``); of two starting the same day, the higher practice code stands.
    """
    r = con.table("registrations")
    w = ibis.window(group_by=r[PERSON_KEY], order_by=[r.start_date, r.practice_code])
    r = r.mutate(next_start=r.start_date.lead().over(w))
    prac = con.table("practices")
    j = r.join(prac, r.practice_code == prac.practice_code)
    j = j.join(attrs.select(PERSON_KEY, PID), PERSON_KEY)
    return j.select(PID, "practice_code", "start_date", "end_date", "next_start")


def registered_on(r: ir.Table, d: ir.DateValue) -> ir.BooleanValue:
    """Whether the registration interval covers day ``d``."""
    return ((r.start_date <= d) & (r.end_date.isnull() | (r.end_date >= d))
            & (r.next_start.isnull() | (d < r.next_start)))


def population(intervals: ir.Table, attrs: ir.Table, period_ends: list[date], catalogue: Catalogue) -> ir.Table:
    """People registered with a practice at each period end (and alive then), with geography and attributes."""
    ends = ibis.memtable({"period_end": period_ends}).mutate(period_end=ibis._.period_end.cast("date"))
    r = intervals.join(ends, registered_on(intervals, ends.period_end))
    j = r.join(attrs, PID)
    j = j.filter(j.date_of_death.isnull() | (j.date_of_death > j.period_end))
    return j.select(
        PID, "period_end", "practice_code", imd_quintile=j.imd_quintile, ethnic_group=j.ethnic_group,
        sex=j.sex, age=age_at(j.period_end, j.birth_year, j.birth_month),
    )


POPULATION_DIMS = ["period_end", "practice_code", "imd_quintile", "ethnic_group", "sex", "age"]


def population_cells(pop: ir.Table) -> ir.Table:
    """The population counted in cells: period end, practice geography, breakdown groups, age in years."""
    return pop.group_by(POPULATION_DIMS).aggregate(n=pop.count())


def _periods(periods: list[tuple[date, date]]) -> ir.Table:
    """The indicator's periods as a small table to join against."""
    return ibis.memtable({"period_start": [p[0] for p in periods], "period_end": [p[1] for p in periods]}).select(
        period_start=ibis._.period_start.cast("date"), period_end=ibis._.period_end.cast("date")
    )


def _window_table(periods: list[tuple[date, date]], window: str) -> ir.Table:
    """For each period end, the first day of the window (``lo``) that closes on that period end."""
    months = window_months(window)
    if window == "period":
        lows = [p[0] for p in periods]
    elif window == "ever":
        lows = [EARLIEST] * len(periods)
    else:
        lows = [add_months(p[1] + timedelta(days=1), -months) for p in periods]  # type: ignore[arg-type]
    return ibis.memtable({"period_end": [p[1] for p in periods], "lo": lows}).select(
        period_end=ibis._.period_end.cast("date"), lo=ibis._.lo.cast("date")
    )


def _coded(ctx: Context, table: str, names: list[str]) -> ir.Table:
    """Rows of ``table`` whose coded column is in any of the codelists: ``pid, d`` (and value)."""
    t = ctx.con.table(table)
    codes = sorted({c for n in names for c in codelists.codes(n)})
    t = t.filter(t[CODE_COLUMN[table]].isin(codes))
    t = t.join(ctx.attributes.select(PERSON_KEY, PID), PERSON_KEY)
    cols: dict[str, Any] = {PID: t[PID], "d": t[EVENT_DATE[table]].cast("date")}
    if table == "clinical_events":
        cols["value"] = t.value
    return t.select(**cols)


def _has_code(ctx: Context, c: HasCode, periods: list[tuple[date, date]]) -> ir.Table:
    """(person, period end) pairs where the person has at least ``at_least`` coded records in the window."""
    ev = _coded(ctx, c.table, c.codelist)
    win = _window_table(periods, c.window)
    if c.window == "ever" and c.at_least == 1:
        first = ev.group_by(PID).aggregate(d=ev.d.min())
        return first.join(win, first.d <= win.period_end).select(PID, "period_end")
    j = ev.join(win, [ev.d >= win.lo, ev.d <= win.period_end])
    n = j.group_by([PID, "period_end"]).aggregate(n=j.count())
    return n.filter(n.n >= c.at_least).select(PID, "period_end")


def _latest_value(ctx: Context, c: LatestValue, periods: list[tuple[date, date]]) -> ir.Table:
    """Each person's latest value from the codelist in the window closing on each period end: ``v``.

    Several readings on the latest day: the lowest counts, as in the QOF business rules.
    """
    ev = _coded(ctx, "clinical_events", c.codelist)
    ev = ev.filter(ev.value.notnull())
    daily = ev.group_by([PID, "d"]).aggregate(v=ev.value.min())
    win = _window_table(periods, c.window)
    j = daily.join(win, [daily.d >= win.lo, daily.d <= win.period_end])
    return j.group_by([PID, "period_end"]).aggregate(v=j.v.argmax(j.d))


def _compare(v: ir.NumericValue, c: LatestValue) -> ir.BooleanValue:
    """The latest value meets the leaf's comparison (false where there is no value)."""
    out = {"lt": v < c.threshold, "le": v <= c.threshold, "gt": v > c.threshold, "ge": v >= c.threshold}
    return out[c.comparison].fill_null(False)


def _leaves(c: Criterion) -> list[HasCode | LatestValue]:
    """The criteria in a tree that need their own query (coded records), depth first."""
    if isinstance(c, (HasCode, LatestValue)):
        return [c]
    if isinstance(c, (AllOf, AnyOf)):
        return [leaf for sub in c.criteria for leaf in _leaves(sub)]
    if isinstance(c, Not):
        return _leaves(c.criterion)
    return []


def _truth(c: Criterion, t: ir.Table, flags: dict[int, str]) -> ir.BooleanValue:
    """The criterion as a boolean over the cohort table with a flag or value column per leaf."""
    if isinstance(c, HasCode):
        return t[flags[id(c)]].notnull()
    if isinstance(c, LatestValue):
        return _compare(t[flags[id(c)]], c)
    if isinstance(c, AgeCriterion):
        return _in_range(t.age, c.min, c.max)
    if isinstance(c, AllOf):
        return ibis.and_(*[_truth(s, t, flags) for s in c.criteria])
    if isinstance(c, AnyOf):
        return ibis.or_(*[_truth(s, t, flags) for s in c.criteria])
    assert isinstance(c, Not)
    return ~_truth(c.criterion, t, flags)


def _in_range(v: ir.IntegerValue, lo: int | None, hi: int | None) -> ir.BooleanValue:
    """``lo <= v <= hi`` with either end open."""
    return ibis.and_(ibis.literal(True), *([v >= lo] if lo is not None else []), *([v <= hi] if hi is not None else []))


def _with_criteria(ctx: Context, base: ir.Table, criteria: list[Criterion], periods: list[tuple[date, date]],
                   prefix: str, semi: bool) -> tuple[ir.Table, ir.BooleanValue]:
    """The cohort with a column per coded leaf, and the boolean that all criteria hold.

    With ``semi``, top-level ``has_code`` criteria filter the cohort by a semi-join (a register is
    small); other leaves add a flag (``has_code``) or the latest value (``latest_value``, one
    column per codelist and window).
    """
    keys = [PID, "period_end"]
    top = [c for c in criteria if semi and isinstance(c, HasCode)]
    for c in top:
        base = base.semi_join(_has_code(ctx, c, periods), keys)
    rest = [c for c in criteria if not any(c is t for t in top)]
    flags: dict[int, str] = {}
    values: dict[tuple[tuple[str, ...], str], str] = {}
    for leaf in (leaf for c in rest for leaf in _leaves(c)):
        if isinstance(leaf, LatestValue) and (tuple(leaf.codelist), leaf.window) in values:
            flags[id(leaf)] = values[(tuple(leaf.codelist), leaf.window)]
            continue
        name = f"{prefix}{len(flags)}"
        if isinstance(leaf, HasCode):
            hit = _has_code(ctx, leaf, periods).distinct().mutate(**{name: ibis.literal(1)})
        else:
            hit = _latest_value(ctx, leaf, periods).rename({name: "v"})
            values[(tuple(leaf.codelist), leaf.window)] = name
        base = base.left_join(hit, keys).select(*base.columns, name)
        flags[id(leaf)] = name
    return base, ibis.and_(ibis.literal(True), *[_truth(c, base, flags) for c in rest])


def _cohort(population: ir.Table, p: Persons, periods: list[tuple[date, date]]) -> ir.Table:
    """The population (persons or cells) in each period, in the age range and sexes."""
    pop = population.join(_periods(periods), "period_end")
    keep = _in_range(pop.age, p.age.min, p.age.max)
    if p.sex:
        keep = keep & pop.sex.isin(p.sex)
    return pop.filter(keep)


def _units_frame(t: ir.Table, catalogue: Catalogue, v: ir.NumericValue, age: ir.IntegerValue,
                 standardise: bool, band_age: ir.IntegerValue | None = None, **geo: Any) -> ir.Table:
    """Project any unit table onto the common unit columns (geography: the practice, and so the ICS).

    ``age`` gives the reporting age band; ``band_age`` (default ``age``) the ESP band of a DSR, which is
    the age at the period end so that events and population fall in the same band.
    """
    cols: dict[str, Any] = {
        "period_start": t.period_start, "period_end": t.period_end,
        "ics_code": ibis.ifelse(t.practice_code.notnull(), ibis.literal(catalogue.ics_code), ibis.null("string")),
        "practice_code": t.practice_code,
        "provider_code": ibis.null("string"), "site_code": ibis.null("string"),
        "imd_quintile": t.imd_quintile, "ethnic_group": t.ethnic_group, "sex": t.sex,
        "age_band": age_band(age, catalogue.age_bands).fill_null("Unknown"),
        "standard_band": standard_band(age if band_age is None else band_age) if standardise
        else ibis.null("int64"),
    }
    cols.update(geo)
    return t.select(**cols, v=v.cast("float64"))


def persons_units(ctx: Context, p: Persons, periods: list[tuple[date, date]], standardise: bool,
                  subset: Subset | None = None) -> ir.Table:
    """One unit per person in the cohort and period; ``v`` is 1, or the subset flag."""
    if not p.criteria and subset is None:
        cells = _cohort(ctx.population_cells, p, periods)
        return _units_frame(cells, ctx.catalogue, cells.n, cells.age, standardise)
    base, own = _with_criteria(ctx, _cohort(ctx.population, p, periods), p.criteria, periods, "_den", semi=True)
    base = base.filter(own)
    v = ONE
    if subset:
        base, extra = _with_criteria(ctx, base, subset.criteria, periods, "_num", semi=False)
        v = ibis.ifelse(extra, 1, 0).cast("float64")
    return _units_frame(base, ctx.catalogue, v, base.age, standardise)


def expected_units(ctx: Context, e: Expected, periods: list[tuple[date, date]]) -> ir.Table:
    """One unit per population cell in a rated age band; ``v`` is its expected number of cases."""
    pop = ctx.population_cells.join(_periods(periods), "period_end")
    rates = ibis.memtable({
        "r_sex": ["female"] * len(e.rates) + ["male"] * len(e.rates),
        "r_min": [r.age_min for r in e.rates] * 2,
        "r_max": [r.age_max if r.age_max is not None else 200 for r in e.rates] * 2,
        "rate": [r.female / 100 for r in e.rates] + [r.male / 100 for r in e.rates],
    })
    j = pop.join(rates, [pop.sex == rates.r_sex, pop.age >= rates.r_min, pop.age <= rates.r_max])
    return _units_frame(j, ctx.catalogue, j.n * j.rate, j.age, False)


def _duration(t: ir.Table, d: Duration) -> ir.BooleanValue:
    """The duration filter as a boolean over the event table."""
    if d.unit == "minutes":
        length = (t[d.end].epoch_seconds() - t[d.start].epoch_seconds()) / 60
    else:
        length = t[d.end].cast("date").epoch_days() - t[d.start].cast("date").epoch_days()
    out = ibis.literal(True)
    if d.at_most is not None:
        out = out & (length <= d.at_most)
    if d.at_least is not None:
        out = out & (length >= d.at_least)
    return out


def _where(t: ir.Table, where: dict[str, list[str | int | bool]]) -> ir.BooleanValue:
    """Column-in-values filters as one boolean."""
    return ibis.and_(ibis.literal(True), *[t[col].isin(values) for col, values in where.items()])


def _followed(t: ir.Table, e: Events, fb: FollowedBy, key: str) -> ir.Table:
    """Keys of events followed, within ``within_days`` of their date, by another matching event."""
    other = t.filter(_where(t, fb.where))
    other = other.select(o_person=other[PERSON_KEY], o_key=other[key],
                         o_day=other[EVENT_DATE[e.table]].cast("date").epoch_days())
    day = t[e.date_column].cast("date").epoch_days()
    j = t.join(other, [t[PERSON_KEY] == other.o_person, t[key] != other.o_key,
                       other.o_day >= day, other.o_day < day + fb.within_days])
    return j.select(_key=j[key]).distinct()


def events_units(ctx: Context, e: Events, periods: list[tuple[date, date]], standardise: bool,
                 subset: Subset | None = None) -> ir.Table:
    """One unit per event (or per person) in each period; ``v`` is 1, the value, or the subset flag."""
    t = ctx.con.table(e.table)
    key = TABLE_BY_NAME[e.table].key[0]
    keep = _where(t, e.where)
    if e.codelist:
        keep = keep & t[CODE_COLUMN[e.table]].isin(sorted({c for n in e.codelist for c in codelists.codes(n)}))
    if e.duration:
        keep = keep & _duration(t, e.duration)
    base = t.filter(keep)
    if e.followed_by:
        followed = _followed(t, e, e.followed_by, key)
        base = base.semi_join(followed, base[key] == followed["_key"])
    if subset and subset.followed_by:
        hits = _followed(t, e, subset.followed_by, key).mutate(_hit=ibis.literal(1))
        base = base.left_join(hits, base[key] == hits["_key"]).select(*base.columns, "_hit")
    sub = ibis.literal(True)
    if subset:
        sub = _where(base, subset.where)
        if subset.duration:
            sub = sub & _duration(base, subset.duration)
        if subset.followed_by:
            sub = sub & base["_hit"].notnull()
    cols: dict[str, Any] = {PERSON_KEY: base[PERSON_KEY], "d": base[e.date_column].cast("date"),
                            "flag": ibis.ifelse(sub, 1, 0).cast("float64")}
    if e.has_provider:
        cols.update(provider_code=base.provider_code,
                    site_code=base.site_code if "site_code" in base.columns else ibis.null("string"))
    if isinstance(e.value, DaysBetween):
        start, end = e.value.days_between
        cols["value"] = base[end].cast("date").epoch_days() - base[start].cast("date").epoch_days()
    ev = base.select(**cols)
    if e.first_ever:
        ev = ev.group_by(PERSON_KEY).aggregate(d=ev.d.min(), flag=ev.flag.max())
    first, last = min(p[0] for p in periods), max(p[1] for p in periods)
    ev = ev.filter((ev.d >= first) & (ev.d <= last))   # lets the engine skip history outside the periods
    months = _period_months(periods)
    ev = ev.mutate(month=ev.d.truncate("M").cast("date"))
    ev = ev.join(months, ev.month == months.month).drop("month")
    return _attribute_events(ctx, e, ev, standardise)


def _period_months(periods: list[tuple[date, date]]) -> ir.Table:
    """Every month of every period (``month`` → ``period_start, period_end``): an equality join, not a range."""
    rows = [(add_months(start, i), start, end) for start, end in periods
            for i in range((end.year - start.year) * 12 + end.month - start.month + 1)]
    return ibis.memtable({"month": [r[0] for r in rows], "period_start": [r[1] for r in rows],
                          "period_end": [r[2] for r in rows]}).select(
        month=ibis._.month.cast("date"), period_start=ibis._.period_start.cast("date"),
        period_end=ibis._.period_end.cast("date"))


def _attribute_events(ctx: Context, e: Events, ev: ir.Table, standardise: bool) -> ir.Table:
    """Give events (or distinct persons) their geography at the period end and their breakdown groups."""
    attrs = ctx.attributes
    j = ev.join(attrs, PERSON_KEY)
    age = age_at(j.d, j.birth_year, j.birth_month)
    j = j.mutate(age=age).filter(_in_range(age, e.age.min, e.age.max))
    if e.count == "persons":
        j = j.group_by([PID, "period_start", "period_end"]).aggregate(
            flag=j.flag.max(), imd_quintile=j.imd_quintile.max(), ethnic_group=j.ethnic_group.max(),
            sex=j.sex.max(), age=age_at(j.period_end, j.birth_year, j.birth_month).max(),
            date_of_death=j.date_of_death.max(),
        )
    r = ctx.registrations
    alive = j.date_of_death.isnull() | (j.date_of_death > j.period_end)
    g = j.left_join(r, [j[PID] == r[PID], registered_on(r, j.period_end), alive])
    g = g.select(*j.columns, "practice_code")
    if isinstance(e.value, AgeAtEvent):
        v = g.age
    elif isinstance(e.value, DaysBetween):
        v = g.value
    else:
        v = g.flag
    geo = {"provider_code": g.provider_code, "site_code": g.site_code} if e.has_provider else {}
    band_age = g.age if e.count == "persons" else age_at(g.period_end, g.birth_year, g.birth_month)
    return _units_frame(g, ctx.catalogue, v, g.age, standardise, band_age, **geo)


def aggregate_units(ctx: Context, a: Aggregate, periods: list[tuple[date, date]]) -> ir.Table:
    """One unit per aggregate return row in each period, attributed to its organisation as provider."""
    t = ctx.con.table("aggregate_returns")
    t = t.filter((t.measure == a.measure) & t[a.column].notnull())
    ps = _periods(periods)
    j = t.join(ps, [t.period >= ps.period_start, t.period <= ps.period_end])
    none = ibis.null("string")
    return j.select(
        period_start=j.period_start, period_end=j.period_end, ics_code=ibis.literal(ctx.catalogue.ics_code),
        practice_code=none, provider_code=j.org_code, site_code=none,
        imd_quintile=none, ethnic_group=none, sex=none, age_band=none, standard_band=ibis.null("int64"),
        v=j[a.column].cast("float64"),
    )


def count_units(ctx: Context, c: Count, periods: list[tuple[date, date]], standardise: bool) -> ir.Table:
    """The unit table of any numerator or denominator definition."""
    if isinstance(c, Persons):
        return persons_units(ctx, c, periods, standardise)
    if isinstance(c, Events):
        return events_units(ctx, c, periods, standardise)
    if isinstance(c, Expected):
        return expected_units(ctx, c, periods)
    return aggregate_units(ctx, c, periods)


def indicator_units(ctx: Context, ind: Indicator, periods: list[tuple[date, date]]) -> ir.Table:
    """Units of the indicator with ``num`` and ``den``: a subset flag, a value, or a union of both sides."""
    std = ind.measure == "dsr"
    num, den = ind.numerator, ind.denominator
    if isinstance(num, Subset):
        u = (persons_units(ctx, den, periods, std, num) if isinstance(den, Persons)
             else events_units(ctx, den, periods, std, num))  # type: ignore[arg-type]
        return u.mutate(num=u.v, den=ONE).drop("v")
    nu = count_units(ctx, num, periods, std)
    if den is None:
        return nu.mutate(num=nu.v, den=ONE).drop("v")
    du = count_units(ctx, den, periods, std)
    zero = ibis.literal(0).cast("float64")
    return nu.mutate(num=nu.v, den=zero).drop("v").union(du.mutate(num=zero, den=du.v).drop("v"))


GEOGRAPHY_DIMS = ["ics_code", "practice_code", "pcn_code", "la_code", "provider_code", "site_code"]
SUMS = ("numerator", "denominator", "sum_squares")


def cells(ctx: Context, ind: Indicator, units: ir.Table) -> ir.Table:
    """Units summed into the finest cells (every attribute); a median keeps the units themselves.

    Units carry the practice only: its PCN and Place are joined here, after the grouping.
    """
    keys = [d for d in DIMS if d not in ("pcn_code", "la_code")]
    if ind.measure == "median":
        summed = units.select(*keys, numerator=units.num, denominator=units.den, sum_squares=units.num * units.num)
    else:
        summed = units.group_by(keys).aggregate(
            numerator=units.num.sum(), denominator=units.den.sum(), sum_squares=(units.num * units.num).sum()
        )
    prac = ctx.con.table("practices").select(p_code="practice_code", pcn_code="pcn_code", la_code="la_code")
    j = summed.left_join(prac, summed.practice_code == prac.p_code)
    return j.select(*DIMS, "numerator", "denominator", "sum_squares")


def _by_breakdown(ind: Indicator, cells: ir.Table) -> ir.Table:
    """Cells once per breakdown, labelled with their group; summed over other attributes unless a median."""
    kinds = ibis.memtable({"breakdown": list(ind.breakdowns)})
    y = cells.cross_join(kinds)
    branches = [(y.breakdown == b, y[c]) for b, c in BREAKDOWN_COLUMN.items() if b in ind.breakdowns]
    group = ibis.cases(*branches, else_=ibis.literal("All")) if branches else ibis.literal("All")
    y = y.mutate(breakdown_group=group.fill_null("Unknown"))
    keys = ["period_start", "period_end", *GEOGRAPHY_DIMS, "breakdown", "breakdown_group", "standard_band"]
    if ind.measure == "median":
        return y.select(*keys, *SUMS)
    return y.group_by(keys).aggregate(**{c: y[c].sum() for c in SUMS})


def _by_geography(ctx: Context, ind: Indicator, t: ir.Table) -> ir.Table:
    """Rows once per geography level they belong to (builtin levels and the profile's groupings)."""
    builtin = [g for g in ind.geographies if g in GEOGRAPHY_COLUMN]
    parts = []
    if builtin:
        levels = ibis.memtable({"geography_type": builtin})
        x = t.cross_join(levels)
        code = ibis.cases(*[(x.geography_type == g, x[GEOGRAPHY_COLUMN[g]]) for g in builtin], else_=None)
        parts.append(x.mutate(geography_code=code))
    groups = [(kind, code, place) for kind, gs in ctx.catalogue.groupings.items() if kind in ind.geographies
              for code, places in gs.items() for place in places]
    if groups:
        gm = ibis.memtable({"geography_type": [g[0] for g in groups], "geography_code": [g[1] for g in groups],
                            "g_place": [g[2] for g in groups]})
        parts.append(t.join(gm, t.la_code == gm.g_place).drop("g_place"))
    geo = parts[0] if len(parts) == 1 else parts[0].union(parts[1].select(*parts[0].columns))
    return geo.filter(geo.geography_code.notnull())


def expand(ctx: Context, ind: Indicator, cells: ir.Table) -> ir.Table:
    """Sum cells to every period × geography × breakdown group in one query (medians from the units).

    Breakdowns first, then geographies: each step shrinks the rows the next multiplies.
    """
    y = _by_geography(ctx, ind, _by_breakdown(ind, cells))
    keys = ["period_start", "period_end", "geography_type", "geography_code", "breakdown", "breakdown_group",
            "standard_band"]
    aggs: dict[str, Any] = {c: y[c].sum() for c in SUMS}
    aggs["median"] = y.numerator.median() if ind.measure == "median" else ibis.null("float64")
    return y.group_by(keys).aggregate(**aggs).mutate(indicator_id=ibis.literal(ind.id))
