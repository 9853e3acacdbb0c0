"""Charts as inline SVG drawn by our own code, so HTML and PDF show exactly the same picture.

Every chart is a plain SVG string: no script, no web font, no network. Elements carry
classes (``point``, ``mean``, ``upl``, ``lpl``, ``target``…) so that tests and style sheets
can find them.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from html import escape

import numpy as np

from placewise.publish.icons import COMMON, CONCERN, FONT, IMPROVEMENT, NEITHER

POINT_COLOURS = {
    "common_cause": COMMON,
    "special_cause_improvement": IMPROVEMENT,
    "special_cause_concern": CONCERN,
    "special_cause_neutral": NEITHER,
    "special_cause_neutral_high": NEITHER,
    "special_cause_neutral_low": NEITHER,
}
LINE = "#231F20"
LIMIT = "#7F7F7F"
TARGET = "#DA291C"
TRAJECTORY = "#AE2573"
NHS_BLUE = "#005EB8"


@dataclass(frozen=True)
class Frame:
    """The geometry of a chart: its size and the margins around the plotting area."""

    width: float = 680
    height: float = 250
    left: float = 48
    right: float = 28
    top: float = 12
    bottom: float = 48

    def y(self, value: np.ndarray | float, lo: float, hi: float) -> np.ndarray:
        """Pixel y of data values on a linear axis from ``lo`` (bottom) to ``hi`` (top)."""
        plot = self.height - self.top - self.bottom
        return self.top + (hi - np.asarray(value, dtype=float)) / (hi - lo) * plot

    def x(self, index: np.ndarray | float, n: int) -> np.ndarray:
        """Pixel x of the ``index``-th of ``n`` equally spaced periods."""
        plot = self.width - self.left - self.right
        step = plot / max(n - 1, 1)
        return self.left + np.asarray(index, dtype=float) * step


def nice_range(values: np.ndarray, ticks: int = 5) -> tuple[float, float, float]:
    """An axis range (low, high, step) with round tick steps that covers all finite ``values``."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return 0.0, 1.0, 0.25
    lo, hi = float(finite.min()), float(finite.max())
    if hi == lo:
        pad = abs(hi) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / ticks
    mag = 10 ** np.floor(np.log10(raw))
    step = float(min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=10 * mag))
    return float(np.floor(lo / step) * step), float(np.ceil(hi / step) * step), step


def _num(v: float) -> str:
    """A coordinate with two decimals, the precision SVG needs at these sizes."""
    return f"{v:.2f}"


def _path(xs: np.ndarray, ys: np.ndarray) -> str:
    """An SVG path through finite points; a gap (NaN) starts a new sub-path."""
    parts, pen = [], "M"
    for x, y in zip(xs, ys, strict=True):
        if not (np.isfinite(x) and np.isfinite(y)):
            pen = "M"
            continue
        parts.append(f"{pen}{_num(x)} {_num(y)}")
        pen = "L"
    return " ".join(parts)


def _svg(frame: Frame, body: str, label: str, kind: str) -> str:
    """Wrap chart elements in an SVG root with an accessible title."""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {kind}" width="{_num(frame.width)}" '
        f'height="{_num(frame.height)}" viewBox="0 0 {_num(frame.width)} {_num(frame.height)}" '
        f'font-family="{FONT}" font-size="10" role="img"><title>{escape(label)}</title>{body}</svg>'
    )


def _y_axis(frame: Frame, lo: float, hi: float, step: float, fmt: str) -> str:
    """Horizontal grid lines and labels at each tick of the y axis."""
    out = []
    for v in np.arange(lo, hi + step / 2, step):
        y = float(frame.y(v, lo, hi))
        out.append(
            f'<line class="grid" x1="{_num(frame.left)}" x2="{_num(frame.width - frame.right)}" '
            f'y1="{_num(y)}" y2="{_num(y)}" stroke="#E8EDEE" stroke-width="1"/>'
            f'<text x="{_num(frame.left - 4)}" y="{_num(y + 3)}" text-anchor="end" fill="#425563">'
            f"{escape(format(v, fmt))}</text>"
        )
    return "".join(out)


