"""Compile catalogue definitions into Ibis expressions over the warehouse.

Every definition becomes a table of *units* (a person in a period, or an event) carrying the
geography and breakdown attributes and two measures, ``num`` and ``den``. Units are summed
into fine cells (one set-based query, materialised), then expanded to every period, geography
and breakdown group in a second. No query is built or run per period, geography or group.
Who people are, where they were registered and which registers they are on come from
:mod:`placewise.derive`; each kind of block compiles through one registered function, and a
block with none registered fails at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from functools import lru_cache, singledispatch
from itertools import pairwise, product
from math import prod
from typing import Any

import ibis
import ibis.expr.types as ir

from placewise.canonical import PERSON_KEY, TABLE_BY_NAME
from placewise.derive.events import ATTRIBUTES, EVENTS, EventRead, EventSource, EventTables, attributed
from placewise.derive.people import (
    GROUP_LABELS,
    GROUP_PARTS,
    GROUPS,
    OPEN_END,
    PID,
    age_at,
    attribute,
    population_in,
    standard_band,
    with_groups,
)
from placewise.derive.records import (
    CODE_COLUMN,
    EARLIEST,
    RecordQuery,
    Records,
    counted,
    financial_year_start,
    in_windows,
    latest_daily_value,
    latest_in_windows,
    months_back,
    record_query,
    standing,
    windows,
    with_codes,
)
from placewise.derive.registers import members, record_queries
from placewise.derive.scores import (
    cha2ds2_vasc_age_sex_points,
    cha2ds2_vasc_condition_points,
)
from placewise.measure.catalogue import (
    CROSS_BREAKDOWNS,
    CROSS_SEPARATOR,
    EVENT_DATE,
    AgeAtEvent,
    AgeCriterion,
    Aggregate,
    AllOf,
    AnyOf,
    BloodPressure,
    Catalogue,
    Cha2ds2Vasc,
    Count,
    Criterion,
    DaysBetween,
    Duration,
    Events,
    Expected,
    FirstRecord,
    FollowedBy,
    HasCode,
    Indicator,
    LatestValue,
    NearFirstRecord,
    Not,
    OnRegister,
    Persons,
    Subset,
    criteria_of,
    registers_named,
    window_months,
)
from placewise.measure.periods import add_months
from placewise.returns import ENGLAND_CODE

DIMS = (
    "period_start", "period_end", "ics_code", "practice_code", "provider_code", "site_code", GROUPS, "age_band",
    "standard_band",
)
"""Attributes of a unit: its period, its ICS, practice, provider and site (its PCN and Place follow from the
practice) and every breakdown group, as numbers (the person's groups as one, :data:`placewise.derive.people.GROUPS`,
and the reporting age band's place among the catalogue's bands), labelled once summed (:func:`by_breakdown`)."""
GEOGRAPHY_COLUMN = {
    "ics": "ics_code", "place": "la_code", "pcn": "pcn_code", "practice": "practice_code",
    "provider": "provider_code", "site": "site_code",
}
BREAKDOWN_COLUMN = {"imd_quintile": "imd_quintile", "ethnic_group": "ethnic_group", "sex": "sex", "age_band": "age_band"}
ONE = ibis.literal(1).cast("float64")
"""1 as a double: a float literal would be NUMERIC on PostgreSQL and come back as Decimal."""
KEYS = [PID, "period_end"]
Periods = list[tuple[date, date]]


@dataclass(frozen=True)
class Context:
    """What every compilation step needs: the backend, the catalogue, the population snapshots."""

    con: ibis.BaseBackend
    catalogue: Catalogue
    attributes: ir.Table
    """Every person's breakdown attributes (:func:`placewise.derive.people.person_attributes`)."""
    registrations: ir.Table
    """Registration intervals that do not overlap (:func:`placewise.derive.people.registrations`)."""
    population: ir.Table
    """One row per person registered at each period end: ``pid, period_end`` and attributes (a query, not materialised:
    registers and cohorts with a register or a coded criterion read only their own people)."""
    population_cells: ir.Table
    """The population counted by period end, geography, breakdown groups and single year of age."""
    records: Records
    """The coded records every criterion and register reads (:func:`placewise.derive.records.read_records`)."""
    events: EventTables
    """The attributed event tables every event count reads (:func:`placewise.derive.events.read_events`)."""
    registers: dict[str, ir.Table] = field(default_factory=dict)
    """Register members at every period end (``pid, period_end, practice_code, age``: no breakdown groups), by
    register id, where already materialised."""
    tables: dict[str, ir.Table] = field(default_factory=dict)
    """The warehouse tables looked up so far (:meth:`table`)."""
    materialised: Callable[[ir.Table], ir.Table] = field(default=lambda t: t)
    """Makes a cohort drawn from coded records a table the engine knows the size of (the computation makes it a step
    of the indicator's work, :func:`placewise.measure.computation._plan`); by default it stays a query."""
    expanded: dict[tuple[Any, ...], ir.Table] = field(default_factory=dict)
    """The sums to every geography built so far (:func:`expand`), by what each depends on."""

    def table(self, name: str) -> ir.Table:
        """A warehouse table, its schema asked of the engine once per computation, not by every indicator that
        reads it (each look-up is a query: about a sixth of the time spent building the catalogue's queries)."""
        if name not in self.tables:
            self.tables[name] = self.con.table(name)
        return self.tables[name]


def age_band(age: ir.IntegerValue, lowers: list[int]) -> ir.IntegerValue:
    """The reporting age band's place among the bands starting at ``lowers`` (:func:`age_band_labels`); null below
    the first."""
    return ibis.cases(*[(age >= lo, i) for i, lo in reversed(list(enumerate(lowers)))], else_=ibis.null("int64"))


def age_band_labels(lowers: list[int]) -> list[str]:
    """The reporting age bands' labels ('18-44', '85+'), in the order of :func:`age_band`."""
    return [f"{lo}-{hi - 1}" for lo, hi in pairwise(lowers)] + [f"{lowers[-1]}+"]


def constants(columns: dict[str, list[Any]], schema: dict[str, str] | None = None) -> ir.Table:
    """A small table of constants (periods, labels) to join against, made once for each content: making a memtable
    costs some milliseconds of Python, and the catalogue's queries ask for the same few over two hundred times."""
    return _constants(tuple((k, tuple(v)) for k, v in columns.items()), tuple(schema.items()) if schema else None)


@lru_cache(maxsize=1024)
def _constants(columns: tuple[tuple[str, tuple[Any, ...]], ...],
               schema: tuple[tuple[str, str], ...] | None) -> ir.Table:
    """:func:`constants`, from its columns and schema made hashable."""
    return ibis.memtable({k: list(v) for k, v in columns}, schema=dict(schema) if schema else None)


def _periods(periods: Periods) -> ir.Table:
    """The indicator's periods as a small table to join against."""
    return constants({"period_start": [p[0] for p in periods], "period_end": [p[1] for p in periods]}).select(
        period_start=ibis._.period_start.cast("date"), period_end=ibis._.period_end.cast("date")
    )


def window_table(periods: Periods, window: str) -> ir.Table:
    """For each period end, the first day of the window (``lo``) that closes on that period end."""
    ends = [p[1] for p in periods]
    if window == "period":
        lows = [p[0] for p in periods]
    elif window == "financial_year_to_date":
        lows = [financial_year_start(e) for e in ends]
    else:
        lows = [months_back(e, window_months(window)) for e in ends]
    return windows(ends, lows)


# ------------------------------------------------------------------ criteria over a person's record
@singledispatch
def leaves(c: Criterion) -> list[Criterion]:
    """The criteria in a tree that need their own query over the record, depth first."""
    raise TypeError(f"no compiler registered for criterion {type(c).__name__}")


@leaves.register(HasCode)
@leaves.register(LatestValue)
@leaves.register(OnRegister)
@leaves.register(BloodPressure)
@leaves.register(Cha2ds2Vasc)
@leaves.register(FirstRecord)
@leaves.register(NearFirstRecord)
def _leaf(c: Criterion) -> list[Criterion]:
    return [c]


