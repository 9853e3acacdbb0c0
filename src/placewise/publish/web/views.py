"""What the pages show, built from published measurements: the indicator explorer's SPC chart, funnel,
inequalities and table, with the report's charts, icons and labels.

Everything here takes rows that the API layer has already passed through the disclosure rule for the
user's role (hidden figures empty, the ``suppressed`` flag set), so nothing here can show what the
rule hides. The funnel is the report's (:mod:`placewise.analyse.funnels`: exact limits, overdispersion, the sparse
rule) around the ICS's published value, so that the web app and the report give an area the same verdict.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

import numpy as np
import pandas as pd

from placewise.analyse.funnels import FUNNEL_MEASURES, CENTRE_RULE, Funnel, judged_numerators
from placewise.analyse.funnels import units_funnel as analysed_funnel
from placewise.analyse.spc import PointType, ShortSeriesWarning, spc
from placewise.analyse.statistics import FunnelSignificance, slope_index_of_inequality
from placewise.publish import charts, icons
from placewise.publish.disclosure import SUPPRESSED_TEXT
from placewise.publish.labels import period_label, year_starts
from placewise.publish.report import POINT_CLASS, IndicatorSpec, describe, period_grid

BREAKDOWNS = {"none": "Whole population", "imd_quintile": "IMD quintile (1 most deprived)",
              "ethnic_group": "Ethnic group", "sex": "Sex", "age_band": "Age band"}
"""The breakdowns the explorer offers, with their labels."""


@dataclass
class Row:
    """One row of a table on a page: its label and the formatted count, value and interval."""

    label: str
    count: str
    value: str
    interval: str
    note: str = ""


@dataclass
class Explorer:
    """The indicator explorer for one indicator, level, area and breakdown."""

    spec: IndicatorSpec
    area_name: str
    latest_label: str = ""
    latest_value: str = "–"
    target_value: str = "none"
    target_note: str = ""
    plan_value: str = "none"
    spc_svg: str = ""
    variation_svg: str = ""
    assurance_svg: str = ""
    description: str = ""
    funnel_svg: str = ""
    funnel_note: str = ""
    funnel_rows: list[Row] = field(default_factory=list)
    breakdown_svg: str = ""
    breakdown_rows: list[Row] = field(default_factory=list)
    inequality_text: str = ""
    series_rows: list[Row] = field(default_factory=list)


def fmt_row(spec: IndicatorSpec, label: str, r: pd.Series, note: str = "") -> Row:
    """A published measurement as a table row; the suppression mark where it is hidden."""
    if bool(r.suppressed) or pd.isna(r.value):
        return Row(label, SUPPRESSED_TEXT, SUPPRESSED_TEXT, "", note or "suppressed: small numbers")
    units = spec.measure in ("mean", "median", "returned")
    count = r.denominator if units else r.numerator
    interval = "" if pd.isna(r.lower) else f"{spec.fmt(r.lower)} to {spec.fmt(r.upper)}"
    return Row(label, "–" if pd.isna(count) else f"{count:,.0f}", spec.fmt(r.value), interval, note)


def explorer(rows: pd.DataFrame, spec: IndicatorSpec, per: float, area: str, names: dict[str, str], breakdown: str,
             trajectory: dict | None = None, targets: dict | None = None,
             funnels: Callable[[date], LevelFunnel] | None = None, centres: dict | None = None) -> Explorer:
    """The explorer view of ``area`` from the published rows of one indicator at one geography level.

    ``per`` is the indicator's multiplier (value = numerator / denominator x per); ``trajectory`` the area's
    plan and ``targets`` its target (each period's financial year's), by period start, as the API's rows carry
    them; the summary quotes the latest period's. ``funnels`` gives the level's funnel for a period
    (:func:`level_funnel`, which every area of the level shares, so a server makes it once); made here if not given,
    around ``centres`` (:func:`ics_centres`)."""
    view = Explorer(spec=spec, area_name=names.get(area, area))
    mine = rows[(rows.geography_code == area) & (rows.breakdown == "none")].sort_values("period_start")
    if mine.empty:
        return view
    latest = mine.iloc[-1]
    view.latest_label = period_label(latest.period_start, spec.frequency)
    view.latest_value = fmt_row(spec, "", latest).value
    plan = (trajectory or {}).get(latest.period_start)
    view.plan_value = "none" if plan is None or not np.isfinite(plan) else spec.fmt(plan)
    target = (targets or {}).get(latest.period_start)
    view.target_value = "none" if target is None or not np.isfinite(target) else spec.fmt(target)
    view.target_note = (spec.target_note or spec.no_target_reason) if target is None else ""
    view.series_rows = [fmt_row(spec, period_label(r.period_start, spec.frequency), r)
                        for r in mine.iloc[::-1].itertuples()]
    _spc(view, mine, spec, trajectory or {}, targets or {})
    period = latest.period_start
    funnel = funnels(period) if funnels is not None else level_funnel(rows, spec, per, names, period,
                                                                       (centres or {}).get(period))
    _funnel(view, funnel, spec, names.get(area, area), period)
    _breakdown(view, rows, spec, area, breakdown, latest.period_start)
    return view


def _spc(view: Explorer, mine: pd.DataFrame, spec: IndicatorSpec, trajectory: dict, targets: dict) -> None:
    """The SPC chart of the published points on the area's full run of periods (a period missing or suppressed
    is a gap that breaks the line, as in the report), with each period's target and plan, and Making Data Count
    icons (assurance against the latest period's target)."""
    shown = mine[~mine.suppressed.astype(bool) & mine.value.notna()]
    if shown.empty:
        view.description = "Every period is suppressed, so there is no chart."
        return
    grid = period_grid(mine.period_start, spec.frequency)
    values = shown.set_index("period_start").value.reindex(grid).to_numpy(dtype=float) * spec.scale
    plan = np.array([trajectory.get(p, np.nan) for p in grid], dtype=float) * spec.scale
    line = np.array([targets.get(p, np.nan) for p in grid], dtype=float) * spec.scale
    latest = targets.get(mine.period_start.iloc[-1])
    target = None if latest is None else latest * spec.scale
    labels = [period_label(p, spec.frequency) for p in grid]
    starts = year_starts(grid, spec.frequency)
    if spec.no_spc:
        view.spc_svg = charts.line_chart(
            labels, values, target=line if np.isfinite(line).any() else None,
            trajectory=plan if np.isfinite(plan).any() else None, year_starts=starts,
            title=f"{spec.title}, {view.area_name}: line chart (no SPC)", value_format=f",.{spec.decimals}f")
        view.variation_svg = '<span class="no-spc">No SPC: the points overlap</span>'
        view.description = f"The latest value is {spec.display(values[-1])} ({labels[-1]}). {spec.no_spc}"
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShortSeriesWarning)
        result = spc(values, polarity=spec.polarity, target=target,
                     trajectory=plan if np.isfinite(plan).any() else None)
    n = len(values)
    types = [POINT_CLASS[PointType(int(t))] for t in result.point_type[0, :n]]
    view.spc_svg = charts.spc_chart(
        labels, values, result.mean[0, :n], *spec.drawn_limits(result.lpl[0, :n], result.upl[0, :n]), types,
        target=line if np.isfinite(line).any() else None, trajectory=plan if np.isfinite(plan).any() else None,
        year_starts=starts, title=f"{spec.title}, {view.area_name}: SPC chart",
        value_format=f",.{spec.decimals}f")
    variation = icons.variation_from_spc(int(result.variation_icon[0]))
    assurance = icons.assurance_from_spc(int(result.assurance_icon[0]))
    view.variation_svg, view.assurance_svg = icons.variation_icon(variation), icons.assurance_icon(assurance)
    hidden = n - len(shown)
    note = f" {hidden} {'period is' if hidden == 1 else 'periods are'} suppressed or missing: gaps in the line." \
        if hidden else ""
    view.description = describe(spec, result, 0, labels) + note


