"""Period labels by the period's end, as NHS reports write them: "Mar 2021", "Q2 2026/27", "2025/26",
"12 months to Sep 2026"."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from placewise.measure.catalogue import financial_year

MONTHS_SPANNED = {"monthly": 1, "quarterly": 3, "annual": 12, "rolling_12_months": 12}


def period_end(start: date, frequency: str) -> date:
    """The last day of the period that starts on ``start``."""
    return (pd.Timestamp(start) + pd.offsets.MonthEnd(MONTHS_SPANNED[frequency])).date()


def year_starts(periods: list[date], frequency: str) -> list[int]:
    """The indices of the periods that open a financial year (by each period's end) after the first period's year:
    where a chart breaks its plan line, each planning year's plan being its own."""
    years = np.array([financial_year(period_end(p, frequency)) for p in periods])
    return [int(i) for i in np.flatnonzero(years[1:] != years[:-1]) + 1]


def period_label(start: date, frequency: str) -> str:
    """The label of the period starting on ``start``, named by its end."""
    end = period_end(start, frequency)
    if frequency == "quarterly" and start.month in (4, 7, 10, 1):
        return f"Q{(start.month - 4) % 12 // 3 + 1} {financial_year(start)}"
    if frequency == "annual" and start.month == 4:
        return financial_year(start)
    if frequency in ("annual", "rolling_12_months"):
        return f"12 months to {end:%b %Y}"
    if frequency == "quarterly":
        return f"3 months to {end:%b %Y}"
    return f"{end:%b %Y}"
