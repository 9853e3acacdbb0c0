"""Compute the catalogue's counts for every period, geography and breakdown group."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
import functools
import itertools
import threading
import uuid

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from placewise.canonical import TABLES
from placewise.derive.events import EventRead, EventSource, EventTables, read_events
from placewise.derive.people import (
    ESP_TOP_BAND,
    GROUPS,
    PERSON_GROUPS,
    at_month_ends,
    person_attributes,
    population,
    population_cells,
    registered_spans,
    registrations,
)
from placewise.derive.records import Records, read_records
from placewise.derive.registers import all_members
from placewise.measure.catalogue import (
    ENGLAND,
    Catalogue,
    Expected,
    Indicator,
    Persons,
    Subset,
    criteria_of,
    registers_named,
)
from placewise.measure.compile import (
    Context,
    Periods,
    Side,
    by_breakdown,
    catalogue_event_reads,
    catalogue_record_queries,
    cells,
    expand,
    indicator_sides,
    indicator_units,
    placed,
    register_share,
    side_cells,
    side_key,
    sides_summed,
)
from placewise.measure.periods import ReportingRange, add_months, month_end, periods
from placewise.measure.returns import returned_counts
from placewise.warehouse.connection import table_names
from placewise.warehouse.engines import engine_for
from placewise.warehouse.engines.base import Engine

SHARED_TABLES = ("_placewise_people", "_placewise_registrations", "_placewise_population_cells", "_placewise_records")
"""Temporary tables a computation shares between indicators: person attributes, registration
intervals, the registered population at every period end in counted cells, and every coded record the
criteria and registers read, by person number."""
EVENTS_TABLE = "_placewise_events_"
"""Prefix of the temporary tables holding each event source's attributed events."""
REGISTER_SPANS_TABLE = "_placewise_register_spans"
"""Temporary table holding the used registers' spans met with the registration intervals, in month numbers
(:func:`placewise.derive.people.registered_spans`), from which the registers' members are expanded to period ends."""
REGISTERS_TABLE = "_placewise_registers"
"""Temporary table holding every used register's members at every period end, made in one pass; each register
reads its own rows from it. Narrow (register number, person number, period end, practice, age): a cohort joins its
people's breakdown groups back."""
CELLS_TABLE = "_placewise_cells_"
"""Prefix of the temporary table holding one indicator's cells by breakdown group while they are summed to each
geography (one each, as two indicators may run at once: :attr:`Engine.side_by_side`)."""
COHORT_TABLE = "_placewise_cohort_"
"""Prefix of the temporary tables holding a cohort drawn from coded records (people with an SMI code ever, at every
period end), numbered over the computation so that no two cohorts share one; each is dropped with its indicator's
cells."""
TEMPLATE_CELLS = "_placewise_cells_template"
"""The cells table's name in the template of an indicator's summing to each geography (:func:`_plan`): the same
template, and so its SQL, serves every indicator with the same geographies and breakdowns."""
TEMPLATE_ID = "_placewise_indicator_template"
"""The indicator id in that template."""
SIDES_TABLE = "_placewise_side_"
"""Prefix of the temporary tables holding a side's cells by breakdown group that several indicators share (e.g. the
registered population of the monthly rates, GP appointments counted by two indicators)."""

COUNTS_SCHEMA = pa.schema([
    ("indicator_id", pa.string()),
    ("period_start", pa.date32()),
    ("period_end", pa.date32()),
    ("geography_type", pa.string()),
    ("geography_code", pa.string()),
    ("breakdown", pa.string()),
    ("breakdown_group", pa.string()),
    ("standard_band", pa.int64()),
    ("numerator", pa.float64()),
    ("denominator", pa.float64()),
    ("sum_squares", pa.float64()),
    ("events", pa.float64()),
    ("median", pa.float64()),
])
"""The counts: one row per indicator × period × geography × breakdown group (× ESP age band for a DSR).

``numerator`` and ``denominator`` are sums over units (persons, events, expected cases or
returned figures); for a mean or median, ``numerator`` is the sum of the values, ``denominator``
the number of units and ``sum_squares`` the sum of squared values; ``median`` is set for medians. For a rate whose
numerator sums a value per event (bed days), ``sum_squares`` is the sum of the squared values and ``events`` the
number of events with a value other than 0 (an event of value 0 adds nothing to the sum or its variance); ``events``
is null for every other indicator.
``standard_band`` is the lower age of the 2013 ESP band for a directly standardised rate, else null.
"""

