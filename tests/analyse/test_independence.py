"""Which catalogue series get SPC: rolling, cumulative and look-back figures do not (Making Data Count)."""

from __future__ import annotations

from placewise.analyse.independence import no_spc_reason, overlap
from placewise.measure import load_catalogue
from placewise.profile import load_profile

CATALOGUE = load_catalogue(load_profile())


def test_the_bundled_catalogue_withholds_spc_from_exactly_its_overlapping_series():
    flagged = {i.id for i in CATALOGUE.indicators if overlap(i)}
    assert flagged == {"emergency_admissions_dsr", "ld_health_checks", "smi_health_checks",
                       "asthma_saba_over_reliance", "af_anticoagulated", "cyp_mh_access",
                       "talking_therapies_entering"}


def test_each_kind_of_overlap_says_how_much_neighbouring_points_share():
    assert "share 11 months of data" in overlap(CATALOGUE.indicator("emergency_admissions_dsr"))
    assert "share 11 months of data" in overlap(CATALOGUE.indicator("cyp_mh_access"))  # MHS95: rolling 12 months
    assert "cumulative from 1 April" in overlap(CATALOGUE.indicator("ld_health_checks"))
    assert "share 11 months of records" in overlap(CATALOGUE.indicator("smi_health_checks"))
    assert "from the 6 months" in overlap(CATALOGUE.indicator("af_anticoagulated"))
    assert "share 5 months" in overlap(CATALOGUE.indicator("af_anticoagulated"))
    assert "Making Data Count advises against SPC" in no_spc_reason(CATALOGUE.indicator("ld_health_checks"))


def test_a_look_back_no_longer_than_the_period_and_a_latest_value_snapshot_keep_spc():
    smi = CATALOGUE.indicator("smi_health_checks")
    assert overlap(smi.model_copy(update={"frequency": "annual"})) == ""      # 12 months in a 12-month period
    af = CATALOGUE.indicator("af_anticoagulated")
    assert "share 3 months" in overlap(af.model_copy(update={"frequency": "quarterly"}))
    # Each person's latest reading describes their state on the day, as a waiting list does.
    assert no_spc_reason(CATALOGUE.indicator("hypertension_treated_to_target")) == ""
    assert no_spc_reason(CATALOGUE.indicator("diabetes_hba1c_58")) == ""
    assert no_spc_reason(CATALOGUE.indicator("ae_4hr_type1")) == ""
