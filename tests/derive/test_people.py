"""Registration intervals by the GP-extract rule, population at a date, and events attributed when they happened."""

from __future__ import annotations

from datetime import date, timedelta

import ibis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from measure_builder import Warehouse

from placewise.canonical import SEXES
from placewise.derive.people import (
    ETHNIC_GROUPS,
    GROUPS,
    IMD_QUINTILES,
    PID,
    POPULATION_DIMS,
    age_group,
    attribute,
    group_number,
    person_attributes,
    population,
    population_cells,
    population_in,
    registrations,
)
from placewise.measure.periods import month_end


def _intervals(w: Warehouse, con: ibis.BaseBackend) -> tuple[ibis.Table, ibis.Table, dict[int, str]]:
    """Attributes, intervals, and person number → person id."""
    w.load(con)
    attrs = con.create_table("a", person_attributes(con), temp=True)
    ids = dict(zip(*[attrs.select(PID, "person_id").to_pyarrow().column(c).to_pylist() for c in (PID, "person_id")]))
    return attrs, registrations(con, attrs), ids


def _history(w: Warehouse, con: ibis.BaseBackend, person: str) -> list[tuple]:
    """One person's intervals as (practice, start, end), in order."""
    _attrs, r, ids = _intervals(w, con)
    pid = next(k for k, v in ids.items() if v == person)
    t = r.filter(r[PID] == pid).order_by("start_date").to_pyarrow().to_pylist()
    return [(x["practice_code"], x["start_date"], x["end_date"]) for x in t]


def test_temporary_registration_elsewhere_returns_the_person_to_the_first_practice(connect):
    w = Warehouse()
    w.person("a", practice="P1", registered=date(2020, 1, 1))               # open registration
    w.register("a", "P3", date(2023, 6, 1), date(2023, 8, 31))             # temporary, later start
    assert _history(w, connect(), "a") == [
        ("P1", date(2020, 1, 1), date(2023, 5, 31)),
        ("P3", date(2023, 6, 1), date(2023, 8, 31)),
        ("P1", date(2023, 9, 1), None),                                   # back at P1, not nowhere
    ]


def test_same_day_starts_latest_end_then_highest_practice_code(connect):
    w = Warehouse()
    w.person("b", practice="P1", registered=date(2022, 1, 1), left=date(2022, 12, 31))
    w.register("b", "P2", date(2022, 1, 1))                                  # same start, open: ends latest
    w.person("c", practice="P2", registered=date(2022, 1, 1), left=date(2022, 3, 31))
    w.register("c", "P3", date(2022, 1, 1), date(2022, 3, 31))              # same start and end: P3 > P2
    con = connect()
    _attrs, r, ids = _intervals(w, con)
    rows = {(ids[x[PID]], x["practice_code"], x["start_date"], x["end_date"]) for x in r.to_pyarrow().to_pylist()}
    assert rows == {("b", "P2", date(2022, 1, 1), date(2022, 12, 31)), ("b", "P2", date(2023, 1, 1), None),
                    ("c", "P3", date(2022, 1, 1), date(2022, 3, 31))}


def test_population_at_a_date_excludes_the_dead_and_the_departed(connect):
    w = Warehouse()
    w.person("alive", born=(1950, 6))
    w.person("dead", died=date(2024, 3, 15), left=date(2024, 3, 15))
    w.person("gone", left=date(2024, 1, 31))
    w.person("back", practice="P1", registered=date(2020, 1, 1), left=date(2023, 12, 31))
    w.register("back", "P3", date(2024, 3, 1))
    con = connect()
    attrs, r, ids = _intervals(w, con)
    pop = population(r, attrs, [date(2024, 2, 29), date(2024, 3, 31)]).to_pyarrow().to_pylist()
    got = {(ids[x[PID]], x["period_end"], x["practice_code"], x["age"]) for x in pop}
    assert got == {("alive", date(2024, 2, 29), "P1", 73), ("alive", date(2024, 3, 31), "P1", 73),
                   ("dead", date(2024, 2, 29), "P1", 54), ("back", date(2024, 3, 31), "P3", 54)}