@leaves.register(AgeCriterion)
def _no_leaf(c: AgeCriterion) -> list[Criterion]:
    return []


@leaves.register(AllOf)
@leaves.register(AnyOf)
def _nested(c: AllOf | AnyOf) -> list[Criterion]:
    return [leaf for sub in c.criteria for leaf in leaves(sub)]


@leaves.register(Not)
def _negated(c: Not) -> list[Criterion]:
    return leaves(c.criterion)


_THRESHOLDS: dict[type, set[str]] = {LatestValue: {"comparison", "threshold"},
                                     BloodPressure: {"systolic_at_most", "diastolic_at_most"},
                                     Cha2ds2Vasc: {"at_least"}}
"""Fields of a leaf applied to its query's values, not part of the query."""


def query_key(c: Criterion) -> str:
    """A stable key of what a leaf queries (not its thresholds): leaves with the same key share a query."""
    return c.model_dump_json(exclude=_THRESHOLDS.get(type(c), set()))


@singledispatch
def leaf_query(c: Criterion, ctx: Context, periods: Periods) -> ir.Table:
    """A leaf's query: ``pid, period_end`` where it may hold, with its value columns."""
    raise TypeError(f"no query registered for criterion {type(c).__name__}")


def _in_periods(spans: ir.Table, periods: Periods) -> ir.Table:
    """Spans that hold at least one of the periods' ends (the rest cannot meet a cohort row)."""
    first, last = min(p[1] for p in periods), max(p[1] for p in periods)
    return spans.filter((spans.start <= last) & (spans.stop > first))


@leaf_query.register
def _has_code(c: HasCode, ctx: Context, periods: Periods) -> ir.Table:
    """(person, period end) pairs with at least ``at_least`` coded records in the window: ``hit``; in the last N
    months, as spans of days (``pid, start, stop``) when the running count is reached."""
    ev = ctx.records.coded(c.table, c.codelist)
    months = window_months(c.window)
    if months is not None:
        return _in_periods(counted(ev, months, c.at_least), periods).mutate(hit=ibis.literal(1))
    if c.window == "ever" and c.at_least == 1:
        first = ev.group_by(PID).aggregate(d=ev.d.min())
        win = _periods(periods)
        return first.join(win, first.d <= win.period_end).select(*KEYS, hit=ibis.literal(1))
    j = in_windows(ev, window_table(periods, c.window))
    n = j.group_by(KEYS).aggregate(n=j.count())
    return n.filter(n.n >= c.at_least).select(*KEYS, hit=ibis.literal(1))


@leaf_query.register
def _latest_value(c: LatestValue, ctx: Context, periods: Periods) -> ir.Table:
    """Each person's latest value in the window (lowest of that day): ``v``; in the last N months, as the span of
    days each value stands for (``pid, start, stop``)."""
    months = window_months(c.window)
    if months is not None:
        daily = ctx.records.daily_lowest({"v": c.codelist})
        return _in_periods(standing(daily, months), periods).select(PID, "start", "stop", "v")
    ev = ctx.records.coded("clinical_events", c.codelist)
    return latest_daily_value(ev, window_table(periods, c.window)).select(*KEYS, "v")


def register_rows(ctx: Context, register_id: str) -> ir.Table:
    """Population rows of a register's members at every period end: the materialised table with its people's
    breakdown groups joined back, or its query."""
    if register_id in ctx.registers:
        return with_groups(ctx.registers[register_id], ctx.attributes)
    return members(ctx.records.coded, ctx.population, ctx.catalogue.register(register_id))


def register_members(ctx: Context, register_id: str) -> ir.Table:
    """Members of a register at every period end: ``pid, period_end``."""
    if register_id in ctx.registers:
        return ctx.registers[register_id].select(*KEYS)
    return register_rows(ctx, register_id).select(*KEYS)


@leaf_query.register
def _on_register(c: OnRegister, ctx: Context, periods: Periods) -> ir.Table:
    """People on the register at each period end: ``hit``."""
    return register_members(ctx, c.name).mutate(hit=ibis.literal(1))


@leaf_query.register
def _blood_pressure(c: BloodPressure, ctx: Context, periods: Periods) -> ir.Table:
    """The latest day in the window with both a systolic and a diastolic reading, lowest of each: ``sys, dia``; in
    the last N months, as the span of days each reading stands for (``pid, start, stop``)."""
    daily = ctx.records.daily_lowest({"sys": c.systolic, "dia": c.diastolic})
    pairs = daily.filter(daily.sys.notnull() & daily.dia.notnull())
    months = window_months(c.window)
    if months is not None:
        return ctx.materialised(_in_periods(standing(pairs, months), periods).select(PID, "start", "stop", "sys", "dia"))
    return latest_in_windows(pairs, window_table(periods, c.window)).select(*KEYS, "sys", "dia")


@leaf_query.register
def _cha2ds2_vasc(c: Cha2ds2Vasc, ctx: Context, periods: Periods) -> ir.Table:
    """CHA2DS2-VASc points from conditions at each period end: ``pts`` (age and sex are added in :func:`truth`)."""
    return cha2ds2_vasc_condition_points(
        {k: [register_members(ctx, r) for r in ids] for k, ids in c.components.items()})


def _first_records(ctx: Context, lists: list[str]) -> ir.Table:
    """Each person's first record from the codelists: ``pid, first``."""
    ev = ctx.records.coded("clinical_events", lists)
    return ev.group_by(PID).aggregate(first=ev.d.min())


@leaf_query.register
def _first_record(c: FirstRecord, ctx: Context, periods: Periods) -> ir.Table:
    """People whose first record is on or after the date and by the period end: ``hit``."""
    f = _first_records(ctx, c.codelist)
    f = f.filter(f.first >= c.on_or_after)
    win = _periods(periods)
    return f.join(win, f.first <= win.period_end).select(*KEYS, hit=ibis.literal(1))


@leaf_query.register
def _near_first_record(c: NearFirstRecord, ctx: Context, periods: Periods) -> ir.Table:
    """People with a record from ``codelist`` in the window around their first ``first`` record: ``hit``."""
    f = _first_records(ctx, c.first)
    ev = ctx.records.coded("clinical_events", c.codelist)
    j = ev.join(f, PID)
    lo = (j.first - ibis.interval(months=c.months_before)).cast("date")
    hi = (j.first + ibis.interval(months=c.months_after)).cast("date")
    near = j.filter((j.d >= lo) & (j.d <= hi)).select(PID, "d")
    win = _periods(periods)
    return near.join(win, near.d <= win.period_end).select(*KEYS).distinct().mutate(hit=ibis.literal(1))


@singledispatch
def leaf_records(c: Criterion) -> list[RecordQuery]:
    """The coded-record queries a criterion reads itself (not through registers, nor nested criteria)."""
    raise TypeError(f"no record queries registered for criterion {type(c).__name__}")


@leaf_records.register(OnRegister)
@leaf_records.register(Cha2ds2Vasc)
@leaf_records.register(AgeCriterion)
@leaf_records.register(AllOf)
@leaf_records.register(AnyOf)
@leaf_records.register(Not)
def _reads_none(c: Criterion) -> list[RecordQuery]:
    return []


@leaf_records.register
def _reads_table(c: HasCode) -> list[RecordQuery]:
    return [record_query(c.table, c.codelist)]


@leaf_records.register(LatestValue)
@leaf_records.register(FirstRecord)
def _reads_events(c: LatestValue | FirstRecord) -> list[RecordQuery]:
    return [record_query("clinical_events", c.codelist)]


@leaf_records.register
def _reads_pressures(c: BloodPressure) -> list[RecordQuery]:
    return [record_query("clinical_events", c.systolic), record_query("clinical_events", c.diastolic)]


