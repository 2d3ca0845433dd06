"""Debian's Chromium driven by Playwright (browsers cannot be downloaded here), and the page
as the tests, the scenarios and the screenshot maker read it."""

from __future__ import annotations

import contextlib
import os
import shutil

from maintainers.harness import wait_for

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Without the background-networking flags Chromium keeps calling out to Google's hosts.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
FLAGS += ["--disable-background-networking", "--disable-component-update", "--disable-sync"]


def require_chromium() -> str:
    """The Chromium to drive; CI must have one, elsewhere the browser tests are skipped."""
    if not CHROMIUM:
        if os.environ.get("CI"):
            raise RuntimeError("CI must have Debian's chromium: .ci/run installs it")
        import pytest

        pytest.skip("no chromium on PATH (apt-get install chromium)", allow_module_level=True)
    return CHROMIUM


@contextlib.contextmanager
def launched():
    """Chromium under Playwright, headless, with FLAGS; closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=require_chromium(), args=FLAGS)
        yield browser
        browser.close()


def open_page(browser, url, **view):
    """A new page at url (view: Playwright's new_page options, e.g. device_scale_factor)."""
    page = browser.new_page(**{"viewport": {"width": 1280, "height": 1000}, **view})
    page.errors = []
    page.on("pageerror", lambda err: page.errors.append(str(err)))
    page.goto(url)
    return page


def start_run(page, name, sleep) -> str:
    """Type the name and the timer's seconds, click Get Greeting: the run's id."""
    page.fill("#name", name)
    if page.locator("#options").is_hidden():
        page.click("#toggle-options")
    page.fill("#sleep-seconds", str(sleep))
    page.click("#get-greeting")
    run = "new URLSearchParams(location.search).get('run')"
    page.wait_for_function(run)
    return page.evaluate(run)


def rows(page) -> list[list[str]]:
    """The timeline as the page shows it: (step, state word) per row."""
    text = "li.querySelector('.step-{}').textContent"
    cells = f"li => [{text.format('name')}, {text.format('state')}]"
    return page.eval_on_selector_all("#timeline li", f"items => items.map({cells})")


def row_text(page, step: str) -> str:
    return page.inner_text(f"#timeline li[data-step='{step}']")


def wait_rows(page, expected, timeout=20):
    wait_for(lambda: rows(page) == expected, timeout, 0.1, f"timeline rows {expected}")


def light(page, which: str) -> str:
    return page.inner_text(f"#light-{which} .light-text")


def wait_light(page, which, text, timeout=15):
    wait_for(lambda: light(page, which) == text, timeout, 0.1, f"{which} light {text!r}")
