"""NHS England "Making Data Count" XmR charts, vectorised across many series at once.

The method follows NHSRplotthedots (the NHS-R community's reference implementation, version 0.2):

* per segment (a series, split at declared rebase points): centre line = mean of the baseline points
  (the first ``fix_after_n`` points, or all of them); moving ranges |x_t - x_(t-1)| within the baseline;
  moving ranges of 3.267 x their mean or more are screened out and the mean moving range recomputed once;
  process limits = mean +/- 2.66 x mean moving range; "two sigma" lines = mean +/- (2 x 2.66 / 3) x mean
  moving range;
* special-cause rules, each evaluated within a segment: a point beyond the process limits; a run of seven
  or more points on the same side of the mean (a point on the mean breaks a run); a trend of seven or more
  points each strictly higher (or lower) than the one before (equal values break a trend); two out of three
  consecutive points beyond the same two-sigma line, all three on the same side of the mean (only the
  points beyond the two-sigma line are flagged);
* when several rules flag a point, its direction comes from the first of: limits, trend, two in three, run;
* the variation icon is the point type of the latest point; the assurance icon compares the target with the
  latest process limits.

Input is a 2-D array (series x points); ragged series are padded with NaN at the end.

Missing periods (a NaN before a series' last value) are handled as NHSRplotthedots handles a missing value
(``ptd_spc_standard``: ``mean(..., na.rm = TRUE)`` and ``mr = c(NA, abs(diff(y)))``): the period keeps its
place on the time axis; the mean is that of the values present; no moving range is computed across a gap
(the ranges into and out of it are missing), so the limits rest only on neighbouring periods that were both
measured; the mean and limits still run across the gap, and the chart's line breaks there. Deliberate
deviation: NHSRplotthedots' run, trend and two-in-three tests give unintended flags next to a missing value
(its issue #156, open); here a missing period ends a run or trend and no two-in-three window spans it.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

Polarity = Literal["higher_is_better", "lower_is_better", "neutral"]
POLARITIES: dict[str, int] = {"higher_is_better": 1, "lower_is_better": -1, "neutral": 0}

LIMIT_FACTOR = 2.66
"""Process limits sit this many mean moving ranges from the mean (3 / 1.128, rounded as MDC does)."""
TWO_SIGMA_FACTOR = 2 * (LIMIT_FACTOR / 3)
"""The two-sigma lines: two thirds of the way from the mean to the process limits."""
SCREEN_FACTOR = 3.267
"""Moving ranges at or above this multiple of the mean moving range are screened out (D4 for n = 2)."""


class Rule(IntEnum):
    """The special-cause rule that decides a point's direction, in NHSRplotthedots' order of precedence."""

    NONE = 0
    BEYOND_LIMITS = 1
    TREND = 2
    TWO_IN_THREE = 3
    RUN = 4


class PointType(IntEnum):
    """How a point is classed once polarity is applied."""

    COMMON_CAUSE = 0
    IMPROVEMENT = 1
    CONCERN = 2
    NEITHER_HIGH = 3
    NEITHER_LOW = 4

    @property
    def label(self) -> str:
        """Plain-English name used in reports."""
        return _POINT_LABELS[self]


class VariationIcon(IntEnum):
    """The Making Data Count variation icon for the latest point of a series."""

    COMMON_CAUSE = 0
    IMPROVEMENT_HIGH = 1
    IMPROVEMENT_LOW = 2
    CONCERN_HIGH = 3
    CONCERN_LOW = 4
    NEITHER_HIGH = 5
    NEITHER_LOW = 6

    @property
    def label(self) -> str:
        """Plain-English name used in reports."""
        return _VARIATION_LABELS[self]


class AssuranceIcon(IntEnum):
    """The Making Data Count assurance icon: the target against the latest process limits."""

    NONE = 0
    CONSISTENTLY_PASS = 1
    CONSISTENTLY_FAIL = 2
    INCONSISTENT = 3

    @property
    def label(self) -> str:
        """Plain-English name used in reports."""
        return _ASSURANCE_LABELS[self]


_POINT_LABELS = {
    PointType.COMMON_CAUSE: "common cause",
    PointType.IMPROVEMENT: "special cause improvement",
    PointType.CONCERN: "special cause concern",
    PointType.NEITHER_HIGH: "special cause neither (high)",
    PointType.NEITHER_LOW: "special cause neither (low)",
}
_VARIATION_LABELS = {
    VariationIcon.COMMON_CAUSE: "common cause variation",
    VariationIcon.IMPROVEMENT_HIGH: "special cause improvement (high)",
    VariationIcon.IMPROVEMENT_LOW: "special cause improvement (low)",
    VariationIcon.CONCERN_HIGH: "special cause concern (high)",
    VariationIcon.CONCERN_LOW: "special cause concern (low)",
    VariationIcon.NEITHER_HIGH: "special cause neither (high)",
    VariationIcon.NEITHER_LOW: "special cause neither (low)",
}
_ASSURANCE_LABELS = {
    AssuranceIcon.NONE: "no target",
    AssuranceIcon.CONSISTENTLY_PASS: "consistently passing the target",
    AssuranceIcon.CONSISTENTLY_FAIL: "consistently failing the target",
    AssuranceIcon.INCONSISTENT: "inconsistently passing the target (hit or miss)",
}


class SpcInputError(ValueError):
    """Input to :func:`spc` that cannot be charted; the message names the series, point and field."""


class ShortSeriesWarning(UserWarning):
    """Some segments have too few points for reliable limits; their limits are trial limits."""


@dataclass(frozen=True)
class SpcResult:
    """Everything an XmR chart needs, as arrays of shape (series, points) or (series,).

    Per-point arrays are NaN (or False / 0) at padding positions beyond a series' last value; at a missing
    period inside a series the value is NaN but the mean and limits are given.
    """

    values: NDArray[np.float64]
    n_points: NDArray[np.int64]
    segment: NDArray[np.int32]
    mean: NDArray[np.float64]
    moving_range_mean: NDArray[np.float64]
    lpl: NDArray[np.float64]
    upl: NDArray[np.float64]
    lower_two_sigma: NDArray[np.float64]
    upper_two_sigma: NDArray[np.float64]
    beyond_limits: NDArray[np.bool_]
    run: NDArray[np.bool_]
    trend: NDArray[np.bool_]
    two_in_three: NDArray[np.bool_]
    rule: NDArray[np.int8]
    direction: NDArray[np.int8]
    point_type: NDArray[np.int8]
    short_segment: NDArray[np.bool_]
    target: NDArray[np.float64]
    trajectory: NDArray[np.float64]
    trajectory_met: NDArray[np.bool_]
    variation_icon: NDArray[np.int8]
    assurance_icon: NDArray[np.int8]
    polarity: Polarity
    min_points: int
    series_names: tuple[str, ...] | None

    @property
    def special_cause(self) -> NDArray[np.bool_]:
        """True where any special-cause rule flags the point."""
        return self.rule != Rule.NONE

    @property
    def latest(self) -> NDArray[np.int64]:
        """Index of each series' latest point."""
        return self.n_points - 1

    @property
    def trajectory_variance(self) -> NDArray[np.float64]:
        """Each point minus its trajectory (NaN where there is none)."""
        return self.values - self.trajectory

    def name(self, series: int) -> str:
        """The series' name for messages: the caller's, or 'series <index>'."""
        return _label(self.series_names, series)

    @property
    def short_series(self) -> NDArray[np.bool_]:
        """True for series with a segment shorter than ``min_points`` (trial limits)."""
        return np.asarray(self.short_segment.any(axis=1))

    def warning_messages(self) -> list[str]:
        """One plain-English warning per series whose limits rest on too few points."""
        return [
            f"{self.name(s)}: a segment has fewer than {self.min_points} points, so its limits are "
            "trial limits that will change as points are added"
            for s in np.flatnonzero(self.short_series).tolist()
        ]


