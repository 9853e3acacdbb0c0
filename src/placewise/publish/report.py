"""Assemble the integrated performance report: from measurements to a page model for the templates.

The input is a table of measurements (one row per indicator × period × geography × breakdown
group: numerator, denominator, value and interval, a suppression flag) as
:func:`placewise.publish.disclosure.disclose` made them publishable: hidden figures are already
empty and counts rounded, so nothing here can show what the rule hides. SPC runs once per polarity
over every series of the report at once, on published points only; the result is plain data that
:mod:`placewise.publish.render` turns into HTML and PDF.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from placewise.analyse.board import (
    ATTENTION,
    GROUP_ORDER,
    GROUP_TITLES,
    Group,
    exceptions,
)
from placewise.analyse.funnels import CENTRE_RULE, MIN_UNITS_FOR_OVERDISPERSION, judged_numerators, units_funnel
from placewise.analyse.kpqi import SIGN, verdicts
from placewise.analyse.governance import Action, Commentary, Governance
from placewise.analyse.plan import GLIDE, RUN_RATE, STANDARD
from placewise.analyse.targets import target_status
from placewise.analyse.spc import (
    AssuranceIcon,
    PointType,
    Polarity,
    ShortSeriesWarning,
    SpcResult,
    VariationIcon,
    describe_latest,
    spc,
)
from placewise.analyse.statistics import gaps_to_reference, slope_index_of_inequality
from placewise.analyse.statistics.inequality import ValueType
from placewise.measure.catalogue import ENGLAND, Target, financial_year
from placewise.publish import charts, icons
from placewise.publish.config import Assurance, Programmes
from placewise.publish.disclosure import SUPPRESSED_TEXT, DisclosureRule
from placewise.publish.labels import period_end, period_label, year_starts
from placewise.publish.phm import PhmChapter

MEASUREMENT_COLUMNS = (
    "indicator_id", "period_start", "period_end", "geography_type", "geography_code",
    "breakdown", "breakdown_group", "numerator", "denominator", "value", "lower", "upper", "suppressed",
)
"""The columns of the measurements the report reads."""

PLAN_COLUMNS = ("indicator_id", "geography_type", "geography_code", "period_start", "actual", "plan", "variance",
                "rag", "basis")
FORECAST_COLUMNS = ("indicator_id", "geography_type", "geography_code", "year_start", "year_end_period",
                    "forecast", "plan", "rag")
RAG_TEXT = {"green": "Green: on or better than plan", "amber": "Amber: a little worse than plan",
            "red": "Red: worse than plan"}
QUINTILES = ("1", "2", "3", "4", "5")
QUINTILE_LABELS = ("1 most deprived", "2", "3", "4", "5 least deprived")
PLAN_BASIS = {GLIDE: " (a glide path to the year's operating-plan target, set here)",
              RUN_RATE: " (the year's target spread evenly over the months: the figure counts from 1 April)",
              STANDARD: " (the standing standard, which the indicator is held to every year)"}
POINT_CLASS = {
    PointType.COMMON_CAUSE: "common_cause",
    PointType.IMPROVEMENT: "special_cause_improvement",
    PointType.CONCERN: "special_cause_concern",
    PointType.NEITHER_HIGH: "special_cause_neutral_high",
    PointType.NEITHER_LOW: "special_cause_neutral_low",
}


@dataclass(frozen=True)
class IndicatorSpec:
    """What the report needs to know about one indicator."""

    id: str
    title: str
    definition: str
    domain: str
    polarity: Polarity
    measure: str
    frequency: str
    scale: float = 1.0
    unit: str = ""
    decimals: int = 1
    target: float | None = None
    standard_source: str = ""
    rebase: tuple[date, ...] = ()
    target_flag: str = ""
    target_note: str = ""
    no_target: str = ""
    """Why there is no target, in a few words ("No national standard"); ``no_target_reason`` says it in full."""
    no_target_reason: str = ""
    per: float = 1.0
    england_source: str = ""
    """Where the England comparator comes from (``report.yaml``), shown under it."""
    cumulative: bool = False
    """Counted from 1 April (year to date): the year-end target is judged through the plan's run rate only."""
    no_spc: str = ""
    """Why the series gets no SPC (its points overlap: :mod:`placewise.analyse.independence`); empty if it does."""
    population_sized: bool = False
    """A count that grows with the population measured, whose plan is scaled to a synthetic sample's share."""
    sums_values: bool = False
    """A rate whose numerator sums a value per event (bed days): its units' funnel is Dobson's, from ``spreads``."""
    spreads: tuple[tuple[date, float, float], ...] = ()
    """For a rate summing a value per event, the ICS's mean and root mean square value of an event (m, s) in each
    period (by period start) whose ICS value is published (:func:`placewise.publish.inputs.event_spreads`)."""
    yearly: Target | None = None
    """The catalogue's target by financial year, so that a chart draws each year's target or standard."""
    printed_alone: frozenset[tuple[str, date]] = frozenset()
    """The (area code, period start) of values whose return printed them without their counts (a returned share or
    mean): :func:`placewise.publish.inputs.printed_alone`."""

    def spread(self, period: date) -> tuple[float, float] | None:
        """The ICS's (m, s) at the period starting ``period`` (:attr:`spreads`), or None."""
        return next(((m, s) for start, m, s in self.spreads if start == period), None)

    @property
    def number_format(self) -> str:
        """The format of a value already in display units."""
        unit = self.unit.replace("{", "{{").replace("}", "}}")
        return f"{{:,.{self.decimals}f}}{unit}"

    def display(self, value: float | None) -> str:
        """A value already in display units, with the unit; a dash when there is none."""
        if value is None or not np.isfinite(value):
            return "–"
        return self.number_format.format(value)

    def fmt(self, value: float | None) -> str:
        """A value as stored (before scaling), in display units with the unit."""
        return self.display(None if value is None else value * self.scale)

    @property
    def is_percentage(self) -> bool:
        """Whether values are a share of cases shown as a percentage (0% to 100%)."""
        return self.measure in ("proportion", "returned") and self.unit == "%"

    @property
    def ceiling(self) -> float:
        """The highest value the measure can take, in display units: all of the cases for a percentage."""
        return 100.0 if self.is_percentage else np.inf

    def drawn_limits(self, lpl: np.ndarray, upl: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Process limits as charts draw them: no lower than zero (counts, shares and rates cannot be negative) and
        no higher than a percentage can go, as NHS England's Making Data Count charts show them."""
        return np.clip(lpl, 0.0, self.ceiling), np.clip(upl, 0.0, self.ceiling)


@dataclass(frozen=True)
class PlanInputs:
    """Plan against actual from :mod:`placewise.analyse.plan`: per-period rows and year-end forecasts."""

    pva: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=PLAN_COLUMNS))
    forecast: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=FORECAST_COLUMNS))
    share: float = 1.0
    """The measured population's share of the ICS the plans are for: the plans of counts are already scaled by it."""


@dataclass(frozen=True)
class Area:
    """A geography the report covers: the ICS, a Place or a provider."""

    geography_type: str
    code: str
    name: str


@dataclass(frozen=True)
class Scope:
    """One report: its area, and the peer areas shown side by side (with the ICS as reference)."""

    area: Area
    ics: Area
    peers: tuple[Area, ...]
    units: tuple[Area, ...] = ()
    """The PCNs and practices within the area, drawn on its funnel plots."""
    providers: tuple[Area, ...] = ()
    """The area's main providers, first preferred: their returns stand in for figures published only by provider."""
    providers_source: str = ""
    """Where the mapping of the area to its main providers comes from."""
    ics_pcns: tuple[Area, ...] = ()
    """Every PCN of the ICS (the funnel of a Place's PCNs is that of every published PCN of the ICS)."""
    shared_pcns: frozenset[str] = frozenset()
    """The codes of the PCNs that serve more than one Place (each drawn in every Place it serves)."""


@dataclass(frozen=True)
class BreakdownTable:
    """One breakdown of the latest period (sex, age band or ethnic group) as published, with its gap."""

    title: str
    rows: list[tuple[str, str, str, str]]
    gap: str
    gaps: list[str] = field(default_factory=list)
    """Each row's gap to the profile's reference group, where the breakdown has one."""
    within: str = ""
    """The slope index of inequality by IMD quintile within each group, where the indicator is broken down so."""


