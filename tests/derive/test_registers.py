"""Condition registers: the QOF rules for resolved codes, age, recent medication and latest values, by hand."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import ibis
import pytest
from measure_builder import Warehouse

from placewise.codelists import codes
from placewise.derive.people import PID, person_attributes, population, population_in, registrations, with_groups
from placewise.derive.records import Records, read_records, warehouse_records
from placewise.derive.registers import all_members, members, record_queries
from placewise.profile import load_profile
from placewise.profile.registers import Register, load_registers

END = date(2024, 3, 31)


def code(name: str) -> str:
    """The first code of a codelist."""
    return codes(name)[0]


def on_register(w: Warehouse, con: ibis.BaseBackend, reg: Register, ends: Sequence[date] = (END,)) -> set[tuple[str, date]]:
    """(person id, reference date) pairs on the register."""
    w.load(con)
    attrs = con.create_table("a", person_attributes(con), temp=True)
    intervals = registrations(con, attrs)
    pop = population(intervals, attrs, list(ends))
    alone = members(warehouse_records(con, attrs), pop, reg)
    regs = [ADULTS_WITH_OBESITY_CODE, reg]
    queries = sorted({q for r in regs for q in record_queries(r)})
    shared = Records(read_records(con, attrs, queries), tuple(queries))
    every = all_members(shared.coded, lambda spans: population_in(spans, intervals, attrs, list(ends)), regs)
    together = with_groups(every.filter(every.register == regs.index(reg)).drop("register"), attrs)
    # the one pass over both registers' spans, from records read once for both, gives each register's rows
    assert _rows(together) == _rows(alone)
    m = alone.join(attrs.select(PID, "person_id"), PID)
    return {(x["person_id"], x["period_end"]) for x in m.to_pyarrow().to_pylist()}


def _rows(t: ibis.Table) -> list[tuple]:
    """Every row, every column, sorted."""
    return sorted(tuple(r.values()) for r in t.to_pyarrow().to_pylist())


# A hypertension-like register whose resolved codes are, for the test, the obesity codelist.
HYP = Register(id="hyp", title="t", specification="QOF HYP_REG", version="v49", diagnosis=["hypertension"],
               resolved=["obesity"])

ADULTS_WITH_OBESITY_CODE = Register(id="adult_obese", title="t", specification="test", version="1",
                                   diagnosis=["obesity"], age={"min": 18, "max": 60})
"""A second register computed alongside each tested one, with an age range of its own."""


def test_resolved_after_the_latest_diagnosis_removes_same_day_does_not(connect):
    w = Warehouse()
    for p in ("plain", "resolved", "same_day", "rediagnosed"):
        w.person(p)
        w.event(p, date(2015, 1, 1), code("hypertension"))
    w.event("resolved", date(2020, 1, 1), code("obesity"))              # resolved later: off
    w.event("same_day", date(2015, 1, 1), code("obesity"))              # resolved the same day: stays on
    w.event("rediagnosed", date(2018, 1, 1), code("obesity"))
    w.event("rediagnosed", date(2022, 1, 1), code("hypertension"))      # diagnosed again after resolution: on
    w.person("later")
    w.event("later", date(2024, 4, 1), code("hypertension"))            # after the reference date: not yet
    got = on_register(w, connect(), HYP)
    assert got == {("plain", END), ("same_day", END), ("rediagnosed", END)}


def test_register_at_each_reference_date(connect):
    w = Warehouse()
    w.person("x")
    w.event("x", date(2024, 2, 10), code("hypertension"))
    w.event("x", date(2024, 3, 10), code("obesity"))
    got = on_register(w, connect(), HYP, [date(2024, 1, 31), date(2024, 2, 29), END])
    assert got == {("x", date(2024, 2, 29))}


def test_bundled_asthma_register_needs_age_6_and_drugs_in_the_last_12_months(connect):
    asthma = load_registers(load_profile()).get("asthma")
    w = Warehouse()
    w.person("treated", born=(1990, 1))
    w.person("untreated", born=(1990, 1))
    w.person("lapsed", born=(1990, 1))
    w.person("boundary", born=(1990, 1))
    w.person("child5", born=(2018, 6))                                  # 5 at 31 March 2024
    for p in ("treated", "untreated", "lapsed", "boundary", "child5"):
        w.event(p, date(2017, 1, 1) if p != "child5" else date(2022, 1, 1), code("asthma"))
    w.medication("treated", date(2023, 10, 1), code("inhaled_corticosteroids"))
    w.medication("lapsed", date(2023, 3, 31), code("saba_relievers"))      # 12 months and a day before
    w.medication("boundary", date(2023, 4, 1), code("saba_relievers"))     # first day of the 12 months
    w.medication("child5", date(2024, 1, 1), code("saba_relievers"))
    assert on_register(w, connect(), asthma) == {("treated", END), ("boundary", END)}


def test_depression_register_latest_episode_on_or_after_1_april_2006(connect):
    w = Warehouse()
    w.person("dep_old")
    w.event("dep_old", date(2006, 3, 31), code("depression"))           # before 1 April 2006: off
    w.person("dep_new")
    w.event("dep_new", date(2006, 4, 1), code("depression"))
    assert on_register(w, connect(), load_registers(load_profile()).get("depression")) == {("dep_new", END)}


def test_obesity_register_latest_bmi_in_12_months_at_least_30(connect):
    w = Warehouse()
    w.person("obese")
    w.event("obese", date(2023, 6, 1), code("bmi"), 31)
    w.event("obese", date(2024, 1, 5), code("bmi"), 30)                 # latest is exactly 30: on
    w.person("was_obese")
    w.event("was_obese", date(2023, 6, 1), code("bmi"), 35)
    w.event("was_obese", date(2024, 1, 5), code("bmi"), 29.9)           # latest below 30: off
    w.person("old_bmi")
    w.event("old_bmi", date(2023, 3, 31), code("bmi"), 40)              # outside 12 months: off
    w.person("child", born=(2010, 1))
    w.event("child", date(2024, 1, 5), code("bmi"), 31)                 # under 18: off
    assert on_register(w, connect(), load_registers(load_profile()).get("obesity")) == {("obese", END)}


def test_alternative_way_on_the_register(connect):
    smi_like = Register(id="smi", title="t", specification="QOF MH_REG", version="v49", diagnosis=["smi"],
                        or_recent={"codelist": ["anticoagulants"], "table": "medications", "months": 6})
    w = Warehouse()
    w.person("dx")
    w.event("dx", date(2010, 1, 1), code("smi"))
    w.person("drug")
    w.medication("drug", date(2023, 10, 1), code("anticoagulants"))
    w.person("old_drug")
    w.medication("old_drug", date(2023, 9, 30), code("anticoagulants"))  # 6 months run 1 Oct - 31 Mar
    assert on_register(w, connect(), smi_like) == {("dx", END), ("drug", END)}


def test_a_register_needs_a_rule_and_known_codelists():
    with pytest.raises(ValueError, match="needs diagnosis codelists or a latest value"):
        Register(id="x", title="t", specification="s", version="v")
    with pytest.raises(ValueError, match="unknown codelist"):
        Register(id="x", title="t", specification="s", version="v", diagnosis=["no_such_list"])


def test_every_bundled_register_names_its_specification_and_version():
    regs = load_registers(load_profile())
    ids = {r.id for r in regs.registers}
    assert ids == {"atrial_fibrillation", "hypertension", "diabetes", "chd", "heart_failure", "stroke_tia", "ckd",
                   "copd", "dementia", "depression", "learning_disability", "cancer", "obesity", "asthma", "smi",
                   "frailty"}
    assert all(r.specification and r.version for r in regs.registers)
