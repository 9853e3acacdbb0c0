"""Who a person is and where they were registered, at any date: the attributes every definition shares.

Everything here is an Ibis expression over the warehouse, so it compiles once and runs on every
engine. People are numbered (:data:`PID`) within one computation, which is far cheaper to join on
than the 64-character pseudonym.
"""

from __future__ import annotations

from datetime import date, timedelta
from itertools import product

import ibis
import ibis.expr.types as ir

from placewise.canonical import ETHNIC_CATEGORIES, PERSON_KEY, SEXES

PID = "pid"
"""A person's number within one computation."""
ESP_TOP_BAND = 90
"""The 2013 European Standard Population's five-year age bands end with 90 and over."""
OPEN_END = date(9999, 12, 31)
"""The end an open registration sorts as: an open registration ends later than any closed one."""
PERSON_GROUPS = ["imd_quintile", "ethnic_group", "sex"]
"""A person's breakdown groups (text labels), the same at every date."""
IMD_QUINTILES = ("1", "2", "3", "4", "5", "Unknown")
ETHNIC_GROUPS = tuple(sorted({group for _, group in ETHNIC_CATEGORIES.values()} | {"Not known"}))
GROUPS = "groups"
"""A person's breakdown groups as one small number (:func:`group_labels`), cheaper to sort and sum by than text."""
GROUP_LABELS = {"imd_quintile": IMD_QUINTILES, "ethnic_group": ETHNIC_GROUPS, "sex": SEXES}
"""Each of :data:`PERSON_GROUPS` with its labels, in the order :data:`GROUPS` numbers them."""
GROUP_PARTS = {"imd_quintile": (1, len(IMD_QUINTILES)), "ethnic_group": (len(IMD_QUINTILES), len(ETHNIC_GROUPS)),
               "sex": (len(IMD_QUINTILES) * len(ETHNIC_GROUPS), len(SEXES))}
"""Each breakdown group within the groups' number (:data:`GROUPS`): its place value and how many labels it has."""
POPULATION_DIMS = ["period_end", "practice_code", *PERSON_GROUPS, GROUPS, "age"]
"""The columns of a row of the registered population besides the person number."""


def age_at(d: ir.DateValue, birth_year: ir.IntegerValue, birth_month: ir.IntegerValue) -> ir.IntegerValue:
    """Age in whole years at ``d``, taking the birthday as the first of the birth month."""
    return age_in_month(d.year() * 12 + d.month(), birth_year, birth_month)


