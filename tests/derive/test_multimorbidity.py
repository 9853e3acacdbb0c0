"""Cambridge Multimorbidity Score spec tests (Payne et al. 2020): every available condition and every rule type."""

from __future__ import annotations

from datetime import date

import pytest
from measure_builder import Warehouse
from phm_helpers import ON, built, code

from placewise.derive.criteria import holding
from placewise.derive.people import PID, person_attributes
from placewise.profile import load_profile
from placewise.profile.phm import Criterion, load_phm

MM = load_phm(load_profile()).multimorbidity
WEIGHT = {c.id: c.weight for c in MM.conditions}
ADULT = (1960, 1)
EGFR = "egfr"


def test_twenty_conditions_with_the_papers_general_outcome_weights():
    assert len(MM.conditions) == 20
    assert WEIGHT == {
        "alcohol_problems": 0.65, "anxiety_depression": 0.50, "asthma": 0.19, "atrial_fibrillation": 1.34,
        "cancer": 1.53, "ckd": 0.53, "constipation": 1.12, "connective_tissue": 0.43, "copd": 1.46, "chd": 0.49,
        "dementia": 2.50, "diabetes": 0.75, "epilepsy": 0.92, "hearing_loss": 0.09, "heart_failure": 1.18,
        "irritable_bowel": 0.21, "painful_condition": 0.92, "psychosis_bipolar": 0.64, "stroke_tia": 0.80,
        "hypertension": 0.08}


EVER = {"alcohol_problems": "alcohol_problems", "atrial_fibrillation": "atrial_fibrillation", "connective_tissue": "connective_tissue_disorders",
        "copd": "copd", "chd": "chd", "dementia": "dementia", "diabetes": "type2_diabetes",
        "hearing_loss": "efi_hearing_loss", "heart_failure": "heart_failure", "psychosis_bipolar": "smi",
        "stroke_tia": "stroke_tia", "hypertension": "hypertension"}


def test_every_code_ever_condition_scores_its_weight(connect):
    w = Warehouse()
    for cond, cl in EVER.items():
        w.person(cond, born=ADULT)
        # the alcohol list opens with alcoholic dementia, a dementia code too: take alcohol dependence instead
        w.event(cond, date(1999, 6, 1), "66590003" if cond == "alcohol_problems" else code(cl))
    w.person("two", born=ADULT)
    w.event("two", date(2010, 1, 1), code("atrial_fibrillation"))
    w.event("two", date(2012, 1, 1), code("heart_failure"))
    people, items = built(w, connect())
    for cond in EVER:
        assert {i for k, i in items[cond] if k == "condition"} == {cond}, cond
        assert people[cond]["cms"] == pytest.approx(WEIGHT[cond])
    assert people["two"]["cms"] == pytest.approx(1.34 + 1.18) and people["two"]["cms_conditions"] == 2


def test_anxiety_or_depression_needs_a_code_in_the_last_12_months(connect):
    w = Warehouse()
    for p in ("anx_in", "dep_in", "dep_out"):
        w.person(p, born=ADULT)
    w.event("anx_in", date(2023, 4, 1), code("anxiety"))        # first day of the 12 months
    w.event("dep_in", date(2024, 3, 31), code("depression"))
    w.event("dep_out", date(2023, 3, 31), code("depression"))   # a day too early
    people, _ = built(w, connect())
    assert [people[p]["cms"] for p in ("anx_in", "dep_in", "dep_out")] == [0.5, 0.5, 0.0]


def test_asthma_needs_a_code_ever_and_a_medicine_in_the_last_12_months(connect):
    w = Warehouse()
    for p in ("treated", "untreated", "lapsed"):
        w.person(p, born=ADULT)
        w.event(p, date(2001, 1, 1), code("asthma"))
    w.medication("treated", date(2023, 9, 1), code("saba_relievers"))
    w.medication("lapsed", date(2023, 3, 1), code("inhaled_corticosteroids"))
    people, _ = built(w, connect())
    assert [people[p]["cms"] for p in ("treated", "untreated", "lapsed")] == [0.19, 0.0, 0.0]