@leaf_records.register
def _reads_near(c: NearFirstRecord) -> list[RecordQuery]:
    return [record_query("clinical_events", c.first), record_query("clinical_events", c.codelist)]


def catalogue_record_queries(catalogue: Catalogue, indicators: list[Indicator]) -> list[RecordQuery]:
    """Every coded-record query the indicators' criteria and registers read, once each, in a stable order."""
    found = {q for ind in indicators for c in criteria_of(ind) for q in leaf_records(c)}
    found |= {q for ind in indicators for c in criteria_of(ind) for r in registers_named(c)
              for q in record_queries(catalogue.register(r))}
    return sorted(found)


@singledispatch
def truth(c: Criterion, t: ir.Table, cols: dict[str, str]) -> ir.BooleanValue:
    """The criterion as a boolean over the cohort table with the value columns of each leaf."""
    raise TypeError(f"no truth registered for criterion {type(c).__name__}")


@truth.register(HasCode)
@truth.register(OnRegister)
@truth.register(FirstRecord)
@truth.register(NearFirstRecord)
def _hit(c: Criterion, t: ir.Table, cols: dict[str, str]) -> ir.BooleanValue:
    return t[cols[query_key(c)] + "_hit"].notnull()


@truth.register
def _compare(c: LatestValue, t: ir.Table, cols: dict[str, str]) -> ir.BooleanValue:
    v = t[cols[query_key(c)] + "_v"]
    out = {"lt": v < c.threshold, "le": v <= c.threshold, "gt": v > c.threshold, "ge": v >= c.threshold}
    return out[c.comparison].fill_null(False)


@truth.register
def _bp_at_most(c: BloodPressure, t: ir.Table, cols: dict[str, str]) -> ir.BooleanValue:
    name = cols[query_key(c)]
    return ((t[name + "_sys"] <= c.systolic_at_most) & (t[name + "_dia"] <= c.diastolic_at_most)).fill_null(False)


@truth.register
def _score_at_least(c: Cha2ds2Vasc, t: ir.Table, cols: dict[str, str]) -> ir.BooleanValue:
    points = t[cols[query_key(c)] + "_pts"].fill_null(0) + cha2ds2_vasc_age_sex_points(t.age, t.sex)
    return points >= c.at_least


@truth.register
def _age(c: AgeCriterion, t: ir.Table, cols: dict[str, str]) -> ir.BooleanValue:
    return _in_range(t.age, c.min, c.max)


@truth.register
def _all(c: AllOf, t: ir.Table, cols: dict[str, str]) -> ir.BooleanValue:
    return ibis.and_(*[truth(s, t, cols) for s in c.criteria])


@truth.register
def _any(c: AnyOf, t: ir.Table, cols: dict[str, str]) -> ir.BooleanValue:
    return ibis.or_(*[truth(s, t, cols) for s in c.criteria])


@truth.register
def _not(c: Not, t: ir.Table, cols: dict[str, str]) -> ir.BooleanValue:
    return ~truth(c.criterion, t, cols)


def _in_range(v: ir.IntegerValue, lo: int | None, hi: int | None) -> ir.BooleanValue:
    """``lo <= v <= hi`` with either end open."""
    return ibis.and_(ibis.literal(True), *([v >= lo] if lo is not None else []), *([v <= hi] if hi is not None else []))


def describe(c: Criterion) -> str:
    """A leaf in words for a person-level trace: its type and what it queries, e.g. ``on_register(name=smi)``."""
    fields = c.model_dump(exclude={"type"} | _THRESHOLDS.get(type(c), set()), exclude_defaults=True)
    return f"{c.type}(" + ", ".join(f"{k}={v}" for k, v in fields.items()) + ")"


def with_criteria(ctx: Context, base: ir.Table, criteria: list[Criterion], periods: Periods,
                  prefix: str, semi: bool) -> tuple[ir.Table, ir.BooleanValue, dict[str, str]]:
    """The cohort with value columns per leaf query, the boolean that all criteria hold, and column labels.

    With ``semi``, top-level ``has_code`` and ``on_register`` criteria filter the cohort by a
    semi-join (a register is small); every other leaf query is left-joined once, its columns
    named after the leaf (``<prefix><n>_hit``, ``_v``, ``_sys``, ``_dia``).
    """
    top = [c for c in criteria if semi and isinstance(c, (HasCode, OnRegister))]
    for i, c in enumerate(top):
        if c not in top[:i]:    # a criterion given twice: its query semi-joined again is ambiguous to Ibis
            base = _joined(base, leaf_query(c, ctx, periods), "semi")
    rest = [c for c in criteria if not any(c is t for t in top)]
    cols: dict[str, str] = {}
    labels: dict[str, str] = {}
    for leaf in (leaf for c in rest for leaf in leaves(c)):
        key = query_key(leaf)
        if key in cols:
            continue
        name = cols[key] = f"{prefix}{len(cols)}"
        q = leaf_query(leaf, ctx, periods)
        q = q.rename({f"{name}_{v}": v for v in q.columns if v not in LEAF_KEYS})
        values = [v for v in q.columns if v not in LEAF_KEYS]
        labels.update({v: f"{describe(leaf)} {v.removeprefix(name + '_')}" for v in values})
        base = _joined(base, q, "left").select(*base.columns, *values)
    return base, ibis.and_(ibis.literal(True), *[truth(c, base, cols) for c in rest]), labels


LEAF_KEYS = {*KEYS, "start", "stop"}
"""Columns by which a leaf query meets the cohort: person and period end, or person and a span of days."""


def _joined(base: ir.Table, q: ir.Table, how: str) -> ir.Table:
    """A leaf query joined to the cohort rows on person and period end, or where it gives spans (``pid, start,
    stop``) on person, keeping the span that holds the row's period end (a person's spans never overlap).

    Joined on the person, the engine hashes the spans themselves rather than the rows they make when expanded to
    the period ends they hold (1.2 million blood-pressure spans against 4.9 million rows at scale 1.0), and checks a
    cohort row against its person's few spans.
    """
    if "start" not in q.columns:
        return base.semi_join(q, KEYS) if how == "semi" else base.left_join(q, KEYS)
    s = q.rename(_s_pid=PID)
    on = [base[PID] == s._s_pid, s.start <= base.period_end, base.period_end < s.stop]
    return base.semi_join(s, on) if how == "semi" else base.left_join(s, on).drop("_s_pid", "start", "stop")


def cohort(population: ir.Table, p: Persons, periods: Periods) -> ir.Table:
    """The population (persons or cells) in each period, in the age range and sexes."""
    pop = population.join(_periods(periods), "period_end")
    keep = _in_range(pop.age, p.age.min, p.age.max)
    if p.sex:
        keep = keep & pop.sex.isin(p.sex)
    return pop.filter(keep)


def _units_frame(t: ir.Table, catalogue: Catalogue, v: ir.NumericValue, age: ir.IntegerValue,
                 standardise: bool, band_age: ir.IntegerValue | None = None, weight: ir.NumericValue = ONE,
                 **geo: Any) -> ir.Table:
    """Project any unit table onto the common unit columns (geography: the practice, and so the ICS).

    ``age`` gives the reporting age band; ``band_age`` (default ``age``) the ESP band of a DSR, which is
    the age at the period end so that events and population fall in the same band. ``weight`` (``w``) is how many
    alike units the row stands for: more than one only for counted events (:func:`placewise.derive.events.counted`).
    """
    cols: dict[str, Any] = {
        "period_start": t.period_start, "period_end": t.period_end,
        "ics_code": ibis.ifelse(t.practice_code.notnull(), ibis.literal(catalogue.ics_code), ibis.null("string")),
        "practice_code": t.practice_code,
        "provider_code": ibis.null("string"), "site_code": ibis.null("string"),
        GROUPS: t[GROUPS], "age_band": age_band(age, catalogue.age_bands),
        "standard_band": standard_band(age if band_age is None else band_age) if standardise
        else ibis.null("int64"),
    }
    cols.update(geo)
    return t.select(**cols, v=v.cast("float64"), w=weight.cast("float64"))


