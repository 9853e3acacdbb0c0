"""Plan against actual: trajectories by indicator and geography, variance, forecast to year end, RAG.

Trajectories come from the catalogue (an indicator's ``target.trajectory``, for the whole system),
from the profile's ``trajectories.yaml`` and from CSV files (``indicator_id, geography_type,
geography_code, period_start, value``). The RAG rule is configuration in ``trajectories.yaml``:

- green: on or better than plan (by the indicator's polarity);
- amber: worse than plan by no more than ``amber_within`` (a fraction of the plan's size);
- red: worse than that. Neutral indicators get no RAG.

Forecast to year end (the NHS financial year, April to March): the year-end plan plus the mean
variance from plan over the latest ``forecast_periods`` periods with an actual value in that year.
It assumes the recent gap to plan persists, the usual "run-rate against plan" outturn forecast.

Where a monthly or quarterly indicator has an operating-plan target for a financial year (``target.years``:
"X% by March") and a series has no trajectory of its own in that year, the plan is a glide path set here: a
straight line from the series' value in the March (or the quarter to March) before the year to the target in
the year's March (flat at the target where that period has no value). An indicator held to a standing standard
every year (category 1 within 7 minutes on average, say) is planned at that standard every month. A year with no
planned figure (:func:`placewise.analyse.targets.plan_figure`: the NHS Constitution's 92% within 18 weeks is the
reference in 2023/24 and 2024/25, but those years' guidance planned the elimination of long waits, not a share
within 18 weeks) has no plan set here, and the report says so; a target whose year has passed gives no plan
either (``placewise.analyse.targets`` flags it as stale). A submitted trajectory for any month of the year
replaces the plan set here for the whole year. ``basis`` says which a row is.

A cumulative indicator (counted from 1 April, such as learning disability health checks) starts every year
at nothing, so a plan set here for it is the year's target spread evenly over the year (the run rate: by
September, half of the year's target), as BLMK's 2020/21 dashboards judged IAPT access year to date against
25% x 11/12 in February (``../shared/reference/blmk_performance_2020_21/table_catalogue.csv``).

A plan for a population-sized figure (a count, such as people entering NHS Talking Therapies, or a returned count,
such as the RTT waiting list) is for the whole population it was set for. Measured on a synthetic sample of the ICS
(the demo's 2%), such a plan is scaled to the sample's share of the ICS when the plans are loaded (``share``), so
that a sample is judged against a plan of its own size; percentages, rates, ratios and means are unchanged.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
from pydantic import Field

from placewise.analyse.independence import cumulative
from placewise.analyse.targets import plan_figure
from placewise.measure.catalogue import Catalogue, Indicator, Strict, TrajectoryPoint, financial_year
from placewise.profile import Profile, ProfileError

PLAN_SCHEMA = pa.schema([
    ("indicator_id", pa.string()), ("geography_type", pa.string()), ("geography_code", pa.string()),
    ("period_start", pa.date32()), ("actual", pa.float64()), ("plan", pa.float64()), ("variance", pa.float64()),
    ("relative_variance", pa.float64()), ("rag", pa.string()), ("basis", pa.string()),
])
FORECAST_SCHEMA = pa.schema([
    ("indicator_id", pa.string()), ("geography_type", pa.string()), ("geography_code", pa.string()),
    ("year_start", pa.date32()), ("year_end_period", pa.date32()), ("periods_used", pa.int64()),
    ("forecast", pa.float64()), ("plan", pa.float64()), ("rag", pa.string()),
])
SERIES = ["indicator_id", "geography_type", "geography_code"]
T = TypeVar("T")


class RagRule(Strict):
    """How far worse than plan is still amber, as a fraction of the plan's size."""

    amber_within: float = Field(ge=0, le=1)
    forecast_periods: int = Field(default=3, ge=1, description="latest periods averaged for the forecast")


