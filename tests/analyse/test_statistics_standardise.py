"""Direct and indirect standardisation against hand-worked values and a scalar reference.

The scalar reference below follows the published definitions (Dobson et al. 1991; Breslow & Day
1987) one group at a time in 50-digit decimals: it shares no code with the vectorised functions.
"""

from __future__ import annotations

from decimal import Decimal, getcontext
from statistics import NormalDist

import numpy as np
import pytest
from scipy import stats

from placewise.analyse.statistics import (
    ESP2013,
    ESP2013_BANDS,
    crude_rate,
    directly_standardised_rate,
    esp2013_band,
    expected_counts,
    indirectly_standardised_rate,
    indirectly_standardised_ratio,
    standardised_mean_gap,
)

getcontext().prec = 50


def byar(o: Decimal, confidence: float) -> tuple[Decimal, Decimal]:
    """Byar's limits for a total count, in decimals."""
    z = Decimal(NormalDist().inv_cdf(0.5 + confidence / 2))
    o1 = o + 1
    return (
        o * (1 - 1 / (9 * o) - z / (3 * o.sqrt())) ** 3,
        o1 * (1 - 1 / (9 * o1) + z / (3 * o1.sqrt())) ** 3,
    )


def dsr_by_hand(counts, populations, standard, confidence=0.95, multiplier=100_000):
    """One group's DSR and Dobson limits, straight from the published formulae."""
    x = [Decimal(int(v)) for v in counts]
    n = [Decimal(int(v)) for v in populations]
    w = [Decimal(int(v)) for v in standard]
    total_w = sum(w)
    observed = sum(x)
    dsr = sum(xi * wi / ni for xi, wi, ni in zip(x, w, n)) / total_w
    variance = sum(xi * (wi / ni) ** 2 for xi, wi, ni in zip(x, w, n)) / total_w**2
    lower_o, upper_o = byar(observed, confidence)
    scale = (variance / observed).sqrt()
    limits = (dsr, dsr + scale * (lower_o - observed), dsr + scale * (upper_o - observed))
    return [float(v * multiplier) for v in limits]


def test_esp2013_is_the_published_standard():
    assert len(ESP2013) == len(ESP2013_BANDS) == 19
    assert ESP2013.sum() == 100_000
    assert ESP2013[0] == 5000 and ESP2013[12] == 6000 and ESP2013[-1] == 1000
    np.testing.assert_array_equal(esp2013_band(np.array([0, 4, 5, 64, 89, 90, 104])), [0, 0, 1, 12, 17, 18, 18])


def test_three_band_example_worked_by_hand():
    # standard 1000, 2000, 3000; counts 5, 20, 30; populations 1000, 2000, 1500:
    # weighted sum 5 + 20 + 60 = 85 -> DSR 85 / 6000 = 0.0141667 = 1416.667 per 100,000;
    # variance 145 / 6000^2 = 4.027778e-6; O = 55; sqrt(var / 55) = 2.70615e-4;
    # Byar(55) = 55 x 0.909886^3 = 41.4309 and 56 x 1.0853196^3 = 71.5915, so the limits are
    # 0.0141667 - 2.70615e-4 x 13.5691 = 0.0104947 and 0.0141667 + 2.70615e-4 x 16.5915 = 0.0186566.
    result = directly_standardised_rate(
        [5, 20, 30], [1000, 2000, 1500], [0, 0, 0], [0, 1, 2], standard=[1000, 2000, 3000]
    )
    assert result.value[0] == pytest.approx(1416.6666667, rel=1e-10)
    assert result.observed[0] == 55 and result.population[0] == 4500
    _value, lower, upper = dsr_by_hand([5, 20, 30], [1000, 2000, 1500], [1000, 2000, 3000])
    assert result.lower[0] == pytest.approx(lower, rel=1e-12)
    assert result.upper[0] == pytest.approx(upper, rel=1e-12)
    assert lower == pytest.approx(1049.47, rel=1e-5)  # the hand calculation above checks the reference
    assert upper == pytest.approx(1865.66, rel=1e-5)


