"""Segmentation spec tests: each segment's rule, the priority order, and everyone in exactly one segment."""

from __future__ import annotations

from datetime import date, datetime

import ibis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from measure_builder import Warehouse
from phm_helpers import ON, built, code

from placewise.derive.segments import build, phm_tables, pyramid
from placewise.profile import load_profile
from placewise.profile.phm import load_phm

PHM = load_phm(load_profile())
OLD = (1940, 1)


def test_each_segment_and_the_priority_order(connect):
    w = Warehouse()
    w.person("eol", born=OLD)
    w.event("eol", date(2023, 10, 1), code("palliative_care"))
    w.event("eol", date(2015, 1, 1), code("dementia"))                      # also dementia: end of life first
    w.person("eol_lapsed", born=(1980, 1))
    w.event("eol_lapsed", date(2023, 3, 1), code("palliative_care"))        # more than 12 months ago
    w.person("dementia", born=OLD)
    w.event("dementia", date(2015, 1, 1), code("dementia"))
    w.event("dementia", date(2016, 1, 1), code("heart_failure"))            # also organ failure: dementia first
    w.person("severe_frailty", born=OLD)
    for d in PHM.frailty.deficits[:13]:
        w.event("severe_frailty", date(2020, 1, 1), code(d.any[0].codelist[0]))
    w.person("organ", born=(1960, 1))
    w.event("organ", date(2015, 1, 1), code("copd"))
    w.person("ld", born=(1990, 1))
    w.event("ld", date(2005, 1, 1), code("learning_disability"))
    w.person("complex", born=(1960, 1))
    for cl in ("hypertension", "chd", "stroke_tia"):
        w.event("complex", date(2018, 1, 1), code(cl))
    w.person("ltc", born=(1960, 1))
    w.event("ltc", date(2018, 1, 1), code("hypertension"))
    w.spell("ltc", date(2023, 9, 1), date(2023, 9, 3))                       # also an admission: LTC first
    w.person("infant", born=(2023, 2), registered=date(2023, 2, 15))
    w.person("mother", born=(1995, 1))
    w.spell("mother", date(2023, 11, 1), date(2023, 11, 3), method="maternity")
    w.person("acute", born=(1995, 1))
    w.spell("acute", date(2024, 3, 1), date(2024, 3, 9))
    w.person("ae", born=(1995, 1))
    w.attendance("ae", datetime(2023, 12, 1, 10), 90)
    w.person("healthy", born=(1995, 1))
    w.spell("healthy", date(2023, 3, 30), date(2023, 4, 2))                 # admitted before the 12 months
    people, _ = built(w, connect())
    got = {p: r["segment"] for p, r in people.items()}
    assert got == {"eol": "end_of_life", "eol_lapsed": "healthy", "dementia": "frailty_dementia",
                   "severe_frailty": "frailty_dementia", "organ": "organ_failure", "ld": "disability",
                   "complex": "complex_multimorbidity", "ltc": "long_term_conditions", "infant": "maternity_infancy",
                   "mother": "maternity_infancy", "acute": "acute_episodes", "ae": "acute_episodes",
                   "healthy": "healthy"}
    assert people["acute"]["bed_days"] == 8 and people["acute"]["emergency_admissions"] == 1
    assert people["healthy"]["bed_days"] == 0


def test_end_of_life_is_a_palliative_care_code_in_the_12_months_to_the_date(connect):
    """Bridges to Health's last year of life, read as a PALCARE_COD code (QOF PC001 register cluster) dated
    1 April 2023 to 31 March 2024 inclusive for the date 31 March 2024; codes outside the cluster do not count."""
    w = Warehouse()
    for pid, day, snomed in (
            ("first_day", date(2023, 4, 1), "526631000000108"),     # on end of life care register: first day in
            ("day_before", date(2023, 3, 31), "526631000000108"),   # one day too early
            ("on_the_date", date(2024, 3, 31), "514591000000108"),  # DS1500 completed on the reference date
            ("after", date(2024, 4, 1), "103735009"),               # palliative care, after the date
            ("gsf", date(2023, 12, 1), "414937009"),                # on gold standards palliative care framework
            ("not_in_cluster", date(2023, 12, 1), "713603004")):    # advance care planning: not PALCARE_COD
        w.person(pid, born=OLD)
        w.event(pid, day, snomed)
    people, _ = built(w, connect())
    got = {p: r["segment"] for p, r in people.items()}
    assert got == {"first_day": "end_of_life", "day_before": "healthy", "on_the_date": "end_of_life",
                   "after": "healthy", "gsf": "end_of_life", "not_in_cluster": "healthy"}


def test_gp_appointments_and_distinct_medicines_in_the_12_months_to_the_date(connect):
    """Counted from 1 April 2023 to 31 March 2024 inclusive for 31 March 2024 (the same window as admissions and
    A&E attendances): every GP appointment, and each dm+d product once however often issued."""
    w = Warehouse()
    w.person("busy", born=OLD)
    for day in (date(2023, 3, 31), date(2023, 4, 1), date(2024, 3, 31), date(2024, 4, 1)):   # 2 of 4 in the window
        w.gp_appointment("busy", day)
        w.medication("busy", day, f"{day:%Y%m%d}")
    w.medication("busy", date(2023, 6, 1), "20230401")                      # the first day's product again
    w.medication("busy", date(2023, 7, 1), "999")
    w.person("none", born=OLD)
    people, _ = built(w, connect())
    got = {p: (r["gp_appointments"], r["distinct_medicines"]) for p, r in people.items()}
    assert got == {"busy": (2, 3), "none": (0, 0)}


def test_people_not_registered_or_dead_at_the_date_are_not_segmented(connect):
    w = Warehouse()
    w.person("here")
    w.person("left", left=date(2024, 1, 1))
    w.person("died", died=date(2024, 2, 1))
    people, _ = built(w, connect())
    assert set(people) == {"here"}


