"""Screenshots of the main pages of a running Placewise site, for docs/screenshots/ (small PNGs).

Usage: python scripts/screenshots.py --url http://127.0.0.1:8000 --user NAME --password PASS [--out DIR] [--only NAME...]
Signs in, opens each page in Debian's headless Chromium (driven by Playwright) and saves a PNG of it,
the top of a long page, reduced to a 256-colour palette so that the files stay small.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

PAGES = {
    "home": "/",
    "explorer": "/explore?indicator=hypertension_treated_to_target&level=practice&breakdown=imd_quintile",
    "inequalities": "/inequalities",
    "board": "/board",
    "place-profile": "/areas/place/E06000032",
    "population": "/population",
    "quality": "/quality",
    "worklists": "/worklists",
}
"""Page name → path; ``worklists`` needs a clinician's login, the rest an analyst's."""
MAX_HEIGHT = 1800
"""Pixels kept from the top of a long page, so that a screenshot stays small."""


def shoot(url: str, user: str, password: str, out: Path, pages: dict[str, str]) -> list[Path]:
    """Sign in and save a full-page PNG of each page; the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 900}, locale="en-GB")
        page.goto(f"{url}/login")
        page.fill("#username", user)
        page.fill("#password", password)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        for name, path in pages.items():
            page.goto(f"{url}{path}")
            target = out / f"{name}.png"
            page.screenshot(path=str(target), full_page=True)
            shot = Image.open(target).convert("RGB")
            shot.crop((0, 0, shot.width, min(shot.height, MAX_HEIGHT))).quantize(256).save(target, optimize=True)
            written.append(target)
        browser.close()
    return written


def main() -> None:
    """Parse the arguments and take the screenshots."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default="http://127.0.0.1:8000")
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    ap.add_argument("--only", nargs="+", choices=sorted(PAGES), help="these pages only")
    args = ap.parse_args()
    pages = {k: v for k, v in PAGES.items() if not args.only or k in args.only}
    for path in shoot(args.url.rstrip("/"), args.user, args.password, args.out, pages):
        print(f"{path} ({path.stat().st_size / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
