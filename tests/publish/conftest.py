"""Shared fixtures of the publish tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import numpy as np
import pytest

from placewise.analyse.planning.config import SETTINGS
from placewise.analyse.planning.history import History


@pytest.fixture(scope="session")
def made_up_history() -> Callable[[tuple[str, ...], np.ndarray, int], History]:
    """A maker of three years' made-up planning history around a given population, the flows drawn from a seed."""
    def make(places: tuple[str, ...], population: np.ndarray, seed: int) -> History:
        rng = np.random.default_rng(seed)
        ages = population.shape[-1]
        return History(places=places, mid_years=(date(2024, 6, 30), date(2025, 6, 30), date(2026, 6, 30)),
                       population=population, deaths=rng.poisson(2, (2, 4, 2, ages)).astype(float),
                       out_migration=rng.poisson(5, (2, 4, 2, ages)).astype(float),
                       in_migration=rng.poisson(6, (2, 4, 2, ages)).astype(float),
                       births=rng.poisson(200, (2, 4, 2)).astype(float),
                       activity=rng.poisson(50, (2, len(SETTINGS), 4, 2, ages)).astype(float), other_sex=0)
    return make
