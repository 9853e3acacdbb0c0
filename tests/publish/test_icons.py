"""Making Data Count icons: each outcome maps to the icon the guidance describes."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from placewise.publish.icons import (
    COMMON,
    CONCERN,
    IMPROVEMENT,
    NEITHER,
    Assurance,
    Variation,
    assurance_icon,
    variation_for,
    variation_icon,
)

SVG = "{http://www.w3.org/2000/svg}"


def _parts(svg: str) -> tuple[str, str, str]:
    """The ring colour, the letter shown and the icon's name, read back from the SVG."""
    root = ET.fromstring(svg)
    ring = root.find(f"{SVG}circle").get("stroke")
    text = root.find(f"{SVG}text")
    return ring, "" if text is None else text.text, root.get("data-icon")


@pytest.mark.parametrize(
    ("point_type", "polarity", "side", "expected"),
    [
        # Higher is better: a high special cause is an improvement, a low one a concern.
        ("special_cause_improvement", "higher_is_better", "high", Variation.IMPROVEMENT_HIGH),
        ("special_cause_concern", "higher_is_better", "low", Variation.CONCERN_LOW),
        # Lower is better: the reverse.
        ("special_cause_improvement", "lower_is_better", "low", Variation.IMPROVEMENT_LOW),
        ("special_cause_concern", "lower_is_better", "high", Variation.CONCERN_HIGH),
        # No preferred direction: special cause is neither, shown high or low.
        ("special_cause_neutral_high", "neutral", "high", Variation.NEITHER_HIGH),
        ("special_cause_neutral_low", "neutral", "low", Variation.NEITHER_LOW),
        ("common_cause", "higher_is_better", "high", Variation.COMMON_CAUSE),
        ("common_cause", "lower_is_better", "low", Variation.COMMON_CAUSE),
    ],
)
def test_latest_point_maps_to_the_variation_icon(point_type, polarity, side, expected):
    assert variation_for(point_type, polarity, side) is expected


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


def test_unknown_inputs_are_rejected():
    with pytest.raises(ValueError, match="side"):
        variation_for("common_cause", "higher_is_better", "middle")
    with pytest.raises(ValueError, match="point type"):
        variation_for("special_cause_other", "higher_is_better", "high")