@pytest.mark.parametrize("confidence", [0.95, 0.998])
def test_many_groups_with_esp2013_agree_with_scalar_reference(confidence):
    rng = np.random.default_rng(2013)
    n_groups = 40
    counts = rng.poisson(rng.uniform(0.5, 30, size=(n_groups, 19)))
    populations = rng.integers(50, 20_000, size=(n_groups, 19))
    group = np.repeat(np.arange(n_groups), 19)
    band = np.tile(np.arange(19), n_groups)
    order = rng.permutation(group.size)  # rows in any order
    result = directly_standardised_rate(
        counts.ravel()[order], populations.ravel()[order], group[order], band[order], confidence=confidence
    )
    worked = np.array([dsr_by_hand(counts[g], populations[g], ESP2013, confidence) for g in range(n_groups)])
    np.testing.assert_allclose(result.value, worked[:, 0], rtol=1e-10)
    np.testing.assert_allclose(result.lower, worked[:, 1], rtol=1e-10)
    np.testing.assert_allclose(result.upper, worked[:, 2], rtol=1e-10)
    np.testing.assert_array_equal(result.observed, counts.sum(axis=1))


def test_population_proportional_to_standard_gives_the_crude_rate_and_its_limits():
    # Dobson's limits are exact when the population is a multiple of the standard population.
    counts = np.array([3, 9, 4, 0, 12, 7, 1, 2, 5, 6, 8, 3, 2, 9, 4, 6, 2, 1, 1])
    populations = ESP2013 * 0.3
    result = directly_standardised_rate(counts, populations, np.zeros(19, dtype=int), np.arange(19))
    crude = crude_rate([counts.sum()], [populations.sum()])
    np.testing.assert_allclose(
        [result.value, result.lower, result.upper], [crude.value, crude.lower, crude.upper], rtol=1e-12
    )


def test_fewer_than_ten_events_gives_no_dsr():
    counts = np.zeros(38)
    counts[[3, 40 - 19]] = [4, 5]  # 4 events in group 0, 5 in group 1
    counts[19 + 5] = 1
    result = directly_standardised_rate(counts, np.full(38, 1000), np.repeat([0, 1], 19), np.tile(np.arange(19), 2))
    np.testing.assert_array_equal(result.observed, [4, 6])
    assert np.isnan(result.value).all() and np.isnan(result.lower).all() and np.isnan(result.upper).all()


def test_empty_band_without_events_contributes_zero_rate():
    with_empty = directly_standardised_rate([10, 5, 0], [1000, 500, 0], [0, 0, 0], [0, 1, 2], standard=[1, 1, 1])
    # (10/1000 + 5/500 + 0) / 3 = 0.0066667
    assert with_empty.value[0] == pytest.approx(0.02 / 3 * 100_000)


@pytest.mark.parametrize(
    ("counts", "populations", "group", "band", "message"),
    [
        ([1, 2], [10, 10], [0, 0], [0, 0], "group 0 has 2 rows for band 0"),
        ([1, 2], [10, 10], [0, 1], [0, 1], "group 0 has 0 rows for band 1"),
        ([1, -2], [10, 10], [0, 0], [0, 1], r"counts\[1\] is -2.0"),
        ([1, 2], [10, 0], [0, 0], [0, 1], r"populations\[1\] is 0.0; it is zero for a row with events"),
        ([1, 2], [10, 10], [0, 0], [0, 2], r"band\[1\] is 2; it must be less than 2"),
        ([1, 2], [10, 10], [0, -1], [0, 1], r"group\[1\] is -1"),
        ([1, 2], [10, 10], [0.0, 0.0], [0, 1], "group must hold integer codes"),
        ([1, 2, 3], [10, 10], [0, 0], [0, 1], "counts has 3, populations has 2"),
        ([1, 2], [10, 10], [0, 7], [0, 1], "group codes run up to 7 but there are only 2 rows"),
    ],
)
def test_dsr_rejects_bad_input(counts, populations, group, band, message):
    with pytest.raises(ValueError, match=message):
        directly_standardised_rate(counts, populations, group, band, standard=[1, 1])


# Indirect standardisation, worked by hand:
# reference rates 10/10,000, 40/20,000, 100/10,000 = 0.001, 0.002, 0.01 per person;
# area A populations 2,000, 3,000, 500 -> expected 2 + 6 + 5 = 13; area B 1,000, 1,000, 100 -> 1 + 2 + 1 = 4.
REF_COUNTS, REF_POPS = [10, 40, 100], [10_000, 20_000, 10_000]


def test_expected_counts_by_hand():
    populations = [2000, 3000, 500, 1000, 1000, 100]
    expected = expected_counts(populations, [0, 0, 0, 1, 1, 1], [0, 1, 2, 0, 1, 2], REF_COUNTS, REF_POPS)
    np.testing.assert_allclose(expected, [13.0, 4.0])


