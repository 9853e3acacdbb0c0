"""Wilson score limits checked against values worked independently of the code under test.

The independent route solves Wilson's defining quadratic, (p - pi)^2 = z^2 pi (1 - pi) / n, for pi
in 50-digit decimal arithmetic with z from the standard library's NormalDist, and separately
checks the defining property with scipy's normal distribution.
"""

from __future__ import annotations

from decimal import Decimal, getcontext
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from placewise.analyse.statistics import proportion

getcontext().prec = 50


def wilson_by_quadratic(x: int, n: int, confidence: float) -> tuple[float, float]:
    """Roots of (1 + z^2/n) pi^2 - (2p + z^2/n) pi + p^2 = 0, worked in high-precision decimals."""
    z = Decimal(NormalDist().inv_cdf(0.5 + confidence / 2))
    p = Decimal(x) / Decimal(n)
    a = 1 + z * z / n
    b = -(2 * p + z * z / n)
    c = p * p
    root = (b * b - 4 * a * c).sqrt()
    return float((-b - root) / (2 * a)), float((-b + root) / (2 * a))


# Hand-worked: 40/100 at 95%: centre (0.4 + 1.92073/100)/(1.0384146) = 0.4036997,
# half-width 1.959964/1.0384146 x sqrt(0.0024 + 0.0000960365) = 0.0942985 -> [0.309401, 0.497998].
def test_forty_of_a_hundred_matches_hand_worked_limits():
    result = proportion([40], [100])
    assert result.value[0] == pytest.approx(0.4)
    assert result.lower[0] == pytest.approx(0.309401, abs=1e-6)
    assert result.upper[0] == pytest.approx(0.497998, abs=1e-6)


@pytest.mark.parametrize("confidence", [0.95, 0.998])
def test_many_groups_agree_with_high_precision_quadratic(confidence):
    x = np.array([0, 1, 5, 40, 65, 82, 99, 100, 3, 12_345, 999_999])
    n = np.array([100, 100, 100, 100, 100, 100, 100, 100, 7, 54_321, 1_000_000])
    result = proportion(x, n, confidence=confidence)
    expected = np.array([wilson_by_quadratic(int(a), int(b), confidence) for a, b in zip(x, n)])
    np.testing.assert_allclose(result.lower, expected[:, 0], rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(result.upper, expected[:, 1], rtol=1e-9, atol=1e-15)


def test_limits_satisfy_wilsons_score_equation():
    x, n = np.array([7, 250, 3]), np.array([30, 1000, 3])
    result = proportion(x, n, confidence=0.998)
    z = stats.norm.ppf(0.999)
    for pi in (result.lower, result.upper):
        inside = (pi > 0) & (pi < 1)
        p, limit, size = x[inside] / n[inside], pi[inside], n[inside]
        score = (p - limit) / np.sqrt(limit * (1 - limit) / size)
        np.testing.assert_allclose(np.abs(score), z, rtol=1e-9)


def test_zero_and_all_edges_are_exact():
    result = proportion([0, 50], [50, 50])
    assert result.lower[0] == 0.0
    assert result.upper[1] == 1.0
    # upper limit for 0/n is z^2 / (n + z^2); lower for n/n is n / (n + z^2)
    z2 = NormalDist().inv_cdf(0.975) ** 2
    assert result.upper[0] == pytest.approx(z2 / (50 + z2), rel=1e-12)
    assert result.lower[1] == pytest.approx(50 / (50 + z2), rel=1e-12)


def test_percentage_multiplier_scales_value_and_limits():
    plain = proportion([65], [100])
    percent = proportion([65], [100], multiplier=100)
    assert percent.value[0] == pytest.approx(65.0)
    assert percent.lower[0] == pytest.approx(plain.lower[0] * 100)
    assert percent.upper[0] == pytest.approx(plain.upper[0] * 100)


def test_wider_at_higher_confidence():
    narrow, wide = proportion([30], [90], 0.95), proportion([30], [90], 0.998)
    assert wide.lower[0] < narrow.lower[0] < narrow.upper[0] < wide.upper[0]


@pytest.mark.parametrize(
    ("x", "n", "message"),
    [
        ([1, -2], [5, 5], r"numerators\[1\] is -2.0"),
        ([1, 2], [5, 0], r"denominators\[1\] is 0.0"),
        ([1, 6, 9], [5, 5, 5], r"numerators\[1\] is 6.0; it must not exceed denominators\[1\] \(5.0\)"),
        ([1, 2], [5], r"numerators has 2, denominators has 1"),
        ([1, np.nan], [5, 5], r"numerators\[1\] is nan"),
    ],
)
def test_invalid_input_names_argument_and_index(x, n, message):
    with pytest.raises(ValueError, match=message):
        proportion(x, n)


@pytest.mark.parametrize("confidence", [95, 0.0, 1.0, -0.5])
def test_confidence_must_be_a_fraction(confidence):
    with pytest.raises(ValueError, match="confidence is"):
        proportion([1], [2], confidence=confidence)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10_000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))).filter(lambda t: t[1] > 0))
def test_limits_always_bracket_the_proportion(pair):
    x, n = pair
    for confidence in (0.95, 0.998):
        result = proportion([x], [n], confidence=confidence)
        assert 0.0 <= result.lower[0] <= x / n <= result.upper[0] <= 1.0
