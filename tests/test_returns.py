"""docs/aggregate-returns.md carries the file format of every return, generated from placewise.returns."""

from __future__ import annotations

from pathlib import Path

from placewise.measure import load_catalogue
from placewise.profile import load_profile
from placewise.returns import MEASURES, returns_markdown

DOC = Path(__file__).resolve().parents[1] / "docs" / "aggregate-returns.md"


def test_doc_is_in_step_with_the_returns() -> None:
    assert DOC.read_text(encoding="utf-8").endswith(returns_markdown()), "run: python -m placewise.returns"


def test_every_returned_indicator_reads_a_known_return_measure() -> None:
    cat = load_catalogue(load_profile())
    returned = [i for i in cat.indicators if i.measure == "returned"]
    assert len(returned) >= 11
    for i in returned:
        for part in (i.numerator, i.denominator):
            assert part is None or part.measure in MEASURES, i.id
