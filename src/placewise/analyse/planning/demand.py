"""Demand for every setting: observed activity rates by Place, sex and age applied to the projection.

Rates are the latest observed year's activity per person registered at its start, in five-year age
bands (PHM segments can replace age bands once segmentation lands). Projected activity is
``rate × population × (1 + non-demographic growth)^years × scenario adjustments``; an adjustment
changes one setting's activity from an age, phased in linearly from the base year to full effect.
"""

from __future__ import annotations

import numpy as np

from placewise.analyse.planning.config import AGES, SETTINGS, Scenario
from placewise.analyse.planning.history import History
from placewise.analyse.planning.rates import BAND, banded


def activity_rates(history: History, year: int = -1) -> np.ndarray:
    """Activity per person a year [setting, Place, sex, age] in the observed year ``year`` (default the last)."""
    exposure = banded(history.population[:-1][year])
    count = banded(history.activity[year])
    rate = np.where(exposure > 0, count / np.where(exposure > 0, exposure, 1), 0.0)
    return rate[..., BAND]


def adjustment_factors(scenario: Scenario, changes: list[np.ndarray], years: np.ndarray,
                       base_year: int) -> np.ndarray:
    """Multipliers [year, run, setting, age] from a scenario's adjustments (``changes[i]`` per run)."""
    runs = len(changes[0]) if changes else 1
    out = np.ones((len(years), runs, len(SETTINGS), AGES))
    for adj, change in zip(scenario.adjustments, changes, strict=True):
        phase = np.clip((years - base_year) / max(adj.full_by - base_year, 1), 0, 1)
        ages = np.arange(AGES) >= adj.min_age
        s = SETTINGS.index(adj.setting)
        out[:, :, s, :] *= 1 + phase[:, None, None] * change[None, :, None] * ages[None, None, :]
    return out


def project_activity(rates: np.ndarray, population: np.ndarray, growth: np.ndarray, factors: np.ndarray,
                     years: np.ndarray, base_year: int) -> np.ndarray:
    """Activity [year, run, setting, Place] from rates, population [year, run, Place, sex, age],
    growth a year [run, setting] and adjustment factors [year, run or 1, setting, age]."""
    trend = (1 + growth[None, :, :]) ** (years - base_year)[:, None, None]
    factors = np.broadcast_to(factors, (len(years), population.shape[1]) + factors.shape[2:])
    weighted = np.einsum("trpxa,spxa->trspa", population, rates, optimize=True)
    return np.einsum("trspa,trsa->trsp", weighted, factors, optimize=True) * trend[..., None]
