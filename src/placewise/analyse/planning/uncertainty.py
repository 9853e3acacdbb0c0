"""Monte Carlo draws of every parameter from its 80% interval, reproducible from one seed.

Each parameter has its own random stream (keyed by its name), so adding a parameter does not change
the draws of the others, and scenarios that share a parameter share its draws (common random
numbers make scenario differences sharper). Draws are Latin hypercube samples: each parameter's
runs cover its distribution evenly, so the sampled 10th and 90th percentiles land on the stated
interval. Run 0 is the principal run (every parameter at its central value); runs 1..N are sampled.
"""

from __future__ import annotations

import zlib

import numpy as np
from scipy.stats import norm

from placewise.analyse.planning.config import Interval

Z90 = float(norm.ppf(0.9))
"""The 90th percentile of the standard normal: an 80% interval spans ±Z90 standard deviations."""


def central(interval: Interval) -> float:
    """The principal value: the midpoint, or the geometric midpoint for a lognormal interval."""
    if interval.distribution == "lognormal":
        return float(np.sqrt(interval.low * interval.high))
    return (interval.low + interval.high) / 2


def _location_scale(interval: Interval) -> tuple[float, float]:
    """Mean and standard deviation of the normal (or of the log, for a lognormal)."""
    lo, hi = (np.log(interval.low), np.log(interval.high)) if interval.distribution == "lognormal" else \
        (interval.low, interval.high)
    return (lo + hi) / 2, (hi - lo) / (2 * Z90)


def draws(interval: Interval, name: str, runs: int, seed: int) -> np.ndarray:
    """``runs + 1`` values: the principal value, then ``runs`` Latin hypercube draws."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(zlib.crc32(name.encode()),)))
    u = (rng.permutation(runs) + rng.random(runs)) / runs
    loc, scale = _location_scale(interval)
    x = loc + scale * norm.ppf(u)
    sampled = np.exp(x) if interval.distribution == "lognormal" else x
    return np.concatenate([[central(interval)], sampled])

