"""Reporting periods inside a range: months, financial quarters and years, rolling twelve months."""

from __future__ import annotations

from datetime import date

import pytest

from placewise.measure import ReportingRange, periods

RANGE = ReportingRange(date(2023, 2, 10), date(2024, 4, 2))   # February 2023 to April 2024


def test_months_cover_the_range():
    ps = periods(RANGE, "monthly")
    assert len(ps) == 15
    assert ps[0] == (date(2023, 2, 1), date(2023, 2, 28))
    assert ps[12] == (date(2024, 2, 1), date(2024, 2, 29))   # leap year


def test_quarters_follow_the_financial_year_and_lie_inside_the_range():
    assert periods(RANGE, "quarterly") == [
        (date(2023, 4, 1), date(2023, 6, 30)), (date(2023, 7, 1), date(2023, 9, 30)),
        (date(2023, 10, 1), date(2023, 12, 31)), (date(2024, 1, 1), date(2024, 3, 31)),
    ]


def test_financial_years_only_when_whole():
    assert periods(RANGE, "annual") == [(date(2023, 4, 1), date(2024, 3, 31))]
    assert periods(ReportingRange(date(2023, 5, 1), date(2024, 3, 1)), "annual") == []


def test_rolling_twelve_months_end_at_each_month_end():
    ps = periods(RANGE, "rolling_12_months")
    assert ps[0] == (date(2022, 3, 1), date(2023, 2, 28))
    assert ps[-1] == (date(2023, 5, 1), date(2024, 4, 30))


def test_a_backwards_range_is_an_error():
    with pytest.raises(ValueError, match=r"ends .* before it starts"):
        ReportingRange(date(2024, 3, 1), date(2024, 2, 1))