KEYS = ["indicator_id", "period_start", "period_end", "geography_type", "geography_code", "breakdown",
        "breakdown_group", "standard_band"]
LATEST_SOURCES = tuple((t.name, t.activity) for t in TABLES if t.activity)


def _latest_activity(con: ibis.BaseBackend) -> date | None:
    """The latest day with activity in the warehouse (admissions, GP appointments, clinical events), if any."""
    present = table_names(con)
    latest = [con.table(t)[c].max().to_pyarrow().as_py() for t, c in LATEST_SOURCES if t in present]
    found = [d.date() if isinstance(d, datetime) else d for d in latest if d is not None]
    return max(found) if found else None


def default_range(con: ibis.BaseBackend, months: int = 36) -> ReportingRange:
    """The ``months`` months ending with the latest month that has activity in the warehouse."""
    return _months_to(_latest_activity(con), months)


def _months_to(last: date | None, months: int = 36) -> ReportingRange:
    """The ``months`` months ending with the month of ``last``, the latest day with activity (none: an error)."""
    if last is None:
        raise ValueError("the warehouse has no activity to measure: inpatient spells, GP appointments and "
                         "clinical events are all empty")
    return ReportingRange(add_months(last, 1 - months), last)


def complete_to(con: ibis.BaseBackend) -> date | None:
    """The last day of the latest month with activity in the warehouse: the data are complete to then."""
    last = _latest_activity(con)
    return month_end(last) if last is not None else None


def followed_up(ps: list[tuple[date, date]], ind: Indicator, complete: date | None) -> list[tuple[date, date]]:
    """The periods whose follow-up (e.g. 30 days after discharge) lies wholly inside the data.

    A period whose last event cannot yet be followed for the whole window gets no figure, rather
    than a figure biased low by the follow-up that has not happened yet.
    """
    if not ind.follow_up_days or complete is None:
        return ps
    return [p for p in ps if p[1] + timedelta(days=ind.follow_up_days - 1) <= complete]


def _period_ends(rng: ReportingRange, indicators: list[Indicator]) -> list[date]:
    """Every distinct period end any of the indicators needs."""
    return sorted({p[1] for f in {i.frequency for i in indicators} for p in periods(rng, f)})


def compute(con: ibis.BaseBackend, catalogue: Catalogue, *, periods_range: ReportingRange | None = None,
            indicators: list[str] | None = None) -> pa.Table:
    """Counts for the chosen indicators (all by default) over the reporting range, as an Arrow table sorted by
    :data:`KEYS`."""
    parts = list(counts_by_indicator(con, catalogue, periods_range=periods_range, indicators=indicators))
    if not parts:
        return COUNTS_SCHEMA.empty_table()
    # Sorted by KEYS: each indicator's rows apart, then in order of id, so no row compares the ids (half the work).
    ordered = sorted(parts, key=lambda p: p[0].id)
    return pa.concat_tables([sort_by_keys(part, KEYS[1:]) for _, part in ordered])


def counts_by_indicator(con: ibis.BaseBackend, catalogue: Catalogue, *, periods_range: ReportingRange | None = None,
                        indicators: list[str] | None = None) -> Iterator[tuple[Indicator, pa.Table]]:
    """Each chosen indicator's counts (all by default) over the reporting range, unsorted, as its query finishes:
    the caller can work on one indicator's rows while the engine computes the next.

    One set-based query per indicator covers every period, geography and breakdown; the registered
    population at each period end is computed once and shared through a temporary table. Every indicator's queries
    are built first, then compiled to SQL on another thread while the engine runs the earlier ones
    (:func:`_pipelined`).
    """
    chosen = [catalogue.indicator(i) for i in indicators] if indicators else list(catalogue.indicators)
    last = _latest_activity(con)    # once: the range's end and how far the data are complete
    rng = periods_range or _months_to(last)
    ends = _period_ends(rng, chosen)
    if not ends:    # no period of any chosen indicator ends in the range (a year in a quarter's range): no rows
        yield from ((ind, COUNTS_SCHEMA.empty_table()) for ind in chosen)
        return
    engine = engine_for(con)
    with engine.workspace(), engine.settings(engine.analytic):
        complete = month_end(last) if last is not None else None
        work = [(ind, followed_up(periods(rng, ind.frequency), ind, complete)) for ind in chosen]
        reads = catalogue_event_reads(work, catalogue.age_bands)
        own = _own_names()
        shared = SharedSides(shared_keys(work), own)
        cohorts = itertools.count()
        first: list[Step] = []  # the shared tables' making, where a session beside makes them (below)
        try:
            # Where the engine runs a session beside, the shared tables are made there while this thread builds every
            # indicator's queries over them (their names and schemas are known before they exist); else made first.
            make = functools.partial(_made, con, first, kept=True) if engine.side_by_side > 1 else None
            ctx = _context(con, catalogue, ends, work, reads, own, make)
            yield from _pipelined(engine, ((ind, _plan(ctx, ind, ps, shared, cohorts, own)) for ind, ps in work),
                                  first)
        finally:
            for name in [*SHARED_TABLES, REGISTER_SPANS_TABLE, REGISTERS_TABLE, *(events_table(s) for s in reads)]:
                engine.drop_temp(own(name))
            for name in shared.names():
                engine.drop_temp(name)


