"""Debian's Chromium, driven by Playwright (browsers cannot be downloaded here)."""

from __future__ import annotations

import contextlib
import os

import pytest

from maintainers.browser import CHROMIUM, FLAGS  # noqa: F401 (the tests import them from here)
from maintainers.harness import wait_for


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


# --- the page, as the tests read it ------------------------------------------------------


def open_page(browser, url):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.errors = []
    page.on("pageerror", lambda err: page.errors.append(str(err)))
    page.goto(url)
    return page


def start_run(page, name, sleep):
    page.fill("#name", name)
    if page.locator("#options").is_hidden():  # Reset and a reload keep them open
        page.click("text=Show Demo Options")
    page.fill("#sleep-seconds", str(sleep))
    page.click("text=Get Greeting")
    page.wait_for_function("new URLSearchParams(location.search).get('run')")
    return page.evaluate("new URLSearchParams(location.search).get('run')")


def rows(page) -> list[tuple[str, str]]:
    """The timeline as the page shows it: (step, state word) per row."""
    return page.eval_on_selector_all(
        "#timeline li",
        "items => items.map(li => [li.querySelector('.step-name').textContent,"
        " li.querySelector('.step-state').textContent])",
    )


def row_text(page, step: str) -> str:
    return page.inner_text(f"#timeline li[data-step='{step}']")


def wait_rows(page, expected, timeout=20):
    wait_for(lambda: rows(page) == expected, timeout, 0.1, f"timeline rows {expected}")


def light(page, which: str) -> str:
    return page.inner_text(f"#light-{which} .light-text")


def wait_light(page, which, text, timeout=15):
    wait_for(lambda: light(page, which) == text, timeout, 0.1, f"{which} light {text!r}")
