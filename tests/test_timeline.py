"""The page's timeline and its two lights (Temporal, worker), in the JSON API and in Chromium.

Screenshots go to $TIMELINE_SCREENSHOTS when set (else pytest's temporary folder).
"""

import re
import time

import pytest

from browser import require_chromium
from maintainers.browser import light, open_page, row_text, wait_light
from maintainers.harness import EXPECTED_IP, EXPECTED_LOCATION, DevServer, HelloStage, http
from maintainers.scenarios import DEMOS, At, Hands, PageDriver, page_driver, play

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = require_chromium()


def test_each_step_appears_as_the_history_grows_and_the_api_says_the_same(browser, hello, shots):
    _, before = http("GET", f"{hello.url}/api/greetings/none")  # a 404: nothing to count yet
    calls_before = http("GET", f"http://127.0.0.1:{hello.standin_port}/calls")[1]
    page = open_page(browser, hello.url)
    wait_light(page, "temporal", "Temporal: reachable")
    wait_light(page, "worker", "Worker: polling")

    def counting(run, _):  # get_ip done, then the timer counts down in a bar
        assert f"{EXPECTED_IP} in " in row_text(page, "get_ip")
        countdown = page.locator("#timeline li[data-step='timer'] .countdown")
        assert re.fullmatch(r"Fires in [123] s .*", countdown.inner_text())
        first = countdown.inner_text()
        page.wait_for_timeout(1100)
        assert countdown.inner_text() != first, "the countdown moves between answers"

    def done(run, _):  # every row done, with the rows as the JSON API says them
        assert "Fired after 3 s" in row_text(page, "timer")
        assert EXPECTED_LOCATION in row_text(page, "get_location_info")
        # The stand-in's own count, beside the steps: this run made one call of each.
        n_ip, n_geo = calls_before["get_ip"] + 1, calls_before["get_location_info"] + 1
        assert "Stand-in answered get_ip 1 time for this run" in row_text(page, "get_ip")
        assert "get_location_info 1 time for this run" in row_text(page, "get_location_info")

        # The JSON API says what the page shows.
        code, status = hello.status(run)
        assert code == 200
        api_rows = [(r["step"], r["state"]) for r in status["timeline"]]
        assert api_rows == [
            ("get_ip", "completed"),
            ("timer", "fired"),
            ("get_location_info", "completed"),
            ("greeting", "completed"),
        ]
        assert [r["text"] for r in status["timeline"]] == [
            page.inner_text(f"#timeline li:nth-child({i}) .step-text") for i in range(1, 5)
        ]
        get_ip = status["timeline"][0]
        assert get_ip["result"] == EXPECTED_IP and get_ip["attempt"] == 1
        assert 0 <= get_ip["duration_seconds"] < 2 and not get_ip.get("from_history")
        assert status["standin_calls"] == {
            "get_ip": n_ip,
            "get_location_info": n_geo,
            "started": calls_before["started"],
        }
        assert status["standin_calls_at_start"] == calls_before  # counted before the run began
        code, lights = http("GET", f"{hello.url}/api/lights")
        assert code == 200 and lights["temporal"]["on"] and lights["worker"]["on"]
        assert light(page, "worker") == lights["worker"]["text"]
        assert page.get_attribute("#timeline", "aria-live") == "polite"
        for which in ("temporal", "worker"):  # the lights' words are announced, not their detail
            assert page.get_attribute(f"#light-{which} .light-text", "aria-live") == "polite"
            assert page.locator(f"#light-{which} .light-detail").get_attribute("aria-live") is None

    hands = Hands(hello)  # the session's pieces: the run's history
    play(
        DEMOS["demo-2"],
        PageDriver(page, hands, shots),
        hooks={At.TIMER_WAITING: counting, At.GREETING: done},
    )
    assert page.errors == []
    page.close()


def test_demo_3_the_worker_light_goes_out_and_get_ip_comes_from_the_history(
    browser, scenario, shots
):
    driver = page_driver(browser, scenario, DEMOS["demo-3"], shots=shots)
    page = driver.page

    def restarted(run, _):  # get_ip taken from the history, get_location_info run
        assert "Stand-in answered get_ip 1 time for this run" in row_text(page, "get_ip")

    # The timer fires with no worker: the light says nobody polls, the Temporal light stays on.
    play(DEMOS["demo-3"], driver, "kill", {At.GREETING: restarted})
    assert page.errors == []
    page.close()


