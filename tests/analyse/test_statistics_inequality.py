"""Slope and relative index of inequality: exact point estimates, simulated limits checked analytically."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from placewise.analyse.statistics import slope_index_of_inequality

EQUAL = np.ones((1, 5))


def test_straight_line_over_equal_quintiles_is_recovered_exactly():
    # midpoints 0.1, 0.3, 0.5, 0.7, 0.9; values 10 + 5x -> SII 5, RII 15 / 10 = 1.5
    values = np.array([[10.5, 11.5, 12.5, 13.5, 14.5]])
    result = slope_index_of_inequality(values, EQUAL, standard_errors=np.full((1, 5), 0.2), repetitions=2000)
    assert result.sii[0] == pytest.approx(5.0, rel=1e-12)
    assert result.rii[0] == pytest.approx(1.5, rel=1e-12)


def test_unequal_populations_use_cumulative_midpoint_ranks():
    # shares 0.1, 0.2, 0.3, 0.25, 0.15 -> midpoints 0.05, 0.2, 0.45, 0.725, 0.925;
    # values 20 - 8x lie on a line, so SII = -8 and RII = 12 / 20 = 0.6 whatever the weights.
    rank = np.array([0.05, 0.2, 0.45, 0.725, 0.925])
    result = slope_index_of_inequality(
        [20 - 8 * rank], [[100, 200, 300, 250, 150]], standard_errors=np.full((1, 5), 0.1), repetitions=2000
    )
    assert result.sii[0] == pytest.approx(-8.0, rel=1e-12)
    assert result.rii[0] == pytest.approx(0.6, rel=1e-12)


def test_hand_worked_quintiles():
    # x = 0.1 .. 0.9, y = 30, 25, 22, 20, 15: mean y 22.4; sum (x - 0.5)(y - 22.4) = -7.0;
    # sum (x - 0.5)^2 = 0.4 -> slope -17.5; intercept 22.4 + 17.5 x 0.5 = 31.15; RII 13.65 / 31.15.
    result = slope_index_of_inequality(
        [[30, 25, 22, 20, 15]], EQUAL, standard_errors=np.ones((1, 5)), repetitions=2000, multiplier=1
    )
    assert result.sii[0] == pytest.approx(-17.5, rel=1e-12)
    assert result.rii[0] == pytest.approx(13.65 / 31.15, rel=1e-12)


def test_deciles_agree_with_weighted_least_squares_by_lstsq():
    rng = np.random.default_rng(7)
    values = rng.uniform(50, 90, size=(6, 10))
    populations = rng.integers(5_000, 40_000, size=(6, 10))
    result = slope_index_of_inequality(values, populations, standard_errors=np.ones((6, 10)), repetitions=1000)
    for g in range(6):
        share = populations[g] / populations[g].sum()
        rank = np.cumsum(share) - share / 2
        root = np.sqrt(share)
        (intercept, slope), *_ = np.linalg.lstsq(np.column_stack([root, root * rank]), root * values[g], rcond=None)
        assert result.sii[g] == pytest.approx(slope, rel=1e-10)
        assert result.rii[g] == pytest.approx((intercept + slope) / intercept, rel=1e-10)


def test_simulated_limits_match_the_analytic_interval_of_a_linear_estimator():
    # With untransformed values the SII is linear in them, so it is exactly normal with variance
    # sum(c_q^2 se_q^2), c the WLS slope weights; the simulated 2.5% and 97.5% points must agree
    # with the normal quantiles to within Monte Carlo error (about 0.01 sd at 100,000 draws).
    values = np.array([[30.0, 25, 22, 20, 15, 14, 12, 11, 9, 8]])
    populations = np.array([[9, 10, 11, 10, 9, 10, 11, 10, 9, 11]]) * 1000.0
    se = np.array([[1.5, 1.2, 1.0, 1.1, 0.9, 0.8, 1.0, 1.3, 0.7, 0.6]])
    result = slope_index_of_inequality(values, populations, standard_errors=se, repetitions=100_000, seed=11)
    share = populations[0] / populations[0].sum()
    rank = np.cumsum(share) - share / 2
    centred = rank - share @ rank
    c = share * centred / (share @ centred**2)
    sd = np.sqrt(np.sum(c**2 * se[0] ** 2))
    z = stats.norm.ppf(0.975)
    assert result.sii_lower[0] == pytest.approx(result.sii[0] - z * sd, abs=0.04 * sd)
    assert result.sii_upper[0] == pytest.approx(result.sii[0] + z * sd, abs=0.04 * sd)
    assert result.rii_lower[0] < result.rii[0] < result.rii_upper[0]


def test_simulation_is_deterministic_for_a_seed():
    args = ([[5.0, 6, 7, 8, 9]], EQUAL)
    first = slope_index_of_inequality(*args, standard_errors=np.ones((1, 5)), repetitions=5000, seed=3)
    again = slope_index_of_inequality(*args, standard_errors=np.ones((1, 5)), repetitions=5000, seed=3)
    other = slope_index_of_inequality(*args, standard_errors=np.ones((1, 5)), repetitions=5000, seed=4)
    assert first == again
    assert first.sii_lower[0] != other.sii_lower[0]


def test_rate_limits_give_the_log_scale_standard_error():
    # limits exp(log v -/+ 1.959964 s) carry standard error s on the log scale, so both ways of
    # giving the uncertainty produce the same simulation.
    values = np.array([[900.0, 800, 700, 650, 600]])
    s = np.array([[0.05, 0.04, 0.06, 0.05, 0.03]])
    z = stats.norm.ppf(0.975)
    from_limits = slope_index_of_inequality(
        values, EQUAL, lower_95=values * np.exp(-z * s), upper_95=values * np.exp(z * s),
        value_type="rate", repetitions=4000, seed=1,
    )  # fmt: skip
    from_se = slope_index_of_inequality(values, EQUAL, standard_errors=s, value_type="rate", repetitions=4000, seed=1)
    np.testing.assert_allclose(from_limits.sii_lower, from_se.sii_lower, rtol=1e-9)
    np.testing.assert_allclose(from_limits.rii_upper, from_se.rii_upper, rtol=1e-9)
    assert from_se.sii[0] == pytest.approx(-375.0)  # by hand: sum (x - 0.5)(y - 730) = -150, / 0.4


def test_multiplier_scales_the_sii_only():
    values, se = [[0.3, 0.25, 0.2, 0.18, 0.1]], np.full((1, 5), 0.1)
    plain = slope_index_of_inequality(values, EQUAL, standard_errors=se, value_type="proportion", repetitions=2000)
    percent = slope_index_of_inequality(
        values, EQUAL, standard_errors=se, value_type="proportion", repetitions=2000, multiplier=100
    )
    assert percent.sii[0] == pytest.approx(plain.sii[0] * 100)
    assert percent.sii_lower[0] == pytest.approx(plain.sii_lower[0] * 100)
    assert percent.rii[0] == plain.rii[0]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"values": [[1, 2, 3, 4]], "populations": [[1, 1, 1, 1]]}, "4 quantiles per group"),
        ({"populations": [[1, 1, 0, 1, 1]]}, r"populations\[0, 2\] is 0.0"),
        ({"values": [[0.1, 0.2, 1.0, 0.3, 0.4]], "value_type": "proportion"}, r"values\[0, 2\] is 1.0"),
        ({"values": [[1, 2, -3, 4, 5]], "value_type": "rate"}, r"values\[0, 2\] is -3.0"),
        ({"standard_errors": None}, "give standard_errors, or both lower_95 and upper_95"),
        ({"lower_95": [[1, 1, 1, 1, 1]], "upper_95": [[2, 2, 2, 2, 2]]}, "not both"),
        ({"repetitions": 10}, "repetitions is 10"),
        ({"value_type": "odds"}, "value_type is 'odds'"),
        ({"populations": [[1, 1, 1]]}, r"populations has shape \(1, 3\)"),
    ],
)
def test_bad_input_is_rejected(kwargs, message):
    arguments = {"values": [[1.0, 2, 3, 4, 5]], "populations": EQUAL, "standard_errors": np.ones((1, 5))}
    arguments.update(kwargs)
    if "values" in kwargs and "standard_errors" not in kwargs and arguments["standard_errors"] is not None:
        arguments["standard_errors"] = np.ones(np.shape(kwargs["values"]))
    with pytest.raises(ValueError, match=message):
        slope_index_of_inequality(**arguments)