def persons_units(ctx: Context, p: Persons, periods: Periods, standardise: bool,
                  subset: Subset | None = None) -> ir.Table:
    """One unit per person in the cohort and period; ``v`` is 1, or the subset flag."""
    if not p.criteria and subset is None:
        cells = cohort(ctx.population_cells, p, periods)
        return _units_frame(cells, ctx.catalogue, cells.n, cells.age, standardise)
    ctx, source, criteria = _register_cohort(ctx, p, periods)
    base, own, _ = with_criteria(ctx, cohort(source, p, periods), criteria, periods, "_den", semi=True)
    base = base.filter(own)
    v = ONE
    if subset:
        base, extra, _ = with_criteria(ctx, base, subset.criteria, periods, "_num", semi=False)
        v = ibis.ifelse(extra, 1, 0).cast("float64")
    return _units_frame(base, ctx.catalogue, v, base.age, standardise)


def register_share(ind: Indicator) -> list[OnRegister] | None:
    """The registers of a share of the population on registers (its persons have no criteria, the numerator asks
    only to be on the registers, not a median), else None."""
    num, den = ind.numerator, ind.denominator
    if not (isinstance(num, Subset) and isinstance(den, Persons) and not den.criteria and ind.measure != "median"):
        return None
    regs = [c for c in num.criteria if isinstance(c, OnRegister)]
    return regs if regs and len(regs) == len(num.criteria) else None


def register_share_units(ctx: Context, p: Persons, regs: list[OnRegister], periods: Periods,
                         standardise: bool) -> ir.Table:
    """Units of the share of a population (no criteria of its own) on registers, with ``num`` and ``den``.

    The population's cells are the denominator's units (a cell of n people counts n) and the registers' members
    the numerator's: the same sums as a unit per person flagged on or off, without reading every person.
    """
    cells = cohort(ctx.population_cells, p, periods)
    den = _units_frame(cells, ctx.catalogue, cells.n, cells.age, standardise)
    rows = cohort(register_rows(ctx, regs[0].name), p, periods)
    for c in regs[1:]:
        rows = rows.semi_join(register_members(ctx, c.name), KEYS)
    num = _units_frame(rows, ctx.catalogue, ONE, rows.age, standardise)
    zero = ibis.literal(0).cast("float64")
    return num.mutate(num=num.v, den=zero).drop("v").union(den.mutate(num=zero, den=den.v).drop("v"))


def _register_cohort(ctx: Context, p: Persons, periods: Periods) -> tuple[Context, ir.Table, list[Criterion]]:
    """Where the cohort must be on a register: start from its members, not the whole population.

    Returns the context with the other registers' members narrowed to the register's people (so every register
    read meets only them: AF's CHA2DS2-VASc points are summed over AF patients only), the rows to draw the cohort
    from, and the criteria left to apply. The coded records are not narrowed: each leaf query meets the cohort rows
    by person anyway, and semi-joining every record to the register's people cost more than it saved (at scale 1.0,
    4.4 of the 5.6 million blood-pressure records belong to people on the hypertension register). The same people
    come out either way; only the rows read change.
    """
    first = next((c for c in p.criteria if isinstance(c, OnRegister)), None)
    if first is None:
        return _coded_population(ctx, p, periods)
    rows = register_rows(ctx, first.name)
    people = register_members(ctx, first.name).select(PID).distinct()
    others = {r: t if r == first.name else t.semi_join(people, PID) for r, t in ctx.registers.items()}
    return replace(ctx, registers=others), rows, [c for c in p.criteria if c is not first]


def _coded_population(ctx: Context, p: Persons, periods: Periods) -> tuple[Context, ir.Table, list[Criterion]]:
    """A cohort with no register: drawn from only the people a top-level ``has_code`` criterion can hold for
    (the criterion itself is still applied), with the coded records narrowed to them, else the whole population.

    Narrowing the records makes every other record query (a subset's checks in the last 12 months) read only the
    cohort's people, not everyone with such a record. The cohort's rows are materialised: as a query, PostgreSQL has no
    statistics for them (a DISTINCT over filtered records met with the registrations through computed month numbers)
    and took SMI health checks' 12,426 rows at scale 0.05 for one, then joined each of the six components by a nested
    loop that ran the component's query again for every cohort row (minutes, against a second hashed).
    """
    code = next((c for c in p.criteria if isinstance(c, HasCode)), None)
    if code is None:
        return ctx, ctx.population, list(p.criteria)
    pids = leaf_query(code, ctx, periods).select(PID).distinct()
    # Whole-life spans drive the join to the registrations, so only these people are expanded to period ends.
    spans = pids.mutate(start=ibis.literal(EARLIEST, "date"), stop=ibis.literal(OPEN_END, "date"))
    rows = ctx.materialised(population_in(spans, ctx.registrations, ctx.attributes, sorted({p[1] for p in periods})))
    return replace(ctx, records=ctx.records.of(pids)), rows, list(p.criteria)


def expected_units(ctx: Context, e: Expected, periods: Periods) -> ir.Table:
    """One unit per population cell in a rated age band; ``v`` is its expected number of cases.

    The rates are met with the cells by sex and single year of age (each band's rate repeated for every age in it, to
    200 where the band has no upper age), an equality join: met by sex and tested against each band's ages, every cell
    was tested against all of its sex's bands (8.4 million tests for dementia's 1.3 million cells at scale 0.2)."""
    pop = ctx.population_cells.join(_periods(periods), "period_end")
    ages = [(sex, age, getattr(r, sex) / 100) for sex in ("female", "male") for r in e.rates
            for age in range(r.age_min, (r.age_max if r.age_max is not None else 200) + 1)]
    rates = constants({"r_sex": [a[0] for a in ages], "r_age": [a[1] for a in ages], "rate": [a[2] for a in ages]},
                      schema={"r_sex": "string", "r_age": "int64", "rate": "float64"})
    j = pop.join(rates, [pop.sex == rates.r_sex, pop.age == rates.r_age])
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


def _preceded(t: ir.Table, e: Events, days: int, key: str) -> ir.Table:
    """Keys of events with another of the same events in the ``days`` days before their date."""
    day = t[e.date_column].cast("date").epoch_days()
    me = t.select(_key=t[key], m_person=t[PERSON_KEY], m_day=day).view()   # a view: t may be a join (a codelist's semi-join)
    other = t.select(o_person=t[PERSON_KEY], o_day=day)
    j = me.join(other, [me.m_person == other.o_person, other.o_day < me.m_day, other.o_day >= me.m_day - days])
    return j.select("_key").distinct()


def events_units(ctx: Context, e: Events, periods: Periods, standardise: bool,
                 subset: Subset | None = None) -> ir.Table:
    """One unit per event (or per person) in each period; ``v`` is 1, the value, or the subset flag."""
    g = attributed_events(ctx, e, periods, subset)
    geo = {"provider_code": g.provider_code, "site_code": g.site_code} if e.has_provider else {}
    if EVENTS in g.columns:     # counted: no ESP band at a later period end (_counted_alike)
        return _units_frame(g, ctx.catalogue, g.v, g.age, False, weight=g[EVENTS], **geo)
    band_age = g.age if e.count == "persons" else age_at(g.period_end, g.birth_year, g.birth_month)
    return _units_frame(g, ctx.catalogue, g.v, g.age, standardise, band_age, **geo)


def event_sources(ind: Indicator) -> list[tuple[Events, Subset | None]]:
    """The indicator's event counts, each with the subset numerator that refines it (if any)."""
    num, den = ind.numerator, ind.denominator
    if isinstance(num, Subset):
        return [(den, num)] if isinstance(den, Events) else []
    return [(c, None) for c in (num, den) if isinstance(c, Events) and not c.first_ever]


