"""The practice referral feedback pack: ratios by specialty against the ICS, its PCN, an SPC chart rebased at the
feedback date; through the CLI on a synthetic warehouse."""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path

import ibis
import numpy as np
import pandas as pd

from placewise.analyse.variation import STRATA, ReferralCube, referral_cube
from placewise.publish.disclosure import DisclosureRule
from placewise.publish.feedback import CONVERSION_COUNTS, SPARSE, VERDICT, conversion_html, conversion_shares, decided_referrals, disclosed, feedback_html, feedback_table, referral_ratios
from placewise.publish.icons import NEITHER

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "measure"))
from measure_builder import Warehouse


def cube():
    """P1 (PCN N1) has 2 women aged 54 and 3 referrals to 110 in Feb-Mar 2024; P3 (N2) 2 such women and 1."""
    w = Warehouse()
    for pid, practice in (("a", "P1"), ("b", "P1"), ("c", "P3"), ("d", "P3")):
        w.person(pid, born=(1970, 1), lsoa="L1", practice=practice)
    for n, (pid, practice, day) in enumerate((("a", "P1", date(2024, 2, 5)), ("a", "P1", date(2024, 3, 5)),
                                              ("b", "P1", date(2024, 3, 9)), ("c", "P3", date(2024, 2, 7)))):
        w.add("referrals", referral_id=f"R{n}", person_id=pid, practice_code=practice, provider_code="RC9",
              treatment_function="110", referral_date=day, priority="routine")
    return referral_cube(w.load(ibis.duckdb.connect()), [date(2024, 2, 1), date(2024, 3, 1)], [])


def test_ratios_worked_by_hand() -> None:
    # ICS rate in the one stratum: 4 referrals over 4 women x 2 months = 0.5 a month; P1 expects 2, has 3: 1.5.
    t = feedback_table(referral_ratios(cube(), {"P1": "N1", "P2": "N1", "P3": "N2"}), "P1", {"P1": "N1", "P2": "N1", "P3": "N2"})
    row = t.iloc[0]
    assert (row.specialty, row.referrals, row.expected) == ("110", 3, 2.0)
    assert row.ratio == 1.5 and row.need_ratio == 1.5 and not row.disagree
    assert row.verdict == "within expected range"   # 3 against 2 is no evidence
    assert row.pcn_ratio == 1.5                      # N1 is P1 (P2 has no one)


RULE = DisclosureRule(suppress_up_to=7, round_to=5, geographies=["practice"])
NONE = pd.DataFrame({c: pd.Series(dtype=object if c in ("practice_code", "treatment_function") else float)
                     for c in ["practice_code", "treatment_function", *CONVERSION_COUNTS]})
"""No conversion counts (the conversion section says why)."""


def test_pack_has_the_chart_the_banner_and_no_nan() -> None:
    html = feedback_html(cube(), "P1", {"P1": "N1", "P3": "N2"}, date(2024, 3, 10), synthetic=True,
                         rule=DisclosureRule(suppress_up_to=1, round_to=1, geographies=["practice"]),
                         conversions=NONE)
    assert "Synthetic data" in html and 'class="chart spc"' in html and "10 March 2024" in html
    assert "nan" not in html.lower().replace("nancy", "")


def test_the_pack_prints_within_the_page_with_no_overlapping_text(tmp_path: Path) -> None:
    """The pack as PDF (A4) of twelve practices referring about 1,300 each to 330 (counts as at scale 1.0): its
    ten-column table ran past the right edge until session 19."""
    import pypdfium2 as pdfium

    from placewise.publish.render import text_beyond_page, text_overlaps, write_pdf

    strata = int(np.prod(STRATA))
    rng = np.random.default_rng(19)
    big = ReferralCube([f"P{i:02d}" for i in range(12)], ["330"], ["2024-01", "2024-02"],
                       rng.poisson(650 / strata, (12, 1, 2, strata)).astype(float),
                       np.full((12, 2, strata), 10_000 / strata))
    pcn_of = {f"P{i:02d}": f"N{i // 4}" for i in range(12)}
    html = feedback_html(big, "P00", pcn_of, date(2024, 2, 10), synthetic=True, rule=RULE, conversions=NONE)
    assert "<td>1,300.8</td>" in html  # P00 expects 1,300.8, in the thousands as at 1.0
    assert write_pdf(html, tmp_path / "pack.pdf") >= 1
    assert text_beyond_page(tmp_path / "pack.pdf") == [] and text_overlaps(tmp_path / "pack.pdf") == []
    # A printed page of a pack from synthetic data says so, as every report page does, not only the first.
    doc = pdfium.PdfDocument(str(tmp_path / "pack.pdf"))
    assert len(doc) > 1 and all("SYNTHETIC DATA" in page.get_textpage().get_text_range() for page in doc)
    doc.close()


