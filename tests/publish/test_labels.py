"""Periods are labelled by their end, as NHS reports label them."""

from __future__ import annotations

from datetime import date

import pytest

from placewise.publish.labels import period_end, period_label


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
