"""Periods are labelled by their end, as NHS reports label them."""

from __future__ import annotations

from datetime import date

import pytest

from placewise.publish.labels import (
    UNKNOWN_TREATMENT_FUNCTION,
    TreatmentFunctionsError,
    parse_treatment_functions,
    period_end,
    period_label,
    treatment_function_label,
    treatment_function_names,
    year_starts,
)


@pytest.mark.parametrize(("start", "frequency", "label"), [
    (date(2021, 3, 1), "monthly", "Mar 2021"),
    (date(2025, 10, 1), "rolling_12_months", "12 months to Sep 2026"),
    (date(2025, 4, 1), "annual", "2025/26"),
    (date(2025, 1, 1), "annual", "12 months to Dec 2025"),
    (date(2026, 7, 1), "quarterly", "Q2 2026/27"),
    (date(2026, 4, 1), "quarterly", "Q1 2026/27"),
    (date(2027, 1, 1), "quarterly", "Q4 2026/27"),
    (date(2026, 2, 1), "quarterly", "3 months to Apr 2026"),
])
def test_period_labels_name_the_end(start: date, frequency: str, label: str) -> None:
    assert period_label(start, frequency) == label


def test_period_end_is_the_last_day() -> None:
    assert period_end(date(2024, 2, 1), "monthly") == date(2024, 2, 29)
    assert period_end(date(2025, 10, 1), "rolling_12_months") == date(2026, 9, 30)


def test_year_starts_are_the_periods_that_open_a_financial_year_by_their_end() -> None:
    months = [date(2025, m, 1) for m in (2, 3, 4, 5)] + [date(2026, 4, 1)]
    assert year_starts(months, "monthly") == [2, 4]
    # A rolling year belongs to the year of its end: "12 months to Mar 2026" is 2025/26's, to Apr 2026 2026/27's.
    assert year_starts([date(2025, 4, 1), date(2025, 5, 1)], "rolling_12_months") == [1]
    quarters = [date(2025, 10, 1), date(2026, 1, 1), date(2026, 4, 1)]
    assert year_starts(quarters, "quarterly") == [2]
    assert year_starts([], "monthly") == []


def test_every_treatment_function_the_generator_emits_has_a_name() -> None:
    from placewise.profile import load_profile
    from placewise.sources.synth.generate import load_synthetic

    cfg = load_synthetic(load_profile())
    emitted = (set(cfg.admissions.emergency_treatment_functions) | set(cfg.admissions.elective_treatment_functions)
               | set(cfg.outpatients.treatment_functions) | set(cfg.referrals_mix.treatment_functions) | {"300"})
    names = treatment_function_names()
    assert len(emitted) >= 18 and not emitted - set(names), sorted(emitted - set(names))
    assert all(UNKNOWN_TREATMENT_FUNCTION not in treatment_function_label(c) for c in emitted)


def test_names_are_the_data_dictionarys_and_an_unknown_code_is_said_not_blank() -> None:
    assert treatment_function_label("110") == "110 Trauma and Orthopaedic Service"
    assert treatment_function_label("502") == "502 Gynaecology Service"
    assert treatment_function_label("999") == "999 (unknown treatment function)"


@pytest.mark.parametrize(("text", "message"), [
    ("code,title\n110,X\n", "row 1: the header must be 'code,name'"),
    ("code,name\n110\n", "row 2: 1 fields where 2"),
    ("code,name\n11O,Trauma\n", "row 2: field code: '11O' is not a three-digit code"),
    ("code,name\n110,Trauma\n120, \n", "row 3: field name: empty for code 120"),
    ("code,name\n110,Trauma\n110,Again\n", "row 3: field code: 110 appears twice"),
])
def test_a_bad_names_table_is_refused_naming_the_row_and_field(text: str, message: str) -> None:
    with pytest.raises(TreatmentFunctionsError, match=message):
        parse_treatment_functions(text, "tf.csv")
