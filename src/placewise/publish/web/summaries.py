"""Views over many indicators at once: the Board summary (exceptions first), area profiles and the
Core20PLUS5 inequalities dashboard, all from published rows as the caller may read them.

The Board summary and the profiles are the report's own model, grouped exceptions first, (:func:`placewise.publish.report.build_report`)
for one area, so the pages and the report show the same SPC charts, icons and sentences.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from placewise.analyse.governance import load_governance
from placewise.measure import Catalogue
from placewise.profile import Profile
from placewise.publish import charts
from placewise.publish.disclosure import DisclosureRule
from placewise.publish.inputs import plan_inputs
from placewise.publish.labels import period_label
from placewise.publish.report import (
    MEASUREMENT_COLUMNS,
    IndicatorSpec,
    ReportModel,
    Scope,
    build_report,
)
from placewise.publish.web.views import fmt_row


def board_model(frame: pd.DataFrame, specs: list[IndicatorSpec], scope: Scope, profile: Profile,
                catalogue: Catalogue, rule: DisclosureRule, share: float = 1.0) -> ReportModel:
    """The report model of one area with its plan against actual (the plans of counts scaled to ``share`` of the ICS,
    a synthetic sample's); ``board`` groups it exceptions first (:func:`placewise.analyse.board.exceptions`, as the
    report does)."""
    plans = plan_inputs(frame, profile, catalogue, share=share)
    governance = load_governance(profile, [i.id for i in catalogue.indicators],
                                 domains={i.domain for i in catalogue.indicators})
    return build_report(frame, specs, scope, title="Board summary", months=24, rule=rule, plan=plans,
                        governance=governance)


def measurement_frame(rows: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Snapshot rows of many indicators (keyed by id) as one measurements frame with dates."""
    parts = [r.assign(indicator_id=i) for i, r in rows.items() if not r.empty]
    if not parts:
        return pd.DataFrame(columns=list(MEASUREMENT_COLUMNS))
    out = pd.concat(parts, ignore_index=True)
    for c in ("period_start", "period_end"):
        out[c] = pd.to_datetime(out[c]).dt.date
    out["suppressed"] = out.suppressed.astype(bool)
    return out[list(MEASUREMENT_COLUMNS)]


@dataclass
class GapRow:
    """One indicator on the inequalities dashboard: the most deprived fifth against the least, and the trend."""

    id: str
    title: str
    period: str
    overall: str
    most_deprived: str
    least_deprived: str
    gap: str
    trend_svg: str
    verdict: str


def gap_rows(frame: pd.DataFrame, specs: dict[str, IndicatorSpec], months: int = 24) -> list[GapRow]:
    """For every indicator with IMD quintiles: the latest quintile 1 and 5 values, the gap and its trend."""
    q = frame[frame.breakdown == "imd_quintile"]
    wide = q.pivot_table(index=["indicator_id", "period_start"], columns="breakdown_group", values="value",
                         aggfunc="first")
    if wide.empty or not {"1", "5"} <= set(wide.columns):
        return []
    hidden = q[q.suppressed].groupby(["indicator_id", "period_start"]).size()
    gap = (wide["1"] - wide["5"]).where(~wide.index.isin(hidden.index))
    overall = frame[frame.breakdown == "none"].set_index(["indicator_id", "period_start"])
    out = []
    for ind, g in gap.groupby(level=0, sort=False):
        spec = specs.get(str(ind))
        if spec is None:
            continue
        g = g.droplevel(0).sort_index().iloc[-months:]
        last = g.index[-1]
        q1, q5 = wide.loc[(ind, last), "1"], wide.loc[(ind, last), "5"]
        total = overall.loc[(ind, last)] if (ind, last) in overall.index else None
        out.append(GapRow(
            id=str(ind), title=spec.title, period=period_label(last, spec.frequency),
            overall=fmt_row(spec, "", total).value if total is not None else "–",
            most_deprived=spec.fmt(q1), least_deprived=spec.fmt(q5),
            gap=_signed(spec, g.iloc[-1]), trend_svg=charts.sparkline(g.to_numpy(dtype=float) * spec.scale),
            verdict=_verdict(spec, g.to_numpy(dtype=float))))
    return out


def _signed(spec: IndicatorSpec, value: float) -> str:
    """A gap in display units with its sign (percentages as percentage points); a dash where hidden."""
    if not np.isfinite(value):
        return "–"
    unit = " percentage points" if spec.unit == "%" else spec.unit
    return f"{value * spec.scale:+,.{spec.decimals}f}{unit}"


def _verdict(spec: IndicatorSpec, gaps: np.ndarray) -> str:
    """Narrowing or widening: the mean absolute gap of the later half of the periods shown against the
    earlier half (a change under 5% is "about the same"); a description, not a significance test."""
    g = gaps[np.isfinite(gaps)]
    if g.size < 4:
        return "too few periods to tell"
    half = g.size // 2
    before, after = np.abs(g[:half]).mean(), np.abs(g[half:]).mean()
    if abs(after - before) < 0.05 * max(before, 1e-9):
        return "about the same"
    return "narrowing" if after < before else "widening"