def test_the_pack_passes_the_disclosure_rule() -> None:
    # P1's 3 referrals to 110 are a small count: hidden with the ratios and verdicts that would give it back.
    html = feedback_html(cube(), "P1", {"P1": "N1", "P3": "N2"}, None, synthetic=True, rule=RULE, conversions=NONE)
    row = html.split("<td>110 Trauma and Orthopaedic Service</td>")[1].split("</tr>")[0]
    assert row.count(">*<") == 8 and "1.50" not in row and "within expected range" not in row  # the PCN verdict too
    assert RULE.statement() in html.replace("&#x27;", "'")
    # Both months (2 and 1 referrals) are small counts: no point is charted.
    assert 'class="chart spc"' not in html and "No month has enough referrals to be published" in html
    # P1's 3 to 110 hides its 12 to 120 (its row), P2's 20 to 110 (its PCN's column, whose 23 is published) and
    # so P2's 15 to 120; N1's counts stay published.
    counts = np.array([[40, 3, 12], [30, 20, 15], [25, 18, 22]], dtype=float)
    strata = int(np.prod(STRATA))
    referrals = np.zeros((3, 3, 1, strata))
    referrals[:, :, 0, 0] = counts
    made = ReferralCube(["P1", "P2", "P3"], ["100", "110", "120"], ["2024-03"], referrals, np.full((3, 1, strata), 9.0))
    pcn_of = {"P1": "N1", "P2": "N1", "P3": "N2"}
    decision = decided_referrals(made, pcn_of, RULE)
    table = pd.DataFrame({"specialty": ["100", "110", "120"], "referrals": counts[0]})
    published = disclosed(table, decision, "P1", "N1", RULE)
    assert published.hidden.tolist() == [False, True, True] and published.referrals.tolist() == [40, 5, 10]
    assert not published.pcn_hidden.any()
    assert disclosed(table.assign(referrals=counts[1]), decision, "P2", "N1", RULE).hidden.tolist() == [False, True, True]
    assert np.isfinite(feedback_table(referral_ratios(cube(), {}), "P3", {}).ratio.iloc[0])


def test_cli_writes_the_pack(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from placewise.cli import app

    w = Warehouse()
    w.person("a", practice="P1")
    w.add("referrals", referral_id="R1", person_id="a", practice_code="P1", provider_code="RC9",
          treatment_function="110", referral_date=date(2024, 3, 5), priority="routine")
    con = w.load(ibis.duckdb.connect(str(tmp_path / "wh.duckdb")))
    con.disconnect()
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["report", "--db", str(tmp_path / "wh.duckdb"), "--out", str(out),
                                      "--practice", "P1", "--feedback-date", "2024-03-01"])
    assert result.exit_code == 0, result.output
    page = (out / "practice-P1.html").read_text(encoding="utf-8")
    assert "Referral feedback for practice P1" in page and "110 Trauma and Orthopaedic Service" in page
    assert "No referral in the window has had its 18 weeks" in page  # the one referral is of the data's last day
    bad = CliRunner().invoke(app, ["report", "--db", str(tmp_path / "wh.duckdb"), "--out", str(out),
                                   "--practice", "Z99999"])
    assert bad.exit_code == 2 and "not in the warehouse" in bad.output


