"""The page as the audience sees it, in Chromium: the code view beside the timeline (demos 3,
5 and 6), the page on a projector (1280x720 and 1920x1080 at zoom 100%, options open, under
make demo's stage panel), the presenter's settings across Reset and reload, the name's limit,
and the bundled fonts (the same layout whatever fonts the system has).

Screenshots go to $PAGE_SCREENSHOTS when set (else pytest's temporary folder).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from browser import require_chromium
from maintainers.browser import FLAGS, open_page, start_run
from maintainers.harness import (
    HELLO_DIR,
    DemoStage,
    make_readme_edit,
    ship_the_bug,
    wait_for,
)

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = require_chromium()
SCREENSHOTS = "PAGE_SCREENSHOTS"  # where the shots fixture (conftest.py) saves, when set
SIZES = [(1280, 720), (1920, 1080)]  # the README's projector sizes, at browser zoom 100%
CODE_MIN_PX = 18  # the code view, legible from the back row at 1280x720
PAYOFF = ["#lights", "#status", "#timeline-section", "#code-section", "#result", "#stage-panel"]


def new_page(browser, url, width=1280, height=720):
    return open_page(browser, url, viewport={"width": width, "height": height})


def mark(page, step: str) -> tuple[str | None, str]:
    """The code view's mark of a step: (its state, its words); (None, "") when unmarked."""
    found = page.locator(f"#code li.mark[data-for-step='{step}']")
    if found.count() == 0:
        return None, ""
    return found.get_attribute("data-mark"), found.inner_text()


def wait_mark(page, step: str, state: str, timeout: float = 20) -> str:
    wait_for(lambda: mark(page, step)[0] == state, timeout, 0.1, f"{step} marked {state}")
    return mark(page, step)[1]


def lines_marked(page, step: str) -> set[str | None]:
    """The states the step's code lines carry (one, when they agree with its mark)."""
    return set(
        page.eval_on_selector_all(
            f"#code li[data-step='{step}']", "items => items.map(li => li.dataset.mark || null)"
        )
    )


def fit(page) -> dict:
    """Where the payoff is drawn: each visible part's box, and the page's own size."""
    return page.evaluate(
        """(ids) => {
          const boxes = {};
          for (const id of ids) {
            const node = document.querySelector(id);
            if (!node || !node.offsetParent) continue;
            const r = node.getBoundingClientRect();
            boxes[id] = [r.left, r.top, r.right, r.bottom].map(Math.round);
          }
          const root = document.documentElement;
          return { boxes, scrollHeight: root.scrollHeight, scrollWidth: root.scrollWidth,
                   innerHeight, innerWidth };
        }""",
        PAYOFF,
    )


def assert_fits(page, must: list[str]) -> dict:
    """The page does not scroll, and every part of the payoff that shows is inside the window."""
    measured = fit(page)
    missing = [part for part in must if part not in measured["boxes"]]
    assert not missing, f"not shown: {missing}"
    width, height = measured["innerWidth"], measured["innerHeight"]
    outside = {
        part: box
        for part, box in measured["boxes"].items()
        if box[0] < 0 or box[1] < 0 or box[2] > width or box[3] > height
    }
    assert not outside, f"outside the {width}x{height} window: {outside}"
    assert measured["scrollHeight"] <= height, measured
    assert measured["scrollWidth"] <= width, measured
    print(f"\n[fit] {width}x{height}: page {measured['scrollHeight']} px tall, {measured['boxes']}")
    return measured


def assert_fits_both_sizes(page, must: list[str]) -> None:
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(100)
        assert_fits(page, must)
    page.set_viewport_size({"width": 1280, "height": 720})


