"""BLMK's 2020/21 integrated performance dashboards (9 June 2021 Partnership Board, 003 L3545-4210) as returns.

Reads the extracted tables in ``blmk_performance_2020_21/`` (monthly series by legacy CCG and BLMK, printed
as "93.00%", "36,726" or "6:05") and writes canonical ``aggregate_returns`` rows: a share as its value
(0–1), a count as its value, a mean response time in minutes; the org code is the legacy CCG's (06F, 06P,
04F) or the ICB's (QHG) for the BLMK row. Only printed figures are read; the ``DERIVED_`` files, which hold
arithmetic done during extraction, are never read here (the tests compare against them). The "BLMK Phase 3
Plan" rows become a trajectory CSV for plan against actual. An unreadable cell is an error naming the file,
row and column.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from placewise.canonical import table

FOLDER_NAME = "blmk_performance_2020_21"
"""The extracted dashboards' folder inside a reference folder (``../shared/reference`` beside a checkout)."""
ORGS = {"NHS Bedfordshire CCG": "06F", "NHS Luton CCG": "06P", "NHS Milton Keynes CCG": "04F", "BLMK STP": "QHG"}
"""Row labels of the monthly tables and their org codes (legacy CCGs; the ICB for the BLMK total)."""
KPQI_ORGS = {"bedfordshire_ccg": "06F", "luton_ccg": "06P", "milton_keynes_ccg": "04F", "blmk": "QHG"}
PLAN_ROW = "BLMK Phase 3 Plan"


@dataclass(frozen=True)
class Series:
    """One monthly table: its file, the return measure it gives, and how a printed cell becomes a value."""

    file: str
    measure: str
    kind: str  # share | count | share_complement (the printed share is of those waiting six weeks or more)
    indicator: str


MONTHLY = (
    Series("elective_rtt_18wk_performance_monthly.csv", "rtt_within_18wk", "share", "rtt_18wk"),
    Series("elective_rtt_waiting_list_monthly.csv", "rtt_waiting_list", "count", "rtt_waiting_list"),
    Series("elective_rtt_52wk_waits_monthly.csv", "rtt_over_52wk", "count", "rtt_52wk"),
    Series("diagnostics_6wk_performance_monthly.csv", "diagnostics_within_6wk", "share_complement",
           "diagnostics_6wk"),
    Series("cancer_2ww_monthly.csv", "cancer_2ww", "share", "cancer_2ww"),
    Series("cancer_31day_first_treatment_monthly.csv", "cancer_31d", "share", "cancer_31d"),
    Series("cancer_62day_gp_referral_monthly.csv", "cancer_62d", "share", "cancer_62d"),
)
KPQI_FILE = "kpqi_ccg_dashboard_mar21.csv"
KPQI_ROWS = {  # dashboard row (as printed, prefix) -> (measure, kind)
    "Cancer Waiting Times - 28 Days Faster Diagnosis Standard": ("cancer_fds_28d", "share"),
    "Ambulance Response Times - Category 1 - Mean": ("ambulance_cat1_mean", "minutes"),
    "Ambulance Response Times - Category 2 - Mean": ("ambulance_cat2_mean", "minutes"),
}
_MONTH = re.compile(r"^[A-Z][a-z]{2}-\d{2}$")


class SourceError(ValueError):
    """A dashboard table cannot be read; the message names the file, row and column."""


def _number(path: Path, row: int, column: str, text: str, kind: str) -> float | None:
    """A printed cell as a value: a share (0–1), a count, or minutes; None for a blank or "NP" (no patients)."""
    text = text.strip()
    if text in ("", "NP", "#N/A"):
        return None
    try:
        if kind == "minutes":
            minutes, seconds = text.split(":")
            return int(minutes) + int(seconds) / 60
        if kind in ("share", "share_complement"):
            share = float(text.rstrip("%")) / 100
            return 1 - share if kind == "share_complement" else share
        return float(text.replace(",", ""))
    except ValueError as err:
        raise SourceError(f"{path}: row {row}, column {column}: {text!r} is not a "
                          f"{'time m:ss' if kind == 'minutes' else 'percentage' if 'share' in kind else 'number'}") from err


def month_start(label: str) -> date:
    """``Mar-21`` as 1 March 2021."""
    return datetime.strptime(label, "%b-%y").date()


def _rows(path: Path, label: str = "row_label") -> list[dict[str, str]]:
    """The table's rows, naming the file if it is missing or lacks its label column."""
    try:
        with path.open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        raise SourceError(f"{path}: cannot read: {e}") from None
    if rows and label not in rows[0]:
        raise SourceError(f"{path}: missing column {label}")
    return rows


def monthly(folder: Path) -> tuple[list[tuple[date, str, str, float]], list[tuple[str, date, float]]]:
    """Every printed monthly figure as (month, org, measure, value), and every Phase 3 plan point."""
    out, plans = [], []
    for s in MONTHLY:
        path = folder / s.file
        for i, row in enumerate(_rows(path), start=1):
            months = [c for c in row if c and _MONTH.match(c)]
            org = ORGS.get(row["row_label"])
            for m in months:
                v = _number(path, i, m, row[m] or "", s.kind)
                if v is None:
                    continue
                if org is not None:
                    out.append((month_start(m), org, s.measure, v))
                elif row["row_label"] == PLAN_ROW:
                    plans.append((s.indicator, month_start(m), v))
    return out, plans


def kpqi(folder: Path) -> list[tuple[date, str, str, float]]:
    """The figures printed only on the Key Performance and Quality Indicators dashboard (FDS, ambulance)."""
    path = folder / KPQI_FILE
    out = []
    for i, row in enumerate(_rows(path, "measure"), start=1):
        hit = next((v for k, v in KPQI_ROWS.items() if row["measure"].startswith(k)), None)
        if hit is None:
            continue
        measure, kind = hit
        for column, org in KPQI_ORGS.items():
            v = _number(path, i, column, row[column], kind)
            if v is not None:
                out.append((month_start(row["latest_data_period"]), org, measure, v))
    return out


def aggregate_returns(folder: Path) -> pa.Table:
    """The canonical aggregate-returns rows of the 2020/21 dashboards: published values, no counts."""
    rows = monthly(folder)[0] + kpqi(folder)
    n = len(rows)
    return pa.table({
        "period": pa.array([r[0] for r in rows], pa.date32()), "org_code": [r[1] for r in rows],
        "measure": [r[2] for r in rows], "numerator": pa.nulls(n, pa.float64()),
        "denominator": pa.nulls(n, pa.float64()), "value": pa.array([r[3] for r in rows], pa.float64()),
    }).cast(table("aggregate_returns").source_schema())


def write(folder: Path, out: Path, ics_code: str = "QHG") -> tuple[int, Path]:
    """Write ``aggregate_returns.parquet`` into ``out`` and the plans as ``phase3_plan.csv`` beside it (not in
    the batch folder, so ingest does not mistake it for a table); return the row count and the plan path."""
    out.mkdir(parents=True, exist_ok=True)
    rows = aggregate_returns(folder)
    pq.write_table(rows, out / "aggregate_returns.parquet")
    plan_path = out.parent / f"{out.name}_phase3_plan.csv"
    with plan_path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["indicator_id", "geography_type", "geography_code", "period_start", "value"])
        for indicator, month, value in monthly(folder)[1]:
            w.writerow([indicator, "ics", ics_code, month.isoformat(), f"{value:g}"])
    return rows.num_rows, plan_path