def test_a_practice_with_no_pcn_is_read_and_counted_in_the_ics_only(tmp_path: Path) -> None:
    from placewise.profile import load_profile
    from placewise.publish.feedback import feedback_inputs, pcn_cube

    w = Warehouse()
    w.rows["practices"][2]["pcn_code"] = None  # P3 belongs to no PCN
    for pid, practice in (("a", "P1"), ("c", "P3")):
        w.person(pid, practice=practice)
        w.add("referrals", referral_id="R" + pid, person_id=pid, practice_code=practice, provider_code="RC9",
              treatment_function="110", referral_date=date(2024, 3, 5), priority="routine")
    con = w.load(ibis.duckdb.connect(str(tmp_path / "wh.duckdb")))
    got = feedback_inputs(con, load_profile())
    assert got.pcn_of == {"P1": "N1", "P2": "N1"}
    pcns, referrals, _ = pcn_cube(got.cube, got.pcn_of)
    assert pcns == ["N1"] and referrals.sum() == 1 and got.cube.referrals.sum() == 2


def _svgs(html: str, heading: str) -> list[str]:
    """The funnel plots under a specialty's heading."""
    part = html.split(f"<h3>{heading}</h3>")[1].split("<h3>")[0].split("<h2>")[0]
    return ["<svg" + x.split("</svg>")[0] + "</svg>" for x in part.split("<svg")[1:]]


def test_the_need_adjusted_funnel_is_beside_the_age_sex_one_and_they_can_disagree() -> None:
    # Eleven practices of 50 people without long-term conditions refer 10 each; P12's 50 people all have four or more
    # (one age-sex stratum, two need strata) and refer 30. Age-sex: P12 expects 140/12 = 11.67 and is high. Need-
    # adjusted: P12 alone is in its stratum, so it expects its own 30: ratio 1.00, within the limits.
    strata = int(np.prod(STRATA))
    referrals = np.zeros((12, 1, 1, strata))
    population = np.zeros((12, 1, strata))
    referrals[:11, 0, 0, 0], population[:11, 0, 0] = 10, 50
    referrals[11, 0, 0, 3], population[11, 0, 3] = 30, 50
    practices = [f"P{i:02d}" for i in range(1, 13)]
    made = ReferralCube(practices, ["100"], ["2024-03"], referrals, population)
    rule = DisclosureRule(suppress_up_to=7, round_to=1, geographies=["practice"])
    html = feedback_html(made, "P12", {}, None, synthetic=True, rule=rule, conversions=NONE)
    age_sex, need = (ET.fromstring(x) for x in _svgs(html, "100 General Surgery Service"))

    def p12(root: ET.Element) -> ET.Element:
        return next(c for c in root.iter("{http://www.w3.org/2000/svg}circle")
                    if c.findtext("{http://www.w3.org/2000/svg}title") == "P12")

    assert p12(age_sex).get("class") == "area outside neither high" and p12(need).get("class") == "area"
    assert "Need-adjusted ratio: expected by age band, sex, IMD quintile and multimorbidity band" in html
    row = feedback_table(referral_ratios(made, {}), "P12", {}).iloc[0]
    assert row.verdict == "higher than expected" and row.need_ratio == 1.0 and row.need_verdict == VERDICT[0]
    assert row.disagree


def test_the_pack_draws_a_funnel_per_specialty_and_none_where_most_referred_none() -> None:
    # Twelve practices of equal lists. To 100: eleven refer 10 and P12 30, so each expects 140/12 = 11.67 and P12 is
    # beyond the 99.8% limit (P(X >= 30 | 11.67) = 2e-6), P01 inside. To 110 seven of the twelve refer none: no funnel,
    # no verdict.
    strata = int(np.prod(STRATA))
    referrals = np.zeros((12, 2, 1, strata))
    referrals[:, 0, 0, 0] = [10] * 11 + [30]
    referrals[:, 1, 0, 0] = [0] * 7 + [10] * 5
    practices = [f"P{i:02d}" for i in range(1, 13)]
    made = ReferralCube(practices, ["100", "110"], ["2024-03"], referrals, np.full((12, 1, strata), 50.0))
    rule = DisclosureRule(suppress_up_to=7, round_to=1, geographies=["practice"])
    html = feedback_html(made, "P01", {}, None, synthetic=True, rule=rule, conversions=NONE)
    svg = _svgs(html, "100 General Surgery Service")[0]
    root = ET.fromstring(svg)
    units = [c for c in root.iter("{http://www.w3.org/2000/svg}circle") if "area" in c.get("class", "").split()]
    assert len(units) == 12 and [c.findtext("{http://www.w3.org/2000/svg}title") for c in units].count("P01") == 1
    ringed = [c for c in units if c.get("stroke") == "#231F20"]
    assert [c.findtext("{http://www.w3.org/2000/svg}title") for c in ringed] == ["P01"]
    assert [c.get("class") for c in units].count("area outside neither high") == 1 and ringed[0].get("class") == "area"
    assert {c.get("fill") for c in units if "outside" in c.get("class")} == {NEITHER}
    assert "No preferred direction (high or low)" in svg and "Ringed: P01" in svg
    assert "exact Poisson limits around 1, as expected" in html.split("<h3>100 General Surgery Service</h3>")[1].split("<h3>")[0]
    after = html.split("<h3>110 Trauma and Orthopaedic Service</h3>")[1].split("<h2>")[0]
    assert "<svg" not in after and "7 of the 12 practices referred none, more than half" in after
    table = feedback_table(referral_ratios(made, {}), "P01", {})
    assert table.verdict.tolist() == ["within expected range", SPARSE] and table.need_verdict.iloc[1] == SPARSE
    assert feedback_table(referral_ratios(made, {}), "P12", {}).verdict.iloc[0] == "higher than expected"


