"""The target a report shows for its financial year, with stale, standing and missing targets flagged."""

from __future__ import annotations

from datetime import date

import pytest

from placewise.analyse.targets import plan_figure, target_status
from placewise.measure.catalogue import Target, YearTarget, financial_year
from placewise.measure import load_catalogue
from placewise.profile import load_profile
from placewise.sources.synth.generate import load_synthetic


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


def test_a_standing_standard_without_a_plan_target_for_the_year_is_flagged_with_the_reason(catalogue):
    s = _status(catalogue, "ae_4hr_all", date(2027, 9, 30))  # 2027/28: the framework sets March 2027 and 2028/29
    assert (s.value, s.flag) == (95.0, "standing")
    assert s.note.startswith("No plan held for 2027/28: the Medium term planning framework (October 2025) sets 82% "
                             "by March 2027 and 85% for 2028/29")
    assert s.note.endswith(". The standing standard, 95, is the reference (the latest plan target, 82, was for "
                           "2026/27).")
    # RTT before 2025/26: the guidance planned long waits, not a share within 18 weeks (declared unset), so the
    # Constitution's 92% is the reference and no plan is held, though no earlier year had a plan target.
    s = _status(catalogue, "rtt_18wk", date(2025, 3, 31))
    assert (s.value, s.flag) == (92.0, "standing") and s.note.startswith("No plan held for 2024/25: no operating-plan")
    # A standard held every year with no year declared unset (the contract's zero 52-week waits before 2025/26) is
    # simply the target, and the plan.
    assert _status(catalogue, "rtt_52wk", date(2025, 3, 31)).flag == ""
    assert _status(catalogue, "rtt_52wk", date(2025, 4, 30)).flag == "standing"


def test_the_2026_27_targets_found_in_the_medium_term_planning_framework_apply(catalogue):
    # Medium term planning framework (October 2025), success measures: 3.1 (p.28) RTT 70% nationally, FDS 80%, every
    # trust 94% for 31-day and 80% for 62-day by March 2027, no more than 14% waiting over 6 weeks for a test
    # nationally; 3.2 (p.30) every trust 82% within four hours by March 2027, a category 2 mean of 25 minutes.
    expected = {"rtt_18wk": 70.0, "cancer_fds_28d": 80.0, "cancer_31d": 94.0, "cancer_62d": 80.0,
                "diagnostics_6wk": 86.0, "ae_4hr_all": 82.0, "ae_4hr_all_published": 82.0, "ambulance_cat2_mean": 25.0}
    for ind, value in expected.items():
        for as_of in (date(2026, 4, 30), date(2027, 3, 31)):  # the first and last months of 2026/27
            s = _status(catalogue, ind, as_of)
            assert (s.value, s.year, s.flag) == (value, "2026/27", ""), (ind, as_of)
    for ind in ("cancer_31d", "cancer_62d", "diagnostics_6wk", "ae_4hr_all", "ambulance_cat2_mean"):
        year = catalogue.indicator(ind).target.for_period(date(2026, 9, 30))
        assert "Medium term planning framework" in year.document and "al26152/Langchain" in year.checked, ind


def test_the_years_after_2026_27_hold_what_the_framework_states_and_flag_the_year_it_does_not(catalogue):
    # NHS Providers' summary of the Medium term planning framework: RTT 70% in 2026/27 and 92% in 2028/29; NHS
    # England's announcement: cancer 62-day 85% and 31-day 96% by 2028/29; the framework's success measures: four
    # hours 85% as the average for 2028/29, category 2 mean 18 minutes and no more than 1% waiting over 6 weeks for a
    # test by 2028/29. Nothing is stated for 2027/28.
    first, last = date(2028, 4, 30), date(2029, 3, 31)  # the first and last months of 2028/29
    for ind, value in (("rtt_18wk", 92.0), ("cancer_62d", 85.0), ("cancer_31d", 96.0), ("ae_4hr_all", 85.0),
                       ("ambulance_cat2_mean", 18.0), ("diagnostics_6wk", 99.0)):
        for as_of in (first, last):
            s = _status(catalogue, ind, as_of)
            assert (s.value, s.year, s.flag) == (value, "2028/29", ""), (ind, as_of)
            assert "framework" in s.source
    s = _status(catalogue, "rtt_18wk", date(2028, 3, 31))  # the last day of 2027/28
    assert (s.value, s.year, s.flag) == (92.0, "2027/28", "standing")
    assert s.note.startswith("No plan held for 2027/28: the stored summaries of the Medium term planning framework")
    assert s.note.endswith("(the latest plan target, 70, was for 2026/27).")
    s = _status(catalogue, "cancer_62d", date(2027, 4, 30))  # 2027/28: no figure set, the standard is the reference
    assert (s.value, s.flag) == (85.0, "standing") and "none for 2027/28" in s.note
    # The RTT rule is held as what the report can show: the ICS against the national 70%, the trust rule stated.
    s = _status(catalogue, "rtt_18wk", date(2026, 4, 30))
    assert (s.value, s.flag) == (70.0, "") and "7% improvement" in s.source and "whichever is greater" in s.source


