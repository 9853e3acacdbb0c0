"""SPC (Making Data Count XmR charts): designed cases worked by hand, and NHSRplotthedots' own test values.

Hand-worked series use values whose mean and mean moving range (MR-bar) are easy to check: the arithmetic is
in the comments. Process limits = mean +/- 2.66 MR-bar; two-sigma lines = mean +/- (2 x 2.66 / 3) MR-bar.
"""

from __future__ import annotations

import numpy as np
import pytest

from placewise.analyse.spc import (
    AssuranceIcon,
    PointType,
    Rule,
    ShortSeriesWarning,
    SpcInputError,
    VariationIcon,
    _run_span,
    _two_of_three,
    describe_latest,
    spc,
)

ALTERNATING = [1.0, 3.0] * 6  # mean 2; eleven moving ranges of 2, so MR-bar 2


def flagged(mask: np.ndarray) -> list[int]:
    """Indices where a per-point mask of one series is set."""
    return np.flatnonzero(mask[0]).tolist()


# --- limits ---------------------------------------------------------------------------------------------------

def test_limits_of_a_hand_worked_series() -> None:
    r = spc(ALTERNATING, polarity="higher_is_better")
    # mean 2, MR-bar 2: limits 2 -/+ 5.32; two-sigma lines 2 -/+ 3.546667
    assert r.mean[0] == pytest.approx([2.0] * 12)
    assert r.moving_range_mean[0, 0] == pytest.approx(2.0)
    assert r.lpl[0, 0] == pytest.approx(-3.32)
    assert r.upl[0, 0] == pytest.approx(7.32)
    assert r.lower_two_sigma[0, 0] == pytest.approx(2 - 2 * 2.66 / 3 * 2)
    assert r.upper_two_sigma[0, 0] == pytest.approx(2 + 2 * 2.66 / 3 * 2)
    assert not r.special_cause.any()
    assert r.variation_icon[0] == VariationIcon.COMMON_CAUSE


def test_outlying_moving_range_is_screened_once() -> None:
    y = [10, 11, 10, 11, 10, 11, 10, 11, 10, 30]
    # mean 124 / 10 = 12.4. Moving ranges: eight of 1 and one of 20, MR-bar 28 / 9 = 3.111;
    # 20 >= 3.267 x 3.111 = 10.16, so it is screened out and MR-bar becomes 1: limits 9.74 to 15.06.
    with pytest.warns(ShortSeriesWarning):
        screened = spc(y, polarity="higher_is_better")
        unscreened = spc(y, polarity="higher_is_better", screen_outliers=False)
    assert screened.mean[0, 0] == pytest.approx(12.4)
    assert screened.moving_range_mean[0, 0] == pytest.approx(1.0)
    assert screened.upl[0, 0] == pytest.approx(12.4 + 2.66)
    assert screened.lpl[0, 0] == pytest.approx(12.4 - 2.66)
    assert unscreened.moving_range_mean[0, 0] == pytest.approx(28 / 9)
    assert unscreened.upl[0, 0] == pytest.approx(12.4 + 2.66 * 28 / 9)
    # 30 is beyond the upper limit either way (15.06 screened, 20.68 not); the nine before it form a run below
    assert flagged(screened.beyond_limits) == [9]
    assert flagged(unscreened.beyond_limits) == [9]
    assert flagged(screened.run) == list(range(9))


