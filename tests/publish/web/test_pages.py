"""The server-rendered pages through the application: each page for each role, what is refused, and that a
page shows a figure only as the caller's role may read it."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from placewise.publish.disclosure import SUPPRESSED_TEXT
from placewise.publish.web.pages import warm_places

EXPLORE_PRACTICES = "/explore?indicator=hypertension_treated_to_target&level=practice&breakdown=imd_quintile"
PUBLIC_PAGES = ["/", "/login", "/explore", EXPLORE_PRACTICES, "/inequalities", "/board", "/areas", "/population"]


def _html(r) -> str:
    """The body of an HTML page, checked to be one."""
    assert r.headers["content-type"].startswith("text/html"), r.text[:200]
    return r.text


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_every_page_renders_for_the_public(client: TestClient, path: str) -> None:
    """Each page answers 200 with a titled HTML page, the stylesheet from the package, and no NaN."""
    html = _html(client.get(path))
    assert re.search(r"<title>[^<]+ – Placewise</title>", html)
    assert 'href="/static/placewise.css"' in html
    assert not re.search(r"\bnan\b|NaN", html)


def test_the_stylesheet_is_served_from_the_package(client: TestClient) -> None:
    """The stylesheet comes from the application itself."""
    r = client.get("/static/placewise.css")
    assert r.status_code == 200 and "--text: #212b32" in r.text


def test_data_quality_is_refused_to_the_public_and_shown_to_an_analyst(client: TestClient, login) -> None:
    """The public are sent to sign in (and back); an analyst sees the loads and the quarantine summary."""
    r = client.get("/quality", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/quality"
    login(client, "analyst")
    html = _html(client.get("/quality"))
    assert "Completeness by table" in html and "Quarantine summary" in html and "batch" in html


def test_the_public_see_suppressed_practice_figures_an_analyst_does_not(client: TestClient, login) -> None:
    """Practice-level figures by IMD quintile: the public page hides small counts; the analyst's shows them."""
    public = _html(client.get(EXPLORE_PRACTICES))
    login(client, "analyst")
    analyst = _html(client.get(EXPLORE_PRACTICES))
    cell = re.compile(r'<td class="num">\s*' + re.escape(SUPPRESSED_TEXT) + r"\s*</td>")
    assert cell.search(public)
    assert len(cell.findall(analyst)) < len(cell.findall(public))


def test_the_board_summary_lists_attention_groups_first(client: TestClient) -> None:
    """The Board summary's tables come in the exceptions-first order of analyse/board.py."""
    from placewise.analyse.board import GROUP_ORDER, GROUP_TITLES

    html = _html(client.get("/board"))
    captions = re.findall(r"<caption>([^<(]+) \(", html)
    assert captions, "no group tables"
    order = [GROUP_TITLES[g] for g in GROUP_ORDER]
    assert [order.index(c.strip()) for c in captions] == sorted(order.index(c.strip()) for c in captions)
    # Every row names its Board owner from the profile (programme executive leads), none "Not assigned".
    assert "Not assigned" not in html and "Fragile Services lead" in html


def test_an_unknown_indicator_and_area_are_404_pages(client: TestClient) -> None:
    """A mistyped indicator or area gives a page that says what is missing, with status 404."""
    r = client.get("/explore?indicator=no_such_thing")
    assert r.status_code == 404 and "no_such_thing" in _html(r)
    r = client.get("/areas/practice/Z99999")
    assert r.status_code == 404 and "Z99999" in _html(r)


def test_profiles_for_a_place_pcn_and_practice(client: TestClient, web_warehouse) -> None:
    """Each level's profile names the area and compares it with its neighbours."""
    html = _html(client.get(f"/areas/place/{web_warehouse.place}"))
    assert "profile" in html
    html = _html(client.get(f"/areas/practice/{web_warehouse.practice}"))
    assert web_warehouse.practice in client.get("/areas").text
    assert "Board summary" not in re.findall(r"<h1>([^<]+)</h1>", html)[0]


def test_practice_figures_are_offered_to_the_public_through_the_rule(client: TestClient, login) -> None:
    """Practices and PCNs are published for their whole population only (disclosure.yaml): the public are
    offered them, disclosure-controlled; an analyst too."""
    public = _html(client.get(EXPLORE_PRACTICES))
    assert '<option value="practice" selected' in public
    login(client, "analyst")
    analyst = _html(client.get(EXPLORE_PRACTICES))
    assert '<option value="practice" selected' in analyst


def test_warming_makes_each_place_explorer_page_the_public_can_ask_for(web_app, client: TestClient) -> None:
    """``placewise serve`` makes before serving the explorer page and series of every Place for every indicator the
    public can read by Place (the Places found through the API), kept as a first request would keep them."""
    w = web_app.state.web
    warm_places(w)
    expected = set()
    for ind in client.get("/api/v1/indicators").json():
        rows = client.get(f"/api/v1/indicators/{ind['id']}/data", params={"level": "place"}).json()["rows"]
        expected |= {("explore", "published", ind["id"], "place", r["geography_code"], "none") for r in rows}
    made = {k for k in w.snapshot._memo if isinstance(k, tuple) and k[0] == "explore" and k[3] == "place"}
    assert len(expected) > 20
    assert expected <= made
    series = {("data", "published", i, "place", a, "none", None, None) for _, _, i, _, a, _ in expected}
    assert series <= set(k for k in w.snapshot._memo if isinstance(k, tuple))


def test_the_board_scales_count_plans_to_the_synthetic_population_as_the_report_does(client: TestClient) -> None:
    """The session's warehouse is 0.5% of BLMK: the web Board summary says its plans of counts are scaled so."""
    html = _html(client.get("/board"))
    assert "Plans scaled to the synthetic population: 0.5% of Bedfordshire, Luton and Milton Keynes" in html