def test_a_year_whose_guidance_sets_no_figure_has_no_national_target_not_a_stale_one(catalogue):
    # G&A bed occupancy: the Medium term planning framework (2026/27 to 2028/29) sets none; the profile says so
    # (none_set), so 2026/27 has no target with that source, where 2025/26 (none found) shows 2024/25's as stale.
    s = _status(catalogue, "ga_bed_occupancy", date(2026, 6, 30))
    assert (s.value, s.year, s.flag) == (None, "2026/27", "none")
    assert s.note.startswith("No national target for 2026/27: the Medium term planning framework 2026/27 to 2028/29")
    assert "Medium term planning framework" in s.source and s.source.startswith("2026/27: ")
    s = _status(catalogue, "ga_bed_occupancy", date(2025, 6, 30))
    assert (s.value, s.year, s.flag) == (92.0, "2024/25", "stale")
    assert s.note.startswith("Stale target: the latest is for 2024/25; none is held for 2025/26. No G&A occupancy")


def test_none_set_applies_only_where_no_standing_standard_does():
    t = Target(value=95, source="standard", unset=[{"first": "2026/27", "last": "2026/27", "none_set": True,
                                                    "reason": "the guidance sets none"}])
    assert target_status(t, "s", date(2026, 6, 30)).flag == "standing"       # the standard still stands
    t = Target(years=[YearTarget(year="2025/26", value=90, source="plan")], source="plan",
               unset=[{"first": "2026/27", "last": "2026/27", "none_set": True, "reason": "the guidance sets none"}])
    s = target_status(t, "s", date(2026, 6, 30))
    assert (s.value, s.flag, s.note) == (None, "none", "No national target for 2026/27: the guidance sets none.")


def test_a_retired_standard_applies_to_its_last_year_and_no_target_after(catalogue):
    # The two-week wait (93%) was retired on 1 October 2023: held to 2023/24, none from 2024/25, with the reason.
    assert (_status(catalogue, "cancer_2ww", date(2021, 3, 31)).value, _status(catalogue, "cancer_2ww",
            date(2024, 3, 31)).value) == (93.0, 93.0)
    s = _status(catalogue, "cancer_2ww", date(2024, 4, 30))
    assert (s.value, s.year, s.flag) == (None, "2024/25", "missing")
    assert s.note.startswith("No target applies in 2024/25. The two-week wait standard was retired on 1 October 2023")
    t = catalogue.indicator("cancer_2ww").target
    assert t.for_period(date(2024, 3, 31)).value == 93.0 and t.for_period(date(2026, 9, 30)) is None
    assert plan_figure(t, "2023/24").value == 93.0 and plan_figure(t, "2026/27") is None


def test_a_target_cannot_end_before_it_starts_or_end_without_a_standing_value():
    with pytest.raises(ValueError, match="until '2022/23' needs a standing value and must not be before since"):
        Target(value=93, since="2023/24", until="2022/23", source="s")
    with pytest.raises(ValueError, match="until '2023/24' needs a standing value"):
        Target(years=[YearTarget(year="2023/24", value=90, source="s")], until="2023/24", source="s")


def test_a_past_years_target_is_shown_as_stale(catalogue):
    s = _status(catalogue, "hypertension_treated_to_target", date(2026, 9, 30))
    assert (s.value, s.year, s.flag) == (80.0, "2024/25", "stale")
    assert s.note.startswith("Stale target: the latest is for 2024/25; none is held for 2026/27. The 2025/26 guidance")


def test_no_target_before_a_standard_starts_and_none_for_an_indicator_without_one(catalogue):
    s = _status(catalogue, "cancer_fds_28d", date(2021, 3, 31))
    assert (s.value, s.flag) == (None, "missing") and "no target in 2020/21" in s.source
    s = _status(catalogue, "gp_dna_rate", date(2026, 9, 30))
    assert (s.value, s.flag, s.note) == (None, "", "")


def _years(first: str, last: str) -> list[str]:
    """Financial years from ``first`` to ``last`` inclusive."""
    return [f"{y}/{(y + 1) % 100:02d}" for y in range(int(first[:4]), int(last[:4]) + 1)]


def _covered() -> list[str]:
    """The financial years the data cover: NHS England's A&E statistics from April 2016 (the earliest real
    data), the BLMK 2020/21 dashboard, and the synthetic history to the profile's end date."""
    end = load_synthetic(load_profile()).default_end_date
    return _years("2016/17", financial_year(end))


def test_every_standard_has_a_target_or_a_stated_reason_in_every_year_the_data_cover(catalogue):
    years = _covered()
    assert years[-1] == "2026/27"
    gaps = []
    for i in (i for i in catalogue.indicators if i.target is not None):
        for fy in years:
            s = target_status(i.target, i.standard_source, date(int(fy[:4]), 9, 30))
            if (s.value is None or not s.source) and not i.target.unset_reason(fy):
                gaps.append((i.id, fy))
    assert gaps == []


def test_every_year_from_an_indicators_first_plan_target_has_its_own_target_or_a_reason(catalogue):
    gaps = []
    for i in (i for i in catalogue.indicators if i.target is not None and i.target.years):
        own = {y.year for y in i.target.years}
        for fy in _years(min(own), _covered()[-1]):
            if fy not in own and not i.target.unset_reason(fy):
                gaps.append((i.id, fy))
    assert gaps == []


def test_every_plan_target_names_its_document_section_and_where_it_was_checked(catalogue):
    for i in (i for i in catalogue.indicators if i.target is not None):
        for y in i.target.years:
            assert y.document and y.section, (i.id, y.year)
            assert y.checked.startswith(("https://", "../shared/", "not found in the stored copies")), (i.id, y.year)
