"""Making Data Count variation and assurance icons, drawn as inline SVG by our own code.

The meanings follow NHS England's Making Data Count guidance ("Making Data Count: getting
started", NHS Improvement, 2019): a variation icon tells whether the latest point shows
common cause variation or special cause variation that is an improvement, a concern or
neither (for measures with no preferred direction), and whether it is high (H) or low (L);
an assurance icon tells whether the target sits outside the process limits so that the
process will consistently pass (P) or consistently fail (F), or inside them so that it will
hit and miss (?). Colours are those of the Making Data Count icon set: blue for improvement
and passing, orange for concern and failing, purple for special cause of neither kind, grey
for common cause and hit-and-miss.
"""

from __future__ import annotations

from enum import StrEnum
from html import escape

from placewise.analyse.spc import AssuranceIcon, VariationIcon

IMPROVEMENT = "#0072C6"
CONCERN = "#FF6600"
NEITHER = "#8000C0"
COMMON = "#7F7F7F"
FONT = "'DejaVu Sans', Arial, Helvetica, sans-serif"
"""DejaVu Sans first: the font the PDF renderer has, so that HTML and PDF match where it is installed."""


class Variation(StrEnum):
    """The variation icons: what the latest point of an XmR chart shows."""

    COMMON_CAUSE = "common_cause"
    IMPROVEMENT_HIGH = "improvement_high"
    IMPROVEMENT_LOW = "improvement_low"
    CONCERN_HIGH = "concern_high"
    CONCERN_LOW = "concern_low"
    NEITHER_HIGH = "neither_high"
    NEITHER_LOW = "neither_low"


class Assurance(StrEnum):
    """The assurance icons: can the process be relied on to meet its target."""

    PASS = "pass"
    FAIL = "fail"
    HIT_AND_MISS = "hit_and_miss"
    NO_TARGET = "no_target"


VARIATION_TEXT = {
    Variation.COMMON_CAUSE: "Common cause variation: no significant change",
    Variation.IMPROVEMENT_HIGH: "Special cause variation: improvement, with higher values",
    Variation.IMPROVEMENT_LOW: "Special cause variation: improvement, with lower values",
    Variation.CONCERN_HIGH: "Special cause variation: concern, with higher values",
    Variation.CONCERN_LOW: "Special cause variation: concern, with lower values",
    Variation.NEITHER_HIGH: "Special cause variation: higher values, neither improvement nor concern",
    Variation.NEITHER_LOW: "Special cause variation: lower values, neither improvement nor concern",
}
ASSURANCE_TEXT = {
    Assurance.PASS: "The system is expected to consistently pass the target",
    Assurance.FAIL: "The system is expected to consistently fail the target",
    Assurance.HIT_AND_MISS: "The system will hit and miss the target by random variation",
    Assurance.NO_TARGET: "No target: assurance cannot be assessed",
}


def variation_from_spc(icon: int) -> Variation:
    """The icon to draw for the SPC module's variation outcome of a series."""
    return Variation[VariationIcon(icon).name]


def assurance_from_spc(icon: int) -> Assurance:
    """The icon to draw for the SPC module's assurance outcome of a series."""
    return {
        AssuranceIcon.NONE: Assurance.NO_TARGET,
        AssuranceIcon.CONSISTENTLY_PASS: Assurance.PASS,
        AssuranceIcon.CONSISTENTLY_FAIL: Assurance.FAIL,
        AssuranceIcon.INCONSISTENT: Assurance.HIT_AND_MISS,
    }[AssuranceIcon(icon)]


def _colour(v: Variation) -> str:
    """The colour of a variation icon."""
    if v is Variation.COMMON_CAUSE:
        return COMMON
    return {"improvement": IMPROVEMENT, "concern": CONCERN, "neither": NEITHER}[v.value.split("_")[0]]


def _ring(colour: str, size: int, kind: str, name: str, title: str) -> str:
    """The opening of an icon: an SVG with a titled white disc in a coloured ring."""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="mdc-icon {kind}" data-icon="{name}" '
        f'width="{size}" height="{size}" viewBox="0 0 100 100" role="img">'
        f"<title>{escape(title)}</title>"
        f'<circle cx="50" cy="50" r="44" fill="#FFFFFF" stroke="{colour}" stroke-width="8"/>'
    )


def _letter(text: str, colour: str, y: float) -> str:
    """A bold letter centred in an icon."""
    return (
        f'<text x="50" y="{y}" text-anchor="middle" font-family="{FONT}" font-weight="bold" '
        f'font-size="34" fill="{colour}">{escape(text)}</text>'
    )


def variation_icon(v: Variation, size: int = 36) -> str:
    """The variation icon: a ring in the outcome's colour, a letter H or L, and five dots of a run."""
    colour = _colour(v)
    high = v.value.endswith("_high")
    letter_y, base = (38, 66) if high or v is Variation.COMMON_CAUSE else (88, 44)
    lift = {True: -10.0, False: 10.0}[high]
    dots = []
    for i, x in enumerate((24, 37, 50, 63, 76)):
        special = v is not Variation.COMMON_CAUSE and i >= 3
        y = base + (lift if special else (3 if i % 2 else -3))
        dots.append(f'<circle cx="{x}" cy="{y}" r="5" fill="{colour if special else COMMON}"/>')
    line = " ".join(f"{x},{base + (3 if i % 2 else -3)}" for i, x in enumerate((24, 37, 50)))
    body = f'<polyline points="{line}" fill="none" stroke="{COMMON}" stroke-width="2.5"/>' + "".join(dots)
    letter = "" if v is Variation.COMMON_CAUSE else _letter("H" if high else "L", colour, letter_y)
    return _ring(colour, size, "variation", v.value, VARIATION_TEXT[v]) + letter + body + "</svg>"


def assurance_icon(a: Assurance, size: int = 36) -> str:
    """The assurance icon: P (blue), F (orange) or ? (grey) over a dashed target line; blank with no target."""
    if a is Assurance.NO_TARGET:
        return _ring("#D9D9D9", size, "assurance", a.value, ASSURANCE_TEXT[a]) + "</svg>"
    colour, letter = {
        Assurance.PASS: (IMPROVEMENT, "P"),
        Assurance.FAIL: (CONCERN, "F"),
        Assurance.HIT_AND_MISS: (COMMON, "?"),
    }[a]
    target = f'<line x1="14" y1="58" x2="86" y2="58" stroke="{colour}" stroke-width="3" stroke-dasharray="7 4"/>'
    wave = (
        f'<path d="M20 72 Q30 62 40 72 T60 72 T80 72" fill="none" stroke="{COMMON}" stroke-width="3"/>'
    )
    ring = _ring(colour, size, "assurance", a.value, ASSURANCE_TEXT[a])
    return ring + _letter(letter, colour, 46) + target + wave + "</svg>"
