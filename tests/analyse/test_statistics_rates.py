"""Poisson count limits and crude rates against published and independently worked values."""

from __future__ import annotations

from decimal import Decimal, getcontext
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from placewise.analyse.statistics import (
    byars_limits,
    compound_poisson_rate,
    crude_rate,
    exact_poisson_limits,
    poisson_limits,
)

getcontext().prec = 50

# Exact Poisson limits published by UKHSA in PHEindicatormethods' funnel test data,
# ukhsa-collaboration/PHEindicatormethods tests/testthat/testdata_funnel_ratio_outputs.csv: for
# observed O, "upper_2s_exp_events" is the expected count E with P(X >= O | E) = 0.025 (the exact
# 95% lower limit of O), "lower_2s_exp_events" the E with P(X <= O | E) = 0.025 (the exact upper
# limit); "3s" columns likewise at 0.001 (99.8%). Columns: O, lower95, upper95, lower998, upper998.
PHE_EXACT = np.array(
    [
        [1, 0.025317898, 5.571644585, 0.001000547, 9.233410143],
        [2, 0.242209467, 7.224687515, 0.04540199, 11.22886836],
        [5, 1.623486324, 11.6683331, 0.739371928, 16.45474478],
        [9, 4.11537405, 17.08479966, 2.452425215, 22.65737951],
        [10, 4.795387629, 18.39035799, 2.960519925, 24.13397235],
        [100, 81.36400699, 121.6268111, 71.92139974, 134.9243187],
    ]
)


