"""Funnel-plot control limits (95% and 99.8%) and each unit's significance against them.

Methods follow the UKHSA Fingertips technical guidance and PHEindicatormethods
`calculate_funnel_limits` / `assign_funnel_significance`:
- Proportions: the limit at denominator n is the proportion whose Wilson score interval just
  reaches the overall average p, which works out as p +/- z sqrt(p(1 - p)/n) (Spiegelhalter DJ,
  "Funnel plots for comparing institutional performance", Stat Med 2005;24:1185-1202).
- Ratios (ISR, SMR) and rates: exact Poisson limits. At expected events E the upper limit is O/E
  where P(X >= O | E) = alpha/2, and the lower limit is O/E where P(X <= O | E) = alpha/2, with O
  treated as continuous through the regularised incomplete gamma function; at whole O these are
  the points PHEindicatormethods draws. A rate's limits are the average rate times the ratio limits
  at E = average rate x denominator.
- Significance: a unit is "high" when its own lower confidence limit (Wilson for proportions;
  exact below 10 events, Byar's from 10, for rates and ratios) lies above the average, "low" when
  its upper limit lies below it, at 99.8% first and then at 95%.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np
from numpy.typing import ArrayLike

from placewise.analyse.statistics._checks import (
    as_float_array,
    check_proportion_counts,
    check_multiplier,
    first_bad,
    same_length,
    z_score,
)
from placewise.analyse.statistics.rates import SMALL_COUNT, _poisson
from placewise.analyse.statistics.results import FunnelLimits

LEVELS = (0.95, 0.998)
"""Confidence levels of the inner (about 2 sigma) and outer (about 3 sigma) funnel limits."""


class FunnelSignificance(IntEnum):
    """Where a unit falls against the funnel limits; stored as int8 codes in result arrays."""

    LOW_998 = -2
    LOW_95 = -1
    NOT_SIGNIFICANT = 0
    HIGH_95 = 1
    HIGH_998 = 2
    NOT_APPLICABLE = 9

    @property
    def label(self) -> str:
        """Plain-English label for reports."""
        return _LABELS[self]


_LABELS = {
    FunnelSignificance.LOW_998: "Low (outside the 99.8% limit)",
    FunnelSignificance.LOW_95: "Low (outside the 95% limit)",
    FunnelSignificance.NOT_SIGNIFICANT: "Not significantly different",
    FunnelSignificance.HIGH_95: "High (outside the 95% limit)",
    FunnelSignificance.HIGH_998: "High (outside the 99.8% limit)",
    FunnelSignificance.NOT_APPLICABLE: "Not applicable (fewer than 10 events)",
}


def proportion_funnel_limits(denominators: ArrayLike, average: float, multiplier: float = 1.0) -> FunnelLimits:
    """Funnel limits for a proportion at each denominator around `average` (0..1), clipped to [0, 1]."""
    n = as_float_array("denominators", denominators)
    first_bad("denominators", n <= 0, n, "must be more than zero")
    if not 0.0 <= average <= 1.0:
        raise ValueError(f"average is {average}; a proportion must lie between 0 and 1")
    check_multiplier(multiplier)
    sd = np.sqrt(average * (1.0 - average) / n)
    limits = [np.clip(average + sign * z_score(level) * sd, 0.0, 1.0) * multiplier
              for level in LEVELS for sign in (-1.0, 1.0)]  # fmt: skip
    return FunnelLimits(average * multiplier, *limits)


def ratio_funnel_limits(expected: ArrayLike, multiplier: float = 1.0) -> FunnelLimits:
    """Exact Poisson funnel limits for an observed/expected ratio (centre 1) at each expected count."""
    from scipy.special import chdtriv  # imported where used, so that measuring does not load SciPy

    e = as_float_array("expected", expected)
    first_bad("expected", e <= 0, e, "must be more than zero")
    check_multiplier(multiplier)
    limits = []
    for level in LEVELS:
        tail = (1.0 - level) / 2.0
        lower_events = np.maximum(chdtriv(1.0 - tail, 2.0 * e) / 2.0 - 1.0, 0.0)
        upper_events = chdtriv(tail, 2.0 * e) / 2.0
        limits += [lower_events / e * multiplier, upper_events / e * multiplier]
    return FunnelLimits(multiplier, *limits)


def rate_funnel_limits(denominators: ArrayLike, average_rate: float, multiplier: float = 100_000) -> FunnelLimits:
    """Exact Poisson funnel limits for a rate per `multiplier` at each denominator; average_rate is per person."""
    n = as_float_array("denominators", denominators)
    first_bad("denominators", n <= 0, n, "must be more than zero")
    if not (np.isfinite(average_rate) and average_rate > 0):
        raise ValueError(f"average_rate is {average_rate}; it must be events per person, more than zero")
    check_multiplier(multiplier)
    ratio = ratio_funnel_limits(average_rate * n, multiplier=average_rate * multiplier)
    return FunnelLimits(average_rate * multiplier, ratio.lower_95, ratio.upper_95, ratio.lower_998, ratio.upper_998)


def proportion_funnel_significance(
    numerators: ArrayLike, denominators: ArrayLike, average: float | None = None
) -> np.ndarray:
    """FunnelSignificance codes (int8) of each unit's proportion against `average` (0..1).

    The average defaults to the pooled proportion of the units, sum(x) / sum(n), as in
    PHEindicatormethods; give another (such as the England value) to compare against that.
    """
    x = as_float_array("numerators", numerators)
    n = as_float_array("denominators", denominators)
    same_length(numerators=x, denominators=n)
    check_proportion_counts(x, n)
    centre = x.sum() / n.sum() if average is None else average
    if not 0.0 <= centre <= 1.0:
        raise ValueError(f"average is {centre}; a proportion must lie between 0 and 1")
    p = x / n
    sd = np.sqrt(centre * (1.0 - centre) / n)
    bounds = {level: (centre - z_score(level) * sd, centre + z_score(level) * sd) for level in LEVELS}
    return _classify(p < bounds[0.998][0], p < bounds[0.95][0], p > bounds[0.998][1], p > bounds[0.95][1])


def ratio_funnel_significance(observed: ArrayLike, expected: ArrayLike, reference: float = 1.0) -> np.ndarray:
    """FunnelSignificance codes (int8) of each observed/expected ratio against `reference` (usually 1)."""
    o = as_float_array("observed", observed)
    e = as_float_array("expected", expected)
    same_length(observed=o, expected=e)
    first_bad("observed", o < 0, o, "must be zero or more")
    first_bad("expected", e <= 0, e, "must be more than zero")
    return _poisson_significance(o, e, reference)


def rate_funnel_significance(
    numerators: ArrayLike, denominators: ArrayLike, average_rate: float | None = None
) -> np.ndarray:
    """FunnelSignificance codes (int8) of each crude rate against `average_rate` (events per person).

    The average defaults to the pooled rate of the units, sum(x) / sum(n), as in PHEindicatormethods.
    """
    x = as_float_array("numerators", numerators)
    n = as_float_array("denominators", denominators)
    same_length(numerators=x, denominators=n)
    first_bad("numerators", x < 0, x, "must be zero or more")
    first_bad("denominators", n <= 0, n, "must be more than zero")
    centre = x.sum() / n.sum() if average_rate is None else average_rate
    if not (np.isfinite(centre) and centre >= 0):
        raise ValueError(f"average_rate is {centre}; it must be events per person, zero or more")
    return _poisson_significance(x, n, centre)


def dsr_funnel_significance(observed: ArrayLike, rates: ArrayLike, multiplier: float = 100_000) -> np.ndarray:
    """FunnelSignificance codes (int8) of directly standardised rates, each treated as a crude rate.

    The effective denominator of a DSR is observed / rate x multiplier; the average is the sum of
    observed events over the sum of effective denominators of units with events and a rate. Units
    with fewer than 10 events have no reliable DSR and are NOT_APPLICABLE (their rate may be NaN).
    """
    o = as_float_array("observed", observed)
    r = np.asarray(rates, dtype=np.float64)
    same_length(observed=o, rates=r)
    first_bad("observed", o < 0, o, "must be zero or more")
    check_multiplier(multiplier)
    valid = np.isfinite(r) & (r > 0)
    usable = o >= SMALL_COUNT
    first_bad("rates", usable & ~valid, r, "must be a positive rate where there are 10 or more events")
    contributing = valid & (o > 0)
    effective = o[contributing] / r[contributing] * multiplier
    codes = np.full(len(o), FunnelSignificance.NOT_APPLICABLE, dtype=np.int8)
    if usable.any():
        average = o[contributing].sum() / effective.sum()
        codes[usable] = _poisson_significance(o[usable], o[usable] / r[usable] * multiplier, average)
    return codes


def _poisson_significance(observed: np.ndarray, exposure: np.ndarray, reference: float) -> np.ndarray:
    """Compare each unit's Poisson limits (exact below 10, Byar's from 10), divided by exposure, with reference."""
    lower_998, upper_998 = _poisson(observed, 0.998)
    lower_95, upper_95 = _poisson(observed, 0.95)
    return _classify(
        low_998=upper_998 / exposure < reference,
        low_95=upper_95 / exposure < reference,
        high_998=lower_998 / exposure > reference,
        high_95=lower_95 / exposure > reference,
    )


def _classify(low_998: np.ndarray, low_95: np.ndarray, high_998: np.ndarray, high_95: np.ndarray) -> np.ndarray:
    """Combine the four limit tests into codes, the outer 99.8% limits taking precedence."""
    return np.select(
        [low_998, low_95, high_998, high_95],
        [
            FunnelSignificance.LOW_998,
            FunnelSignificance.LOW_95,
            FunnelSignificance.HIGH_998,
            FunnelSignificance.HIGH_95,
        ],
        default=FunnelSignificance.NOT_SIGNIFICANT,
    ).astype(np.int8)
