"""Slope index of inequality (SII) and relative index of inequality (RII) across deprivation quantiles.

Point estimates: weighted least squares of each quantile's value on the midpoint of its cumulative
population share (0 = most deprived end, 1 = least deprived end), weighted by population share.
SII is the slope (the modelled gap from the most to the least deprived end); RII is the modelled
value at the least deprived end divided by that at the most deprived end. This is the definition
in Low A, Low A, "Measuring the gap: quantifying and comparing local health inequalities", J Public
Health 2004;26:388-395, used by the UKHSA Fingertips technical guidance and PHEindicatormethods
`phe_sii`.

Confidence limits: Monte Carlo simulation, as in PHEindicatormethods. Each quantile's value is drawn
from a normal distribution with its standard error (on the log scale for rates and the logit scale
for proportions, then transformed back), the WLS fit is repeated for every draw, and the limits are
the order statistics at positions round(R x alpha/2) and round(R x (1 - alpha/2)) of the R sorted
simulated SIIs (and RIIs). Draws come from NumPy's PCG64 generator with the given seed, taken for
blocks of groups in order, so results are deterministic for the same inputs (in the same order) and
seed; they agree with PHEindicatormethods statistically, not digit for digit, because R's random
numbers differ. PHE's defaults are kept: 100,000 repetitions, and limits given as 95% limits.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from placewise.analyse.statistics._checks import check_confidence, check_multiplier, z_score
from placewise.analyse.statistics.results import InequalityIndex

ValueType = Literal["rate", "proportion", "other"]

_SIMULATION_BLOCK = 4_000_000
"""Most simulated values held in memory at once (about 32 MB of float64)."""


def slope_index_of_inequality(
    values: ArrayLike,
    populations: ArrayLike,
    standard_errors: ArrayLike | None = None,
    lower_95: ArrayLike | None = None,
    upper_95: ArrayLike | None = None,
    value_type: ValueType = "other",
    confidence: float = 0.95,
    repetitions: int = 100_000,
    seed: int = 0,
    multiplier: float = 1.0,
) -> InequalityIndex:
    """SII and RII with simulated limits for each row of (groups x quantiles) arrays, most deprived first.

    Give either `standard_errors` (on the transformed scale: log for rates, logit for proportions)
    or the 95% confidence limits `lower_95` and `upper_95` on the value's own scale, from which the
    standard errors are derived. `multiplier` scales the SII (e.g. 100 for percentage points).
    """
    y = _matrix("values", values)
    pop = _matrix("populations", populations, like=y)
    if np.any(pop <= 0):
        g, q = np.argwhere(pop <= 0)[0]
        raise ValueError(f"populations[{g}, {q}] is {pop[g, q]}; every quantile needs a population above zero")
    if not 5 <= y.shape[1] <= 100:
        raise ValueError(f"values has {y.shape[1]} quantiles per group; the SII needs between 5 and 100")
    _check_value_range(y, value_type)
    se = _standard_errors(y, standard_errors, lower_95, upper_95, value_type)
    check_confidence(confidence)
    check_multiplier(multiplier)
    if repetitions < 1000:
        raise ValueError(f"repetitions is {repetitions}; use at least 1000 for stable confidence limits")

    share = pop / pop.sum(axis=1, keepdims=True)
    rank = np.cumsum(share, axis=1) - share / 2.0
    slope_weights, mean_rank = _slope_weights(share, rank)
    sii, rii = _fit(y, share, slope_weights, mean_rank)
    lows, highs = _simulate(y, se, value_type, share, slope_weights, mean_rank, confidence, repetitions, seed)
    return InequalityIndex(
        sii=sii * multiplier,
        sii_lower=lows[0] * multiplier,
        sii_upper=highs[0] * multiplier,
        rii=rii,
        rii_lower=lows[1],
        rii_upper=highs[1],
        confidence=confidence,
    )


def _matrix(name: str, values: ArrayLike, like: np.ndarray | None = None) -> np.ndarray:
    """A finite (groups x quantiles) float64 array, the same shape as `like` when given."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{name} must be two-dimensional (groups x quantiles); got shape {array.shape}")
    if like is not None and array.shape != like.shape:
        raise ValueError(f"{name} has shape {array.shape} but values has shape {like.shape}")
    bad = ~np.isfinite(array)
    if bad.any():
        g, q = np.argwhere(bad)[0]
        raise ValueError(f"{name}[{g}, {q}] is {array[g, q]}; every value must be a finite number")
    return array


def _check_value_range(values: np.ndarray, value_type: ValueType) -> None:
    """Rates must be positive and proportions strictly between 0 and 1 for their transforms."""
    if value_type == "rate":
        bad = values <= 0
        requirement = "a rate must be above zero to take its logarithm"
    elif value_type == "proportion":
        bad = (values <= 0) | (values >= 1)
        requirement = "a proportion must lie strictly between 0 and 1 to take its logit"
    elif value_type == "other":
        return
    else:
        raise ValueError(f"value_type is {value_type!r}; use 'rate', 'proportion' or 'other'")
    if bad.any():
        g, q = np.argwhere(bad)[0]
        raise ValueError(f"values[{g}, {q}] is {values[g, q]}; {requirement}")