def spc(
    values: ArrayLike,
    *,
    polarity: Polarity,
    target: ArrayLike | None = None,
    trajectory: ArrayLike | None = None,
    rebase: ArrayLike | None = None,
    fix_after_n: int | None = None,
    screen_outliers: bool = True,
    run_length: int = 7,
    trend_length: int = 7,
    min_points: int = 13,
    series_names: Sequence[str] | None = None,
) -> SpcResult:
    """XmR chart, special-cause rules and icons for every series of ``values`` at once.

    ``values``: (series, points) or (points,); NaN for a missing period, or as padding after a series' last
    value.
    ``target``: one value for all series or one per series (NaN: none). ``trajectory``: a per-point
    target, broadcast to ``values``. ``rebase``: True at the first point of each new segment, broadcast
    to ``values``. ``fix_after_n``: limits from the first n points of each segment only.
    ``min_points``: segments shorter than this get a short-series warning (fewer than 13 points, as
    NHSRplotthedots flags; Making Data Count advises 15 to 20 points for stable limits).
    """
    y = _as_matrix(values)
    n_series = y.shape[0]
    names = _series_names(series_names, n_series)
    direction_of_good = _polarity_sign(polarity)
    valid, n_points = _check_values(y, names)
    inside = np.arange(y.shape[1])[None, :] < n_points[:, None]
    _check_options(fix_after_n, run_length, trend_length, min_points)
    targets = _per_series_target(target, n_series)
    trajectories = _trajectory(trajectory, y.shape, direction_of_good)

    segment, position, group = _segments(_segment_starts(rebase, y.shape, inside))
    mean, mr_bar = _centre_and_spread(y, valid, position, group, fix_after_n, screen_outliers)
    padding = np.where(inside, 0.0, np.nan)
    mean, mr_bar = mean + padding, mr_bar + padding
    lpl, upl = mean - LIMIT_FACTOR * mr_bar, mean + LIMIT_FACTOR * mr_bar
    lower_two, upper_two = mean - TWO_SIGMA_FACTOR * mr_bar, mean + TWO_SIGMA_FACTOR * mr_bar

    beyond = (y > upl) | (y < lpl)
    side = np.where(valid, np.sign(y - mean), 0.0).astype(np.int8)
    close = ~beyond & ((y < lower_two) | (y > upper_two))
    step = _steps(y, position)
    run = (side != 0) & (_run_span(side, position) >= run_length)
    long_step = (step != 0) & (_run_span(step, position) >= trend_length - 1)
    trend = long_step | _shift_left(long_step)
    two_in_three = close & _two_of_three(close, side, position)
    rule, direction = _rule_and_direction(beyond, trend, two_in_three, run, side, step, position)
    point_type = _point_type(direction, direction_of_good)
    short = valid & (np.bincount(group[valid], minlength=y.size)[group] < min_points)
    _warn_short(short, min_points)

    rows = np.arange(n_series)
    last = n_points - 1
    variation = _variation_icon(point_type[rows, last], direction[rows, last])
    assurance = _assurance_icon(targets, lpl[rows, last], upl[rows, last], direction_of_good)
    return SpcResult(
        values=y, n_points=n_points, segment=np.where(inside, segment, -1).astype(np.int32),
        mean=mean, moving_range_mean=mr_bar, lpl=lpl, upl=upl,
        lower_two_sigma=lower_two, upper_two_sigma=upper_two,
        beyond_limits=beyond, run=run, trend=trend, two_in_three=two_in_three,
        rule=rule, direction=direction, point_type=point_type, short_segment=short,
        target=targets, trajectory=trajectories,
        trajectory_met=_trajectory_met(y, trajectories, direction_of_good),
        variation_icon=variation, assurance_icon=assurance, polarity=polarity,
        min_points=min_points, series_names=names,
    )