def hello_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "hello-ip"
    shutil.copytree(HELLO_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


# --- the code view ----------------------------------------------------------------------------


def test_the_code_view_shows_run_as_the_app_read_it(browser, hello):
    page = new_page(browser, hello.url)
    shown = page.eval_on_selector_all(
        "#code li:not(.mark)",
        "items => items.map(li => [Number(li.dataset.line), li.querySelector('code').textContent,"
        " li.querySelector('.ln').textContent])",
    )
    source = (HELLO_DIR / "workflow.py").read_text().splitlines()
    for number, text, label in shown:  # each line as the file has it, by its line number
        assert label == str(number)
        assert text == source[number - 1][4:].rstrip(), (number, text)
        assert "#region" not in text
    assert "async def run(self, greeting: GreetingInput)" in shown[0][1]
    assert "return GreetingResult" in shown[-1][1]
    steps = page.eval_on_selector_all(
        "#code li[data-step]", "items => [...new Set(items.map(li => li.dataset.step))]"
    )
    assert steps == ["get_ip", "timer", "get_location_info", "greeting"]
    size = page.eval_on_selector("#code li code", "c => parseFloat(getComputedStyle(c).fontSize)")
    assert size >= CODE_MIN_PX, size
    assert page.errors == []


def test_demo_3_the_code_view_marks_get_ip_taken_from_the_history(browser, scenario, shots):
    scenario.start_standin()
    worker = scenario.start_worker()
    scenario.start_app()
    page = new_page(browser, scenario.url)
    start_run(page, "Linus", 4)
    ran = wait_mark(page, "get_ip", "ran")
    assert ran.startswith("RAN") and "203.0.113.42" in ran, ran
    waiting = wait_mark(page, "timer", "waiting")
    assert "WAITING" in waiting and "Fires in" in waiting, waiting
    assert lines_marked(page, "timer") == {"waiting"}
    assert mark(page, "get_location_info")[0] is None
    assert_fits_both_sizes(page, ["#status", "#timeline-section", "#code-section"])
    worker.assert_clean_exit(worker.interrupt())  # Ctrl-C while the timer waits (the README)

    wait_mark(page, "timer", "fired", timeout=15)
    scenario.start_worker()
    page.locator("#result").wait_for(state="visible", timeout=20000)
    said = wait_mark(page, "get_ip", "from history")
    assert said.startswith("FROM HISTORY") and "not run again" in said, said
    assert "203.0.113.42" in said
    assert lines_marked(page, "get_ip") == {"from history"}
    assert mark(page, "get_location_info")[0] == "ran"
    assert mark(page, "greeting")[0] == "returned"
    page.screenshot(path=str(shots / "page-demo-3.png"))
    assert_fits_both_sizes(page, ["#timeline-section", "#code-section", "#result"])
    assert page.errors == []
    page.close()


def test_demo_3_with_kill_9_and_an_at_once_restart_get_ip_is_marked_from_the_history(
    browser, scenario
):
    """kill -9 sends no word, and the restarted worker completes the run sooner than the killed
    one's heartbeats fall silent (3.5 s): the mark must not wait for that silence."""
    scenario.start_standin()
    worker = scenario.start_worker()
    scenario.start_app()
    page = new_page(browser, scenario.url)
    start_run(page, "Linus", 4)
    wait_mark(page, "get_ip", "ran")
    soon = (
        "/Fires in [12] s/.test((document.querySelector('#timeline .countdown') || {}).textContent)"
    )
    page.wait_for_function(soon, timeout=10000)  # the run completes about 2 s after the kill
    worker.kill()
    scenario.start_worker()
    page.locator("#result").wait_for(state="visible", timeout=20000)
    said = wait_mark(page, "get_ip", "from history", timeout=5)
    assert said.startswith("FROM HISTORY") and "not run again" in said, said
    assert mark(page, "get_location_info")[0] == "ran"
    assert page.errors == []
    page.close()


def test_demo_5_the_code_view_marks_the_retried_activity_with_its_error(
    browser, scenario, tmp_path, shots
):
    copy = hello_copy(tmp_path)
    ship_the_bug(copy)
    scenario.start_standin()
    scenario.start_worker(folder=copy)
    scenario.start_app()
    page = new_page(browser, scenario.url)
    start_run(page, "Barbara", 0)
    said = wait_mark(page, "get_location_info", "retrying", timeout=25)
    assert said.startswith("RETRYING") and "Last error: KeyError: 'cty'" in said, said
    assert "failed;" in said and " in " in said  # the attempt that failed, the next one's countdown
    assert lines_marked(page, "get_location_info") == {"retrying"}
    assert mark(page, "get_ip")[0] == "ran"
    assert mark(page, "timer") == ("skipped", "SKIPPED sleep_seconds is 0: no timer")
    page.wait_for_timeout(3000)  # a few attempts listed in the timeline
    page.screenshot(path=str(shots / "page-demo-5.png"))
    assert_fits_both_sizes(page, ["#status", "#timeline-section", "#code-section"])
    assert page.errors == []
    page.close()


def test_demo_6_the_code_view_marks_the_step_the_new_code_did_not_expect(
    browser, scenario, tmp_path, shots
):
    copy = hello_copy(tmp_path)
    scenario.start_standin()
    worker = scenario.start_worker(folder=copy)
    scenario.start_app()
    page = new_page(browser, scenario.url)
    run = start_run(page, "Margaret", 4)
    scenario.wait_for_event(run, "TIMER_STARTED")
    worker.assert_clean_exit(worker.interrupt())
    make_readme_edit(copy, "demo-6-change")  # the app still has the code it started with
    scenario.start_worker(folder=copy)

    said = wait_mark(page, "timer", "mismatch", timeout=25)
    assert said.startswith("MISMATCH"), said
    assert "(event 11, TimerStarted)" in said and "expected another" in said, said
    assert "workflow.py is not the one shown here" in said
    assert lines_marked(page, "timer") == {"mismatch"}
    assert mark(page, "get_ip")[0] == "from history"  # the restarted worker replayed it
    assert mark(page, "get_location_info")[0] is None
    state = page.get_attribute("#timeline li[data-step='replay']", "data-state")
    assert state == "mismatch"
    page.screenshot(path=str(shots / "page-demo-6.png"))
    assert_fits_both_sizes(page, ["#status", "#timeline-section", "#code-section"])
    assert page.errors == []
    page.close()


# --- the page on a projector ------------------------------------------------------------------


def test_a_greeting_with_the_options_open_fits_both_screens(browser, hello, shots):
    page = new_page(browser, hello.url)
    start_run(page, "Ada", 3)
    page.locator("#timeline li[data-step='timer']").wait_for(timeout=10000)
    assert page.locator("#options").is_visible()
    assert_fits_both_sizes(page, ["#lights", "#status", "#timeline-section", "#code-section"])
    page.locator("#result").wait_for(state="visible", timeout=20000)
    assert_fits_both_sizes(page, ["#lights", "#timeline-section", "#code-section", "#result"])
    page.screenshot(path=str(shots / "page-demo-2-greeting.png"))
    page.close()


def test_under_make_demo_the_stage_panel_and_the_run_fit_one_screen(browser, tmp_path, shots):
    stage = DemoStage(tmp_path)
    try:
        for name in ("server", "worker", "app", "standin"):
            stage.wait_state(name, "running")
        page = new_page(browser, stage.url)
        page.locator("#stage-panel").wait_for(state="visible", timeout=10000)
        start_run(page, "Linus", 4)
        page.locator("#timeline li[data-step='timer']").wait_for(timeout=15000)
        every = ["#lights", "#status", "#timeline-section", "#code-section", "#stage-panel"]
        assert_fits_both_sizes(page, every)
        page.screenshot(path=str(shots / "page-make-demo-timer.png"))
        page.locator("#result").wait_for(state="visible", timeout=20000)
        every = ["#lights", "#timeline-section", "#code-section", "#result", "#stage-panel"]
        assert_fits_both_sizes(page, every)
        page.screenshot(path=str(shots / "page-make-demo.png"))
        buttons = page.locator(".piece button")
        for i in range(buttons.count()):  # every Stage button on the screen
            box = buttons.nth(i).bounding_box()
            assert box and box["y"] + box["height"] <= 720, box
        assert page.errors == []
        page.close()
    finally:
        stage.proc.assert_clean_exit(stage.stop())


# --- the presenter's settings ----------------------------------------------------------------


def test_reset_clears_the_run_not_the_presenters_settings(browser, hello):
    page = new_page(browser, hello.url)
    start_run(page, "Ada", 1)
    page.locator("#result").wait_for(state="visible", timeout=20000)
    page.click("#reset-button")
    assert page.locator("#result").is_hidden() and page.locator("#timeline-section").is_hidden()
    assert "run=" not in page.url
    assert page.locator("#code li.mark").count() == 0  # the code view's marks went with the run
    assert page.locator("#options").is_visible()
    assert page.inner_text("#toggle-options") == "Hide Demo Options"
    assert page.input_value("#sleep-seconds") == "1"
    assert page.input_value("#name") == ""  # the next person's name
    page.close()


def test_a_reload_mid_run_keeps_the_run_the_name_and_the_options(browser, hello):
    page = new_page(browser, hello.url)
    run = start_run(page, "Grace", 6)
    page.locator("#timeline li[data-step='timer']").wait_for(timeout=10000)
    page.reload()
    assert page.evaluate("new URLSearchParams(location.search).get('run')") == run
    assert page.input_value("#name") == "Grace"
    assert page.locator("#options").is_visible()
    assert page.input_value("#sleep-seconds") == "6"
    page.locator("#timeline li[data-step='timer']").wait_for(timeout=10000)
    assert mark(page, "timer")[0] == "waiting"
    page.locator("#result").wait_for(state="visible", timeout=20000)
    page.close()


def test_the_101st_character_is_not_dropped_the_page_says_the_limit(browser, hello):
    page = new_page(browser, hello.url)
    assert page.locator("#name-limit").is_hidden()
    page.fill("#name", "a" * 99)
    assert page.locator("#name-limit").is_hidden()
    page.type("#name", "b")
    assert page.inner_text("#name-limit") == "100 characters at most: that is the limit"
    page.type("#name", "c")  # the 101st
    assert page.input_value("#name") == "a" * 99 + "bc"
    assert page.inner_text("#name-limit") == "101 characters: 100 characters at most"
    assert page.get_attribute("#name", "aria-invalid") == "true"
    page.click("#get-greeting")
    page.locator("#error").wait_for(state="visible", timeout=5000)
    assert page.inner_text("#error") == "The name is too long: 101 characters, at most 100."
    page.close()


@pytest.mark.parametrize("width,height", SIZES)
def test_a_100_character_name_without_spaces_wraps(browser, hello, width, height):
    page = new_page(browser, hello.url, width, height)
    name = "W" * 100
    page.fill("#name", name)
    page.click("#get-greeting")
    page.locator("#result").wait_for(state="visible", timeout=20000)
    assert page.inner_text("#greeting-line").replace("\n", "") == f"Hello, {name}!"
    assert_fits(page, ["#result", "#code-section"])
    lines = page.eval_on_selector("#greeting-line", "p => p.getClientRects().length")
    height_px = page.eval_on_selector("#greeting-line", "p => p.getBoundingClientRect().height")
    line_px = page.eval_on_selector(
        "#greeting-line", "p => parseFloat(getComputedStyle(p).lineHeight)"
    )
    assert lines == 1 and height_px > 1.5 * line_px, "the greeting wraps over lines"
    page.close()


# --- the fonts --------------------------------------------------------------------------------

FONT_SETS = ["dejavu", "liberation"]
BUNDLED = {"Inter", "JetBrains Mono"}


def _of(family: str, fonts: set[str]) -> bool:
    return any(family == name or family.startswith(f"{name} ") for name in fonts)


TEXT_BOXES = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (!node.nodeValue.trim()) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const r = range.getBoundingClientRect();
    if (!r.width) continue;
    const box = [r.x, r.y, r.width, r.height].map((v) => Math.round(v * 2) / 2);
    out.push([node.nodeValue.trim().slice(0, 40), ...box]);
  }
  return out;
}"""


@pytest.fixture(scope="module")
def under_fonts(browser, hello, tmp_path_factory):
    """A finished run's page (a greeting, a timer, the code marked) at 1280x720, measured in a
    Chromium that has only one set of system fonts: its text boxes and the fonts drawn."""
    if not sys.platform.startswith("linux"):
        pytest.skip("fontconfig (Linux) chooses the system's fonts")
    from maintainers.slide_render import drawn_fonts, font_config

    run = hello.post("Ada", 1)
    hello.wait_done(run)
    measured = {}
    for name in FONT_SETS:
        env = font_config(name, tmp_path_factory.mktemp("fontconfig"))
        if env is None:
            if os.environ.get("CI"):
                pytest.fail(f"CI must have the {name} fonts: .ci/run installs them")
            pytest.skip(f"no {name} fonts on this machine")
        chromium = browser.browser_type.launch(  # a second Chromium, with its fontconfig
            executable_path=CHROMIUM, args=FLAGS, env={**os.environ, **env}
        )
        try:
            page = chromium.new_page(viewport={"width": 1280, "height": 720})
            page.goto(f"{hello.url}/?run={run}")
            page.locator("#result").wait_for(state="visible", timeout=20000)
            page.locator("#code li.mark[data-for-step='greeting']").wait_for(timeout=10000)
            page.fill("#name", "Ada Lovelace")
            page.evaluate("document.fonts.ready")
            cdp = page.context.new_cdp_session(page)
            measured[name] = {"boxes": page.evaluate(TEXT_BOXES), "fonts": drawn_fonts(cdp)}
        finally:
            chromium.close()
    return measured


def test_the_page_looks_the_same_whatever_fonts_the_system_has(under_fonts):
    first, second = (under_fonts[name]["boxes"] for name in FONT_SETS)
    assert len(first) > 40, first  # the page drew its texts (the code view's lines among them)
    moved = [(a, b) for a, b in zip(first, second, strict=True) if a != b]
    assert not moved, f"laid out differently under {FONT_SETS}: {moved[:5]}"


def test_every_text_on_the_page_is_drawn_in_a_bundled_font(under_fonts):
    for name in FONT_SETS:
        drawn = under_fonts[name]["fonts"]
        assert len(drawn) > 40, drawn
        elsewhere = [
            f"{f['text']!r} in {f['families']}"
            for f in drawn
            if not f["web"] or not all(_of(family, BUNDLED) for family in f["families"])
        ]
        assert not elsewhere, f"under {name}, texts in the system's fonts: {elsewhere[:10]}"
        code = {family for f in drawn if f["code"] for family in f["families"]}
        assert code == {"JetBrains Mono"}, code
