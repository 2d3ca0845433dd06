"""Debian's Chromium, driven by Playwright (browsers cannot be downloaded here).

Shared by the tests and the screenshot maker.
"""

from __future__ import annotations

import shutil

from maintainers.harness import wait_for

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Without the background-networking flags Chromium keeps calling out to Google's
# hosts, which a closed network refuses many times a second.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# --- the page, as the tests and the scenarios read it ------------------------------------


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
    page.wait_for_function("new URLSearchParams(location.search).get('run')")
    return page.evaluate("new URLSearchParams(location.search).get('run')")


def rows(page) -> list[list[str]]:
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