CHAR_WIDTH = 6.2
"""Width of one character of 10-pixel DejaVu Sans, generously (its widest digits are 6.4, letters vary)."""


def _x_labels(frame: Frame, labels: list[str]) -> str:
    """Period labels under the x axis, thinned so that they do not overlap (at least one label's width
    and a gap between neighbours)."""
    n = len(labels)
    spacing = (frame.width - frame.left - frame.right) / max(n - 1, 1)
    widest = CHAR_WIDTH * max((len(label) for label in labels), default=0) + 8
    every = max(1, int(np.ceil(widest / spacing)))
    half = np.array([CHAR_WIDTH * len(label) / 2 for label in labels])
    xs = np.clip(frame.x(np.arange(n), n), half + 2, frame.width - half - 2)  # the end labels stay inside the chart
    y = frame.height - frame.bottom + 14
    return "".join(
        f'<text x="{_num(xs[i])}" y="{_num(y)}" text-anchor="middle" fill="#425563">{escape(labels[i])}</text>'
        for i in range(0, n, every)
    )


def _fit_left(frame: Frame, lo: float, hi: float, step: float, fmt: str) -> Frame:
    """The frame with a left margin wide enough for the widest y-axis label (large rates need more room)."""
    widest = max(len(format(v, fmt)) for v in np.arange(lo, hi + step / 2, step))
    return replace(frame, left=max(frame.left, CHAR_WIDTH * widest + 8))


def _tick_every(texts: list[str], spacing: float) -> int:
    """Label every n-th tick of a horizontal axis so that neighbouring labels do not overlap."""
    widest = CHAR_WIDTH * max((len(t) for t in texts), default=0) + 6
    return max(1, int(np.ceil(widest / max(spacing, 1e-9))))


