"""Referral variation feedback in the web application: the API's figures are the feedback pack's for the same
practice, every role reads the same published figures, the PCN and overview pages agree with the practice pages,
and the pages render."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from placewise.analyse.measurements import measure_all
from placewise.ingest.load import ingest
from placewise.profile import load_profile
from placewise.publish.feedback import write_practice_feedback
from placewise.publish.web.app import create_app
from placewise.sources.synth.generate import generate
from placewise.warehouse import connect
from placewise.warehouse.identity import KEY_ENV, STORE_ENV

from .conftest import KEY, MONTHS

WIDE_SCALE = 0.02
"""A scale at which some specialties' practice funnels are drawn: at the session warehouse's 0.005 more than half of
every specialty's practice counts are suppressed, so the overview lists no practice as higher or lower."""


@pytest.fixture(scope="module")
def wide_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """A client of the application over the synthetic BLMK at :data:`WIDE_SCALE` (seed 1, twelve months measured,
    no identity store: its figures are all published aggregates)."""
    root = tmp_path_factory.mktemp("wide")
    profile = load_profile()
    generate(profile, scale=WIDE_SCALE, seed=1, out=root / "data")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(STORE_ENV, raising=False)
        mp.delenv(KEY_ENV, raising=False)
        ingest(root / "data", root / "warehouse.duckdb", KEY)
    con = connect(root / "warehouse.duckdb")
    try:
        measure_all(con, profile, periods_range=MONTHS)
    finally:
        con.disconnect()
    app = create_app(str(root / "warehouse.duckdb"), store_url=str(root / "web.duckdb"), secure_cookies=False)
    with TestClient(app) as c:
        yield c


def _pack_rows(pack: str) -> dict[str, list[str]]:
    """The pack's feedback table: each specialty's cells after its name, as printed."""
    table = pack.split("<th>PCN ratio</th><th>PCN verdict</th></tr>", 1)[1].split("</table>", 1)[0]
    rows = {}
    for tr in re.findall(r"<tr>(.*?)</tr>", table):
        cells = [html.unescape(c) for c in re.findall(r"<td>(.*?)</td>", tr)]
        rows[cells[0]] = cells[1:]
    return rows


def _printed(r: dict) -> list[str]:
    """An API row as the pack prints it (the pack's formats: counts with commas, expected to one decimal, ratios to
    two, "yes" where the verdicts differ, * for a hidden figure, – for a ratio with nothing expected)."""
    def ratio(v: float | None) -> str:
        return "–" if v is None else f"{v:.2f}"
    if r["referrals"] is None:
        return ["*", f"{r['expected']:,.1f}"] + ["*"] * 7
    pcn = "*" if r["pcn_hidden"] else ratio(r["pcn_ratio"])
    pcn_verdict = "*" if r["pcn_hidden"] else (r["pcn_verdict"] or "–")
    return [f"{r['referrals']:,}", f"{r['expected']:,.1f}", ratio(r["ratio"]), r["verdict"], ratio(r["need_ratio"]),
            r["need_verdict"], "yes" if r["differ"] else "", pcn, pcn_verdict]


def test_the_api_gives_the_feedback_packs_figures(client: TestClient, web_warehouse, tmp_path: Path) -> None:
    """For the demo practice, every specialty's count, expected, ratios, verdicts, difference and PCN ratio from the
    API print exactly as ``placewise report --practice`` prints them."""
    practice = web_warehouse.practice
    got = client.get(f"/api/v1/referrals/practice/{practice}")
    assert got.status_code == 200, got.text
    body = got.json()
    pack = _pack_rows(write_practice_feedback(web_warehouse.db, practice, None, tmp_path).read_text())
    assert body["code"] == practice and len(body["specialties"]) == len(pack) >= 5
    for r in body["specialties"]:
        assert _printed(r) == pack[r["name"]], r["name"]
    assert any(r["referrals"] is None for r in body["specialties"]), "no count hidden: the test shows nothing"
    assert any(r["referrals"] for r in body["specialties"])


@pytest.mark.parametrize("role", ["analyst", "place_lead", "clinician"])
def test_every_role_reads_the_packs_published_figures(client: TestClient, login, web_warehouse, role: str) -> None:
    """The feedback is disclosure-controlled for every role, as the pack is: an analyst (who reads other aggregates
    unsuppressed) and a Place lead read the same rounded counts and the same hidden cells as the public."""
    practice = web_warehouse.practice
    public = client.get(f"/api/v1/referrals/practice/{practice}").json()
    login(client, role)
    mine = client.get(f"/api/v1/referrals/practice/{practice}").json()
    assert mine == public
    assert any(r["referrals"] is None for r in mine["specialties"])