def ics_centres(ics: pd.DataFrame, per: float) -> dict[date, float]:
    """The ICS's published whole-population value in each period (by period start) as a proportion or rate per unit:
    the centre the areas of every level are held to, as the report holds its PCNs; a suppressed period has none."""
    ok = ics[(ics.breakdown == "none") & ~ics.suppressed.astype(bool) & ics.value.notna()]
    return dict(zip(ok.period_start, ok.value.to_numpy(dtype=float) / per, strict=True))


def _published(rows: pd.DataFrame) -> pd.DataFrame:
    """Whole-population rows with a published value and counts, the units a funnel can hold."""
    return rows[(rows.breakdown == "none") & ~rows.suppressed.astype(bool) & rows.value.notna()
                & rows.numerator.notna() & (rows.denominator > 0)]


def units_funnel(spec: IndicatorSpec, per: float, ok: pd.DataFrame, centre: float | None,
                 period: date | None = None, hidden: int = 0) -> tuple[Funnel | None, str]:
    """The funnel of the published areas ``ok`` by the one definition the report uses
    (:func:`placewise.analyse.funnels.units_funnel`) around ``centre`` (the ICS value; the areas' own where it is
    suppressed) in the period starting ``period`` (whose ICS spread a rate summing values per event needs), or none
    and the sentence saying why; ``hidden`` areas of the level are suppressed (none where most are)."""
    size = ok.denominator.to_numpy(dtype=float)
    return analysed_funnel(spec.measure, judged_numerators(ok.value, size, per), size, per, centre, "", "areas",
                           sums_values=spec.sums_values, spread=spec.spread(period) if period is not None else None,
                           hidden=hidden)


