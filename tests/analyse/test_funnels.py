"""Funnel limits of units within an area: binomial and log-Poisson limits, overdispersion where found."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from placewise.analyse.funnels import proportion_funnel, rate_funnel


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


def test_rate_limits_on_the_log_scale():
    # Rate 60 / 6000 = 10 per 1,000. At 1,000 people E = 10: 95% limits 10 x exp(+/-1.96 / sqrt(10)) =
    # 5.38 and 18.59 per 1,000, 99.8% upper 10 x exp(3.09 / sqrt(10)) = 26.6: 25 is high at 95% only. At
    # 3,000 (E = 30) the 95% lower limit is 10 x exp(-1.96 / sqrt(30)) = 6.99: 6.67 is low at 95%.
    f = rate_funnel([25, 15, 20], [1000, 2000, 3000], per=1000)
    assert f.centre == pytest.approx(10.0)
    lo, hi = np.interp(1000, f.grid, f.lower95), np.interp(1000, f.grid, f.upper95)
    assert (lo, hi) == pytest.approx((10 * np.exp(-1.959964 / np.sqrt(10)), 10 * np.exp(1.959964 / np.sqrt(10))),
                                     rel=1e-3)
    assert f.signal.tolist() == [1, 0, -1]
    with pytest.raises(ValueError, match="positive"):
        rate_funnel([1], [0], per=1000)


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
    # A rate held to 15 per 1,000 rather than its own 10. At 1,000 (E = 15) the 95% upper limit is
    # 15 x exp(1.96 / sqrt(15)) = 24.9 and the 99.8% one 15 x exp(3.09 / sqrt(15)) = 33.3: 25 is high at 95% only.
    # At 2,000 (E = 30) the 99.8% lower limit is 15 x exp(-3.09 / sqrt(30)) = 8.53, above 7.5; at 3,000 (E = 45)
    # it is 15 x exp(-3.09 / sqrt(45)) = 9.47, above 6.67. Held to their own 10 they gave [1, 0, -1].
    r = rate_funnel([25, 15, 20], [1000, 2000, 3000], per=1000, centre=0.015)
    assert r.centre == pytest.approx(15.0) and "around the reference rate" in r.method
    assert r.signal.tolist() == [1, -2, -2]
