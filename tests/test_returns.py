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


def test_targets_follow_the_financial_year_of_the_period() -> None:
    from datetime import date

    cat = load_catalogue(load_profile())
    fds, cat2 = cat.indicator("cancer_fds_28d").target, cat.indicator("ambulance_cat2_mean").target
    assert fds.for_period(date(2021, 3, 31)) is None            # no FDS standard in 2020/21
    assert fds.for_period(date(2024, 3, 31)).value == 75         # Appendix D row 14b
    assert fds.for_period(date(2025, 3, 31)).value == 77         # 2024/25 guidance
    assert fds.for_period(date(2026, 3, 31)).value == 80         # 2025/26 guidance
    assert fds.for_period(date(2026, 9, 30)).value == 80         # Medium term planning framework: maintain 80%
    assert fds.for_period(date(2027, 9, 30)).value == 75         # standing standard after the guidance years
    assert cat2.for_period(date(2021, 3, 31)).value == 18 and cat2.for_period(date(2024, 4, 30)).value == 30
