"""How the catalogue's queries are built: the sums to every geography built once for the indicators alike
(:func:`placewise.measure.compile.expand`), the same query as each indicator's own."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

import ibis
import ibis.expr.types as ir

from placewise.measure.catalogue import load_catalogue
from placewise.measure.compile import by_breakdown, cells, expand, indicator_units
from placewise.measure.computation import TEMPLATE_CELLS
from placewise.measure.trial import context, ensure_tables, period_of
from placewise.profile import load_profile


def _named(sql: str) -> str:
    """The SQL with each small table of constants (which Ibis names at random as it is made) named by its place."""
    names: dict[str, str] = {}
    return re.sub(r"ibis_\w+_memtable_\w+", lambda m: names.setdefault(m.group(0), f"constants_{len(names)}"), sql)


def test_the_sums_to_every_geography_built_once_are_each_indicators_own() -> None:
    """Over the whole catalogue, in its order, each indicator's sums to every geography taken from those already built
    for an indicator alike compile to the SQL built for that indicator alone, in DuckDB's and PostgreSQL's dialects;
    and indicators do share them. A median and a mean with the same geographies (the catalogue's median with its
    measure changed) each have their own: a median's Places are of its units, not summed."""
    catalogue = load_catalogue(load_profile())
    con = ibis.duckdb.connect()
    ensure_tables(con)
    kept: dict[tuple[object, ...], ir.Table] = {}
    indicators = [ind for ind in catalogue.indicators if not ind.is_returned]
    median = catalogue.indicator("los_emergency_median")
    assert median.measure == "median" and [i for i in indicators if i.geographies == median.geographies] == [median]
    indicators.append(median.model_copy(update={"id": "los_emergency_median_as_mean", "measure": "mean"}))
    for ind in indicators:
        ps = [period_of(ind, date(2024, 3, 31))]
        ctx = context(con, catalogue, ind, ps)
        template = ibis.table(
            by_breakdown(ctx, ind, cells(ctx, ind, indicator_units(ctx, ind, ps))).schema(), name=TEMPLATE_CELLS
        )
        shared = expand(replace(ctx, expanded=kept), ind, template)
        alone = expand(ctx, ind, template)
        assert len(ctx.expanded) == 1
        for dialect in ("duckdb", "postgres"):
            assert _named(ibis.to_sql(shared, dialect=dialect)) == _named(ibis.to_sql(alone, dialect=dialect))
    assert 3 <= len(kept) < len(indicators) / 2
    geographies = {tuple(ind.geographies) for ind in indicators}
    assert len(geographies) <= len(kept)


def test_only_the_sums_an_indicators_statistic_reads_are_summed() -> None:
    """Over the whole catalogue, each indicator's cells and sums to every geography sum the values' squares only for
    a mean or a rate of a value summed over events, and the events with a value only for the latter (the statistics
    read nothing else: :func:`placewise.analyse.measurements._statistic`); every indicator sums its numerator and
    denominator."""
    catalogue = load_catalogue(load_profile())
    con = ibis.duckdb.connect()
    ensure_tables(con)
    squares = re.compile(r'SUM\([^()]*"sum_squares"\)|"num" \* "\w+"\."num"')
    events = re.compile(r'SUM\([^()]*"events"\)|SUM\(CASE WHEN "\w+"\."num" <> 0')
    for ind in (i for i in catalogue.indicators if not i.is_returned):
        ps = [period_of(ind, date(2024, 3, 31))]
        ctx = context(con, catalogue, ind, ps)
        by = by_breakdown(ctx, ind, cells(ctx, ind, indicator_units(ctx, ind, ps)))
        sql = ibis.to_sql(by, dialect="duckdb") + ibis.to_sql(expand(ctx, ind, by), dialect="duckdb")
        assert 'SUM("' in sql and '"numerator"' in sql and '"denominator"' in sql, ind.id
        assert bool(squares.search(sql)) == (ind.sums_values or ind.measure == "mean"), ind.id
        assert bool(events.search(sql)) == ind.sums_values, ind.id
