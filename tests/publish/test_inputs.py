"""What publishing reads from the warehouse beside the measurements: which returned values came without counts."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pyarrow as pa
import pytest

from placewise.measure import load_catalogue
from placewise.profile import load_profile
from placewise.publish.disclosure import DisclosureRule
from placewise.publish.inputs import catalogue_scopes, place_units, printed_alone
from placewise.warehouse import connect, ensure_tables


def test_a_value_is_printed_alone_where_its_own_return_gave_no_counts(tmp_path):
    # cancer_31d counts measure cancer_31d's numerator over its denominator. Luton CCG (06P) printed 100% alone in
    # April 2020 (as BLMK's 2020/21 dashboard does) and 1 of 1 in May; the ICS gave 97 of 100 in April. Only
    # April's 06P value is alone: a whole 1 over 1 is told apart by the return, not by the value.
    con = connect(str(tmp_path / "w.duckdb"))
    ensure_tables(con)
    returns = pd.DataFrame({
        "period": [date(2020, 4, 1), date(2020, 5, 1), date(2020, 4, 1), date(2020, 4, 1)],
        "org_code": ["06P", "06P", "QHG", "06P"],
        "measure": ["cancer_31d", "cancer_31d", "cancer_31d", "rtt_within_18wk"],
        "numerator": [None, 1.0, 97.0, 640.0], "denominator": [None, 1.0, 100.0, 1000.0],
        "value": [1.0, 1.0, 0.97, 0.64]})
    con.insert("aggregate_returns", returns)
    frame = pd.DataFrame({
        "indicator_id": ["cancer_31d"] * 4 + ["cancer_31d"],
        "period_start": [date(2020, 4, 1), date(2020, 5, 1), date(2020, 4, 1), date(2020, 6, 1), date(2020, 4, 1)],
        "period_end": [date(2020, 4, 30), date(2020, 5, 31), date(2020, 4, 30), date(2020, 6, 30), date(2020, 4, 30)],
        "geography_code": ["06P", "06P", "QHG", "06P", "06P"],
        "breakdown": ["none"] * 4 + ["sex"]})
    alone = printed_alone(con, load_catalogue(load_profile()), frame)
    assert alone["cancer_31d"] == frozenset({("06P", date(2020, 4, 1))})
    assert alone["rtt_18wk"] == frozenset()  # its 06P return gave counts (and the frame holds no RTT rows)
    assert "rtt_waiting_list" not in alone  # a returned count has no share to print alone


def test_a_pcn_serving_two_places_is_drawn_in_each_with_the_other_place_named(tmp_path):
    # Five practices: PCN U1 has two in Luton and one in Bedford Borough; U2 is Luton's alone; U3 (one practice)
    # is Bedford's. U1 is in both Places' units, named with the other Place, listed once among the ICS's PCNs, and
    # drawn in both Places' PCN funnels with the sentence saying why.
    from placewise.publish.report import MEASUREMENT_COLUMNS, Area, IndicatorSpec, build_report

    con = connect(str(tmp_path / "w.duckdb"))
    ensure_tables(con)
    con.insert("practices", pd.DataFrame({
        "practice_code": ["L1", "L2", "L3", "B1", "B2"], "practice_name": ["L1", "L2", "L3", "B1", "B2"],
        "pcn_code": ["U1", "U1", "U2", "U1", "U3"], "pcn_name": ["Riverside", "Riverside", "Town", "Riverside", "Vale"],
        "la_code": ["E06000032", "E06000032", "E06000032", "E06000055", "E06000055"], "list_size": [1000] * 5}))
    profile = load_profile()
    places = tuple(Area("place", p.code, p.name) for p in profile.ics.places)
    units = place_units(con, {a.code: a.name for a in places})
    pcns = {code: [u.name for u in units[code] if u.geography_type == "pcn"] for code in ("E06000032", "E06000055")}
    assert pcns == {"E06000032": ["Riverside (also serves Bedford Borough)", "Town"],
                    "E06000055": ["Riverside (also serves Luton)", "Vale"]}
    scopes = {s.area.code: s for s in catalogue_scopes(profile, places, units)}
    luton, bedford = scopes["E06000032"], scopes["E06000055"]
    assert sorted(u.code for u in luton.ics_pcns) == ["U1", "U2", "U3"] and luton.shared_pcns == {"U1"}

    period = date(2025, 3, 1)
    base = {"indicator_id": "x", "period_start": period, "period_end": date(2025, 3, 31), "breakdown": "none",
            "breakdown_group": "All", "lower": float("nan"), "upper": float("nan"), "suppressed": False}
    rows = [{**base, "geography_type": g, "geography_code": c, "numerator": 600.0, "denominator": 1000.0,
             "value": 60.0} for g, c in (("ics", "QHG"), ("place", "E06000032"), ("place", "E06000055"))]
    rows += [{**base, "geography_type": "pcn", "geography_code": c, "numerator": n, "denominator": 1000.0,
              "value": n / 10} for c, n in (("U1", 610.0), ("U2", 590.0), ("U3", 600.0))]
    frame = pd.DataFrame(rows)[list(MEASUREMENT_COLUMNS)]
    spec = IndicatorSpec(id="x", title="Designed", definition="d", domain="d", polarity="higher_is_better",
                         measure="proportion", frequency="monthly", unit="%", per=100)
    rule = DisclosureRule(suppress_up_to=7, round_to=5, geographies=["ics", "place", "pcn"])
    for scope, name in ((luton, "Riverside (also serves Bedford Borough)"), (bedford, "Riverside (also serves Luton)")):
        page = build_report(frame, [spec], scope, title="t", months=36, rule=rule).pages[0]
        assert f"<title>{name}</title>" in page.pcn_svg
        assert (f" {name}: a PCN serving more than one Place is drawn in the report of each, its value covering all "
                "its practices.") in page.pcn_note


def test_the_ics_spread_of_bed_days_is_read_from_its_whole_population_cell(tmp_path):
    # Heart failure bed days: the ICS's whole-population cell of April 2025 has 550 days over 55 spells whose squares
    # sum to 7,000, so m = 10 days a spell and s = sqrt(7,000 / 55) = 11.28; May's cell counted no spell (no spread).
    # A practice's cell, the ICS's cell by sex and another indicator's are not read.
    from placewise.publish.inputs import event_spreads

    from placewise.analyse.measurements import SCHEMA, write_measurements

    con = connect(str(tmp_path / "w.duckdb"))
    columns = SCHEMA.names
    base = {c: None for c in columns}
    april, may = date(2025, 4, 1), date(2025, 5, 1)
    cells = [("heart_failure_bed_days", april, "ics", "QHG", "none", 550.0, 55.0, 7000.0),
             ("heart_failure_bed_days", may, "ics", "QHG", "none", 0.0, 0.0, 0.0),
             ("heart_failure_bed_days", april, "practice", "P1", "none", 50.0, 2.0, 2000.0),
             ("heart_failure_bed_days", april, "ics", "QHG", "sex", 300.0, 10.0, 9000.0),
             ("heart_failure_admissions", april, "ics", "QHG", "none", 55.0, None, None)]
    rows = pd.DataFrame([{**base, "indicator_id": i, "period_start": p, "period_end": p, "geography_type": g,
                          "geography_code": c, "breakdown": b, "breakdown_group": "All", "numerator": t,
                          "denominator": 1000.0, "events": o, "sum_squares": v}
                         for i, p, g, c, b, t, o, v in cells])[columns]
    write_measurements(con, pa.Table.from_pandas(rows, schema=SCHEMA, preserve_index=False), [c[0] for c in cells])
    rule = DisclosureRule(suppress_up_to=7, round_to=5, geographies=["ics"])
    spreads = event_spreads(con, load_catalogue(load_profile()), rule)
    assert list(spreads) == ["heart_failure_bed_days"]
    (start, m, s), = spreads["heart_failure_bed_days"]
    assert start == april and m == 10.0 and s == pytest.approx(11.2815, abs=1e-4)


def test_the_bed_day_spread_passes_the_disclosure_rule_as_the_icss_spells_would(tmp_path):
    # SPREAD_RULE: m and s are printed, so the ICS's spells behind them pass the rule as a count. June: 530 days over
    # 53 spells, squares 7,000: the spells are published as 55, so m = 530 / 55 = 9.636 (not 10, which with the
    # published days would give back 53) and s = sqrt(7,000 / 55) = 11.28. July: 60 days over 7 spells, a small count:
    # no m and s, so no funnel. August: 40 days over 8 spells of 5 days (squares 200), published as 10 spells: m = 4
    # and sqrt(200 / 10) = 4.47. September: 48 days of 12 spells of 4 (squares 192) published as 10: m = 4.8 and
    # sqrt(192 / 10) = 4.38, below m, which no set of spells has: s is taken as m.
    from placewise.analyse.measurements import SCHEMA, write_measurements
    from placewise.publish.inputs import event_spreads

    con = connect(str(tmp_path / "w.duckdb"))
    june, july, august, september = (date(2025, m, 1) for m in (6, 7, 8, 9))
    cells = [(june, 530.0, 53.0, 7000.0), (july, 60.0, 7.0, 600.0), (august, 40.0, 8.0, 200.0),
             (september, 48.0, 12.0, 192.0)]
    rows = pd.DataFrame([{**{c: None for c in SCHEMA.names}, "indicator_id": "heart_failure_bed_days",
                          "period_start": p, "period_end": p, "geography_type": "ics", "geography_code": "QHG",
                          "breakdown": "none", "breakdown_group": "All", "numerator": t, "denominator": 1000.0,
                          "events": o, "sum_squares": v} for p, t, o, v in cells])[SCHEMA.names]
    write_measurements(con, pa.Table.from_pandas(rows, schema=SCHEMA, preserve_index=False), ["heart_failure_bed_days"])
    rule = DisclosureRule(suppress_up_to=7, round_to=5, geographies=["ics"])
    got = {start: (m, s) for start, m, s in event_spreads(con, load_catalogue(load_profile()), rule)[
        "heart_failure_bed_days"]}
    assert list(got) == [june, august, september]
    assert got[june] == pytest.approx((530 / 55, (7000 / 55) ** 0.5))
    assert got[august] == pytest.approx((4.0, 20 ** 0.5)) and got[september] == pytest.approx((4.8, 4.8))
    assert rule.published_count(7.0) is None and rule.published_count(0.0) == 0.0
    assert rule.published_count(53.0) == 55.0 and rule.published_count(float("nan")) is None