def _transform(values: np.ndarray, value_type: ValueType) -> np.ndarray:
    """Log for rates, logit for proportions, identity otherwise."""
    if value_type == "rate":
        return np.log(values)
    if value_type == "proportion":
        return np.log(values / (1.0 - values))
    return values


def _back_transform(values: np.ndarray, value_type: ValueType) -> np.ndarray:
    """Inverse of _transform."""
    if value_type == "rate":
        return np.exp(values)
    if value_type == "proportion":
        return 1.0 / (1.0 + np.exp(-values))
    return values


def _standard_errors(
    values: np.ndarray,
    standard_errors: ArrayLike | None,
    lower_95: ArrayLike | None,
    upper_95: ArrayLike | None,
    value_type: ValueType,
) -> np.ndarray:
    """Standard errors on the transformed scale, given directly or from 95% limits as (U - L) / (2 z)."""
    if standard_errors is not None:
        if lower_95 is not None or upper_95 is not None:
            raise ValueError("give either standard_errors or lower_95 and upper_95, not both")
        se = _matrix("standard_errors", standard_errors, like=values)
    elif lower_95 is not None and upper_95 is not None:
        lower = _matrix("lower_95", lower_95, like=values)
        upper = _matrix("upper_95", upper_95, like=values)
        _check_value_range(lower, value_type)
        _check_value_range(upper, value_type)
        se = (_transform(upper, value_type) - _transform(lower, value_type)) / (2.0 * z_score(0.95))
    else:
        raise ValueError("give standard_errors, or both lower_95 and upper_95, for the confidence limits")
    if np.any(se < 0):
        g, q = np.argwhere(se < 0)[0]
        raise ValueError(f"standard error [{g}, {q}] is {se[g, q]}; it must be zero or more (is lower above upper?)")
    return se


def _slope_weights(share: np.ndarray, rank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weights c such that the WLS slope is c @ y, and the weighted mean rank, for each group."""
    mean_rank = (share * rank).sum(axis=1)
    centred = rank - mean_rank[:, None]
    weights = share * centred / (share * centred**2).sum(axis=1, keepdims=True)
    return weights, mean_rank


def _fit(
    y: np.ndarray, share: np.ndarray, slope_weights: np.ndarray, mean_rank: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """WLS slope (SII) and RII = fitted value at rank 1 / fitted value at rank 0, along the last axis."""
    slope = np.einsum("gq,gq...->g...", slope_weights, y)
    mean_value = np.einsum("gq,gq...->g...", share, y)
    extra_axes = (slice(None),) + (None,) * (y.ndim - 2)
    intercept = mean_value - slope * mean_rank[extra_axes]
    with np.errstate(divide="ignore", invalid="ignore"):
        return slope, (intercept + slope) / intercept


def _simulate(
    y: np.ndarray,
    se: np.ndarray,
    value_type: ValueType,
    share: np.ndarray,
    slope_weights: np.ndarray,
    mean_rank: np.ndarray,
    confidence: float,
    repetitions: int,
    seed: int,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Simulated (SII, RII) lower and upper limits for every group, in blocks that bound memory."""
    rng = np.random.Generator(np.random.PCG64(seed))
    upper_tail = confidence + (1.0 - confidence) / 2.0
    positions = [round(repetitions * (1.0 - upper_tail)) - 1, round(repetitions * upper_tail) - 1]
    results = np.empty((4, y.shape[0]))
    groups_per_block = max(1, _SIMULATION_BLOCK // repetitions)
    for first in range(0, y.shape[0], groups_per_block):
        rows = slice(first, first + groups_per_block)
        sii, rii = _simulate_block(
            rng, y[rows], se[rows], value_type, share[rows], slope_weights[rows], mean_rank[rows], repetitions
        )
        results[0:2, rows] = np.partition(sii, positions, axis=1)[:, positions].T
        results[2:4, rows] = np.partition(rii, positions, axis=1)[:, positions].T
    return (results[0], results[2]), (results[1], results[3])


def _simulate_block(
    rng: np.random.Generator,
    y: np.ndarray,
    se: np.ndarray,
    value_type: ValueType,
    share: np.ndarray,
    slope_weights: np.ndarray,
    mean_rank: np.ndarray,
    repetitions: int,
) -> tuple[np.ndarray, np.ndarray]:
    """All simulated SIIs and RIIs (groups x repetitions) for a block of groups."""
    n_groups, n_quantiles = y.shape
    centre = _transform(y, value_type)[:, :, None]
    spread = se[:, :, None]
    sii = np.empty((n_groups, repetitions))
    rii = np.empty((n_groups, repetitions))
    step = max(1, _SIMULATION_BLOCK // (n_groups * n_quantiles))
    for start in range(0, repetitions, step):
        stop = min(start + step, repetitions)
        draws = centre + spread * rng.standard_normal((n_groups, n_quantiles, stop - start))
        values = _back_transform(draws, value_type)
        sii[:, start:stop], rii[:, start:stop] = _fit(values, share, slope_weights, mean_rank)
    return sii, rii
