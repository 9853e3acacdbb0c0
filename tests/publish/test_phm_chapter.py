"""The population health chapter: counts pass the one disclosure rule; the pyramid covers everyone."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import ibis

from placewise.codelists import codes
from placewise.derive.segments import build
from placewise.profile import load_profile
from placewise.publish.disclosure import SUPPRESSED_TEXT, load_rule
from placewise.publish.phm import build_chapter, write_chapter

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "measure"))
from measure_builder import Warehouse


def test_segment_counts_are_disclosure_controlled_and_add_up(tmp_path):
    rule = load_rule(load_profile())
    w = Warehouse()
    n_healthy = rule.suppress_up_to + 16     # 23, printed rounded to the nearest 5
    for i in range(n_healthy):
        w.person(f"h{i}", born=(1990, 1))
    for i in range(2):                                                  # two people with a long-term condition
        w.person(f"l{i}", born=(1960, 1))
        w.event(f"l{i}", date(2015, 1, 1), codes("hypertension")[0])
    con = w.load(ibis.duckdb.connect())
    build(con, load_profile(), date(2024, 3, 31))
    chapter = build_chapter(con, load_profile(), None)
    people = chapter.tables[0]
    rows = {r[0]: r[1:] for r in people.rows}
    assert rows["Long-term conditions"][-1] == SUPPRESSED_TEXT         # 2 is from 1 to 7
    # With the total (25) shown, 23 would give the 2 back by subtraction: it is hidden too.
    assert rows["Mostly healthy"][-1] == SUPPRESSED_TEXT
    assert rows["Total"][-1] == "25"
    assert chapter.fairness is None
    page = write_chapter(chapter, tmp_path).read_text(encoding="utf-8")
    assert "Volume against complexity" in page and "<svg" in page and ">2<" not in page