def test_nhsrplotthedots_standard_values_for_rnorm_seed_123() -> None:
    # NHSRplotthedots tests/testthat/test-ptd_spc_standard.R: set.seed(123); y <- rnorm(20); expected values
    # from its snapshot tests/testthat/_snaps/ptd_spc_standard.md (printed to 7 significant figures).
    y = np.array([-0.56047565, -0.23017749, 1.55870831, 0.07050839, 0.12928774, 1.71506499, 0.46091621,
                  -1.26506123, -0.68685285, -0.44566197, 1.22408180, 0.35981383, 0.40077145, 0.11068272,
                  -0.55584113, 1.78691314, 0.49785048, -1.96661716, 0.70135590, -0.47279141])
    r1 = spc(y, polarity="higher_is_better")
    assert r1.mean[0, 0] == pytest.approx(0.1416238, abs=5e-8)
    assert r1.lpl[0, 0] == pytest.approx(-3.01138, abs=5e-6)
    assert r1.upl[0, 0] == pytest.approx(3.294627, abs=5e-7)
    assert np.sign(y - r1.mean[0]).tolist()[:13] == [-1, -1, 1, -1, -1, 1, 1, -1, -1, -1, 1, 1, 1]
    assert not r1.beyond_limits.any() and not r1.two_in_three.any()
    y[14] = 10  # data$y[15] <- 10
    r2 = spc(y, polarity="higher_is_better")
    assert r2.mean[0, 0] == pytest.approx(0.6694159, abs=5e-8)
    assert r2.lpl[0, 0] == pytest.approx(-2.383666, abs=5e-7)
    assert r2.upl[0, 0] == pytest.approx(3.722497, abs=5e-7)
    r3 = spc(y, polarity="higher_is_better", screen_outliers=False)
    assert r3.lpl[0, 0] == pytest.approx(-4.596625, abs=5e-7)
    assert r3.upl[0, 0] == pytest.approx(5.935457, abs=5e-7)


def test_series_are_charted_independently_like_facets() -> None:
    # NHSRplotthedots _snaps/ptd_spc.md, summary with facet_field: the rnorm(20) series split into two facets
    # of ten: mean 0.0746 / 0.209, lpl -2.60 / -3.28, upl 2.75 / 3.70 (three significant figures).
    y = np.array([-0.56047565, -0.23017749, 1.55870831, 0.07050839, 0.12928774, 1.71506499, 0.46091621,
                  -1.26506123, -0.68685285, -0.44566197, 1.22408180, 0.35981383, 0.40077145, 0.11068272,
                  -0.55584113, 1.78691314, 0.49785048, -1.96661716, 0.70135590, -0.47279141])
    with pytest.warns(ShortSeriesWarning):
        r = spc(y.reshape(2, 10), polarity="higher_is_better")
    assert r.mean[:, 0] == pytest.approx([0.0746, 0.209], abs=5e-4)
    assert r.lpl[:, 0] == pytest.approx([-2.60, -3.28], abs=5e-3)
    assert r.upl[:, 0] == pytest.approx([2.75, 3.70], abs=5e-3)


# --- special-cause rules --------------------------------------------------------------------------------------

def test_run_of_seven_flagged_six_not() -> None:
    # Alternating +/-1 then a run on each side of the mean; the whole series sums to 0, so the mean is exactly 0.
    # Moving ranges: 7 x 2, 1.5, 6 x 0, 1, 6 x 0, 1.5, 7 x 2 = 32 over 29; limits +/- 2.935, two-sigma +/- 1.957.
    seven = [1.0, -1.0] * 4 + [0.5] * 7 + [-0.5] * 7 + [1.0, -1.0] * 4
    r = spc(seven, polarity="higher_is_better")
    assert r.mean[0, 0] == 0.0
    assert r.moving_range_mean[0, 0] == pytest.approx(32 / 29)
    assert flagged(r.run) == list(range(8, 22))
    assert r.point_type[0, 8:15].tolist() == [PointType.IMPROVEMENT] * 7
    assert r.point_type[0, 15:22].tolist() == [PointType.CONCERN] * 7
    assert (r.rule[0, 8:22] == Rule.RUN).all()
    six = [1.0, -1.0] * 4 + [0.5] * 6 + [-0.5] * 6 + [1.0, -1.0] * 4
    assert not spc(six, polarity="higher_is_better").special_cause.any()


def test_a_point_on_the_mean_breaks_a_run() -> None:
    above = [0.5, 0.5, 0.5, 0.0, 0.5, 0.5, 0.5]
    y = [1.0, -1.0] * 4 + above + [-v for v in above] + [1.0, -1.0] * 4
    r = spc(y, polarity="higher_is_better")
    assert r.mean[0, 0] == 0.0
    assert not r.run.any()