def funnel_labels(spec: IndicatorSpec, rows: pd.DataFrame, centres: dict[date, float]) -> dict[tuple[str, str], str]:
    """Each published area's funnel verdict (as the explorer's funnel plot gives it) against the ICS value of its
    period (``centres``, :func:`ics_centres`), by (period end, area); none where a period has no funnel."""
    if spec.measure not in FUNNEL_MEASURES:
        return {}
    out: dict[tuple[str, str], str] = {}
    hidden = rows[(rows.breakdown == "none") & rows.suppressed.astype(bool)].groupby("period_start").size()
    for (start, end), g in _published(rows).groupby(["period_start", "period_end"], sort=False):
        funnel, _ = units_funnel(spec, spec.per, g, centres.get(start), start, int(hidden.get(start, 0)))
        if funnel is not None:
            out.update({(str(end), str(a)): FunnelSignificance(int(c)).label
                        for a, c in zip(g.geography_code, funnel.signal, strict=True)})
    return out


@dataclass(frozen=True)
class LevelFunnel:
    """Every area of a level in one period against the ICS value: the funnel plot's inputs (none where the measure
    or the figures allow no funnel, ``note`` saying why; else ``note`` states the method) and its table. The same
    for every area of the level; only the ringed area differs."""

    rows: list[Row]
    note: str = ""
    labels: list[str] = field(default_factory=list)
    sizes: np.ndarray = field(default_factory=lambda: np.empty(0))
    values: np.ndarray = field(default_factory=lambda: np.empty(0))
    signal: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=int))
    grid: np.ndarray = field(default_factory=lambda: np.empty(0))
    centre: float = float("nan")
    limits: tuple[np.ndarray, ...] = ()
    size_label: str = ""


def level_funnel(rows: pd.DataFrame, spec: IndicatorSpec, per: float, names: dict[str, str], period: date,
                 centre: float | None) -> LevelFunnel:
    """Every area at this level in ``period`` against ``centre`` (the ICS value, :func:`ics_centres`; the areas' own
    where it is suppressed), with each area's verdict, by the report's funnel (:func:`units_funnel`)."""
    now = rows[(rows.breakdown == "none") & (rows.period_start == period)].sort_values("geography_code")
    ok = _published(now)
    funnel, note = units_funnel(spec, per, ok, centre, period, int(now.suppressed.astype(bool).sum()))
    if funnel is None:
        return LevelFunnel([fmt_row(spec, names.get(r.geography_code, r.geography_code), r) for r in now.itertuples()],
                           note)
    verdict = dict(zip(ok.geography_code, (FunnelSignificance(int(c)).label for c in funnel.signal), strict=True))
    held = "the ICS value" if centre is not None else "the areas' overall value (the ICS value is suppressed)"
    return LevelFunnel(
        [fmt_row(spec, names.get(r.geography_code, r.geography_code), r, verdict.get(r.geography_code, ""))
         for r in now.itertuples()],
        f"{len(ok)} areas with a published value, held to {held}. Limits: {funnel.method}."
        + (f" {CENTRE_RULE}" if ok.geography_type.isin(["practice", "pcn"]).any() else ""),
        labels=[names.get(c, c) for c in ok.geography_code], sizes=ok.denominator.to_numpy(dtype=float),
        values=ok.value.to_numpy(dtype=float) * spec.scale, signal=funnel.signal, grid=funnel.grid,
        centre=funnel.centre * spec.scale, limits=tuple(x * spec.scale for x in funnel.limits),
        size_label="Population" if spec.measure == "crude_rate" else "Denominator")