class Trajectory(Strict):
    """The planned values of one indicator for one geography, by period start."""

    indicator: str
    geography_type: str = "ics"
    geography_code: str
    points: list[TrajectoryPoint] = Field(min_length=1)
    source: str


class Plans(Strict):
    """The RAG rule and every trajectory."""

    rag: RagRule
    trajectories: list[Trajectory] = []


def _parsed(path: Path, row_no: int, row: dict[str, str], field: str, parse: Callable[[str], T]) -> T:
    """One CSV field parsed, or an error naming file, row, field and value."""
    try:
        return parse(row[field])
    except (TypeError, ValueError):
        raise ProfileError(f"{path}: row {row_no}, field {field}: {row[field]!r} is not a valid "
                           f"{'date (YYYY-MM-DD)' if parse is date.fromisoformat else 'number'}") from None


def read_trajectory_csv(path: Path, source: str) -> list[Trajectory]:
    """Trajectories from a CSV; an error names the file, row (header is row 1), field and problem."""
    needed = ["indicator_id", "geography_type", "geography_code", "period_start", "value"]
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in needed if c not in (reader.fieldnames or [])]
        if missing:
            raise ProfileError(f"{path}: missing column(s) {', '.join(missing)}")
        grouped: dict[tuple[str, str, str], list[TrajectoryPoint]] = {}
        for row_no, row in enumerate(reader, start=2):
            point = TrajectoryPoint(period=_parsed(path, row_no, row, "period_start", date.fromisoformat),
                                    value=_parsed(path, row_no, row, "value", float))
            grouped.setdefault((row["indicator_id"], row["geography_type"], row["geography_code"]), []).append(point)
    return [Trajectory(indicator=i, geography_type=t, geography_code=c, points=p, source=source)
            for (i, t, c), p in grouped.items()]


def population_sized(indicator: Indicator) -> bool:
    """Whether the indicator's values grow with the population measured: a count, or a returned count (no
    denominator, such as a waiting list), not a percentage, rate, ratio or mean."""
    return indicator.measure == "count" or (indicator.measure == "returned" and indicator.denominator is None)


def load_plans(profile: Profile, catalogue: Catalogue, csv_files: tuple[Path, ...] = (), share: float = 1.0) -> Plans:
    """The profile's plans, with the catalogue's system trajectories and any CSV trajectories added; the plans of
    population-sized indicators multiplied by ``share``, the measured population's share of the one the plans are
    for (a synthetic sample's share of the ICS; 1 for real data)."""
    plans = profile.section("trajectories", Plans)
    extra = [Trajectory(indicator=i.id, geography_code=catalogue.ics_code, points=i.target.trajectory,
                        source=i.target.source)
             for i in catalogue.indicators if i.target and i.target.trajectory]
    for path in csv_files:
        extra += read_trajectory_csv(path, str(path))
    known = {i.id for i in catalogue.indicators}
    for t in plans.trajectories + extra:
        if t.indicator not in known:
            raise ProfileError(f"trajectory for {t.geography_type} {t.geography_code}: unknown indicator {t.indicator!r}")
    sized = {i.id for i in catalogue.indicators if population_sized(i)}
    return Plans(rag=plans.rag, trajectories=[_scaled(t, share) if t.indicator in sized else t
                                              for t in plans.trajectories + extra])


def _scaled(trajectory: Trajectory, share: float) -> Trajectory:
    """A trajectory with every planned value multiplied by ``share``."""
    if share == 1.0:
        return trajectory
    points = [TrajectoryPoint(period=p.period, value=p.value * share) for p in trajectory.points]
    return trajectory.model_copy(update={"points": points})


GLIDE = "glide path to the year's target"
"""The ``basis`` of a plan set here from a year's operating-plan target rather than a submitted trajectory."""
STANDARD = "the standing standard"
"""The ``basis`` of a plan set here as the standing standard, for an indicator held to it every year."""
RUN_RATE = "the year's target spread evenly over the year"
"""The ``basis`` of a plan set here for a cumulative (year-to-date) indicator: its run rate to the target."""


