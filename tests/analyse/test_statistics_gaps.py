"""Gaps to a reference group: Newcombe's published intervals, hand-worked ratios, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from placewise.analyse.statistics import gaps_to_reference, proportion


@pytest.mark.parametrize(
    ("a", "n", "b", "m", "lower", "upper"),
    [
        # Newcombe (1998) Stat Med 17:873-890, table II, method 10 (hybrid score, no continuity correction)
        (56, 70, 48, 80, 0.0524, 0.3339),
        (9, 10, 3, 10, 0.1705, 0.8090),
        (5, 56, 0, 29, -0.0381, 0.1926),
    ],
)
def test_difference_of_wilson_proportions_is_newcombes_method_10(a, n, b, m, lower, upper):
    group, ref = proportion([a], [n]), proportion([b], [m])
    gaps = gaps_to_reference(group.value, group.lower, group.upper, ref.value[0], ref.lower[0], ref.upper[0])
    assert gaps.difference[0] == pytest.approx(a / n - b / m, abs=1e-12)
    assert gaps.difference_lower[0] == pytest.approx(lower, abs=5e-5)
    assert gaps.difference_upper[0] == pytest.approx(upper, abs=5e-5)


def test_ratio_limits_are_mover_on_the_log_scale_worked_by_hand():
    # 0.5 (0.4 to 0.6) against 0.25 (0.2 to 0.3125): ratio 2; lower 2 / exp(sqrt(2) ln 1.25);
    # upper 2 exp(sqrt(ln(1.2)^2 + ln(1.25)^2)).
    gaps = gaps_to_reference([0.5], [0.4], [0.6], 0.25, 0.2, 0.3125)
    assert gaps.ratio[0] == pytest.approx(2.0)
    assert gaps.ratio_lower[0] == pytest.approx(2 / math.exp(math.sqrt(2) * math.log(1.25)), rel=1e-12)
    assert gaps.ratio_upper[0] == pytest.approx(2 * math.exp(math.hypot(math.log(1.2), math.log(1.25))), rel=1e-12)
    # the absolute gap: 0.25, lower 0.25 - hypot(0.1, 0.0625), upper 0.25 + hypot(0.1, 0.05)
    assert gaps.difference_lower[0] == pytest.approx(0.25 - math.hypot(0.1, 0.0625), rel=1e-12)
    assert gaps.difference_upper[0] == pytest.approx(0.25 + math.hypot(0.1, 0.05), rel=1e-12)


def test_the_reference_against_itself_has_no_gap_and_limits_either_side():
    gaps = gaps_to_reference([10.0, 12.0], [8.0, 9.0], [12.5, 15.0], 10.0, 8.0, 12.5)
    assert gaps.difference[0] == 0.0 and gaps.ratio[0] == 1.0
    assert gaps.difference_lower[0] < 0 < gaps.difference_upper[0]
    assert gaps.ratio_lower[0] < 1 < gaps.ratio_upper[0]


def test_a_zero_value_has_an_absolute_gap_but_no_ratio():
    gaps = gaps_to_reference(np.array([0.0, 0.2]), [0.0, 0.1], [0.05, 0.3], 0.1, 0.05, 0.2)
    assert np.isnan(gaps.ratio[0]) and np.isnan(gaps.ratio_lower[0])
    assert gaps.difference[0] == pytest.approx(-0.1)
    assert gaps.ratio[1] == pytest.approx(2.0)


def test_a_lower_limit_below_zero_gives_an_absolute_gap_but_no_ratio():
    # A mean length of stay of 7.2 days from ten stays, t-interval -1.8 to 16.2, against 6.2 (3.0 to 9.4): the
    # log-scale MOVER limits need a positive lower limit, so no ratio (not a NaN lower limit beside a ratio).
    gaps = gaps_to_reference([7.2], [-1.8], [16.2], 6.2, 3.0, 9.4)
    assert np.isnan([gaps.ratio[0], gaps.ratio_lower[0], gaps.ratio_upper[0]]).all()
    assert gaps.difference[0] == pytest.approx(1.0) and np.isfinite(gaps.difference_lower[0])
    assert np.isnan(gaps_to_reference([7.2], [3.0], [16.2], 6.2, -1.0, 9.4).ratio[0])


def test_limits_that_do_not_enclose_the_value_are_refused():
    with pytest.raises(ValueError, match=r"lower\[1\] is 0.5; it must not be above its value"):
        gaps_to_reference([0.2, 0.3], [0.1, 0.5], [0.3, 0.6], 0.2, 0.1, 0.3)
    with pytest.raises(ValueError, match="reference limits"):
        gaps_to_reference([0.2], [0.1], [0.3], 0.2, 0.25, 0.3)
