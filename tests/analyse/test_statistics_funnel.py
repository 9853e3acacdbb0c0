"""Funnel-plot limits and significance against UKHSA's published PHEindicatormethods test data."""

from __future__ import annotations

import numpy as np
import pytest

from placewise.analyse.statistics import (
    FunnelSignificance,
    dsr_funnel_significance,
    proportion_funnel_limits,
    proportion_funnel_significance,
    rate_funnel_limits,
    rate_funnel_significance,
    ratio_funnel_limits,
    ratio_funnel_significance,
)

S = FunnelSignificance

# ukhsa-collaboration/PHEindicatormethods tests/testthat/testdata_funnel_prop_outputs.csv (rows
# for five populations). Baseline 80.642448%; columns: population, lower 95%, upper 95%,
# lower 99.8%, upper 99.8%, all as percentages and clipped to [0, 100].
PHE_PROPORTION_LIMITS = np.array(
    [
        [1, 3.204264, 100, 0, 100],
        [3, 35.933491, 100, 10.150815, 100],
        [41, 68.548635, 92.73626, 61.574398, 99.710497],
        [1008, 78.203374, 83.081521, 76.796814, 84.488082],
        [110000, 80.408963, 80.875933, 80.274317, 81.010578],
    ]
)


def test_proportion_limits_match_published_phe_values():
    limits = proportion_funnel_limits(PHE_PROPORTION_LIMITS[:, 0], average=0.80642448, multiplier=100)
    mine = np.column_stack([limits.lower_95, limits.upper_95, limits.lower_998, limits.upper_998])
    # the published baseline has 8 significant figures, so limits agree to about 5e-7 points
    np.testing.assert_allclose(mine, PHE_PROPORTION_LIMITS[:, 1:], rtol=0, atol=2e-6)
    assert limits.centre == pytest.approx(80.642448)


# ukhsa-collaboration/PHEindicatormethods tests/testthat/testdata_funnel_ratio_outputs.csv: for
# observed O, the expected count at which O sits on each limit, and the limit as an ISR (x 100).
# Columns: O, E lower95, ISR lower95, E upper95, ISR upper95, E lower998, ISR lower998, E upper998, ISR upper998.
PHE_RATIO_LIMITS = np.array(
    [
        [2, 7.224687515, 27.6828582, 0.242209467, 825.7315569, 11.22886836, 17.81123382, 0.04540199, 4405.093268],
        [10, 18.39035799, 54.3763205, 4.795387629, 208.5337156, 24.13397235, 41.43536693, 2.960519925, 337.778507],
        [100, 121.6268111, 82.21871402, 81.36400699, 122.9044681, 134.9243187, 74.11562345, 71.92139974, 139.0406755],
        [716, 770.4222128, 92.93605352, 664.5083011, 107.7488421, 802.60414, 89.20960712, 636.1521174, 112.5516964],
    ]
)


@pytest.mark.parametrize(("column", "field"), [(1, "lower_95"), (3, "upper_95"), (5, "lower_998"), (7, "upper_998")])
def test_ratio_limits_match_published_phe_values(column, field):
    expected = PHE_RATIO_LIMITS[:, column]
    limits = ratio_funnel_limits(expected, multiplier=100)
    # PHE's bisection stops at 1e-7 on E / (E + O + 1), so its E carry errors up to about 4e-7
    # relative; agreement to 2e-6 relative (6 significant figures) is all that allows
    np.testing.assert_allclose(getattr(limits, field), PHE_RATIO_LIMITS[:, column + 1], rtol=2e-6)
    np.testing.assert_allclose(getattr(limits, field) * expected / 100, PHE_RATIO_LIMITS[:, 0], rtol=2e-6)
    assert limits.centre == 100


# ukhsa-collaboration/PHEindicatormethods tests/testthat/testdata_funnel_rate_outputs.csv: rate
# funnels per 100,000 around a baseline of 116.1720835 over 3 years of data. For events O, each
# limit and the one-year population at which it lies. Columns per row: O, then (population, limit)
# for lower 95%, upper 95%, lower 99.8%, upper 99.8%.
PHE_RATE_LIMITS = {
    10: [5276.757672, 63.17010446, 1375.943768, 242.2579623, 6924.776769, 48.13632908, 849.4639547, 392.4043292],
    99: [34583.45945, 95.42133877, 23087.10848, 142.9369123, 38382.78582, 85.97604186, 20393.92315, 161.8129075],
    1360: [411529.9259, 110.158048, 369759.5622, 122.6021934, 424043.2424, 106.9073359, 358342.3275, 126.5084525],
}


@pytest.mark.parametrize("events", sorted(PHE_RATE_LIMITS))
def test_rate_limits_match_published_phe_values(events):
    row = np.array(PHE_RATE_LIMITS[events])
    populations, published = row[0::2] * 3, row[1::2]
    limits = rate_funnel_limits(populations, average_rate=116.1720835 / 100_000)
    mine = [limits.lower_95[0], limits.upper_95[1], limits.lower_998[2], limits.upper_998[3]]
    np.testing.assert_allclose(mine, published, rtol=1e-6)
    assert limits.centre == pytest.approx(116.1720835)


