"""Counts of a returned figure (``measure: returned``): published statistics read from aggregate returns.

A return's ``org_code`` says where its figure belongs: the ICS's own code is the ICS, a code of one of
the profile's groupings (a legacy CCG, a care alliance) is that grouping, England's ONS code (E92000001)
is the national comparator, any other code is a provider.
The ICS figure is the ICS's own return for the period where there is one; otherwise the sum of its
providers' numerators and denominators (or values). A row giving only the published value (a share or
mean printed without its counts) counts as that value over 1, and is never summed into the ICS.
One query per indicator covers every period.
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from placewise.measure.catalogue import ENGLAND, Aggregate, Catalogue, Indicator
from placewise.measure.compile import constants
from placewise.returns import ENGLAND_CODE


def org_levels(catalogue: Catalogue) -> ir.Table:
    """(org_code, level): the ICS and each grouping by its code, England by its ONS code; anything else is a
    provider."""
    codes = [(catalogue.ics_code, "ics"), (ENGLAND_CODE, ENGLAND)]
    codes += [(code, kind) for kind, gs in catalogue.groupings.items() for code in gs]
    return constants({"org": [c for c, _ in codes], "level": [k for _, k in codes]})


def _side(returns: ir.Table, part: Aggregate, periods: ir.Table, numerator: bool) -> ir.Table:
    """One side's rows per period and organisation: its column, else the published value over 1."""
    t = returns.filter(returns.measure == part.measure)
    j = t.join(periods, [t.period >= periods.period_start, t.period <= periods.period_end])
    own = j[part.column].cast("float64")
    fallback = j.value.cast("float64") if numerator else ibis.literal(1).cast("float64")
    counted = own.notnull()
    v = ibis.ifelse(counted, own, fallback)
    return j.select(period_start=j.period_start, period_end=j.period_end, org=j.org_code,
                    num=v if numerator else ibis.literal(0).cast("float64"),
                    den=ibis.literal(0).cast("float64") if numerator else v,
                    counted=ibis.ifelse(counted, 1, 0))


def returned_counts(returns: ir.Table, catalogue: Catalogue, ind: Indicator,
                    ps: list[tuple[date, date]]) -> ir.Table:
    """The indicator's counts (numerator, denominator) by period and geography, in the counts schema's columns, from
    the warehouse's ``aggregate_returns`` table (``returns``)."""
    periods = constants({"period_start": [p[0] for p in ps], "period_end": [p[1] for p in ps]})
    parts = [(ind.numerator, True)] + ([] if ind.denominator is None else [(ind.denominator, False)])
    sides = []
    for part, numerator in parts:
        if not isinstance(part, Aggregate):
            raise ValueError(f"indicator {ind.id}: a returned measure counts aggregate returns only")
        sides.append(_side(returns, part, periods, numerator))
    rows = sides[0] if len(sides) == 1 else sides[0].union(sides[1])
    keys = ["period_start", "period_end", "org"]
    rows = rows.group_by(keys).aggregate(numerator=rows.num.sum(), denominator=rows.den.sum(),
                                         counted=rows.counted.min())
    if ind.denominator is None:
        rows = rows.mutate(denominator=ibis.literal(1).cast("float64"))
    levels = org_levels(catalogue)
    own = rows.left_join(levels, rows.org == levels.org).drop("org_right")
    own = own.mutate(geography_type=own.level.fill_null("provider"), geography_code=own.org)
    summed = _ics_sum(own, catalogue.ics_code, ind.denominator is None)
    cols = ["period_start", "period_end", "geography_type", "geography_code", "numerator", "denominator"]
    out = own.select(*cols).union(summed.select(*cols))
    out = out.filter(out.geography_type.isin(list(ind.geographies)))
    return out.mutate(numerator=out.numerator.cast("float64"), denominator=out.denominator.cast("float64"),
                      indicator_id=ibis.literal(ind.id), breakdown=ibis.literal("none"),
                      breakdown_group=ibis.literal("All"), standard_band=ibis.null("int64"),
                      sum_squares=ibis.null("float64"), events=ibis.null("float64"), median=ibis.null("float64"))


def _ics_sum(own: ir.Table, ics_code: str, values: bool) -> ir.Table:
    """The ICS as the sum of its providers, for periods without the ICS's own return."""
    providers = own.filter((own.geography_type == "provider") & ((own.counted == 1) | values))
    has_own = own.filter(own.geography_type == "ics").select("period_start").distinct()
    s = providers.group_by(["period_start", "period_end"]).aggregate(
        numerator=providers.numerator.sum(), denominator=providers.denominator.sum(), n=providers.count())
    s = s.anti_join(has_own, "period_start")
    s = s.mutate(denominator=ibis.literal(1).cast("float64")) if values else s
    return s.mutate(geography_type=ibis.literal("ics"), geography_code=ibis.literal(ics_code))
