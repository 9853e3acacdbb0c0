"""Dwelling trajectories to the household population they can house, relative to the base year.

Stock at mid-year ``y`` is the profile's stock count plus every planned completion after its stock
year up to ``y``; completions after the base year are scaled by the run's delivery share (how much
of the plan is built). Households are occupied dwellings (stock less vacancy); the household
population is households times the average household size, which changes by a run's rate a year.
"""

from __future__ import annotations

import numpy as np

from placewise.analyse.planning.config import Housing


def completions(housing: Housing, first: int, last: int) -> np.ndarray:
    """Planned completions in each year ``first..last`` (zero outside every span)."""
    years = np.arange(first, last + 1)
    out = np.zeros(len(years))
    for span in housing.completions:
        out += np.where((years >= span.first) & (years <= span.last), span.per_year, 0.0)
    return out


def dwellings(housing: Housing, years: np.ndarray, base_year: int, delivery: np.ndarray) -> np.ndarray:
    """Dwelling stock [run, year] at each mid-year in ``years``; completions after ``base_year`` times delivery."""
    first = housing.stock_year + 1
    last = max(int(years.max()), first)
    built = completions(housing, first, last)
    span = np.arange(first, last + 1)
    past = np.cumsum(np.where(span <= base_year, built, 0.0))
    future = np.cumsum(np.where(span > base_year, built, 0.0))
    at = np.clip(years - first, -1, None)
    past_at = np.where(at >= 0, past[np.maximum(at, 0)], 0.0)
    future_at = np.where(at >= 0, future[np.maximum(at, 0)], 0.0)
    return housing.stock + past_at[None, :] + delivery[:, None] * future_at[None, :]


def household_capacity(housings: list[Housing], years: np.ndarray, base_year: int, delivery: np.ndarray,
                       household_size_change: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Households [run, Place, year] and the housed population relative to the base year [run, Place, year]."""
    households = np.stack([dwellings(h, years, base_year, delivery) * (1 - h.vacancy) for h in housings], axis=1)
    size = (1 + household_size_change[:, None, None]) ** (years - base_year)[None, None, :]
    return households, households / households[:, :, :1] * size