def _dense_ranks(column: pa.ChunkedArray) -> tuple[np.ndarray, int]:
    """Each value's rank among the column's distinct values (1 for the least; a null after every value) and how
    many ranks there can be, counting 0."""
    encoded = pc.dictionary_encode(column.combine_chunks())
    ranks = pc.rank(encoded.dictionary, sort_keys="ascending", tiebreaker="dense")
    last = len(encoded.dictionary) + 1
    return pc.fill_null(pc.take(ranks, encoded.indices), last).to_numpy().astype(np.uint64), last + 1


def _packed_ranks(table: pa.Table, keys: list[str]) -> list[np.ndarray]:
    """Each row's ``keys`` as the ranks of their values among each column's distinct values (nulls last), packed into
    as few 64-bit words as hold them (usually one), most significant first: integers that order and group the rows
    as the keys do, without comparing strings row by row."""
    words: list[tuple[np.ndarray, int]] = []    # packed ranks, and how many values they can take
    for key in keys:
        ranks, n = _dense_ranks(table[key])
        if words and words[-1][1] * n <= 2**64:
            word, span = words[-1]
            words[-1] = (word * np.uint64(n) + ranks, span * n)
        else:
            words.append((ranks, n))
    return [w for w, _ in words]


def sort_by_keys(table: pa.Table, keys: list[str]) -> pa.Table:
    """The table in ascending order of ``keys``, nulls last: the order ``Table.sort_by`` gives, about three times
    faster on counts with many rows (a DSR's by ESP band), as the keys' packed ranks sort as integers."""
    return table.take(pa.array(np.lexsort(_packed_ranks(table, keys)[::-1])))


