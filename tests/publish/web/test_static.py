"""The stylesheet and templates are served from the package, and every text colour meets WCAG 2.2 AA.

Contrast is the WCAG 2.2 ratio (L1 + 0.05) / (L2 + 0.05) of relative luminances (success criterion 1.4.3:
at least 4.5:1 for normal text). Each rule of the stylesheet that sets a text colour is checked against its
own background, or against both page and card backgrounds where it sets none; each background against the
body text colour where the rule sets no colour.
"""

from __future__ import annotations

import re
from importlib.resources import files

import pytest
import tinycss2

STATIC = files("placewise.publish.web") / "static"
TEMPLATES = files("placewise.publish.web") / "templates"
AA_TEXT = 4.5


def luminance(hex_colour: str) -> float:
    """WCAG relative luminance of a #rrggbb colour."""
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two colours."""
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _rules() -> tuple[dict[str, str], list[tuple[str, dict[str, str]]]]:
    """The stylesheet's custom properties and each rule's selector with its colour declarations resolved."""
    css = (STATIC / "placewise.css").read_text()
    rules = [r for r in tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True)
             if r.type == "qualified-rule"]
    variables: dict[str, str] = {}
    out = []
    for rule in rules:
        selector = tinycss2.serialize(rule.prelude).strip()
        decls = {d.lower_name: tinycss2.serialize(d.value).strip()
                 for d in tinycss2.parse_declaration_list(rule.content, skip_comments=True, skip_whitespace=True)
                 if d.type == "declaration"}
        if selector == ":root":
            variables = {k: v.lower() for k, v in decls.items() if k.startswith("--")}
            continue
        out.append((selector, decls))
    return variables, out


def _colour(value: str, variables: dict[str, str]) -> str | None:
    """A declaration's colour as #rrggbb, resolving var(); None if it names no single colour."""
    value = re.sub(r"var\((--[\w-]+)\)", lambda m: variables[m.group(1)], value.lower())
    found = re.findall(r"#[0-9a-f]{6}\b", value)
    return found[0] if len(found) == 1 else None


def _background(decls: dict[str, str], variables: dict[str, str]) -> str | None:
    """The background colour a rule sets, if any."""
    return _colour(decls.get("background", decls.get("background-color", "")), variables)


def _inherited(selector: str, backgrounds: dict[str, str | None]) -> str | None:
    """The background of the nearest ancestor rule (``header.site`` for ``header.site nav a``)."""
    parts = selector.split()
    for k in range(len(parts) - 1, 0, -1):
        found = backgrounds.get(" ".join(parts[:k]))
        if found:
            return found
    return None


def test_every_text_colour_meets_aa_contrast() -> None:
    """No rule pairs a text colour and background below 4.5:1 (a descendant rule sits on its ancestor's)."""
    variables, rules = _rules()
    page, card, text = variables["--page"], variables["--card"], variables["--text"]
    backgrounds = {sel: _background(d, variables) for sel, d in rules}
    checked, failures = 0, []
    for selector, decls in rules:
        fg = _colour(decls.get("color", ""), variables)
        bg = backgrounds[selector] or _inherited(selector, backgrounds)
        if fg is None and backgrounds[selector] is None:
            continue
        pairs = [(fg, bg)] if fg and bg else [(fg, page), (fg, card)] if fg else [(text, bg)]
        for f, b in pairs:
            checked += 1
            if contrast(f, b) < AA_TEXT:
                failures.append(f"{selector}: {f} on {b} is {contrast(f, b):.2f}:1")
    assert checked >= 25, "the stylesheet's colour rules were not found"
    assert not failures, failures


def test_contrast_ratio_matches_published_values() -> None:
    """The formula gives 21:1 for black on white, and the well-known 4.48:1 (#777777, fails AA) and 4.54:1
    (#767676, the lightest grey that passes) on white."""
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.005)
    assert contrast("#767676", "#ffffff") == pytest.approx(4.54, abs=0.005)


def test_chart_text_colours_meet_aa_contrast_on_white() -> None:
    """The colours the shared charts write text in read at 4.5:1 on the white card behind them."""
    from placewise.publish import charts

    source = (files("placewise.publish") / "charts.py").read_text()
    fills = set(re.findall(r'<text[^>]*fill="(#[0-9A-Fa-f]{6})"', source))
    assert "#425563" in fills
    for colour in fills | {charts.LINE.lower()}:
        assert contrast(colour.lower(), "#ffffff") >= AA_TEXT, colour


def test_pages_load_nothing_from_another_site() -> None:
    """No template or stylesheet refers to a script, style or font outside the package (no CDN)."""
    texts = [p.read_text() for p in (*STATIC.iterdir(), *TEMPLATES.iterdir()) if p.name.endswith((".css", ".j2"))]
    assert texts
    for t in texts:
        assert not re.search(r"(src|href)=\"(https?:)?//", t)
        assert "@import" not in t and "url(http" not in t