def test_no_referral_funnel_or_verdict_where_most_practices_counts_are_suppressed() -> None:
    # Seven of twelve practices refer 3 to 100, small counts the disclosure rule hides; five refer 20. Those published
    # are only the large counts, so by the one rule (funnels.mostly_hidden, as the Place reports and the web app) there
    # is no funnel and no verdict, and the pack says why. Before it, the five were judged against limits fitted to
    # them alone.
    from placewise.publish.feedback import HIDDEN_MOST, hidden_cells

    strata = int(np.prod(STRATA))
    referrals = np.zeros((12, 1, 1, strata))
    referrals[:, 0, 0, 0] = [3] * 7 + [20] * 5
    practices = [f"P{i:02d}" for i in range(1, 13)]
    made = ReferralCube(practices, ["100"], ["2024-03"], referrals, np.full((12, 1, strata), 50.0))
    decision = decided_referrals(made, {}, RULE)
    hidden = hidden_cells(made, decision)[:, 0]
    assert hidden.sum() == 7 and not hidden[7:].any()
    ratios = referral_ratios(made, {}, decision)
    assert ratios.practices.sparse.tolist() == [True] and ratios.practices.hidden_most.tolist() == [True]
    table = feedback_table(ratios, "P12", {})
    assert table.verdict.tolist() == table.need_verdict.tolist() == [HIDDEN_MOST]
    html = feedback_html(made, "P12", {}, None, synthetic=True, rule=RULE, conversions=NONE)
    part = html.split("<h3>100 General Surgery Service</h3>")[1].split("<h2>")[0]
    assert "<svg" not in part and ("No funnel plot: 7 of the 12 practices expecting referrals are suppressed, more "
                                   "than half.") in part