def test_limits_narrow_towards_the_centre_as_size_grows():
    limits = ratio_funnel_limits(np.geomspace(1, 1e6, 50))
    for lower, upper in ((limits.lower_95, limits.upper_95), (limits.lower_998, limits.upper_998)):
        assert np.all(np.diff(lower) >= 0) and np.all(np.diff(lower[lower > 0]) > 0)
        assert np.all(np.diff(upper) < 0)
        assert lower[-1] == pytest.approx(1, abs=0.01) and upper[-1] == pytest.approx(1, abs=0.01)
    assert np.all(limits.lower_998 <= limits.lower_95) and np.all(limits.upper_998 >= limits.upper_95)


# ukhsa-collaboration/PHEindicatormethods tests/testthat/testdata_funnel_rate_dsr_inputs.csv, all 40
# rows (the average depends on every row): count, DSR per 100,000, population, and the published
# significance of the DSR and of the crude rate (columns dsr_per_100000_with_0, crude_per_100000_with_0).
H3, H2, L3, L2, NS, NA = "High (0.001)", "High (0.025)", "Low (0.001)", "Low (0.025)", "Not significant", "n/a"
PHE_RATE_SIGNIFICANCE = [
    (2419, 907.6174266, 264102, H3, H3), (2337, 948.5620216, 259711, H3, H3),
    (2291, 799.9690496, 289247, H3, H3), (2242, 852.5637927, 265029, H3, H3),
    (2218, 868.5358183, 284649, H3, H3), (2159, 769.6242217, 293578, H3, H3),
    (2130, 752.3254955, 286718, H2, H3), (2111, 710.2689402, 307381, NS, NS),
    (2105, 815.3530325, 274145, H3, H3), (2083, 717.7035916, 297424, NS, H2),
    (2078, 755.8016993, 272628, H3, H3), (2062, 825.9742848, 269656, H3, H3),
    (2061, 702.2972468, 294692, NS, H2), (2033, 785.6210132, 277710, H3, H3),
    (2033, 743.6763018, 259213, H2, H3), (2010, 781.8323058, 285516, H3, H2),
    (2004, 772.6781064, 269449, H3, H3), (2002, 652.3391553, 290888, L3, NS),
    (1977, 648.4969973, 287112, L3, NS), (1944, 727.5777428, 286492, NS, NS),
    (1932, 625.6551186, 287012, L3, NS), (1922, 688.5582424, 291277, NS, NS),
    (1912, 662.4465438, 289859, L2, NS), (1881, 627.1624732, 289653, L3, NS),
    (1844, 657.1114147, 282519, L2, NS), (1835, 724.8456714, 274220, NS, NS),
    (1833, 659.7820553, 280271, L2, NS), (1825, 654.7053631, 284206, L3, NS),
    (1816, 624.4435507, 274508, L3, NS), (1809, 646.7588823, 288384, L3, L2),
    (1798, 703.1689982, 287072, NS, L2), (1754, 567.9922764, 282744, L3, L3),
    (1746, 617.7750715, 289208, L3, L3), (1709, 610.8327232, 287736, L3, L3),
    (1694, 608.5089462, 296175, L3, L3), (1688, 662.3775859, 303255, L2, L3),
    (1649, 667.6454503, 285959, L2, L3), (1553, 604.1141693, 274661, L3, L3),
    (1332, 469.5645784, 281425, L3, L3), (0, np.nan, 297820, NA, L3),
]  # fmt: skip
CODES = {H3: S.HIGH_998, H2: S.HIGH_95, L3: S.LOW_998, L2: S.LOW_95, NS: S.NOT_SIGNIFICANT, NA: S.NOT_APPLICABLE}


def test_crude_rate_significance_matches_published_phe_values():
    counts, _, populations, _, crude = zip(*PHE_RATE_SIGNIFICANCE)
    codes = rate_funnel_significance(counts, populations)
    np.testing.assert_array_equal(codes, [CODES[c] for c in crude])


def test_dsr_significance_matches_published_phe_values():
    counts, rates, _, dsr, _ = zip(*PHE_RATE_SIGNIFICANCE)
    codes = dsr_funnel_significance(counts, rates)
    np.testing.assert_array_equal(codes, [CODES[c] for c in dsr])


# ukhsa-collaboration/PHEindicatormethods tests/testthat/testdata_funnel_prop_inputs.csv (a handful of
# its rows: numerator, denominator, published significance). The average of the whole file is the
# baseline 80.642448% published with it in testdata_funnel_prop_outputs.csv.
PHE_PROPORTION_SIGNIFICANCE = [
    (35078.4880, 41980, H3),  # New Forest PCT
    (24803.6256, 31824, L3),  # Norwich PCT
    (50050.7443, 61921, NS),  # South Gloucestershire PCT
    (26789.2380, 33012, H2),  # West Norfolk PCT
    (30277.5312, 37828, L2),  # North Devon PCT
    (36850.0492, 45449, H2),  # North Tees PCT
    (18550.7595, 22905, NS),  # Hertsmere PCT
    (14493.3552, 17964, NS),  # Heywood and Middleton PCT
]


