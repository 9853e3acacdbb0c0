"""The catalogue: the bundled BLMK indicators load, and bad definitions fail naming indicator and field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from placewise.measure import CatalogueError, load_catalogue
from placewise.measure.catalogue import BloodPressure, OnRegister, Persons, Subset
from placewise.profile import load_profile

REQUIRED = {
    "ae_4hr_type1", "ae_4hr_all", "emergency_admissions_dsr", "falls_admissions_65_dsr",
    "hypertension_treated_to_target", "af_anticoagulated", "ld_health_checks", "smi_health_checks",
    "dementia_diagnosis_rate", "asthma_objective_test", "asthma_objective_test_children", "children_asthma_admissions", "asthma_saba_over_reliance",
    "heart_failure_admissions", "heart_failure_bed_days", "gp_appointments_rate", "gp_dna_rate",
    "outpatient_dna_rate", "referrals_rate", "first_ltc_age_mean", "los_emergency_mean", "readmissions_30_day",
    "ae_4hr_type1_published", "ae_4hr_all_published",
}
GOOD = {
    "id": "x", "title": "X", "definition": "d", "domain": "d", "measure": "proportion", "per": 100,
    "denominator": {"kind": "persons"},
    "numerator": {"kind": "subset", "criteria": [{"type": "has_code", "codelist": ["asthma"]}]},
    "polarity": "neutral", "standard_source": "s", "specification": "s", "version": "1", "frequency": "monthly", "geographies": ["ics"],
}


def test_bundled_catalogue_has_the_issue_indicators():
    cat = load_catalogue(load_profile())
    assert len(cat.indicators) >= 25
    assert {i.id for i in cat.indicators} >= REQUIRED


def test_targets_are_the_appendix_d_figures():
    cat = load_catalogue(load_profile())
    hypertension = cat.indicator("hypertension_treated_to_target").target
    assert [(y.year, y.value) for y in hypertension.years] == [("2023/24", 77), ("2024/25", 80)]
    assert cat.indicator("ld_health_checks").target.value == 75
    assert cat.indicator("smi_health_checks").target.value == 60
    assert cat.indicator("dementia_diagnosis_rate").target.value == 66.7


def test_hypertension_definition_is_built_from_blocks():
    ind = load_catalogue(load_profile()).indicator("hypertension_treated_to_target")
    assert isinstance(ind.denominator, Persons)
    assert ind.denominator.criteria[0] == OnRegister(type="on_register", name="hypertension")
    assert isinstance(ind.numerator, Subset)
    under_80 = ind.numerator.criteria[0].criteria[0].criteria
    assert [(c.systolic_at_most, c.diastolic_at_most) for c in under_80 if isinstance(c, BloodPressure)] == [(140, 90)]


def _profile_with(tmp_path: Path, indicators: list[dict]) -> Path:
    """A copy of the bundled profile's core with a catalogue of the given indicators."""
    folder = tmp_path / "profile"
    folder.mkdir(exist_ok=True)
    shutil.copy(load_profile().folder / "ics.yaml", folder / "ics.yaml")
    doc = {"age_bands": [0, 18, 65], "indicators": indicators}
    (folder / "indicators.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    return folder


def _error(tmp_path: Path, **changes: object) -> str:
    with pytest.raises(CatalogueError) as e:
        load_catalogue(load_profile(_profile_with(tmp_path, [GOOD, {**GOOD, "id": "bad_one", **changes}])))
    return str(e.value)


def test_a_valid_minimal_catalogue_loads(tmp_path):
    cat = load_catalogue(load_profile(_profile_with(tmp_path, [GOOD])))
    assert cat.indicator("x").per == 100
    assert cat.groupings["legacy_ccg"]["06F"] == ["E06000055", "E06000056"]


def test_unknown_codelist_names_indicator_and_field(tmp_path):
    msg = _error(tmp_path, numerator={"kind": "subset", "criteria": [{"type": "has_code", "codelist": ["nope"]}]})
    assert "indicator bad_one: numerator.subset.criteria.0.has_code.codelist" in msg
    assert "unknown codelist" in msg


def test_unknown_column_is_rejected(tmp_path):
    msg = _error(tmp_path, denominator={"kind": "events", "table": "gp_appointments", "where": {"colour": ["red"]}},
                 numerator={"kind": "subset", "where": {}})
    assert "indicator bad_one: denominator.events" in msg and "no column 'colour'" in msg


def test_value_outside_the_allowed_set_is_rejected(tmp_path):
    msg = _error(tmp_path, denominator={"kind": "events", "table": "inpatient_spells",
                                        "where": {"admission_method": ["urgent"]}},
                 numerator={"kind": "subset", "where": {}})
    assert "indicator bad_one" in msg and "['urgent'] not among allowed values" in msg


def test_measure_needs_its_denominator(tmp_path):
    msg = _error(tmp_path, denominator=None)
    assert "indicator bad_one: (indicator)" in msg and "needs a denominator" in msg


def test_provider_geography_needs_hospital_events(tmp_path):
    msg = _error(tmp_path, geographies=["ics", "provider"])
    assert "indicator bad_one" in msg and "provider needs events with a provider" in msg


def test_unknown_geography_and_window(tmp_path):
    assert "geographies: unknown ['region']" in _error(tmp_path, geographies=["region"])
    msg = _error(tmp_path, numerator={"kind": "subset", "criteria": [
        {"type": "has_code", "codelist": ["asthma"], "window": "last_year"}]})
    assert "window 'last_year' must be" in msg


def test_no_strings_are_evaluated(tmp_path):
    """A would-be expression is just an unknown field: the catalogue has no place for code."""
    msg = _error(tmp_path, numerator={"kind": "subset", "sql": "1=1"})
    assert "indicator bad_one: numerator.subset.sql: Extra inputs are not permitted" in msg


def test_duplicate_ids_are_rejected(tmp_path):
    with pytest.raises(CatalogueError, match=r"duplicate id\(s\) \['x'\]"):
        load_catalogue(load_profile(_profile_with(tmp_path, [GOOD, GOOD])))


def test_dsr_cannot_be_broken_down_by_age(tmp_path):
    msg = _error(tmp_path, measure="dsr", per=100000, numerator={"kind": "events", "table": "inpatient_spells"},
                 breakdowns=["none", "age_band"])
    assert "cannot be broken down by age band" in msg


def test_a_breakdown_by_two_attributes_needs_both_single_breakdowns(tmp_path):
    msg = _error(tmp_path, breakdowns=["none", "sex", "sex_by_imd_quintile"])
    assert "indicator bad_one" in msg and "sex_by_imd_quintile needs imd_quintile reported too" in msg


def test_england_is_a_comparator_for_aggregate_returns_only(tmp_path):
    msg = _error(tmp_path, geographies=["ics", "england"])
    assert "indicator bad_one" in msg and "england is a published comparator, read from aggregate returns only" in msg


def test_an_indicator_with_a_target_cannot_also_say_it_has_none(tmp_path):
    msg = _error(tmp_path, target={"value": 90, "source": "s"},
                 no_target={"label": "No national standard", "reason": "none is published"})
    assert "indicator bad_one" in msg and "cannot also say why it has none" in msg


def test_the_standards_without_a_target_say_why():
    cat = load_catalogue(load_profile())
    assert cat.indicator("ae_4hr_type1").no_target.label == "No national standard"
    assert cat.indicator("ae_4hr_type1_published").no_target.label == "No national standard"
    assert cat.indicator("rtt_waiting_list").no_target.label == "No BLMK figure"
    assert "001 L2407" in cat.indicator("talking_therapies_entering").no_target.reason