def test_indirectly_standardised_ratio_by_hand():
    result = indirectly_standardised_ratio([20, 5], [13.0, 4.0], multiplier=100)
    np.testing.assert_allclose(result.value, [2000 / 13, 125.0])
    lower_20, upper_20 = (float(v) for v in byar(Decimal(20), 0.95))
    assert result.lower[0] == pytest.approx(lower_20 / 13 * 100, rel=1e-12)
    assert result.upper[0] == pytest.approx(upper_20 / 13 * 100, rel=1e-12)
    # five observed events use exact limits: chi2(0.025; 10)/2 and chi2(0.975; 12)/2
    assert result.lower[1] == pytest.approx(stats.chi2.ppf(0.025, 10) / 2 / 4 * 100, rel=1e-10)
    assert result.upper[1] == pytest.approx(stats.chi2.ppf(0.975, 12) / 2 / 4 * 100, rel=1e-10)


def test_indirectly_standardised_rate_by_hand():
    reference_rate = sum(REF_COUNTS) / sum(REF_POPS)  # 150 / 40,000 = 0.00375 per person
    result = indirectly_standardised_rate([20], [13.0], reference_rate)
    assert result.value[0] == pytest.approx(20 / 13 * 375.0)  # 576.923 per 100,000
    ratio = indirectly_standardised_ratio([20], [13.0])
    assert result.lower[0] == pytest.approx(ratio.lower[0] * 375.0)
    assert result.upper[0] == pytest.approx(ratio.upper[0] * 375.0)


def test_indirect_standardisation_rejects_bad_input():
    with pytest.raises(ValueError, match=r"expected\[1\] is 0.0; it must be more than zero"):
        indirectly_standardised_ratio([1, 2], [1.0, 0.0])
    with pytest.raises(ValueError, match=r"observed\[0\] is -1.0"):
        indirectly_standardised_ratio([-1], [1.0])
    with pytest.raises(ValueError, match=r"reference_populations\[2\] is 0.0"):
        expected_counts([1], [0], [0], [1, 1, 1], [5, 5, 0])
    with pytest.raises(ValueError, match="reference_rate is"):
        indirectly_standardised_rate([1], [1.0], reference_rate=0.0)


def test_standardised_mean_gap_worked_by_hand() -> None:
    """Two bands of equal weight. First group: band 0 {10, 12} (mean 11, variance 2), band 1 {20, 24} (22, 8);
    second: band 0 {14, 16} (15, 2), band 1 {30, 30, 30} (30, 0). Means 16.5 and 22.5, gap 6; variances
    0.25 x 2/2 + 0.25 x 8/2 = 1.25 and 0.25 x 2/2 = 0.25, so the standard error is sqrt(1.5)."""
    values = [10, 12, 20, 24, 14, 16, 30, 30, 30]
    band = [0, 0, 1, 1, 0, 0, 1, 1, 1]
    first = [True] * 4 + [False] * 5
    est = standardised_mean_gap(values, band, first, standard=[1.0, 1.0])
    half = 1.959963985 * np.sqrt(1.5)
    np.testing.assert_allclose([est.value[0], est.lower[0], est.upper[0]], [6.0, 6.0 - half, 6.0 + half], rtol=1e-9)


def test_standardised_mean_gap_uses_only_bands_both_groups_fill() -> None:
    """A band where one group has fewer than two people is left out for both groups."""
    values = [10, 12, 20, 24, 14, 16, 30, 30, 30, 99, 1, 2]
    band = [0, 0, 1, 1, 0, 0, 1, 1, 1, 2, 2, 2]
    first = [True] * 4 + [False] * 5 + [True, False, False]
    assert standardised_mean_gap(values, band, first, standard=[1.0, 1.0, 1.0]).value[0] == pytest.approx(6.0)


def test_standardised_mean_gap_removes_a_difference_due_only_to_age_structure() -> None:
    """Same mean in every band for both groups, but the second group is mostly in the younger band: the crude
    difference is large, the standardised gap is zero."""
    rng = np.random.default_rng(3)
    band = np.r_[np.zeros(100, int), np.ones(900, int), np.zeros(900, int), np.ones(100, int)]
    values = np.where(band == 0, 30.0, 60.0) + rng.normal(0, 1, len(band))
    first = np.r_[np.ones(1000, bool), np.zeros(1000, bool)]
    crude = values[~first].mean() - values[first].mean()
    est = standardised_mean_gap(values, band, first, standard=[1.0, 1.0])
    assert crude < -20
    assert abs(est.value[0]) < 0.2 and est.lower[0] < 0 < est.upper[0]


def test_standardised_mean_gap_with_no_common_band_is_nan() -> None:
    est = standardised_mean_gap([1, 2, 3, 4], [0, 0, 1, 1], [True, True, False, False], standard=[1.0, 1.0])
    assert np.isnan(est.value[0])