def test_a_practice_whose_count_is_hidden_is_left_out_of_the_funnel() -> None:
    # P01 refers 3 to 100, a small count: hidden in its table, and by the one rule (feedback.HIDDEN_RULE, as the
    # conversion funnels and the Place reports) neither drawn nor counted in the limits; one more practice is hidden
    # with it (the practices' total would give P01's back), so ten are drawn, and the funnel is theirs.
    from placewise.analyse.funnels import ratio_funnel
    from placewise.publish.feedback import HIDDEN_RULE, hidden_cells

    strata = int(np.prod(STRATA))
    referrals = np.zeros((12, 1, 1, strata))
    referrals[:, 0, 0, 0] = [3] + [20] * 11
    practices = [f"P{i:02d}" for i in range(1, 13)]
    made = ReferralCube(practices, ["100"], ["2024-03"], referrals, np.full((12, 1, strata), 50.0))
    html = feedback_html(made, "P01", {}, None, synthetic=True, rule=RULE, conversions=NONE)
    part = html.split("<h3>100 General Surgery Service</h3>")[1].split("<h2>")[0]
    for svg in _svgs(html, "100 General Surgery Service"):   # the age-sex funnel and the need-adjusted one
        titles = [t.split("<")[0] for t in svg.split("<title>")[2:]]  # the first is the chart's
        assert titles == ["another practice"] * 10
    assert "P01's count is suppressed, so it is not drawn" in part
    assert "2 practices are suppressed (small counts), neither drawn nor counted in the limits" in part
    assert "10 practices." in part and HIDDEN_RULE.replace("'", "&#x27;") in html
    # The verdicts and the method are those of the ten published practices alone, and P01's exact count (3, or 1)
    # does not move the others' verdicts.
    decision = decided_referrals(made, {}, RULE)
    hidden = hidden_cells(made, decision)[:, 0]
    assert hidden.sum() == 2 and hidden[0]
    ratios = referral_ratios(made, {}, decision).practices
    e = ratios.ratios["age_sex"].expected[:, 0]
    alone = ratio_funnel(referrals[~hidden, 0, 0, 0], e[~hidden])
    assert ratios.signals["age_sex"][~hidden, 0].tolist() == np.sign(alone.signal).tolist()
    assert ratios.signals["age_sex"][hidden, 0].tolist() == [0, 0]  # not judged
    assert f"Limits: both, {alone.method}." in part
    fewer = referrals.copy()
    fewer[0, 0, 0, 0] = 1
    other = ReferralCube(practices, ["100"], ["2024-03"], fewer, np.full((12, 1, strata), 50.0))
    again = referral_ratios(other, {}, decided_referrals(other, {}, RULE)).practices
    assert again.signals["age_sex"][~hidden, 0].tolist() == ratios.signals["age_sex"][~hidden, 0].tolist()


def test_conversion_shares_beside_the_ics_pass_the_disclosure_rule() -> None:
    # Three practices referring to 110: P1 40 referrals, 30 seen, 20 of them past 12 months, 10 admitted; P2 a small
    # count seen (5), so its share to a first attendance and the one complement the rule picks are hidden.
    counts = pd.DataFrame({"practice_code": ["P1", "P2", "P3"], "treatment_function": ["110"] * 3,
                           "referred": [40.0, 30.0, 50.0], "attended": [30.0, 5.0, 40.0],
                           "seen": [20.0, 5.0, 30.0], "admitted": [10.0, 0.0, 15.0]})
    pcn_of = {"P1": "N1", "P2": "N1", "P3": "N2"}

    def cells(practice: str) -> list[str]:
        html = conversion_html(conversion_shares(counts, pcn_of, ["110"], RULE), practice, pcn_of, RULE)
        row = html.split("<td>110 Trauma and Orthopaedic Service</td>")[1].split("</tr>")[0]
        return [c.split("</td>")[0] for c in row.split("<td>")[1:]]

    # The ICS: 75 of 120 seen (62.5% rounds up), 25 of 55 admitted.
    # N2 is P3 alone. Only P3's shares are published (P1's and P2's are hidden), and two PCNs': too few for a funnel,
    # so no verdict.
    assert cells("P3") == ["80% of 50", "80% of 50", "63% of 120", "50% of 30", "50% of 30", "45% of 55"]
    # P2's 5 seen is a small count: both its shares would give it back; P1's are its complements in PCN N1.
    # N1's shares (35 of 70 seen, 10 of 25 admitted) are published.
    assert cells("P2") == cells("P1") == ["*", "50% of 70", "63% of 120", "*", "40% of 25", "45% of 55"]
    # No conversion funnel can be drawn (one practice's share is published), and the pack says so.
    from placewise.publish.feedback import conversion_funnels

    assert "No funnel plot of practices: fewer than three in the ICS have a published value" in conversion_funnels(
        conversion_shares(counts, pcn_of, ["110"], RULE), "P3")
    assert ("No verdict from 4 of the 4 funnels (each specialty's two shares, among practices and among PCNs): in 0 "
            "more than half the units with a published share counted none, in 0 more than half of the units' shares are "
            "suppressed, and in 4 fewer than three"
            in conversion_html(conversion_shares(counts, pcn_of, ["110"], RULE), "P3", pcn_of, RULE).replace("&#x27;", "'"))


