"""Event tables read once: the days asked for, by person number, each event at the practice of its day."""

from __future__ import annotations

from datetime import date

import pytest
from measure_builder import Warehouse

from placewise.derive.events import EVENTS, EventRead, EventTables, read_events
from placewise.derive.people import GROUPS, PID, group_labels, person_attributes, registrations


def test_spells_placed_by_discharge_are_read_in_the_span_and_attributed_on_that_day(connect):
    w = Warehouse()
    w.person("mover", practice="P1", registered=date(2020, 1, 1), left=date(2024, 1, 31), born=(1950, 6))
    w.register("mover", "P3", date(2024, 2, 1))
    w.spell("mover", date(2024, 1, 20), date(2024, 2, 3), method="elective")   # discharged after the move: P3
    w.spell("mover", date(2023, 12, 1), date(2023, 12, 31))                    # before the span: not read
    w.spell("mover", date(2024, 3, 1), date(2024, 4, 1))                       # after the span: not read
    w.spell("stranger", date(2024, 2, 10), date(2024, 2, 12))                  # no such person: not read
    con = w.load(connect())
    attrs = con.create_table("a", person_attributes(con), temp=True)
    read = EventRead(("admission_method", "provider_code"), date(2024, 1, 1), date(2024, 2, 29))
    got = read_events(con, attrs, registrations(con, attrs), ("inpatient_spells", "discharge_date"), read)
    rows = got.join(group_labels(), GROUPS).to_pyarrow().to_pylist()     # the groups come as their number
    assert [(r["d"], r["practice_code"], r["admission_method"], r["provider_code"], r["birth_year"], r["sex"])
            for r in rows] == [(date(2024, 2, 3), "P3", "elective", "RC9", 1950, "female")]
    assert "sex" not in got.columns
    assert rows[0][PID] == attrs.filter(attrs.person_id == "mover")[PID].execute().iloc[0]
    assert "person_id" not in got.columns                              # the pseudonym stays behind


def test_a_counted_source_counts_alike_events_of_a_month_in_one_row_by_the_age_where_counts_change(connect):
    """Ages floored to the nearest of 18, 65 and 68 below them (kept below 18); ``x`` and ``y`` alike in groups and
    practice, 67 in January; ``x`` 68 from February (born February 1956, the birthday taken as the month's first)."""
    w = Warehouse()
    for pid, born in (("x", (1956, 2)), ("y", (1956, 5)), ("z", (2014, 7))):
        w.person(pid, born=born)
    for pid, day, status in (("x", date(2024, 1, 3), "attended"), ("x", date(2024, 1, 31), "attended"),
                             ("y", date(2024, 1, 1), "attended"), ("x", date(2024, 1, 25), "did_not_attend"),
                             ("x", date(2024, 2, 1), "attended"), ("x", date(2024, 2, 29), "attended"),
                             ("y", date(2024, 2, 10), "attended"), ("z", date(2024, 1, 10), "attended"),
                             ("x", date(2024, 3, 1), "attended")):                    # after the span: not read
        w.gp_appointment(pid, day, status)
    con = w.load(connect())
    attrs = con.create_table("a", person_attributes(con), temp=True)
    read = EventRead(("status",), date(2024, 1, 1), date(2024, 2, 29), ages=(18, 65, 68))
    got = read_events(con, attrs, registrations(con, attrs), ("gp_appointments", "appointment_date"), read)
    assert set(got.columns) == {"d", "practice_code", GROUPS, "age", "status", EVENTS}     # no person number
    rows = sorted((r["d"], r["practice_code"], r["age"], r["status"], r[EVENTS]) for r in got.to_pyarrow().to_pylist())
    jan, feb = date(2024, 1, 1), date(2024, 2, 1)
    assert rows == [(jan, "P1", 9, "attended", 1), (jan, "P1", 65, "attended", 3), (jan, "P1", 65, "did_not_attend", 1),
                    (feb, "P1", 65, "attended", 1), (feb, "P1", 68, "attended", 2)]


def test_a_source_not_read_fails_at_once():
    with pytest.raises(KeyError, match="gp_appointments placed by appointment_date were not read"):
        EventTables({}).of(("gp_appointments", "appointment_date"))