def test_exact_limits_match_published_phe_values():
    o = PHE_EXACT[:, 0]
    lower_95, upper_95 = exact_poisson_limits(o, 0.95)
    lower_998, upper_998 = exact_poisson_limits(o, 0.998)
    # PHE finds these by bisection stopped at 1e-7 on E / (E + O + 1), hence the small atol.
    mine = np.column_stack([lower_95, upper_95, lower_998, upper_998])
    np.testing.assert_allclose(mine, PHE_EXACT[:, 1:], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("confidence", [0.95, 0.998])
def test_exact_limits_have_their_defining_tail_probabilities(confidence):
    x = np.array([1, 2, 3, 7, 9, 25, 400])
    lower, upper = exact_poisson_limits(x, confidence)
    tail = (1 - confidence) / 2
    np.testing.assert_allclose(stats.poisson.sf(x - 1, lower), tail, rtol=1e-9)
    np.testing.assert_allclose(stats.poisson.cdf(x, upper), tail, rtol=1e-9)


def test_exact_limits_of_zero():
    lower, upper = exact_poisson_limits([0], 0.95)
    assert lower[0] == 0.0
    assert upper[0] == pytest.approx(-np.log(0.025), rel=1e-12)  # P(X = 0 | U) = e^-U = 0.025


def byar_by_hand(x: int, confidence: float) -> tuple[float, float]:
    """Byar's formulae (Breslow & Day 1987) in 50-digit decimals."""
    z = Decimal(NormalDist().inv_cdf(0.5 + confidence / 2))
    o, o1 = Decimal(x), Decimal(x + 1)
    lower = o * (1 - 1 / (9 * o) - z / (3 * o.sqrt())) ** 3
    upper = o1 * (1 - 1 / (9 * o1) + z / (3 * o1.sqrt())) ** 3
    return float(lower), float(upper)


@pytest.mark.parametrize("confidence", [0.95, 0.998])
def test_byars_limits_match_hand_worked_formula(confidence):
    x = np.array([10, 65, 1045, 123_456])
    lower, upper = byars_limits(x, confidence)
    worked = np.array([byar_by_hand(int(v), confidence) for v in x])
    np.testing.assert_allclose(lower, worked[:, 0], rtol=1e-12)
    np.testing.assert_allclose(upper, worked[:, 1], rtol=1e-12)


def test_byars_is_within_a_fifth_of_a_percent_of_exact_from_ten_events():
    # UKHSA "Technical Guide: Confidence Intervals" (2018): at 95%, Byar's method is within 0.2%
    # of the exact value for numerators of 10 or more.
    x = np.arange(10, 2000)
    byar = byars_limits(x, 0.95)
    exact = exact_poisson_limits(x, 0.95)
    for approx, true in zip(byar, exact):
        assert np.max(np.abs(approx / true - 1)) < 0.002


def test_byars_lower_limit_is_missing_where_the_method_fails():
    lower, upper = byars_limits([0, 1], 0.998)
    assert np.isnan(lower[0])  # x = 0: the formula diverges
    assert np.isnan(lower[1])  # x = 1 at 99.8%: the formula gives a negative count
    assert upper[1] > 1


def test_poisson_limits_switch_from_exact_to_byar_at_ten():
    x = np.array([0, 9, 10, 11])
    lower, upper = poisson_limits(x, 0.95)
    exact = exact_poisson_limits(x[:2], 0.95)
    byar = byars_limits(x[2:], 0.95)
    np.testing.assert_array_equal(lower, np.concatenate([exact[0], byar[0]]))
    np.testing.assert_array_equal(upper, np.concatenate([exact[1], byar[1]]))


def test_crude_rate_per_hundred_thousand():
    # 65 events in 100,000: Byar 95% limits from the hand-worked formula, divided by n.
    result = crude_rate([65, 4, 0], [100_000, 20_000, 5_000])
    lower_65, upper_65 = byar_by_hand(65, 0.95)
    np.testing.assert_allclose(result.value, [65.0, 20.0, 0.0])
    assert result.lower[0] == pytest.approx(lower_65, rel=1e-12)
    assert result.upper[0] == pytest.approx(upper_65, rel=1e-12)
    # 4 events in 20,000 use exact limits: chi2(0.025; 8)/2 and chi2(0.975; 10)/2, per 100,000.
    assert result.lower[1] == pytest.approx(stats.chi2.ppf(0.025, 8) / 2 * 5, rel=1e-10)
    assert result.upper[1] == pytest.approx(stats.chi2.ppf(0.975, 10) / 2 * 5, rel=1e-10)
    assert result.lower[2] == 0.0
    assert result.upper[2] == pytest.approx(-np.log(0.025) * 20, rel=1e-12)


def test_crude_rate_huge_counts_stay_finite_and_tight():
    result = crude_rate([5e8], [1e9], multiplier=1)
    assert result.value[0] == 0.5
    assert 0.49995 < result.lower[0] < 0.5 < result.upper[0] < 0.50005


@pytest.mark.parametrize(
    ("x", "n", "message"),
    [
        ([3, -1], [10, 10], r"numerators\[1\] is -1.0"),
        ([3, 1], [10, -4], r"denominators\[1\] is -4.0; it must be more than zero"),
        ([3], [10, 10], "numerators has 1, denominators has 2"),
    ],
)
def test_crude_rate_rejects_bad_input(x, n, message):
    with pytest.raises(ValueError, match=message):
        crude_rate(x, n)


def test_count_functions_reject_negative_counts():
    for function in (byars_limits, exact_poisson_limits, poisson_limits):
        with pytest.raises(ValueError, match=r"counts\[2\] is -3.0"):
            function([1, 2, -3])


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 1_000_000))
def test_poisson_limits_always_bracket_the_count(count):
    for confidence in (0.95, 0.998):
        lower, upper = poisson_limits([count], confidence)
        assert 0.0 <= lower[0] <= count < upper[0]


# Bed days: a rate of a value summed over events (T = sum of x over O spells, V = sum of x^2), with Dobson's limits
# T + sqrt(V/O) (O_L - O), T + sqrt(V/O) (O_U - O) (Dobson et al., Stat Med 1991;10:457-462, as the PHE Technical
# Guide applies them to the DSR), O_L and O_U the limits of O (exact below 10, Byar's from 10), worked by hand.


def test_bed_days_of_three_spells_of_1_2_and_10_days_over_1000_people():
    # T = 13, O = 3, V = 1 + 4 + 100 = 105, sqrt(V/O) = sqrt(35) = 5.916080. Exact limits of 3 (chi-squared):
    # O_L = chi2(0.025; 6)/2 = 0.618672, O_U = chi2(0.975; 8)/2 = 8.767273.
    # Lower: 13 + 5.916080 (0.618672 - 3) = -1.088 -> 0 (a sum of days is never negative).
    # Upper: 13 + 5.916080 (8.767273 - 3) = 47.11965. Per 1,000 of 1,000 people: the same figures.
    r = compound_poisson_rate([13], [3], [105], [1000], multiplier=1000)
    assert r.value[0] == pytest.approx(13.0, rel=1e-12)
    assert r.lower[0] == 0.0
    assert r.upper[0] == pytest.approx(47.11965, abs=5e-5)