def _funnel(view: Explorer, funnel: LevelFunnel, spec: IndicatorSpec, area_name: str, period: date) -> None:
    """The funnel plot of every area at this level in the latest period, the area ringed, and each area's verdict."""
    view.funnel_note, view.funnel_rows = funnel.note, funnel.rows
    if not funnel.labels:
        return
    view.funnel_svg = charts.funnel_plot(
        funnel.labels, funnel.sizes, funnel.values, funnel.signal, funnel.grid, funnel.centre, funnel.limits,
        polarity=spec.polarity,
        title=f"{spec.title}: funnel plot of every area, {period_label(period, spec.frequency)}",
        value_format=f",.{spec.decimals}f", size_label=funnel.size_label, highlight=(area_name,))


def _breakdown(view: Explorer, rows: pd.DataFrame, spec: IndicatorSpec, area: str, breakdown: str,
               period: object) -> None:
    """The area's figures by the chosen breakdown in the latest period; the SII and RII for IMD quintiles."""
    if breakdown == "none":
        return
    b = rows[(rows.geography_code == area) & (rows.breakdown == breakdown) & (rows.period_start == period)]
    b = b.sort_values("breakdown_group")
    if b.empty:
        view.inequality_text = f"No published figures by {BREAKDOWNS.get(breakdown, breakdown).lower()} for this area."
        return
    labels = [group_label(breakdown, str(g)) for g in b.breakdown_group]
    view.breakdown_rows = [fmt_row(spec, label, r) for label, r in zip(labels, b.itertuples(), strict=True)]
    hidden = b.suppressed.astype(bool).to_numpy() | b.value.isna().to_numpy()
    value, lower, upper = (np.where(hidden, np.nan, b[c].to_numpy(dtype=float)) * spec.scale
                           for c in ("value", "lower", "upper"))
    slope = None
    if breakdown == "imd_quintile":
        slope, view.inequality_text = _sii(spec, b, hidden)
    fits = max(4, int(600 / len(labels) / 6.2))
    view.breakdown_svg = charts.quintile_bars(
        [x if len(x) <= fits else x[: fits - 1] + "…" for x in labels], value, lower, upper, slope, width=680,
        title=f"{spec.title} by {BREAKDOWNS.get(breakdown, breakdown).lower()}", value_format=f",.{spec.decimals}f")


def group_label(breakdown: str, group: str) -> str:
    """A breakdown group as the pages name it: quintiles 1 and 5 say which end they are, sexes capitalised."""
    if breakdown == "imd_quintile":
        return {"1": "1 most deprived", "5": "5 least deprived"}.get(group, group)
    return group.capitalize() if breakdown == "sex" else group


def _sii(spec: IndicatorSpec, q: pd.DataFrame, hidden: np.ndarray) -> tuple[tuple[float, float] | None, str]:
    """The slope and relative index of inequality across the IMD quintiles, and a sentence on them."""
    if len(q) != 5 or hidden.any() or (q.denominator <= 0).any() or q.lower.isna().any() or not (q.upper > q.lower).all():
        return None, "The slope index of inequality is not shown: a quintile is suppressed, missing or has no interval."
    v = q.value.to_numpy(dtype=float)
    kind: Literal["proportion", "other"] = (
        "proportion" if spec.measure == "proportion" and np.all((v >= 0) & (v <= 1)) else "other")
    res = slope_index_of_inequality(v[None], q.denominator.to_numpy(dtype=float)[None],
                                    lower_95=q.lower.to_numpy(dtype=float)[None],
                                    upper_95=q.upper.to_numpy(dtype=float)[None], value_type=kind,
                                    repetitions=10_000)
    sii, lo, hi = float(res.sii[0]), float(res.sii_lower[0]), float(res.sii_upper[0])
    share = q.denominator.to_numpy(dtype=float) / q.denominator.sum()
    rank = np.cumsum(share) - share / 2
    intercept = float(np.average(v, weights=share) - sii * np.average(rank, weights=share))
    unit = " percentage points" if spec.unit == "%" else spec.unit
    text = (f"Slope index of inequality (SII): {sii * spec.scale:+,.{spec.decimals}f}{unit} from the most to the "
            f"least deprived (95% interval {lo * spec.scale:+,.{spec.decimals}f} to {hi * spec.scale:+,.{spec.decimals}f}); "
            f"relative index of inequality (RII): {float(res.rii[0]):.2f} "
            f"({float(res.rii_lower[0]):.2f} to {float(res.rii_upper[0]):.2f}).")
    return (intercept * spec.scale, sii * spec.scale), text
