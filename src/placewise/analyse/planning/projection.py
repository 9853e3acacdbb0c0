"""Cohort-component population projection by Place, sex and single year of age, for many runs at once.

Arrays are indexed [run, Place, sex, age] (sex 0 female, 1 male; age 0..89 and 90+). One step takes
the population at mid-year ``t`` to mid-year ``t + 1``:

1. deaths: ``population × q`` (local death probabilities, scaled and improving by run);
2. out-migration: ``population × out-migration rate``, from those who do not die;
3. survivors age one year (the 90+ group keeps its survivors);
4. births: ``women at the start of the year × fertility by age``, split by sex; births exposed to
   half a year of infant mortality;
5. in-migration: counts by age at the end of the year;
6. housing-led only: the gap between the household population and the population the dwellings
   house is filled (or emptied) by domestic migration, spread over ages like in-migrants (a gain)
   or like out-migrants (a loss). The communal population is held apart from the household one.

Every component is recorded per run and Place, and the accounting identity
``P(t+1) − P(t) = births − deaths + in − out + housing adjustment`` holds exactly by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from placewise.analyse.planning.config import AGES


@dataclass(frozen=True)
class Rates:
    """The central rates of each Place, from the warehouse (or a base file) and the national schedules."""

    places: tuple[str, ...]
    base_year: int
    population: np.ndarray
    """Base population [Place, sex, age] at mid-year of the base year."""
    death: np.ndarray
    """Probability of dying within the year [Place, sex, age] for those of that age at its start."""
    fertility: np.ndarray
    """Births a year per woman [Place, age] by her age at the start of the year."""
    male_births: float
    out_rate: np.ndarray
    """Share of the population [Place, sex, age] leaving the Place in a year (age at start)."""
    in_count: np.ndarray
    """People arriving in the Place a year [Place, sex, age] (age at end)."""
    communal_share: np.ndarray
    """Share of each age living in communal establishments [age]."""
    communal_from_age: int
    """Below this age communal numbers stay at their base level; from it the share applies."""


@dataclass(frozen=True)
class Draws:
    """Demographic parameters per run [run]: multipliers of the central rates, and improvement a year."""

    mortality_level: np.ndarray
    mortality_improvement: np.ndarray
    fertility_level: np.ndarray
    migration_level: np.ndarray

    @property
    def runs(self) -> int:
        """Number of runs (the principal included)."""
        return len(self.mortality_level)


@dataclass(frozen=True)
class Projection:
    """The projected population and the components of change, by year, run and Place."""

    places: tuple[str, ...]
    years: np.ndarray
    """Mid-years [T + 1], the base year first."""
    population: np.ndarray
    """[T + 1, run, Place, sex, age]"""
    communal: np.ndarray
    """Communal-establishment population [T + 1, run, Place]."""
    births: np.ndarray
    deaths: np.ndarray
    in_migration: np.ndarray
    out_migration: np.ndarray
    housing_adjustment: np.ndarray
    """Net domestic migration added to meet the dwelling-led household population [T, run, Place]."""

    @property
    def net_migration(self) -> np.ndarray:
        """In minus out plus the housing adjustment [T, run, Place]."""
        return self.in_migration - self.out_migration + self.housing_adjustment

    def totals(self) -> np.ndarray:
        """Total population [T + 1, run, Place]."""
        return self.population.sum(axis=(3, 4))


def communal(population: np.ndarray, rates: Rates) -> np.ndarray:
    """Communal-establishment population by cell: fixed base numbers under the threshold age, shares above."""
    by_share = population * rates.communal_share
    fixed = rates.population * rates.communal_share
    young = np.arange(AGES) < rates.communal_from_age
    return np.minimum(np.where(young, fixed, by_share), population)


def _normalised(weights: np.ndarray) -> np.ndarray:
    """Weights over (sex, age) summing to one in each leading cell; uniform where all are zero."""
    total = weights.sum(axis=(-2, -1), keepdims=True)
    return np.where(total > 0, weights / np.where(total > 0, total, 1), 1.0 / (2 * AGES))


def project(rates: Rates, draws: Draws, years: int, housing: np.ndarray | None = None) -> Projection:
    """Project ``years`` years ahead for every run; ``housing`` [run, Place, years + 1] makes it housing-led.

    ``housing`` is the household population the dwellings can house, relative to the base year
    (1 at index 0): the base household population is matched to the base dwelling stock, so the
    average household size is calibrated there, as in housing-led models generally.
    """
    runs, places = draws.runs, len(rates.places)
    shape = (runs, places, 2, AGES)
    pop = np.broadcast_to(rates.population, shape).astype(float)
    col = (slice(None), None, None, None)
    mort, impr = draws.mortality_level[col], draws.mortality_improvement[col]
    fert, mig = draws.fertility_level[:, None, None], draws.migration_level[col]
    in_shape = _normalised(rates.in_count)
    base_households = (pop - communal(pop, rates)).sum(axis=(2, 3))
    sex_split = np.array([1 - rates.male_births, rates.male_births])
    out = {k: np.zeros((years, runs, places)) for k in ("births", "deaths", "in", "out", "adjust")}
    populations, communals = [pop], [communal(pop, rates).sum(axis=(2, 3))]
    for t in range(years):
        q = np.minimum(rates.death * mort * (1 - impr) ** t, 1.0)
        dying = pop * q
        leaving = pop * np.minimum(rates.out_rate * mig, 1 - q)
        remain = pop - dying - leaving
        nxt = np.zeros(shape)
        nxt[..., 1:] = remain[..., :-1]
        nxt[..., -1] += remain[..., -1]
        births = (pop[:, :, 0, :] * rates.fertility * fert).sum(axis=-1)
        born = births[..., None] * sex_split
        infant_deaths = born * q[..., 0] / 2
        nxt[..., 0] = born - infant_deaths
        arriving = rates.in_count * mig
        nxt += arriving
        housed = communal(nxt, rates)
        adjust = np.zeros(shape)
        if housing is not None:
            gap = base_households * housing[:, :, t + 1] - (nxt - housed).sum(axis=(2, 3))
            weights = np.where(gap[..., None, None] > 0, in_shape, _normalised(nxt * rates.out_rate))
            adjust = np.maximum(gap[..., None, None] * weights, -nxt)
            nxt = nxt + adjust
        for key, value in (("births", births), ("deaths", dying.sum(axis=(2, 3)) + infant_deaths.sum(axis=-1)),
                           ("in", arriving.sum(axis=(2, 3))),
                           ("out", leaving.sum(axis=(2, 3))), ("adjust", adjust.sum(axis=(2, 3)))):
            out[key][t] = value
        pop = nxt
        populations.append(pop)
        communals.append(housed.sum(axis=(2, 3)))
    return Projection(rates.places, rates.base_year + np.arange(years + 1), np.stack(populations),
                      np.stack(communals), out["births"], out["deaths"], out["in"], out["out"], out["adjust"])
