"""Making Data Count icons: each outcome maps to the icon the guidance describes."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from placewise.analyse.spc import spc
from placewise.publish.icons import (
    COMMON,
    CONCERN,
    IMPROVEMENT,
    NEITHER,
    Assurance,
    Variation,
    assurance_from_spc,
    assurance_icon,
    variation_from_spc,
    variation_icon,
)

SVG = "{http://www.w3.org/2000/svg}"


def _parts(svg: str) -> tuple[str, str, str]:
    """The ring colour, the letter shown and the icon's name, read back from the SVG."""
    root = ET.fromstring(svg)
    ring = root.find(f"{SVG}circle").get("stroke")
    text = root.find(f"{SVG}text")
    return ring, "" if text is None else text.text, root.get("data-icon")


BASE = [10.0, 12.0, 11.0, 9.0, 10.0, 12.0, 11.0, 9.0, 10.0, 11.0, 10.0, 12.0, 9.0, 11.0, 10.0]
"""A stable series: mean 10.47, mean moving range 1.57, limits about 6.3 to 14.6."""


@pytest.mark.parametrize(
    ("last", "polarity", "expected"),
    [
        # One point far above the upper limit: improvement when higher is better, concern when lower is.
        (30.0, "higher_is_better", Variation.IMPROVEMENT_HIGH),
        (30.0, "lower_is_better", Variation.CONCERN_HIGH),
        (30.0, "neutral", Variation.NEITHER_HIGH),
        # One point far below the lower limit: the reverse.
        (-10.0, "higher_is_better", Variation.CONCERN_LOW),
        (-10.0, "lower_is_better", Variation.IMPROVEMENT_LOW),
        (-10.0, "neutral", Variation.NEITHER_LOW),
        # A point inside the limits with no run or trend: common cause.
        (11.0, "higher_is_better", Variation.COMMON_CAUSE),
    ],
)
def test_latest_point_maps_to_the_variation_icon(last, polarity, expected):
    result = spc(np.array([BASE + [last]]), polarity=polarity)
    assert variation_from_spc(int(result.variation_icon[0])) is expected


@pytest.mark.parametrize(
    ("target", "polarity", "expected"),
    [
        # Target below the lower limit and higher is better: every point passes.
        (2.0, "higher_is_better", Assurance.PASS),
        (2.0, "lower_is_better", Assurance.FAIL),
        # Target above the upper limit.
        (20.0, "higher_is_better", Assurance.FAIL),
        (20.0, "lower_is_better", Assurance.PASS),
        # Target inside the limits: hit and miss.
        (10.5, "higher_is_better", Assurance.HIT_AND_MISS),
        (None, "higher_is_better", Assurance.NO_TARGET),
    ],
)
def test_target_against_the_limits_maps_to_the_assurance_icon(target, polarity, expected):
    result = spc(np.array([BASE]), polarity=polarity, target=target)
    assert assurance_from_spc(int(result.assurance_icon[0])) is expected


@pytest.mark.parametrize(
    ("icon", "colour", "letter"),
    [
        (Variation.COMMON_CAUSE, COMMON, ""),
        (Variation.IMPROVEMENT_HIGH, IMPROVEMENT, "H"),
        (Variation.IMPROVEMENT_LOW, IMPROVEMENT, "L"),
        (Variation.CONCERN_HIGH, CONCERN, "H"),
        (Variation.CONCERN_LOW, CONCERN, "L"),
        (Variation.NEITHER_HIGH, NEITHER, "H"),
        (Variation.NEITHER_LOW, NEITHER, "L"),
    ],
)
def test_variation_icon_colour_and_letter(icon, colour, letter):
    ring, text, name = _parts(variation_icon(icon))
    assert (ring, text, name) == (colour, letter, icon.value)


def test_special_cause_dots_sit_on_the_side_of_the_letter():
    def rise(icon: Variation) -> float:
        """How far the last dot sits above the first (SVG y grows downwards)."""
        dots = ET.fromstring(variation_icon(icon)).findall(f"{SVG}circle")[1:]
        return float(dots[0].get("cy")) - float(dots[-1].get("cy"))

    assert rise(Variation.IMPROVEMENT_HIGH) > 0 and rise(Variation.CONCERN_HIGH) > 0
    assert rise(Variation.IMPROVEMENT_LOW) < 0 and rise(Variation.CONCERN_LOW) < 0
    dots = ET.fromstring(variation_icon(Variation.CONCERN_LOW)).findall(f"{SVG}circle")[1:]
    assert [d.get("fill") for d in dots] == [COMMON, COMMON, COMMON, CONCERN, CONCERN]


@pytest.mark.parametrize(
    ("icon", "colour", "letter"),
    [
        (Assurance.PASS, IMPROVEMENT, "P"),
        (Assurance.FAIL, CONCERN, "F"),
        (Assurance.HIT_AND_MISS, COMMON, "?"),
    ],
)
def test_assurance_icon_colour_and_letter(icon, colour, letter):
    assert _parts(assurance_icon(icon)) == (colour, letter, icon.value)


def test_no_target_gives_a_blank_assurance_icon():
    ring, text, name = _parts(assurance_icon(Assurance.NO_TARGET))
    assert text == "" and name == "no_target" and ring not in (IMPROVEMENT, CONCERN, COMMON)
