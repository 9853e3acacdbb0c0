"""Proportions with Wilson score confidence limits, for many groups at once.

Method: Wilson EB (1927) "Probable inference, the law of succession, and statistical inference",
J Am Stat Assoc 22:209-212; as set out in Newcombe RG, Altman DG, "Proportions and their
differences", in Statistics with Confidence (2nd edn, 2000), pp. 46-48. No continuity correction,
as in the UKHSA Fingertips technical guidance and PHEindicatormethods `phe_proportion`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from placewise.analyse.statistics._checks import (
    as_float_array,
    check_proportion_counts,
    check_multiplier,
    same_length,
    z_score,
)
from placewise.analyse.statistics.results import Estimate


def wilson_limits(numerators: np.ndarray, denominators: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score limits of x/n, no continuity correction; exactly 0 at x = 0 and 1 at x = n."""
    z = z_score(confidence)
    z2 = z * z
    centre = 2.0 * numerators + z2
    spread = z * np.sqrt(z2 + 4.0 * numerators * (1.0 - numerators / denominators))
    scale = 2.0 * (denominators + z2)
    lower = np.where(numerators == 0, 0.0, np.clip((centre - spread) / scale, 0.0, 1.0))
    upper = np.where(numerators == denominators, 1.0, np.clip((centre + spread) / scale, 0.0, 1.0))
    return lower, upper


def proportion(
    numerators: ArrayLike,
    denominators: ArrayLike,
    confidence: float = 0.95,
    multiplier: float = 1.0,
) -> Estimate:
    """Proportions x/n with Wilson score limits, times `multiplier` (100 gives percentages)."""
    x = as_float_array("numerators", numerators)
    n = as_float_array("denominators", denominators)
    same_length(numerators=x, denominators=n)
    check_proportion_counts(x, n)
    check_multiplier(multiplier)
    lower, upper = wilson_limits(x, n, confidence)
    return Estimate(value=x / n * multiplier, lower=lower * multiplier, upper=upper * multiplier, confidence=confidence)
