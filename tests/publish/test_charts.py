"""SVG charts: well-formed, points coloured by class, lines at the right heights."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from itertools import pairwise

import numpy as np
import pytest

from placewise.publish.charts import Frame, caterpillar, nice_range, quintile_bars, sparkline, spc_chart
from placewise.publish.icons import COMMON, CONCERN, IMPROVEMENT

SVG = "{http://www.w3.org/2000/svg}"


def _design() -> str:
    """A 10-point series on a fixed axis 0–100 in a 400 x 240 frame (plot area y 20–220)."""
    values = np.array([50, 52, 48, 51, 49, 90, 50, 10, 52, 49], dtype=float)
    types = ["common_cause"] * 10
    types[5], types[7] = "special_cause_improvement", "special_cause_concern"
    return spc_chart(
        [f"M{i}" for i in range(10)],
        values,
        mean=np.full(10, 50.0),
        lpl=np.full(10, 25.0),
        upl=np.full(10, 75.0),
        point_types=types,
        target=np.full(10, 60.0),
        rebase_at=[5],
        frame=Frame(width=400, height=240, left=40, right=0, top=20, bottom=20),
        y_range=(0.0, 100.0, 25.0),
    )


def _ys(path: str) -> set[float]:
    """The y coordinates of an SVG path made of M/L commands."""
    coords = path.replace("M", " ").replace("L", " ").split()
    return {float(v) for v in coords[1::2]}


def test_spc_chart_is_well_formed_svg_with_one_circle_per_value():
    root = ET.fromstring(_design())
    assert root.tag == f"{SVG}svg"
    assert len(root.findall(f".//{SVG}circle")) == 10


def test_points_are_coloured_by_their_class():
    root = ET.fromstring(_design())
    fills = [c.get("fill") for c in root.findall(f".//{SVG}circle")]
    assert fills[5] == IMPROVEMENT and fills[7] == CONCERN
    assert all(f == COMMON for i, f in enumerate(fills) if i not in (5, 7))


def test_limits_mean_and_target_are_at_the_right_heights():
    # Plot area from y = 20 (value 100) to y = 220 (value 0): 2 px per unit.
    root = ET.fromstring(_design())
    by_class = {p.get("class"): p.get("d") for p in root.findall(f"{SVG}path")}
    assert _ys(by_class["upl"]) == {70.0}  # 75 -> 220 - 150
    assert _ys(by_class["lpl"]) == {170.0}  # 25 -> 220 - 50
    assert _ys(by_class["mean"]) == {120.0}
    assert _ys(by_class["target"]) == {100.0}
    point = root.findall(f".//{SVG}circle")[5]
    assert float(point.get("cy")) == pytest.approx(40.0)  # 90 -> 220 - 180
    assert float(point.get("cx")) == pytest.approx(40 + 5 * 360 / 9)


def test_rebase_mark_falls_between_the_two_periods():
    root = ET.fromstring(_design())
    line = root.find(f".//{SVG}line[@class='rebase']")
    assert float(line.get("x1")) == pytest.approx(40 + 4.5 * 40)


def test_limits_step_at_a_rebase_and_gaps_break_the_line():
    values = np.array([1, 2, np.nan, 4], dtype=float)
    upl = np.array([5, 5, 8, 8], dtype=float)
    svg = spc_chart(["a", "b", "c", "d"], values, np.full(4, 3.0), np.zeros(4), upl, ["common_cause"] * 4)
    root = ET.fromstring(svg)
    assert len(_ys(root.find(f"{SVG}path[@class='upl']").get("d"))) == 2
    assert root.find(f"{SVG}path[@class='values']").get("d").count("M") == 2
    assert len(root.findall(f".//{SVG}circle")) == 3


def _vertices(path: str) -> list[list[tuple[float, float]]]:
    """The sub-paths of an SVG path made of M/L commands, each as its list of (x, y) vertices."""
    return [[(float(x), float(y)) for x, y in zip(*[iter(sub.replace("L", " ").split())] * 2, strict=True)]
            for sub in path.split("M")[1:]]


def test_a_target_changes_by_a_step_between_march_and_april_not_a_slant():
    # 76% to March 2026, 78% from April 2026 (a new year's plan); six months across x 40-440 (80 px apart).
    frame = Frame(width=440, height=240, left=40, right=0, top=20, bottom=20)
    labels = ["Jan 2026", "Feb 2026", "Mar 2026", "Apr 2026", "May 2026", "Jun 2026"]
    values = np.array([75, 77, 76, 79, 78, 77], dtype=float)
    target = np.array([76, 76, 76, 78, 78, np.nan])
    svg = spc_chart(labels, values, np.full(6, 77.0), np.full(6, 70.0), np.full(6, 84.0), ["common_cause"] * 6,
                    target=target, frame=frame, y_range=(70.0, 80.0, 2.5))
    (line,) = _vertices(ET.fromstring(svg).find(f"{SVG}path[@class='target']").get("d"))
    # 76 -> y 100, 78 -> y 60 (20 px per point); the step falls half-way between March (x 200) and April (x 280).
    assert line == [(40, 100), (120, 100), (200, 100), (240, 100), (240, 60), (280, 60), (360, 60)]
    assert all(a[0] == b[0] or a[1] == b[1] for a, b in pairwise(line))


def test_a_plan_is_each_planning_years_own_line_broken_between_march_and_april():
    # 2025/26's trajectory reaches 77% in March 2026; 2026/27's starts at 71% in April 2026 (a new year's plan from
    # a lower base); one month of 2027/28 is planned alone. Seven months across x 40-520 (80 px apart).
    frame = Frame(width=520, height=240, left=40, right=0, top=20, bottom=20)
    labels = ["Feb 2026", "Mar 2026", "Apr 2026", "May 2026", "Jun 2026", "Mar 2027", "Apr 2027"]
    values = np.array([75, 76, 72, 73, 74, 75, 76], dtype=float)
    plan = np.array([76, 77, 71, 72, np.nan, np.nan, 80])
    svg = spc_chart(labels, values, np.full(7, 75.0), np.full(7, 70.0), np.full(7, 80.0), ["common_cause"] * 7,
                    trajectory=plan, year_starts=[2, 6], frame=frame, y_range=(70.0, 80.0, 2.5))
    root = ET.fromstring(svg)
    lines = _vertices(root.find(f"{SVG}path[@class='trajectory']").get("d"))
    # 77 -> y 80, 71 -> y 200 (20 px per point): March's point ends 2025/26's line, April's starts 2026/27's.
    assert lines == [[(40, 100), (120, 80)], [(200, 200), (280, 180)], [(520, 20)]]
    (tick,) = root.findall(f"{SVG}line[@class='trajectory']")  # April 2027, alone in its year, is drawn as a tick
    assert (float(tick.get("x1")), float(tick.get("x2")), float(tick.get("y1"))) == (514, 526, 20)
    # Without the year boundaries the same plan is one line that slants from March to April.
    joined = spc_chart(labels, values, np.full(7, 75.0), np.full(7, 70.0), np.full(7, 80.0), ["common_cause"] * 7,
                       trajectory=plan, frame=frame, y_range=(70.0, 80.0, 2.5))
    assert _vertices(ET.fromstring(joined).find(f"{SVG}path[@class='trajectory']").get("d"))[0] == \
        [(40, 100), (120, 80), (200, 200), (280, 180)]


def test_mismatched_lengths_are_an_error():
    with pytest.raises(ValueError, match="one entry per period"):
        spc_chart(["a"], np.ones(2), np.ones(2), np.ones(2), np.ones(2), ["common_cause"] * 2)


def test_nice_range_covers_the_data_with_round_steps():
    assert nice_range(np.array([3.2, 9.7])) == (2.0, 10.0, 2.0)
    assert nice_range(np.array([0.912, 0.958])) == (0.91, 0.96, 0.01)


def test_small_charts_are_well_formed():
    ET.fromstring(sparkline(np.array([1.0, 2.0, np.nan, 3.0]), "special_cause_concern"))
    cat = ET.fromstring(caterpillar(["A", "B", "C"], [10, 20, np.nan], [8, 18, np.nan], [12, 22, np.nan], 15.0))
    colours = [c.get("fill") for c in cat.findall(f".//{SVG}circle") if c.get("class", "").startswith("area")]
    assert len(colours) == 2 and colours[0] == colours[1] != COMMON  # both intervals exclude 15
    assert cat.find(f".//{SVG}text[@class='suppressed']") is not None
    bars = ET.fromstring(quintile_bars(list("12345"), [5, 4, 3, 2, 1], [4, 3, 2, 1, 0], [6, 5, 4, 3, 2], (5.5, -5.0)))
    assert len(bars.findall(f".//{SVG}rect")) == 5
    assert bars.find(f".//{SVG}line[@class='sii']") is not None


def test_long_period_labels_are_thinned_so_that_none_overlaps():
    import re
    from itertools import pairwise

    from placewise.publish.charts import CHAR_WIDTH, Frame, _x_labels

    labels = [f"12 months to {m} {y}" for y in (2022, 2023, 2024) for m in
              ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")]
    xs = [float(x) for x in re.findall(r'<text x="([\d.]+)"', _x_labels(Frame(), labels))]
    widest = CHAR_WIDTH * max(len(label) for label in labels)
    assert len(xs) >= 3 and min(b - a for a, b in pairwise(xs)) >= widest
    # Short labels keep more of the axis labelled: eight or more of 36 months.
    assert len(re.findall("<text ", _x_labels(Frame(), [f"M{k}" for k in range(36)]))) >= 8


def test_a_line_chart_has_no_mean_limits_or_spc_classes():
    import re

    from placewise.publish.charts import line_chart

    svg = line_chart(["Jan 2025", "Feb 2025", "Mar 2025"], np.array([1.0, np.nan, 3.0]), target=np.full(3, 2.0))
    assert not re.search(r'class="(mean|upl|lpl)"', svg) and "Process limits" not in svg
    assert svg.count('class="point unclassified"') == 2 and 'class="target"' in svg and ">Value<" in svg


def test_axis_labels_of_large_rates_stay_inside_the_chart_and_apart():
    import re

    from placewise.publish.charts import CHAR_WIDTH, caterpillar, spc_chart

    labels = [f"12 months to {m} 2024" for m in ("Jan", "Feb", "Mar", "Apr")]
    values = np.array([12_010.0, 12_500.0, 13_020.0, 11_900.0])
    svg = spc_chart(labels, values, np.full(4, 12_000.0), np.full(4, 10_000.0), np.full(4, 14_000.0),
                    ["common_cause"] * 4, value_format=",.1f")
    texts = [(float(x), t) for x, t in re.findall(r'<text x="([\d.]+)"[^>]*text-anchor="middle"[^>]*>([^<]+)<', svg)]
    assert all(x - CHAR_WIDTH * len(t) / 2 >= 0 for x, t in texts)  # the first period label is not clipped
    left = float(re.search(r'<line class="grid" x1="([\d.]+)"', svg).group(1))
    assert left >= CHAR_WIDTH * len("14,000.0")  # room for the widest y-axis label
    svg = caterpillar(["Central Bedfordshire", "Bedford Borough"], np.array([10_884.9, 13_397.2]), np.array([10_085.9, 12_245.7]),
                      np.array([11_730.1, 14_627.2]), 12_267.7, width=340, value_format=",.1f")
    ticks = sorted(float(x) for x in re.findall(r'<text x="([\d.]+)" y="[\d.]+" text-anchor="middle"', svg))
    assert len(ticks) >= 2 and min(np.diff(ticks)) >= CHAR_WIDTH * len("10,000.0")


def test_a_plan_on_another_scale_is_named_in_the_key_and_does_not_flatten_the_values():
    from placewise.publish.charts import line_chart

    labels = [f"12 months to M{i}" for i in range(6)]
    values = np.array([290.0, 300.0, 310.0, 305.0, 295.0, 300.0])
    plan = np.full(6, np.nan)
    plan[3] = 17614.0                        # an ICS-wide plan over a demo's 2% sample
    svg = line_chart(labels, values, trajectory=plan, value_format=",.0f")
    root = ET.fromstring(svg)
    axis = [float(t.text.replace(",", "")) for t in root.findall(f"{SVG}text") if t.get("text-anchor") == "end"]
    assert max(axis) < 400                   # the axis fits the values, not the plan
    assert not root.findall(f".//{SVG}*[@class='trajectory']")
    assert "Trajectory 17,614 (12 months to M3), above this chart&#x27;s scale" in svg
    # Five times the largest value is still drawn (the boundary); a single planned period is drawn as a tick.
    plan[3] = 5 * 310.0
    root = ET.fromstring(line_chart(labels, values, trajectory=plan, value_format=",.0f"))
    (tick,) = root.findall(f"{SVG}line[@class='trajectory']")
    assert float(tick.get("y1")) == float(tick.get("y2")) and "above this chart" not in ET.tostring(root, "unicode")


def test_an_spc_chart_keeps_a_target_on_another_scale_out_of_its_axis():
    values = np.array([2.0, 3.0, 2.0, 4.0])
    svg = spc_chart(["a", "b", "c", "d"], values, mean=np.full(4, 2.75), lpl=np.zeros(4), upl=np.full(4, 5.0),
                    point_types=["common_cause"] * 4, target=np.full(4, 95.0), value_format=".0f")
    assert 'class="target"' not in svg and "Target 95 (d), above this chart" in svg


def test_areas_compared_are_coloured_by_polarity_with_a_key():
    # A (8 to 12) lies below the ICS's 15, B (18 to 22) above, C (13 to 17) includes it. Where higher is better B is
    # improvement blue and A concern orange; where lower is better the other way; with no preferred direction both
    # purple. C is grey throughout, and the key names the colours drawn.
    from placewise.publish.icons import CONCERN, IMPROVEMENT, NEITHER

    def drawn(polarity: str) -> tuple[list[tuple[str, str]], str]:
        svg = caterpillar(["A", "B", "C"], [10, 20, 15], [8, 18, 13], [12, 22, 17], 15.0, polarity=polarity)
        root = ET.fromstring(svg)
        areas = [(c.get("class"), c.get("fill")) for c in root.iter(f"{SVG}circle") if c.get("class", "").startswith("area")]
        key = " ".join(t.text or "" for g in root.iter(f"{SVG}g") if "key" in g.get("class", "") for t in g.iter(f"{SVG}text"))
        return areas, key

    areas, key = drawn("higher_is_better")
    assert areas == [("area outside concern low", CONCERN), ("area outside improvement high", IMPROVEMENT), ("area", COMMON)]
    assert key == "Interval includes the ICS value Improvement (high) Concern (low)"
    areas, _ = drawn("lower_is_better")
    assert [fill for _, fill in areas] == [IMPROVEMENT, CONCERN, COMMON]
    areas, key = drawn("neutral")
    assert [fill for _, fill in areas] == [NEITHER, NEITHER, COMMON] and "No preferred direction (high or low)" in key
    # Without a reference (a count) nothing is coloured and there is no key.
    bare = ET.fromstring(caterpillar(["A"], [10], [8], [12], None, polarity="higher_is_better"))
    assert [c.get("fill") for c in bare.iter(f"{SVG}circle")] == [COMMON]