def _cells(rows: list[dict]) -> dict[tuple, int]:
    """Cells as {(period end, practice, IMD quintile, ethnic group, sex, age): n}, zero counts absent (the groups'
    number is checked against the labels apart)."""
    return {tuple(x[c] for c in POPULATION_DIMS if c != GROUPS): x["n"] for x in rows}


def _grouped(con: ibis.BaseBackend, pop: ibis.Table, lowers: list[int] | None) -> dict[tuple, int]:
    """The person-level population counted by cell the plain way: one row per person and period end, grouped."""
    if lowers:
        pop = pop.mutate(age=age_group(pop.age, lowers))
    return _cells(con.to_pyarrow(pop.group_by(POPULATION_DIMS).aggregate(n=pop.count())).to_pylist())


def test_population_cells_by_age_group_hold_the_same_people_as_by_single_year(connect):
    w = Warehouse()
    for i, year in enumerate((2007, 2006, 2006, 1990, 1959, 1958, 1958)):    # aged 17, 18 (x2), 34, 65, 66 (x2)
        w.person(f"p{i}", born=(year, 1), sex="male" if i % 2 else "female")
    con = connect()
    attrs, r, _ids = _intervals(w, con)
    ends = [date(2024, 3, 31)]
    single = population_cells(r, attrs, ends).to_pyarrow().to_pylist()
    grouped = population_cells(r, attrs, ends, [65, 0, 18]).to_pyarrow().to_pylist()
    assert sorted(x["age"] for x in single) == [17, 18, 18, 34, 65, 66, 66]
    assert {(x["sex"], x["age"], x["n"]) for x in grouped} == {
        ("female", 0, 1), ("male", 18, 2), ("female", 18, 1), ("female", 65, 2), ("male", 65, 1)}
    assert sum(x["n"] for x in grouped) == sum(x["n"] for x in single) == 7


def test_population_cells_follow_birthdays_moves_and_deaths_across_period_ends(connect):
    w = Warehouse()
    w.person("turns65", born=(1959, 5))                       # 64 at 30 April 2024, 65 from 31 May 2024
    w.person("mover", practice="P1", born=(1980, 1), registered=date(2020, 1, 1), left=date(2024, 4, 30))
    w.register("mover", "P3", date(2024, 5, 1))
    w.person("dies", born=(1950, 1), died=date(2024, 5, 31), left=date(2024, 5, 31))   # dead on the end: not counted
    con = connect()
    attrs, r, _ids = _intervals(w, con)
    ends = [date(2024, 4, 30), date(2024, 5, 31), date(2024, 6, 30)]
    got = _cells(population_cells(r, attrs, ends, [0, 18, 65]).to_pyarrow().to_pylist())
    assert got == {
        (date(2024, 4, 30), "P1", "1", "White", "female", 18): 2,
        (date(2024, 4, 30), "P1", "1", "White", "female", 65): 1,
        (date(2024, 5, 31), "P1", "1", "White", "female", 65): 1,
        (date(2024, 5, 31), "P3", "1", "White", "female", 18): 1,
        (date(2024, 6, 30), "P1", "1", "White", "female", 65): 1,
        (date(2024, 6, 30), "P3", "1", "White", "female", 18): 1,
    }
    assert got == _grouped(con, population(r, attrs, ends), [0, 18, 65])


_DAY = st.builds(lambda y, m, day: day(date(y, m, 1)), st.integers(2023, 2025), st.integers(1, 12),
                 st.sampled_from([lambda d: d, lambda d: d.replace(day=15), month_end,
                                  lambda d: month_end(d) - timedelta(days=1)]))
"""A day: first, middle, last or last but one of its month (where period ends, birthdays and deaths meet)."""
_PERSON = st.tuples(st.integers(1915, 2026), st.integers(1, 12), st.none() | _DAY,
                    st.lists(st.tuples(st.sampled_from(["P1", "P2"]), _DAY, st.none() | _DAY), min_size=1, max_size=3),
                    st.sampled_from(SEXES), st.sampled_from(ETHNIC_GROUPS), st.sampled_from(IMD_QUINTILES))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(people=st.lists(_PERSON, min_size=1, max_size=8),
       ends=st.sets(st.tuples(st.integers(2023, 2025), st.integers(1, 12)), min_size=1, max_size=8),
       lowers=st.none() | st.sets(st.integers(0, 100), min_size=1, max_size=6).map(sorted))