def test_demo_4_temporal_down_its_light_goes_out_and_the_timer_keeps_counting(
    browser, restartable, shots
):
    def unreachable(run, page):  # and the timer keeps counting on the page: the driver's check
        code, lights = http("GET", f"{restartable.url}/api/lights")
        assert code == 200 and lights["temporal"]["on"] is False

    driver = page_driver(browser, restartable, DEMOS["demo-4"], shots=shots)
    play(DEMOS["demo-4"], driver, "interrupt", {At.UNREACHABLE: unreachable})
    assert driver.page.errors == []
    for proc in restartable.procs:  # the lights asked all along: never a traceback
        assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    driver.page.close()


def test_demo_5_each_failed_attempt_with_its_error_and_the_next_retry(
    browser, scenario, tmp_path, shots
):
    driver = page_driver(browser, scenario, DEMOS["demo-5"], tmp_path, shots=shots)

    def retrying(run, page):
        texts = driver.failures().all_inner_texts()
        assert texts[:3] == [f"Attempt {i} failed: KeyError: 'cty'" for i in (1, 2, 3)], texts
        code, status = scenario.status(run)
        row = status["timeline"][-1]
        assert row["step"] == "get_location_info" and row["state"] in ("retrying", "running")
        assert [f["attempt"] for f in row["failures"]] == list(range(1, row["attempt"]))
        for _ in range(20):  # the stand-in's count beside them is current: each call counted
            row = scenario.status(run)[1]["timeline"][-1]
            said = r"Stand-in answered get_location_info (\d+) times? for this run"
            calls = re.fullmatch(said, row["calls"])
            assert calls and int(calls[1]) >= len(row["failures"]), row
            time.sleep(0.1)

        # A restarted app saw none of the earlier errors: it says so (the history keeps the last).
        app = next(p for p in scenario.procs if p.name == "app.py")
        app.assert_clean_exit(app.interrupt())
        scenario.procs.remove(app)
        scenario.start_app()
        code, status = scenario.status(run)
        failures = status["timeline"][-1]["failures"]
        assert len(failures) >= 3 and failures[0]["error"] is None, failures
        assert failures[-1]["error"] == "KeyError: 'cty'", failures
        unseen = driver.failures().filter(has_text="did not see")
        unseen.first.wait_for(timeout=10000)
        assert unseen.first.inner_text() == (
            "Attempt 1 failed (the app did not see its error; Temporal keeps the last)"
        )

    play(DEMOS["demo-5"], driver, hooks={At.RETRYING: retrying})  # the fix, the worker restarted
    assert driver.page.errors == []
    driver.page.close()


def test_the_runs_the_app_remembers_are_bounded():
    """Each run's memory (failed attempts seen, counts at its start) is kept for the newest runs."""
    from demo_support.page.reader import RUNS_KEPT, TemporalReader

    reader = TemporalReader("hello-ip")  # never started: no loop, no connection
    for i in range(RUNS_KEPT + 10):
        reader._run(f"run-{i}").facts.failures[("1", 1)] = "boom"
    assert len(reader._runs) == RUNS_KEPT
    assert "run-9" not in reader._runs and reader._runs["run-10"].facts.failures == {
        ("1", 1): "boom"
    }


def test_an_unreachable_temporal_is_a_light_not_an_error(tmp_path):
    """The app started with no Temporal at all: the lights answer 200 and say so."""
    stage = HelloStage(DevServer(tmp_path))  # never started
    try:
        stage.start_app()
        started = time.monotonic()
        code, lights = http("GET", f"{stage.url}/api/lights")
        assert code == 200, lights
        assert lights["temporal"] == {
            "on": False,
            "text": "Temporal: unreachable",
            "detail": lights["temporal"]["detail"],
        }
        assert lights["worker"]["on"] is None
        assert time.monotonic() - started < 8
        assert "Traceback" not in stage.procs[0].stdout + stage.procs[0].stderr
    finally:
        stage.stop()
