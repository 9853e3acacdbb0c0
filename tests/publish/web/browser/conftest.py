"""A real headless Chromium (Debian's ``chromium`` package) driven by Playwright, for the browser tests.

Playwright's own browser download is not used: the browser is the system's, found on the PATH, which
``scripts/setup.sh --test`` installs from apt.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    """One headless Chromium for the run."""
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("Debian's chromium is not installed: scripts/test.sh installs it (apt chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=["--no-sandbox"] if os.geteuid() == 0 else [])
        yield browser
        browser.close()
