"""Demos 3, 4, 5 and the bonus, driven only through the page's stage panel (make demo), in Chromium.

One `make demo --offline` for the module, run from a copy of the repository (demo 5 edits
hello-ip/activities.py there). At each moment the tests read the timeline's rows and the
two lights on the page, and at the end the run's history: each activity completed once.
Screenshots go to $TIMELINE_SCREENSHOTS when set.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from browser import launched, require_chromium
from maintainers.harness import (
    REPO,
    TEMPORAL,
    DemoStage,
    activity_counts,
    ship_the_bug,
    wait_for,
)

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = require_chromium()


@pytest.fixture(scope="module")
def repo_copy(tmp_path_factory):
    copy = tmp_path_factory.mktemp("repo")
    for folder in ("demo_support", "presenter", "hello-ip"):
        shutil.copytree(REPO / folder, copy / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


@pytest.fixture(scope="module")
def stage(repo_copy, tmp_path_factory):
    stage = DemoStage(tmp_path_factory.mktemp("db"), repo=repo_copy)
    yield stage
    stage.proc.assert_clean_exit(stage.stop())


@pytest.fixture(scope="module")
def browser():
    with launched() as browser:
        yield browser


@pytest.fixture
def page(browser, stage):
    for name in ("server", "standin", "worker", "app"):
        stage.wait_state(name, "running")
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.errors = []
    page.on("pageerror", lambda err: page.errors.append(str(err)))
    page.goto(stage.url)
    page.locator("#stage-panel").wait_for(state="visible", timeout=10000)
    wait_light(page, "temporal", "Temporal: reachable")
    wait_light(page, "worker", "Worker: polling")
    yield page
    assert page.errors == []
    page.close()


@pytest.fixture
def shots(tmp_path):
    folder = Path(os.environ.get("TIMELINE_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def press(page, piece: str, action: str, expect: str) -> None:
    """Click a panel button; the panel says what it did."""
    page.click(f".piece[data-name='{piece}'] .press-{action}")
    wait_for(lambda: expect in page.inner_text("#stage-message"), 10, 0.1, f"panel: {expect}")


def piece_state(page, piece: str) -> str:
    return page.get_attribute(f".piece[data-name='{piece}']", "data-state")


def wait_piece(page, piece: str, state: str, timeout: float = 30) -> None:
    wait_for(lambda: piece_state(page, piece) == state, timeout, 0.2, f"{piece} {state}")


def rows(page) -> list[list[str]]:
    return page.eval_on_selector_all(
        "#timeline li",
        "items => items.map(li => [li.dataset.step, li.dataset.state])",
    )


def wait_rows(page, expected, timeout: float = 20) -> None:
    wait_for(lambda: rows(page) == expected, timeout, 0.1, f"rows {expected}")


def row_text(page, step: str) -> str:
    return page.inner_text(f"#timeline li[data-step='{step}']")


def light(page, which: str) -> str:
    return page.inner_text(f"#light-{which} .light-text")


def wait_light(page, which: str, text: str, timeout: float = 20) -> None:
    wait_for(lambda: light(page, which) == text, timeout, 0.1, f"{which} light {text!r}")


def start_run(page, name: str, sleep: int) -> str:
    page.fill("#name", name)
    if page.locator("#options").is_hidden():
        page.click("#toggle-options")
    page.fill("#sleep-seconds", str(sleep))
    page.click("#get-greeting")
    page.wait_for_function("new URLSearchParams(location.search).get('run')")
    return page.evaluate("new URLSearchParams(location.search).get('run')")


def completed_once(stage: DemoStage, run: str) -> list[dict]:
    out = subprocess.run(
        [TEMPORAL, "workflow", "show", "--workflow-id", run, "--output", "json",
         "--address", f"127.0.0.1:{stage.ports['server']}", "--namespace", "default"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    events = json.loads(out.stdout)["events"]
    assert activity_counts(events) == {"get_ip": 1, "get_location_info": 1}
    assert activity_counts(events, "SCHEDULED") == {"get_ip": 1, "get_location_info": 1}
    return events


DONE = [
    ["get_ip", "completed"],
    ["timer", "fired"],
    ["get_location_info", "completed"],
    ["greeting", "completed"],
]


def test_demo_3_kill_the_worker_from_the_panel_while_the_timer_waits(page, stage, shots):
    run = start_run(page, "Linus", 4)
    wait_rows(page, [["get_ip", "completed"], ["timer", "waiting"]])
    press(page, "worker", "kill", "Sent kill -9 (SIGKILL) to the worker")
    wait_piece(page, "worker", "stopped")
    assert "exit signal SIGKILL" in page.inner_text(".piece[data-name='worker'] .piece-state")

    # The timer fires in Temporal with no worker; the worker light goes out.
    wait_rows(page, [["get_ip", "completed"], ["timer", "fired"]], timeout=10)
    wait_light(page, "worker", "Worker: none polling", timeout=10)
    assert light(page, "temporal") == "Temporal: reachable"
    page.screenshot(path=str(shots / "panel-demo3-worker-killed.png"), full_page=True)

    press(page, "worker", "start", "Started the worker again")
    page.locator("#result").wait_for(state="visible", timeout=20000)
    wait_rows(page, DONE)
    wait_light(page, "worker", "Worker: polling")
    assert "Taken from the history by a restarted worker: not run again" in row_text(page, "get_ip")
    page.screenshot(path=str(shots / "panel-demo3-done.png"), full_page=True)
    completed_once(stage, run)


def test_demo_4_stop_the_server_from_the_panel_and_start_it_again(page, stage, shots):
    run = start_run(page, "Margaret", 6)
    wait_rows(page, [["get_ip", "completed"], ["timer", "waiting"]])
    press(page, "server", "interrupt", "Sent Ctrl-C (SIGINT) to the server")
    wait_piece(page, "server", "stopped")
    wait_light(page, "temporal", "Temporal: unreachable")
    assert page.get_attribute("#light-worker", "data-on") == "unknown"
    assert page.inner_text("#status-line") == "Temporal is unreachable"
    countdown = page.locator("#timeline li[data-step='timer'] .countdown")
    before = countdown.inner_text()
    page.wait_for_timeout(1200)
    assert countdown.inner_text() != before, "the timer keeps counting while the server is down"
    page.screenshot(path=str(shots / "panel-demo4-server-down.png"), full_page=True)
    press(page, "server", "start", "Started the server again")  # the same database file

    page.locator("#result").wait_for(state="visible", timeout=40000)
    wait_rows(page, DONE)
    wait_light(page, "temporal", "Temporal: reachable")
    assert "from the history" not in page.inner_text("#timeline"), "the same worker throughout"
    page.screenshot(path=str(shots / "panel-demo4-done.png"), full_page=True)
    completed_once(stage, run)


def test_demo_5_a_bug_then_the_fix_restarting_the_worker_from_the_panel(
    page, stage, repo_copy, shots
):
    source, original = ship_the_bug(repo_copy / "hello-ip")  # the bug ships
    try:
        press(page, "worker", "interrupt", "Sent Ctrl-C (SIGINT) to the worker")
        wait_piece(page, "worker", "stopped")
        press(page, "worker", "start", "Started the worker again")
        wait_piece(page, "worker", "running")
        run = start_run(page, "Barbara", 0)
        failures = page.locator("#timeline li[data-step='get_location_info'] .step-failure")
        wait_for(lambda: failures.count() >= 2, 20, 0.2, "two failed attempts on the page")
        assert failures.all_inner_texts()[:2] == [
            f"Attempt {i} failed: KeyError: 'cty'" for i in (1, 2)
        ]
        assert page.get_attribute("#timeline li[data-step='get_location_info']", "data-state") in (
            "retrying",
            "running",
        )
        page.screenshot(path=str(shots / "panel-demo5-retrying.png"), full_page=True)
    finally:
        source.write_text(original)  # the fix
    press(page, "worker", "interrupt", "Sent Ctrl-C (SIGINT) to the worker")
    wait_piece(page, "worker", "stopped")
    press(page, "worker", "start", "Started the worker again")
    page.locator("#result").wait_for(state="visible", timeout=20000)
    wait_rows(page, [DONE[0], *DONE[2:]])  # no timer in this run
    assert "Taken from the history" in row_text(page, "get_ip")
    page.screenshot(path=str(shots / "panel-demo5-done.png"), full_page=True)
    completed_once(stage, run)


def test_bonus_stop_and_start_the_stand_in_from_the_panel(page, stage, shots):
    run = start_run(page, "Katherine", 2)
    wait_rows(page, [["get_ip", "completed"], ["timer", "waiting"]])
    press(page, "standin", "interrupt", "Sent Ctrl-C (SIGINT) to the standin")
    wait_piece(page, "standin", "stopped")
    failures = page.locator("#timeline li[data-step='get_location_info'] .step-failure")
    wait_for(lambda: failures.count() >= 2, 20, 0.2, "two failed attempts on the page")
    assert "Stand-in services: down" in row_text(page, "get_location_info")
    assert "Stand-in" not in row_text(page, "timer")
    assert light(page, "worker") == "Worker: polling"
    page.screenshot(path=str(shots / "panel-bonus-network-down.png"), full_page=True)

    press(page, "standin", "start", "Started the standin again")
    page.locator("#result").wait_for(state="visible", timeout=20000)
    wait_rows(page, DONE)
    # The stand-in started afresh: it answered get_location_info once, and get_ip never.
    assert "Stand-in restarted after this step; it has answered get_ip 0 times since" in row_text(
        page, "get_ip"
    )
    assert "get_location_info 1 time since it started" in row_text(page, "get_location_info")
    page.screenshot(path=str(shots / "panel-bonus-done.png"), full_page=True)
    completed_once(stage, run)
