"""The page, in real headless Chromium (Debian's, driven by Playwright)."""

import time
from urllib.parse import urlparse

import pytest

from browser import require_chromium
from maintainers.browser import open_page, start_run
from maintainers.harness import EXPECTED_IP, EXPECTED_LOCATION

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = require_chromium()


@pytest.fixture
def page(browser, hello):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.requested = []
    page.on("request", lambda request: page.requested.append(request.url))
    yield page
    context.close()


def test_greeting_with_a_durable_timer_then_reset(page, hello, tmp_path):
    page.goto(hello.url)
    assert page.title() == "Distributed Hello World"
    assert page.locator("#options").is_hidden()
    page.fill("#name", "Ada")
    page.click("text=Show Demo Options")
    assert page.locator("#options").is_visible()
    assert page.locator("label[for=sleep-seconds]").inner_text() == "Number of Seconds"
    page.fill("#sleep-seconds", "3")
    started = time.monotonic()
    page.click("text=Get Greeting")

    # While the timer waits, the page says what is happening.
    status = page.locator("#status-line")
    status.wait_for(state="visible", timeout=5000)
    page.wait_for_function(
        "document.querySelector('#status-line').textContent.includes('durable timer')",
        timeout=5000,
    )
    assert page.locator("#result").is_hidden()

    page.locator("#result").wait_for(state="visible", timeout=20000)
    assert time.monotonic() - started >= 3
    lines = [page.inner_text(f"#{id}") for id in ("greeting-line", "ip-line", "location-line")]
    assert lines == [
        "Hello, Ada!",
        f"Your IP Address is {EXPECTED_IP}.",
        f"You are in {EXPECTED_LOCATION}",
    ]
    assert page.locator("#status").is_hidden()
    page.screenshot(path=str(tmp_path / "greeting.png"))

    # The run's id is in the URL: a reload shows the same run.
    run_id = page.evaluate("new URLSearchParams(location.search).get('run')")
    assert run_id and run_id.startswith("greeting-ada-")
    link = page.get_attribute("#ui-link", "href")
    assert link.endswith(f"/namespaces/{hello.namespace}/workflows/{run_id}")
    page.reload()
    page.locator("#result").wait_for(state="visible", timeout=10000)
    assert page.inner_text("#greeting-line") == "Hello, Ada!"

    page.click("#reset-button")  # clears the run and the name, not the presenter's options
    assert page.input_value("#name") == ""
    assert page.input_value("#sleep-seconds") == "3"
    assert page.locator("#options").is_visible()
    assert page.locator("#result").is_hidden()
    assert page.locator("#status").is_hidden()
    assert "run=" not in page.url

    # Nothing was requested from any host but the app.
    hosts = {urlparse(url).netloc for url in page.requested if not url.startswith("data:")}
    assert hosts == {f"127.0.0.1:{hello.app_port}"}


def test_html_in_the_name_is_shown_as_text(page, hello):
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    name = "<img src=x onerror=alert(1)>"
    page.goto(hello.url)
    page.fill("#name", name)
    page.click("text=Get Greeting")
    page.locator("#result").wait_for(state="visible", timeout=20000)
    assert page.inner_text("#greeting-line") == f"Hello, {name}!"
    assert page.locator("#result img").count() == 0
    assert dialogs == []


def test_bad_input_shows_the_reason_and_starts_nothing(page, hello):
    page.goto(hello.url)
    page.click("text=Get Greeting")  # no name
    page.locator("#error").wait_for(state="visible", timeout=5000)
    assert page.inner_text("#error") == "Enter your name."
    assert page.locator("#status").is_hidden()
    assert "run=" not in page.url


def test_the_app_stopped_mid_run_the_page_says_so_and_picks_the_run_up_again(browser, scenario):
    """README, Troubleshooting: *The app is not answering*; start it again and the page goes on."""
    scenario.start_standin()
    scenario.start_worker()
    app = scenario.start_app()
    page = open_page(browser, scenario.url)
    start_run(page, "Grace", 4)
    page.wait_for_function("document.querySelector('#status-line').textContent.includes('timer')")
    app.assert_clean_exit(app.interrupt())  # Ctrl-C in the app's terminal

    page.wait_for_function(
        "document.querySelector('#status-line').textContent === 'The app is not answering'",
        timeout=5000,
    )
    assert page.inner_text("#status-detail") == "Is app.py running? The page keeps trying."
    elapsed = page.inner_text("#elapsed")
    page.wait_for_timeout(1500)
    assert page.inner_text("#elapsed") != elapsed, "the elapsed time keeps counting"

    scenario.start_app()  # Up, Enter: the same port
    page.locator("#result").wait_for(state="visible", timeout=20000)
    assert page.inner_text("#greeting-line") == "Hello, Grace!"
    assert page.errors == []
    page.close()
