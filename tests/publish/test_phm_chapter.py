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
    assert "Counts from 1 to 7 are not published" in page                 # the rule quoted from its object


def test_a_place_chapter_counts_that_places_people_only():
    """Bedford Borough's chapter shows its 30 people (and its practices' lists), not Luton's 12 nor the ICS's 42."""
    from placewise.derive.worklists import run
    from placewise.profile.worklists import load_worklists

    w = Warehouse()
    for i in range(30):
        w.person(f"b{i}", born=(1990, 1), practice="P1")
    for i in range(12):
        w.person(f"l{i}", born=(1960, 1), practice="P3", lsoa="L3")
        w.event(f"l{i}", date(2015, 1, 1), codes("type2_diabetes")[0])      # no HbA1c: on the diabetes alerts list
    con = w.load(ibis.duckdb.connect())
    build(con, load_profile(), date(2024, 3, 31))
    run(con, load_worklists(load_profile()), ["diabetes_alerts"])
    totals = {}
    for place in (None, "E06000055", "E06000032"):
        chapter = build_chapter(con, load_profile(), None, place)
        totals[place] = next(r for r in chapter.tables[0].rows if r[0] == "Total")[-1]
        lists = next((t for t in chapter.tables if t.title.startswith("Worklist sizes")), None)
        practices = {r[0] for r in lists.rows} - {"Total"} if lists else set()
        assert practices == {None: {"P3"}, "E06000055": set(), "E06000032": {"P3"}}[place]
    assert totals == {None: "40", "E06000055": "30", "E06000032": "10"}        # 42 and 12 rounded to the nearest 5
    bedford = build_chapter(con, load_profile(), None, "E06000055")
    assert bedford.ics.startswith("Bedford") and "Luton" not in " ".join(bedford.tables[0].columns)
    frailty = next(t for t in bedford.tables if t.title.startswith("Electronic Frailty Index band") and "Place" in t.title)
    assert frailty.rows == [["Bedford", "0", "0", "0", "0", "0"]]             # nobody in Bedford is 65 or over


def test_the_integrated_report_carries_the_chapter(tmp_path):
    """With the PHM tables in the warehouse, every area's report has the population health chapter, same rule."""
    from datetime import UTC, datetime

    import pyarrow as pa

    from placewise.analyse.measurements import measurements, write_measurements
    from placewise.measure import COUNTS_SCHEMA, load_catalogue
    from placewise.publish.assembly import build_models
    from placewise.publish.render import render_html
    from placewise.warehouse import connect
    from placewise.warehouse import ensure_tables

    w = Warehouse()
    for i in range(30):
        w.person(f"h{i}", born=(1990, 1))
    for i in range(2):
        w.person(f"l{i}", born=(1960, 1))
        w.event(f"l{i}", date(2015, 1, 1), codes("hypertension")[0])
    url = str(tmp_path / "w.duckdb")
    con = connect(url)
    w.load(con)
    ensure_tables(con)
    build(con, load_profile(), date(2024, 3, 31))
    rows = [{"indicator_id": "hypertension_treated_to_target", "period_start": date(2024, m, 1),
             "period_end": date(2024, m, 28), "geography_type": geo, "geography_code": code, "breakdown": "none",
             "breakdown_group": "All", "standard_band": None, "numerator": 600.0, "denominator": 1000.0,
             "sum_squares": None, "median": None}
            for m in range(1, 4)
            for geo, code in (("ics", "QHG"), *(("place", p.code) for p in load_profile().ics.places))]
    table = measurements(pa.Table.from_pylist(rows, schema=COUNTS_SCHEMA), load_catalogue(load_profile()),
                         datetime(2024, 4, 2, tzinfo=UTC))
    write_measurements(con, table, ["hypertension_treated_to_target"])
    con.disconnect()
    models = build_models(warehouse=url, indicators=["hypertension_treated_to_target"])
    assert models and all(m.phm is not None for _, m in models)
    html = render_html(models[0][1])
    assert "Population health" in html and "Volume against complexity" in html and "<svg" in html
    long_term = next(r for r in models[0][1].phm.tables[0].rows if r[0] == "Long-term conditions")
    assert long_term[-1] == SUPPRESSED_TEXT                               # 2 people: the one rule, in the report too
    by_area = {scope.area.code: m.phm for scope, m in models}
    assert by_area["E06000055"].ics.startswith("Bedford Borough, ") and by_area["QHG"].ics == load_profile().ics.name
    assert next(r for r in by_area["E06000032"].tables[0].rows if r[0] == "Total")[-1] == "0"   # nobody in Luton