def _by_person(people: ibis.Table, items: ibis.Table) -> tuple[list[dict], set[tuple]]:
    """People rows without the computation's person numbers, and items as (person, date, kind, item, day)."""
    rows = people.to_pyarrow().to_pylist()
    who = {r["pid"]: r["person_id"] for r in rows}
    got = sorted(({k: v for k, v in r.items() if k != "pid"} for r in rows),
                 key=lambda r: (r["reference_date"], r["person_id"]))
    return got, {(who[i["pid"]], i["reference_date"], i["kind"], i["item"], i["d"])
                 for i in items.to_pyarrow().to_pylist()}


def _made(con: ibis.BaseBackend, ons: list[date]) -> tuple[list[dict], set[tuple]]:
    """:func:`phm_tables` at ``ons``, read within its block (:func:`_by_person`)."""
    with phm_tables(con, load_profile(), ons) as (people, items):
        return _by_person(people, items)


def test_several_dates_in_one_pass_give_each_dates_own_rows(connect):
    """The tables at two reference dates made in one pass are the tables made at each date alone, row for row:
    registration, death, look-back windows, latest values, polypharmacy and activity all taken at each date."""
    early = date(2023, 3, 31)
    w = Warehouse()
    w.person("joined", born=OLD, registered=date(2023, 6, 1))                # registered at the later date only
    w.person("died", born=OLD, died=date(2023, 12, 1))                        # alive at the earlier date only
    w.person("palliative", born=OLD)
    w.event("palliative", date(2023, 10, 1), code("palliative_care"))        # end of life at the later date
    w.person("kidney", born=(1960, 1))
    for day, v in ((date(2022, 5, 1), 55.0), (date(2022, 9, 1), 50.0), (date(2023, 6, 1), 70.0),
                   (date(2023, 9, 1), 75.0)):
        w.event("kidney", day, code("egfr"), value=v)                         # CKD at the earlier date only
    w.person("busy", born=OLD)
    for i in range(5):
        w.medication("busy", date(2022, 6 + i, 1), f"9{i}")                  # polypharmacy at the earlier date
    w.spell("busy", date(2022, 12, 1), date(2022, 12, 5))
    w.spell("busy", date(2023, 3, 20), date(2023, 4, 10))                    # open at the earlier date
    w.attendance("busy", datetime(2024, 1, 1, 10), 60)
    w.gp_appointment("busy", date(2023, 2, 1))
    w.gp_appointment("busy", date(2024, 2, 1))
    w.event("busy", date(2023, 5, 1), code("hypertension"))                  # on the register at the later date
    con = w.load(connect())
    both = _made(con, [early, ON])
    alone = [_made(con, [d]) for d in (early, ON)]
    assert both == (alone[0][0] + alone[1][0], alone[0][1] | alone[1][1])
    seg = {(r["person_id"], r["reference_date"]): r["segment"] for r in both[0]}
    assert ("joined", early) not in seg and ("joined", ON) in seg and ("died", early) in seg and ("died", ON) not in seg
    assert seg["palliative", early] == "healthy" and seg["palliative", ON] == "end_of_life"
    items = {(p, d, i) for p, d, _, i, _ in both[1]}
    assert {("kidney", early, "ckd"), ("busy", early, "polypharmacy"), ("busy", ON, "hypertension")} <= items
    assert not {("kidney", ON, "ckd"), ("busy", ON, "polypharmacy"), ("busy", early, "hypertension")} & items


FEATURES = st.fixed_dictionaries({
    "born": st.integers(1925, 2024), "palliative": st.booleans(), "dementia": st.booleans(),
    "copd": st.booleans(), "ld": st.booleans(), "ltcs": st.integers(0, 3), "emergency": st.booleans(),
    "maternity": st.booleans()})


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(FEATURES, min_size=1, max_size=25))
def test_everyone_registered_is_in_exactly_one_segment(people):
    w = Warehouse()
    for i, f in enumerate(people):
        p = f"p{i}"
        w.person(p, born=(f["born"], 1), registered=date(f["born"], 2, 1) if f["born"] > 2000 else date(2000, 1, 1))
        if f["palliative"]:
            w.event(p, date(2024, 1, 1), code("palliative_care"))
        if f["dementia"]:
            w.event(p, date(2024, 1, 1), code("dementia"))
        if f["copd"]:
            w.event(p, date(2024, 1, 1), code("copd"))
        if f["ld"]:
            w.event(p, date(2024, 1, 1), code("learning_disability"))
        for cl in ("hypertension", "chd", "stroke_tia")[: f["ltcs"]]:
            w.event(p, date(2024, 1, 1), code(cl))
        if f["emergency"]:
            w.spell(p, date(2024, 1, 1), date(2024, 1, 2))
        if f["maternity"]:
            w.spell(p, date(2024, 1, 5), date(2024, 1, 6), method="maternity")
    con = w.load(ibis.duckdb.connect())
    t = build(con, load_profile(), ON)
    rows = t.to_pyarrow().to_pylist()
    ids = [r["person_id"] for r in rows]
    assert sorted(ids) == sorted(f"p{i}" for i in range(len(people)))     # everyone, once
    valid = {s.id for s in PHM.segmentation.segments}
    assert all(r["segment"] in valid for r in rows)
    pyr = pyramid(t, PHM).to_pyarrow().to_pylist()
    assert sum(r["people"] for r in pyr) == len(people)
    for r, f in zip(sorted(rows, key=lambda r: int(r["person_id"][1:])), people):
        if f["palliative"]:
            assert r["segment"] == "end_of_life"
        elif f["dementia"]:
            assert r["segment"] == "frailty_dementia"
