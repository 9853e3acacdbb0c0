"""Reporting periods: the months, quarters, financial years or rolling years inside a reporting range."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


from placewise.derive.records import add_months
from placewise.measure.catalogue import Frequency


@dataclass(frozen=True)
class ReportingRange:
    """Whole months from the month of ``first`` to the month of ``last`` inclusive."""

    first: date
    last: date

    def __post_init__(self) -> None:
        if (self.last.year, self.last.month) < (self.first.year, self.first.month):
            raise ValueError(f"reporting range ends ({self.last}) before it starts ({self.first})")


def month_end(d: date) -> date:
    """The last day of the month of ``d``."""
    return add_months(d, 1) - timedelta(days=1)


def _month_starts(rng: ReportingRange) -> list[date]:
    """First day of every month in the range."""
    first = date(rng.first.year, rng.first.month, 1)
    n = (rng.last.year - first.year) * 12 + rng.last.month - first.month + 1
    return [add_months(first, i) for i in range(n)]


def periods(rng: ReportingRange, frequency: Frequency) -> list[tuple[date, date]]:
    """(start, end inclusive) of each period of ``frequency`` that ends inside the range.

    Quarters and years follow the NHS financial year (April to March); a rolling twelve months
    ends at each month end in the range. Quarters and years must lie wholly within the range.
    """
    months = _month_starts(rng)
    if frequency == "monthly":
        return [(m, month_end(m)) for m in months]
    if frequency == "rolling_12_months":
        return [(add_months(m, -11), month_end(m)) for m in months]
    length, first_month = (3, (4, 7, 10, 1)) if frequency == "quarterly" else (12, (4,))
    inside = set(months)
    return [
        (m, month_end(add_months(m, length - 1)))
        for m in months
        if m.month in first_month and add_months(m, length - 1) in inside
    ]
