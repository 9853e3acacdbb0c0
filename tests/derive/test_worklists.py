"""Case-finding worklists: planted boundary cases in a small test delivery, versioning and the CLI.

The generator is not edited for this: each list gets people who must appear (boundary values just
inside) and people who must not (just outside), built here as a hand-made delivery. Every planted
positive must be found (recall 100%) and no planted negative may appear.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date

import ibis
import pyarrow as pa
import pytest
from measure_builder import Warehouse
from phm_helpers import ON, code

from placewise.derive.segments import build
from placewise.derive.worklists import RISK_TABLE, build_lists, diff, export, rows_of, run
from placewise.profile import load_profile
from placewise.profile.phm import load_phm
from placewise.profile.worklists import load_worklists
from placewise.warehouse.derived import replace_table
from placewise.warehouse.engines.duckdb import SCRATCH

LISTS = load_worklists(load_profile())
DEFICITS = load_phm(load_profile()).frailty.deficits
PLANTED: dict[str, tuple[set[str], set[str]]] = {}     # list: (must appear, must not appear)


def plant(list_id: str, yes: set[str], no: set[str]) -> None:
    """Record the planted positives and negatives of a list."""
    PLANTED[list_id] = (yes, no)


def _bp(w: Warehouse, p: str, on: date, sys: float, dia: float) -> None:
    """A same-day blood pressure pair."""
    w.event(p, on, code("systolic_bp"), value=sys)
    w.event(p, on, code("diastolic_bp"), value=dia)


def delivery() -> Warehouse:
    """The planted test delivery."""
    w = Warehouse()
    for p in ("dm_high", "dm_rising", "dm_none", "dm_ok", "dm_rise10"):
        w.person(p, born=(1960, 1))
        w.event(p, date(2010, 1, 1), code("type2_diabetes"))
    w.event("dm_high", date(2024, 1, 1), code("hba1c"), 59)
    w.event("dm_rising", date(2023, 6, 1), code("hba1c"), 40)
    w.event("dm_rising", date(2024, 1, 1), code("hba1c"), 51)
    w.event("dm_none", date(2022, 12, 31), code("hba1c"), 50)            # the day before the 15 months
    w.event("dm_ok", date(2024, 1, 1), code("hba1c"), 58)
    w.event("dm_rise10", date(2023, 6, 1), code("hba1c"), 40)
    w.event("dm_rise10", date(2024, 1, 1), code("hba1c"), 50)
    w.person("not_dm", born=(1960, 1))
    w.event("not_dm", date(2024, 1, 1), code("hba1c"), 80)
    plant("diabetes_alerts", {"dm_high", "dm_rising", "dm_none"}, {"dm_ok", "dm_rise10", "not_dm"})

    for p, (s, d) in {"uh_sys": (140, 80), "uh_dia": (130, 90), "uh_below": (139, 89)}.items():
        w.person(p, born=(1970, 1))
        _bp(w, p, date(2024, 2, 1), s, d)
    w.person("uh_old", born=(1970, 1))
    _bp(w, "uh_old", date(2023, 3, 31), 150, 95)
    w.person("uh_split", born=(1970, 1))                                  # raised values on different days
    w.event("uh_split", date(2024, 2, 1), code("systolic_bp"), 150)
    w.event("uh_split", date(2024, 2, 2), code("diastolic_bp"), 95)
    w.person("ht_diag_high", born=(1970, 1))
    w.event("ht_diag_high", date(2015, 1, 1), code("hypertension"))
    _bp(w, "ht_diag_high", date(2024, 2, 1), 160, 100)
    plant("undiagnosed_hypertension", {"uh_sys", "uh_dia"}, {"uh_below", "uh_old", "uh_split", "ht_diag_high"})

    ages = {"ht_young_high": (1964, 1), "ht_young_ok": (1964, 1), "ht_old_high": (1939, 1), "ht_old_ok": (1939, 1),
            "ht_79_141": (1944, 4)}                                       # 79 at the date: the under-80 target
    bps = {"ht_young_high": (141, 80), "ht_young_ok": (140, 90), "ht_old_high": (151, 80), "ht_old_ok": (150, 90),
           "ht_79_141": (141, 70)}
    for p in ages:
        w.person(p, born=ages[p])
        w.event(p, date(2015, 1, 1), code("hypertension"))
        _bp(w, p, date(2024, 1, 15), *bps[p])
    w.event("ht_young_high", date(2024, 1, 15), code("systolic_bp"), 120)  # a second reading that day: lowest counts
    plant("hypertension_not_to_target", {"ht_old_high", "ht_79_141", "ht_diag_high"},
          {"ht_young_high", "ht_young_ok", "ht_old_ok", "uh_sys"})

    af = {"af_female75": ((1949, 1), "female"), "af_male64": ((1959, 4), "male"),
          "af_male_hf_htn": ((1964, 1), "male"), "af_treated": ((1944, 1), "female"),
          "af_lapsed": ((1944, 1), "female")}
    for p, (born, sex) in af.items():
        w.person(p, born=born, sex=sex)
        w.event(p, date(2018, 1, 1), code("atrial_fibrillation"))
    w.event("af_male_hf_htn", date(2019, 1, 1), code("heart_failure"))
    w.event("af_male_hf_htn", date(2019, 1, 1), code("hypertension"))
    w.medication("af_treated", date(2023, 10, 1), code("anticoagulants"))   # first day of the 6 months
    w.medication("af_lapsed", date(2023, 9, 30), code("anticoagulants"))
    plant("af_not_anticoagulated", {"af_female75", "af_male_hf_htn", "af_lapsed"}, {"af_male64", "af_treated"})

    for p, born in {"ld_never": (1994, 1), "ld_lapsed": (1994, 1), "ld_done": (1994, 1), "ld_13": (2010, 4),
                    "ld_14": (2010, 3)}.items():
        w.person(p, born=born, registered=date(2010, 6, 1))
        w.event(p, date(2012, 1, 1), code("learning_disability"))
    w.event("ld_lapsed", date(2023, 3, 31), code("ld_health_check"))
    w.event("ld_done", date(2023, 4, 1), code("ld_health_check"))
    plant("ld_health_check_due", {"ld_never", "ld_lapsed", "ld_14"}, {"ld_done", "ld_13"})

    for p in ("smi_never", "smi_done"):
        w.person(p, born=(1980, 1))
        w.event(p, date(2012, 1, 1), code("smi"))
    w.event("smi_done", date(2024, 1, 1), code("smi_health_check"))
    plant("smi_health_check_due", {"smi_never"}, {"smi_done"})

    for p, n in (("ast_six", 6), ("ast_five", 5)):
        w.person(p, born=(1990, 1))
        w.event(p, date(2005, 1, 1), code("asthma"))
        for i in range(n):
            w.medication(p, date(2023, 5 + i, 1), code("saba_relievers"))
    w.person("ast_old_issues", born=(1990, 1))
    w.event("ast_old_issues", date(2005, 1, 1), code("asthma"))
    for i in range(6):
        w.medication("ast_old_issues", date(2023, 3, 1 + i), code("saba_relievers"))   # before the 12 months
    w.medication("ast_old_issues", date(2023, 6, 1), code("saba_relievers"))
    plant("reliever_overuse", {"ast_six"}, {"ast_five", "ast_old_issues"})

    coded = [d for d in DEFICITS if d.id != "falls"]
    for p in ("frail_fall", "frail_old_fall", "frail_admitted", "moderate_fall", "frail_fall_care_plan",
              "frail_fall_old_care_plan"):
        w.person(p, born=(1940, 1))
        for d in coded[: 9 if p == "moderate_fall" else 13]:
            w.event(p, date(2020, 1, 1), code(d.any[0].codelist[0]))
    w.event("frail_fall", date(2024, 1, 1), code("efi_falls"))
    w.event("moderate_fall", date(2024, 1, 1), code("efi_falls"))
    w.event("frail_old_fall", date(2023, 3, 1), code("efi_falls"))
    for p, plan in (("frail_fall_care_plan", date(2023, 4, 1)), ("frail_fall_old_care_plan", date(2023, 3, 31))):
        w.event(p, date(2024, 1, 1), code("efi_falls"))
        w.event(p, plan, code("care_plan"))                     # the window's first day, and the day before
    w.spell("frail_admitted", date(2024, 2, 1), date(2024, 2, 5), diagnosis="S7200")
    w.add("inpatient_diagnoses", spell_id=w.rows["inpatient_spells"][-1]["spell_id"], position=2, icd10_code="W19")
    plant("severe_frailty_fall", {"frail_fall", "frail_admitted", "frail_fall_old_care_plan"},
          {"frail_old_fall", "moderate_fall", "frail_fall_care_plan"})

    w.person("hr_no_gap", born=(1990, 1))
    plant("high_risk_gap", {"dm_high", "uh_sys"}, {"dm_rising", "hr_no_gap"})
    return w


HIGH_RISK = {"dm_high": True, "uh_sys": True, "hr_no_gap": True, "dm_rising": False}


def _score_by_hand(con: ibis.BaseBackend) -> None:
    """Stored risk scores for the planted people (the list reads scores; the model is tested elsewhere)."""
    ids = list(HIGH_RISK)
    replace_table(con, RISK_TABLE, pa.table({
        "person_id": ids, "practice_code": ["P1"] * len(ids), "reference_date": pa.array([ON] * len(ids), pa.date32()),
        "risk": [0.4 if HIGH_RISK[p] else 0.01 for p in ids], "high_risk": [HIGH_RISK[p] for p in ids],
        "model_version": ["m1"] * len(ids)}))


def test_every_planted_case_is_found_and_no_planted_negative_appears(connect):
    con = delivery().load(connect())
    build(con, load_profile(), ON)
    _score_by_hand(con)
    runs = run(con, LISTS)
    assert set(runs) == {w.id for w in LISTS.worklists} == set(PLANTED)
    for list_id, (yes, no) in PLANTED.items():
        got = set(rows_of(con, runs[list_id].run_id)["person_id"].to_pylist())
        assert yes <= got, (list_id, yes - got)                            # recall of planted cases: 100%
        assert not (no & got), (list_id, no & got)                        # no planted negative


def test_lists_built_twice_at_once_on_one_warehouse_are_each_whole_and_leave_no_tables():
    """Two threads build every list at once on one DuckDB warehouse, each in a session of its own (sessions that
    share one scratch database): each gets the lists built alone, and neither leaves a temporary table behind."""
    con = delivery().load(ibis.duckdb.connect())
    build(con, load_profile(), ON)
    _score_by_hand(con)
    alone = build_lists(con, LISTS)
    sessions = [con, ibis.duckdb.from_connection(con.con.cursor())]
    with ThreadPoolExecutor(max_workers=2) as pool:
        together = list(pool.map(lambda c: build_lists(c, LISTS), sessions))
    assert sum(t.num_rows for t in alone.values()) > 0
    for lists in together:
        assert lists.keys() == alone.keys() and all(lists[k].equals(alone[k]) for k in alone)
    left = con.con.execute("SELECT table_name FROM information_schema.tables WHERE table_catalog = ? "
                           "AND table_name LIKE '\\_wl\\_%' ESCAPE '\\'", [SCRATCH]).fetchall()
    assert left == []


def test_rows_carry_reasons_values_dates_last_seen_and_caveats(connect):
    con = delivery().load(connect())
    build(con, load_profile(), ON)
    _score_by_hand(con)
    runs = run(con, LISTS, ["diabetes_alerts", "high_risk_gap"])
    rows = {r["person_id"]: r for r in rows_of(con, runs["diabetes_alerts"].run_id).to_pylist()}
    assert rows["dm_rising"]["reasons"] == "HbA1c rising by 11 or more"
    assert rows["dm_rising"]["evidence"] == "HbA1c 51.0 mmol/mol on 2024-01-01; previous 40.0 on 2023-06-01"
    assert rows["dm_rising"]["evidence_date"] == date(2024, 1, 1) and rows["dm_rising"]["last_seen"] == date(2024, 1, 1)
    assert rows["dm_none"]["reasons"] == "no HbA1c in 15 months" and "rise" in rows["dm_none"]["caveats"]
    hr = {r["person_id"]: r for r in rows_of(con, runs["high_risk_gap"].run_id).to_pylist()}
    assert hr["dm_high"]["evidence"] == "risk 40.0%; on diabetes_alerts"
    assert runs["high_risk_gap"].model_version == "m1" and runs["diabetes_alerts"].model_version == ""


def test_a_rerun_is_identical_and_a_change_shows_in_the_diff(tmp_path):
    w = delivery()
    con = w.load(ibis.duckdb.connect())
    build(con, load_profile(), ON)
    first = run(con, LISTS, ["diabetes_alerts"])["diabetes_alerts"]
    again = run(con, LISTS, ["diabetes_alerts"])["diabetes_alerts"]
    assert again == first.__class__(**{**first.__dict__, "new": False})   # same run, same hashes, nothing stored
    assert con.table("worklist_runs").count().to_pyarrow().as_py() == 1
    con.insert("clinical_events", pa.table({"event_id": ["X1"], "person_id": ["dm_ok"], "event_date": [date(2024, 3, 1)],
                                            "snomed_code": [code("hba1c")], "value": [70.0], "unit": [None]},
                                           schema=con.table("clinical_events").schema().to_pyarrow()))
    build(con, load_profile(), ON)
    second = run(con, LISTS, ["diabetes_alerts"])["diabetes_alerts"]
    assert second.new and second.content_hash != first.content_hash and second.rule_hash == first.rule_hash
    assert diff(con, second.run_id) == ({"dm_ok"}, set())
    rows = rows_of(con, second.run_id, "P1")
    export(rows, second, "Diabetes", str(tmp_path / "l.csv"))
    export(rows, second, "Diabetes", str(tmp_path / "l.xlsx"))
    import pandas as pd
    assert len(pd.read_csv(tmp_path / "l.csv")) == rows.num_rows == len(pd.read_excel(tmp_path / "l.xlsx"))
    assert set(pd.read_excel(tmp_path / "l.xlsx")["content_hash"]) == {second.content_hash}


def test_the_combined_list_needs_risk_scores():
    con = delivery().load(ibis.duckdb.connect())
    build(con, load_profile(), ON)
    with pytest.raises(ValueError, match="placewise risk score"):
        run(con, LISTS, ["high_risk_gap"])
