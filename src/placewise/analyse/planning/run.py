"""The planning run: Monte Carlo over every parameter, each scenario, summarised as tables.

Run 0 is the principal run (every parameter at its central value); runs 1..N are Latin hypercube
draws. Tables give the principal value and the 10th, 50th and 90th percentiles over the N runs.
Population variants (housing-led, trend) are projected once and shared by the scenarios using them.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

import ibis

from placewise.analyse.planning.backtest import backtest
from placewise.analyse.planning.capacity import bed_gap, beds, sessions_and_wte, workforce
from placewise.analyse.planning.config import AGES, SETTINGS, SEXES, Interval, Planning, load_planning
from placewise.analyse.planning.demand import activity_rates, adjustment_factors, project_activity
from placewise.analyse.planning.history import read_history
from placewise.analyse.planning.housing import household_capacity
from placewise.analyse.planning.projection import Draws, Projection, Rates, project
from placewise.analyse.planning.rates import rates_from_history, read_base_population, with_base
from placewise.analyse.planning.uncertainty import draws as draw
from placewise.profile import Profile

ICS = "ICS"
SUMMARY_COLUMNS = ["scenario", "measure", "geography", "year", "principal", "p10", "p50", "p90"]
CAPACITY_PARAMETERS = ("surgical_share_of_elective", "cases_per_theatre_session", "attendances_per_clinic_session",
                       "appointments_per_gp_clinical_wte")


@dataclass
class PlanResult:
    """Every table of a planning run, and the arrays behind them for checks and charts."""

    summary: pd.DataFrame
    population: pd.DataFrame
    parameters: pd.DataFrame
    backtest: pd.DataFrame | None = None
    runs: int = 0
    notes: list[str] = field(default_factory=list)
    """What the user should know about the inputs (people left out, years of history)."""
    projections: dict[str, Projection] = field(default_factory=dict)
    activity: dict[str, np.ndarray] = field(default_factory=dict)
    """Activity [year, run, setting, Place] by scenario."""

    def write(self, out: Path) -> list[Path]:
        """Write every table as Parquet and CSV into ``out``; return the paths."""
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for name in ("summary", "population", "parameters", "backtest"):
            frame = getattr(self, name)
            if frame is None:
                continue
            for suffix in (".parquet", ".csv"):
                path = out / f"{name}{suffix}"
                tmp = path.with_suffix(path.suffix + ".part")
                frame.to_parquet(tmp, index=False) if suffix == ".parquet" else frame.to_csv(tmp, index=False)
                tmp.replace(path)
                written.append(path)
        return written


class Sampler:
    """Draws every named parameter once per planning run, recording each for the parameters table."""

    def __init__(self, runs: int, seed: int) -> None:
        self.runs, self.seed = runs, seed
        self.used: dict[str, tuple[Interval, np.ndarray]] = {}

    def __call__(self, name: str, interval: Interval) -> np.ndarray:
        """The principal value then ``runs`` draws of one parameter (the same on every call)."""
        if name not in self.used:
            self.used[name] = (interval, draw(interval, name, self.runs, self.seed))
        return self.used[name][1]

    def table(self) -> pd.DataFrame:
        """Each parameter's stated interval and source beside its principal value and sampled percentiles."""
        rows = []
        for name, (iv, values) in sorted(self.used.items()):
            p10, p50, p90 = np.percentile(values[1:], [10, 50, 90]) if self.runs else (np.nan,) * 3
            rows.append(dict(parameter=name, low=iv.low, high=iv.high, distribution=iv.distribution,
                             principal=values[0], sampled_p10=p10, sampled_p50=p50, sampled_p90=p90, source=iv.source))
        return pd.DataFrame(rows)


def demographic_draws(planning: Planning, sample: Sampler) -> Draws:
    """The demographic multipliers of every run."""
    d = planning.demography
    return Draws(mortality_level=sample("demography.mortality_level", d.mortality_level),
                 mortality_improvement=sample("demography.mortality_improvement", d.mortality_improvement),
                 fertility_level=sample("demography.fertility_level", d.fertility_level),
                 migration_level=sample("demography.migration_level", d.migration_level))