def event_columns(e: Events, subset: Subset | None) -> set[str]:
    """The columns of its table an event count (and its subset) filters, values or reports by."""
    cols = {*e.where, *(subset.where if subset else {})}
    for d in (e.duration, subset.duration if subset else None):
        cols |= {d.start, d.end} if d else set()
    if isinstance(e.value, DaysBetween):
        cols |= set(e.value.days_between)
    if e.codelist:
        cols.add(CODE_COLUMN[e.table])
    if e.secondary_codelist:
        cols.add("spell_id")
    if e.new_after_days or e.followed_by or (subset and subset.followed_by):
        cols.add(TABLE_BY_NAME[e.table].key[0])
    if e.has_provider:
        cols |= {"provider_code", *(["site_code"] if "site_code" in TABLE_BY_NAME[e.table].source_schema().names
                                    else [])}
    return cols


def catalogue_event_reads(parts: list[tuple[Indicator, Periods]], age_bands: list[int] | None = None
                          ) -> dict[EventSource, EventRead]:
    """Every event source the indicators count, with the columns they use and the days their periods cover; given
    the reporting ``age_bands``, a source whose every count treats alike events alike (:func:`_counted_alike`) is
    read counted, with the ages at which its counts can change (:attr:`EventRead.ages`)."""
    found: dict[EventSource, tuple[set[str], date, date, set[int] | None]] = {}
    for ind, periods in parts:
        if not periods:
            continue
        first, last = min(p[0] for p in periods), max(p[1] for p in periods)
        for e, subset in event_sources(ind):
            cols, lo, hi, ages = found.get((e.table, e.date_column), (set(), first, last, set(age_bands or [])))
            if ages is not None and age_bands is not None and _counted_alike(ind, e, subset):
                ages = ages | {*([e.age.min] if e.age.min is not None else []),
                               *([e.age.max + 1] if e.age.max is not None else [])}
            else:
                ages = None
            found[(e.table, e.date_column)] = (cols | event_columns(e, subset), min(lo, first), max(hi, last), ages)
    return {s: EventRead(tuple(sorted(c)), lo, hi, tuple(sorted(a)) if a is not None else None)
            for s, (c, lo, hi, a) in sorted(found.items())}


def _counted_alike(ind: Indicator, e: Events, subset: Subset | None) -> bool:
    """Whether the count (and its subset) counts each event as one and asks nothing of it but its month, practice,
    groups, age band and the columns it filters on: no value, persons, duration, codelist, earlier or later event,
    no ESP band at a later period end (a DSR) and no median of units. Such events can be counted together."""
    asked = [e.value, e.duration, e.codelist, e.secondary_codelist, e.new_after_days, e.followed_by, e.first_ever,
             *([subset.duration, subset.followed_by] if subset else [])]
    return e.count == "events" and ind.measure not in ("dsr", "median") and not any(asked)


def _matching(e: Events, t: ir.Table, ctx: Context) -> ir.Table:
    """Rows of the event table (raw or attributed) that meet the count's own row filters."""
    keep = _where(t, e.where)
    if e.duration:
        keep = keep & _duration(t, e.duration)
    base = t.filter(keep)
    if e.codelist:
        base = with_codes(base, CODE_COLUMN[e.table], e.codelist)
    if e.secondary_codelist:
        dx = with_codes(ctx.table("inpatient_diagnoses"), "icd10_code", e.secondary_codelist)
        base = base.semi_join(dx, base.spell_id == dx.spell_id)
    return base


def attributed_events(ctx: Context, e: Events, periods: Periods, subset: Subset | None = None) -> ir.Table:
    """The events (or persons) counted in each period with their practice on the day and ``v``.

    Events come from the source's attributed table read once per computation (:class:`EventTables`); a count of
    each person's first record ever reads its table itself, as it needs all of history.
    """
    t = ctx.table(e.table)
    key = TABLE_BY_NAME[e.table].key[0]
    base = _matching(e, t if e.first_ever else ctx.events.of((e.table, e.date_column)), ctx)
    if e.new_after_days:
        before = _preceded(_matching(e, t, ctx), e, e.new_after_days, key)
        base = base.anti_join(before, base[key] == before["_key"])
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
    flag = ibis.ifelse(sub, 1, 0).cast("float64")
    cols: dict[str, Any] = {"flag": flag}
    if e.has_provider:
        cols.update(provider_code=base.provider_code,
                    site_code=base.site_code if "site_code" in base.columns else ibis.null("string"))
    if isinstance(e.value, DaysBetween):
        start, end = e.value.days_between
        cols["value"] = base[end].cast("date").epoch_days() - base[start].cast("date").epoch_days()
    if e.first_ever:
        ev = base.select(PERSON_KEY, d=base[e.date_column].cast("date"), **cols)
        ev = ev.group_by(PERSON_KEY).aggregate(d=ev.d.min(), flag=ev.flag.max())
        ev = attributed(ev, ctx.attributes, ctx.registrations)
    else:
        person = [GROUPS, "age", EVENTS] if EVENTS in base.columns else ATTRIBUTES
        ev = base.select(*person, "d", "practice_code", **cols)
    first, last = min(p[0] for p in periods), max(p[1] for p in periods)
    ev = ev.filter((ev.d >= first) & (ev.d <= last))   # lets the engine skip history outside the periods
    months = _period_months(periods)
    ev = ev.mutate(month=ev.d.truncate("M").cast("date"))
    ev = ev.join(months, ev.month == months.month).drop("month")
    return _attribute_events(ctx, e, ev)


def _period_months(periods: Periods) -> ir.Table:
    """Every month of every period (``month`` → ``period_start, period_end``): an equality join, not a range."""
    rows = [(add_months(start, i), start, end) for start, end in periods
            for i in range((end.year - start.year) * 12 + end.month - start.month + 1)]
    return constants({"month": [r[0] for r in rows], "period_start": [r[1] for r in rows],
                      "period_end": [r[2] for r in rows]}).select(
        month=ibis._.month.cast("date"), period_start=ibis._.period_start.cast("date"),
        period_end=ibis._.period_end.cast("date"))


def _attribute_events(ctx: Context, e: Events, ev: ir.Table) -> ir.Table:
    """Keep events in the count's age range and give distinct persons the practice they were registered with.

    An event counts where the person was registered on its day (so it comes attributed); a person counted
    once in a period, where they were registered on their first counted day in it.
    """
    age = ev.age if EVENTS in ev.columns else age_at(ev.d, ev.birth_year, ev.birth_month)
    j = ev.mutate(age=age).filter(_in_range(age, e.age.min, e.age.max))
    if e.count == "persons":
        j = j.group_by([PID, "period_start", "period_end"]).aggregate(
            flag=j.flag.max(), d=j.d.min(), groups=j[GROUPS].max(),
            age=age_at(j.period_end, j.birth_year, j.birth_month).max(),
            birth_year=j.birth_year.max(), birth_month=j.birth_month.max(),
        )
        j = attribute(j, ctx.registrations)
    if isinstance(e.value, AgeAtEvent):
        v = j.age
    elif isinstance(e.value, DaysBetween):
        v = j.value
    else:
        v = j.flag
    return j.mutate(v=v)


def aggregate_units(ctx: Context, a: Aggregate, periods: Periods) -> ir.Table:
    """One unit per aggregate return row in each period, attributed to its organisation as provider; England's
    row (the national comparator) is no unit of the ICS (``placewise.measure.computation`` adds it apart)."""
    t = ctx.table("aggregate_returns")
    t = t.filter((t.measure == a.measure) & t[a.column].notnull() & (t.org_code != ENGLAND_CODE))
    ps = _periods(periods)
    j = t.join(ps, [t.period >= ps.period_start, t.period <= ps.period_end])
    none = ibis.null("string")
    return j.select(
        period_start=j.period_start, period_end=j.period_end, ics_code=ibis.literal(ctx.catalogue.ics_code),
        practice_code=none, provider_code=j.org_code, site_code=none,
        groups=ibis.null("int16"), age_band=ibis.null("int64"), standard_band=ibis.null("int64"),
        v=j[a.column].cast("float64"), w=ONE,
    )


