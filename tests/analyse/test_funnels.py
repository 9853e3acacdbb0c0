"""Funnel limits of units within an area: binomial and log-Poisson limits, overdispersion where found."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from placewise.analyse.funnels import (
    judged_numerators,
    mostly_hidden,
    proportion_funnel,
    rate_funnel,
    ratio_funnel,
    ratio_signal,
    sparse_columns,
    too_sparse,
    units_funnel,
    value_sum_funnel,
)
from placewise.analyse.statistics import ratio_funnel_limits


def test_proportion_limits_and_signals_without_overdispersion():
    # Three units (too few to estimate overdispersion): 70/100, 100/200, 150/300; centre 320/600 = 53.33%.
    # At n = 100: sd = sqrt(0.5333 x 0.4667 / 100) = 0.04989; 95% upper 0.5333 + 1.96 sd = 63.1%, 99.8%
    # upper 0.5333 + 3.09 sd = 68.8%, so 70% is beyond the 99.8% limit.
    f = proportion_funnel([70, 100, 150], [100, 200, 300], per=100)
    assert f.centre == pytest.approx(100 * 320 / 600)
    assert f.tau2 == 0 and "not estimated from fewer than 10 units" in f.method
    assert f.signal.tolist() == [2, 0, 0]
    sd = np.sqrt(0.53333 * 0.46667 / f.grid)
    assert f.upper95 == pytest.approx(100 * (0.53333 + 1.959964 * sd), abs=1e-2)
    assert f.lower998 == pytest.approx(100 * (0.53333 - 3.090232 * sd), abs=1e-2)


def test_overdispersed_proportions_widen_the_limits():
    # Twenty practices of 1,000, alternately 30% and 50%: centre 40%, s^2 = 0.24 / 1000, every z = +/-6.455,
    # phi = 41.67 and 20 phi > 19, so tau^2 = (833.3 - 19) / (83,333 - 4,166.7) = 0.01029. The 95% limits at
    # 1,000 become 40% +/- 1.96 sqrt(0.00024 + 0.01029) = 19.9% to 60.1%: nobody is outside. Without the
    # adjustment every practice would be beyond the 99.8% limits.
    f = proportion_funnel([300, 500] * 10, [1000] * 20, per=100)
    assert f.tau2 == pytest.approx(814.33 / 79166.7, rel=1e-3)
    assert (f.signal == 0).all() and "additive random effects" in f.method
    at_1000 = np.interp(1000, f.grid, f.upper95)
    assert at_1000 == pytest.approx(40 + 100 * 1.959964 * np.sqrt(0.00024 + f.tau2), abs=0.05)


def test_no_overdispersion_found_means_no_adjustment():
    f = proportion_funnel([400, 401, 399, 400, 402, 398, 400, 401, 399, 400], [1000] * 10, per=100)
    assert f.tau2 == 0 and "no overdispersion found" in f.method and (f.signal == 0).all()


# PHEindicatormethods tests/testthat/testdata_funnel_rate_outputs.csv (as in test_statistics_funnel.py): around
# 116.1720835 per 100,000, the 95% upper limit at a population of 3 x 1,375.943768 is 242.2579623 and the 95% lower
# limit at 3 x 34,583.45945 is 95.42133877 per 100,000.
PHE_UPPER95 = (3 * 1375.943768, 242.2579623)
PHE_LOWER95 = (3 * 34583.45945, 95.42133877)


def test_rate_limits_without_overdispersion_are_the_published_exact_poisson_limits():
    # Two units sized so that the grid starts at half the smaller and ends at 1.1 times the larger: PHE's sizes.
    sizes = [2 * PHE_UPPER95[0], PHE_LOWER95[0] / 1.1]
    f = rate_funnel([10, 100], sizes, per=100_000, centre=116.1720835 / 100_000)
    assert f.grid[0] == pytest.approx(PHE_UPPER95[0]) and f.grid[-1] == pytest.approx(PHE_LOWER95[0])
    assert f.upper95[0] == pytest.approx(PHE_UPPER95[1], rel=1e-6)
    assert f.lower95[-1] == pytest.approx(PHE_LOWER95[1], rel=1e-6)
    assert "exact Poisson limits around the reference rate" in f.method


def test_rate_signals_follow_the_exact_poisson_test():
    # Rate 60 / 6000 = 10 per 1,000, so E = 10, 20 and 30. P(X >= 25 | 10) = 4.7e-5 < 0.001: high beyond 99.8%.
    # P(X <= 20 | 30) = 0.035 > 0.025: inside (the log-scale normal limits put it below the 95% lower limit).
    f = rate_funnel([25, 15, 20], [1000, 2000, 3000], per=1000)
    assert f.centre == pytest.approx(10.0)
    assert f.signal.tolist() == [2, 0, 0]
    # Held to 5 per 1,000, E = 5 at each: P(X = 0 | 5) = 0.0067, low at 95% but not at 99.8%; P(X >= 10 | 5) =
    # 0.032, inside. Held to 3 per 1,000, P(X = 0 | 3) = 0.050: a unit with none is inside.
    assert rate_funnel([0, 10, 10], [1000] * 3, per=1000, centre=0.005).signal.tolist() == [-1, 0, 0]
    assert rate_funnel([0, 10, 10], [1000] * 3, per=1000, centre=0.003).signal[0] == 0
    with pytest.raises(ValueError, match="positive"):
        rate_funnel([1], [0], per=1000)


def test_overdispersed_rates_widen_the_limits_on_the_square_root_scale():
    # Ten units of 1,000, alternately 4 and 16 events: rate 10 per 1,000, E = 10 each. z = 2 (sqrt(O) - sqrt(E)):
    # 2 (2 - 3.1623) = -2.3246 and 2 (4 - 3.1623) = 1.6754 (winsorising at 10%/90% changes neither); phi = (5.4038 +
    # 2.8070) / 2 = 4.1054 and 10 phi > 9; w = 4E = 40, so tau^2 = (41.054 - 9) / (400 - 40) = 0.08904. At E = 10 the
    # 95% limits are 10 (1 -/+ 1.96 sqrt(1/40 + 0.08904))^2 = 1.143 and 27.62 per 1,000 (exact Poisson: 3.8 and 17.1).
    f = rate_funnel([4, 16] * 5, [1000] * 10, per=1000)
    assert f.tau2 == pytest.approx(32.054 / 360, rel=1e-4)
    assert "square-root scale" in f.method and (f.signal == 0).all()
    upper = 10 * (1 + 1.959964 * np.sqrt(1 / (40 * f.grid / 1000) + f.tau2)) ** 2
    assert f.upper95 == pytest.approx(upper, rel=1e-7)
    assert np.interp(1000, f.grid, f.upper95) == pytest.approx(27.62, abs=0.02)
    assert np.interp(1000, f.grid, f.lower95) == pytest.approx(1.143, abs=0.01)


def test_mostly_empty_practices_are_not_all_low_outliers():
    # 18 practices' heart failure bed days in Q2 2026/27 (the session 13 demo), 15 at 0. On the log scale only units
    # with counts gave z-scores: Luton's funnel had tau^2 = 9.01 and its 16 practices at 0 "low, beyond 99.8%".
    counts = [15, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 14, 0, 0, 0]
    sizes = [805, 367, 121, 244, 311, 145, 147, 125, 506, 267, 200, 163, 167, 107, 421, 298, 218, 302]
    f = rate_funnel(counts, sizes, per=1000)
    assert f.tau2 < 1 and (f.signal == 0).all()
    assert too_sparse(counts) and not too_sparse([0] * 8 + [1] * 9) and too_sparse([0] * 9 + [1] * 8)


def test_a_rate_funnel_with_nothing_counted_has_limits_of_nought_and_no_signal():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no 0 x inf, no empty slices
        f = rate_funnel([0, 0, 0], [1000, 2000, 3000], per=1000)
    assert f.centre == 0.0 and f.signal.tolist() == [0, 0, 0]
    assert all(np.all(limit == 0.0) for limit in f.limits)


def test_a_funnel_held_to_a_reference_value_centres_its_limits_there():
    # The same three units held to 60% (the ICS value, say) rather than their own 53.33%: at n = 100, sd =
    # sqrt(0.6 x 0.4 / 100) = 0.04899, 95% limits 60 -/+ 9.60 = 50.4% to 69.6%, 99.8% upper 60 + 15.14 = 75.1%, so
    # 70% is high at 95% only. At 200, 50% is below the 95% lower limit (60 - 6.79 = 53.2%) but not the 99.8% one
    # (60 - 10.70 = 49.3%); at 300, 50% is below the 99.8% lower limit (60 - 8.74 = 51.3%).
    f = proportion_funnel([70, 100, 150], [100, 200, 300], per=100, centre=0.6)
    assert f.centre == pytest.approx(60.0) and "around the reference proportion" in f.method
    sd = np.sqrt(0.6 * 0.4 / f.grid)
    assert f.upper95 == pytest.approx(100 * (0.6 + 1.959964 * sd), abs=1e-5)
    assert f.signal.tolist() == [1, -1, -2]
    # A rate held to 15 per 1,000 rather than its own 10, so E = 15, 30 and 45: P(X >= 25 | 15) = 0.011, high at 95%
    # only; P(X <= 15 | 30) = 0.0019, low at 95% only; P(X <= 20 | 45) = 2.4e-5, low beyond 99.8%.
    r = rate_funnel([25, 15, 20], [1000, 2000, 3000], per=1000, centre=0.015)
    assert r.centre == pytest.approx(15.0) and "around the reference rate" in r.method
    assert r.signal.tolist() == [1, -1, -2]


def test_a_ratio_funnel_gives_the_feedback_verdicts_around_one():
    # Twelve practices each expecting 12 referrals, eleven with 10 and one with 30. z = 2(sqrt 10 - sqrt 12) = -0.604
    # for the eleven; 30's z of 4.03 is winsorised to the 90th percentile, -0.604, so phi = 0.364, 12 phi = 4.37 < 11:
    # no overdispersion, the exact Poisson limits. P(X >= 30 | 12) = 1.0e-5: beyond 99.8%; 10 of 12 is inside.
    observed, expected = [10] * 11 + [30], [12.0] * 12
    f = ratio_funnel(observed, expected)
    assert f.centre == 1.0 and f.tau2 == 0 and "around 1, as expected" in f.method
    assert f.signal.tolist() == [0] * 11 + [2]
    assert f.signal.tolist() == ratio_signal(observed, expected, 0.0).tolist()
    exact = ratio_funnel_limits(f.grid)
    assert f.upper998 == pytest.approx(exact.upper_998) and f.lower95 == pytest.approx(exact.lower_95)
    with pytest.raises(ValueError, match="every expected count must be positive"):
        ratio_funnel([1, 2], [1.0, 0.0])


def test_sparse_columns_count_only_units_expecting_some():
    # Column 1: three of five at 0, sparse; column 2: two of four at 0, not; column 3: the two at 0 expect none, so
    # of the three that count, none is 0; column 4: nobody expects any.
    o = np.array([[0, 0, 0, 0], [0, 0, 0, 0], [0, 1, 1, 0], [1, 1, 5, 0], [2, 9, 5, 0]])
    e = np.array([[1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 0], [1, 0, 1, 0]])
    assert sparse_columns(o, e).tolist() == [True, False, False, True]


# Bed days (a value summed over events): Dobson's mapping of the events' Poisson limits (funnels.py docstring).
RNG = np.random.default_rng(16)
SIZES = RNG.integers(2_000, 20_000, 30).astype(float)


def test_a_sum_of_values_of_1_has_the_rate_funnels_limits_and_verdicts():
    # Every spell 1 day (T = O = V): m = s = 1, e = E, so the limits are the rate funnel's exactly.
    counts = RNG.poisson(SIZES * 0.004).astype(float)
    counts[:2] = [SIZES[0] * 0.012, 0]     # a high unit, and one with none
    ours = value_sum_funnel(counts, SIZES, counts, counts, per=1000)
    rate = rate_funnel(counts, SIZES, per=1000)
    assert ours.centre == pytest.approx(rate.centre) and ours.tau2 == pytest.approx(rate.tau2)
    for a, b in zip(ours.limits, rate.limits, strict=True):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-12)
    assert ours.signal.tolist() == rate.signal.tolist()
    assert ours.signal[0] > 0


def test_spells_all_of_k_days_have_k_times_the_limits_of_their_spells():
    # Every spell k = 5 days: m = s = 5, e = E/5, limits E + 5 (e rho - e) = 5 e rho: k times the rate funnel of the
    # spells, and the same verdicts. The limits' width follows sqrt(V) = k sqrt(O), not sqrt(T) = sqrt(k O).
    spells = RNG.poisson(SIZES * 0.002).astype(float)
    days = 5 * spells
    ours = value_sum_funnel(days, SIZES, spells, 25 * spells, per=1000)
    rate = rate_funnel(spells, SIZES, per=1000)
    assert ours.centre == pytest.approx(5 * rate.centre)
    for a, b in zip(ours.limits, rate.limits, strict=True):
        assert a == pytest.approx(5 * b, rel=1e-12)
    assert ours.signal.tolist() == rate.signal.tolist()
    # Each day an event (the Poisson funnel of before): about sqrt(5) narrower at the smallest size, before its
    # overdispersion estimate (which these same-length spells set off) widens it at the larger ones.
    as_days = rate_funnel(days, SIZES, per=1000)
    assert ours.upper95[0] - ours.centre > 1.5 * (as_days.upper95[0] - as_days.centre)


def test_bed_day_limits_by_hand_at_one_size():
    # Three units of 1,000 people (too few for overdispersion), held to 10 bed days per 1,000: spells of 1, 2 and
    # 10 days (T 13), one of 4 (T 4), none. Pooled m = 17/4 = 4.25 days a spell, s = sqrt(121/4) = 5.5.
    # At 1,000 people E = 10 bed days, e = 10/4.25 = 2.352941 spells; the 95% limits are
    # E + s e (rho - 1) with rho the exact Poisson ratio limits at e (ratio_funnel_limits), per 1,000 of 1,000.
    f = value_sum_funnel([13, 4, 0], [1000, 1000, 1000], [3, 1, 0], [105, 16, 0], per=1000, centre=0.01)
    e = 10 / 4.25
    rho = ratio_funnel_limits(np.array([e]))
    at = np.searchsorted(f.grid, 1000)
    grid_e = f.grid / 1000 * 10 / 4.25
    rho_grid = ratio_funnel_limits(grid_e)
    want_hi = (f.grid * 0.01 + 5.5 * grid_e * (rho_grid.upper_95 - 1)) / f.grid * 1000
    assert f.upper95 == pytest.approx(want_hi, rel=1e-12)
    # At e = 2.352941 the exact ratio limits are 0 and 2.656812: 10 + 5.5 x 2.352941 x (2.656812 - 1) = 31.44 bed
    # days per 1,000 (the Poisson funnel of 10 "events" reaches 17.1), and 10 - 5.5 x 2.352941 < 0, so 0: all inside.
    assert rho.upper_95[0] == pytest.approx(2.656812, abs=5e-7) and rho.lower_95[0] == 0
    assert 10 + 5.5 * e * (rho.upper_95[0] - 1) == pytest.approx(31.4411, abs=5e-4)
    assert f.tau2 == 0 and f.centre == pytest.approx(10.0) and 0 < at < len(f.grid)
    assert f.signal.tolist() == [0, 0, 0]
    assert "Dobson" in f.method


def test_bed_days_held_to_the_ics_spells_by_hand():
    # The report's and web app's bed-day funnel (units_funnel, sums_values): m and s are the ICS's, from its
    # whole-population cell: 5,500 days over 1,000 spells whose squares sum to 49,000, so m = 5.5 days a spell and
    # s = sqrt(49) = 7. Four practices of 1,000 people (too few for overdispersion) held to the ICS's 550 bed days per
    # 1,000: at 1,000 people E = 550 days, e = 550 / 5.5 = 100 spells. Dobson: E + s (U - e) with U, L the exact
    # Poisson limits of e spells (U such that P(chi2 on 2U df <= 2e) = 2.5%, L + 1 such that it is 97.5%; computed
    # here by root-finding, not by the code under test): 95% 412.7 to 693.9, 99.8% 340.5 to 779.5 days per 1,000.
    from scipy.optimize import brentq
    from scipy.stats import chi2

    from placewise.analyse.funnels import event_spread, units_funnel

    spread = event_spread(5_500, 1_000, 49_000)
    assert spread == pytest.approx((5.5, 7.0))

    def events_at(p: float) -> float:
        return brentq(lambda u: chi2.cdf(200, 2 * u) - p, 1, 1_000)

    want = [550 + 7 * (events_at(0.975) - 1 - 100), 550 + 7 * (events_at(0.025) - 100),
            550 + 7 * (events_at(0.999) - 1 - 100), 550 + 7 * (events_at(0.001) - 100)]
    assert want == pytest.approx([412.73, 693.91, 340.54, 779.47], abs=0.01)
    days = [700, 400, 330, 550]
    f, why = units_funnel("crude_rate", days, [1_000] * 4, 1_000, 0.55, plural="practices", sums_values=True,
                          spread=spread)
    assert f is not None and why == "" and f.tau2 == 0 and f.centre == pytest.approx(550)
    # Units either side of each limit at 1,000 people, 0.6 days away, get the verdicts the hand limits give.
    edges = [694.5, 693.3, 412.1, 413.3, 339.9, 341.1, 779.0, 780.1]
    g, _ = units_funnel("crude_rate", edges, [1_000] * 8, 1_000, 0.55, sums_values=True, spread=spread)
    assert g is not None and g.signal.tolist() == [1, 0, -1, 0, -2, -1, 1, 2]
    # The limits along the grid follow the same formula at every size: E = 0.55 n, e = E / 5.5.
    e = f.grid * 0.55 / 5.5
    upper = [brentq(lambda u, x=x: chi2.cdf(2 * x, 2 * u) - 0.025, 0.1, 10_000) for x in e[::20]]
    assert f.upper95[::20] == pytest.approx((f.grid[::20] * 0.55 + 7 * (np.array(upper) - e[::20]))
                                            / f.grid[::20] * 1_000, rel=1e-7)
    # 700 is above the 95% limit (693.9), 400 below it (412.7), 330 below the 99.8% (340.5), 550 inside. As Poisson
    # counts of days (sd sqrt(550) = 23.5) 400 and 700 would both be beyond 99.8%.
    assert f.signal.tolist() == [1, -1, -2, 0]
    assert "Dobson" in f.method and "m = 5.5 and root mean square s = 7, the ICS's" in f.method
    # The same units counted as Poisson events, for contrast.
    assert rate_funnel(days, [1_000] * 4, per=1_000, centre=0.55).signal.tolist() == [2, -2, -2, 0]


def test_no_bed_day_funnel_without_the_ics_spells_or_its_published_value():
    from placewise.analyse.funnels import event_spread, units_funnel

    days, sizes = [700, 400, 330, 550], [1_000] * 4
    for spread, centre in ((None, 0.55), ((5.5, 7.0), None)):
        f, why = units_funnel("crude_rate", days, sizes, 1_000, centre, plural="practices", when="in Mar 2026",
                              sums_values=True, spread=spread)
        assert f is None and why == ("No funnel plot of practices: its count sums a value per event (the days of each "
                                     "hospital spell), so its limits rest on the ICS's spells and squared days "
                                     "(Dobson's method), which are used only where the ICS's value is published; it "
                                     "is suppressed or counted no spells in Mar 2026.")
    assert event_spread(0, 0, 0) is None and event_spread(10, 2, float("nan")) is None


def test_a_bed_day_funnel_needs_an_event_and_sound_figures():
    with pytest.raises(ValueError, match="no unit counted an event"):
        value_sum_funnel([0, 0], [10, 10], [0, 0], [0, 0], per=1000)
    with pytest.raises(ValueError, match="every denominator must be positive"):
        value_sum_funnel([1, 0], [0, 10], [1, 0], [1, 0], per=1000)


def test_no_units_are_sparse_and_not_overdispersed_without_a_warning() -> None:
    import warnings

    from placewise.analyse.funnels import ratio_overdispersion, sparse_columns

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sparse_columns(np.zeros((0, 3)), np.zeros((0, 3))).tolist() == [True, True, True]
        assert ratio_overdispersion(np.zeros((0, 2)), np.zeros((0, 2))).tolist() == [0.0, 0.0]


def test_a_unit_is_judged_by_its_published_value_at_its_published_size():
    # VERDICT_RULE: 8 of 11 (72.7%) published with its counts rounded to 10 of 10 is judged as 7.27 of 10; 45.7 per
    # 100,000 of a rounded 12,500 people as 5.71 events.
    assert judged_numerators([800 / 11], [10], 100).tolist() == pytest.approx([80 / 11])
    assert judged_numerators([45.7], [12_500], 100_000).tolist() == pytest.approx([5.7125])
    # Held to 55% at size 10 the share is inside the 95% limits (upper 85.8%); its rounded counts' 100% is not.
    f = proportion_funnel(judged_numerators([800 / 11, 50.0, 55.0], [10, 1000, 1000], 100), [10, 1000, 1000],
                          per=100, centre=0.55)
    assert f.signal.tolist() == [0, -2, 0]
    assert proportion_funnel([10, 500, 550], [10, 1000, 1000], per=100, centre=0.55).signal.tolist()[0] == 1


def test_no_funnel_where_most_units_are_suppressed():
    """Session 19's Luton heart failure admissions per 100,000: 22 of 86 practices published, the other 64 suppressed
    (counts 1 to 7, and their complements). Those published are the zeros and the large counts, so tau^2 from them is
    inflated; here 11 at 0 and 11 at 30 of 5,000 (centre 2 per 1,000, 10 expected each) give z = 2(sqrt(O) - sqrt(E)):
    -6.32 and +4.63, and tau^2 = (22 x mean z^2 - 21) / (sum w - sum w^2 / sum w), w = 4E = 40:
    mean z^2 = (40 + 21.46) / 2 = 30.73, 22 x 30.73 - 21 = 655.1, sum w - sum w^2 / sum w = 880 - 40 = 840: 0.780,
    limits about five times as wide as Poisson's. The rule: no funnel where more than half are suppressed."""
    o, n = [0.0] * 11 + [30.0] * 11, [5_000.0] * 22
    drawn = rate_funnel(o, n, per=100_000, centre=0.002)
    assert drawn.tau2 == pytest.approx(0.780, abs=0.001)
    f, why = units_funnel("crude_rate", o, n, 100_000, 0.002, plural="practices", where="in the ICS",
                          when="in Sep 2026", others=64, hidden=64)
    assert f is None and why.startswith(
        "No funnel plot of practices: 64 of the 86 practices in the ICS are suppressed in Sep 2026, more than half. "
        "The disclosure rule hides small counts (1 to 7)")
    assert why.endswith("so no funnel is drawn.")
    # Half suppressed is not most: drawn, as before (the sizes and counts as published).
    f, why = units_funnel("crude_rate", o, n, 100_000, 0.002, hidden=22)
    assert f is not None and why == "" and f.tau2 == drawn.tau2
    assert mostly_hidden([22, 22, 3], [23, 22, 0]).tolist() == [True, False, False]
