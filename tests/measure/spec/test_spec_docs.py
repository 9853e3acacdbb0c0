"""docs/writing-an-indicator.md carries the spec tests as its worked examples, kept in step."""

from __future__ import annotations

from render import GUIDE, MARKER, guide_with_examples


def test_guide_examples_are_the_spec_tests() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    assert MARKER in text
    assert text == guide_with_examples(), "run: python tests/measure/spec/render.py"


def test_guide_shows_the_boundary_cases() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    for case in ("`exactly_140_90`", "`fall_then_died`", "`resolved_same_day`", "`last_day_29_days`"):
        assert case in text
