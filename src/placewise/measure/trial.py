"""Try a definition on a few people and see why each counts; print the SQL an indicator compiles to.

Both use the same compiler as :func:`placewise.measure.compute`, so what an analyst sees for a
hand-made patient is what the full computation does for everyone.
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from placewise.canonical import PERSON_KEY
from placewise.derive.events import EventTables, read_events
from placewise.derive.people import (
    GROUPS,
    PERSON_GROUPS,
    PID,
    group_labels,
    person_attributes,
    population,
    population_cells,
    registrations,
)
from placewise.derive.records import Records, read_records, warehouse_records
from placewise.derive.registers import members
from placewise.measure.catalogue import Catalogue, Count, Events, Indicator, Persons, Subset
from placewise.measure.compile import (
    Context,
    Periods,
    age_band_labels,
    attributed_events,
    catalogue_event_reads,
    catalogue_record_queries,
    cells,
    cohort,
    count_units,
    indicator_units,
    with_criteria,
)
from placewise.measure.periods import ReportingRange, periods
from placewise.profile.registers import Register
from placewise.warehouse import ensure_tables


def context(con: ibis.BaseBackend, catalogue: Catalogue, ind: Indicator, ps: Periods) -> Context:
    """The shared tables an indicator reads over its periods, as expressions (not materialised): enough for a
    few people or for printing SQL."""
    attrs = person_attributes(con)
    intervals = registrations(con, attrs)
    ends = sorted({p[1] for p in ps})
    pop = population(intervals, attrs, ends)
    queries = catalogue_record_queries(catalogue, [ind])
    records = Records(read_records(con, attrs, queries), tuple(queries))
    events = EventTables({s: read_events(con, attrs, intervals, s, read)
                          for s, read in catalogue_event_reads([(ind, ps)]).items()})
    return Context(con, catalogue, attrs, intervals, pop, population_cells(intervals, attrs, ends), records, events)


def period_of(ind: Indicator, period_end: date) -> tuple[date, date]:
    """The indicator's period that ends on ``period_end`` (a month end)."""
    found = [p for p in periods(ReportingRange(date(period_end.year - 1, period_end.month, 1), period_end),
                                ind.frequency) if p[1] == period_end]
    if not found:
        raise ValueError(f"indicator {ind.id} ({ind.frequency}) has no period ending on {period_end}: "
                         "quarters and years end in March, June, September or December, years in March")
    return found[0]


def _named(ctx: Context, t: ir.Table) -> ir.Table:
    """Put the person's id (the patient label or pseudonym) first, in place of the person number."""
    ids = ctx.attributes.select(PID, PERSON_KEY)
    j = t.join(ids, PID)
    return j.select(PERSON_KEY, *[c for c in t.columns if c not in (PID, PERSON_KEY)])


def _persons(ctx: Context, p: Persons, ps: list[tuple[date, date]], subset: Subset | None) -> ir.Table:
    """Every person of the cohort with whether they are in the denominator (and numerator), and why."""
    base, own, labels = with_criteria(ctx, cohort(ctx.population, p, ps), p.criteria, ps, "den", semi=False)
    base = base.mutate(denominator=own)
    if subset:
        base, extra, more = with_criteria(ctx, base, subset.criteria, ps, "num", semi=False)
        base = base.mutate(numerator=base.denominator & extra)
        labels |= more
    shown = {label: (base[c].notnull() if c.endswith("_hit") else base[c]) for c, label in labels.items()}
    keep = ["numerator"] if subset else []
    return _named(ctx, base.select(PID, "practice_code", "age", "sex", "denominator", *keep, **shown))


def _events(ctx: Context, e: Events, ps: list[tuple[date, date]], subset: Subset | None) -> ir.Table:
    """Every counted event (or person) with its date, the practice it is attributed to and its value."""
    g = attributed_events(ctx, e, ps, subset)
    cols = {"numerator": g.v} if subset else {"value": g.v}
    return _named(ctx, g.select(PID, date=g.d, practice_code=g.practice_code, age=g.age, **cols))