def test_conversion_verdicts_against_the_ics_share_worked_by_hand() -> None:
    """Twelve practices of 100 referrals to 110, 60 seen at a first attendance but P11 with 90: the ICS share is
    750 / 1,200 = 62.5%. Per practice sd = sqrt(0.625 x 0.375 / 100) = 0.0484, z = -0.52 for eleven and 5.68 for
    P11; winsorised at the 90th percentile (index 9.9 of twelve sorted, between two of the eleven) P11's is cut to
    -0.52 too: phi = 0.27, N phi = 3.2 < 11, no overdispersion. P11 is 5.68 sd above: high beyond 99.8%; the others
    -0.52 sd, within. PCNs of four practices (400 referrals): N3 holds P11, 270 seen,
    67.5%, z = 0.05 / 0.0242 = 2.07, high at 95% (three PCNs, too few for overdispersion); N1 and N2 at 60%, z = -1.03.
    Half of those seen are admitted everywhere: every share is the ICS's, no verdict."""
    import math

    practices = [f"P{i:02d}" for i in range(12)]
    attended = [60.0] * 11 + [90.0]
    counts = pd.DataFrame({"practice_code": practices, "treatment_function": ["110"] * 12,
                           "referred": [100.0] * 12, "attended": attended, "seen": attended,
                           "admitted": [a / 2 for a in attended]})
    pcn_of = {p: f"N{i // 4 + 1}" for i, p in enumerate(practices)}
    sd = math.sqrt(0.625 * 0.375 / 100)
    z = [(a / 100 - 0.625) / sd for a in attended]
    hi = sorted(z)[9] + 0.9 * (sorted(z)[10] - sorted(z)[9])  # numpy's 90th percentile of twelve
    assert 12 * sum(min(x, hi) ** 2 for x in z) / 12 < 11 and z[11] > 3.09 and abs(z[0]) < 1.96

    def cells(practice: str) -> list[str]:
        html = conversion_html(conversion_shares(counts, pcn_of, ["110"], RULE), practice, pcn_of, RULE)
        row = html.split("<td>110 Trauma and Orthopaedic Service</td>")[1].split("</tr>")[0]
        return [c.split("</td>")[0] for c in row.split("<td>")[1:]]

    assert cells("P11") == ["90% of 100, high (99.8%)", "68% of 400, high", "63% of 1,200",
                            "50% of 90", "50% of 270", "50% of 750"]
    assert cells("P00") == ["60% of 100", "60% of 400", "63% of 1,200", "50% of 60", "50% of 240", "50% of 750"]
    # The funnel behind the practices' verdicts on the first share is drawn: all twelve, P11 ringed, outside and
    # purple (no preferred direction), the eleven others inside, around the ICS's 62.5%.
    from placewise.publish.feedback import conversion_funnels

    drawn = conversion_funnels(conversion_shares(counts, pcn_of, ["110"], RULE), "P11")
    svg = ET.fromstring(re.findall(r"<svg.*?</svg>", drawn, flags=re.S)[0])
    circles = [(c.findtext("{http://www.w3.org/2000/svg}title"), c.get("class"))
               for c in svg.iter("{http://www.w3.org/2000/svg}circle") if c.findtext("{http://www.w3.org/2000/svg}title")]
    assert sorted(circles) == [("P11", "area outside neither high")] + [("another practice", "area")] * 11
    assert "12 practices with a published share." in drawn and "centre: the ICS share, 62.5%." in drawn
    assert "no overdispersion found" in drawn


