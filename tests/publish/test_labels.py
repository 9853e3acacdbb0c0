"""Periods are labelled by their end, as NHS reports label them."""

from __future__ import annotations

from datetime import date

import pytest

from placewise.publish.labels import period_end, period_label, year_starts


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