@singledispatch
def count_units(c: Count, ctx: Context, periods: Periods, standardise: bool) -> ir.Table:
    """The unit table of a numerator or denominator definition (``v`` per unit)."""
    raise TypeError(f"no compiler registered for count {type(c).__name__}")


@count_units.register
def _persons(c: Persons, ctx: Context, periods: Periods, standardise: bool) -> ir.Table:
    return persons_units(ctx, c, periods, standardise)


@count_units.register
def _events(c: Events, ctx: Context, periods: Periods, standardise: bool) -> ir.Table:
    return events_units(ctx, c, periods, standardise)


@count_units.register
def _expected(c: Expected, ctx: Context, periods: Periods, standardise: bool) -> ir.Table:
    return expected_units(ctx, c, periods)


@count_units.register
def _aggregate(c: Aggregate, ctx: Context, periods: Periods, standardise: bool) -> ir.Table:
    return aggregate_units(ctx, c, periods)


@singledispatch
def subset_units(den: Count | None, ctx: Context, periods: Periods, standardise: bool, subset: Subset) -> ir.Table:
    """Units of a denominator with ``v`` flagging those in the subset numerator."""
    raise TypeError(f"a subset numerator cannot refine a {type(den).__name__} denominator")


@subset_units.register
def _persons_subset(den: Persons, ctx: Context, periods: Periods, standardise: bool, subset: Subset) -> ir.Table:
    return persons_units(ctx, den, periods, standardise, subset)


@subset_units.register
def _events_subset(den: Events, ctx: Context, periods: Periods, standardise: bool, subset: Subset) -> ir.Table:
    return events_units(ctx, den, periods, standardise, subset)


def indicator_units(ctx: Context, ind: Indicator, periods: Periods) -> ir.Table:
    """Units of the indicator with ``num`` and ``den``: a subset flag, a value, or a union of both sides."""
    std = ind.measure == "dsr"
    num, den = ind.numerator, ind.denominator
    if isinstance(num, Subset):
        regs = register_share(ind)
        if regs and isinstance(den, Persons):
            return register_share_units(ctx, den, regs, periods, std)
        u = subset_units(den, ctx, periods, std, num)
        return u.mutate(num=u.v, den=ONE).drop("v")
    nu = count_units(num, ctx, periods, std)
    if den is None:
        return nu.mutate(num=nu.v, den=ONE).drop("v")
    du = count_units(den, ctx, periods, std)
    zero = ibis.literal(0).cast("float64")
    return nu.mutate(num=nu.v, den=zero).drop("v").union(du.mutate(num=zero, den=du.v).drop("v"))


@dataclass(frozen=True)
class Side:
    """One count's units summed into an indicator's numerator, its denominator, or both (a count with no
    denominator: the number of units): sums add, so an indicator's cells are the sums of its sides' cells, and a
    side several indicators share is summed once."""

    role: str
    """``numerator``, ``denominator`` or ``both``."""
    count: Count
    subset: Subset | None = None
    """For the numerator of a subset of events: only the denominator's units in the subset."""


def indicator_sides(ind: Indicator) -> list[Side] | None:
    """The indicator's sides, or None where its units are not summed side by side (a median keeps its units; a
    subset of persons or a share of the population on registers flags each unit)."""
    num, den = ind.numerator, ind.denominator
    if ind.measure == "median":
        return None
    if isinstance(num, Subset):
        if not isinstance(den, Events) or den.value is not None:
            return None
        return [Side("denominator", den), Side("numerator", den, num)]
    if den is None:
        return [Side("both", num)]
    return [Side("numerator", num), Side("denominator", den)]


def side_key(ind: Indicator, side: Side, periods: Periods) -> str:
    """What a side's summed cells depend on: two indicators' sides with the same key have the same cells."""
    return repr((side.count.model_dump_json(), side.subset.model_dump_json() if side.subset else None,
                 tuple(periods), ind.measure == "dsr", ind.sums_values, tuple(ind.breakdowns),
                 tuple(_unreported(ind)), tuple(sorted(_unread(ind)))))


def side_cells(ctx: Context, ind: Indicator, side: Side, periods: Periods) -> ir.Table:
    """A side's units summed by breakdown group (:func:`by_breakdown`): the sum of their values as ``numerator``
    with its squares, their number as ``denominator``; :func:`placed` keeps what its role adds."""
    std = ind.measure == "dsr"
    if side.subset and isinstance(side.count, Events):
        u = events_units(ctx, side.count, periods, std, side.subset)
        u = u.filter(u.v != 0)
    else:
        u = count_units(side.count, ctx, periods, std)
    return by_breakdown(ctx, ind, cells(ctx, ind, u.mutate(num=u.v, den=ONE).drop("v")))


def placed(ind: Indicator, side: Side, summed: ir.Table) -> ir.Table:
    """A side's summed cells in its role: a numerator's values (no count of units), a denominator's values (no
    squares, no events; ``events`` stays null where the indicator sums no value per event, as :func:`cells` leaves
    it), or both as they are."""
    zero = ibis.literal(0).cast("float64")
    if side.role == "numerator":
        return summed.mutate(denominator=zero)
    if side.role == "denominator":
        return summed.mutate(numerator=zero, denominator=summed.numerator, sum_squares=zero,
                             events=zero if ind.sums_values else ibis.null("float64"))
    return summed


def sides_summed(ind: Indicator, parts: list[ir.Table]) -> ir.Table:
    """The indicator's sides' cells by breakdown group added together."""
    u = parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]
    return _summed(u, BREAKDOWN_KEYS, _blank(ind), **{c: u[c].sum() for c in SUMS})


SUMS = ("numerator", "denominator", "sum_squares", "events")
BREAKDOWN_KEYS = ["period_start", "period_end", "ics_code", "practice_code", "provider_code", "site_code", "breakdown",
                  "breakdown_group", "standard_band"]
"""Keys of the cells summed by breakdown group (:func:`by_breakdown`): the PCN and Place follow from the practice."""
COUNT_KEYS = ["period_start", "period_end", "geography_type", "geography_code", "breakdown", "breakdown_group",
              "standard_band"]


def cells(ctx: Context, ind: Indicator, units: ir.Table) -> ir.Table:
    """Units summed into the finest cells (every attribute but the PCN and Place, which follow from the practice),
    each as many times as its weight ``w`` (:func:`_units_frame`); a median keeps the units themselves."""
    keys = list(DIMS)
    unreported = _unreported(ind)
    units = units.mutate(**{d: ibis.null(units[d].type()) for d in unreported if d in keys},
                         **{GROUPS: _reported_groups(units[GROUPS], unreported)})
    if ind.measure == "median":     # units one by one (never counted: _counted_alike); no sum of squares read
        return units.select(*keys, numerator=units.num, denominator=units.den, sum_squares=ibis.null("float64"),
                            events=ibis.null("float64"))
    zero = ibis.literal(0).cast("float64")
    events = ibis.ifelse(units.num != 0, units.w, zero).sum() if ind.sums_values else ibis.null("float64")
    return _summed(units, keys, _blank(ind), derived=_following(ctx, ind), numerator=(units.num * units.w).sum(),
                   denominator=(units.den * units.w).sum(), sum_squares=(units.num * units.num * units.w).sum(),
                   events=events)


def _blank(ind: Indicator) -> set[str]:
    """The cells' attributes and sums null in every row: the attributes the indicator reports by no geography or
    breakdown, the groups' number where it reports no group of the person's (:func:`_reported_groups`), and the sums
    its statistic never reads (:func:`_unread`)."""
    unreported = set(_unreported(ind))
    return unreported | ({GROUPS} if unreported >= set(GROUP_PARTS) else set()) | _unread(ind)


