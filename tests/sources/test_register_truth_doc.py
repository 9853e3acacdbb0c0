"""docs/register-truth.md (registers against the generator's truth, measured at scale 1.0) lists every register
the truth test measures, each at or above that test's floors."""

from __future__ import annotations

from pathlib import Path

from test_truth import FLOORS

DOC = Path(__file__).parents[2] / "docs" / "register-truth.md"


def _rows() -> dict[str, tuple[float, float]]:
    """Register -> (sensitivity, specificity) as the page states them."""
    rows = {}
    for line in DOC.read_text().splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| ") and cells[0] in FLOORS:
            rows[cells[0]] = (float(cells[2]), float(cells[3]))
    return rows


def test_every_register_is_listed_at_or_above_its_floors() -> None:
    rows = _rows()
    assert sorted(rows) == sorted(FLOORS)
    low = {rid: (got, FLOORS[rid]) for rid, got in rows.items()
           if got[0] < FLOORS[rid][0] or got[1] < FLOORS[rid][1]}
    assert not low


def test_the_page_says_what_was_measured() -> None:
    assert "scale 1.0" in DOC.read_text()