def test_trend_of_seven_flagged_six_not_and_ties_break_trends() -> None:
    # 0, 8, ... then 1..7 rising, then 0, 8, ...: sum 76 over 19 points, mean 4; moving ranges 5 x 8, 7, 6 x 1,
    # 7, 5 x 8 = 100 over 18; limits 4 +/- 14.78, two-sigma 4 +/- 9.85, so only the trend rule can fire.
    y = [0.0, 8.0] * 3 + [1, 2, 3, 4, 5, 6, 7] + [0.0, 8.0] * 3
    r = spc(y, polarity="higher_is_better")
    assert r.mean[0, 0] == pytest.approx(4.0)
    assert r.moving_range_mean[0, 0] == pytest.approx(100 / 18)
    assert flagged(r.trend) == list(range(6, 13))
    assert (r.direction[0, 6:13] == 1).all()
    assert r.point_type[0, 6:13].tolist() == [PointType.IMPROVEMENT] * 7
    down = spc(y, polarity="lower_is_better")
    assert down.point_type[0, 6:13].tolist() == [PointType.CONCERN] * 7
    six = [0.0, 8.0] * 3 + [2, 3, 4, 5, 6, 7] + [0.0, 8.0] * 3
    assert not spc(six, polarity="higher_is_better").trend.any()
    tie = [0.0, 8.0] * 3 + [1, 2, 3, 3, 4, 5, 6, 7] + [0.0, 8.0] * 3
    assert not spc(tie, polarity="higher_is_better").trend.any()


@pytest.mark.parametrize(
    ("y", "expected"),
    [
        # NHSRplotthedots tests/testthat/test-ptd_calculate_point_type.R, ptd_seven_point_trend() cases, with the
        # points each trend covers (ptd_part_of_seven_trend).
        ([1, 2, 3, 4, 5, 6], []),
        ([1, 2, 3, 3, 4, 5, 6], []),
        ([1, 2, 3, 4, 5, 6, 7], list(range(7))),
        ([2, 1, 2, 3, 4, 5, 6, 7, 3], list(range(1, 8))),
        ([7, 6, 5, 4, 3, 2, 1], list(range(7))),
        ([2, 7, 6, 5, 4, 3, 2, 1, 3], list(range(1, 8))),
    ],
)
def test_trend_cases_from_nhsrplotthedots(y: list[int], expected: list[int]) -> None:
    with pytest.warns(ShortSeriesWarning):
        r = spc(np.array(y, dtype=float), polarity="neutral")
    assert flagged(r.trend) == expected


def test_peak_shared_by_two_trends_takes_the_direction_after_it() -> None:
    # Seven rising then six more falling: the peak belongs to both trends; NHSRplotthedots colours it by the
    # step to its right (falling). Sum 97 over 25, mean 3.88; moving ranges 5 x 8, 7, 12 x 1, 7, 5 x 8 = 106
    # over 24, limits 3.88 +/- 11.75, so no point is beyond them and the trend rule decides every direction.
    y = np.array([0, 8] * 3 + [1, 2, 3, 4, 5, 6, 7, 6, 5, 4, 3, 2, 1] + [8, 0] * 3, dtype=float)
    r = spc(y, polarity="higher_is_better")
    assert r.moving_range_mean[0, 0] == pytest.approx(106 / 24)
    assert flagged(r.trend) == list(range(6, 19))
    assert (r.rule[0, 6:19] == Rule.TREND).all()
    assert r.direction[0, 6:12].tolist() == [1] * 6
    assert r.direction[0, 12:19].tolist() == [-1] * 7
    assert r.point_type[0, 12] == PointType.CONCERN


@pytest.mark.parametrize(
    ("close", "side", "expected"),
    [
        # NHSRplotthedots test-ptd_calculate_point_type.R, ptd_two_in_three() / ptd_part_of_two_in_three().
        ([1, 0, 1], [1, 1, 1], [1, 0, 1]),
        ([0, 1, 1], [1, 1, 1], [0, 1, 1]),
        ([1, 1, 0], [1, 1, 1], [1, 1, 0]),
        ([0, 0, 1, 0, 1, 0, 0], [1] * 7, [0, 0, 1, 0, 1, 0, 0]),
        ([0, 0, 1, 1, 0, 0, 0], [1] * 7, [0, 0, 1, 1, 0, 0, 0]),
        ([1, 0, 0, 1], [1] * 4, [0, 0, 0, 0]),
        ([1, 0, 0, 1, 1], [1] * 5, [0, 0, 0, 1, 1]),
        # "works as expected when points are on opposite sides of the mean" (issue #143)
        ([1, 0, 1], [1, -1, 1], [0, 0, 0]),
        ([0, 1, 1], [1, -1, 1], [0, 0, 0]),
        ([1, 1, 0], [1, -1, 1], [0, 0, 0]),
        ([0, 0, 1, 1, 0, 0, 0], [-1, 1, -1, 1, -1, 1, -1], [0] * 7),
    ],
)
def test_two_in_three_cases_from_nhsrplotthedots(close: list[int], side: list[int], expected: list[int]) -> None:
    c = np.array([close], dtype=bool)
    s = np.array([side], dtype=np.int8)
    position = np.arange(len(close))[None, :]
    assert (c & _two_of_three(c, s, position)).astype(int)[0].tolist() == expected


