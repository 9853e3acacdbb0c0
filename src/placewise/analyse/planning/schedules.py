"""National age schedules the local rates are scaled from: mortality and fertility by single year of age.

ONS publishes life tables and age-specific fertility rates; the profile carries their headline facts
(life expectancy at birth by sex, infant mortality, the total fertility rate and the mean age of
mothers), and these functions rebuild smooth schedules that reproduce them. The shapes are
approximations (a Gompertz adult hazard, a gamma-shaped fertility curve); the levels are the ONS
facts, and the projection scales both to what the warehouse observed locally.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq
from scipy.stats import gamma

from placewise.analyse.planning.config import AGES, National

CHILD_HAZARD = 0.0001
"""Background hazard at ages 1-14 (approx.: ONS life tables, England and Wales)."""


def life_expectancy(q: np.ndarray) -> np.ndarray:
    """Period life expectancy at birth from death probabilities by single year (last age open-ended).

    Deaths are taken at mid-year; the open group lives 1/hazard years on average.
    """
    q = np.asarray(q, dtype=float)
    survivors = np.concatenate([np.ones(q.shape[:-1] + (1,)), np.cumprod(1 - q[..., :-1], axis=-1)], axis=-1)
    lived = survivors[..., :-1] * (1 - q[..., :-1] / 2)
    open_hazard = -np.log(np.clip(1 - q[..., -1], 1e-12, 1))
    return lived.sum(axis=-1) + survivors[..., -1] / np.maximum(open_hazard, 1e-12)


def _q(level: float, slope: float, infant: float) -> np.ndarray:
    """Death probabilities by age: infant rate at 0, a child floor, a Gompertz hazard from 15."""
    ages = np.arange(AGES, dtype=float)
    hazard = CHILD_HAZARD + level * np.exp(slope * ages)
    q = 1 - np.exp(-hazard)
    q[0] = infant
    return np.minimum(q, 1.0)


def mortality(national: National) -> np.ndarray:
    """Death probabilities [sex (female, male), age] whose life expectancy matches the ONS figures."""
    slope, infant = national.gompertz_slope.value, national.infant_mortality.value
    out = []
    for target in (national.life_expectancy_female.value, national.life_expectancy_male.value):
        level = brentq(lambda lv, target=target: life_expectancy(_q(np.exp(lv), slope, infant)) - target, -30, 0, xtol=1e-12)
        out.append(_q(np.exp(level), slope, infant))
    return np.stack(out)


def fertility(national: National) -> np.ndarray:
    """Births per woman by single year of age (15-49), summing to the total fertility rate.

    A gamma curve from age 14 with the ONS mean and an approximate spread of the age of mothers; a
    woman aged ``a`` (whole years) at the start of the year gives birth between exact ages ``a + 0.5``
    and ``a + 1.5`` on average (half a year older at the start, half a year into the year).
    """
    mean, sd = national.mean_age_at_birth.value - 14, national.sd_age_at_birth.value
    shape, scale = (mean / sd) ** 2, sd ** 2 / mean
    edges = np.arange(AGES + 1, dtype=float) - 14 + 0.5
    weights = np.diff(gamma.cdf(np.clip(edges, 0, None), shape, scale=scale))
    weights[:15] = 0
    weights[50:] = 0
    return weights / weights.sum() * national.total_fertility_rate.value


def male_share_of_births(national: National) -> float:
    """The share of births that are boys."""
    ratio = national.males_per_100_female_births.value
    return ratio / (100 + ratio)