@dataclass
class IndicatorPage:
    """Everything shown for one indicator in one report."""

    spec: IndicatorSpec
    latest_label: str
    latest_value: str
    latest_interval: str
    target: str
    variation: icons.Variation
    assurance: icons.Assurance
    variation_svg: str
    assurance_svg: str
    spc_svg: str
    sparkline_svg: str
    description: str
    hidden_note: str = ""
    small_base_note: str = ""
    """Why a share may read 0% or 100%: the latest value rests on few cases (:func:`_small_base_note`)."""
    england_value: str = ""
    """England's figure for the latest period, where the reference data have one."""
    england: str = ""
    """The England figure's period and source, or why there is none."""
    peers_svg: str = ""
    peers_rows: list[tuple[str, str, str, str]] = field(default_factory=list)
    quintile_svg: str = ""
    quintile_rows: list[tuple[str, str, str, str]] = field(default_factory=list)
    inequality_text: str = ""
    units_svg: str = ""
    units_note: str = ""
    pcn_svg: str = ""
    pcn_note: str = ""
    breakdowns: list[BreakdownTable] = field(default_factory=list)
    plan_rag: str = ""
    plan_text: str = ""
    plan_variance: str = ""
    plan_note: str = ""
    """Why the latest period has no plan RAG, in a few words for the summary's Plan column; empty with a RAG."""
    group: str = Group.IN_CONTROL.value
    reasons: str = ""
    commentary: Commentary | None = None
    commentary_note: str = ""
    actions: list[Action] = field(default_factory=list)
    board_owner: str = ""
    provider: str = ""
    """The provider whose returned figure the page shows, where the report's area has none of its own."""
    provider_note: str = ""
    """That the figure is the provider's, not the area's, and where the mapping comes from."""

    @property
    def owner(self) -> str:
        """The Board owner (the commentary's, else the profile's for the indicator or its domain), or a note that
        none is assigned."""
        return self.board_owner or "Not assigned"


@dataclass(frozen=True)
class BoardGroup:
    """One group of the exceptions-first Board summary and the pages in it."""

    group: str
    title: str
    attention: bool
    pages: list[IndicatorPage]


@dataclass
class ReportModel:
    """The whole report for one area, ready for the templates."""

    title: str
    area: Area
    latest_period: str
    produced: str
    pages: list[IndicatorPage]
    missing: list[str]
    rule: DisclosureRule
    suppressed: list[str] = field(default_factory=list)
    programmes: Programmes | None = None
    assurance: Assurance | None = None
    quality: DataQuality | None = None
    progress: dict[str, list[str]] = field(default_factory=dict)
    synthetic: bool = False
    phm: PhmChapter | None = None
    """The population health chapter, when the warehouse holds the PHM tables (``placewise phm``)."""
    board: list[BoardGroup] = field(default_factory=list)
    assurance_latest: dict[str, str] = field(default_factory=dict)
    core20: list[tuple[str, list[IndicatorPage]]] = field(default_factory=list)
    core20_source: str = ""
    governance: Governance = field(default_factory=Governance)
    kpqi: KpqiTable | None = None
    plan_scale: str = ""
    """How the plans of counts were scaled to a synthetic sample, or empty where they are the ICS's as submitted."""
    recovery: list[tuple[IndicatorPage, list[RecoveryRow]]] = field(default_factory=list)
    """Each planned indicator's periods of the latest financial year with a plan and an actual (:func:`recovery`)."""


@dataclass(frozen=True)
class RecoveryRow:
    """One period of an indicator's plan against actual, as printed (the "Recovery – actual against plan" view of
    BLMK's 2020/21 Board dashboards)."""

    period: str
    plan: str
    actual: str
    variance: str
    share: str
    """The variance as a share of the plan (counts and rates; blank for a percentage, whose variance is in points)."""
    rag: str


@dataclass(frozen=True)
class KpqiTable:
    """Latest value by area against the target, achieved or not and the trend since the period before (the
    "Key Performance and Quality Indicators" view of BLMK's 2020/21 dashboards, :mod:`placewise.analyse.kpqi`)."""

    areas: tuple[str, ...]
    rows: tuple[tuple[str, str, str, tuple[str, ...]], ...]
    """Indicator id, title, target and one cell per area."""


@dataclass(frozen=True)
class DataQuality:
    """The data-quality section: how complete the data are, what was quarantined, how recent."""

    latest_data: str
    summary: str
    headers: tuple[str, ...] = ()
    tables: tuple[tuple[str, ...], ...] = ()
    reasons: tuple[tuple[str, str, str, int], ...] = ()
    fields: tuple[tuple[str, str, str], ...] = ()


def month_label(d: date) -> str:
    """A period label such as 'Mar 2019'."""
    return pd.Timestamp(d).strftime("%b %Y")


PERIOD_MONTHS = {"monthly": 1, "rolling_12_months": 1, "quarterly": 3, "annual": 12}
"""Months from one period's start to the next, by frequency."""


def sources(frame: pd.DataFrame, scope: Scope) -> dict[str, Area]:
    """The area each indicator's series is read from: the report's own where it has figures, otherwise (a standard
    returned only by providers: RTT, cancer, ambulance) the first of the area's main providers that returns it."""
    whole = frame[frame.breakdown == "none"]
    def ids(area: Area) -> set[str]:
        return set(whole.indicator_id[(whole.geography_type == area.geography_type)
                                      & (whole.geography_code == area.code)])
    out = dict.fromkeys(ids(scope.area), scope.area)
    for provider in scope.providers:
        out |= {i: provider for i in ids(provider) - set(out)}
    return out


def _mine(frame: pd.DataFrame, source: Mapping[str, Area]) -> pd.Series:
    """Which rows belong to each indicator's source area (:func:`sources`)."""
    wanted_type = frame.indicator_id.map({i: a.geography_type for i, a in source.items()})
    wanted_code = frame.indicator_id.map({i: a.code for i, a in source.items()})
    return (frame.geography_type == wanted_type) & (frame.geography_code == wanted_code)