@pytest.mark.parametrize(
    ("side", "expected"),
    [
        # NHSRplotthedots test-ptd_calculate_point_type.R, ptd_seven_point_one_side_mean() then part-of-run.
        ([1] * 6, [0] * 6),
        ([1] * 6 + [-1], [0] * 7),
        ([1] * 8 + [-1], [1] * 8 + [0]),
        ([-1] * 8 + [1], [1] * 8 + [0]),
        ([-1] + [1] * 8 + [-1], [0] + [1] * 8 + [0]),
    ],
)
def test_run_cases_from_nhsrplotthedots(side: list[int], expected: list[int]) -> None:
    s = np.array([side], dtype=np.int8)
    position = np.arange(len(side))[None, :]
    assert ((s != 0) & (_run_span(s, position) >= 7)).astype(int)[0].tolist() == expected


def test_two_of_three_beyond_two_sigma_flags_only_those_points() -> None:
    # sum 30 over 30 points, mean 1; moving ranges 11 x 2, 4 x 4, 5 x 2, 4 x 4, 5 x 2 = 74 over 29;
    # two-sigma lines 1 +/- 4.525 (-3.525, 5.525), limits 1 +/- 6.788. 6 and -4 are beyond two sigma only.
    y = [0.0, 2.0] * 6 + [6, 2, 6] + [2.0, 0.0] * 3 + [-4, 0, -4] + [0.0, 2.0] * 3
    r = spc(y, polarity="higher_is_better")
    assert r.mean[0, 0] == pytest.approx(1.0)
    assert r.moving_range_mean[0, 0] == pytest.approx(74 / 29)
    assert not r.beyond_limits.any()
    assert flagged(r.two_in_three) == [12, 14, 21, 23]
    assert r.point_type[0, [12, 13, 14]].tolist() == [PointType.IMPROVEMENT, PointType.COMMON_CAUSE,
                                                      PointType.IMPROVEMENT]
    assert r.point_type[0, [21, 23]].tolist() == [PointType.CONCERN, PointType.CONCERN]


def test_two_of_three_needs_all_three_on_the_same_side() -> None:
    # As above but the middle points sit on the mean (1): sum still 30, so no window qualifies.
    y = [0.0, 2.0] * 6 + [6, 1, 6] + [2.0, 0.0] * 3 + [-4, 1, -4] + [0.0, 2.0] * 3
    r = spc(y, polarity="higher_is_better")
    assert r.mean[0, 0] == pytest.approx(1.0)
    assert not r.two_in_three.any()
    # NHSRplotthedots test-ptd_spc_standard.R: two successive points near opposite limits are common cause.
    z = np.array([1.0, -1.0] * 8)
    z[14], z[15] = 5.5, -5.5
    assert spc(z, polarity="higher_is_better").point_type[0, -2:].tolist() == [PointType.COMMON_CAUSE] * 2