def test_bed_days_of_ten_spells_use_byars_limits_of_the_count():
    # Five spells of 2 days and five of 4 over 2,000 people: T = 30, O = 10, V = 5x4 + 5x16 = 100, sqrt(V/O) = 3.162278.
    # Byar's limits of 10: 10 (1 - 1/90 - 1.959964/(3 sqrt 10))^3 = 4.787450,
    # 11 (1 - 1/99 + 1.959964/(3 sqrt 11))^3 = 18.391459.
    # Limits 30 + 3.162278 (4.787450 - 10) = 13.51647 and 30 + 3.162278 (18.391459 - 10) = 56.53612 bed days,
    # per 1,000 of 2,000 people: 15 (6.758235 to 28.26806).
    r = compound_poisson_rate([30], [10], [100], [2000], multiplier=1000)
    assert r.value[0] == pytest.approx(15.0, rel=1e-12)
    assert r.lower[0] == pytest.approx(6.758235, abs=5e-6)
    assert r.upper[0] == pytest.approx(28.26806, abs=5e-5)


def test_bed_days_of_one_spell_are_the_exact_limits_of_one_times_its_days():
    # O = 1 (a spell of 7 days): sqrt(V/O) = 7, so the limits are 7 + 7 (O_L - 1) = 7 O_L = 7 x 0.0253178 = 0.177225
    # and 7 O_U = 7 x 5.571643 = 39.00150 (the exact limits of 1 event).
    r = compound_poisson_rate([7], [1], [49], [1000], multiplier=1000)
    assert (r.value[0], r.lower[0], r.upper[0]) == pytest.approx((7.0, 0.177225, 39.00150), abs=5e-5)


def test_bed_days_with_no_spells_have_a_rate_of_0_and_no_interval():
    # O = 0: nothing says how long a spell would be, so Dobson's scale sqrt(V/O) is undefined: no limits.
    r = compound_poisson_rate([0], [0], [0], [1000], multiplier=1000)
    assert r.value[0] == 0.0 and np.isnan(r.lower[0]) and np.isnan(r.upper[0])


def test_bed_days_interval_is_wider_than_treating_each_day_as_an_event():
    # The Poisson interval of 13 "events" (Byar's: 6.915 to 22.232) is the one given before: far too narrow.
    ours = compound_poisson_rate([13, 30], [3, 10], [105, 100], [1000, 2000], multiplier=1000)
    poisson = crude_rate([13, 30], [1000, 2000], multiplier=1000)
    assert (ours.upper - ours.lower > 1.5 * (poisson.upper - poisson.lower)).all()


@given(st.integers(0, 5000), st.floats(1, 1e6))
@settings(max_examples=200, deadline=None)
def test_a_sum_of_values_of_1_is_a_count_with_the_crude_rates_limits(events, population):
    # Every value 1 (T = O = V): Dobson's scale is 1, and the limits are those of the count itself.
    ours = compound_poisson_rate([events], [events], [events], [population], multiplier=1000)
    crude = crude_rate([events], [population], multiplier=1000)
    assert ours.value == pytest.approx(crude.value, rel=1e-12)
    if events:
        assert ours.lower == pytest.approx(np.nan_to_num(crude.lower), rel=1e-9, abs=1e-12)
        assert ours.upper == pytest.approx(crude.upper, rel=1e-9)


@pytest.mark.parametrize(("t", "o", "v", "n", "message"), [
    (-1, 1, 1, 10, r"totals\[0\] is -1.0"), (1, -1, 1, 10, r"events\[0\] is -1.0"),
    (1, 1, -1, 10, r"sum_squares\[0\] is -1.0"), (1, 1, 1, 0, r"denominators\[0\] is 0.0"),
])
def test_bed_days_reject_bad_input(t, o, v, n, message):
    with pytest.raises(ValueError, match=message):
        compound_poisson_rate([t], [o], [v], [n])