def project_variants(rates: Rates, planning: Planning, sample: Sampler, to: int,
                     variants: AbstractSet[str]) -> tuple[dict[str, Projection], np.ndarray]:
    """Each population variant projected to ``to``, and the households of every run [run, Place, year]."""
    if to <= rates.base_year:
        raise ValueError(f"the horizon {to} must be after the base year {rates.base_year}")
    years = np.arange(rates.base_year, to + 1)
    demo = demographic_draws(planning, sample)
    hu = planning.housing_uncertainty
    households, housed = household_capacity([planning.housing[p] for p in rates.places], years, rates.base_year,
                                            sample("housing.delivery", hu.delivery),
                                            sample("housing.household_size_change", hu.household_size_change))
    out = {v: project(rates, demo, len(years) - 1, housed if v == "housing_led" else None) for v in sorted(variants)}
    return out, households


def _summarise(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Principal [year, geography] and percentiles [3, year, geography] over the sampled runs."""
    sampled = values[:, 1:] if values.shape[1] > 1 else values[:, :1]
    return values[:, 0], np.percentile(sampled, [10, 50, 90], axis=1)


def _rows(scenario: str, measure: str, values: np.ndarray, geographies: list[str], years: np.ndarray) -> pd.DataFrame:
    """Summary rows for one measure [year, run, geography]."""
    principal, pct = _summarise(values)
    t, g = np.meshgrid(years, np.arange(len(geographies)), indexing="ij")
    return pd.DataFrame({"scenario": scenario, "measure": measure, "geography": np.asarray(geographies)[g.ravel()],
                         "year": t.ravel(), "principal": principal.ravel(), "p10": pct[0].ravel(),
                         "p50": pct[1].ravel(), "p90": pct[2].ravel()})


def _with_total(values: np.ndarray) -> np.ndarray:
    """Per-Place values [year, run, Place] with the ICS total appended as a last column."""
    return np.concatenate([values, values.sum(axis=-1, keepdims=True)], axis=-1)


def _population_rows(variant: str, proj: Projection) -> pd.DataFrame:
    """Population by Place, sex and single year of age for every year: principal and percentiles."""
    pop = proj.population
    principal = pop[:, 0]
    pct = np.percentile(pop[:, 1:] if pop.shape[1] > 1 else pop[:, :1], [10, 50, 90], axis=1)
    t, p, s, a = np.meshgrid(proj.years, np.arange(len(proj.places)), np.arange(2), np.arange(AGES), indexing="ij")
    return pd.DataFrame({"population_variant": variant, "place": np.asarray(proj.places)[p.ravel()],
                         "sex": np.asarray(SEXES)[s.ravel()], "age": a.ravel(), "year": t.ravel(),
                         "principal": principal.ravel(), "p10": pct[0].ravel(), "p50": pct[1].ravel(),
                         "p90": pct[2].ravel()})


def _demography_rows(name: str, proj: Projection, households: np.ndarray, places: list[str]) -> list[pd.DataFrame]:
    """Population, age groups, components of change, households and communal population of one scenario."""
    years = proj.years
    pop = proj.population
    series = {"population": pop.sum(axis=(3, 4)), "population_65_plus": pop[..., 65:].sum(axis=(3, 4)),
              "population_85_plus": pop[..., 85:].sum(axis=(3, 4)), "communal_population": proj.communal,
              "households": np.moveaxis(households, -1, 0)}
    rows = [_rows(name, m, _with_total(v), places, years) for m, v in series.items()]
    comps = {"births": proj.births, "deaths": proj.deaths, "net_migration": proj.net_migration,
             "housing_adjustment": proj.housing_adjustment}
    rows += [_rows(name, m, _with_total(v), places, years[1:]) for m, v in comps.items()]
    return rows


def plan(rates: Rates, activity_rates: np.ndarray, planning: Planning, *, to: int, runs: int, seed: int,
         scenarios: list[str] | None = None) -> PlanResult:
    """Project population, demand, capacity and workforce for the chosen scenarios (default all)."""
    chosen = scenarios or list(planning.scenarios)
    unknown = [s for s in chosen if s not in planning.scenarios]
    if unknown:
        raise ValueError(f"unknown scenario(s) {', '.join(unknown)}; the profile has {', '.join(planning.scenarios)}")
    sample = Sampler(runs, seed)
    variants = {planning.scenarios[s].population for s in chosen}
    projections, households = project_variants(rates, planning, sample, to, variants)
    years = np.arange(rates.base_year, to + 1)
    places = list(rates.places) + [ICS]
    growth = np.stack([sample(f"growth.{s}", planning.growth[s]) for s in SETTINGS], axis=1)
    cap = planning.capacity
    cap_draws = {n: sample(f"capacity.{n}", getattr(cap, n)) for n in CAPACITY_PARAMETERS}
    productivity = sample("workforce.productivity_growth", planning.workforce.productivity_growth)
    rows, activity = [], {}
    for name in chosen:
        scen = planning.scenarios[name]
        proj = projections[scen.population]
        changes = [sample(f"scenario.{a.setting}.{a.min_age}.{a.full_by}.{name}", a.change) for a in scen.adjustments]
        factors = adjustment_factors(scen, changes, years, rates.base_year)
        act = project_activity(activity_rates, proj.population, growth, factors, years, rates.base_year)
        activity[name] = act
        rows += _demography_rows(name, proj, households, places)
        rows += [_rows(name, s, _with_total(act[:, :, i]), places, years) for i, s in enumerate(SETTINGS)]
        for occ in cap.occupancy_targets:
            need = beds(act, occ)
            gap = bed_gap(need, cap, rates.places)
            rows += [_rows(name, f"beds_at_{occ:.0%}", _with_total(need), places, years),
                     _rows(name, f"beds_to_add_at_{occ:.0%}", _with_total(gap), places, years)]
        rows += [_rows(name, m, _with_total(v), places, years) for m, v in sessions_and_wte(act, cap_draws).items()]
        rows += [_rows(name, m, v[..., None], [ICS], years)
                 for m, v in workforce(act, planning.workforce, productivity, years, rates.base_year).items()]
    population = pd.concat([_population_rows(v, p) for v, p in projections.items()], ignore_index=True)
    return PlanResult(pd.concat(rows, ignore_index=True)[SUMMARY_COLUMNS], population, sample.table(),
                      runs=runs, projections=projections, activity=activity)


def plan_warehouse(con: ibis.BaseBackend, profile: Profile, *, to: int | None = None, runs: int = 256, seed: int = 1,
                   scenarios: list[str] | None = None, base_population: Path | None = None,
                   base_year: int | None = None) -> PlanResult:
    """The whole planning run on a warehouse: history, rates, projection, demand, capacity and the back-test.

    ``base_population`` (an ONS mid-year estimate file) replaces the warehouse's base population, as at
    mid-year ``base_year``.
    """
    planning = load_planning(profile)
    places = tuple(p.code for p in profile.ics.places)
    history = read_history(con, places)
    rates = rates_from_history(history, planning)
    if base_population is not None:
        rates = with_base(rates, read_base_population(base_population, places), base_year or rates.base_year)
    result = plan(rates, activity_rates(history), planning, to=to or planning.horizon, runs=runs, seed=seed,
                  scenarios=scenarios)
    result.backtest = backtest(history, planning)
    result.notes.append(f"{history.years} years of history, {history.mid_years[0]} to {history.mid_years[-1]}; "
                        f"base year {rates.base_year}")
    if history.other_sex:
        result.notes.append(f"{history.other_sex:,} registered people recorded as neither female nor male are "
                            "left out of the projection (single-sex rates need one or the other)")
    return result
