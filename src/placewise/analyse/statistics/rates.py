"""Confidence limits for Poisson counts and crude rates, for many groups at once.

Methods:
- Byar's approximation: Breslow NE, Day NE, Statistical Methods in Cancer Research, volume II
  (IARC, 1987). lower = x(1 - 1/(9x) - z/(3 sqrt x))^3, upper = (x+1)(1 - 1/(9(x+1)) + z/(3 sqrt(x+1)))^3.
- Exact limits from the chi-squared (gamma) distribution: Armitage P, Berry G, Statistical Methods in
  Medical Research (4th edn, 2002). lower = chi2(alpha/2; 2x)/2, upper = chi2(1-alpha/2; 2x+2)/2.
- As in the UKHSA Fingertips technical guidance and PHEindicatormethods `phe_rate`, counts below
  10 use the exact limits and counts of 10 or more use Byar's method.
- A rate whose numerator sums a value per event (bed days: T = sum of x over O spells) is a compound Poisson
  sum, whose variance is V = sum of x^2, not T. Its limits are Dobson's for a weighted sum of Poisson counts
  (Dobson AJ, Kuulasmaa K, Eberle E, Scherer J, "Confidence intervals for weighted sums of Poisson parameters",
  Stat Med 1991;10:457-462), as the PHE Technical Guide applies them to the DSR: T + sqrt(V/O) (O_L - O) and
  T + sqrt(V/O) (O_U - O), with O_L, O_U the limits of the count O above (exact below 10, Byar's from 10).
  Our choices: a lower limit below 0 is set to 0 (a sum of days is never negative, and Dobson's limit can fall
  below it when one long spell dominates a few); with no events (O = 0) there is no interval, since nothing
  tells how large an event is.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from placewise.analyse.statistics._checks import (
    as_float_array,
    check_confidence,
    check_multiplier,
    first_bad,
    same_length,
    z_score,
)
from placewise.analyse.statistics.results import Estimate

SMALL_COUNT = 10
"""Counts below this use exact Poisson limits; counts at or above it use Byar's method."""


def byars_limits(counts: ArrayLike, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Byar's limits for Poisson counts; the lower limit is NaN where the method fails (zero or negative)."""
    x = as_float_array("counts", counts)
    first_bad("counts", x < 0, x, "must be zero or more")
    return _byars(x, z_score(confidence))


def _byars(x: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Byar's lower and upper limits for counts already checked to be non-negative."""
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = x * (1.0 - 1.0 / (9.0 * x) - z / (3.0 * np.sqrt(x))) ** 3
    lower[~(lower >= 0)] = np.nan
    x1 = x + 1.0
    upper = x1 * (1.0 - 1.0 / (9.0 * x1) + z / (3.0 * np.sqrt(x1))) ** 3
    return lower, upper


def exact_poisson_limits(counts: ArrayLike, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Exact (chi-squared based) limits for Poisson counts; the lower limit of a zero count is 0."""
    x = as_float_array("counts", counts)
    first_bad("counts", x < 0, x, "must be zero or more")
    check_confidence(confidence)
    return _exact(x, confidence)


def _exact(x: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact limits via the inverse regularised gamma function, equal to chi2.ppf(p, 2x)/2."""
    from scipy.special import gammaincinv  # SciPy is imported only where a figure needs it: a short run saves 0.2 s

    alpha = 1.0 - confidence
    lower = np.zeros_like(x)
    positive = x > 0
    lower[positive] = gammaincinv(x[positive], alpha / 2.0)
    upper = gammaincinv(x + 1.0, 1.0 - alpha / 2.0)
    return lower, upper


def poisson_limits(counts: ArrayLike, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Limits for Poisson counts as UKHSA computes them: exact below 10 events, Byar's from 10."""
    x = as_float_array("counts", counts)
    first_bad("counts", x < 0, x, "must be zero or more")
    return _poisson(x, confidence)


def _poisson(x: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Byar's limits everywhere, then exact limits written over the small counts only."""
    lower, upper = _byars(x, z_score(confidence))
    small = x < SMALL_COUNT
    if small.any():
        lower[small], upper[small] = _exact(x[small], confidence)
    return lower, upper


def crude_rate(
    numerators: ArrayLike,
    denominators: ArrayLike,
    confidence: float = 0.95,
    multiplier: float = 100_000,
) -> Estimate:
    """Crude rates x/n per `multiplier` with exact (x < 10) or Byar's (x >= 10) limits."""
    x = as_float_array("numerators", numerators)
    n = as_float_array("denominators", denominators)
    same_length(numerators=x, denominators=n)
    first_bad("numerators", x < 0, x, "must be zero or more")
    first_bad("denominators", n <= 0, n, "must be more than zero")
    check_multiplier(multiplier)
    lower, upper = _poisson(x, confidence)
    scale = multiplier / n
    return Estimate(value=x * scale, lower=lower * scale, upper=upper * scale, confidence=confidence)


def compound_poisson_rate(
    totals: ArrayLike,
    events: ArrayLike,
    sum_squares: ArrayLike,
    denominators: ArrayLike,
    confidence: float = 0.95,
    multiplier: float = 1_000,
) -> Estimate:
    """Rates T/n per `multiplier` of a value summed over events (T = sum of x over O events, V = sum of x^2) with
    Dobson's limits from V and the limits of O; no limits where O = 0, and a lower limit at least 0."""
    t, o, v, n = (as_float_array(name, a) for name, a in (("totals", totals), ("events", events),
                                                          ("sum_squares", sum_squares), ("denominators", denominators)))
    same_length(totals=t, events=o, sum_squares=v, denominators=n)
    for name, a in (("totals", t), ("events", o), ("sum_squares", v)):
        first_bad(name, a < 0, a, "must be zero or more")
    first_bad("denominators", n <= 0, n, "must be more than zero")
    check_multiplier(multiplier)
    lower_o, upper_o = _poisson(o, confidence)
    some = o > 0
    scale = np.sqrt(np.divide(v, o, out=np.full_like(v, np.nan), where=some))
    lower = np.where(some, np.maximum(t + scale * (lower_o - o), 0.0), np.nan)
    upper = np.where(some, t + scale * (upper_o - o), np.nan)
    per = multiplier / n
    return Estimate(value=t * per, lower=lower * per, upper=upper * per, confidence=confidence)