def _plan_frame(plans: Plans) -> pd.DataFrame:
    """Every trajectory point as a row."""
    rows = [(t.indicator, t.geography_type, t.geography_code, p.period, p.value)
            for t in plans.trajectories for p in t.points]
    frame = pd.DataFrame(rows, columns=SERIES + ["period_start", "plan"]).drop_duplicates(
        SERIES + ["period_start"], keep="last")
    frame["period_start"] = pd.to_datetime(frame["period_start"]).dt.date
    return frame.assign(basis="trajectory")


STEP_MONTHS = {"monthly": 1, "quarterly": 3}
"""Months per period of the frequencies that get plans set here (a quarter is a financial-year quarter)."""


def _year_targets(catalogue: Catalogue, year_starts: list[date]) -> pd.DataFrame:
    """The target of each monthly or quarterly indicator in each financial year: indicator, year start, target,
    the plan's basis (a glide path to a year's own target; the standing standard otherwise) and months per period.
    A year with no planned figure (:func:`placewise.analyse.targets.plan_figure`) has no row."""
    rows = []
    for i in catalogue.indicators:
        target = i.target
        if target is None or i.frequency not in STEP_MONTHS:
            continue
        own = {y.year for y in target.years}
        for start in year_starts:
            year = plan_figure(target, financial_year(start))
            if year is not None:
                rows.append((i.id, start, year.value, GLIDE if year.year in own else STANDARD,
                             STEP_MONTHS[i.frequency]))
    return pd.DataFrame(rows, columns=["indicator_id", "year_start", "target", "basis", "months"])


def glide_paths(actuals: pd.DataFrame, catalogue: Catalogue, planned: pd.DataFrame) -> pd.DataFrame:
    """Plans set here for each series and financial year with a target and an actual value in the year but
    no trajectory in ``planned``: a straight line from the last period before the year (March, or the quarter
    to March) to the year's own target at the year's end, or the standing standard every period."""
    a = actuals.assign(year_start=financial_year_start(actuals["period_start"]))
    years = a[SERIES + ["year_start"]].drop_duplicates()
    years = years.merge(_year_targets(catalogue, sorted(set(years["year_start"]))), on=["indicator_id", "year_start"])
    if not planned.empty:
        taken = planned.assign(year_start=financial_year_start(planned["period_start"]))[SERIES + ["year_start"]]
        years = years.merge(taken.drop_duplicates(), how="left", indicator=True)
        years = years[years.pop("_merge") == "left_only"]
    month = pd.to_datetime(a["period_start"])
    step = a["indicator_id"].map({i.id: STEP_MONTHS.get(i.frequency, 1) for i in catalogue.indicators})
    ends_march = (month.dt.month + step.to_numpy() - 1 == 3).to_numpy()
    march = a[ends_march][SERIES + ["actual"]]
    march["year_start"] = financial_year_start(month[ends_march] + pd.DateOffset(months=3)).to_numpy()
    years = years.merge(march.rename(columns={"actual": "baseline"}), on=SERIES + ["year_start"], how="left")
    g = years.merge(pd.DataFrame({"step": np.arange(1, 13)}), how="cross")
    g = g[(g["step"] % g["months"] == 0).to_numpy()]
    target = g["target"].to_numpy(float)
    baseline = np.where(g["basis"] == GLIDE, g["baseline"].fillna(g["target"]).to_numpy(float), target)
    from_zero = g["indicator_id"].isin([i.id for i in catalogue.indicators if cumulative(i)]).to_numpy()
    baseline = np.where(from_zero, 0.0, baseline)  # a year-to-date count starts each April at nothing
    g = g.assign(plan=baseline + (target - baseline) * g["step"].to_numpy() / 12,
                 basis=np.where(from_zero, RUN_RATE, g["basis"]))
    start = pd.to_datetime(g["year_start"])
    g["period_start"] = (start.dt.to_period("M") + (g["step"] - g["months"])).dt.to_timestamp().dt.date
    return g[SERIES + ["period_start", "plan", "basis"]]