def age_in_month(m: ir.IntegerValue, birth_year: ir.IntegerValue, birth_month: ir.IntegerValue) -> ir.IntegerValue:
    """Age in whole years in month ``m`` (year x 12 + month, :func:`month_number`), the birthday the first of the
    birth month: :func:`age_at` for a month number already known."""
    return ((m - birth_year * 12 - birth_month) // 12).cast("int64")


def standard_band(age: ir.IntegerValue) -> ir.IntegerValue:
    """Lower bound of the person's 2013 ESP five-year age band (0, 5, …, 90)."""
    return ibis.least((age // 5) * 5, ESP_TOP_BAND).cast("int64")


def person_attributes(con: ibis.BaseBackend) -> ir.Table:
    """Every person's number (:data:`PID`) and attributes: sex, ONS ethnic group, IMD quintile, birth, death."""
    people = con.table("people")
    geo = con.table("geography")
    j = people.left_join(geo, people.lsoa_code == geo.lsoa_code)
    ethnic = {code: group for code, (_, group) in ETHNIC_CATEGORIES.items()}
    a = j.select(
        PERSON_KEY,
        pid=ibis.row_number().over(ibis.window()),
        sex=j.sex.fill_null("unknown"),
        ethnic_group=j.ethnicity.substitute(ethnic, else_="Not known"),
        imd_quintile=((j.imd_decile + 1) // 2).cast("string").fill_null("Unknown"),
        birth_year=j.birth_year,
        birth_month=j.birth_month,
        date_of_death=j.date_of_death,
    )
    return group_number(a)


def group_number(t: ir.Table) -> ir.Table:
    """People with their breakdown groups' labels (:data:`PERSON_GROUPS`) also as one number (:data:`GROUPS`)."""
    imd, ethnic_group, sex = (_numbered(t[g], labels) * GROUP_PARTS[g][0] for g, labels in GROUP_LABELS.items())
    return t.mutate(**{GROUPS: (imd + ethnic_group + sex).cast("int16")})


def _numbered(label: ir.StringValue, labels: tuple[str, ...]) -> ir.IntegerValue:
    """The label's place in ``labels`` (validated at ingest, so always there)."""
    return label.substitute({x: i for i, x in enumerate(labels)}, else_=ibis.null("int64"))


def group_labels() -> ir.Table:
    """Each :data:`GROUPS` number with its breakdown groups' labels (:data:`PERSON_GROUPS`)."""
    rows = list(product(SEXES, ETHNIC_GROUPS, IMD_QUINTILES))
    return ibis.memtable({GROUPS: list(range(len(rows))), "imd_quintile": [r[2] for r in rows],
                          "ethnic_group": [r[1] for r in rows], "sex": [r[0] for r in rows]},
                         schema={GROUPS: "int16", "imd_quintile": "string", "ethnic_group": "string", "sex": "string"})


def as_date(d: ir.DateValue) -> ir.DateValue:
    """A day worked out by date arithmetic, as a date on every engine: Ibis types date ± interval as a date and so
    drops a cast to date, but DuckDB and PostgreSQL give a timestamp, which every join, window and comparison with a
    date then converts row by row (or pair by pair)."""
    return d.cast("timestamp").date()


def _day_after(d: ir.DateValue) -> ir.DateValue:
    """The next calendar day, as a date on every engine."""
    return as_date(d + ibis.interval(days=1))


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
    segs = cuts.mutate(s_end=as_date(cuts.b.lead().over(w) - ibis.interval(days=1)))
    segs = segs.rename(s_pid=PID)
    j = segs.join(r, [segs.s_pid == r[PID], r.start_date <= segs.b, r.end_date.isnull() | (r.end_date >= segs.b)])
    rank = ibis.row_number().over(ibis.window(
        group_by=[j.s_pid, j.b],
        order_by=[j.start_date.desc(), j.end_date.fill_null(OPEN_END).desc(), j.practice_code.desc()]))
    j = j.mutate(_rank=rank)
    won = j.filter(j._rank == 0)
    return won.select(pid=won.s_pid, practice_code=won.practice_code, start_date=won.b, end_date=won.s_end)


def _open_ended(intervals: ir.Table) -> ir.Table:
    """Registration intervals with ``_until``: the last day, :data:`OPEN_END` if open, filled once per interval so
    that a range join compares plain dates rather than testing for null on every pair it meets."""
    return intervals.mutate(_until=intervals.end_date.fill_null(OPEN_END))


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
        sex=j.sex, groups=j[GROUPS], age=age_at(j.period_end, j.birth_year, j.birth_month),
    )


def month_number(d: ir.DateValue) -> ir.IntegerValue:
    """The month of day ``d`` as one number, year x 12 + month, so that whole months compare as integers."""
    return (d.year() * 12 + d.month()).cast("int64")


def month_numbers(period_ends: list[date]) -> list[int]:
    """Each period end's :func:`month_number`; every period end must be the last day of a month."""
    odd = [e for e in period_ends if (e + timedelta(days=1)).day != 1]
    if odd:
        raise ValueError(f"period ends must be the last day of a month: {odd[0].isoformat()} is not")
    return [e.year * 12 + e.month for e in period_ends]


def population_in(spans: ir.Table, intervals: ir.Table, attrs: ir.Table, period_ends: list[date]) -> ir.Table:
    """The :func:`population` rows at the period ends inside one of their person's ``spans`` (``pid, start, stop``:
    from ``start`` up to the day before ``stop``), with the spans' other columns.

    Each span meets its person's registration intervals first (:func:`registered_spans`), so only the spans'
    people are expanded to period ends (:func:`at_month_ends`), not the whole population.
    """
    month_numbers(period_ends)  # the period ends checked first, whatever the tables
    extra = [c for c in spans.columns if c not in (PID, "start", "stop")]
    return at_month_ends(registered_spans(spans, intervals, attrs), period_ends).select(PID, *POPULATION_DIMS, *extra)


def registered_spans(spans: ir.Table, intervals: ir.Table, attrs: ir.Table) -> ir.Table:
    """Each span (``pid, start, stop``) met with its person's registration intervals while alive, in whole months:
    ``pid, practice_code``, the person's groups, the spans' other columns, and as month numbers (:func:`month_number`)
    ``_born``, ``_first`` (the first month held) and ``_past`` (the first month not held: that of ``stop``, of the day
    after the registration ends, or of the day of death). Only spans holding a month end are kept.
    """
    extra = [c for c in spans.columns if c not in (PID, "start", "stop")]
    # Month numbers are worked out once per span, interval and person, not for every pair the joins meet.
    s = spans.select(*extra, s_pid=spans[PID], start=spans.start, stop=spans.stop, _s_first=month_number(spans.start),
                     _s_past=month_number(spans.stop))
    i = _open_ended(intervals)
    i = i.select(PID, "practice_code", "start_date", "_until", _i_first=month_number(i.start_date),
                 _i_past=month_number(_day_after(i.end_date)))
    a = attrs.select(PID, *PERSON_GROUPS, GROUPS, _born=(attrs.birth_year * 12 + attrs.birth_month).cast("int64"),
                     _died=month_number(attrs.date_of_death))
    j = s.join(i, [s.s_pid == i[PID], i.start_date < s.stop, i._until >= s.start])
    j = j.join(a, PID)
    j = j.select(PID, "practice_code", *PERSON_GROUPS, GROUPS, *extra, "_born",
                 _first=ibis.greatest(j._s_first, j._i_first),
                 _past=ibis.least(j._s_past, j._i_past.fill_null(j._s_past), j._died.fill_null(j._s_past)))
    return j.filter(j._first < j._past)


def at_month_ends(held: ir.Table, period_ends: list[date]) -> ir.Table:
    """Rows of :func:`registered_spans` (or any of their columns with ``_born, _first, _past``) at each period end
    they hold, with ``period_end`` and ``age`` in place of the month numbers.

    The period ends are month ends, so a span holds those from the first in or after month ``_first`` up to before
    the first in or after month ``_past``: the two indexes (:func:`_ends_before`) meet the runs of period ends
    (:func:`_runs`) by an equi-join, not a range join, and ages are worked out on integers, not dates.
    """
    ends = sorted(set(period_ends))
    months = month_numbers(ends)
    h = held.mutate(_i=_ends_before(held._first, months), _j=_ends_before(held._past, months))
    runs = _runs(ends)
    r = h.join(runs, [h._i == runs.i, h._j == runs.j])
    r = r.mutate(age=((r.m - r._born) // 12).cast("int64"))
    return r.drop("m", "i", "j", "_i", "_j", "_born", "_first", "_past")


def _runs(period_ends: list[date]) -> ir.Table:
    """Every run of the sorted period ends by index, from ``i`` up to before ``j`` (``0 <= i < j <= len``), with each
    period end in it and its month number: ``i, j, period_end, m``. A table of a few thousand rows (8,436 for 36
    months) that lets a span or a count holding from one period end to before another meet its period ends by an
    equi-join on ``i, j``, which every engine hashes, where a range join sorts or compares every pair."""
    ends = sorted(set(period_ends))
    months = month_numbers(ends)
    rows = [(i, j, k) for i in range(len(ends)) for j in range(i + 1, len(ends) + 1) for k in range(i, j)]
    return ibis.memtable({"i": [r[0] for r in rows], "j": [r[1] for r in rows],
                          "period_end": [ends[r[2]] for r in rows], "m": [months[r[2]] for r in rows]},
                         schema={"i": "int64", "j": "int64", "period_end": "date", "m": "int64"})


def with_groups(rows: ir.Table, attrs: ir.Table) -> ir.Table:
    """Rows by person number (``pid, period_end, practice_code, age``) with each person's breakdown groups joined back
    from the attributes: the population's columns (:data:`POPULATION_DIMS`), in its order."""
    return rows.join(attrs.select(PID, *PERSON_GROUPS, GROUPS), PID).select(PID, *POPULATION_DIMS)


def _at_or_above(x: ir.Value, bounds: list, values: list, below: ir.Value) -> ir.Value:
    """The value of the highest of the sorted ``bounds`` that ``x`` reaches (``below`` if none, or if ``x`` is null),
    by halving: a few comparisons a row however many bounds."""
    if not bounds:
        return below
    mid = len(bounds) // 2
    return ibis.ifelse(x >= bounds[mid], _at_or_above(x, bounds[mid + 1:], values[mid + 1:], values[mid]),
                       _at_or_above(x, bounds[:mid], values[:mid], below))


def age_group(age: ir.IntegerValue, lowers: list[int]) -> ir.IntegerValue:
    """The lowest age of the group ``age`` falls in, groups starting at each of ``lowers``; younger ages keep their own."""
    bounds = sorted(set(lowers))
    return _at_or_above(age, bounds, [ibis.literal(b, "int64") for b in bounds], age.cast("int64")).cast("int64")


def _ends_before(m: ir.IntegerValue, months: list[int]) -> ir.IntegerValue:
    """How many of the period ends (sorted, by :func:`month_numbers`) fall in a month before month number ``m``:
    the period ends before the first day of that month."""
    return _at_or_above(m, [n + 1 for n in months], [ibis.literal(i + 1, "int64") for i in range(len(months))],
                        ibis.literal(0, "int64"))


CELL_KEYS = ["practice_code", GROUPS]
"""What a population cell is counted by besides its period end and age (the groups as one number, labelled once
counted)."""


def _registered_spans(intervals: ir.Table, attrs: ir.Table, ends: list[date]) -> ir.Table:
    """Registration intervals clipped to the period ends' months and cut short the day before death: ``s, t`` (first
    and last day counted), the cell's keys, as month numbers (:func:`month_number`) ``born``, ``ms`` (that of ``s``)
    and ``mp`` (that of the day after ``t``), and the age on each of the two days (``a0``, ``a1``)."""
    last = ibis.literal(ends[-1], "date")
    j = intervals.join(attrs, PID)
    # Days before the first period end's month all fall before it, with its age: start from that month.
    first = ibis.literal(date(ends[0].year, ends[0].month, 1), "date")
    died = as_date(j.date_of_death - ibis.interval(days=1))
    s = j.select(*CELL_KEYS, born=(j.birth_year * 12 + j.birth_month).cast("int64"),
                 s=ibis.greatest(j.start_date, first), t=ibis.least(j.end_date.fill_null(last), died.fill_null(last), last))
    s = s.filter(s.s <= s.t)
    return s.select(*CELL_KEYS, "born", ms=month_number(s.s), mp=month_number(_day_after(s.t)),
                    a0=((month_number(s.s) - s.born) // 12).cast("int64"),
                    a1=((month_number(s.t) - s.born) // 12).cast("int64"))


def _birthdays(lowers: list[int], most: int) -> ir.Table:
    """The birthdays at which the age group changes, for every way a span's ages can run: ``a`` (the age at its
    start, :func:`_age_key`), ``d`` (how many years older it ends, 1 to ``most``) and ``k`` (the change to age
    ``a + k``, one row each). A few hundred rows, met with the spans by an equi-join on ``a, d``: each row it makes is
    a step kept, where a join on ``k <= d`` made every birthday (3.1 million at scale 1.0) for a filter to keep a
    quarter. Ages below the first of ``lowers`` are their own groups (:func:`age_group`), so below the table every
    birthday changes the group, and above it none does."""
    bounds = sorted(set(lowers))
    lo, hi = _age_keys(bounds, most)

    def group(a: int) -> int:
        return max((b for b in bounds if b <= a), default=a)

    rows = [(a, d, k) for a in range(lo, hi + 1) for d in range(1, most + 1) for k in range(1, d + 1)
            if group(a + k) != group(a + k - 1)]
    return ibis.memtable({"a": [r[0] for r in rows], "d": [r[1] for r in rows], "k": [r[2] for r in rows]},
                         schema={"a": "int64", "d": "int64", "k": "int64"})


def _age_keys(bounds: list[int], most: int) -> tuple[int, int]:
    """The ages at a span's start that :func:`_birthdays` lists (from, to): any younger changes group at every
    birthday up to ``most`` years on, as the youngest listed does; any older never does, as the oldest listed."""
    lo = (bounds[0] if bounds else 0) - most - 1
    return lo, (bounds[-1] if bounds else lo)


def _steps(s: ir.Table, ends: list[date], lowers: list[int]) -> ir.Table:
    """+1 to a span's cell at the first period end it covers and -1 after its last, and at each birthday inside it
    that changes the age group (:func:`_birthdays`), -1 to the old group and +1 to the new: the cell keys, ``age``
    (group; single years without ``lowers``), ``i`` (the index of the period end from which the step counts) and
    ``d``."""
    up, down = ibis.literal(1, "int64"), ibis.literal(-1, "int64")
    months = month_numbers(ends)

    def group(a: ir.IntegerValue) -> ir.IntegerValue:
        return age_group(a, lowers) if lowers else a

    steps = [s.select(*CELL_KEYS, age=group(s.a0), i=_ends_before(s.ms, months), d=up),
             s.select(*CELL_KEYS, age=group(s.a1), i=_ends_before(s.mp, months), d=down)]
    most = ends[-1].year - ends[0].year + 1         # a span runs from the first period end's month to the last's
    lo, hi = _age_keys(sorted(set(lowers)), most)
    k = s.mutate(_a=ibis.greatest(ibis.least(s.a0, hi), lo), _d=s.a1 - s.a0)
    changes = _birthdays(lowers, most)
    b = k.join(changes, [k._a == changes.a, k._d == changes.d])
    b = b.mutate(_age=b.a0 + b.k)
    b = b.mutate(_i=_ends_before(b.born + b._age * 12, months))
    steps += [b.select(*CELL_KEYS, age=group(b._age), i=b._i, d=up),
              b.select(*CELL_KEYS, age=group(b._age - 1), i=b._i, d=down)]
    u = steps[0].union(*steps[1:])
    return u.filter(u.i < len(ends))


def population_cells(intervals: ir.Table, attrs: ir.Table, period_ends: list[date],
                     age_lowers: list[int] | None = None) -> ir.Table:
    """The :func:`population` counted in cells (period end, practice, breakdown groups, age), from registration spans.

    With ``age_lowers``, ``age`` is the lowest age of its group (:func:`age_group`): far fewer cells, and the same
    sums for every use that only compares ages with those bounds (age ranges, reporting and ESP bands); without,
    single years. Steps up and down where each registration starts, ends (or its person dies) and changes age group
    are summed by cell and period end, and a running sum over the period ends counts each cell: the work grows with
    registrations, not with persons x period ends.
    """
    ends = sorted(set(period_ends))
    u = _steps(_registered_spans(intervals, attrs, ends), ends, age_lowers or [])
    # The numbers first: an engine that sorts the cells' steps for the running sum (PostgreSQL) compares the practice
    # codes' text only between steps of the same groups and age.
    cell = [GROUPS, "age", "practice_code"]
    c = u.group_by([*cell, "i"]).aggregate(d=u.d.sum())
    w = ibis.window(group_by=[c[k] for k in cell], order_by=c.i)
    c = c.mutate(n=c.d.sum().over(ibis.cumulative_window(group_by=[c[k] for k in cell], order_by=c.i)).cast("int64"),
                 _next=c.i.lead().over(w).fill_null(len(ends)))
    c = c.filter(c.n != 0)
    runs = _runs(ends)
    x = c.join(runs, [c.i == runs.i, c._next == runs.j])      # each count holds until the cell's next step
    x = x.join(group_labels(), GROUPS)
    return x.select(*POPULATION_DIMS, n=x.n)


def attribute(events: ir.Table, intervals: ir.Table, day: str = "d", days: tuple[date, date] | None = None
              ) -> ir.Table:
    """Events (keyed by :data:`PID`) with ``practice_code``: where the person was registered on the event's day.

    Not where they are at the period end, so admissions of people who later died or moved away
    count where they happened; an event on a day with no registration has no practice.

    ``days`` (first, last), where given, holds every event's day: the registrations ending before it or starting
    after it, which no event can meet, are left out of the join. Fewer rows to hash, and DuckDB, estimating the rest
    as a fraction of the registrations, then hashes them rather than the events (it hashed a source's millions of
    events where their date filter had made them look fewer than the registrations: about three times the work).
    """
    r = _open_ended(intervals)
    if days is not None:
        r = r.filter((r.start_date <= days[1]) & (r._until >= days[0]))
    r = r.select(r_pid=r[PID], r_start=r.start_date, r_until=r._until, practice_code=r.practice_code)
    j = events.left_join(r, [events[PID] == r.r_pid, r.r_start <= events[day], r.r_until >= events[day]])
    return j.select(*events.columns, "practice_code")