# --- polarity and icons ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("last", "polarity", "point_type", "icon"),
    [
        # [1, 3] x 6 then an outlier: its moving range is screened, MR-bar stays 2, so +20 / -16 are beyond.
        (20.0, "higher_is_better", PointType.IMPROVEMENT, VariationIcon.IMPROVEMENT_HIGH),
        (-16.0, "higher_is_better", PointType.CONCERN, VariationIcon.CONCERN_LOW),
        (20.0, "lower_is_better", PointType.CONCERN, VariationIcon.CONCERN_HIGH),
        (-16.0, "lower_is_better", PointType.IMPROVEMENT, VariationIcon.IMPROVEMENT_LOW),
        (20.0, "neutral", PointType.NEITHER_HIGH, VariationIcon.NEITHER_HIGH),
        (-16.0, "neutral", PointType.NEITHER_LOW, VariationIcon.NEITHER_LOW),
    ],
)
def test_point_type_and_variation_icon_honour_polarity(
    last: float, polarity: str, point_type: PointType, icon: VariationIcon,
) -> None:
    r = spc(ALTERNATING + [last], polarity=polarity)
    assert r.moving_range_mean[0, 0] == pytest.approx(2.0)
    assert r.point_type[0, -1] == point_type
    assert r.variation_icon[0] == icon


@pytest.mark.parametrize(
    ("target", "polarity", "icon"),
    [
        # limits of ALTERNATING: -3.32 to 7.32
        (8.0, "higher_is_better", AssuranceIcon.CONSISTENTLY_FAIL),
        (-4.0, "higher_is_better", AssuranceIcon.CONSISTENTLY_PASS),
        (8.0, "lower_is_better", AssuranceIcon.CONSISTENTLY_PASS),
        (-4.0, "lower_is_better", AssuranceIcon.CONSISTENTLY_FAIL),
        (5.0, "higher_is_better", AssuranceIcon.INCONSISTENT),
        (5.0, "lower_is_better", AssuranceIcon.INCONSISTENT),
        (8.0, "neutral", AssuranceIcon.NONE),
        (None, "higher_is_better", AssuranceIcon.NONE),
    ],
)
def test_assurance_icon(target: float | None, polarity: str, icon: AssuranceIcon) -> None:
    assert spc(ALTERNATING, polarity=polarity, target=target).assurance_icon[0] == icon


def test_no_assurance_without_process_limits() -> None:
    """One point has no moving range, so no limits: the target is not 'within the limits' (hit or miss)."""
    r = spc(np.array([[5.6]]), polarity="lower_is_better", target=7.0)
    assert not np.isfinite(r.upl[0, 0]) and r.assurance_icon[0] == AssuranceIcon.NONE
    text = describe_latest(r, 0, ["Mar 2021"])
    assert "hit or miss" not in text and "trial limits" not in text   # there are no limits to call trial limits
    assert text.startswith("Too few points for process limits (1 point to Mar 2021)")


def test_assurance_uses_the_latest_segment_and_per_series_targets() -> None:
    # Second series: a rebase to [11, 13] x 6 gives latest limits 12 -/+ 5.32; a target of 8 is then
    # inside them, although it is above the first segment's upper limit.
    y = np.array([ALTERNATING * 2, ALTERNATING + [11.0, 13.0] * 6])
    rebase = np.zeros_like(y, dtype=bool)
    rebase[1, 12] = True
    r = spc(y, polarity="higher_is_better", target=[8.0, 8.0], rebase=rebase)
    assert r.assurance_icon.tolist() == [AssuranceIcon.CONSISTENTLY_FAIL, AssuranceIcon.INCONSISTENT]
    r = spc(y, polarity="higher_is_better", target=[np.nan, 20.0], rebase=rebase)
    assert r.assurance_icon.tolist() == [AssuranceIcon.NONE, AssuranceIcon.CONSISTENTLY_FAIL]


# --- rebasing, fixing, ragged series ----------------------------------------------------------------------------

