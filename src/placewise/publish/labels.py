"""Period labels by the period's end, as NHS reports write them: "Mar 2021", "Q2 2026/27", "2025/26",
"12 months to Sep 2026"; and treatment functions by their names in the NHS Data Dictionary."""

from __future__ import annotations

import csv
import re
from datetime import date
from functools import cache
from importlib import resources

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


TREATMENT_FUNCTIONS_FILE = "treatment_functions.csv"
"""Treatment function codes and names, package data beside this module: the NHS Data Model and Dictionary
(version 3), TREATMENT FUNCTION CODE, the "Main Specialty and Treatment Function Codes" table, names as the
Dictionary gives them since treatment functions were renamed as services (e.g. 110 "Trauma and Orthopaedic
Service"), the names NHS England's RTT statistics also print."""

UNKNOWN_TREATMENT_FUNCTION = "(unknown treatment function)"


class TreatmentFunctionsError(ValueError):
    """The packaged table of treatment function names is malformed."""


def parse_treatment_functions(text: str, source: str) -> dict[str, str]:
    """Codes to names from the CSV text; a clear error naming the file, row and field of a bad row."""
    rows = list(csv.reader(text.splitlines()))
    if not rows or rows[0] != ["code", "name"]:
        raise TreatmentFunctionsError(f"{source}: row 1: the header must be 'code,name', not {rows[:1]}")
    names: dict[str, str] = {}
    for n, row in enumerate(rows[1:], start=2):
        if len(row) != 2:
            raise TreatmentFunctionsError(f"{source}: row {n}: {len(row)} fields where 2 (code, name) are needed")
        code, name = (x.strip() for x in row)
        if not re.fullmatch(r"\d{3}", code):
            raise TreatmentFunctionsError(f"{source}: row {n}: field code: {code!r} is not a three-digit code")
        if not name:
            raise TreatmentFunctionsError(f"{source}: row {n}: field name: empty for code {code}")
        if code in names:
            raise TreatmentFunctionsError(f"{source}: row {n}: field code: {code} appears twice")
        names[code] = name
    return names


@cache
def treatment_function_names() -> dict[str, str]:
    """The packaged treatment function names, read and validated once."""
    text = (resources.files("placewise.publish") / TREATMENT_FUNCTIONS_FILE).read_text(encoding="utf-8")
    return parse_treatment_functions(text, f"placewise/publish/{TREATMENT_FUNCTIONS_FILE}")


def treatment_function_label(code: str) -> str:
    """The code and its name, "110 Trauma and Orthopaedic Service"; a code the Dictionary table does not hold
    prints as the code and "(unknown treatment function)", never blank."""
    name = treatment_function_names().get(str(code).strip())
    return f"{code} {name}" if name else f"{code} {UNKNOWN_TREATMENT_FUNCTION}"