def test_population_cells_from_spans_equal_the_person_level_population_grouped(people, ends, lowers):
    attrs = group_number(ibis.memtable({
        PID: list(range(len(people))), "sex": [p[4] for p in people], "ethnic_group": [p[5] for p in people],
        "imd_quintile": [p[6] for p in people], "birth_year": [p[0] for p in people],
        "birth_month": [p[1] for p in people], "date_of_death": [p[2] for p in people]},
        schema={PID: "int64", "sex": "string", "ethnic_group": "string", "imd_quintile": "string",
                "birth_year": "int64", "birth_month": "int64", "date_of_death": "date"}))
    spans = [(i, prac, min(a, b or a), max(a, b) if b else None) for i, p in enumerate(people) for prac, a, b in p[3]]
    intervals = ibis.memtable({PID: [x[0] for x in spans], "practice_code": [x[1] for x in spans],
                               "start_date": [x[2] for x in spans], "end_date": [x[3] for x in spans]},
                              schema={PID: "int64", "practice_code": "string", "start_date": "date", "end_date": "date"})
    period_ends = [month_end(date(y, m, 1)) for y, m in ends]
    con = ibis.duckdb.connect()
    got = _cells(con.to_pyarrow(population_cells(intervals, attrs, period_ends, lowers)).to_pylist())
    assert got == _grouped(con, population(intervals, attrs, period_ends), lowers)


def test_population_in_spans_holds_the_population_rows_inside_them(connect):
    w = Warehouse()
    w.person("dies", born=(1950, 3), died=date(2024, 5, 31), left=date(2024, 5, 31))
    w.person("mover", practice="P1", born=(2000, 5), registered=date(2020, 1, 1), left=date(2024, 3, 31))
    w.register("mover", "P3", date(2024, 4, 1))
    w.person("never", born=(1990, 1))                                     # no span: no rows
    con = connect()
    attrs, r, ids = _intervals(w, con)
    back = {v: k for k, v in ids.items()}
    spans = ibis.memtable({PID: [back["dies"], back["mover"]], "start": [date(2024, 1, 15), date(2023, 1, 1)],
                           "stop": [date(9999, 12, 31), date(2024, 5, 1)], "register_id": ["a", "b"]})
    spans = spans.mutate(start=spans.start.cast("date"), stop=spans.stop.cast("date"))
    ends = [month_end(date(2024, m, 1)) for m in range(1, 7)]
    got = {(ids[x[PID]], x["period_end"], x["practice_code"], x["age"], x["register_id"])
           for x in con.to_pyarrow(population_in(spans, r, attrs, ends)).to_pylist()}
    assert got == {("dies", date(2024, m, d), "P1", 73 if m < 3 else 74, "a")        # from 15 January; dead on 31 May
                   for m, d in ((1, 31), (2, 29), (3, 31), (4, 30))} | {
                  ("mover", date(2024, 1, 31), "P1", 23, "b"), ("mover", date(2024, 2, 29), "P1", 23, "b"),
                  ("mover", date(2024, 3, 31), "P1", 23, "b"), ("mover", date(2024, 4, 30), "P3", 23, "b")}
    pop = population(r, attrs, ends)                                      # the same rows as the whole population's
    s = spans.rename(s_pid=PID)
    j = pop.join(s, [pop[PID] == s.s_pid, s.start <= pop.period_end, pop.period_end < s.stop])
    assert got == {(ids[x[PID]], x["period_end"], x["practice_code"], x["age"], x["register_id"])
                   for x in con.to_pyarrow(j).to_pylist()}