def test_a_practice_pcn_and_the_overview_agree(wide_client: TestClient) -> None:
    """The PCN ratio on a practice's page is the PCN's own age-sex ratio on the PCN's page, and the overview lists a
    practice as higher or lower for a specialty exactly where its own page gives that verdict (at :data:`WIDE_SCALE`,
    where some specialties have practice funnels and others have none)."""
    client = wide_client
    page = client.get("/referrals").text
    practice = min(re.findall(r"/referrals/practice/([A-Z0-9]+)", page))
    mine = client.get(f"/api/v1/referrals/practice/{practice}").json()
    assert mine["pcn"]
    pcn = client.get(f"/api/v1/referrals/pcn/{mine['pcn']}").json()
    pcn_ratio = {r["specialty"]: r["ratio"] for r in pcn["specialties"]}
    compared = [r for r in mine["specialties"] if r["pcn_ratio"] is not None]
    assert compared
    for r in compared:
        assert r["pcn_ratio"] == pytest.approx(pcn_ratio[r["specialty"]], rel=1e-12)
    listed, silent = {}, {}
    for tr in re.findall(r"<tr><th scope=\"row\">(.*?)</th>(.*?)</tr>", page, re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", tr[1], re.S)
        if len(cells) == 4:
            listed[html.unescape(tr[0])] = [set(re.findall(r"/referrals/practice/([A-Z0-9]+)", c)) for c in cells]
        else:
            silent[html.unescape(tr[0])] = html.unescape(cells[0])
    assert len(listed) + len(silent) == len(mine["specialties"])
    assert listed and silent, "the overview must list practices for some specialties and give reasons for others"
    named = set().union(*(s for cells in listed.values() for s in cells)) | {practice}
    for code in sorted(named)[:8]:
        rows = client.get(f"/api/v1/referrals/practice/{code}").json()["specialties"]
        for r in rows:
            if r["referrals"] is None:
                continue
            if r["name"] in silent:  # no funnel: the overview's reason is the practice's verdict, word for word
                assert silent[r["name"]] == f"{r['verdict'][:1].upper()}{r['verdict'][1:]}.", (code, r)
                assert r["verdict"].startswith("no verdict: ") and r["need_verdict"] == r["verdict"], (code, r)
                continue
            high, low, need_high, need_low = (code in s for s in listed[r["name"]])
            assert high == (r["verdict"] == "higher than expected"), (code, r)
            assert low == (r["verdict"] == "lower than expected"), (code, r)
            assert need_high == (r["need_verdict"] == "higher than expected"), (code, r)
            assert need_low == (r["need_verdict"] == "lower than expected"), (code, r)


def test_the_referral_pages_render(client: TestClient, web_warehouse, tmp_path: Path) -> None:
    """The overview, a practice's page (rebased at a feedback date) and its PCN's page answer with the specialties'
    names, ratios, the funnel plots (the PCN's: the pack's), the SPC chart and no NaN; an unknown practice is a page
    saying so."""
    practice = web_warehouse.practice
    pcn = client.get(f"/api/v1/referrals/practice/{practice}").json()["pcn"]
    for path in ("/referrals", f"/referrals/practice/{practice}?feedback=2024-10-15", f"/referrals/pcn/{pcn}"):
        r = client.get(path)
        assert r.status_code == 200, (path, r.text[:300])
        assert "Trauma and Orthopaedic Service" in r.text or "Service" in r.text
        assert not re.search(r"\bnan\b|NaN", r.text), path
    page = client.get(f"/referrals/practice/{practice}?feedback=2024-10-15").text
    assert 'class="chart spc' in page
    assert re.search(r"<td>\d+\.\d\d</td>", page)
    assert "15 October 2024" in page
    # The practice's funnels by specialty are the pack's, as it draws them: each specialty two funnels or the reason
    # there is none. At this scale (0.005) most practices' counts of most specialties are suppressed, so most have
    # none (funnels.mostly_hidden).
    pack = write_practice_feedback(web_warehouse.db, practice, None, tmp_path).read_text()
    funnels = pack.split("<h2>Funnel plots by specialty</h2>")[1].split("</p>", 1)[1].split("<h2>")[0].strip()
    specialties = funnels.count("<h3>")
    assert funnels in page and specialties >= 5
    assert specialties == funnels.count('class="no-funnel"') + funnels.count("<svg") // 2
    assert "are suppressed, more than half" in funnels
    # The PCN's page draws the pack's funnel plots of every PCN (the same function, the same figures): each of the
    # pack's PCN funnels is on the page as the pack draws it, the PCN ringed.
    on_page = client.get(f"/referrals/pcn/{pcn}").text
    drawn = pack.split("<h2>Funnel plots of PCNs by specialty</h2>")[1].split("<h2>")[0]
    svgs = re.findall(r"<svg.*?</svg>", drawn, flags=re.S)
    assert len(svgs) >= 2 and any(f"Ringed: {pcn}" in svg for svg in svgs)
    assert all(svg in on_page for svg in svgs) and on_page.count('class="chart funnel') == len(svgs)
    # The practice's page has the pack's conversion funnels (each specialty's plot, or why there is none), as drawn.
    conversion = pack.split("<h2>Conversion funnel plots</h2>")[1].split("<h2>")[0].split("</p>", 1)[1]
    assert conversion.count("<h3>") >= 5 and conversion.strip() in page
    missing = client.get("/referrals/practice/NOPE1")
    assert missing.status_code == 404 and "No referral feedback" in missing.text
    assert client.get("/api/v1/referrals/practice/NOPE1").status_code == 404