def _side(ctx: Context, c: Count, ps: list[tuple[date, date]]) -> ir.Table:
    """One side of an indicator, person by person where it has people, else its units."""
    if isinstance(c, Persons):
        return _persons(ctx, c, ps, None)
    if isinstance(c, Events):
        return _events(ctx, c, ps, None)
    return _labelled(ctx, count_units(c, ctx, ps, False))


def _labelled(ctx: Context, units: ir.Table) -> ir.Table:
    """Units (expected cases, returns) with their breakdown groups and reporting age band as labels, not the numbers
    they are summed by."""
    bands = dict(enumerate(age_band_labels(ctx.catalogue.age_bands)))
    kept = [c for c in units.columns if c not in (GROUPS, "age_band", "w")]     # w: 1, as traced events are not counted
    u = units.left_join(group_labels().view(), GROUPS)
    return u.select(*kept, *PERSON_GROUPS, age_band=u.age_band.substitute(bands, else_="Unknown"))


def trace(con: ibis.BaseBackend, catalogue: Catalogue, indicator_id: str, period_end: date) -> dict[str, pa.Table]:
    """Who counts in one period of an indicator, and why: one table per side (or one for a subset)."""
    ind = catalogue.indicator(indicator_id)
    ps = [period_of(ind, period_end)]
    ctx = context(con, catalogue, ind, ps)
    num, den = ind.numerator, ind.denominator
    if isinstance(num, Subset):
        if isinstance(den, Persons):
            t = _persons(ctx, den, ps, num)
        elif isinstance(den, Events):
            t = _events(ctx, den, ps, num)
        else:
            raise TypeError(f"a subset numerator cannot refine a {type(den).__name__} denominator")
        return {"units": _sorted(t)}
    out = {"numerator": _sorted(_side(ctx, num, ps))}
    if den is not None:
        out["denominator"] = _sorted(_side(ctx, den, ps))
    return out


def _sorted(t: ir.Table) -> pa.Table:
    """A trace as Arrow, in a stable order (by person and date where it has them)."""
    keys = [c for c in (PERSON_KEY, "date", "age_band", "sex") if c in t.columns]
    return t.order_by(keys).to_pyarrow() if keys else t.to_pyarrow()


def register_trace(con: ibis.BaseBackend, reg: Register, period_end: date) -> pa.Table:
    """Every registered person at the date, with whether they are on the register."""
    attrs = person_attributes(con)
    pop = population(registrations(con, attrs), attrs, [period_end])
    on = members(warehouse_records(con, attrs), pop, reg).select(PID, "period_end", _on=ibis.literal(True))
    j = pop.left_join(on, [PID, "period_end"]).select(pop[PID], "practice_code", "age", "sex", "_on")
    j = j.join(attrs.select(PID, PERSON_KEY), PID)
    return _sorted(j.select(PERSON_KEY, "practice_code", "age", "sex", on_register=j._on.fill_null(False)))


def explain(catalogue: Catalogue, indicator_id: str, period_end: date, dialect: str = "duckdb") -> str:
    """The SQL that computes the indicator's finest cells for the period ending on ``period_end``.

    Compiled against an empty warehouse, exactly as :func:`placewise.measure.compute` builds it
    (which materialises the person, registration and population parts as temporary tables first).
    """
    ind = catalogue.indicator(indicator_id)
    con = ibis.duckdb.connect()
    ensure_tables(con)
    ps = [period_of(ind, period_end)]
    ctx = context(con, catalogue, ind, ps)
    expr = cells(ctx, ind, indicator_units(ctx, ind, ps))
    getattr(ibis, dialect)  # loads the dialect's backend, which registers the options its compiler reads
    return str(ibis.to_sql(expr, dialect=dialect))