def test_events_count_where_the_person_was_registered_on_the_day(connect):
    w = Warehouse()
    w.person("mover", practice="P1", registered=date(2020, 1, 1), left=date(2024, 1, 31))
    w.register("mover", "P3", date(2024, 2, 1))
    w.person("died", practice="P2", died=date(2024, 3, 10), left=date(2024, 3, 10))
    con = connect()
    _attrs, r, ids = _intervals(w, con)
    back = {v: k for k, v in ids.items()}
    ev = ibis.memtable({PID: [back["mover"], back["mover"], back["died"], back["died"]],
                        "d": [date(2024, 1, 31), date(2024, 2, 1), date(2024, 3, 5), date(2024, 3, 11)]})
    ev = ev.mutate(d=ev.d.cast("date"))
    got = {(ids[x[PID]], x["d"], x["practice_code"]) for x in attribute(ev, r).to_pyarrow().to_pylist()}
    assert got == {("mover", date(2024, 1, 31), "P1"), ("mover", date(2024, 2, 1), "P3"),
                   ("died", date(2024, 3, 5), "P2"),              # admitted before death: counts at P2
                   ("died", date(2024, 3, 11), None)}             # no registration that day


def test_events_within_known_days_are_attributed_as_without_them(connect):
    # Registrations ending the day before the first day, starting the day after the last, open, and straddling
    # either bound: told the days the events fall on, the join leaves out only those no event can meet.
    first, last = date(2024, 2, 1), date(2024, 4, 30)
    w = Warehouse()
    w.person("ends_before", practice="P1", registered=date(2020, 1, 1), left=date(2024, 1, 31))
    w.register("ends_before", "P2", date(2024, 2, 1), date(2024, 3, 15))      # straddles nothing: inside
    w.register("ends_before", "P3", date(2024, 3, 16))                        # open, from inside
    w.person("starts_after", practice="P4", registered=date(2024, 5, 1))      # after the last day: no practice
    w.person("straddles", practice="P5", registered=date(2023, 12, 1), left=date(2024, 2, 1))
    w.register("straddles", "P6", date(2024, 4, 30), date(2024, 6, 30))
    con = connect()
    _attrs, r, ids = _intervals(w, con)
    back = {v: k for k, v in ids.items()}
    rows = [("ends_before", date(2024, 2, 1)), ("ends_before", date(2024, 3, 15)), ("ends_before", date(2024, 3, 16)),
            ("ends_before", date(2024, 4, 30)), ("starts_after", date(2024, 4, 30)), ("straddles", date(2024, 2, 1)),
            ("straddles", date(2024, 2, 2)), ("straddles", date(2024, 4, 30))]
    ev = ibis.memtable({PID: [back[p] for p, _ in rows], "d": [d for _, d in rows]})
    ev = ev.mutate(d=ev.d.cast("date"))

    def got(days: tuple[date, date] | None) -> list[tuple[str, date, str | None]]:
        return sorted(((ids[x[PID]], x["d"], x["practice_code"])
                       for x in con.to_pyarrow(attribute(ev, r, days=days)).to_pylist()), key=str)

    assert got((first, last)) == got(None) == sorted([
        ("ends_before", date(2024, 2, 1), "P2"), ("ends_before", date(2024, 3, 15), "P2"),
        ("ends_before", date(2024, 3, 16), "P3"), ("ends_before", date(2024, 4, 30), "P3"),
        ("starts_after", date(2024, 4, 30), None), ("straddles", date(2024, 2, 1), "P5"),
        ("straddles", date(2024, 2, 2), None), ("straddles", date(2024, 4, 30), "P6")], key=str)


def test_population_in_spans_takes_only_month_end_period_ends():
    spans = ibis.memtable({PID: [0], "start": [date(2024, 1, 1)], "stop": [date(2024, 6, 1)]})
    empty = ibis.memtable({PID: [0], "practice_code": ["P1"], "start_date": [date(2020, 1, 1)], "end_date": [None]},
                          schema={PID: "int64", "practice_code": "string", "start_date": "date", "end_date": "date"})
    with pytest.raises(ValueError, match="2024-03-30 is not"):
        population_in(spans, empty, empty, [date(2024, 2, 29), date(2024, 3, 30)])