def _series_frame(frame: pd.DataFrame, source: Mapping[str, Area], months: int,
                  specs: dict[str, IndicatorSpec]) -> pd.DataFrame:
    """The whole-population series of each indicator's source area (the report's own, or a main provider's): the
    periods of each indicator within ``months`` periods of its latest (a calendar window, so missing periods count
    towards it).

    Suppressed periods are kept (flagged) so that the page can say how many are hidden; periods without a
    value (nothing to divide by) are left out here and shown as gaps on the chart.
    """
    mine = frame[
        _mine(frame, source)
        & (frame.breakdown == "none")
        & (frame.value.notna() | frame.suppressed)
        & frame.indicator_id.isin(list(specs))
    ].sort_values(["indicator_id", "period_start"])
    start = pd.to_datetime(mine.period_start)
    step = mine.indicator_id.map({i: PERIOD_MONTHS.get(s.frequency, 1) for i, s in specs.items()}).astype("int64")
    latest = start.groupby(mine.indicator_id).transform("max")
    elapsed = (latest.dt.year - start.dt.year) * 12 + latest.dt.month - start.dt.month
    return mine[(elapsed // step < months).to_numpy()]


def period_grid(periods: pd.Series, frequency: str) -> list[date]:
    """Every period start from the first to the last of ``periods``, at the indicator's frequency."""
    first, last = pd.Timestamp(periods.min()), pd.Timestamp(periods.max())
    return [d.date() for d in pd.date_range(first, last, freq=pd.DateOffset(months=PERIOD_MONTHS.get(frequency, 1)))]


def _run_spc(series: pd.DataFrame, specs: dict[str, IndicatorSpec],
             plans: dict[str, dict[date, float]]) -> dict[str, tuple[SpcResult, int, list[date]]]:
    """SPC for every indicator's series, one vectorised call per polarity; keyed by indicator id.

    ``series`` holds published points only, so the mean and limits rest on nothing that is hidden. Each
    series is laid on its full run of periods: a period missing or suppressed is a gap, handled as
    NHSRplotthedots handles a missing value (see :mod:`placewise.analyse.spc`). ``plans`` gives each
    indicator's trajectory for the area (plan by period start), drawn on the chart.
    """
    out: dict[str, tuple[SpcResult, int, list[date]]] = {}
    for polarity, ids in _by_polarity(series, specs).items():
        part = series[series.indicator_id.isin(ids)]
        grouped = part.groupby("indicator_id", sort=True)
        order = list(grouped.groups)
        periods = {ind: period_grid(g.period_start, specs[ind].frequency) for ind, g in grouped}
        width = max(len(p) for p in periods.values())
        values = np.full((len(order), width), np.nan)
        trajectory = np.full((len(order), width), np.nan)
        rebase = np.zeros((len(order), width), dtype=bool)
        for row, (ind, g) in enumerate(grouped):
            grid = pd.Index(periods[ind])
            n = len(grid)
            values[row, :n] = g.set_index("period_start").value.reindex(grid).to_numpy(dtype=float) * specs[ind].scale
            rebase[row, :n] = grid.isin(specs[ind].rebase)
            if ind in plans:
                trajectory[row, :n] = [plans[ind].get(p, np.nan) * specs[ind].scale for p in grid]
        targets = np.array([np.nan if (t := specs[i].target) is None else t * specs[i].scale for i in order])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ShortSeriesWarning)
            result = spc(values, polarity=polarity, target=targets, rebase=rebase if rebase.any() else None,
                         trajectory=trajectory if np.isfinite(trajectory).any() else None, series_names=order)
        for row, ind in enumerate(order):
            out[ind] = (result, row, periods[ind])
    return out


def _by_polarity(series: pd.DataFrame, specs: dict[str, IndicatorSpec]) -> dict[Polarity, list[str]]:
    """Indicator ids with data, grouped by polarity (SPC classes points by polarity)."""
    groups: dict[Polarity, list[str]] = {}
    for ind in sorted(series.indicator_id.unique()):
        if ind in specs:
            groups.setdefault(specs[ind].polarity, []).append(ind)
    return groups


def describe(spec: IndicatorSpec, result: SpcResult, row: int, labels: list[str]) -> str:
    """A plain-English paragraph: the latest value, then what the SPC chart shows (from the SPC module)."""
    last = int(result.n_points[row] - 1)
    if spec.no_spc:
        return f"The latest value is {spec.display(result.values[row, last])} ({labels[last]})." \
               f"{_year_before(spec, result.values[row, :last + 1], labels)} {spec.no_spc}"
    lead = f"The latest value is {spec.display(result.values[row, last])} ({labels[last]}), against a mean of " \
           f"{spec.display(result.mean[row, last])}."
    latest = describe_latest(result, row, labels, number_format=spec.number_format, floor=0.0, ceiling=spec.ceiling)
    return f"{lead} {latest}"


def _year_before(spec: IndicatorSpec, values: np.ndarray, labels: list[str]) -> str:
    """The value 12 months before the latest, which shares no data with it, as a sentence (empty if none)."""
    back = 12 // {"quarterly": 3, "annual": 12}.get(spec.frequency, 1)
    if values.size <= back or not np.isfinite(values[-1 - back]):
        return ""
    return f" Twelve months earlier ({labels[values.size - 1 - back]}) it was {spec.display(values[-1 - back])}."


Slices = dict[tuple[str, str, str], pd.DataFrame]
"""Measurements split once by (indicator, geography type, breakdown), so lookups do not rescan the table."""


def _slices(frame: pd.DataFrame) -> Slices:
    """Split the measurements by indicator, geography type and breakdown."""
    return {key: rows for key, rows in frame.groupby(["indicator_id", "geography_type", "breakdown"], sort=False)}


def _latest_rows(slices: Slices, ind: str, period: date, geography_type: str, breakdown: str) -> pd.DataFrame:
    """The rows of one indicator, period, geography type and breakdown."""
    rows = slices.get((ind, geography_type, breakdown))
    if rows is None:
        return pd.DataFrame(columns=list(MEASUREMENT_COLUMNS))
    return rows[rows.period_start == period]


def _peers(page: IndicatorPage, slices: Slices, scope: Scope, spec: IndicatorSpec, period: date,
           width: float) -> None:
    """The peer areas side by side at the latest period, as published, on the page."""
    rows = _latest_rows(slices, spec.id, period, scope.peers[0].geography_type, "none").set_index("geography_code")
    ics = _latest_rows(slices, spec.id, period, scope.ics.geography_type, "none")
    codes = [p.code for p in scope.peers if p.code in rows.index]
    if not codes or ics.empty:
        return
    r = rows.loc[codes]
    ref = ics.iloc[0]
    hidden = r.suppressed.to_numpy(dtype=bool)
    ics_hidden = bool(ref.suppressed)
    value, lower, upper = (r[c].to_numpy(dtype=float) * spec.scale for c in ("value", "lower", "upper"))
    names = [next(p.name for p in scope.peers if p.code == c) for c in codes]
    reference = None if spec.measure == "count" or ics_hidden else float(ref.value) * spec.scale
    page.peers_svg = charts.caterpillar(names, value, lower, upper, reference, width=width,
                                        title=f"{spec.title}: areas compared", value_format=f",.{spec.decimals}f",
                                        highlight=scope.area.name, polarity=spec.polarity)
    page.peers_rows = [_table_row(spec, n, h, num, v, lo, hi) for n, h, num, v, lo, hi
                       in zip(names, hidden, counts(r.reset_index(), spec), r.value, r.lower, r.upper, strict=True)]
    page.peers_rows.append(_table_row(spec, scope.ics.name, ics_hidden, counts(ics, spec)[0], ref.value, ref.lower,
                                      ref.upper))
    england = _latest_rows(slices, spec.id, period, ENGLAND, "none")
    if not england.empty:
        e = england.iloc[0]
        page.peers_rows.append(_table_row(spec, "England (comparator)", bool(e.suppressed), counts(england, spec)[0],
                                          e.value, e.lower, e.upper))


def _england(slices: Slices, spec: IndicatorSpec, period: date) -> tuple[str, str]:
    """England's figure at ``period`` and a note of its period and source; or no figure and why there is none."""
    rows = slices.get((spec.id, ENGLAND, "none"))
    if rows is None or rows.empty:
        return "", "No England figure in the reference data."
    latest = rows[rows.period_start == period]
    label = period_label(period, spec.frequency)
    if latest.empty or bool(latest.iloc[0].suppressed) or pd.isna(latest.iloc[0].value):
        last = rows[rows.value.notna() & ~rows.suppressed.astype(bool)].period_start.max()
        until = f" (the reference data end at {period_label(last, spec.frequency)})" if pd.notna(last) else ""
        return "", f"No England figure for {label} in the reference data{until}."
    source = f" Source: {spec.england_source}." if spec.england_source else ""
    return spec.fmt(latest.iloc[0].value), f"England, {label}.{source}"


def _table_row(spec: IndicatorSpec, label: str, hidden: bool, count: float, value: float, lower: float,
               upper: float) -> tuple[str, str, str, str]:
    """One published row of a comparison table: label, count, value and interval (the mark where hidden)."""
    if hidden:
        return label, SUPPRESSED_TEXT, SUPPRESSED_TEXT, ""
    interval = "" if pd.isna(lower) else f"{spec.fmt(lower)} to {spec.fmt(upper)}"
    return label, "–" if pd.isna(count) else f"{count:,.0f}", spec.fmt(value), interval


def counts(rows: pd.DataFrame, spec: IndicatorSpec) -> np.ndarray:
    """The published counts behind each row: units for a mean, median or returned share, otherwise the numerator (a
    returned count's value); unknown (NaN) for a returned share or mean printed without its counts."""
    units = spec.measure in ("mean", "median") or (spec.measure == "returned" and not spec.population_sized)
    out = rows["denominator" if units else "numerator"].to_numpy(dtype=float)
    return np.where(value_alone(spec, rows.geography_code, rows.period_start), np.nan, out)


def value_alone(spec: IndicatorSpec, codes: pd.Series | str, starts: pd.Series | date) -> np.ndarray:
    """Whether each value (area code, period start) was published without its counts, as its return says
    (``spec.printed_alone``): it rests on no known number of cases, so it has no count and no small-base note."""
    keys = pd.MultiIndex.from_arrays([np.atleast_1d(np.asarray(codes, dtype=object)),
                                      np.atleast_1d(np.asarray(starts, dtype=object))])
    return np.asarray(keys.isin(list(spec.printed_alone)), dtype=bool)


@dataclass
class _Quintiles:
    """One page's IMD quintile figures, waiting for the slope indices computed for all pages at once."""

    page: IndicatorPage
    spec: IndicatorSpec
    q: pd.DataFrame
    hidden: np.ndarray

    @property
    def kind(self) -> str:
        """The SII value type: proportions on the 0-1 scale use the logit transform; others none."""
        v = self.q.value.to_numpy(dtype=float)
        return "proportion" if self.spec.measure == "proportion" and np.all((v >= 0) & (v <= 1)) else "other"

    @property
    def why_no_sii(self) -> str:
        """Why the slope index cannot be shown, or an empty string if it can."""
        q = self.q
        if self.hidden.any() or not np.isfinite(q.value.to_numpy(dtype=float)).all() or (q.denominator <= 0).any():
            return "The slope index of inequality is not shown because a quintile is suppressed or missing."
        if not (np.isfinite(q.lower.to_numpy(dtype=float)).all() and (q.upper > q.lower).all()):
            return "The slope index of inequality is not shown because the quintile intervals are missing."
        return ""


def _quintiles(page: IndicatorPage, slices: Slices, scope: Scope, spec: IndicatorSpec,
               period: date) -> _Quintiles | None:
    """The IMD quintile table as published; the chart waits for the slope index."""
    q = _latest_rows(slices, spec.id, period, scope.area.geography_type, "imd_quintile")
    q = q[q.geography_code == scope.area.code].set_index("breakdown_group").reindex(list(QUINTILES))
    total = _latest_rows(slices, spec.id, period, scope.area.geography_type, "none")
    total = total[total.geography_code == scope.area.code]
    if q.value.isna().all() or total.empty:
        return None
    filled = q.fillna({"numerator": 0.0, "denominator": 0.0, "suppressed": False})
    hidden = filled.suppressed.to_numpy(dtype=bool) | q.value.isna().to_numpy()
    page.quintile_rows = [_table_row(spec, label, h, n, v, lo, hi) for label, h, n, v, lo, hi
                          in zip(QUINTILE_LABELS, hidden, counts(filled, spec), q.value, q.lower, q.upper, strict=True)]
    return _Quintiles(page, spec, filled, hidden)


def _finish_quintiles(pending: list[_Quintiles]) -> None:
    """Slope indices for every page's quintiles in one call per value type, then each chart and sentence."""
    found: dict[int, tuple[float, float, float]] = {}
    ready = [p for p in pending if not p.why_no_sii]
    for kind in ("proportion", "other"):
        group = [p for p in ready if p.kind == kind]
        if not group:
            continue
        stack = {c: np.vstack([p.q[c].to_numpy(dtype=float) for p in group])
                 for c in ("value", "denominator", "lower", "upper")}
        res = slope_index_of_inequality(stack["value"], stack["denominator"], lower_95=stack["lower"],
                                        upper_95=stack["upper"], value_type=kind, repetitions=10_000)
        for i, p in enumerate(group):
            found[id(p)] = (float(res.sii[i]), float(res.sii_lower[i]), float(res.sii_upper[i]))
    for p in pending:
        slope, text = _sii_text(p, found.get(id(p)))
        spec, q = p.spec, p.q
        value, lower, upper = (np.where(p.hidden, np.nan, q[c].to_numpy(dtype=float)) * spec.scale
                               for c in ("value", "lower", "upper"))
        p.page.quintile_svg = charts.quintile_bars(["1 most", "2", "3", "4", "5 least"], value, lower, upper, slope,
                                                   width=340, title=f"{spec.title} by IMD quintile",
                                                   value_format=f",.{spec.decimals}f")
        p.page.inequality_text = text


def _sii_text(p: _Quintiles, sii: tuple[float, float, float] | None) -> tuple[tuple[float, float] | None, str]:
    """The slope line (intercept, gradient) in display units and the sentence on the gap and the SII."""
    if sii is None:
        return None, p.why_no_sii
    spec, q = p.spec, p.q
    v = q.value.to_numpy(dtype=float)
    value, lo, hi = sii
    share = q.denominator.to_numpy(dtype=float) / q.denominator.sum()
    rank = np.cumsum(share) - share / 2
    intercept = float(np.average(v, weights=share) - value * np.average(rank, weights=share))
    text = (f"The gap between the least and the most deprived quintile is {_signed(spec, v[-1] - v[0])}. "
            f"The slope index of inequality, the modelled gap across the whole range of deprivation, is "
            f"{_signed(spec, value)} (95% interval {_signed(spec, lo)} to {_signed(spec, hi)}).")
    return (intercept * spec.scale, value * spec.scale), text


def _signed(spec: IndicatorSpec, value: float, unit: bool = True) -> str:
    """A difference in display units with its sign (percentages as percentage points, unless ``unit`` is off)."""
    text = f"{value * spec.scale:+,.{spec.decimals}f}"
    if not unit:
        return text
    return text + (" percentage points" if spec.unit == "%" else spec.unit)


def build_report(frame: pd.DataFrame, specs: list[IndicatorSpec], scope: Scope, *, title: str, months: int,
                 rule: DisclosureRule, plan: PlanInputs | None = None,
                 governance: Governance | None = None, references: Mapping[str, str] | None = None) -> ReportModel:
    """The report model for one area: a page per indicator that has data, in catalogue order, and the
    exceptions-first Board summary of those pages. ``references`` names each breakdown's reference group."""
    governance = governance or Governance()
    by_id = {s.id: s for s in specs}
    source = sources(frame, scope)
    series = _series_frame(frame, source, months, by_id)
    plan = _for_area(plan or PlanInputs(), source)
    trajectories = {ind: dict(zip(g.period_start, g.plan, strict=True)) for ind, g in plan.pva.groupby("indicator_id")}
    published = series[~series.suppressed]
    spc_results = _run_spc(published, by_id, trajectories) if not published.empty else {}
    slices = _slices(frame[frame.indicator_id.isin(list(spc_results))])
    pages: list[IndicatorPage] = []
    pending: list[_Quintiles] = []
    for spec in specs:
        if spec.id not in spc_results:
            continue
        result, row, periods = spc_results[spec.id]
        page, quintiles = _page(slices, scope, spec, result, row, periods, series, references or {},
                                source[spec.id] != scope.area)
        if source[spec.id] != scope.area:
            page.provider, page.provider_note = _provider_note(source[spec.id], scope)
        page.plan_rag, page.plan_text, page.plan_variance = _plan_text(spec, plan, periods[-1])
        page.plan_note, why = _plan_note(spec, page.plan_rag, plan, periods[-1])
        page.plan_text = f"{why}. {page.plan_text}".strip() if why else page.plan_text
        page.plan_text = f"{page.plan_text} {_unplanned_years(spec, plan, periods)}".strip()
        page.commentary = governance.commentary_for(spec.id, scope.area.code)
        page.commentary_note = _commentary_note(page.commentary, periods[-1])
        page.actions = governance.actions_for(spec.id)
        page.board_owner = governance.owner_for(spec.id, spec.domain, scope.area.code)
        pages.append(page)
        pending += [quintiles] if quintiles else []
    _finish_quintiles(pending)
    latest = series[series.indicator_id.isin(list(spc_results))].period_start.max() if spc_results else None
    hidden = set(series.indicator_id) - set(spc_results)
    return ReportModel(
        title=title, area=scope.area, latest_period=month_label(latest) if latest else "no data",
        produced=date.today().strftime("%-d %B %Y"), pages=pages,
        missing=[s.title for s in specs if s.id not in spc_results and s.id not in hidden], rule=rule,
        suppressed=[s.title for s in specs if s.id in hidden], board=board_groups(pages, spc_results),
        governance=governance, kpqi=kpqi_table(slices, scope, pages, {i: r[2] for i, r in spc_results.items()}),
        plan_scale=plan_scale_note(plan.share, scope.ics.name), recovery=recovery(pages, plan),
    )


def recovery(pages: list[IndicatorPage], plan: PlanInputs) -> list[tuple[IndicatorPage, list[RecoveryRow]]]:
    """Plan against actual period by period for each page's indicator, over the financial year of its latest period
    with both (the months of 2020/21 in BLMK's "Recovery – actual against plan" view): the plan, the published actual,
    the variance, the variance as a share of the plan, and the RAG, from the same rows as the page's plan sentence."""
    out = []
    for page in pages:
        spec = page.spec
        rows = plan.pva[(plan.pva.indicator_id == spec.id) & plan.pva.actual.notna()].sort_values("period_start")
        if rows.empty:
            continue
        year = {p: financial_year(period_end(p, spec.frequency)) for p in rows.period_start}
        latest = year[rows.period_start.iloc[-1]]
        out.append((page, [RecoveryRow(
            period_label(r.period_start, spec.frequency), spec.fmt(r.plan), spec.fmt(r.actual),
            _signed(spec, r.variance, unit=False),
            "" if spec.unit == "%" or not r.plan else f"{100 * r.variance / r.plan:+.1f}%",
            r.rag.capitalize() if isinstance(r.rag, str) else "–")
            for r in rows.itertuples() if year[r.period_start] == latest]))
    return out


def plan_scale_note(share: float, ics: str) -> str:
    """The sentence declaring that the plans of counts are scaled to a synthetic sample; empty at the ICS's own
    scale."""
    if share == 1.0:
        return ""
    return f"Plans scaled to the synthetic population: {share:.1%} of {ics}."


def kpqi_table(slices: Slices, scope: Scope, pages: list[IndicatorPage], periods: dict[str, list[date]],
               ) -> KpqiTable | None:
    """Each targeted indicator's latest published value by compared area and for the ICS, whether it meets the
    target and whether it improved on the period before (a year-to-date figure is not judged against the year-end
    target); ``None`` where no indicator has a target or there are no areas to compare."""
    areas = (*scope.peers, scope.ics)
    chosen = [p for p in pages if p.spec.target is not None and p.spec.polarity != "neutral"]
    if not scope.peers or not chosen:
        return None
    rows = []
    for page in chosen:
        spec, when = page.spec, periods[page.spec.id]
        cells = tuple(_kpqi_cell(slices, spec, area, when) for area in areas)
        rows.append((spec.id, spec.title, spec.fmt(spec.target), cells))
    return KpqiTable(tuple(a.name for a in areas), tuple(rows))


def _kpqi_cell(slices: Slices, spec: IndicatorSpec, area: Area, when: list[date]) -> str:
    """One area's cell: the latest published value, met or missed, and the trend; the mark where hidden, a dash
    where the area has no figure (a standard returned by provider has none for a Place)."""
    def rows_at(period: date) -> pd.DataFrame:
        rows = _latest_rows(slices, spec.id, period, area.geography_type, "none")
        return rows[rows.geography_code == area.code]

    def published(period: date) -> float | None:
        rows = rows_at(period)
        if rows.empty or bool(rows.suppressed.iloc[0]) or pd.isna(rows.value.iloc[0]):
            return None
        return float(rows.value.iloc[0])

    latest = published(when[-1])
    if latest is None:
        return "–" if rows_at(when[-1]).empty else SUPPRESSED_TEXT
    previous = published(when[-2]) if len(when) > 1 else None
    target = np.nan if spec.cumulative or spec.target is None else spec.target
    achieved, trend = verdicts(np.array([latest]), np.array([np.nan if previous is None else previous]),
                               np.array([target]), np.array([SIGN[spec.polarity]]))
    return " · ".join([spec.fmt(latest), *(str(v) for v in (achieved[0], trend[0]) if v is not None)])


def _provider_note(provider: Area, scope: Scope) -> tuple[str, str]:
    """The provider whose return a page shows, and a sentence that it is the provider's figure, not the area's."""
    return provider.name, (
        f"The figure of {provider.name}, a main provider for {scope.area.name}'s residents: its own return, covering "
        f"all its patients wherever they live, not {scope.area.name}'s alone (this standard is published by provider, "
        f"not by Place). Main providers: {scope.providers_source}.")


def _commentary_note(commentary: Commentary | None, latest: date) -> str:
    """A warning when the commentary was last updated more than three months before the latest period."""
    if commentary is None or commentary.updated >= (pd.Timestamp(latest) - pd.DateOffset(months=3)).date():
        return ""
    return (f"This commentary predates the latest data ({month_label(latest)}) by more than three months: "
            "the owner should update it.")


def board_groups(pages: list[IndicatorPage], spc_results: dict[str, tuple[SpcResult, int, list[date]]],
                 ) -> list[BoardGroup]:
    """The pages grouped exceptions first (:func:`placewise.analyse.board.exceptions`); empty groups left out."""
    if not pages:
        return []
    status = pd.DataFrame([_status(p, *spc_results[p.spec.id][:2]) for p in pages])
    ranked = exceptions(status)
    by_id = {p.spec.id: p for p in pages}
    for row in ranked.itertuples():
        page = by_id[row.indicator_id]
        page.group, page.reasons = row.group, row.reasons
        if page.spec.no_spc and row.group == Group.IN_CONTROL:
            page.reasons = NO_SPC_REASON
    return [BoardGroup(g.value, GROUP_TITLES[g], g in ATTENTION,
                       [by_id[i] for i in ranked.indicator_id[ranked.group == g.value]])
            for g in GROUP_ORDER if (ranked.group == g.value).any()]


NO_SPC_REASON = "No exception against target or plan; no SPC, as the points overlap (rolling or cumulative)"
"""The Board summary's reason for a series without SPC that meets its target and plan."""


def _status(page: IndicatorPage, result: SpcResult, row: int) -> dict[str, object]:
    """One indicator's SPC icons, latest value, target and plan RAG, as :func:`exceptions` reads them; a
    series without SPC counts as common cause with no assurance, so only its target and plan can flag it, and a
    year-to-date figure is held to its plan (the run rate, which reaches the target in March), not to the target."""
    spec = page.spec
    last = int(result.n_points[row] - 1)
    icons_of = (VariationIcon.COMMON_CAUSE, AssuranceIcon.NONE) if spec.no_spc else \
        (result.variation_icon[row], result.assurance_icon[row])
    return {"indicator_id": spec.id, "polarity": spec.polarity, "latest": float(result.values[row, last]),
            "target": np.nan if spec.target is None or spec.cumulative else spec.target * spec.scale,
            "variation": int(icons_of[0]), "assurance": int(icons_of[1]), "plan_rag": page.plan_rag}


def _page(slices: Slices, scope: Scope, spec: IndicatorSpec, result: SpcResult, row: int,
          periods: list[date], series: pd.DataFrame, references: Mapping[str, str],
          providers: bool = False) -> tuple[IndicatorPage, _Quintiles | None]:
    """One indicator's page (SPC chart, icons, narrative, areas compared) and its quintiles, still to finish;
    a provider's figure (``providers``) has no practices to draw on the area's funnel.

    The chart shows published points only; the latest period is the latest measured, shown as suppressed
    where it is hidden.
    """
    mine = series[series.indicator_id == spec.id]
    n = len(periods)
    labels = [period_label(p, spec.frequency) for p in periods]
    values = result.values[row, :n]
    types = [POINT_CLASS[PointType(int(t))] for t in result.point_type[row, :n]]
    rebase = [int(i) for i in np.flatnonzero(np.diff(result.segment[row, :n]) != 0) + 1]
    target, target_name = _target_line(spec, periods)
    trajectory = result.trajectory[row, :n] if np.isfinite(result.trajectory[row, :n]).any() else None
    starts = year_starts(periods, spec.frequency)
    lpl, upl = spec.drawn_limits(result.lpl[row, :n], result.upl[row, :n])
    if spec.no_spc:
        types = ["unclassified"] * n
        spc_svg = charts.line_chart(labels, values, target=target, target_name=target_name, trajectory=trajectory,
                                    year_starts=starts, title=f"{spec.title}: line chart (no SPC)",
                                    value_format=f",.{spec.decimals}f")
    else:
        spc_svg = charts.spc_chart(labels, values, result.mean[row, :n], lpl, upl, types,
                                   target=target, target_name=target_name, trajectory=trajectory,
                                   year_starts=starts, rebase_at=rebase,
                                   title=f"{spec.title}: SPC chart", value_format=f",.{spec.decimals}f")
    last = n - 1
    variation = icons.variation_from_spc(int(result.variation_icon[row]))
    assurance = icons.assurance_from_spc(int(result.assurance_icon[row]))
    latest = mine.iloc[-1]
    suppressed_latest = bool(latest.suppressed)
    page = IndicatorPage(
        spec=spec, latest_label=period_label(latest.period_start, spec.frequency),
        latest_value=SUPPRESSED_TEXT if suppressed_latest else spec.fmt(latest.value),
        latest_interval="" if suppressed_latest or pd.isna(latest.lower)
        else f"{spec.fmt(latest.lower)} to {spec.fmt(latest.upper)}",
        target=spec.fmt(spec.target) if spec.target is not None else (spec.no_target or "none"),
        variation=variation, assurance=assurance,
        variation_svg="" if spec.no_spc else icons.variation_icon(variation),
        assurance_svg="" if spec.no_spc else icons.assurance_icon(assurance),
        spc_svg=spc_svg, sparkline_svg=charts.sparkline(values, types[last]),
        description=describe(spec, result, row, labels) if not suppressed_latest else
        "The latest value is suppressed because it rests on a small number of people or events, or could be "
        "worked out from other published figures.",
        hidden_note=_hidden_note(int((mine.suppressed & mine.period_start.between(periods[0], periods[-1])).sum()),
                                 int(np.isnan(values).sum()), n, not spec.no_spc),
    )
    page.small_base_note = "" if suppressed_latest else _small_base_note(spec, latest)
    page.england_value, page.england = _england(slices, spec, latest.period_start)
    quintiles = _quintiles(page, slices, scope, spec, latest.period_start)
    if not providers:
        _units_funnel(page, slices, scope, spec, latest.period_start)
    page.breakdowns = _breakdowns(slices, scope, spec, latest.period_start, references)
    if scope.peers:
        _peers(page, slices, scope, spec, latest.period_start, width=340 if quintiles else 680)
    return page, quintiles


BREAKDOWN_TITLES = {"sex": "Sex", "age_band": "Age band", "ethnic_group": "Ethnic group"}
"""The breakdowns shown beside the IMD quintiles, in order."""


def _breakdowns(slices: Slices, scope: Scope, spec: IndicatorSpec, period: date,
                references: Mapping[str, str]) -> list[BreakdownTable]:
    """The area's published figures by sex, age band and ethnic group at ``period``. These groups have no
    social order, so no slope index: a breakdown with a reference group in the profile shows each group's
    gap to it (:func:`placewise.analyse.statistics.gaps_to_reference`), the others the gap between their
    highest and lowest published groups."""
    out = []
    for breakdown, title in BREAKDOWN_TITLES.items():
        rows = _latest_rows(slices, spec.id, period, scope.area.geography_type, breakdown)
        rows = rows[rows.geography_code == scope.area.code].sort_values("breakdown_group")
        if rows.empty:
            continue
        hidden = rows.suppressed.astype(bool).to_numpy() | rows.value.isna().to_numpy()
        table = [_table_row(spec, str(g), h, c, v, lo, hi) for g, h, c, v, lo, hi in
                 zip(rows.breakdown_group, hidden, counts(rows, spec), rows.value, rows.lower, rows.upper, strict=True)]
        within = _within_groups(slices, scope, spec, period, breakdown)
        if breakdown in references:
            gaps, gap = _reference_gaps(spec, rows, hidden, references[breakdown])
            out.append(BreakdownTable(title, table, gap, gaps, within))
        else:
            out.append(BreakdownTable(title, table, _range_gap(spec, rows, hidden), within=within))
    return out


def _within_groups(slices: Slices, scope: Scope, spec: IndicatorSpec, period: date, breakdown: str) -> str:
    """The slope index of inequality across IMD quintiles within each group of ``breakdown`` (one call for all
    groups), from the published cells of the breakdown by both; groups with a quintile hidden are named."""
    cross = f"{breakdown}_by_imd_quintile"
    rows = _latest_rows(slices, spec.id, period, scope.area.geography_type, cross)
    rows = rows[rows.geography_code == scope.area.code]
    if rows.empty:
        return ""
    parts = rows.breakdown_group.str.split("|", n=1, expand=True)
    rows = rows.assign(group=parts[0], quintile=parts[1])
    rows = rows[rows.quintile.isin(list(QUINTILES))]
    usable = (~rows.suppressed.astype(bool) & rows.value.notna() & rows.lower.notna() & (rows.upper > rows.lower)
              & (rows.denominator > 0))
    complete = usable.groupby(rows.group).sum() == len(QUINTILES)
    ok = sorted(complete[complete].index)
    missing = sorted(set(rows.group) - set(ok))
    note = (f" Not shown for {', '.join(missing)}: a quintile is suppressed, missing or has no interval."
            if missing else "")
    if not ok:
        return f"No slope index of inequality by IMD quintile within any group.{note}"
    grid = rows[rows.group.isin(ok)].pivot(index="group", columns="quintile").loc[ok]
    stack = {c: grid[c][list(QUINTILES)].to_numpy(dtype=float) for c in ("value", "denominator", "lower", "upper")}
    logit = spec.measure == "proportion" and bool(((stack["lower"] > 0) & (stack["upper"] < 1)).all())
    kind: ValueType = "proportion" if logit else "other"
    res = slope_index_of_inequality(stack["value"], stack["denominator"], lower_95=stack["lower"],
                                    upper_95=stack["upper"], value_type=kind, repetitions=10_000)
    each = [f"{g} {_signed(spec, res.sii[i], unit=False)} ({_signed(spec, res.sii_lower[i], unit=False)} to "
            f"{_signed(spec, res.sii_upper[i], unit=False)})" for i, g in enumerate(ok)]
    unit = "percentage points" if spec.unit == "%" else spec.unit.strip()
    return (f"Slope index of inequality by IMD quintile within each group (the modelled gap from the most to the "
            f"least deprived{', in ' + unit if unit else ''}, with 95% intervals): {'; '.join(each)}.{note}")


def _range_gap(spec: IndicatorSpec, rows: pd.DataFrame, hidden: np.ndarray) -> str:
    """The gap between the highest and lowest published groups of a breakdown."""
    shown = rows[~hidden]
    gap = ""
    if len(shown) >= 2:
        top, low = shown.loc[shown.value.idxmax()], shown.loc[shown.value.idxmin()]
        gap = (f"Highest: {top.breakdown_group} ({spec.fmt(top.value)}); lowest: {low.breakdown_group} "
               f"({spec.fmt(low.value)}); a gap of {_signed(spec, float(top.value - low.value)).lstrip('+')}.")
    if hidden.any():
        gap += " Groups marked * are suppressed and left out of the gap."
    return gap.strip()


def _reference_gaps(spec: IndicatorSpec, rows: pd.DataFrame, hidden: np.ndarray,
                    reference: str) -> tuple[list[str], str]:
    """Each group's absolute gap to the reference group (a table column) and a note with the relative gaps."""
    blank = [""] * len(rows)
    groups = rows.breakdown_group.astype(str).to_numpy()
    usable = ~hidden & rows.lower.notna().to_numpy() & rows.upper.notna().to_numpy()
    at = np.flatnonzero(groups == reference)
    if not at.size or not usable[at[0]]:
        return blank, (f"No gaps are shown: the reference group, {reference}, is not published or has no "
                       "interval.")
    v, lo, hi = (rows[c].to_numpy(dtype=float) for c in ("value", "lower", "upper"))
    r = int(at[0])
    g = gaps_to_reference(v[usable], lo[usable], hi[usable], v[r], lo[r], hi[r])
    column, ratios = list(blank), []
    for i, k in enumerate(np.flatnonzero(usable)):
        if k == r:
            column[k] = "reference"
            continue
        column[k] = f"{_signed(spec, g.difference[i], unit=False)} ({_signed(spec, g.difference_lower[i], unit=False)}" \
                    f" to {_signed(spec, g.difference_upper[i], unit=False)})"
        if np.isfinite([g.ratio[i], g.ratio_lower[i], g.ratio_upper[i]]).all():
            ratios.append(f"{groups[k]} {g.ratio[i]:.2f} ({g.ratio_lower[i]:.2f} to {g.ratio_upper[i]:.2f})")
    unit = " in percentage points" if spec.unit == "%" else (f" in {spec.unit.strip()}" if spec.unit.strip() else "")
    note = (f"Gaps are to {reference}, the reference group{unit}, with 95% intervals (MOVER, Zou and Donner "
            "2008); an interval that excludes zero marks a gap unlikely to be chance.")
    if ratios:
        note += f" Relative to {reference}: {'; '.join(ratios)}."
    if hidden.any():
        note += " Groups marked * are suppressed and have no gap."
    return column, note


def _units_funnel(page: IndicatorPage, slices: Slices, scope: Scope, spec: IndicatorSpec, period: date) -> None:
    """The funnel plots of the area's practices and of its PCNs at the latest period, each on the one funnel of every
    unit of its level in the ICS around the ICS value (:data:`placewise.analyse.funnels.CENTRE_RULE`), as the web app
    draws them; the rule for the centre is said once, under the first funnel drawn."""
    if not scope.units:
        return
    centre = _reference_centre(slices, spec, period, scope.ics)
    page.units_svg, page.units_note = _level_funnel(slices, scope, spec, period, "practice", "practices", centre)
    page.pcn_svg, page.pcn_note = _level_funnel(slices, scope, spec, period, "pcn", "PCNs", centre,
                                                rule=CENTRE_RULE not in page.units_note)


def _level_funnel(slices: Slices, scope: Scope, spec: IndicatorSpec, period: date, level: str, plural: str,
                  centre: float | None, rule: bool = True) -> tuple[str, str]:
    """The area's units of one level drawn on the funnel of every published unit of that level in the ICS (the
    level's slice), the axis fitted to the area's units (the limits still from the ICS's), or no plot and a note
    saying why; ``rule``: the note ends with :data:`placewise.analyse.funnels.CENTRE_RULE`."""
    own = {u.code: u.name for u in scope.units if u.geography_type == level}
    if not own:
        return "", ""
    every = _published_units(slices, spec, period, level)
    when = f"in {period_label(period, spec.frequency)}"
    level_rows = _latest_rows(slices, spec.id, period, level, "none")
    known = set(level_rows.geography_code) | set(own)
    unpublished = len(known - set(every.geography_code))
    suppressed = int(level_rows.suppressed.astype(bool).sum())
    drawn = every.denominator[every.geography_code.isin(list(own))].to_numpy(float)
    size = every.denominator.to_numpy(float)
    funnel, why = units_funnel(spec.measure, judged_numerators(every.value, size, spec.per), size,
                               spec.per, centre, "", plural, "in the ICS", when, unpublished, spec.sums_values,
                               spec.spread(period), drawn, suppressed)
    if funnel is None:
        return "", why
    mine = every.geography_code.isin(list(own)).to_numpy()
    ok = every[mine]
    if ok.empty:
        return "", (f"No funnel plot of {plural}: none of the {len(own)} in {scope.area.name} has a published value "
                    "(they are published only where the profile's disclosure rule includes them).")
    signal = funnel.signal[mine]
    shared = {c for c in ok.geography_code if c in scope.shared_pcns}
    labels = [own[c] for c in ok.geography_code]
    notes = ([] if len(every) >= MIN_UNITS_FOR_OVERDISPERSION else
             [f"Overdispersion not estimated: {len(every)} {plural} in the ICS, fewer than "
              f"{MIN_UNITS_FOR_OVERDISPERSION}"])
    svg = charts.funnel_plot(
        labels, ok.denominator.to_numpy(float), ok.value.to_numpy(float) * spec.scale, signal,
        funnel.grid, funnel.centre * spec.scale, tuple(x * spec.scale for x in funnel.limits), polarity=spec.polarity,
        title=f"{spec.title}: {plural} in {scope.area.name}", value_format=f",.{spec.decimals}f",
        size_label="Denominator", key_note="; ".join(notes))
    outside = [f"{name} ({'high' if s > 0 else 'low'}{', beyond 99.8%' if abs(s) == 2 else ''})"
               for name, s in zip(labels, signal, strict=True) if s]
    others = len(own) - len(ok)
    hidden = (f" ({others} more {'is' if others == 1 else 'are'} suppressed or "
              f"{'has' if others == 1 else 'have'} no value)" if others else "")
    held = (f"Centre: the ICS value, {spec.fmt(centre * spec.per)}." if centre is not None else
            f"Centre: the overall value of the ICS's {plural} (the ICS value is suppressed).")
    note = (f"{len(ok)} {plural} in {scope.area.name} with a published value{hidden}, on the funnel of the "
            f"{len(every)} in the ICS. Limits: {funnel.method}. "
            + (f"Outside the 95% limits: {'; '.join(outside)}." if outside else "None is outside the 95% limits.")
            + f" {held}" + (f" {CENTRE_RULE}" if rule else ""))
    if shared:
        note += (f" {'; '.join(own[c] for c in sorted(shared))}: a PCN serving more than one Place is drawn in the "
                 "report of each, its value covering all its practices.")
    return svg, note


def _reference_centre(slices: Slices, spec: IndicatorSpec, period: date, area: Area) -> float | None:
    """The area's published value at ``period`` as a proportion or rate per unit, the centre its units are held
    to (its value, not its rounded counts, so that it reads as on the rest of the page); None where suppressed."""
    rows = _latest_rows(slices, spec.id, period, area.geography_type, "none")
    rows = rows[(rows.geography_code == area.code) & ~rows.suppressed.astype(bool) & rows.value.notna()]
    return None if rows.empty else float(rows.value.iloc[0]) / spec.per


def _published_units(slices: Slices, spec: IndicatorSpec, period: date, level: str) -> pd.DataFrame:
    """Every unit of one level (the ICS's) with a published value at ``period``."""
    rows = _latest_rows(slices, spec.id, period, level, "none")
    return rows[~rows.suppressed.astype(bool) & rows.value.notna()
                & (rows.denominator > 0) & rows.numerator.notna()]


SMALL_BASE = 50
"""A share of fewer cases than this moves by more than two percentage points with each case, so the page says so."""


def _small_base_note(spec: IndicatorSpec, latest: pd.Series) -> str:
    """For a percentage whose latest value rests on fewer than :data:`SMALL_BASE` cases, how many and what one case
    moves it by: a small area's (or a small demo's) month can read 100% or 0% by chance, not by a change of process."""
    n = latest.denominator
    if (not spec.is_percentage or pd.isna(n) or not 0 < n < SMALL_BASE
            or value_alone(spec, latest.geography_code, latest.period_start)[0]):
        return ""
    interval = "" if pd.isna(latest.lower) else f" (95% interval {spec.fmt(latest.lower)} to {spec.fmt(latest.upper)})"
    cases = "1 case, which moves" if n == 1 else f"{n:,.0f} cases: each moves"
    return (f"The latest value rests on {cases} it by {100 / n:.1f} percentage points, so a figure "
            f"of so few can read 0% or 100% by chance{interval}; the chart's limits, not this month alone, say whether "
            "the process has changed.")


def _hidden_note(hidden: int, gaps: int, periods: int, spc_drawn: bool = True) -> str:
    """Why points are missing from the chart, and what its lines rest on (an SPC chart's mean and limits)."""
    if not gaps:
        return ""
    missing = gaps - hidden
    parts = ([f"{hidden} {'period is' if hidden == 1 else 'periods are'} suppressed"] if hidden else []) + (
        [f"{missing} {'period has' if missing == 1 else 'periods have'} no value"] if missing else [])
    lead = f"Of the {periods} periods charted, {' and '.join(parts)}: each is a gap in the line."
    if not spc_drawn:
        return lead
    return (f"{lead} As in NHSRplotthedots, the mean is that of the {periods - gaps} published points and no moving range "
            "spans a gap, so the process limits rest only on neighbouring periods both published.")


def kpi_progress(frame: pd.DataFrame, programmes: Programmes, areas: dict[str, Area],
                 specs: dict[str, IndicatorSpec]) -> dict[str, list[str]]:
    """Latest measured value of each KPI linked to an indicator, by the KPI's baseline geographies.

    ``areas`` maps a baseline's geography name (``BLMK``, ``Luton``…) to the area measured; suppressed
    figures are left out. Keyed by KPI text; lines read "Luton: 1,702.3 per 100,000 (2024/25 to Mar 2025)".
    """
    out: dict[str, list[str]] = {}
    for kpi, indicator in ((k, k.indicator) for p in programmes.programmes for k in p.kpis if k.indicator):
        rows = frame[(frame.indicator_id == indicator) & (frame.breakdown == kpi.breakdown) & ~frame.suppressed]
        spec = specs.get(indicator)
        lines = []
        for b in kpi.baselines:
            area = areas.get(b.geography)
            if spec is None or area is None:
                continue
            mine = rows[(rows.geography_type == area.geography_type) & (rows.geography_code == area.code)]
            if mine.empty:
                continue
            latest = mine.sort_values("period_end").iloc[-1]
            lines.append(f"{b.geography}: {spec.fmt(latest.value)} (to {month_label(latest.period_end)})")
        if lines:
            out[kpi.kpi] = lines
    return out


def core20_view(pages: list[IndicatorPage], areas: list[tuple[str, list[str]]]) -> list[tuple[str, list[IndicatorPage]]]:
    """The Core20PLUS5 clinical areas with the report's pages that measure each (an empty list where the
    catalogue has no indicator for an area, or none has data), in the profile's order."""
    by_id = {p.spec.id: p for p in pages}
    return [(name, [by_id[i] for i in ids if i in by_id]) for name, ids in areas]


def assurance_latest(frame: pd.DataFrame, assurance: Assurance, area: Area,
                     specs: dict[str, IndicatorSpec]) -> dict[str, str]:
    """For each assurance-matrix row linked to an indicator, its latest published value in ``area`` and
    whether that meets the printed target (by the row's polarity); keyed by row id."""
    mine = frame[(frame.geography_type == area.geography_type) & (frame.geography_code == area.code)
                 & (frame.breakdown == "none") & ~frame.suppressed.astype(bool) & frame.value.notna()]
    out: dict[str, str] = {}
    for t in assurance.targets:
        spec = specs.get(t.indicator or "")
        if spec is None:
            continue
        rows = mine[mine.indicator_id == spec.id]
        if rows.empty:
            out[t.id] = "No published value in this report"
            continue
        latest = rows.sort_values("period_end").iloc[-1]
        text = f"{spec.fmt(latest.value)} ({period_label(latest.period_start, spec.frequency)})"
        sign = {"higher_is_better": 1, "lower_is_better": -1}.get(t.polarity)
        if t.target_value is not None and sign:
            meets = (float(latest.value) * spec.scale - t.target_value) * sign >= 0
            text += f": {'meets' if meets else 'misses'} the printed target"
        out[t.id] = text
    return out


def _for_area(plan: PlanInputs, source: Mapping[str, Area]) -> PlanInputs:
    """The plan rows of each indicator's source area."""
    def mine(f: pd.DataFrame) -> pd.DataFrame:
        return f[_mine(f, source).to_numpy(dtype=bool)]
    return PlanInputs(mine(plan.pva), mine(plan.forecast), plan.share)


def _plan_note(spec: IndicatorSpec, rag: str, plan: PlanInputs, latest: date) -> tuple[str, str]:
    """Why the latest period has no plan RAG (neutral, stale or missing target, a plan that stops earlier), in a few
    words for the summary's Plan column and as the page's sentence, so that neither is silently empty; both empty
    when there is a RAG."""
    if rag:
        return "", ""
    if spec.polarity == "neutral":
        return "No RAG: neutral", "No RAG: a neutral indicator"
    planned = plan.pva[(plan.pva.indicator_id == spec.id) & (plan.pva.period_start >= latest)]
    if not planned.empty:
        return "No RAG: no actual", "No RAG: no actual for the planned period"
    ended = f"No plan for {period_label(latest, spec.frequency)}"
    held = f"No plan held for {financial_year(period_end(latest, spec.frequency))}"
    if spec.target_flag == "standing":
        return held, spec.target_note.rstrip(".")
    if spec.target_flag == "stale":
        return "No plan: target stale", f"{ended}: the target is stale"
    if spec.target_flag == "missing":
        return "No plan: no target this year", f"{ended}: no target applies this year"
    earlier = plan.pva[plan.pva.indicator_id == spec.id]
    reason = f". {spec.no_target_reason.rstrip('.')}" if spec.target is None and spec.no_target_reason else ""
    if spec.target is None and not earlier.empty:
        last = period_label(earlier.period_start.max(), spec.frequency)
        return held, f"{held}: the last plan held is for {last}{reason}"
    if spec.target is None and spec.no_target:
        return f"No plan: {spec.no_target[:1].lower()}{spec.no_target[1:]}", f"{ended}{reason}"
    if spec.target is None:
        return "No plan: no target", f"{ended}: no target or submitted trajectory"
    return ended, ended


def _target_line(spec: IndicatorSpec, periods: list[date]) -> tuple[np.ndarray | None, str]:
    """The target drawn for each period, in display units: that financial year's target (the standing standard
    where no plan figure is held for the year), or the report's one target where the catalogue's is not given; and
    its name in the key, "Target or standard" where some year's line is the standing standard."""
    if spec.yearly is None:
        return (None if spec.target is None else np.full(len(periods), spec.target * spec.scale)), "Target"
    ends = [period_end(p, spec.frequency) for p in periods]
    status = {y: target_status(spec.yearly, spec.standard_source, e)
              for y, e in {financial_year(e): e for e in ends}.items()}
    line = np.array([np.nan if (v := status[financial_year(e)].value) is None else v for e in ends], float)
    if not np.isfinite(line).any():
        return None, "Target"
    standing = any(s.flag == "standing" for s in status.values())
    return line * spec.scale, "Target or standard" if standing else "Target"


def _unplanned_years(spec: IndicatorSpec, plan: PlanInputs, periods: list[date]) -> str:
    """A sentence naming the financial years of the chart, before the latest, with no plan held while other years
    have one (where the plan line has a gap and why); empty when every year has a plan or none has."""
    planned = plan.pva[plan.pva.indicator_id == spec.id].period_start
    if planned.empty:
        return ""
    year = {p: financial_year(period_end(p, spec.frequency)) for p in [*periods, *planned]}
    latest = year[periods[-1]]
    gaps = sorted({year[p] for p in periods} - {year[p] for p in planned} - {latest})
    if not gaps:
        return ""
    names = gaps[0] if len(gaps) == 1 else f"{', '.join(gaps[:-1])} or {gaps[-1]}"
    return f"No plan held for {names}, so the plan line is not drawn there."


def _plan_text(spec: IndicatorSpec, plan: PlanInputs, latest: date) -> tuple[str, str, str]:
    """The RAG and variance of the latest period against plan, and sentences on the latest period with an
    actual and a plan and on the forecast for the end of the latest period's year (none once that year has ended). A plan that stops before ``latest`` gives no RAG (the
    caller says why: :func:`_plan_note`)."""
    rows = plan.pva[(plan.pva.indicator_id == spec.id) & plan.pva.actual.notna()].sort_values("period_start")
    if rows.empty:
        return "", "", ""
    last = rows.iloc[-1]
    current = last.period_start >= latest
    rag = last.rag if isinstance(last.rag, str) and current else ""
    basis = PLAN_BASIS.get(getattr(last, "basis", ""), "")
    if spec.population_sized and plan.share != 1.0 and getattr(last, "basis", "") == "trajectory":
        basis = f" (the submitted {spec.fmt(last.plan / plan.share)} scaled to the synthetic population, {plan.share:.1%})"
    freq = spec.frequency
    text = (f"Plan for {period_label(last.period_start, freq)}{basis}: {spec.fmt(last.plan)}; actual {spec.fmt(last.actual)} "
            f"({_signed(spec, last.variance)} against plan){f'. {RAG_TEXT[rag]}' if rag else ''}.")
    fc = plan.forecast[(plan.forecast.indicator_id == spec.id) & (plan.forecast.year_end_period >= latest)]
    fc = fc.sort_values("year_start")
    if not fc.empty:  # a year already ended has its outturn, not a forecast
        f = fc.iloc[-1]
        verdict = f": {RAG_TEXT[f.rag].split(':')[0].lower()}" if isinstance(f.rag, str) else ""
        text += (f" Forecast for {period_label(f.year_end_period, freq)}, the end of the financial year: "
                 f"{spec.fmt(f.forecast)} against a plan of {spec.fmt(f.plan)}{verdict}.")
    return rag, text, _signed(spec, last.variance) if current else ""