def _segments(starts: NDArray[np.bool_]) -> tuple[NDArray[np.int32], NDArray, NDArray]:
    """Segment number within each series, position within the segment, and a segment id unique overall."""
    n_series, width = starts.shape
    segment = (np.cumsum(starts, axis=1) - 1).astype(np.int32)
    columns = np.arange(width)
    position = columns - np.maximum.accumulate(np.where(starts, columns, 0), axis=1)
    return segment, position, segment + (np.arange(n_series) * width)[:, None]


def _warn_short(short: NDArray[np.bool_], min_points: int) -> None:
    """Warn once, as NHSRplotthedots does, when any segment is too short for reliable limits."""
    n_short = int(short.any(axis=1).sum())
    if n_short:
        warnings.warn(
            f"{n_short} of {len(short)} series have a segment of fewer than {min_points} points: their limits "
            "are trial limits", ShortSeriesWarning, stacklevel=3,
        )


def _as_matrix(values: ArrayLike) -> NDArray[np.float64]:
    """Values as a float (series, points) matrix; a 1-D input is one series."""
    try:
        y = np.array(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SpcInputError(f"values must be numbers: {exc}") from None
    if y.ndim == 1:
        y = y[None, :]
    if y.ndim != 2 or y.shape[0] == 0 or y.shape[1] == 0:
        raise SpcInputError(f"values must be a non-empty (series, points) array, got shape {y.shape}")
    return y


def _series_names(names: Sequence[str] | None, n_series: int) -> tuple[str, ...] | None:
    """The caller's series names, checked against the number of series."""
    if names is None:
        return None
    if len(names) != n_series:
        raise SpcInputError(f"series_names has {len(names)} names for {n_series} series")
    return tuple(str(n) for n in names)


def _label(names: tuple[str, ...] | None, series: int) -> str:
    """A series' name, or 'series <index>' when the caller gave none."""
    return f"series {series}" if names is None else names[series]


def _polarity_sign(polarity: str) -> int:
    """+1, -1 or 0 for higher is better, lower is better, neutral."""
    if polarity not in POLARITIES:
        raise SpcInputError(f"polarity must be one of {', '.join(POLARITIES)}; got {polarity!r}")
    return POLARITIES[polarity]


def _check_values(y: NDArray[np.float64], names: tuple[str, ...] | None) -> tuple[NDArray[np.bool_], NDArray]:
    """Valid-point mask and each series' length (to its last value, gaps included); reject infinities and
    empty series, naming the point."""
    bad = np.isinf(y)
    if bad.any():
        s, t = np.argwhere(bad)[0]
        raise SpcInputError(f"{_label(names, s)}, point {t}: value is infinite ({y[s, t]})")
    valid = ~np.isnan(y)
    present = valid.any(axis=1)
    if not present.all():
        raise SpcInputError(f"{_label(names, int(np.argmin(present)))}: no values")
    n_points = y.shape[1] - np.argmax(valid[:, ::-1], axis=1)
    return valid, n_points


def _check_options(fix_after_n: int | None, run_length: int, trend_length: int, min_points: int) -> None:
    """Reject option values that make no sense for an XmR chart."""
    if fix_after_n is not None and (not isinstance(fix_after_n, (int, np.integer)) or fix_after_n < 2):
        raise SpcInputError(f"fix_after_n must be a whole number of at least 2; got {fix_after_n!r}")
    for name, value, least in (("run_length", run_length, 2), ("trend_length", trend_length, 3),
                               ("min_points", min_points, 1)):
        if not isinstance(value, (int, np.integer)) or value < least:
            raise SpcInputError(f"{name} must be a whole number of at least {least}; got {value!r}")


def _per_series_target(target: ArrayLike | None, n_series: int) -> NDArray[np.float64]:
    """One target per series (NaN where there is none)."""
    if target is None:
        return np.full(n_series, np.nan)
    t = np.asarray(target, dtype=np.float64)
    if t.ndim == 0:
        t = np.full(n_series, float(t))
    if t.shape != (n_series,):
        raise SpcInputError(f"target must be one value or one per series ({n_series}); got shape {t.shape}")
    if np.isinf(t).any():
        raise SpcInputError(f"series {int(np.argmax(np.isinf(t)))}: target is infinite")
    return t


def _trajectory(trajectory: ArrayLike | None, shape: tuple[int, int], good: int) -> NDArray[np.float64]:
    """Per-point trajectory values broadcast to the values' shape (NaN where there is none)."""
    if trajectory is None:
        return np.full(shape, np.nan)
    if good == 0:
        raise SpcInputError("a trajectory needs a polarity of higher_is_better or lower_is_better, not neutral")
    t = np.asarray(trajectory, dtype=np.float64)
    try:
        return np.broadcast_to(t, shape).copy()
    except ValueError:
        raise SpcInputError(f"trajectory of shape {t.shape} does not match values of shape {shape}") from None


def _segment_starts(rebase: ArrayLike | None, shape: tuple[int, int], valid: NDArray[np.bool_]) -> NDArray:
    """True at the first point of every segment: each series' first point and each declared rebase."""
    starts = np.zeros(shape, dtype=bool)
    if rebase is not None:
        r = np.asarray(rebase)
        if r.dtype != bool:
            raise SpcInputError(f"rebase must be a boolean mask (True where a new segment starts); got {r.dtype}")
        try:
            starts |= np.broadcast_to(r, shape) & valid
        except ValueError:
            raise SpcInputError(f"rebase of shape {r.shape} does not match values of shape {shape}") from None
    starts[:, 0] = True
    return starts


def _centre_and_spread(
    y: NDArray[np.float64], valid: NDArray[np.bool_], position: NDArray, group: NDArray,
    fix_after_n: int | None, screen_outliers: bool,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per-point segment mean and mean moving range from each segment's baseline points."""
    size = y.size
    baseline = valid if fix_after_n is None else valid & (position < fix_after_n)
    mean = _group_mean(group[baseline], y[baseline], size)
    moving = np.zeros_like(y)
    moving[:, 1:] = np.abs(np.diff(y, axis=1))
    after_value = np.zeros_like(valid)
    after_value[:, 1:] = valid[:, :-1]
    has_range = baseline & (position >= 1) & after_value  # no moving range across a missing period
    mr_bar = _group_mean(group[has_range], moving[has_range], size)
    if screen_outliers:
        kept = has_range & (moving < SCREEN_FACTOR * mr_bar[group])
        mr_bar = _group_mean(group[kept], moving[kept], size)
    return mean[group], mr_bar[group]


def _group_mean(groups: NDArray, weights: NDArray[np.float64], size: int) -> NDArray[np.float64]:
    """Mean of ``weights`` by group id (NaN for empty groups)."""
    total = np.bincount(groups, weights=weights, minlength=size)
    count = np.bincount(groups, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / count


def _steps(y: NDArray[np.float64], position: NDArray) -> NDArray[np.int8]:
    """Sign of the change from the previous point in the same segment (0 at a segment's first point)."""
    step = np.zeros(y.shape, dtype=np.int8)
    change = np.sign(np.diff(y, axis=1))
    step[:, 1:] = np.where(np.isnan(change), 0, change)
    step[position == 0] = 0
    return step


def _run_span(code: NDArray[np.int8], position: NDArray) -> NDArray[np.int64]:
    """Length of the maximal run of equal codes, within a segment, that each point belongs to."""
    n = code.shape[1]
    columns = np.arange(n)
    begins = np.ones(code.shape, dtype=bool)
    begins[:, 1:] = (code[:, 1:] != code[:, :-1]) | (position[:, 1:] == 0)
    ends = np.ones(code.shape, dtype=bool)
    ends[:, :-1] = begins[:, 1:]
    first = np.maximum.accumulate(np.where(begins, columns, 0), axis=1)
    last = np.minimum.accumulate(np.where(ends, columns, n)[:, ::-1], axis=1)[:, ::-1]
    return last - first + 1


def _shift_left(a: NDArray, by: int = 1) -> NDArray:
    """``a`` moved ``by`` columns to the left, filled with False/0 on the right."""
    out = np.zeros_like(a)
    out[:, :-by] = a[:, by:]
    return out


def _two_of_three(close: NDArray[np.bool_], side: NDArray[np.int8], position: NDArray) -> NDArray[np.bool_]:
    """True where a point lies in a window of three (within a segment) that meets the two-in-three rule."""
    c = close.astype(np.int8)
    count = np.zeros(c.shape, dtype=np.int8)
    total = np.zeros(c.shape, dtype=np.int8)
    count[:, 2:] = c[:, 2:] + c[:, 1:-1] + c[:, :-2]
    total[:, 2:] = side[:, 2:] + side[:, 1:-1] + side[:, :-2]
    window = (position >= 2) & (count >= 2) & (np.abs(total) == 3)
    return window | _shift_left(window, 1) | _shift_left(window, 2)


def _rule_and_direction(
    beyond: NDArray[np.bool_], trend: NDArray[np.bool_], two: NDArray[np.bool_], run: NDArray[np.bool_],
    side: NDArray[np.int8], step: NDArray[np.int8], position: NDArray,
) -> tuple[NDArray[np.int8], NDArray[np.int8]]:
    """The deciding rule per point and the direction of its signal (+1 high, -1 low, 0 none)."""
    rule = np.select([beyond, trend, two, run],
                     [Rule.BEYOND_LIMITS, Rule.TREND, Rule.TWO_IN_THREE, Rule.RUN], Rule.NONE).astype(np.int8)
    # A point shared by two trends (a peak or trough) takes the direction of the step after it.
    next_in_trend = _shift_left(trend) & _shift_left(position != 0)
    trend_step = np.where(trend & next_in_trend, _shift_left(step), step)
    up_or_down = np.where(side > 0, 1, -1)
    direction = np.select(
        [beyond, trend, two | run],
        [np.where(side == 1, 1, -1), np.where(trend_step == 1, 1, -1), up_or_down], 0,
    ).astype(np.int8)
    return rule, direction


def _point_type(direction: NDArray[np.int8], good: int) -> NDArray[np.int8]:
    """Class each point: improvement / concern by polarity, or neither (high / low) when neutral."""
    if good == 0:
        choices = [PointType.NEITHER_HIGH, PointType.NEITHER_LOW]
        return np.select([direction > 0, direction < 0], choices, PointType.COMMON_CAUSE).astype(np.int8)
    oriented = direction * good
    return np.select([oriented > 0, oriented < 0], [PointType.IMPROVEMENT, PointType.CONCERN],
                     PointType.COMMON_CAUSE).astype(np.int8)


def _variation_icon(point_type: NDArray[np.int8], direction: NDArray[np.int8]) -> NDArray[np.int8]:
    """Variation icon from the latest point's type and the side of its signal."""
    high = direction > 0
    return np.select(
        [point_type == PointType.IMPROVEMENT, point_type == PointType.CONCERN,
         point_type == PointType.NEITHER_HIGH, point_type == PointType.NEITHER_LOW],
        [np.where(high, VariationIcon.IMPROVEMENT_HIGH, VariationIcon.IMPROVEMENT_LOW),
         np.where(high, VariationIcon.CONCERN_HIGH, VariationIcon.CONCERN_LOW),
         VariationIcon.NEITHER_HIGH, VariationIcon.NEITHER_LOW],
        VariationIcon.COMMON_CAUSE,
    ).astype(np.int8)


def _assurance_icon(
    target: NDArray[np.float64], lpl: NDArray[np.float64], upl: NDArray[np.float64], good: int,
) -> NDArray[np.int8]:
    """Assurance icon: a target outside the latest limits is always met or always missed; none where there is no
    target or too few points for limits (a target cannot lie within limits that do not exist)."""
    if good == 0:
        return np.full(target.shape, AssuranceIcon.NONE, dtype=np.int8)
    above, below = target > upl, target < lpl
    pass_, fail = (below, above) if good > 0 else (above, below)
    return np.select(
        [np.isnan(target) | np.isnan(lpl) | np.isnan(upl), pass_, fail],
        [AssuranceIcon.NONE, AssuranceIcon.CONSISTENTLY_PASS, AssuranceIcon.CONSISTENTLY_FAIL],
        AssuranceIcon.INCONSISTENT,
    ).astype(np.int8)


def _trajectory_met(y: NDArray[np.float64], trajectory: NDArray[np.float64], good: int) -> NDArray[np.bool_]:
    """True where a point is on or better than its trajectory, by polarity."""
    if good == 0:
        return np.zeros(y.shape, dtype=bool)
    return (y - trajectory) * good >= 0


_NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                 "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
                 "nineteen", "twenty")


def describe_latest(
    result: SpcResult, series: int, periods: Sequence[str], *, number_format: str = "{:,.3g}",
    floor: float | None = None, ceiling: float | None = None,
) -> str:
    """Plain-English account of one series' latest signal, e.g. "Nine points below the mean since July 2024".

    ``periods`` labels the series' points in order (at least ``n_points`` of them); ``number_format``
    formats values for the sentence about the limits; ``floor`` is the lowest value the measure can take (0
    for a count, share or rate) and ``ceiling`` the highest (100 for a percentage), so the expected range is not
    stated beyond them, as the chart draws it.
    """
    if not 0 <= series < len(result.n_points):
        raise SpcInputError(f"series {series} does not exist (there are {len(result.n_points)})")
    n = int(result.n_points[series])
    if len(periods) < n:
        raise SpcInputError(f"{result.name(series)}: {len(periods)} period labels for {n} points")
    last = n - 1
    rule = Rule(int(result.rule[series, last]))
    high = result.direction[series, last] > 0
    fmt = number_format.format
    limits = result.lpl[series, last], result.upl[series, last]
    if rule is Rule.NONE and not np.isfinite(limits).all():
        signal = f"Too few points for process limits ({n} {'point' if n == 1 else 'points'} to {periods[last]})"
    elif rule is Rule.NONE:
        lower = result.lpl[series, last] if floor is None else max(float(result.lpl[series, last]), floor)
        upper = result.upl[series, last] if ceiling is None else min(float(result.upl[series, last]), ceiling)
        signal = (f"Common cause variation: {periods[last]} shows no special cause, and values between "
                  f"{fmt(lower)} and {fmt(upper)} are to be expected")
    elif rule is Rule.BEYOND_LIMITS:
        limit = "above the upper" if high else "below the lower"
        signal = f"The latest point ({periods[last]}) is {limit} process limit"
    elif rule is Rule.TWO_IN_THREE:
        signal = (f"Two of the last three points, to {periods[last]}, are close to the "
                  f"{'upper' if high else 'lower'} process limit")
    else:
        start = _signal_start(result, series, last, rule)
        what = ("rising" if high else "falling") if rule is Rule.TREND else f"{'above' if high else 'below'} the mean"
        signal = f"{_count_words(last - start + 1)} points {what} since {periods[start]}"
    sentences = [signal + _point_type_clause(PointType(int(result.point_type[series, last])))]
    sentences += _assurance_sentence(result, series, last, fmt)
    if result.short_segment[series, last] and np.isfinite(limits).all():
        sentences.append(f"The limits rest on fewer than {result.min_points} points, so treat them as trial limits.")
    return " ".join(sentences)


def _signal_start(result: SpcResult, series: int, last: int, rule: Rule) -> int:
    """First point of the run (same side of the mean) or trend (same step) that ends at ``last``."""
    y = result.values[series, : last + 1]
    segment = result.segment[series, : last + 1]
    if rule is Rule.RUN:
        code = np.sign(y - result.mean[series, : last + 1])
        broken = (code != code[last]) | (segment != segment[last])
        return int(np.flatnonzero(broken)[-1] + 1) if broken.any() else 0
    step = np.zeros(last + 1)
    step[1:] = np.sign(np.diff(y))
    broken = (step != result.direction[series, last]) | (segment != segment[last])
    return int(np.flatnonzero(broken)[-1]) if broken.any() else 0


def _count_words(count: int) -> str:
    """A count in words up to twenty, capitalised to start a sentence."""
    return (_NUMBER_WORDS[count] if count < len(_NUMBER_WORDS) else str(count)).capitalize()


def _point_type_clause(point_type: PointType) -> str:
    """The sentence ending that names the point's class."""
    if point_type is PointType.COMMON_CAUSE:
        return "."
    return f": {point_type.label}."


def _assurance_sentence(result: SpcResult, series: int, last: int, fmt) -> list[str]:
    """A sentence on what the limits say about meeting the target, if there is one."""
    icon = AssuranceIcon(int(result.assurance_icon[series]))
    if icon is AssuranceIcon.NONE:
        return []
    target = fmt(result.target[series])
    if icon is AssuranceIcon.INCONSISTENT:
        return [f"The target of {target} lies within the process limits, so it will be met only some of the "
                "time (hit or miss)."]
    where = "above the upper" if result.target[series] > result.upl[series, last] else "below the lower"
    verb = "met" if icon is AssuranceIcon.CONSISTENTLY_PASS else "missed"
    return [f"The target of {target} lies {where} process limit, so it will be consistently {verb} "
            "unless the process changes."]