def test_proportion_significance_matches_published_phe_values():
    x, n, published = zip(*PHE_PROPORTION_SIGNIFICANCE)
    codes = proportion_funnel_significance(x, n, average=0.80642448)
    np.testing.assert_array_equal(codes, [CODES[c] for c in published])


# ukhsa-collaboration/PHEindicatormethods tests/testthat/testdata_funnel_ratio_inputs.csv (commit
# b79d644, a handful of rows): observed, expected and the published significance against 1.
PHE_RATIO_SIGNIFICANCE = [
    (8, 6.239860227, NS), (151, 106.4429719, H3), (159, 232.9329036, L3), (150, 119.5695496, H2),
    (0, 240.6273499, L3), (101, 126.2973615, L2), (16, 36.38844667, L3), (6, 4.293052052, NS),
    (27, 26.73002673, NS), (87, 45.27241505, H3), (35, 56.15273544, L2), (74, 52.09066592, H2),
    (113, 96.14566494, NS), (39, 50.23183926, NS), (48, 64, L2), (25, 55.01760563, L3),
]  # fmt: skip


def test_ratio_significance_matches_published_phe_values():
    observed, expected, published = zip(*PHE_RATIO_SIGNIFICANCE)
    codes = ratio_funnel_significance(observed, expected)
    np.testing.assert_array_equal(codes, [CODES[c] for c in published])


def test_a_given_average_replaces_the_pooled_one():
    x, n = [500, 520], [1000, 1000]  # pooled 0.51: neither is significant
    np.testing.assert_array_equal(proportion_funnel_significance(x, n), [S.NOT_SIGNIFICANT] * 2)
    # against 0.45: sd 0.0157321; 0.50 is above 0.45 + 3.090232 sd = 0.498616, so both are high at 99.8%
    np.testing.assert_array_equal(proportion_funnel_significance(x, n, average=0.45), [S.HIGH_998] * 2)
    np.testing.assert_array_equal(rate_funnel_significance([100], [1000], average_rate=0.2), [S.LOW_998])


def test_proportion_significance_worked_by_hand():
    # average 2515 / 5000 = 0.503, sd sqrt(0.503 x 0.497 / 1000) = 0.0158111;
    # 95% limits 0.503 -/+ 1.959964 sd = [0.472011, 0.533989]; 99.8%: -/+ 3.090232 sd = [0.454140, 0.551860].
    codes = proportion_funnel_significance([500, 560, 440, 545, 470], [1000] * 5)
    np.testing.assert_array_equal(codes, [S.NOT_SIGNIFICANT, S.HIGH_998, S.LOW_998, S.HIGH_95, S.LOW_95])
    assert codes.dtype == np.int8


def test_ratio_significance_worked_by_hand():
    # 20 observed vs 10 expected: Byar 95% lower 12.22 / 10 > 1, but 99.8% lower 8.92 / 10 < 1.
    # 0 observed vs 5 expected: exact 95% upper 3.689 / 5 < 1, but 99.8% upper 6.908 / 5 > 1.
    # 30 observed vs 10 expected: Byar 99.8% lower 16.6 / 10 > 1.  10 vs 10: not significant.
    codes = ratio_funnel_significance([20, 0, 30, 10], [10, 5, 10, 10])
    np.testing.assert_array_equal(codes, [S.HIGH_95, S.LOW_95, S.HIGH_998, S.NOT_SIGNIFICANT])


def test_labels_are_plain_english():
    assert S.HIGH_998.label == "High (outside the 99.8% limit)"
    assert S(0).label == "Not significantly different"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: proportion_funnel_limits([10, 0], 0.5), r"denominators\[1\] is 0.0"),
        (lambda: proportion_funnel_limits([10], 1.5), "average is 1.5"),
        (lambda: ratio_funnel_limits([1, -1]), r"expected\[1\] is -1.0"),
        (lambda: rate_funnel_limits([100], 0), "average_rate is 0"),
        (lambda: proportion_funnel_significance([5, 11], [10, 10]), r"numerators\[1\] is 11.0"),
        (lambda: ratio_funnel_significance([5], [0]), r"expected\[0\] is 0.0"),
        (lambda: rate_funnel_significance([5, 1], [10]), "numerators has 2, denominators has 1"),
        (lambda: dsr_funnel_significance([50, 12], [100.0, np.nan]), r"rates\[1\] is nan"),
        (lambda: proportion_funnel_significance([5], [10], average=2.0), "average is 2.0"),
    ],
)
def test_bad_input_is_rejected_with_a_clear_message(call, message):
    with pytest.raises(ValueError, match=message):
        call()
