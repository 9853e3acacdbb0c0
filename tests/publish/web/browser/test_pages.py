"""End to end in a real headless Chromium: sign in as each role, explore an indicator, download its CSV,
and move around the pages from the keyboard alone."""

from __future__ import annotations

import csv
import re
import io
from collections.abc import Iterator

import pytest
from placewise.profile import load_profile
from placewise.publish.config import load_settings
from placewise.publish.inputs import main_providers
from placewise.publish.web.demo import DEMO_PASSWORD

pytestmark = pytest.mark.browser
ROLE_TEXT = {"analyst": "analyst", "place_lead": "Place lead", "clinician": "clinician", "admin": "administrator"}
INDICATOR = "hypertension_treated_to_target"


@pytest.fixture
def page(chromium, web_server: str) -> Iterator[object]:
    """A fresh browser context (no cookies) on the live site, downloads accepted."""
    context = chromium.new_context(base_url=web_server, accept_downloads=True, locale="en-GB")
    p = context.new_page()
    yield p
    context.close()


def sign_in(page, web_warehouse, role: str) -> str:
    """Sign in through the form as the demo user of ``role``; their user name."""
    user = next(u for u in web_warehouse.users if u.role == role)
    page.goto("/login?next=/explore")
    page.get_by_label("User name").fill(user.username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/explore")
    return user.username


@pytest.mark.parametrize("role", list(ROLE_TEXT))
def test_each_role_signs_in_and_out(page, web_warehouse, role: str) -> None:
    """The form signs each role in, the header names them and their role, and signing out ends it."""
    name = sign_in(page, web_warehouse, role)
    assert page.locator("header .who").inner_text().startswith(f"Signed in as {name} ({ROLE_TEXT[role]})")
    page.get_by_role("button", name="Sign out").click()
    page.goto("/")
    assert "Sign in" in page.locator("header .who").inner_text()


def test_a_wrong_password_is_refused_with_a_message(page, web_warehouse) -> None:
    """A wrong password comes back to the form with an error, not a signed-in page."""
    page.goto("/login")
    page.get_by_label("User name").fill("analyst")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/login**")
    assert "The name or password is wrong" in page.get_by_role("alert").inner_text()


def test_explore_an_indicator_by_practice_and_deprivation(page, web_warehouse) -> None:
    """Choose the indicator, practice level and IMD quintiles: SPC chart, funnel, quintile bars and tables."""
    sign_in(page, web_warehouse, "analyst")
    page.get_by_label("Indicator").select_option(INDICATOR)
    page.get_by_role("button", name="Show").click()
    page.get_by_label("Level").select_option("practice")
    page.get_by_role("button", name="Show").click()
    page.get_by_label("Breakdown").select_option("imd_quintile")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(lambda url: f"indicator={INDICATOR}" in url and "level=practice" in url)
    assert page.locator("svg.chart.spc circle.point").count() >= 6
    practices = page.locator("svg.chart.funnel circle.area").count()
    assert practices >= 3
    assert page.locator("svg.chart.quintiles").count() == 1
    heading = page.get_by_role("heading", name="Inequalities: IMD quintile (1 most deprived)")
    assert heading.count() == 1
    assert "NaN" not in page.content() and "nan%" not in page.content()


def test_download_the_csv_of_what_is_shown(page, web_warehouse) -> None:
    """The CSV link downloads the indicator's rows for the level shown, with its columns."""
    sign_in(page, web_warehouse, "analyst")
    page.goto(f"/explore?indicator={INDICATOR}&level=place")
    with page.expect_download() as got:
        page.get_by_role("link", name="CSV", exact=True).click()
    rows = list(csv.DictReader(io.StringIO(got.value.path().read_text(encoding="utf-8"))))
    assert got.value.suggested_filename.endswith(".csv")
    assert rows and {r["geography_type"] for r in rows} == {"place"}
    assert {"period_start", "value", "lower", "upper", "suppressed"} <= set(rows[0])


def test_the_pages_work_from_the_keyboard(page, web_warehouse) -> None:
    """Tab first reaches the skip link; the explorer's controls are reached by Tab and submitted by Enter."""
    page.goto("/explore")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
    page.keyboard.press("Enter")
    page.wait_for_url("**/explore#main")
    seen = []
    for _ in range(30):
        page.keyboard.press("Tab")
        seen.append(page.evaluate("document.activeElement.id || document.activeElement.textContent"))
        if seen[-1] == "breakdown":
            break
    assert [s for s in seen if s in
                                                           ("indicator", "level", "area", "breakdown")] == ["indicator", "level", "area", "breakdown"]
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Show"
    page.keyboard.press("Enter")
    page.wait_for_url("**/explore?indicator=*")


def test_every_form_control_has_a_label(page, web_warehouse) -> None:
    """Every select and input on the main pages is named by a label (WCAG 2.2 1.3.1, 4.1.2)."""
    for path in ("/login", "/explore", "/inequalities"):
        page.goto(path)
        unlabelled = page.evaluate("""() => [...document.querySelectorAll('select, input:not([type=hidden])')]
            .filter(e => !(e.labels && e.labels.length)).map(e => e.name)""")
        assert unlabelled == [], path


def test_a_clinician_opens_a_worklist_and_reidentifies_for_direct_care(page, web_warehouse) -> None:
    """The clinician sees their practice's lists by pseudonym, confirms direct care and gets NHS numbers."""
    sign_in(page, web_warehouse, "clinician")
    page.get_by_role("link", name="Worklists").click()
    assert page.get_by_role("heading", level=1).inner_text() == f"Worklists for {web_warehouse.practice}"
    form = page.locator("form[action*='/reidentify']").first
    assert form.count() == 1, "the demo practice has no worklist rows"
    form.get_by_role("checkbox").check()
    form.get_by_role("button").click()
    page.wait_for_url("**/reidentify")
    numbers = page.locator("th.nhs-number").all_inner_texts()
    assert numbers and all(len(n) == 10 and n.isdigit() for n in numbers)
    assert "recorded in the audit" in page.get_by_role("status").inner_text()


def test_a_clinician_who_does_not_confirm_direct_care_is_refused(page, web_warehouse) -> None:
    """Without the direct-care purpose, the access module refuses: no NHS number is shown."""
    sign_in(page, web_warehouse, "clinician")
    page.goto("/worklists")
    form = page.locator("form[action*='/reidentify']").first
    form.evaluate("f => { f.querySelector('input[type=checkbox]').removeAttribute('required'); f.submit(); }")
    page.wait_for_url("**/reidentify")
    assert page.get_by_role("heading", level=1).inner_text() == "Re-identification refused"
    assert "not direct care" in page.content()
    assert page.locator("th.nhs-number").count() == 0


def test_an_analyst_is_refused_worklists_and_reidentification(page, web_warehouse) -> None:
    """An analyst reads aggregates, not people: the worklists page and a re-identification post are refused."""
    sign_in(page, web_warehouse, "analyst")
    response = page.goto("/worklists")
    assert response.status == 403
    assert page.get_by_role("heading", level=1).inner_text() == "You do not have access to this page"
    r = page.request.post("/worklists/any-run/reidentify", form={"purpose": "direct_care"})
    assert r.status == 403
    assert "NHS number" not in r.text()


def test_a_place_profile_shows_its_main_providers_returned_standards(page, web_warehouse) -> None:
    """A Place profile shows a standard published only by provider (RTT, cancer, ambulance…) from its first main
    provider that returns it (``place_providers`` in report.yaml, as the Place reports do), marked as the
    provider's figure and linked to that provider's series in the explorer."""
    profile = load_profile()
    place = "E06000042"  # Milton Keynes: its main providers are not the other Places'
    mains = main_providers(profile, load_settings(profile).place_providers)[place]
    page.goto(f"/areas/place/{place}")
    marks = page.locator("div.provider").all_inner_texts()
    assert marks, "no standard on the Place profile is marked as a main provider's figure"
    assert {m.removeprefix("Provider's figure: ") for m in marks} <= {a.name for a in mains}
    row = page.locator("th", has=page.locator("div.provider")).first
    link = row.get_by_role("link")
    provider = next(a for a in mains if a.name in row.inner_text())
    assert f"level=provider&area={provider.code}" in (link.get_attribute("href") or "")
    link.click()
    page.wait_for_url(f"**area={provider.code}**")
    assert page.locator("svg.chart.spc circle.point").count() >= 6
    assert "NaN" not in page.content()


def test_a_practices_referral_feedback_page(page, web_app, web_warehouse) -> None:
    """A clinician finds their practice's referral feedback from the overview and sees the specialties by name, an
    age-sex ratio, a funnel plot per specialty, the monthly SPC chart rebased at the feedback date they enter, and
    the synthetic-data banner; no NaN."""
    from placewise.publish.web.referrals import has_referrals

    assert has_referrals(web_app.state.web)  # read before serving, as ``placewise serve`` does
    page.set_default_timeout(120_000)  # a practice's page is made on its first request (seconds on a loaded machine)
    sign_in(page, web_warehouse, "clinician")
    page.goto("/referrals")
    assert page.locator("div.synthetic").is_visible()
    page.get_by_role("link", name=re.compile(rf"\({web_warehouse.practice}\)$")).first.click()
    page.wait_for_url(f"**/referrals/practice/{web_warehouse.practice}")
    table = page.locator("table.referral-table")
    # At 1,200 pixels the whole table, its PCN verdict column last (as the pack prints it), fits without scrolling
    # sideways (session 19: the PCN verdict was not on the page).
    page.set_viewport_size({"width": 1200, "height": 900})
    headers = table.locator("thead th").all_inner_texts()
    assert headers[-2:] == ["PCN ratio", "PCN verdict"]
    fits = page.evaluate("""() => { const t = document.querySelector('table.referral-table');
        const w = t.closest('.table-wrap'); const last = t.querySelector('thead th:last-child').getBoundingClientRect();
        return [t.scrollWidth, w.clientWidth, last.right, document.documentElement.clientWidth]; }""")
    assert fits[0] <= fits[1] and fits[2] <= fits[3], fits
    verdicts = [c for c in table.locator("tbody td:last-child").all_inner_texts()]
    assert any(v in ("within expected range", "higher than expected", "lower than expected") for v in verdicts)
    names = table.locator("tbody th").all_inner_texts()
    assert len(names) >= 5 and all(re.match(r"^\d{3} \w", n) for n in names)
    assert "Trauma and Orthopaedic Service" in " ".join(names) or "Service" in " ".join(names)
    ratios = [c for c in table.locator("tbody td").all_inner_texts() if re.fullmatch(r"\d+\.\d\d", c)]
    assert ratios
    # The funnels by specialty: each specialty its two funnels or the reason there is none (at the test warehouse's
    # scale most practices' counts of most specialties are suppressed: funnels.mostly_hidden).
    specialties = page.locator("div.chart-wrap.funnels").last
    heads = specialties.locator("h3").count()
    drawn = specialties.locator("svg.chart.funnel").count()
    assert heads >= 5 and heads == specialties.locator("p.no-funnel").count() + drawn // 2 and drawn % 2 == 0
    assert page.locator("div.synthetic").is_visible()
    page.get_by_label("Feedback given on").fill("2024-10-15")
    page.get_by_role("button", name="Rebase").click()
    page.wait_for_url("**feedback=2024-10-15**")
    assert page.locator("svg.chart.spc").count() == 1
    assert "15 October 2024" in page.content()
    assert "NaN" not in page.content()
    # Its PCN's page (linked from the practice's) draws the pack's funnels of every PCN, the PCN ringed.
    page.locator("main a[href*='/referrals/pcn/']").first.click()
    page.wait_for_url("**/referrals/pcn/**")
    pcn = page.url.rstrip("/").rsplit("/", 1)[1]
    assert page.locator("svg.chart.funnel").count() >= 2
    assert f"Ringed: {pcn}" in page.content() and "NaN" not in page.content()