def test_a_conversion_share_is_judged_as_printed_not_at_its_rounded_counts() -> None:
    """VERDICT_RULE. Eleven practices refer 20 to 110 and 12 are seen (60%); P11 refers 11 and 8 are seen (72.7%,
    printed "73% of 10"; its counts round to 10 of 10). The ICS share is 140 / 231 = 60.6%. At 10, sd =
    sqrt(0.606 x 0.394 / 10) = 0.1545: 72.7% is 0.78 sd above, inside the 95% limits, so no verdict. Judged at its
    rounded counts (100%, 2.55 sd above; the others 10 of 20, 50%) it was "high"."""
    import math

    practices = [f"P{i:02d}" for i in range(12)]
    counts = pd.DataFrame({"practice_code": practices, "treatment_function": ["110"] * 12,
                           "referred": [20.0] * 11 + [11.0], "attended": [12.0] * 11 + [8.0],
                           "seen": [12.0] * 11 + [8.0], "admitted": [0.0] * 12})
    pcn_of = {p: f"N{i // 4 + 1}" for i, p in enumerate(practices)}
    centre = 140 / 231
    assert abs((8 / 11 - centre) / math.sqrt(centre * (1 - centre) / 10)) < 1.96 < (1 - centre) / math.sqrt(
        centre * (1 - centre) / 10)
    shares = conversion_shares(counts, pcn_of, ["110"], RULE)
    html = conversion_html(shares, "P11", pcn_of, RULE)
    row = html.split("<td>110 Trauma and Orthopaedic Service</td>")[1].split("</tr>")[0]
    assert row.split("<td>")[1].split("</td>")[0] == "73% of 10"
    assert ("attended", "N3", "P11", "110") in shares.verdicts and shares.verdicts[("attended", "N3", "P11", "110")] == 0
    from placewise.publish.feedback import conversion_funnels

    svg = ET.fromstring(re.findall(r"<svg.*?</svg>", conversion_funnels(shares, "P11"), flags=re.S)[0])
    ringed = [c for c in svg.iter("{http://www.w3.org/2000/svg}circle")
              if c.findtext("{http://www.w3.org/2000/svg}title") == "P11"]
    assert [c.get("class") for c in ringed] == ["area"]


def test_the_pcn_column_has_its_verdict_against_every_pcn_of_the_ics() -> None:
    """Four PCNs of three practices of 100 people (one stratum), ten referrals to 110 a practice but twenty in N4's:
    the ICS rate is 150 / 1,200 = 0.125, so a PCN expects 37.5. N4's 60 is a ratio of 1.60, above the exact Poisson
    upper 95% limit at 37.5 (about 1.35; four PCNs, too few for overdispersion): higher than expected. N1's 30 (0.80)
    is inside (lower limit about 0.70)."""
    import numpy as np

    from placewise.analyse.variation import STRATA, ReferralCube

    practices = [f"P{i:02d}" for i in range(12)]
    pcn_of = {p: f"N{i // 3 + 1}" for i, p in enumerate(practices)}
    strata = int(np.prod(STRATA))
    referrals = np.zeros((12, 1, 1, strata))
    referrals[:, 0, 0, 0] = [10] * 9 + [20] * 3
    population = np.zeros((12, 1, strata))
    population[:, 0, 0] = 100
    made = ReferralCube(practices, ["110"], ["2024-03"], referrals, population)
    rows = {p: feedback_table(referral_ratios(made, pcn_of), p, pcn_of).iloc[0] for p in ("P00", "P11")}
    assert rows["P11"].pcn_ratio == 1.6 and rows["P11"].pcn_verdict == "higher than expected"
    assert rows["P00"].pcn_ratio == 0.8 and rows["P00"].pcn_verdict == "within expected range"
    html = feedback_html(made, "P11", pcn_of, None, synthetic=True, rule=RULE, conversions=NONE)
    row = html.split("<td>110 Trauma and Orthopaedic Service</td>")[1].split("</tr>")[0]
    assert row.endswith("<td>1.60</td><td>higher than expected</td>")
    # The funnel behind that verdict is drawn: every PCN of the ICS, N4 ringed and outside (purple: no preferred
    # direction), the three others inside, for the age-sex ratio and the need-adjusted one.
    pcns = html.split("<h2>Funnel plots of PCNs by specialty</h2>")[1]
    svgs = _svgs(pcns, "110 Trauma and Orthopaedic Service")
    assert len(svgs) == 2
    for svg in svgs:
        circles = {c.findtext("{http://www.w3.org/2000/svg}title"): c.get("class")
                   for c in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}circle")
                   if c.findtext("{http://www.w3.org/2000/svg}title")}
        assert circles == {"N4": "area outside neither high", "another PCN": "area"}
        assert svg.count("<title>another PCN</title>") == 3 and "Ringed: N4" in svg
    assert "4 PCNs. Limits: both, exact Poisson limits around 1" in pcns
    # A practice with no PCN gets a sentence, not a PCN's funnel.
    alone = feedback_html(made, "P11", {}, None, synthetic=True, rule=RULE, conversions=NONE)
    assert "P11 belongs to no PCN, so no PCN funnel is drawn." in alone