def test_cancer_counts_for_five_years(connect):
    w = Warehouse()
    for p in ("recent", "edge", "old"):
        w.person(p, born=ADULT)
    w.event("recent", date(2022, 1, 1), code("cancer"))
    w.event("edge", date(2019, 4, 1), code("cancer"))         # first day of the 60 months to 31 March 2024
    w.event("old", date(2019, 3, 31), code("cancer"))
    people, _ = built(w, connect())
    assert [people[p]["cms"] for p in ("recent", "edge", "old")] == [1.53, 1.53, 0.0]


def test_ckd_is_the_higher_of_the_last_two_egfr_values_below_60(connect):
    w = Warehouse()
    cases = {"both_low": [55, 58], "recovered": [55, 62], "dipped": [62, 55], "one_low": [59],
             "sixty": [60], "old_high": [90, 50, 52]}
    for p, values in cases.items():
        w.person(p, born=ADULT)
        for i, v in enumerate(values):
            w.event(p, date(2023, 1 + i, 1), code(EGFR), value=float(v))
    w.person("same_day", born=ADULT)                          # two values one day: the lower stands for the day
    w.event("same_day", date(2023, 6, 1), code(EGFR), value=70.0)
    w.event("same_day", date(2023, 6, 1), code(EGFR), value=50.0)
    w.event("same_day", date(2023, 5, 1), code(EGFR), value=40.0)
    people, _ = built(w, connect())
    got = {p: people[p]["cms"] for p in [*cases, "same_day"]}
    assert got == {"both_low": 0.53, "recovered": 0.0, "dipped": 0.0, "one_low": 0.53, "sixty": 0.0,
                   "old_high": 0.53, "same_day": 0.53}


def test_adults_20_and_over_only(connect):
    w = Warehouse()
    w.person("aged19", born=(2004, 4))
    w.person("aged20", born=(2004, 3))
    for p in ("aged19", "aged20"):
        w.event(p, date(2020, 1, 1), code("hypertension"))
    people, _ = built(w, connect())
    assert people["aged19"]["cms"] is None and people["aged20"]["cms"] == 0.08


def test_count_rule_and_unless(connect):
    """The prescription-count and 'unless' rules the painful-condition definition uses, on hand-made criteria."""
    w = Warehouse()
    for p in ("four", "three", "four_but_excluded"):
        w.person(p, born=ADULT)
    drug = code("saba_relievers")
    for p, n in (("four", 4), ("three", 3), ("four_but_excluded", 4)):
        for i in range(n):
            w.medication(p, date(2023, 6 + i, 1), drug)
    w.event("four_but_excluded", date(2000, 1, 1), code("asthma"))
    con = w.load(connect())
    attrs = con.create_table("a", person_attributes(con), temp=True)
    rule = Criterion(codelist=["saba_relievers"], table="medications", months=12, at_least=4,
                     unless=[Criterion(codelist=["asthma"])])
    h = holding(con, attrs, [("rule", rule)], [ON]).join(attrs, PID)
    assert {r["person_id"] for r in h.to_pyarrow().to_pylist()} == {"four"}


