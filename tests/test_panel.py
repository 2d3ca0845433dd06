"""Demos 3, 4, 5 and the bonus, driven only through the page's stage panel (make demo), in Chromium.

One `make demo --offline` for the module, run from a copy of the repository (demo 5 edits
hello-ip/activities.py there). At each moment the tests read the timeline's rows and the
two lights on the page, and at the end the run's history: each activity completed once.
Screenshots go to $TIMELINE_SCREENSHOTS when set.
"""

import shutil

import pytest

from browser import require_chromium
from maintainers.browser import light, open_page, row_text, wait_light
from maintainers.harness import REPO, DemoStage
from maintainers.scenarios import DEMOS, At, PageDriver, Panel, play

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


@pytest.fixture
def page(browser, stage):
    for name in ("server", "standin", "worker", "app"):
        stage.wait_state(name, "running")
    page = open_page(browser, stage.url)
    page.locator("#stage-panel").wait_for(state="visible", timeout=10000)
    wait_light(page, "temporal", "Temporal: reachable")
    wait_light(page, "worker", "Worker: polling")
    yield page
    assert page.errors == []
    page.close()


@pytest.fixture
def panel(page, stage, repo_copy, shots):
    """The scenarios' driver: the page, and the panel's buttons; a screenshot at each moment."""
    return PageDriver(page, Panel(page, stage, repo_copy), shots, prefix="panel")


def test_demo_3_kill_the_worker_from_the_panel_while_the_timer_waits(panel):
    # kill -9 from the panel; the timer fires in Temporal with no worker, its light goes out;
    # start it again: get_ip comes from the history.
    play(DEMOS["demo-3"], panel, "kill")


def test_demo_4_stop_the_server_from_the_panel_and_start_it_again(panel):
    # Ctrl-C from the panel: the Temporal light goes out, the timer keeps counting; start it
    # again on the same database: the same worker throughout.
    play(DEMOS["demo-4"], panel, "interrupt")


def test_demo_5_a_bug_then_the_fix_restarting_the_worker_from_the_panel(panel):
    def retrying(run, page):
        texts = panel.failures().all_inner_texts()
        assert texts[:3] == [f"Attempt {i} failed: KeyError: 'cty'" for i in (1, 2, 3)], texts
        state = page.get_attribute("#timeline li[data-step='get_location_info']", "data-state")
        assert state in ("retrying", "running")

    # The edit in the stage's copy, the worker restarted from the panel, before and after the fix.
    play(DEMOS["demo-5"], panel, hooks={At.RETRYING: retrying})


def test_bonus_stop_and_start_the_stand_in_from_the_panel(panel):
    def retrying(run, page):
        assert "Stand-in services: down" in row_text(page, "get_location_info")
        assert "Stand-in" not in row_text(page, "timer")
        assert light(page, "worker") == "Worker: polling"

    def done(run, page):
        # The stand-in started afresh: it answered get_location_info once, and get_ip never.
        since = "Stand-in restarted after this step; it has answered get_ip 0 times since"
        assert since in row_text(page, "get_ip")
        assert "get_location_info 1 time since it started" in row_text(page, "get_location_info")

    play(DEMOS["bonus"], panel, hooks={At.RETRYING: retrying, At.GREETING: done})