def _direction(catalogue: Catalogue, ids: pd.Series) -> np.ndarray:
    """+1 where higher is better, -1 where lower is better, 0 for neutral indicators."""
    sign = {"higher_is_better": 1.0, "lower_is_better": -1.0, "neutral": 0.0}
    lookup = {i.id: sign[i.polarity] for i in catalogue.indicators}
    return ids.map(lookup).to_numpy(float)


def rag(actual: np.ndarray, plan: np.ndarray, direction: np.ndarray, rule: RagRule) -> np.ndarray:
    """Green, amber or red for each value against its plan; empty where neutral or either is missing."""
    better = (actual - plan) * direction
    out = np.where(better >= 0, "green", np.where(better >= -rule.amber_within * np.abs(plan), "amber", "red"))
    out = out.astype(object)
    out[(direction == 0) | np.isnan(actual) | np.isnan(plan)] = None
    return out


def plan_against_actual(measurements: pa.Table, plans: Plans, catalogue: Catalogue) -> pa.Table:
    """Actual (no breakdown) against plan for every period that has a plan (a trajectory, else a glide path
    to the year's operating-plan target); variance and RAG."""
    m = measurements.to_pandas()
    m = m[m["breakdown"] == "none"][SERIES + ["period_start", "value"]].rename(columns={"value": "actual"})
    m["period_start"] = pd.to_datetime(m["period_start"]).dt.date
    p = _plan_frame(plans)
    p = pd.concat([p, glide_paths(m, catalogue, p)], ignore_index=True)
    j = p.merge(m, on=SERIES + ["period_start"], how="left")
    actual, plan = j["actual"].to_numpy(float), j["plan"].to_numpy(float)
    j["variance"] = actual - plan
    with np.errstate(divide="ignore", invalid="ignore"):
        j["relative_variance"] = np.where(plan != 0, (actual - plan) / np.abs(plan), np.nan)
    j["rag"] = rag(actual, plan, _direction(catalogue, j["indicator_id"]), plans.rag)
    j = j.sort_values(SERIES + ["period_start"])
    return pa.Table.from_pandas(j[PLAN_SCHEMA.names], schema=PLAN_SCHEMA, preserve_index=False)


def financial_year_start(d: pd.Series) -> pd.Series:
    """1 April of the NHS financial year holding each date."""
    ts = pd.to_datetime(d)
    year = ts.dt.year - (ts.dt.month < 4)
    return pd.to_datetime(pd.DataFrame({"year": year, "month": 4, "day": 1})).dt.date


def forecast_year_end(pva: pa.Table, plans: Plans, catalogue: Catalogue) -> pa.Table:
    """Year-end forecast per series and financial year: year-end plan plus the recent mean variance."""
    j = pva.to_pandas()
    if j.empty:
        return FORECAST_SCHEMA.empty_table()
    j["year_start"] = financial_year_start(j["period_start"])
    keys = SERIES + ["year_start"]
    year_end = j.sort_values("period_start").groupby(keys, as_index=False).last()[keys + ["period_start", "plan"]]
    year_end = year_end.rename(columns={"period_start": "year_end_period"})
    seen = j[j["actual"].notna()].sort_values("period_start")
    recent = seen.groupby(keys).tail(plans.rag.forecast_periods)
    mean_var = recent.groupby(keys, as_index=False).agg(mean_variance=("variance", "mean"),
                                                        periods_used=("variance", "size"))
    f = year_end.merge(mean_var, on=keys, how="inner")
    f["forecast"] = f["plan"] + f["mean_variance"]
    f["rag"] = rag(f["forecast"].to_numpy(float), f["plan"].to_numpy(float),
                   _direction(catalogue, f["indicator_id"]), plans.rag)
    return pa.Table.from_pandas(f[FORECAST_SCHEMA.names], schema=FORECAST_SCHEMA, preserve_index=False)
