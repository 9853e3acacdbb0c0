"""The explorer's view model from hand-built published rows: funnel verdicts worked by hand, SII, suppression."""

from __future__ import annotations

import math
import re
from datetime import date

import pandas as pd

from placewise.measure import load_catalogue
from placewise.profile import load_profile
from placewise.publish.disclosure import SUPPRESSED_TEXT
from placewise.publish.icons import CONCERN, IMPROVEMENT
from placewise.publish.inputs import specs_from_catalogue
from placewise.analyse.statistics import FunnelSignificance
from placewise.analyse.funnels import CENTRE_RULE
from placewise.publish.web.views import explorer

CATALOGUE = load_catalogue(load_profile("blmk"))
SPECS = {s.id: s for s in specs_from_catalogue(CATALOGUE)}
PER = {i.id: i.per for i in CATALOGUE.indicators}
IND = "hypertension_treated_to_target"
MONTHS = [date(2023 + (m + 3) // 12, (m + 3) % 12 + 1, 1) for m in range(24)]
DENOMINATORS = {"P1": 400, "P2": 900, "P3": 1500, "P4": 2500, "P5": 600, "P6": 1200}


def _row(code: str, month: date, num: float, den: float, breakdown: str = "none", group: str = "All",
         suppressed: bool = False) -> dict:
    """One published measurement of the hypertension indicator for a practice."""
    p = num / den
    half = 1.96 * math.sqrt(p * (1 - p) / den)
    return {"indicator_id": IND, "period_start": month, "period_end": month, "geography_type": "practice",
            "geography_code": code, "breakdown": breakdown, "breakdown_group": group,
            "numerator": None if suppressed else num, "denominator": None if suppressed else den,
            "value": None if suppressed else 100 * p, "lower": None if suppressed else 100 * (p - half),
            "upper": None if suppressed else 100 * (p + half), "suppressed": suppressed}


def _frame(hide_p6_latest: bool = False) -> pd.DataFrame:
    """24 months for six practices at 60% (P4 at 70% in the latest month), P1's IMD quintiles in the latest."""
    rows = []
    for m, month in enumerate(MONTHS):
        for code, den in DENOMINATORS.items():
            share = 0.70 if (code == "P4" and m == 23) else 0.60 + 0.002 * (m % 3)
            hidden = hide_p6_latest and code == "P6" and m == 23
            rows.append(_row(code, month, round(share * den), den, suppressed=hidden))
    for q, (num, den) in enumerate(((40, 100), (48, 90), (50, 80), (45, 70), (45, 60)), start=1):
        rows.append(_row("P1", MONTHS[-1], num, den, "imd_quintile", str(q)))
    return pd.DataFrame(rows)


def test_funnel_verdicts_follow_the_proportion_method() -> None:
    """Each verdict worked by hand: z = (p - pooled) / sqrt(pooled (1 - pooled) / n) against 1.96 and 3.09."""
    view = explorer(_frame(), SPECS[IND], PER[IND], "P1", {c: f"Practice {c}" for c in DENOMINATORS}, "none")
    verdicts = {r.label: r.note for r in view.funnel_rows}
    latest = {c: round((0.70 if c == "P4" else 0.60 + 0.002 * (23 % 3)) * d) for c, d in DENOMINATORS.items()}
    pooled = sum(latest.values()) / sum(DENOMINATORS.values())
    z = (latest["P4"] / 2500 - pooled) / math.sqrt(pooled * (1 - pooled) / 2500)
    assert z > 3.09
    assert verdicts["Practice P4"] == "High (outside the 99.8% limit)"
    for code, den in DENOMINATORS.items():
        z = (latest[code] / den - pooled) / math.sqrt(pooled * (1 - pooled) / den)
        side = "High" if z > 0 else "Low"
        expected = (f"{side} (outside the 99.8% limit)" if abs(z) > 3.0902 else
                    f"{side} (outside the 95% limit)" if abs(z) > 1.96 else "Not significantly different")
        assert verdicts[f"Practice {code}"] == expected, code
    assert verdicts["Practice P3"] == "Low (outside the 95% limit)"
    assert 'class="chart funnel"' in view.funnel_svg and view.funnel_svg.count('class="area outside') == sum(
        v != "Not significantly different" for v in verdicts.values())
    assert "NaN" not in view.funnel_svg and "nan" not in view.spc_svg
    # Higher is better for this indicator: P4 (high) is drawn as an improvement, P3 (low) as a concern, as the key says.
    fill = dict((name, colour) for colour, name in re.findall(r'fill="(#\w+)"><title>([^<]+)</title>', view.funnel_svg))
    assert SPECS[IND].polarity == "higher_is_better"
    assert (fill["Practice P4"], fill["Practice P3"]) == (IMPROVEMENT, CONCERN)
    assert "Improvement (high)" in view.funnel_svg and "Concern (low)" in view.funnel_svg


def test_the_web_funnel_judges_an_area_at_its_published_value_not_its_rounded_counts() -> None:
    """VERDICT_RULE: a practice with 8 of 11 (72.7%) published as 10 of 10 (counts rounded) is inside the limits of
    the other practices' ~60% at size 10 (sd about 0.155, upper 95% limit about 90%); remade from its rounded counts
    (100%) it would be "High (outside the 95% limit)"."""
    frame = _frame()
    latest = (frame.geography_code == "P1") & (frame.period_start == MONTHS[-1]) & (frame.breakdown == "none")
    frame.loc[latest, ["numerator", "denominator", "value"]] = [10.0, 10.0, 800 / 11]
    view = explorer(frame, SPECS[IND], PER[IND], "P1", {c: f"Practice {c}" for c in DENOMINATORS}, "none")
    verdicts = {r.label: r.note for r in view.funnel_rows}
    assert verdicts["Practice P1"] == "Not significantly different"
    assert verdicts["Practice P4"] == "High (outside the 99.8% limit)"


def test_spc_table_and_latest_value() -> None:
    """The SPC chart has one point per period, the table lists every period newest first, values formatted."""
    view = explorer(_frame(), SPECS[IND], PER[IND], "P2", {}, "none")
    assert view.spc_svg.count('<circle class="point') == 24
    assert view.series_rows[0].label == "Mar 2025" and len(view.series_rows) == 24
    assert view.latest_value == f"{100 * round(0.604 * 900) / 900:.1f}%" == "60.4%"
    assert view.variation_svg.startswith("<svg") and view.assurance_svg.startswith("<svg")


def test_a_suppressed_area_is_marked_and_left_out_of_the_funnel() -> None:
    """P6 hidden in the latest month: its table row shows the mark, the funnel has five areas."""
    view = explorer(_frame(hide_p6_latest=True), SPECS[IND], PER[IND], "P6", {}, "none")
    row = next(r for r in view.funnel_rows if r.label == "P6")
    assert (row.count, row.value, row.interval) == (SUPPRESSED_TEXT, SUPPRESSED_TEXT, "")
    assert view.funnel_svg.count("<circle class=\"area") == 5
    assert view.latest_value == SUPPRESSED_TEXT
    assert "1 period is suppressed or missing: gaps in the line." in view.description


def test_imd_quintiles_give_the_sii_and_rii() -> None:
    """Quintiles rising from 40% to 75%: a positive SII of about +35 points and an RII above 1."""
    view = explorer(_frame(), SPECS[IND], PER[IND], "P1", {}, "imd_quintile")
    assert [r.label for r in view.breakdown_rows] == ["1 most deprived", "2", "3", "4", "5 least deprived"]
    assert view.breakdown_svg.count('class="bar"') == 5 and 'class="sii"' in view.breakdown_svg
    sii = float(view.inequality_text.split("(SII): ")[1].split(" ")[0])
    assert 25 < sii < 50
    rii = float(view.inequality_text.split("(RII): ")[1].split(" ")[0])
    assert rii > 1


def test_a_breakdown_with_no_rows_says_so() -> None:
    """Asking for ethnic group where none is published gives a sentence, not an empty chart."""
    view = explorer(_frame(), SPECS[IND], PER[IND], "P1", {}, "ethnic_group")
    assert view.breakdown_svg == "" and "No published figures by ethnic group" in view.inequality_text


def test_the_plan_is_drawn_and_quoted() -> None:
    """A trajectory for the area is drawn on the SPC chart and its latest value is quoted."""
    plan = {m: 0.65 * 100 for m in MONTHS}
    view = explorer(_frame(), SPECS[IND], PER[IND], "P1", {}, "none", plan)
    assert 'class="trajectory"' in view.spc_svg
    assert view.plan_value == "65.0%"
    assert explorer(_frame(), SPECS[IND], PER[IND], "P1", {}, "none").plan_value == "none"


def test_a_suppressed_or_missing_period_breaks_the_line_as_in_the_report() -> None:
    """P2's month 10 suppressed and month 15 absent: the line has three pieces, 22 points, the gaps labelled."""
    rows = _frame()
    p2 = rows.geography_code == "P2"
    rows.loc[p2 & (rows.period_start == MONTHS[10]), ["numerator", "denominator", "value", "lower", "upper"]] = None
    rows.loc[p2 & (rows.period_start == MONTHS[10]), "suppressed"] = True
    rows = rows[~(p2 & (rows.period_start == MONTHS[15]))]
    view = explorer(rows, SPECS[IND], PER[IND], "P2", {}, "none")
    line = re.search(r'<path class="values" d="([^"]*)"', view.spc_svg)
    assert line is not None and line.group(1).count("M") == 3 and line.group(1).count("L") == 24 - 2 - 3
    assert view.spc_svg.count('<circle class="point') == 22
    assert "2 periods are suppressed or missing" in view.description


def test_each_period_has_its_own_years_target_and_the_summary_quotes_the_latest() -> None:
    """A target of 70% in the first financial year and none (stale) in the second: the target line stops where
    the year's target does, the summary says none and why, and assurance is not judged against a stale target."""
    targets = {m: 70.0 for m in MONTHS[:12]}
    view = explorer(_frame(), SPECS[IND], PER[IND], "P1", {}, "none", None, targets)
    assert view.target_value == "none" and 'class="target"' in view.spc_svg
    line = re.search(r'<path class="target" d="([^"]*)"', view.spc_svg)
    assert line is not None and line.group(1).count("M") == 1
    both = {**targets, **{m: 75.0 for m in MONTHS[12:]}}
    assert explorer(_frame(), SPECS[IND], PER[IND], "P1", {}, "none", None, both).target_value == "75.0%"


def test_a_funnel_of_zero_counts_is_not_drawn() -> None:
    """Every area's published count zero (a rare event, rounded): no funnel limits, a sentence saying why."""
    rate = next(s for s in SPECS.values() if s.measure == "crude_rate")
    rows = _frame().assign(indicator_id=rate.id, numerator=0.0, value=0.0, lower=0.0, upper=0.5)
    view = explorer(rows, rate, PER[rate.id], "P1", {}, "none")
    assert view.funnel_svg == "" and "counted any, so every value is 0" in view.funnel_note and len(view.funnel_rows) == 6


def test_the_web_funnel_gives_the_reports_verdicts() -> None:
    """Twelve PCNs of 1,000, alternately 50% and 70% treated to target, and one at 95%, held to the ICS's published
    62%: the web app's funnel of every PCN and the report's (publish.report._level_funnel, as a Place report draws
    them) give each the same verdict. The PCNs are overdispersed, so the 50% and 70% ones are inside the widened limits;
    held to their own pooled value without overdispersion (the web app's old funnel) every one was outside."""
    import numpy as np

    from placewise.analyse.statistics import FunnelSignificance
    from placewise.publish.report import Area, Scope, _level_funnel, _slices
    from placewise.publish.web.views import ics_centres, level_funnel

    spec, month = SPECS[IND], MONTHS[-1]
    shares = [0.5, 0.7] * 6 + [0.95]
    pcns = pd.DataFrame([_row(f"U{i:02d}", month, round(s * 1000), 1000) for i, s in enumerate(shares)])
    pcns["geography_type"] = "pcn"
    ics = pd.DataFrame([_row("QHG", month, 620, 1000)])
    names = {c: f"PCN {c}" for c in pcns.geography_code}
    centre = ics_centres(ics, PER[IND])[month]
    web = level_funnel(pcns, spec, PER[IND], names, month, centre)
    ics_area = Area("ics", "QHG", "BLMK")
    scope = Scope(ics_area, ics_area, (), tuple(Area("pcn", c, n) for c, n in names.items()))
    svg, note = _level_funnel(_slices(pcns), scope, spec, month, "pcn", "PCNs", centre)

    def drawn(chart: str) -> dict[str, str]:
        return {name: cls for cls, name in re.findall(r'<circle class="([^"]+)"[^>]*><title>([^<]+)</title>', chart)}

    web_svg = explorer(pcns, spec, PER[IND], "U12", names, "none", funnels=lambda _: web).funnel_svg
    assert drawn(web_svg) == drawn(svg) and len(drawn(svg)) == 13
    assert drawn(svg)["PCN U12"].startswith("area outside") and drawn(svg)["PCN U00"] == "area"
    assert web.centre == spec.scale * 62.0 and "held to the ICS value" in web.note and "overdispersion" in web.note
    verdicts = {r.label: r.note for r in web.rows}
    assert verdicts["PCN U12"] == FunnelSignificance.HIGH_998.label and "PCN U12 (high, beyond 99.8%)" in note
    assert {verdicts[f"PCN U{i:02d}"] for i in range(12)} == {FunnelSignificance.NOT_SIGNIFICANT.label}
    assert np.isfinite(web.limits[0]).all()


def test_the_web_funnel_follows_the_sparse_rule() -> None:
    """Seven of twelve practices counted none: no funnel in the web app either, with the reason."""
    from placewise.publish.web.views import level_funnel

    counts = [0] * 7 + [30] * 5
    rows = pd.DataFrame([_row(f"P{i:02d}", MONTHS[-1], c, 100) for i, c in enumerate(counts)])
    funnel = level_funnel(rows, SPECS[IND], PER[IND], {}, MONTHS[-1], 0.2)
    assert not funnel.labels and funnel.note.startswith("No funnel plot of areas: 7 of the 12 with a published value counted none")


def test_the_web_app_draws_bed_days_on_dobsons_funnel_from_the_ics_spells() -> None:
    """Heart failure bed days sum each spell's days: in the web app, as in the report, their funnel is Dobson's from the
    ICS's mean and root mean square days of a spell (m = s = 10: 55 spells of 10 days make the ICS's 550 per 1,000),
    so 700 of 1,000 is inside the 95% limits (704.9), where as Poisson counts of days it would be beyond 99.8%. Without
    the ICS's spread for the period (its cell not published), no funnel, the reason given, and no verdict."""
    from dataclasses import replace

    from placewise.publish.web.views import funnel_labels, level_funnel

    bare = SPECS["heart_failure_bed_days"]
    assert bare.sums_values and not SPECS[IND].sums_values
    spec = replace(bare, spreads=((MONTHS[-1], 10.0, 10.0),))
    rows = pd.DataFrame([_row(f"P{i:02d}", MONTHS[-1], n, 1000) for i, n in enumerate([500, 480, 520, 700] * 3)])
    rows["value"] = rows.numerator  # per 1,000 of 1,000
    funnel = level_funnel(rows, spec, 1000, {}, MONTHS[-1], 0.55)
    assert len(funnel.labels) == 12 and "Dobson's limits for a sum of values over events" in funnel.note
    assert funnel.signal.tolist() == [0] * 12  # 700 is inside the 95% limits
    labels = funnel_labels(spec, rows, {MONTHS[-1]: 0.55})
    assert len(labels) == 12 and set(labels.values()) == {"Not significantly different"}
    none = level_funnel(rows, bare, 1000, {}, MONTHS[-1], 0.55)
    assert not none.labels and none.note.startswith("No funnel plot of areas: its count sums a value per event")
    assert funnel_labels(bare, rows, {MONTHS[-1]: 0.55}) == {}


def test_a_place_reports_practices_and_pcns_get_the_web_apps_centre_and_verdicts() -> None:
    """One funnel per level (analyse.funnels.units_funnel, CENTRE_RULE): twelve practices of 1,000, alternately 50%
    and 70% treated to target and one at 95%, six of them in Luton, whose own value is 70%; the ICS's is 62%. Luton's
    report draws its six on the funnel of all twelve around the ICS's 62% (not Luton's 70%), and each gets the
    verdict the web app's funnel of every practice gives it; the same for twelve PCNs. Held to Luton's 70% among its
    own six (the report's rule until session 17), every 50% practice was low beyond 99.8% (z = -13.8 at 1,000)."""
    from placewise.publish.disclosure import DisclosureRule
    from placewise.publish.report import MEASUREMENT_COLUMNS, Area, Scope, build_report
    from placewise.publish.web.views import ics_centres, level_funnel

    spec, month = SPECS[IND], MONTHS[-1]
    luton, ics = Area("place", "E06000032", "Luton"), Area("ics", "QHG", "BLMK")
    shares = [0.5, 0.7] * 6
    shares[4] = 0.95
    rows = []
    for level in ("practice", "pcn"):
        units = pd.DataFrame([_row(f"{level[:2].upper()}{i:02d}", month, round(s * 1000), 1000)
                              for i, s in enumerate(shares)]).assign(geography_type=level)
        rows.append(units)
    series = pd.DataFrame([_row(c, m, n, 1000) | {"geography_type": g} for m in MONTHS
                           for g, c, n in (("ics", ics.code, 620), ("place", luton.code, 700))])
    frame = pd.concat([*rows, series], ignore_index=True).assign(
        period_end=lambda f: f.period_start)[list(MEASUREMENT_COLUMNS)]
    own = tuple(Area(level, f"{level[:2].upper()}{i:02d}", f"{level} {i:02d}")
                for level in ("practice", "pcn") for i in range(0, 12, 2))
    rule = DisclosureRule(suppress_up_to=7, round_to=5, geographies=["ics", "place", "pcn", "practice"])
    page = build_report(frame, [spec], Scope(luton, ics, (), own), title="t", months=36, rule=rule).pages[0]
    centre = ics_centres(series[series.geography_type == "ics"], PER[IND])[month]
    assert centre == 0.62
    for level, svg, note in (("practice", page.units_svg, page.units_note), ("pcn", page.pcn_svg, page.pcn_note)):
        units = frame[(frame.geography_type == level) & (frame.period_start == month)]
        names = {u.code: u.name for u in own if u.geography_type == level}
        web = level_funnel(units, spec, PER[IND], {c: names.get(c, c) for c in units.geography_code}, month, centre)
        assert web.centre == spec.scale * 62.0 and f"Limits: {web.note.split('Limits: ')[1].split('.')[0]}" in note
        verdicts = {r.label: r.note for r in web.rows}
        drawn = {name: cls for cls, name in re.findall(r'<circle class="([^"]+)"[^>]*><title>([^<]+)</title>', svg)}
        assert set(drawn) == set(names.values())  # Luton's six, not the other six
        assert "Centre: the ICS value, 62.0%." in note
        for name, cls in drawn.items():
            high = verdicts[name] == FunnelSignificance.HIGH_998.label
            assert cls.startswith("area outside") == high, (level, name, cls, verdicts[name])
        # The 95% practice (index 4) is high beyond 99.8%; the 50% and 70% ones are inside the widened limits.
        assert verdicts[f"{level} 04"] == FunnelSignificance.HIGH_998.label
        assert {verdicts[f"{level} {i:02d}"] for i in (0, 2, 6, 8, 10)} == {FunnelSignificance.NOT_SIGNIFICANT.label}
        assert f"Outside the 95% limits: {level} 04 (high, beyond 99.8%)." in note
    # The rule for the centre is said once on the page, under the first funnel (the practices').
    assert CENTRE_RULE in page.units_note and CENTRE_RULE not in page.pcn_note