def _steps(frame: Frame, values: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """The vertices of a line that holds each value until half-way to the next period and changes there by a
    vertical step (a target changes on 1 April, between March's point and April's; limits at a rebase point):
    joining adjacent points instead would draw a slant, a value that no period had."""
    n = values.size
    xs, ys = frame.x(np.arange(n), n), frame.y(values, lo, hi)
    before = np.r_[np.nan, values[:-1]]
    changes = np.isfinite(values) & np.isfinite(before) & (values != before)
    middle = frame.x(np.arange(n) - 0.5, n)
    corners_x = np.column_stack([middle, middle, xs]).ravel()
    corners_y = np.column_stack([np.r_[np.nan, ys[:-1]], ys, ys]).ravel()
    keep = np.column_stack([changes, changes, np.ones(n, bool)]).ravel()
    return corners_x[keep], corners_y[keep]


def _ticks(xs: np.ndarray, ys: np.ndarray, alone: np.ndarray, cls: str, colour: str) -> str:
    """A short horizontal tick at each point drawn alone (no neighbour to join it to), so that it is seen."""
    return "".join(f'<line class="{cls}" x1="{_num(xs[i] - 6)}" x2="{_num(xs[i] + 6)}" y1="{_num(ys[i])}" '
                   f'y2="{_num(ys[i])}" stroke="{colour}" stroke-width="2.5"/>' for i in np.flatnonzero(alone))


def _step_line(frame: Frame, values: np.ndarray, lo: float, hi: float, cls: str, colour: str, dash: str) -> str:
    """A horizontal line per segment of constant value, joined by vertical steps (limits change at rebase
    points, targets at the start of a financial year)."""
    n = values.size
    xs, ys = frame.x(np.arange(n), n), frame.y(values, lo, hi)
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    finite = np.isfinite(values)
    alone = finite & ~np.r_[False, finite[:-1]] & ~np.r_[finite[1:], False]
    return (f'<path class="{cls}" d="{_path(*_steps(frame, values, lo, hi))}" fill="none" stroke="{colour}" '
            f'stroke-width="1.5"{dashed}/>' + _ticks(xs, ys, alone, cls, colour))


def _plan_line(frame: Frame, values: np.ndarray, lo: float, hi: float, year_starts: list[int]) -> str:
    """A plan as each planning year's own line: the year's periods joined point to point (a glide path, a
    submitted trajectory month by month), broken before each period in ``year_starts`` (the first of a financial
    year), as a Board reads one year's plan ending in March and the next year's starting in April; joining March to
    April would draw a slant no plan held. A period planned alone in its year is drawn as a tick."""
    n = values.size
    xs, ys = frame.x(np.arange(n), n), frame.y(values, lo, hi)
    finite = np.isfinite(values)
    opens = np.isin(np.arange(n), year_starts)
    joined = finite & np.r_[False, finite[:-1]] & ~opens
    alone = finite & ~joined & ~np.r_[joined[1:], False]
    path = _path(np.insert(xs, year_starts, np.nan), np.insert(ys, year_starts, np.nan))
    return (f'<path class="trajectory" d="{path}" fill="none" stroke="{TRAJECTORY}" stroke-width="1.5" '
            f'stroke-dasharray="2 3"/>' + _ticks(xs, ys, alone, "trajectory", TRAJECTORY))


OFF_SCALE = 5.0
"""A target or plan more than this many times every value drawn is on another scale (an ICS-wide count plan over a
demo's small sample): drawn to it, the values would lie flat along the axis, so it is named in the key instead."""


def _off_scale(values: np.ndarray, line: np.ndarray | None, labels: list[str], fmt: str) -> str:
    """The key's note for a target or plan on another scale from the values ("17,614 (Mar 2024), above this
    chart's scale"); empty when it can be drawn."""
    if line is None:
        return ""
    line, shown = np.asarray(line, float), np.abs(np.asarray(values, float))
    shown, points = shown[np.isfinite(shown)], np.flatnonzero(np.isfinite(line))
    if shown.size == 0 or points.size == 0 or shown.max() <= 0 or line[points].min() <= OFF_SCALE * shown.max():
        return ""
    last = int(points[-1])
    return f"{format(line[last], fmt)} ({labels[last]}), above this chart's scale"


def spc_chart(
    labels: list[str],
    values: np.ndarray,
    mean: np.ndarray,
    lpl: np.ndarray,
    upl: np.ndarray,
    point_types: list[str],
    *,
    target: np.ndarray | None = None,
    target_name: str = "Target",
    trajectory: np.ndarray | None = None,
    year_starts: list[int] | None = None,
    rebase_at: list[int] | None = None,
    title: str = "SPC chart",
    value_format: str = ".1f",
    frame: Frame = Frame(),
    y_range: tuple[float, float, float] | None = None,
) -> str:
    """An XmR chart: values joined by a line, points coloured by SPC class, mean, process limits,
    target (named ``target_name`` in the key), trajectory (broken at ``year_starts``, the first period of each
    financial year) and rebase marks. Arrays are per period; NaN means no value (or suppressed)."""
    values, mean, lpl, upl = (np.asarray(a, dtype=float) for a in (values, mean, lpl, upl))
    n = values.size
    if not (len(labels) == len(point_types) == mean.size == lpl.size == upl.size == n):
        raise ValueError("spc_chart: labels, values, mean, limits and point types must have one entry per period")
    apart = {target_name: _off_scale(values, target, labels, value_format),
             "Trajectory": _off_scale(values, trajectory, labels, value_format)}
    drawn = [a for a, name in ((target, target_name), (trajectory, "Trajectory")) if a is not None and not apart[name]]
    lo, hi, step = y_range or nice_range(np.concatenate([values, lpl, upl, *[np.asarray(e, float) for e in drawn]]))
    frame = _fit_left(frame, lo, hi, step, value_format)
    xs, ys = frame.x(np.arange(n), n), frame.y(values, lo, hi)
    body = [_y_axis(frame, lo, hi, step, value_format), _x_labels(frame, labels)]
    for at in rebase_at or []:
        x = float(frame.x(at - 0.5, n))
        body.append(
            f'<line class="rebase" x1="{_num(x)}" x2="{_num(x)}" y1="{_num(frame.top)}" '
            f'y2="{_num(frame.height - frame.bottom)}" stroke="{NHS_BLUE}" stroke-width="1" stroke-dasharray="2 2"/>'
        )
    body.append(_step_line(frame, upl, lo, hi, "upl", LIMIT, "5 3"))
    body.append(_step_line(frame, lpl, lo, hi, "lpl", LIMIT, "5 3"))
    body.append(_step_line(frame, mean, lo, hi, "mean", LINE, ""))
    if target is not None and not apart[target_name]:
        body.append(_step_line(frame, np.asarray(target, float), lo, hi, "target", TARGET, "8 3"))
    if trajectory is not None and not apart["Trajectory"]:
        body.append(_plan_line(frame, np.asarray(trajectory, float), lo, hi, year_starts or []))
    body.append(f'<path class="values" d="{_path(xs, ys)}" fill="none" stroke="{LIMIT}" stroke-width="1.2"/>')
    for i in np.flatnonzero(np.isfinite(values)):
        kind = point_types[i]
        body.append(
            f'<circle class="point {escape(kind)}" cx="{_num(xs[i])}" cy="{_num(ys[i])}" r="3.2" '
            f'fill="{POINT_COLOURS.get(kind, COMMON)}"/>'
        )
    body.append(_legend(frame, target_name if target is not None else "", trajectory is not None, apart=apart))
    return _svg(frame, "".join(body), title, "spc")


def line_chart(
    labels: list[str],
    values: np.ndarray,
    *,
    target: np.ndarray | None = None,
    target_name: str = "Target",
    trajectory: np.ndarray | None = None,
    year_starts: list[int] | None = None,
    title: str = "Line chart",
    value_format: str = ".1f",
    frame: Frame = Frame(),
) -> str:
    """A line chart of a series whose points overlap (rolling or cumulative figures): values joined by a line,
    with target (named ``target_name`` in the key) and trajectory (broken at ``year_starts``, the first period of
    each financial year), and no mean, process limits or SPC colouring. NaN means no value."""
    values = np.asarray(values, dtype=float)
    n = values.size
    if len(labels) != n:
        raise ValueError("line_chart: labels and values must have one entry per period")
    apart = {target_name: _off_scale(values, target, labels, value_format),
             "Trajectory": _off_scale(values, trajectory, labels, value_format)}
    drawn = [np.asarray(a, float) for a, name in ((target, target_name), (trajectory, "Trajectory"))
             if a is not None and not apart[name]]
    lo, hi, step = nice_range(np.concatenate([values, *drawn]))
    frame = _fit_left(frame, lo, hi, step, value_format)
    xs, ys = frame.x(np.arange(n), n), frame.y(values, lo, hi)
    body = [_y_axis(frame, lo, hi, step, value_format), _x_labels(frame, labels)]
    if target is not None and not apart[target_name]:
        body.append(_step_line(frame, np.asarray(target, float), lo, hi, "target", TARGET, "8 3"))
    if trajectory is not None and not apart["Trajectory"]:
        body.append(_plan_line(frame, np.asarray(trajectory, float), lo, hi, year_starts or []))
    body.append(f'<path class="values" d="{_path(xs, ys)}" fill="none" stroke="{LIMIT}" stroke-width="1.2"/>')
    body += [f'<circle class="point unclassified" cx="{_num(xs[i])}" cy="{_num(ys[i])}" r="2.6" fill="{LIMIT}"/>'
             for i in np.flatnonzero(np.isfinite(values))]
    body.append(_legend(frame, target_name if target is not None else "", trajectory is not None, limits=False,
                        apart=apart))
    return _svg(frame, "".join(body), title, "line")


def _legend(frame: Frame, target: str, trajectory: bool, limits: bool = True,
            apart: dict[str, str] | None = None) -> str:
    """A one-line key under a chart: mean and process limits (an SPC chart) or the values (a line chart) and,
    where drawn, the target (by its name, empty where none) and trajectory; one on another scale from the values is
    named with its value instead."""
    apart = apart or {}
    items = [("Mean", LINE, ""), ("Process limits", LIMIT, "5 3")] if limits else [("Value", LIMIT, "")]
    items += [(_keyed(target, apart), TARGET, "8 3")] if target else []
    items += [(_keyed("Trajectory", apart), TRAJECTORY, "2 3")] if trajectory else []
    y, x, out = frame.height - 8, frame.left, []
    for name, colour, dash in items:
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(f'<line x1="{_num(x)}" x2="{_num(x + 18)}" y1="{_num(y - 3)}" y2="{_num(y - 3)}" '
                   f'stroke="{colour}" stroke-width="1.5"{dashed}/>'
                   f'<text x="{_num(x + 22)}" y="{_num(y)}" fill="#425563">{escape(name)}</text>')
        x += 30 + 6.2 * len(name)
    return '<g class="key">' + "".join(out) + "</g>"


def _keyed(name: str, apart: dict[str, str]) -> str:
    """A key entry's text, with the value of a line drawn apart from the chart's scale."""
    return f"{name} {apart[name]}" if apart.get(name) else name


def sparkline(values: np.ndarray, point_type: str = "common_cause", width: float = 110, height: float = 26) -> str:
    """A small trend line; the latest point is coloured by its SPC class."""
    values = np.asarray(values, dtype=float)
    frame = Frame(width=width, height=height, left=3, right=4, top=4, bottom=4)
    lo, hi, _ = nice_range(values, ticks=2)
    xs, ys = frame.x(np.arange(values.size), values.size), frame.y(values, lo, hi)
    last = np.flatnonzero(np.isfinite(values))
    body = f'<path class="values" d="{_path(xs, ys)}" fill="none" stroke="{LIMIT}" stroke-width="1.2"/>'
    if last.size:
        i = last[-1]
        body += (
            f'<circle class="point {escape(point_type)}" cx="{_num(xs[i])}" cy="{_num(ys[i])}" r="2.6" '
            f'fill="{POINT_COLOURS.get(point_type, COMMON)}"/>'
        )
    return _svg(frame, body, "Trend", "sparkline")


def caterpillar(
    names: list[str],
    values: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    reference: float | None,
    *,
    title: str = "Places compared",
    value_format: str = ".1f",
    width: float = 640,
    highlight: str | None = None,
    polarity: str = "neutral",
) -> str:
    """Areas side by side: each value with its confidence interval, against a reference (the ICS value).

    An area whose interval lies wholly above or below the reference is coloured as Making Data Count colours
    special cause by ``polarity`` (:func:`funnel_kinds`: blue improvement, orange concern, purple neither), others
    grey, with a key to the colours; the ``highlight`` area (the report's own) is labelled in bold.
    """
    values, lower, upper = (np.asarray(a, dtype=float) for a in (values, lower, upper))
    row = 22
    fits = int((width / 2 - 22) / 6.6)
    labels = [n if len(n) <= fits else n[: fits - 1] + "…" for n in names]
    label_width = 22 + 6.6 * max((len(n) for n in labels), default=0)
    low, high = funnel_kinds(polarity)
    key_rows = 0 if reference is None else (2 if low == high else 3)
    frame = Frame(width=width, height=row * len(names) + 40 + KEY_ROW * key_rows, left=label_width, right=16, top=8,
                  bottom=28 + KEY_ROW * key_rows)
    pool = np.concatenate([values, lower, upper, [] if reference is None else [reference]])
    lo, hi, step = nice_range(pool)
    plot_w = frame.width - frame.left - frame.right

    def px(v: np.ndarray | float) -> np.ndarray:
        """Pixel x of a value on the horizontal axis."""
        return frame.left + (np.asarray(v, dtype=float) - lo) / (hi - lo) * plot_w

    body = []
    ticks = np.arange(lo, hi + step / 2, step)
    every = _tick_every([format(v, value_format) for v in ticks], float(px(lo + step) - px(lo)))
    for k, v in enumerate(ticks):
        x = float(px(v))
        body.append(
            f'<line class="grid" x1="{_num(x)}" x2="{_num(x)}" y1="{_num(frame.top)}" '
            f'y2="{_num(frame.height - frame.bottom)}" stroke="#E8EDEE"/>'
        )
        if k % every == 0:
            body.append(f'<text x="{_num(x)}" y="{_num(frame.height - frame.bottom + 14)}" text-anchor="middle" '
                        f'fill="#425563">{escape(format(v, value_format))}</text>')
    if reference is not None and np.isfinite(reference):
        x = float(px(reference))
        body.append(
            f'<line class="reference" x1="{_num(x)}" x2="{_num(x)}" y1="{_num(frame.top)}" '
            f'y2="{_num(frame.height - frame.bottom)}" stroke="{LINE}" stroke-dasharray="4 3"/>'
        )
    for i, name in enumerate(names):
        y = frame.top + row * i + row / 2
        weight = ' font-weight="bold"' if name == highlight else ""
        body.append(f'<text x="{_num(frame.left - 6)}" y="{_num(y + 3)}" text-anchor="end"{weight}>'
                    f"{escape(labels[i])}</text>")
        if not np.isfinite(values[i]):
            body.append(f'<text class="suppressed" x="{_num(frame.left + 4)}" y="{_num(y + 3)}" fill="#425563">'
                        "suppressed (small numbers)</text>")
            continue
        above = reference is not None and lower[i] > reference
        below = reference is not None and upper[i] < reference
        kind = high if above else low if below else ""
        colour = FUNNEL_KINDS[kind][1] if kind else COMMON
        where = f" outside {kind} {'high' if above else 'low'}" if kind else ""
        if np.isfinite(lower[i]) and np.isfinite(upper[i]):  # a median or a published figure has no interval
            body.append(f'<line class="interval" x1="{_num(float(px(lower[i])))}" x2="{_num(float(px(upper[i])))}" '
                        f'y1="{_num(y)}" y2="{_num(y)}" stroke="{colour}" stroke-width="2"/>')
        body.append(f'<circle class="area{where}" cx="{_num(float(px(values[i])))}" cy="{_num(y)}" r="4" '
                    f'fill="{colour}"/>')
    if key_rows:
        body.append(_point_key(frame, frame.height - frame.bottom + 30, low, high,
                               "Interval includes the ICS value", across=False))
    return _svg(frame, "".join(body), title, "caterpillar")


def quintile_bars(
    labels: list[str],
    values: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    slope: tuple[float, float] | None = None,
    *,
    title: str = "By deprivation quintile",
    value_format: str = ".1f",
    width: float = 640,
) -> str:
    """Bars for the IMD quintiles (most deprived first) with intervals and the slope index line.

    ``slope`` is (intercept, gradient) of the regression on the relative rank (0 = most deprived,
    1 = least deprived), so its line shows the slope index of inequality across the bars.
    """
    values, lower, upper = (np.asarray(a, dtype=float) for a in (values, lower, upper))
    pool = np.concatenate([values, lower, upper, [0.0]])
    lo, hi, step = nice_range(pool)
    frame = _fit_left(Frame(width=width, height=170, left=44, right=8, top=10, bottom=24), lo, hi, step, value_format)
    n = len(labels)
    plot_w = frame.width - frame.left - frame.right
    slot = plot_w / n
    body = [_y_axis(frame, lo, hi, step, value_format)]
    base = float(frame.y(max(lo, 0.0), lo, hi))
    for i, label in enumerate(labels):
        x0 = frame.left + slot * i
        cx = x0 + slot / 2
        body.append(f'<text x="{_num(cx)}" y="{_num(frame.height - frame.bottom + 14)}" '
                    f'text-anchor="middle" fill="#425563">{escape(label)}</text>')
        if not np.isfinite(values[i]):
            body.append(f'<text class="suppressed" x="{_num(cx)}" y="{_num(base - 4)}" text-anchor="middle">*</text>')
            continue
        top = float(frame.y(values[i], lo, hi))
        body.append(
            f'<rect class="bar" x="{_num(x0 + slot * 0.2)}" y="{_num(min(top, base))}" width="{_num(slot * 0.6)}" '
            f'height="{_num(abs(base - top))}" fill="#41B6E6"/>'
        )
        if np.isfinite(lower[i]) and np.isfinite(upper[i]):
            y1, y2 = float(frame.y(lower[i], lo, hi)), float(frame.y(upper[i], lo, hi))
            body.append(f'<line class="interval" x1="{_num(cx)}" x2="{_num(cx)}" y1="{_num(y1)}" y2="{_num(y2)}" '
                        f'stroke="{LINE}" stroke-width="1.5"/>')
    if slope is not None and all(np.isfinite(slope)):
        a, b = slope
        ys = frame.y(np.array([a, a + b]), lo, hi)
        body.append(
            f'<line class="sii" x1="{_num(frame.left)}" x2="{_num(frame.width - frame.right)}" '
            f'y1="{_num(float(ys[0]))}" y2="{_num(float(ys[1]))}" stroke="{TRAJECTORY}" stroke-width="2"/>'
        )
    return _svg(frame, "".join(body), title, "quintiles")


def funnel_plot(
    names: list[str],
    sizes: np.ndarray,
    values: np.ndarray,
    signal: np.ndarray,
    grid: np.ndarray,
    centre: float,
    limits: tuple[np.ndarray, ...],
    *,
    polarity: str = "neutral",
    title: str = "Funnel plot",
    value_format: str = ".1f",
    size_label: str = "Denominator",
    highlight: Collection[str] = (),
    width: float = 680,
    key_note: str = "",
) -> str:
    """Areas by size (x) and value (y) against the centre line and funnel limits drawn along ``grid``.

    ``limits`` are (lower 95%, upper 95%, lower 99.8%, upper 99.8%) at each ``grid`` size; ``signal`` is each
    area's place against them (above 0 high, below 0 low, 0 inside); an area outside the 95% limits is coloured as
    Making Data Count colours special cause by ``polarity`` (:func:`funnel_kinds`), one inside grey, and the key
    names the colours drawn; the ``highlight`` areas are ringed; ``key_note`` is written in the key after the limits
    (how the limits were set, where a reader must know).
    """
    sizes, values, grid = (np.asarray(a, dtype=float) for a in (sizes, values, grid))
    signal = np.sign(np.asarray(signal, dtype=int))
    frame = Frame(width=width, height=298, left=52, right=16, top=12, bottom=70)
    lo, hi, step = nice_range(np.concatenate([values, [centre], *[np.asarray(x, float) for x in limits]]))
    frame = _fit_left(frame, lo, hi, step, value_format)
    x_lo, x_hi, x_step = nice_range(np.concatenate([sizes, grid, [0.0]]))
    plot_w = frame.width - frame.left - frame.right

    def px(v: np.ndarray | float) -> np.ndarray:
        """Pixel x of a size on the horizontal axis."""
        return frame.left + (np.asarray(v, dtype=float) - x_lo) / (x_hi - x_lo) * plot_w

    body = [_y_axis(frame, lo, hi, step, value_format)]
    y_text = frame.height - frame.bottom + 14
    x_ticks = np.arange(x_lo, x_hi + x_step / 2, x_step)
    every = _tick_every([format(v, ",.0f") for v in x_ticks], float(px(x_lo + x_step) - px(x_lo)))
    for v in x_ticks[::every]:
        body.append(f'<text x="{_num(float(px(v)))}" y="{_num(y_text)}" text-anchor="middle" fill="#425563">'
                    f"{escape(format(v, ',.0f'))}</text>")
    body.append(f'<text class="axis-label" x="{_num(frame.left + plot_w / 2)}" y="{_num(y_text + 14)}" '
                f'text-anchor="middle" fill="#425563">{escape(size_label)}</text>')
    inside = (grid >= x_lo) & (grid <= x_hi)
    gx = px(grid[inside])
    for cls, curve, dash in (("limit95", limits[0], "4 3"), ("limit95", limits[1], "4 3"),
                             ("limit998", limits[2], ""), ("limit998", limits[3], "")):
        gy = frame.y(np.clip(np.asarray(curve, float)[inside], lo, hi), lo, hi)
        body.append(f'<path class="{cls}" d="{_path(gx, gy)}" fill="none" stroke="{LIMIT}" stroke-width="1.2"'
                    f'{f" stroke-dasharray={chr(34)}{dash}{chr(34)}" if dash else ""}/>')
    cy = float(frame.y(centre, lo, hi))
    body.append(f'<line class="centre" x1="{_num(frame.left)}" x2="{_num(frame.width - frame.right)}" '
                f'y1="{_num(cy)}" y2="{_num(cy)}" stroke="{LINE}" stroke-width="1.2"/>')
    shown = np.isfinite(values) & np.isfinite(sizes)
    xs, ys = px(np.where(shown, sizes, x_lo)), frame.y(np.where(shown, values, lo), lo, hi)
    low, high = funnel_kinds(polarity)
    for i in np.flatnonzero(shown):
        kind = {-1: low, 0: "", 1: high}[int(signal[i])]
        colour = FUNNEL_KINDS[kind][1] if kind else COMMON
        where = f" outside {kind} {'high' if signal[i] > 0 else 'low'}" if kind else ""
        ring = ' stroke="#231F20" stroke-width="2"' if names[i] in highlight else ""
        body.append(f'<circle class="area{where}" cx="{_num(xs[i])}" cy="{_num(ys[i])}" r="{5 if ring else 3.5}" '
                    f'fill="{colour}"{ring}><title>{escape(names[i])}</title></circle>')
    key_y = frame.height - 6
    body.append(_point_key(frame, key_y - 18, low, high))
    body.append('<g class="key">'
                f'<line x1="{_num(frame.left)}" x2="{_num(frame.left + 18)}" y1="{_num(key_y - 3)}" '
                f'y2="{_num(key_y - 3)}" stroke="{LIMIT}" stroke-dasharray="4 3"/>'
                f'<text x="{_num(frame.left + 22)}" y="{_num(key_y)}" fill="#425563">95% limits</text>'
                f'<line x1="{_num(frame.left + 100)}" x2="{_num(frame.left + 118)}" y1="{_num(key_y - 3)}" '
                f'y2="{_num(key_y - 3)}" stroke="{LIMIT}"/>'
                f'<text x="{_num(frame.left + 122)}" y="{_num(key_y)}" fill="#425563">99.8% limits</text>'
                + (f'<text class="key-note" x="{_num(frame.left + 200)}" y="{_num(key_y)}" fill="#425563">'
                   f'{escape(key_note)}</text>' if key_note else "") + '</g>')
    return _svg(frame, "".join(body), title, "funnel")


FUNNEL_KINDS = {"improvement": ("Improvement", IMPROVEMENT), "concern": ("Concern", CONCERN),
                "neither": ("No preferred direction", NEITHER)}
"""How the key names, and the chart colours, an area outside the 95% limits, by what it means."""


def funnel_kinds(polarity: str) -> tuple[str, str]:
    """What an area below and above the 95% limits means, as Making Data Count reads special cause: by the
    indicator's polarity improvement or concern, else neither (no preferred direction)."""
    return {"higher_is_better": ("concern", "improvement"),
            "lower_is_better": ("improvement", "concern")}.get(polarity, ("neither", "neither"))


KEY_ROW = 14
"""Height of a row of a key written down the chart."""


def _point_key(frame: Frame, y: float, low: str, high: str, inside: str = "Within the 95% limits",
               across: bool = True) -> str:
    """The key to the areas' colours from ``y``: grey ``inside``, and what an area above or below means; written
    across one line, or down one row each (where a narrow chart has no room across)."""
    items = [(inside, COMMON)]
    if low == high:
        items.append((f"{FUNNEL_KINDS[low][0]} (high or low)", FUNNEL_KINDS[low][1]))
    else:
        items += [(f"{FUNNEL_KINDS[high][0]} (high)", FUNNEL_KINDS[high][1]),
                  (f"{FUNNEL_KINDS[low][0]} (low)", FUNNEL_KINDS[low][1])]
    x, out = frame.left, []
    for name, colour in items:
        out.append(f'<circle cx="{_num(x + 5)}" cy="{_num(y - 4)}" r="3.5" fill="{colour}"/>'
                   f'<text x="{_num(x + 13)}" y="{_num(y)}" fill="#425563">{escape(name)}</text>')
        if across:
            x += 24 + 6.2 * len(name)
        else:
            y += KEY_ROW
    return '<g class="key points">' + "".join(out) + "</g>"