def _unread(ind: Indicator) -> set[str]:
    """The sums the indicator's statistic never reads, left null rather than summed (each sum costs every grouping of
    the cells and every geography's sums: without them the catalogue's cells and sums took 8% less CPU time on
    PostgreSQL at scale 0.2): the number of events with a value unless the indicator sums a value per event, and the
    sum of squares unless that or a mean (:func:`placewise.analyse.measurements._statistic`)."""
    return ({"events"} if not ind.sums_values else set()) | (
        {"sum_squares"} if not ind.sums_values and ind.measure != "mean" else set())


def _summed(t: ir.Table, keys: list[str], blank: set[str], *, derived: Derived | None = None,
            **sums: ir.Value) -> ir.Table:
    """The ``sums`` over ``t`` by ``keys``, those in ``blank`` (null in every row) not grouped by but put back as
    nulls: a key of nulls costs the engine as much as any other (DuckDB: a third of the DSR's cells' sums), and so
    does a sum of nulls; those ``derived`` from the other keys (:func:`_following`) not grouped by either but worked
    out again once summed."""
    derived = derived or {}
    summed = t.group_by([k for k in keys if k not in blank and k not in derived]).aggregate(
        **{c: v for c, v in sums.items() if c not in blank})
    return summed.select(*[ibis.null(t[k].type()).name(k) if k in blank
                           else derived[k](summed).cast(t[k].type()).name(k) if k in derived else summed[k]
                           for k in keys], *[ibis.null(v.type()).name(c) if c in blank else summed[c]
                                             for c, v in sums.items()])


Derived = dict[str, Callable[[ir.Table], ir.Value]]
"""Keys of cells worked out from the others once summed (:func:`_following`), by name."""
PERIOD_MONTHS = {"monthly": 1, "quarterly": 3, "annual": 12, "rolling_12_months": 12}
"""The months of a period of each frequency (:func:`placewise.measure.periods.periods`)."""


def _following(ctx: Context, ind: Indicator) -> Derived:
    """Keys of the indicator's cells that follow from the others, so not summed by but worked out again once summed
    (each key summed by cost DuckDB about a tenth of the sums' CPU time): the period's start from its end (an indicator
    has one period ending in a month), and the ICS from the practice (the ICS's code wherever a unit has a practice,
    :func:`_units_frame`) where the indicator reports by practice and counts no aggregate returns (whose units have
    the ICS and no practice)."""
    back = PERIOD_MONTHS[ind.frequency] - 1
    out: Derived = {"period_start": lambda t: _months_before(t.period_end, back)}
    returns = any(isinstance(c, Aggregate) for c in (ind.numerator, ind.denominator))
    if "practice_code" not in _unreported(ind) and not returns:
        ics = ctx.catalogue.ics_code
        out["ics_code"] = lambda t: ibis.ifelse(t.practice_code.notnull(), ibis.literal(ics), ibis.null("string"))
    return out