def _issues(w: Warehouse, p: str, codelist: str, n: int, first: date = date(2023, 4, 1)) -> None:
    """``n`` monthly issues from a medicines codelist, the first on ``first``."""
    for i in range(n):
        w.medication(p, date(first.year + (first.month + i - 1) // 12, (first.month + i - 1) % 12 + 1, first.day),
                     code(codelist))


def test_prescription_branches_of_anxiety_and_depression(connect):
    """At least 4 antidepressant issues, or at least 4 anxiolytic or hypnotic issues, in the 12 months (Payne 2020)."""
    w = Warehouse()
    for p in ("ad4", "ad3", "hyp4", "ad2_hyp2", "ad4_early"):
        w.person(p, born=ADULT)
    _issues(w, "ad4", "antidepressants", 4)                                 # the first on the window's first day
    _issues(w, "ad3", "antidepressants", 3)
    _issues(w, "hyp4", "anxiolytics_hypnotics", 4)
    _issues(w, "ad2_hyp2", "antidepressants", 2)                            # 2 + 2 of different kinds: not 4
    _issues(w, "ad2_hyp2", "anxiolytics_hypnotics", 2, date(2023, 9, 1))
    _issues(w, "ad4_early", "antidepressants", 4, date(2023, 2, 1))         # only 2 inside the window
    people, _ = built(w, connect())
    assert {p: people[p]["cms"] for p in ("ad4", "ad3", "hyp4", "ad2_hyp2", "ad4_early")} == {
        "ad4": 0.5, "ad3": 0.0, "hyp4": 0.5, "ad2_hyp2": 0.0, "ad4_early": 0.0}


def test_epilepsy_treated_painful_condition_and_lithium(connect):
    """Epilepsy: a code ever and an antiepileptic in 12 months; painful condition: 4 analgesic issues, or 4
    antiepileptic issues without an epilepsy code; psychosis or bipolar disorder: lithium ever issued."""
    w = Warehouse()
    for p in ("epi_treated", "epi_untreated", "epi_lapsed", "analgesic4", "analgesic3", "aed4", "lithium_once"):
        w.person(p, born=ADULT)
    for p in ("epi_treated", "epi_untreated", "epi_lapsed"):
        w.event(p, date(1990, 1, 1), code("epilepsy"))
    _issues(w, "epi_treated", "antiepileptics", 4)                         # epilepsy, and not a painful condition
    w.medication("epi_lapsed", date(2023, 3, 31), code("antiepileptics"))   # a day before the 12 months
    _issues(w, "analgesic4", "analgesics", 4)
    _issues(w, "analgesic3", "analgesics", 3)
    _issues(w, "aed4", "antiepileptics", 4)
    w.medication("lithium_once", date(2005, 1, 1), code("lithium"))
    people, items = built(w, connect())
    found = {p: {i for k, i in items[p] if k == "condition"} for p in people}
    assert found == {"epi_treated": {"epilepsy"}, "epi_untreated": set(), "epi_lapsed": set(),
                     "analgesic4": {"painful_condition"}, "analgesic3": set(), "aed4": {"painful_condition"},
                     "lithium_once": {"psychosis_bipolar"}}
    assert people["epi_treated"]["cms"] == 0.92 and people["aed4"]["cms"] == 0.92
    assert people["lithium_once"]["cms"] == 0.64


def test_constipation_and_irritable_bowel_syndrome(connect):
    """Constipation: at least 4 laxative issues in the 12 months; irritable bowel syndrome: a code ever, or at least
    4 antispasmodic issues in the 12 months (Payne 2020, after Barnett 2012; the CPRD @ Cambridge code lists v1.1
    usage definitions say the same). The window is 1 April 2023 to 31 March 2024: an issue on 31 March 2023 or
    1 April 2024 does not count."""
    w = Warehouse()
    people_ = ("lax4", "lax3", "lax4_day_early", "lax3_day_after", "lax4_last_day", "ibs_code", "spasm4", "spasm3",
               "lax2_spasm2")
    for p in people_:
        w.person(p, born=ADULT)
    _issues(w, "lax4", "laxatives", 4)                                      # the first on the window's first day
    _issues(w, "lax3", "laxatives", 3)
    w.medication("lax4_day_early", date(2023, 3, 31), code("laxatives"))   # a day before the 12 months
    _issues(w, "lax4_day_early", "laxatives", 3, date(2023, 6, 1))
    _issues(w, "lax3_day_after", "laxatives", 3, date(2023, 6, 1))
    w.medication("lax3_day_after", date(2024, 4, 1), code("laxatives"))    # a day after the reference date
    _issues(w, "lax4_last_day", "laxatives", 3, date(2023, 12, 1))
    w.medication("lax4_last_day", date(2024, 3, 31), code("laxatives"))    # the reference date itself
    w.event("ibs_code", date(1995, 5, 1), "10743008")                     # irritable bowel syndrome
    _issues(w, "spasm4", "antispasmodics", 4)
    _issues(w, "spasm3", "antispasmodics", 3)
    _issues(w, "lax2_spasm2", "laxatives", 2)                               # 2 + 2 of different kinds: neither
    _issues(w, "lax2_spasm2", "antispasmodics", 2, date(2023, 9, 1))
    people, items = built(w, connect())
    found = {p: {i for k, i in items[p] if k == "condition"} for p in people}
    assert found == {"lax4": {"constipation"}, "lax3": set(), "lax4_day_early": set(), "lax3_day_after": set(),
                     "lax4_last_day": {"constipation"}, "ibs_code": {"irritable_bowel"},
                     "spasm4": {"irritable_bowel"}, "spasm3": set(), "lax2_spasm2": set()}
    assert people["lax4"]["cms"] == 1.12 and people["ibs_code"]["cms"] == 0.21 and people["spasm4"]["cms"] == 0.21
