"""Small frozen result types: one array element per group, computed for many groups at once."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Estimate:
    """A value with its lower and upper confidence limits for each group."""

    value: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    confidence: float


@dataclass(frozen=True, slots=True)
class StandardisedRate:
    """Directly standardised rates for each group, with the totals they rest on."""

    observed: np.ndarray
    population: np.ndarray
    value: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    confidence: float


@dataclass(frozen=True, slots=True)
class IndirectlyStandardised:
    """Indirectly standardised ratios or rates for each group, with observed and expected events."""

    observed: np.ndarray
    expected: np.ndarray
    value: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    confidence: float


@dataclass(frozen=True, slots=True)
class FunnelLimits:
    """Funnel-plot control limits at 95% and 99.8% around a single centre line."""

    centre: float
    lower_95: np.ndarray
    upper_95: np.ndarray
    lower_998: np.ndarray
    upper_998: np.ndarray


@dataclass(frozen=True, slots=True)
class InequalityIndex:
    """Slope and relative index of inequality for each group, with simulated confidence limits."""

    sii: np.ndarray
    sii_lower: np.ndarray
    sii_upper: np.ndarray
    rii: np.ndarray
    rii_lower: np.ndarray
    rii_upper: np.ndarray
    confidence: float
