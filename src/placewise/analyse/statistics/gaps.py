"""Absolute and relative gaps between groups and a reference group, with confidence limits.

For breakdowns without a social order (sex, ethnic group) the slope index does not apply; the gap of
each group to a reference group is published instead, as absolute (group minus reference) and
relative (group divided by reference) gaps, the two measures the Low and Low papers and OHID's
inequality reporting set side by side.

Confidence limits: the method of variance estimates recovery (MOVER), Zou GY, Donner A, "Construction
of confidence limits about effect measures: a general approach", Stat Med 2008;27:1693-1702. It builds
the limits of a difference from each group's own limits, so each group keeps the interval it is
published with (Wilson for proportions, exact or Byar's for rates, as in PHEindicatormethods):

    lower = d - sqrt((v1 - l1)^2 + (u2 - v2)^2),  upper = d + sqrt((u1 - v1)^2 + (v2 - l2)^2)

With Wilson limits this is Newcombe's hybrid score interval for a difference of proportions (method 10
of Newcombe RG, "Interval estimation for the difference between independent proportions: comparison
of eleven methods", Stat Med 1998;17:873-890). The ratio's limits apply the same formula on the log
scale (Zou and Donner 2008, section 3). PHEindicatormethods has no gap function; these limits are at
the confidence level of the limits given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from placewise.analyse.statistics._checks import as_float_array, first_bad, same_length


@dataclass(frozen=True, slots=True)
class Gaps:
    """Each group's absolute gap (group minus reference) and relative gap (group / reference), with limits."""

    difference: np.ndarray
    difference_lower: np.ndarray
    difference_upper: np.ndarray
    ratio: np.ndarray
    ratio_lower: np.ndarray
    ratio_upper: np.ndarray


def gaps_to_reference(
    values: ArrayLike,
    lower: ArrayLike,
    upper: ArrayLike,
    reference_value: float,
    reference_lower: float,
    reference_upper: float,
) -> Gaps:
    """Gaps of each group to the reference with MOVER limits; the ratio is NaN where a value or its lower limit is
    not above zero (the log-scale limits need both positive: a mean's t-interval can reach below zero)."""
    v, lo, hi = (as_float_array(n, a) for n, a in (("values", values), ("lower", lower), ("upper", upper)))
    same_length(values=v, lower=lo, upper=hi)
    ref = as_float_array("reference", [reference_value, reference_lower, reference_upper])
    first_bad("lower", lo > v, lo, "must not be above its value")
    first_bad("upper", hi < v, hi, "must not be below its value")
    if not ref[1] <= ref[0] <= ref[2]:
        raise ValueError(f"reference limits {ref[1]} to {ref[2]} must enclose the reference value {ref[0]}")
    difference, d_lower, d_upper = _mover(v, lo, hi, *ref)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = _mover(*(np.log(a) for a in (v, lo, hi)), *np.log(ref))
    positive = (v > 0) & (lo > 0) & (ref[0] > 0) & (ref[1] > 0)
    ratio, r_lower, r_upper = (np.where(positive, np.exp(x), np.nan) for x in logs)
    return Gaps(difference, d_lower, d_upper, ratio, r_lower, r_upper)


def _mover(v: np.ndarray, lo: np.ndarray, hi: np.ndarray, rv: float, rlo: float, rhi: float,
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The difference v - rv and its MOVER limits (Zou and Donner 2008, equation 5)."""
    d = v - rv
    return d, d - np.sqrt((v - lo) ** 2 + (rhi - rv) ** 2), d + np.sqrt((hi - v) ** 2 + (rv - rlo) ** 2)
