"""Back-test within the data: project from the first observed mid-year with the first year's rates only,
and compare with what the warehouse recorded at the last mid-year (population) and in the last year
(activity). The trend variant is used (the housing constraint would feed in the outcome), with no
non-demographic growth, so the errors measure the demographic method alone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from placewise.analyse.planning.config import SETTINGS, Planning
from placewise.analyse.planning.demand import activity_rates, project_activity
from placewise.analyse.planning.history import History
from placewise.analyse.planning.projection import Draws, project
from placewise.analyse.planning.rates import rates_from_history
from placewise.analyse.planning.uncertainty import central

AGE_GROUPS = (("population_0_17", 0, 18), ("population_18_64", 18, 65), ("population_65_plus", 65, 91))
BACKTEST_COLUMNS = ["measure", "geography", "from_year", "to_year", "projected", "observed", "error", "relative_error"]


def backtest(history: History, planning: Planning) -> pd.DataFrame:
    """Projected against observed by Place and in total; empty when the history holds under two years."""
    k = history.years
    if k < 2:
        return pd.DataFrame(columns=BACKTEST_COLUMNS)
    rates = rates_from_history(history, planning, years=slice(0, 1), base=0)
    one = np.ones(1)
    principal = Draws(mortality_level=one, mortality_improvement=one * central(planning.demography.mortality_improvement),
                      fertility_level=one, migration_level=one)
    proj = project(rates, principal, k)
    rows = []
    for name, lo, hi in (("population", 0, 91),) + AGE_GROUPS:
        rows.append((name, proj.population[k, 0, :, :, lo:hi].sum(axis=(1, 2)),
                     history.population[k, :, :, lo:hi].sum(axis=(1, 2))))
    years = np.array([0, k - 1])
    act = project_activity(activity_rates(history, year=0), proj.population[[0, k - 1]],
                           np.zeros((1, len(SETTINGS))), np.ones((1, 1, len(SETTINGS), 91)), years, 0)
    observed = history.activity[k - 1].sum(axis=(2, 3))
    rows += [(s, act[1, 0, i], observed[i]) for i, s in enumerate(SETTINGS)]
    frames = []
    for name, projected, seen in rows:
        projected = np.append(projected, projected.sum())
        seen = np.append(seen, seen.sum())
        frames.append(pd.DataFrame({"measure": name, "geography": list(history.places) + ["ICS"],
                                    "from_year": history.mid_years[0].year, "to_year": history.mid_years[-1].year,
                                    "projected": projected, "observed": seen, "error": projected - seen,
                                    "relative_error": np.where(seen > 0, (projected - seen) / np.where(seen > 0, seen, 1),
                                                               np.nan)}))
    return pd.concat(frames, ignore_index=True)[BACKTEST_COLUMNS]