def _months_before(end: ir.DateValue, back: int) -> ir.DateValue:
    """The first day of the month ``back`` months before ``end``'s, built as a date from year and month: truncating
    a date and taking an interval gives PostgreSQL a timestamp that Ibis, typing it a date, does not cast back."""
    month = end.year() * 12 + end.month() - 1 - back
    return ibis.date(month // 12, month % 12 + 1, 1)


def _unreported(ind: Indicator) -> list[str]:
    """Unit attributes the indicator reports by no geography or breakdown: blanked before summing, so cells merge."""
    needed = {"ics_code", *(BREAKDOWN_COLUMN[b] for b in ind.breakdowns if b in BREAKDOWN_COLUMN)}
    needed |= {c for b in ind.breakdowns for c in CROSS_BREAKDOWNS.get(b, ())}
    needed |= {GEOGRAPHY_COLUMN[g] for g in ("provider", "site") if g in ind.geographies}
    if any(g not in ("ics", "provider", "site") for g in ind.geographies):
        needed.add("practice_code")     # practices, PCNs, Places and the profile's groupings of Places
    return [d for d in ("practice_code", "provider_code", "site_code", *BREAKDOWN_COLUMN.values()) if d not in needed]


def _reported_groups(groups: ir.IntegerValue, unreported: list[str]) -> ir.IntegerValue:
    """The groups' number with the breakdown groups the indicator does not report taken out (as their first label),
    so that cells differing only in those merge; null if it reports none of them."""
    kept = [_group_part(groups, g) for g in GROUP_PARTS if g not in unreported]
    if len(kept) == len(GROUP_PARTS):
        return groups
    return sum(kept[1:], kept[0]).cast("int16") if kept else ibis.null("int16")


def _group_part(groups: ir.IntegerValue, group: str) -> ir.IntegerValue:
    """One breakdown group's part of the groups' number (its label's place times the group's place value)."""
    place, n = GROUP_PARTS[group]
    return (groups // place) % n * place


def _breakdown_parts(ind: Indicator) -> dict[str, tuple[str, ...]]:
    """The attributes each of the indicator's breakdowns groups by (none for ``none``)."""
    return {b: (BREAKDOWN_COLUMN[b],) if b in BREAKDOWN_COLUMN else CROSS_BREAKDOWNS.get(b, ()) for b in ind.breakdowns}


def _group_key(cells: ir.Table, parts: tuple[str, ...]) -> ir.IntegerValue:
    """A cell's group in a breakdown by ``parts``, as a number (:func:`breakdown_labels`)."""
    if parts == ("age_band",):
        return cells.age_band.cast("int64")
    return _packed(cells[GROUPS], parts)


def _packed(groups: ir.IntegerValue, parts: tuple[str, ...]) -> ir.IntegerValue:
    """The parts of a groups' number (:data:`GROUPS`, or a finer breakdown's group) of the breakdown groups
    ``parts``, as a number."""
    keys = [_group_part(groups, p) for p in parts]
    return sum(keys[1:], keys[0]).cast("int64")


def breakdown_labels(ind: Indicator, age_bands: list[int]) -> ir.Table:
    """Each of the indicator's breakdowns (``l_breakdown``, and its place among them as ``l_kind``) with its group
    numbers (:func:`_group_key`; -1 where the attributes are unknown) and the group's label: ``All`` for ``none``,
    ``female|1`` for a group of two attributes."""
    labels = {**{g: [(i * GROUP_PARTS[g][0], x) for i, x in enumerate(GROUP_LABELS[g])] for g in GROUP_PARTS},
              "age_band": list(enumerate(age_band_labels(age_bands)))}
    rows: list[tuple[int, str, int, str]] = []
    for kind, (b, parts) in enumerate(_breakdown_parts(ind).items()):
        if not parts:
            rows.append((kind, b, 0, "All"))
            continue
        combos = [labels[parts[0]]] if len(parts) == 1 else [labels[parts[0]], labels[parts[1]]]
        rows += [(kind, b, sum(k for k, _ in c), CROSS_SEPARATOR.join(x for _, x in c)) for c in product(*combos)]
        rows.append((kind, b, -1, CROSS_SEPARATOR.join("Unknown" for _ in parts)))
    return constants({"l_kind": [r[0] for r in rows], "l_breakdown": [r[1] for r in rows],
                      "l_group": [r[2] for r in rows], "breakdown_group": [r[3] for r in rows]},
                     schema={"l_kind": "int64", "l_breakdown": "string", "l_group": "int64",
                             "breakdown_group": "string"})


def by_breakdown(ctx: Context, ind: Indicator, cells: ir.Table) -> ir.Table:
    """Cells once per breakdown, by the breakdown's place among the indicator's (``_kind``) and their group's number;
    summed over other attributes unless a median (:func:`_nested_sums`), then labelled (:func:`breakdown_labels`: a
    small join after the sums, not text summed by).

    The breakdown is a number until labelled: chosen among by text and summed by, it cost DuckDB a fifth more CPU
    time (emergency admissions' DSR at scale 0.2: 0.93-0.97 s against 0.71-0.77 s for these sums alone)."""
    parts = _breakdown_parts(ind)
    y = (_crossed(cells, list(parts.values())) if ind.measure == "median"
         else _nested_sums(cells, parts, _blank(ind), _following(ctx, ind)))
    labels = breakdown_labels(ind, ctx.catalogue.age_bands)
    j = y.join(labels, [y._kind == labels.l_kind, y._group == labels.l_group])
    return j.select(*[k if k != "breakdown" else j.l_breakdown.name("breakdown") for k in BREAKDOWN_KEYS], *SUMS)


_CELL_KEYS = [k for k in BREAKDOWN_KEYS if k not in ("breakdown", "breakdown_group")]
"""The keys of the cells by breakdown group besides the breakdown and the group."""


def _crossed(cells: ir.Table, parts: list[tuple[str, ...]]) -> ir.Table:
    """Each cell (a median's unit) once per breakdown, not summed: ``_kind``, ``_group`` (-1 where unknown)."""
    kinds = constants({"_kind": list(range(len(parts)))}, schema={"_kind": "int64"})
    y = cells.cross_join(kinds)
    branches = [(y._kind == i, _group_key(y, p)) for i, p in enumerate(parts) if p]
    key = ibis.cases(*branches, else_=ibis.literal(0, "int64")) if branches else ibis.literal(0, "int64")
    return y.mutate(_group=key.fill_null(-1)).select(*_CELL_KEYS, "_kind", "_group", *SUMS)


def _nested_sums(cells: ir.Table, parts: dict[str, tuple[str, ...]], blank: set[str], derived: Derived) -> ir.Table:
    """The cells summed by each breakdown's groups (``_kind``, ``_group``: -1 where unknown), each breakdown summed
    from the sums of a finer one where the indicator reports one (:func:`_source`), else from the cells.

    Sex's sums come from sex by deprivation's, the whole population's from sex's: the cells are read once for each
    breakdown with no finer one (three of hypertension's seven, three of a DSR's four), not once for every breakdown
    (the cells crossed with the breakdowns and summed in one aggregate). Sums of whole counts are exact in any order;
    fractional ones (expected cases) may differ in the last bits. Engines that keep a query read twice (DuckDB,
    PostgreSQL) sum each breakdown's source once.
    """
    summed: dict[str, ir.Table] = {}

    def sums(b: str) -> ir.Table:
        if b not in summed:
            source = _source(b, parts)
            t = cells if source is None else sums(source)
            groups = t[GROUPS] if source is None else t._group
            if not parts[b]:
                key = ibis.literal(0, "int64")
            elif source is None:
                key = _group_key(t, parts[b])
            else:
                key = _packed(groups, parts[b])
            t = t.mutate(_group=key)
            summed[b] = _summed(t, [*_CELL_KEYS, "_group"], blank, derived=derived, **{c: t[c].sum() for c in SUMS})
        return summed[b]

    each = [sums(b).mutate(_kind=ibis.literal(i, "int64")) for i, b in enumerate(parts)]
    u = each[0].union(*each[1:]) if len(each) > 1 else each[0]
    return u.mutate(_group=u._group.fill_null(-1))


def _source(b: str, parts: dict[str, tuple[str, ...]]) -> str | None:
    """The reported breakdown whose sums breakdown ``b``'s can be summed from: of those by people's groups
    (:data:`GROUP_PARTS`) by all of ``b``'s attributes and more, the one with fewest groups; None where there is none
    (``b``'s sums come from the cells)."""
    own = set(parts[b])
    if not own <= set(GROUP_PARTS):
        return None
    finer = [c for c, p in parts.items() if own < set(p) <= set(GROUP_PARTS)]
    order = list(parts)
    return min(finer, key=lambda c: (prod(GROUP_PARTS[g][1] for g in parts[c]), order.index(c)), default=None)


def _level(ind: Indicator, t: ir.Table, kind: ir.StringValue, code: ir.StringValue, *, summed: bool = False
           ) -> ir.Table:
    """Rows of one geography level summed to its codes (a median from the units; the sums the indicator never reads
    left null, :func:`_unread`); rows with no code drop out. With ``summed``, each row is already one code's cell (see
    :func:`_practice_cells`) and is kept as it is."""
    y = t.mutate(geography_type=kind, geography_code=code)
    y = y.filter(y.geography_code.notnull())
    if summed:
        return y.select(*COUNT_KEYS, *SUMS, median=ibis.null("float64"))
    unread = _unread(ind)
    aggs: dict[str, Any] = {c: ibis.null("float64") if c in unread else y[c].sum() for c in SUMS}
    aggs["median"] = y.numerator.median() if ind.measure == "median" else ibis.null("float64")
    return y.group_by(COUNT_KEYS).aggregate(**aggs)


def _practice_cells(ind: Indicator) -> bool:
    """Whether each cell by breakdown group is already the practice level's: the indicator sums (not a median) and
    reports no provider or site, so no two cells share a period, practice, breakdown group and ESP band (the ICS
    follows from the practice) and summing them to practices would copy them, row for row."""
    return ind.measure != "median" and {"provider_code", "site_code"} <= set(_unreported(ind))


def expand(ctx: Context, ind: Indicator, by: ir.Table) -> ir.Table:
    """Cells by breakdown group (:func:`by_breakdown`) summed to every geography level of the indicator
    (:func:`_expanded`), built once per computation for all the indicators that have the same geographies, sum the
    same way (the same sums left null, :func:`_unread`) and read the same cells (a template,
    :func:`placewise.measure.computation._plan`): the same expression, so the same SQL, without Ibis building its few
    hundred nodes again (about a sixth of the time spent building the catalogue's queries)."""
    key = (tuple(ind.geographies), ind.measure == "median", _practice_cells(ind), frozenset(_unread(ind)), by.op())
    if key not in ctx.expanded:
        ctx.expanded[key] = _expanded(ctx, ind, by)
    return ctx.expanded[key]


def _expanded(ctx: Context, ind: Indicator, by: ir.Table) -> ir.Table:
    """Cells by breakdown group (:func:`by_breakdown`) summed to every geography level of the indicator (its id not
    yet set: the caller sets it, so that indicators with the same geographies share the query's SQL).

    Each level is summed by itself: the ICS, practice, provider and site from their own columns; PCNs and Places
    through the practice's PCN and Place; the profile's groupings of Places from the Places' sums (a median from its
    units), so that each cell is read once for its Place and not once more for every grouping it falls in (emergency
    admissions' DSR at scale 0.2: 1.5 million cells joined to the groupings and summed, against 39 thousand Places'
    sums; 22% less PostgreSQL CPU for its sums to every geography and fetch).
    """
    levels = [(g, GEOGRAPHY_COLUMN[g]) for g in ind.geographies if g in GEOGRAPHY_COLUMN]
    parts = [_level(ind, by, ibis.literal(g), by[c], summed=c == "practice_code" and _practice_cells(ind))
             for g, c in levels if c in BREAKDOWN_KEYS]
    groups = [(kind, code, place) for kind, gs in ctx.catalogue.groupings.items() if kind in ind.geographies
              for code, places in gs.items() for place in places]
    mapped = [(g, c) for g, c in levels if c not in BREAKDOWN_KEYS]
    if mapped or groups:
        prac = ctx.table("practices").select(p_code="practice_code", pcn_code="pcn_code", la_code="la_code")
        j = by.join(prac, by.practice_code == prac.p_code)
        parts += [_level(ind, j, ibis.literal(g), j[c]) for g, c in mapped if g != "place"]
    if groups or "place" in dict(mapped):
        places = _level(ind, j, ibis.literal("place"), j.la_code)
        if "place" in dict(mapped):
            parts.append(places)
    if groups:
        gm = constants({"g_type": [g[0] for g in groups], "g_code": [g[1] for g in groups],
                        "g_place": [g[2] for g in groups]})
        if ind.measure == "median":     # a median is of the units, not of the Places' medians
            k = j.join(gm, j.la_code == gm.g_place)
        else:   # summed from the Places' sums: each cell is read once for its Place, not once for every grouping
            k = places.join(gm, places.geography_code == gm.g_place)
        parts.append(_level(ind, k, k.g_type, k.g_code))
    return parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]
