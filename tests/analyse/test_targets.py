"""The target a report shows for its financial year, with stale, standing and missing targets flagged."""

from __future__ import annotations

from datetime import date

import pytest

from placewise.analyse.targets import target_status
from placewise.measure import load_catalogue
from placewise.profile import load_profile


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue(load_profile())


def _status(catalogue, ind: str, as_of: date | None):
    i = catalogue.indicator(ind)
    return target_status(i.target, i.standard_source, as_of)


def test_the_years_own_target_applies_unflagged(catalogue):
    s = _status(catalogue, "cancer_fds_28d", date(2025, 3, 31))  # last day of 2024/25
    assert (s.value, s.year, s.flag) == (77.0, "2024/25", "")
    s = _status(catalogue, "cancer_fds_28d", date(2025, 4, 30))  # first month of 2025/26
    assert (s.value, s.year, s.flag) == (80.0, "2025/26", "")


def test_a_standing_standard_without_a_plan_target_for_the_year_is_flagged(catalogue):
    s = _status(catalogue, "rtt_18wk", date(2026, 9, 30))
    assert (s.value, s.flag) == (92.0, "standing")
    assert s.note == ("No operating-plan target is set for 2026/27; the standing standard applies (the latest plan "
                      "target, 65, was for 2025/26).")
    # Before any plan year the standing standard is simply the target.
    assert _status(catalogue, "rtt_18wk", date(2021, 3, 31)).flag == ""


def test_a_past_years_target_is_shown_as_stale(catalogue):
    s = _status(catalogue, "hypertension_treated_to_target", date(2026, 9, 30))
    assert (s.value, s.year, s.flag) == (80.0, "2024/25", "stale")
    assert s.note == "Stale target: the latest is for 2024/25; none is set for 2026/27."


def test_no_target_before_a_standard_starts_and_none_for_an_indicator_without_one(catalogue):
    s = _status(catalogue, "cancer_fds_28d", date(2021, 3, 31))
    assert (s.value, s.flag) == (None, "missing") and "no target in 2020/21" in s.source
    s = _status(catalogue, "gp_dna_rate", date(2026, 9, 30))
    assert (s.value, s.flag, s.note) == (None, "", "")
