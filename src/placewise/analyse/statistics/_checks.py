"""Input checks shared by the statistics functions: clear errors naming the argument and element."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
from numpy.typing import ArrayLike


def as_float_array(name: str, values: ArrayLike) -> np.ndarray:
    """A finite 1-D float64 array, so that every later check and formula can trust it."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional; got shape {array.shape}")
    bad = ~np.isfinite(array)
    if bad.any():
        index = int(np.argmax(bad))
        raise ValueError(f"{name}[{index}] is {array[index]}; every value must be a finite number")
    return array


def as_index_array(name: str, values: ArrayLike, upper: int | None = None) -> np.ndarray:
    """A 1-D int64 array of codes in [0, upper), as used for group and age-band indexes."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional; got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must hold integer codes; got dtype {array.dtype}")
    array = array.astype(np.int64, copy=False)
    first_bad(name, array < 0, array, "must be zero or more")
    if upper is not None:
        first_bad(name, array >= upper, array, f"must be less than {upper}")
    return array


def first_bad(name: str, bad: np.ndarray, values: np.ndarray, requirement: str) -> None:
    """Raise a ValueError naming the first element where `bad` holds, and why it is wrong."""
    if bad.any():
        index = int(np.argmax(bad))
        raise ValueError(f"{name}[{index}] is {values[index]}; it {requirement}")


def check_proportion_counts(numerators: np.ndarray, denominators: np.ndarray) -> None:
    """Numerators zero or more, denominators above zero, and no numerator above its denominator."""
    first_bad("numerators", numerators < 0, numerators, "must be zero or more")
    first_bad("denominators", denominators <= 0, denominators, "must be more than zero")
    over = numerators > denominators
    if over.any():
        i = int(np.argmax(over))
        raise ValueError(
            f"numerators[{i}] is {numerators[i]}; it must not exceed denominators[{i}] ({denominators[i]}) "
            "for a proportion"
        )


def same_length(**arrays: np.ndarray) -> int:
    """The common length of the arrays; a ValueError listing every length when they differ."""
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{name} has {length}" for name, length in lengths.items())
        raise ValueError(f"arrays must have the same length: {listed}")
    return next(iter(lengths.values()))


def z_score(confidence: float) -> float:
    """Two-sided standard normal quantile for a confidence level such as 0.95 or 0.998 (the standard library's,
    equal to SciPy's ``ndtri`` within one unit in the last place, without importing SciPy for it)."""
    check_confidence(confidence)
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def check_confidence(confidence: float) -> None:
    """Reject confidence levels outside (0, 1), such as 95 given for 0.95."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence is {confidence}; give it as a fraction between 0 and 1, e.g. 0.95 or 0.998")


def check_multiplier(multiplier: float) -> None:
    """Reject a multiplier that is not a positive finite number."""
    if not (np.isfinite(multiplier) and multiplier > 0):
        raise ValueError(f"multiplier is {multiplier}; it must be a positive number such as 100 or 100000")
