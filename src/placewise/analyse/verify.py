"""Prove that engines agree: compute the same indicators on several warehouses holding the same data and
report every difference.

Measurements are compared row by row after sorting on the full key (indicator, period, geography,
breakdown group): a row on one engine and not another is a difference; counts must be identical when
whole numbers and within a relative tolerance (1e-9 by default) otherwise, as must values and intervals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import ibis
import numpy as np
import pandas as pd

from placewise.analyse.measurements import KEYS, measurements
from placewise.measure import Catalogue, ReportingRange, compute, default_range

COMPARED = ("numerator", "denominator", "events", "sum_squares", "value", "lower", "upper")
"""Columns of the measurements compared between engines (the key columns must match exactly)."""
RTOL = 1e-9


@dataclass(frozen=True)
class Difference:
    """One measurement that is not the same on two engines."""

    engine: str
    indicator_id: str
    key: str
    column: str
    reference: float | None
    other: float | None


@dataclass
class Verification:
    """What a verification compared and every difference it found (against the first engine)."""

    engines: list[str]
    indicators: list[str]
    rows: dict[str, int]
    differences: list[Difference] = field(default_factory=list)

    @property
    def agree(self) -> bool:
        """Whether every engine gave every measurement the reference engine gave, and no other."""
        return not self.differences


def sample(catalogue: Catalogue) -> list[str]:
    """One indicator of each kind (measure and numerator type), the catalogue's first of each, for a quick proof."""
    seen: dict[tuple[str, str], str] = {}
    for ind in catalogue.indicators:
        seen.setdefault((ind.measure, type(ind.numerator).__name__), ind.id)
    return sorted(seen.values())


def measurements_on(con: ibis.BaseBackend, catalogue: Catalogue, indicators: list[str],
                    periods_range: ReportingRange | None) -> pd.DataFrame:
    """The indicators' measurements on one warehouse, sorted on the full key (nothing is written)."""
    counts = compute(con, catalogue, periods_range=periods_range, indicators=indicators)
    table = measurements(counts, catalogue, datetime(2000, 1, 1, tzinfo=UTC))
    return table.select([*KEYS, *COMPARED]).to_pandas().sort_values(KEYS, ignore_index=True)


def _key_text(frame: pd.DataFrame) -> pd.Series:
    """Each row's key in words, for the report."""
    return frame[KEYS[1:]].astype(str).agg(" ".join, axis=1)


def compare(reference: pd.DataFrame, other: pd.DataFrame, engine: str, rtol: float = RTOL) -> list[Difference]:
    """Every difference between two engines' measurements: rows on one side only, then values that differ."""
    both = reference.merge(other, on=KEYS, how="outer", suffixes=("_ref", "_other"), indicator="side")
    alone = both[both.side != "both"]
    out = [Difference(engine, ind, key, "row", None if side == "right_only" else 1.0,
                      None if side == "left_only" else 1.0)
           for ind, side, key in zip(alone.indicator_id, alone.side, _key_text(alone))]
    matched = both[both.side == "both"]
    for col in COMPARED:
        a, b = matched[f"{col}_ref"].to_numpy(float), matched[f"{col}_other"].to_numpy(float)
        # a sum of fractions (expected cases) can land on a whole number on one engine only
        whole = np.isfinite(a) & (a == np.round(a)) & (b == np.round(b)) & (col in ("numerator", "denominator", "events"))
        close = np.isclose(a, b, rtol=rtol, atol=0.0, equal_nan=True)
        bad = np.where(whole, a != b, ~close)
        if bad.any():  # keys put into words only for the rows that differ: a million rows agree in a second
            out += [Difference(engine, ind, key, col, float(x), float(y))
                    for ind, key, x, y in zip(matched.indicator_id[bad], _key_text(matched[bad]), a[bad], b[bad])]
    return out


def verify(warehouses: list[tuple[str, ibis.BaseBackend]], catalogue: Catalogue, indicators: list[str],
           periods_range: ReportingRange | None = None, rtol: float = RTOL) -> Verification:
    """Compute the indicators on each warehouse (labelled, e.g. by engine) and compare each with the first,
    over the first warehouse's default reporting range unless one is given."""
    labels = [label for label, _ in warehouses]
    if len(set(labels)) != len(labels):
        raise ValueError(f"each warehouse needs its own label, not {labels}")
    periods_range = periods_range or default_range(warehouses[0][1])
    found = {label: measurements_on(con, catalogue, indicators, periods_range) for label, con in warehouses}
    result = Verification(labels, indicators, {label: len(f) for label, f in found.items()})
    for label in labels[1:]:
        result.differences += compare(found[labels[0]], found[label], label, rtol)
    return result