def test_rebase_computes_limits_per_segment_and_rules_stop_at_the_boundary() -> None:
    y = ALTERNATING + [11.0, 13.0] * 6
    rebase = np.zeros(24, dtype=bool)
    rebase[12] = True
    r = spc(y, polarity="higher_is_better", rebase=rebase)
    assert r.segment[0].tolist() == [0] * 12 + [1] * 12
    assert r.mean[0].tolist() == pytest.approx([2.0] * 12 + [12.0] * 12)
    assert r.upl[0].tolist() == pytest.approx([7.32] * 12 + [17.32] * 12)
    assert not r.special_cause.any()
    # Without the rebase: mean 7; the jump's moving range (8) is screened (>= 3.267 x 52/23), MR-bar 2; limits
    # 1.68 to 12.32 put the 1s below and the 13s above, and each half is a run of twelve.
    whole = spc(y, polarity="higher_is_better")
    assert whole.mean[0, 0] == pytest.approx(7.0)
    assert whole.moving_range_mean[0, 0] == pytest.approx(2.0)
    assert flagged(whole.run) == list(range(24))
    # A rise of four before the rebase and three after is not a trend of seven.
    climb = np.array([0.0, 8.0] * 5 + [1, 2, 3, 4] + [5, 6, 7] + [0.0, 8.0] * 5)
    cut = np.zeros(len(climb), dtype=bool)
    cut[14] = True
    assert flagged(spc(climb, polarity="neutral").trend) == list(range(10, 17))
    assert not spc(climb, polarity="neutral", rebase=cut).trend.any()


def test_fix_after_n_points_freezes_the_limits() -> None:
    # Baseline [1, 3] x 6: mean 2, MR-bar 2, upper limit 7.32. Later points [6, 8] x 4 do not move the limits:
    # the 8s are beyond it, and the last 3 of the baseline and the eight later points form a run above the mean.
    y = ALTERNATING + [6.0, 8.0] * 4
    r = spc(y, polarity="higher_is_better", fix_after_n=12)
    assert r.mean[0].tolist() == pytest.approx([2.0] * 20)
    assert r.upl[0].tolist() == pytest.approx([7.32] * 20)
    assert flagged(r.beyond_limits) == [13, 15, 17, 19]
    assert flagged(r.run) == list(range(11, 20))
    unfixed = spc(y, polarity="higher_is_better")
    assert unfixed.mean[0, 0] == pytest.approx((24 + 56) / 20)


def test_fix_after_n_applies_within_each_segment() -> None:
    y = ALTERNATING + [100.0] + [11.0, 13.0] * 6 + [100.0]
    rebase = np.zeros(len(y), dtype=bool)
    rebase[13] = True
    r = spc(y, polarity="higher_is_better", rebase=rebase, fix_after_n=12)
    assert r.mean[0, 0] == pytest.approx(2.0) and r.mean[0, -1] == pytest.approx(12.0)
    assert r.moving_range_mean[0, -1] == pytest.approx(2.0)


def test_ragged_series_padded_with_nan_match_separate_charts() -> None:
    rng = np.random.default_rng(7)
    lengths = [30, 18, 25]
    series = [rng.normal(50, 5, n).round(1) for n in lengths]
    padded = np.full((3, 30), np.nan)
    for i, s in enumerate(series):
        padded[i, : len(s)] = s
    together = spc(padded, polarity="lower_is_better", target=45.0)
    for i, s in enumerate(series):
        alone = spc(s, polarity="lower_is_better", target=45.0)
        n = len(s)
        assert together.n_points[i] == n
        np.testing.assert_array_equal(together.mean[i, :n], alone.mean[0])
        np.testing.assert_array_equal(together.upl[i, :n], alone.upl[0])
        np.testing.assert_array_equal(together.point_type[i, :n], alone.point_type[0])
        assert together.variation_icon[i] == alone.variation_icon[0]
        assert together.assurance_icon[i] == alone.assurance_icon[0]
        assert np.isnan(together.mean[i, n:]).all() and (together.point_type[i, n:] == 0).all()


# --- warnings, trajectories, errors ------------------------------------------------------------------------------

def test_short_series_warning_below_thirteen_points() -> None:
    # NHSRplotthedots R/ptd_add_short_group_warnings.R: warning_threshold defaults to 13 and a group warns
    # when n() < 13, so 12 points warn and 13 do not; per segment.
    with pytest.warns(ShortSeriesWarning, match="fewer than 13 points"):
        r = spc(np.arange(12.0), polarity="neutral")
    assert r.short_segment[0].all() and r.short_series.tolist() == [True]
    assert "trial limits" in r.warning_messages()[0]
    r = spc(np.arange(13.0), polarity="neutral")
    assert not r.short_segment.any() and r.warning_messages() == []
    y = np.tile(np.arange(40.0) % 5, (2, 1))
    rebase = np.zeros((2, 40), dtype=bool)
    rebase[0, 35] = True  # series 0: segments of 35 and 5 points
    rebase[1, 20] = True  # series 1: two segments of 20
    with pytest.warns(ShortSeriesWarning, match="1 of 2 series"):
        r = spc(y, polarity="neutral", rebase=rebase)
    assert flagged(r.short_segment) == list(range(35, 40))
    assert not r.short_segment[1].any()