def key_groups(table: pa.Table, keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each row's group (the rows with equal ``keys``), numbered in ascending order of the keys (nulls last), and the
    first row of each group in that order: grouping in NumPy, without pandas."""
    words = _packed_ranks(table, keys)
    order = np.lexsort(words[::-1])
    starts = np.zeros(len(order), dtype=bool)
    starts[:1] = True
    for word in words:
        ordered = word[order]
        starts[1:] |= ordered[1:] != ordered[:-1]
    group = np.empty(len(order), dtype=np.int64)
    group[order] = np.cumsum(starts) - 1
    return group, order[starts]


def _own_names() -> Callable[[str], str]:
    """The names of one computation's temporary tables, each with the computation's own tag: two computations at once
    on one warehouse (in DuckDB's scratch database, which every connection of the process shares) never meet."""
    tag = uuid.uuid4().hex[:8]
    return lambda name: f"{name[:54]}_{tag}"    # within PostgreSQL's 63 bytes, which would cut the tag off


def _temp(con: ibis.BaseBackend, name: str, expr: ibis.Table, clustered_by: str | None = None) -> ibis.Table:
    """Materialise an expression as a temporary table (replacing any left over; :meth:`Engine.temp_table`)."""
    return engine_for(con).temp_table(name, expr, clustered_by)


def events_table(source: EventSource) -> str:
    """The temporary table holding a source's attributed events."""
    return f"{EVENTS_TABLE}{source[0]}_{source[1]}"


Make = Callable[[str, ir.Table, str | None], ir.Table]
"""Makes a temporary table of an expression, or has it made (``name, expr, clustered_by``; :func:`_temp`): the table,
for queries to read."""


def _context(con: ibis.BaseBackend, catalogue: Catalogue, period_ends: list[date],
             work: list[tuple[Indicator, Periods]], reads: dict[EventSource, EventRead],
             own: Callable[[str], str], make: Make | None = None) -> Context:
    """Materialise the tables every indicator shares, once per computation (under its ``own`` names): registers used by
    several included. Each is made by ``make``: by default at once, in order (:func:`_temp`); or added to a list of
    steps to run in order later, for the indicators' queries to be built over them meanwhile."""
    make = make or functools.partial(_temp, con)
    indicators = [ind for ind, _ in work]
    people, regs, cells, coded = map(own, SHARED_TABLES)
    attrs = make(people, person_attributes(con), None)
    intervals = make(regs, registrations(con, attrs), None)
    persons = population(intervals, attrs, period_ends)    # a query: registers and cohorts read only their people
    queries = catalogue_record_queries(catalogue, indicators)
    records = Records(make(coded, read_records(con, attrs, queries), "query"), tuple(queries))

    def registers() -> dict[str, ir.Table]:
        """The registers' tables, made from the coded records."""
        return _registers(catalogue, records, lambda s: _registered_at(make, s, intervals, attrs, period_ends, own),
                          indicators, own, make)

    def event_tables() -> EventTables:
        """The counted event tables, one per source."""
        return EventTables({s: make(own(events_table(s)), read_events(con, attrs, intervals, s, read), None)
                            for s, read in reads.items()})

    if engine_for(con).makes_shared_apart:  # the registers' chain (records, spans), the longest, made first
        on = registers()
        events = event_tables()
    else:
        events = event_tables()
        on = registers()
    counted = population_cells(intervals, attrs, period_ends, cell_ages(catalogue, indicators))
    if any(_counts_population(ind) for ind in indicators):  # else left as a query that no indicator runs
        counted = make(cells, counted, None)
    return Context(con, catalogue, attrs, intervals, persons, counted, records, events, on)


def _counts_population(ind: Indicator) -> bool:
    """Whether the indicator counts from the population cells: persons with no criteria, expected cases, or a share
    of the population on registers."""
    if isinstance(ind.numerator, Subset):
        return register_share(ind) is not None
    return any(isinstance(c, Expected) or (isinstance(c, Persons) and not c.criteria)
               for c in (ind.numerator, ind.denominator))


def cell_ages(catalogue: Catalogue, indicators: list[Indicator]) -> list[int]:
    """Every age at which a count drawn from the population cells can change: where an ESP 2013 band, a reporting
    age band, a counted age range without criteria or an expected-rate band starts, or just past where one ends."""
    ages = {*range(0, ESP_TOP_BAND + 1, 5), *catalogue.age_bands}
    for count in (c for ind in indicators for c in (ind.numerator, ind.denominator)):
        if isinstance(count, Persons):
            ages |= {count.age.min or 0, *([count.age.max + 1] if count.age.max is not None else [])}
        elif isinstance(count, Expected):
            ages |= {a for r in count.rates for a in (r.age_min, r.age_max + 1 if r.age_max is not None else None)
                     if a is not None}
    return sorted(ages)


def _registers(catalogue: Catalogue, records: Records, within: Callable[[ir.Table], ir.Table],
               indicators: list[Indicator], own: Callable[[str], str], make: Make) -> dict[str, ir.Table]:
    """Members of every register the indicators use, in one pass into one temporary table (``within`` gives the
    population rows inside spans): each register is a filter of it, not a copy of its rows."""
    used = sorted({r for ind in indicators for c in criteria_of(ind) for r in registers_named(c)})
    if not used:
        return {}
    every = make(own(REGISTERS_TABLE), all_members(records.coded, within, [catalogue.register(r) for r in used]), None)
    return {r: every.filter(every.register == i).drop("register") for i, r in enumerate(used)}


def _registered_at(make: Make, spans: ir.Table, intervals: ir.Table, attrs: ir.Table,
                   period_ends: list[date], own: Callable[[str], str]) -> ir.Table:
    """The registered population's rows inside the spans (``pid, practice_code``, the spans' other columns,
    ``period_end, age``; no groups), the spans met with the registrations in a temporary table first: in one query
    PostgreSQL worked each span's month numbers out again for every period end it tested."""
    held = registered_spans(spans, intervals, attrs).drop(*PERSON_GROUPS, GROUPS)
    return at_month_ends(make(own(REGISTER_SPANS_TABLE), held, None), period_ends)


def shared_keys(work: list[tuple[Indicator, Periods]]) -> set[str]:
    """The keys of the sides (:class:`Side`) more than one indicator sums: each is summed once and kept."""
    keys = Counter(side_key(ind, s, ps) for ind, ps in work if ps and not ind.is_returned
                   for s in indicator_sides(ind) or [])
    return {k for k, n in keys.items() if n > 1}


@dataclass(frozen=True)
class Step:
    """One query of an indicator's computation: made into temporary table ``name``, or its rows fetched (no name);
    ``sql`` once compiled. A table ``kept`` outlives the indicator (later indicators read it); the others are dropped
    once its steps have run. An ``expr`` several indicators share as a template has its placeholders' values in
    ``fill`` (placeholder, value), put into its SQL. A table ``clustered_by`` a column is made as
    :meth:`Engine.temp_table` says."""

    expr: ir.Table
    name: str | None = None
    sql: str = ""
    kept: bool = False
    fill: tuple[tuple[str, str], ...] = ()
    clustered_by: str | None = None


def _made(con: ibis.BaseBackend, steps: list[Step], name: str, expr: ir.Table, clustered_by: str | None = None, *,
          kept: bool = False) -> ir.Table:
    """Add the making of temporary table ``name`` from ``expr`` to the steps; the table, for later steps to read
    (by name: it exists once the steps before them have run)."""
    steps.append(Step(expr, name, kept=kept, clustered_by=clustered_by))
    return engine_for(con).temp_named(name, expr.schema())


@dataclass
class SharedSides:
    """The sides several indicators share, summed once into temporary tables as the first of them needs each."""

    keys: set[str]
    own: Callable[[str], str]
    """The computation's names (:func:`_own_names`)."""
    tables: dict[str, ir.Table] = field(default_factory=dict)
    read: list[str] = field(default_factory=list)
    """The tables a shared side is made from (a cohort drawn from coded records), kept with it."""

    def cells(self, ctx: Context, ind: Indicator, side: Side, ps: Periods, steps: list[Step]) -> ir.Table:
        """The side's cells by breakdown group: a query, or the shared temporary table (its making added to
        ``steps`` on first use, with the making of any table it reads, all kept: they run before any indicator's
        own steps, :func:`_pipelined`)."""
        key = side_key(ind, side, ps)
        if key not in self.keys:
            return side_cells(ctx, ind, side, ps)
        if key not in self.tables:
            first = len(steps)
            self.tables[key] = _made(ctx.con, steps, self.own(f"{SIDES_TABLE}{len(self.tables)}"),
                                      side_cells(ctx, ind, side, ps))
            self.read += [s.name for s in steps[first:-1] if s.name]
            steps[first:] = [replace(s, kept=True) for s in steps[first:]]
        return self.tables[key]

    def names(self) -> list[str]:
        """The temporary tables made."""
        return [*(self.own(f"{SIDES_TABLE}{i}") for i in range(len(self.tables))), *self.read]


def _plan(ctx: Context, ind: Indicator, ps: list[tuple[date, date]], shared: SharedSides,
          cohorts: Iterator[int], own: Callable[[str], str]) -> list[Step]:
    """The queries of one indicator's counts over its periods, in the order they run: any cohort drawn from coded
    records made a table (numbered from ``cohorts``), cells by breakdown group materialised once (where another
    indicator shares one of its sides, each side summed apart and the shared one read from its table, made by the
    first indicator that needs it), then summed to each geography level."""
    if not ps:
        return []
    if ind.is_returned:
        return [Step(returned_counts(ctx.table("aggregate_returns"), ctx.catalogue, ind, ps).select(*COUNTS_SCHEMA.names))]
    steps: list[Step] = []
    ctx = replace(ctx, materialised=lambda rows: _made(ctx.con, steps, own(f"{COHORT_TABLE}{next(cohorts)}"), rows))
    sides = indicator_sides(ind) or []
    if any(side_key(ind, s, ps) in shared.keys for s in sides):
        summed = sides_summed(ind, [placed(ind, s, shared.cells(ctx, ind, s, ps, steps)) for s in sides])
    else:   # summed in one pass: apart, each side would read the units again
        summed = by_breakdown(ctx, ind, cells(ctx, ind, indicator_units(ctx, ind, ps)))
    made = own(f"{CELLS_TABLE}{ind.id}")
    template = engine_for(ctx.con).temp_named(TEMPLATE_CELLS, _made(ctx.con, steps, made, summed).schema())
    expanded = expand(ctx, ind, template).mutate(indicator_id=ibis.literal(TEMPLATE_ID))
    steps.append(Step(expanded.select(*COUNTS_SCHEMA.names), fill=((TEMPLATE_CELLS, made),
                                                                    (f"'{TEMPLATE_ID}'", f"'{ind.id}'"))))
    if ENGLAND in ind.geographies:
        national = returned_counts(ctx.table("aggregate_returns"), ctx.catalogue, ind, ps)
        steps.append(Step(national.filter(national.geography_type == ENGLAND).select(*COUNTS_SCHEMA.names)))
    return steps


def _compiled(engine: Engine, steps: list[Step], done: dict[ops.Node, str]) -> list[Step]:
    """The steps with their SQL, each distinct expression compiled once per computation (``done``: a template
    shared by indicators), its placeholders filled."""
    return [replace(s, sql=functools.reduce(lambda sql, f: sql.replace(*f), s.fill, _sql(engine, s.expr, done)))
            for s in steps]


def _sql(engine: Engine, expr: ir.Table, done: dict[ops.Node, str]) -> str:
    """The expression's SQL, compiled unless already in ``done`` (Ibis's expressions compare by content)."""
    node = expr.op()
    if node not in done:
        done[node] = engine.compile(expr)
    return done[node]


def _run(engine: Engine, steps: list[Step]) -> pa.Table:
    """Run compiled steps in order; the rows they fetch, in the counts schema (the indicator's own tables dropped)."""
    parts = []
    try:
        for s in steps:
            if s.name:
                engine.temp_table_of(s.name, s.expr, s.sql, s.clustered_by)
            else:
                parts.append(engine.arrow_of(s.expr, s.sql).cast(COUNTS_SCHEMA))
    finally:
        for s in steps:
            if s.name and not s.kept:
                engine.drop_temp(s.name)
    return pa.concat_tables(parts) if parts else COUNTS_SCHEMA.empty_table()


class _Sessions:
    """The engine's session and as many more beside it as it runs side by side (:attr:`Engine.side_by_side`), plus
    one where ``apart`` (so that as many query lists as run side by side can all run beside), each taken by one query
    list at a time, with the measure workload's settings. A query list may ask for a session beside: the shared
    tables (:func:`_pipelined`) leave the engine's own session to the thread that builds the indicators' queries
    (which asks it for warehouse tables' schemas)."""

    def __init__(self, engine: Engine, stack: ExitStack, apart: bool = False) -> None:
        self.engine = engine
        self.free: list[Engine] = []
        self.waiting: list[tuple[int, list[Future[pa.Table]]]] = []   # each waiting query list's turn and reads
        self.ready = threading.Condition()
        for _ in range(engine.side_by_side - (0 if apart else 1)):
            other = engine.beside()
            if other is None:
                break
            stack.callback(other.close)
            stack.enter_context(other.settings(other.analytic))
            self.free.append(other)
        self.beside = bool(self.free)
        self.free.append(engine)

    def _take(self, beside: bool, turn: int, after: list[Future[pa.Table]]) -> Engine:
        """A free session: one beside first, the engine's own only if none is free (or, where ``beside``, only if
        there is no session beside at all); of the query lists waiting whose ``after`` have run, the one of the lowest
        ``turn`` first (the first to ask among equal turns)."""
        me = (turn, after)
        with self.ready:
            self.waiting.append(me)
            while self._next() is not me or not (
                    found := [e for e in self.free if not (beside and self.beside and e is self.engine)]):
                self.ready.wait()
            self.waiting = [w for w in self.waiting if w is not me]
            self.free.remove(found[0])
            self.ready.notify_all()     # the next in turn may take another free session
            return found[0]

    def _next(self) -> tuple[int, list[Future[pa.Table]]] | None:
        """The waiting query list whose turn it is: the lowest turn among those whose reads have run."""
        return min((w for w in self.waiting if all(f.done() for f in w[1])), key=lambda w: w[0], default=None)

    def wake(self, _: Future[pa.Table]) -> None:
        """A query list has run: one waiting for it may now take its turn."""
        with self.ready:
            self.ready.notify_all()

    def _give(self, session: Engine) -> None:
        """The session back: the engine's own last in line."""
        with self.ready:
            self.free.insert(len(self.free) if session is self.engine else 0, session)
            self.ready.notify_all()

    def run(self, compiled: Callable[[], list[Step]], after: Iterable[Future[pa.Table]] = (),
            beside: bool = False, turn: int = 0) -> pa.Table:
        """Run the steps (compiled when asked for) on the next free session (one beside the engine's own where
        ``beside``), once the query lists ``after`` have run (each given :meth:`wake` when done), before any waiting
        with a later ``turn``."""
        after = list(after)
        session = self._take(beside, turn, after)
        try:
            for f in after:
                f.result()  # a table it reads failed: so does it
            return _run(session, compiled())
        finally:
            self._give(session)


def _reads(step: Step, made: dict[str, Future[pa.Table]]) -> list[Future[pa.Table]]:
    """The makings, among ``made`` (by table name), of the tables the step reads."""
    names = {t.name for t in step.expr.op().find(ops.PhysicalTable)}
    return [f for name, f in made.items() if name in names]


def _pipelined(engine: Engine, plans: Iterable[tuple[Indicator, list[Step]]],
               first: list[Step] | None = None) -> Iterator[tuple[Indicator, pa.Table]]:
    """Each indicator's counts, its steps run in order, as many indicators at once as the engine runs side by side
    (:attr:`Engine.side_by_side`) once every shared side's table is made; where the engine allows
    (:attr:`Engine.compiles_aside`) the steps are compiled on another thread, ahead, while the engine runs the
    earlier ones (Ibis's compiling is Python that would otherwise hold the engine up for about 0.1 s an
    indicator).

    The ``first`` steps (the shared tables every plan reads, all kept) run before any other, on sessions beside while
    this thread builds the ``plans`` (a few seconds of Python that would otherwise hold the engine up): each compiled
    on its own and made as soon as the tables it reads are, as many at once as the engine runs side by side (the
    event tables, the coded records and the population cells need only the people and their registrations), each
    taking a free session in its turn (the order made) once the tables it reads are made. Where the engine makes them
    apart (:attr:`Engine.makes_shared_apart`) each waits on a thread of its own, so that one waiting (the registers,
    for their spans) leaves the sessions to those that can run: on PostgreSQL at scale 0.2 a session stood idle for
    3.7 s while the registers waited and the population cells queued behind them; else on as many threads as
    sessions."""
    with ExitStack() as stack:
        sessions = _Sessions(engine, stack, apart=bool(first))
        runner, compiler = ThreadPoolExecutor(max_workers=engine.side_by_side), ThreadPoolExecutor(max_workers=1)
        makers = ThreadPoolExecutor(max_workers=max(len(first or []), 1) if engine.makes_shared_apart
                                    else engine.side_by_side)
        stack.callback(runner.shutdown, cancel_futures=True)
        stack.callback(makers.shutdown, cancel_futures=True)
        stack.callback(compiler.shutdown, cancel_futures=True)

        done: dict[ops.Node, str] = {}

        def compiled(steps: list[Step]) -> Callable[[], list[Step]]:
            """The steps' compiling: ahead on the compiler's thread, or in line when the runner asks."""
            if not engine.compiles_aside:
                return lambda: _compiled(engine, steps, done)
            return compiler.submit(_compiled, engine, steps, done).result

        made: dict[str, Future[pa.Table]] = {}
        for turn, step in enumerate(first or []):   # in order, so that a step's tables are made before it waits
            made[step.name or ""] = makers.submit(sessions.run, compiled([step]), _reads(step, made), beside=True,
                                                  turn=turn)
            made[step.name or ""].add_done_callback(sessions.wake)
        plans = list(plans)
        sides = [compiled(kept) for _, steps in plans if (kept := [s for s in steps if s.kept])]
        ahead = [(ind, compiled([s for s in steps if not s.kept])) for ind, steps in plans]
        for f in made.values():
            f.result()
        made_sides = [runner.submit(sessions.run, c) for c in sides]
        for m in made_sides:
            m.result()
        running = [(ind, runner.submit(sessions.run, c)) for ind, c in ahead]
        yield from ((ind, r.result()) for ind, r in running)
