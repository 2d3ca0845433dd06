"""Debian's Chromium, driven by Playwright (browsers cannot be downloaded here)."""

from __future__ import annotations

import contextlib
import os

import pytest

from maintainers.browser import CHROMIUM, FLAGS  # noqa: F401 (the tests import them from here)


def require_chromium() -> str:
    """The Chromium to drive; CI must have one, elsewhere the browser tests are skipped."""
    if not CHROMIUM:
        if os.environ.get("CI"):
            raise RuntimeError("CI must have Debian's chromium: .ci/run installs it")
        pytest.skip("no chromium on PATH (apt-get install chromium)", allow_module_level=True)
    return CHROMIUM


@contextlib.contextmanager
def launched():
    """Chromium under Playwright, headless, with FLAGS; closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=require_chromium(), args=FLAGS, headless=True
        )
        yield browser
        browser.close()