def test_trajectory_met_by_polarity() -> None:
    y = [5.0, 6.0, 7.0]
    trajectory = [6.0, 6.0, 6.0]
    with pytest.warns(ShortSeriesWarning):
        up = spc(y, polarity="higher_is_better", trajectory=trajectory)
        down = spc(y, polarity="lower_is_better", trajectory=trajectory)
        partial = spc(y, polarity="higher_is_better", trajectory=[6.0, np.nan, 6.0])
    assert up.trajectory_met[0].tolist() == [False, True, True]
    assert down.trajectory_met[0].tolist() == [True, True, False]
    assert partial.trajectory_met[0].tolist() == [False, False, True]
    assert up.trajectory_variance[0].tolist() == [-1.0, 0.0, 1.0]
    with pytest.raises(SpcInputError, match="neutral"):
        spc(y, polarity="neutral", trajectory=trajectory)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"values": ALTERNATING, "polarity": "up"}, "polarity must be one of"),
        ({"values": [[1.0, 2.0], [np.nan, np.nan]], "polarity": "neutral"}, "series 1: no values"),
        ({"values": [1.0, np.inf], "polarity": "neutral"}, "point 1: value is infinite"),
        ({"values": [[1.0, 2.0]] * 2, "polarity": "neutral", "target": [1.0, 2.0, 3.0]}, "one per series"),
        ({"values": ALTERNATING, "polarity": "higher_is_better", "trajectory": [1.0, 2.0]}, "trajectory of shape"),
        ({"values": ALTERNATING, "polarity": "neutral", "rebase": [0] * 12}, "boolean mask"),
        ({"values": ALTERNATING, "polarity": "neutral", "rebase": [True] * 3}, "rebase of shape"),
        ({"values": ALTERNATING, "polarity": "neutral", "fix_after_n": 1}, "fix_after_n"),
        ({"values": ALTERNATING, "polarity": "neutral", "series_names": ["a", "b"]}, "2 names for 1 series"),
        ({"values": [["x"]], "polarity": "neutral"}, "values must be numbers"),
        ({"values": [], "polarity": "neutral"}, "non-empty"),
    ],
)
def test_bad_input_is_rejected_with_a_clear_message(kwargs: dict, message: str) -> None:
    with pytest.raises(SpcInputError, match=message):
        spc(kwargs.pop("values"), **kwargs)


def test_errors_name_the_series() -> None:
    with pytest.raises(SpcInputError, match="Luton, point 2"):
        spc([[1.0, 2.0, 3.0, 4.0], [1.0, 2.0, np.inf, 4.0]], polarity="neutral", series_names=["Bedford", "Luton"])


# --- plain-English description ------------------------------------------------------------------------------------

MONTHS = [f"{m} {y}" for y in (2024, 2025, 2026, 2027)
          for m in ("January", "February", "March", "April", "May", "June", "July", "August", "September",
                    "October", "November", "December")]


def test_describe_a_run_below_the_mean() -> None:
    y = [1.0, -1.0] * 4 + [0.5] * 7 + [-0.5] * 7 + [-1.0, 1.0] * 4 + [-0.6] * 9
    r = spc(y, polarity="higher_is_better")
    text = describe_latest(r, 0, MONTHS)
    assert text.startswith("Nine points below the mean since July 2026: special cause concern.")


def test_describe_states_no_expected_value_below_the_floor() -> None:
    # Small monthly counts: mean 1 (16 points summing to 16), every moving range 1, so the natural
    # process limits are 1 -/+ 2.66 = -1.66 and 3.66; a count cannot be negative, so the sentence starts at 0.
    r = spc([1.0, 0.0, 1.0, 2.0] * 4, polarity="lower_is_better")
    assert "values between -1.66 and 3.66 are to be expected" in describe_latest(r, 0, MONTHS)
    assert "values between 0 and 3.66 are to be expected" in describe_latest(r, 0, MONTHS, floor=0.0)


