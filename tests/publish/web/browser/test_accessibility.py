"""axe-core (4.12, bundled by axe-playwright-python, served from the package: no network) over the main pages
in Chromium, for the WCAG 2.0, 2.1 and 2.2 A and AA rules: no violation."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe

pytestmark = pytest.mark.browser
WCAG_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]},
           "resultTypes": ["violations"]}
PAGES = ["/", "/login", "/explore?indicator=hypertension_treated_to_target&level=practice&breakdown=imd_quintile",
         "/inequalities", "/board", "/areas", "/population"]


@pytest.mark.parametrize("path", PAGES)
def test_no_wcag_aa_violation(chromium, web_server: str, path: str) -> None:
    """axe finds no WCAG A or AA violation on the page (colour contrast, labels, names, structure)."""
    context = chromium.new_context(base_url=web_server, locale="en-GB")
    try:
        page = context.new_page()
        page.goto(path)
        results = Axe().run(page, options=WCAG_AA)
        assert results.violations_count == 0, results.generate_snapshot()
    finally:
        context.close()