def test_describe_states_no_expected_value_above_the_ceiling() -> None:
    # A percentage near 100: mean 99, moving ranges 1, 2, 1, 0 repeated (mean 16/15), so the upper process
    # limit is 99 + 2.66 x 16/15 = 101.84; no share passes 100%, so the sentence stops there.
    r = spc([99.0, 100.0, 98.0, 99.0] * 4, polarity="higher_is_better")
    assert r.upl[0, -1] == pytest.approx(99 + 2.66 * 16 / 15)
    assert "values between 96.2 and 100 are to be expected" in describe_latest(r, 0, MONTHS, ceiling=100.0)


def test_describe_trend_limit_common_cause_and_assurance() -> None:
    trend = [0.0, 8.0] * 3 + [1, 2, 3, 4, 5, 6, 7]
    r = spc(trend, polarity="lower_is_better")
    assert describe_latest(r, 0, MONTHS).startswith("Seven points rising since July 2024: special cause concern.")
    r = spc(ALTERNATING + [20.0], polarity="higher_is_better", target=-4.0)
    text = describe_latest(r, 0, MONTHS)
    assert text.startswith("The latest point (January 2025) is above the upper process limit: special cause "
                           "improvement.")
    assert "below the lower process limit, so it will be consistently met" in text
    r = spc(ALTERNATING, polarity="higher_is_better", target=5.0)
    text = describe_latest(r, 0, MONTHS, number_format="{:.2f}")
    assert text.startswith("Common cause variation: December 2024 shows no special cause")
    assert "between -3.32 and 7.32" in text and "met only some of the time" in text
    with pytest.raises(SpcInputError, match="12 period labels for 13 points"):
        describe_latest(spc(ALTERNATING + [2.0], polarity="neutral"), 0, MONTHS[:12])
    with pytest.raises(SpcInputError, match="series 3 does not exist"):
        describe_latest(r, 3, MONTHS)


def test_a_missing_month_keeps_its_place_and_no_moving_range_spans_it() -> None:
    # NHSRplotthedots (ptd_spc_standard): mean over the values present; mr = |diff(y)| is missing next to the
    # gap. Present values 10, 12, 11, 13, 12: mean 58 / 5 = 11.6. Moving ranges 2 (10->12) and 2 (11->13),
    # 1 (13->12); the two touching the gap are missing, so the mean moving range is 5 / 3 (joining 12 to 11
    # across the gap would give 6 / 4 = 1.5). Limits 11.6 +/- 2.66 x 5 / 3.
    with pytest.warns(ShortSeriesWarning):
        r = spc([10.0, 12.0, np.nan, 11.0, 13.0, 12.0], polarity="higher_is_better")
    assert r.n_points.tolist() == [6]
    assert r.moving_range_mean[0, 0] == pytest.approx(5 / 3)
    assert r.mean[0].tolist() == pytest.approx([11.6] * 6)  # the mean and limits run across the gap
    assert r.upl[0, 2] == pytest.approx(11.6 + 2.66 * 5 / 3) and r.lpl[0, 5] == pytest.approx(11.6 - 2.66 * 5 / 3)
    assert np.isnan(r.values[0, 2]) and r.point_type[0, 2] == PointType.COMMON_CAUSE
    assert r.short_segment[0, 0]  # five values present: fewer than 13


def test_a_missing_month_ends_a_run_and_a_trend() -> None:
    # Ten points alternating 5 and 6, then seven at 6.5: with the last 6 that is a run of eight above the
    # mean (about 5.9). With month 14 missing, the run is cut into four and three: no run.
    whole = [5.0, 6.0] * 5 + [6.5] * 7
    gap = whole.copy()
    gap[13] = np.nan
    r = spc([whole, gap], polarity="higher_is_better")
    assert r.run[0, 9:].all() and not r.run[1].any()
    # Seven rising points are a trend; with the fourth missing, three and four rising points are not.
    with pytest.warns(ShortSeriesWarning):
        t = spc([[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], [1.0, 2.0, 3.0, np.nan, 5.0, 6.0, 7.0]], polarity="neutral")
    assert t.trend[0].all() and not t.trend[1].any()
