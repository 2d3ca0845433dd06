"""Every demo of the README, end to end: the real pieces, broken as the presenter breaks them.

Each test asserts what the README promises: the run ends "as if nothing had happened",
exactly once, with the right greeting. Recovery times (restart to greeting) are printed
with -s; the closing notes quote them.
"""

import base64
import json
import time

import pytest

from maintainers.harness import (
    EXPECTED_IP,
    EXPECTED_LOCATION,
    HELLO_DIR,
    HelloStage,
    event_types,
    expected_greeting,
    readme_bug_edit,
)
from maintainers.scenarios import DEMOS, At, Played, StageDriver, play
from readme_script import README, assert_matches_readme, ui_event_name
from readme_script import history as readme_history


def payloads(attrs: dict, key: str) -> list:
    return [json.loads(base64.b64decode(p["data"])) for p in attrs.get(key, {}).get("payloads", [])]


def played(stage: HelloStage, key: str, hooks: dict, how=None, copy_to=None) -> Played:
    """The README's scenario, through the JSON API; its history is the one the README shows."""
    s = DEMOS[key]
    done = play(s, StageDriver(stage, s, copy_to), how, hooks)
    if s.history:
        events = stage.history(done.run)
        assert [ui_event_name(e) for e in events] == readme_history(key), key
    if done.recovery is not None:
        print(f"\n[recovery] {key}{f', {how}' if how else ''}: {done.recovery:.2f} s")
        assert s.within is None or done.recovery < s.within, f"README: {key} recovers at once"
    return done


def test_demo_1_successful_execution(scenario):
    started = []

    def shown(run, done):
        assert time.monotonic() - started[0] < 5, "the greeting appears at once"
        assert done["result"] == {
            "name": "Ada",
            "ip": EXPECTED_IP,
            "location": EXPECTED_LOCATION,
            "greeting": expected_greeting("Ada"),
        }
        assert_matches_readme("greeting", done["result"]["greeting"])
        # What the presenter shows in the Web UI: the input, each activity's input and output.
        events = scenario.history(run)
        begun = events[0]["workflowExecutionStartedEventAttributes"]
        assert payloads(begun, "input") == [{"name": "Ada", "sleep_seconds": 0}]
        scheduled = [e for e in events if "activityTaskScheduledEventAttributes" in e]
        completed = [e for e in events if "activityTaskCompletedEventAttributes" in e]
        ip = payloads(completed[0]["activityTaskCompletedEventAttributes"], "result")[0]
        assert ip == EXPECTED_IP
        # The second activity's input is the first one's output.
        assert payloads(scheduled[1]["activityTaskScheduledEventAttributes"], "input") == [ip]
        result = events[-1]["workflowExecutionCompletedEventAttributes"]
        assert payloads(result, "result") == [{"ip": ip, "location": EXPECTED_LOCATION}]

    hooks = {
        At.STARTED: lambda run, _: started.append(time.monotonic()),
        At.GREETING: shown,
    }
    played(scenario, "demo-1", hooks)


def test_demo_2_a_durable_timer(scenario):
    def running(run, _):
        code, status = scenario.status(run)
        assert code == 200 and status["status"] == "RUNNING"

    def timed(run, _):  # the events' order is the README's history; play(): 3 s at least
        events = scenario.history(run)
        timer = next(e for e in events if e["eventType"] == "EVENT_TYPE_TIMER_STARTED")
        assert timer["timerStartedEventAttributes"]["startToFireTimeout"] == "3s"

    played(scenario, "demo-2", {At.STARTED: running, At.GREETING: timed})


@pytest.mark.parametrize("how", DEMOS["demo-3"].hows)
def test_demo_3_the_worker_dies_while_the_timer_waits(scenario, how):
    def no_worker(run, status):  # the timer fired with no worker running; nothing after it
        assert status["status"] == "RUNNING" and status["result"] is None
        assert "no worker is picking up work" in status["progress"]["message"]
        types = event_types(scenario.history(run))
        after_timer = types[types.index("TIMER_FIRED") + 1 :]
        assert after_timer == ["WORKFLOW_TASK_SCHEDULED"], after_timer

    # No sticky queue (worker.py: max_cached_workflows=0): even after kill -9 the new worker
    # takes the task at once (the scenario's bound), no task timed out on the dead worker's
    # queue, and get_ip ran once, before the crash: its recorded result was used.
    played(scenario, "demo-3", {At.NO_WORKER: no_worker}, how)


@pytest.mark.parametrize("how", DEMOS["demo-4"].hows)
def test_demo_4_the_temporal_service_dies_while_the_timer_waits(restartable, how):
    stage = restartable

    def unreachable(run, status):  # the app says so (no traceback, no 500)
        assert status["error"].startswith("Temporal is unreachable")

    def never_restarted(run, _):
        worker, app = stage.procs[1:3]  # the stand-in's, the worker's, the app's
        assert worker.popen.poll() is None and app.popen.poll() is None
        for proc in (worker, app):
            assert "Traceback" not in proc.stdout + proc.stderr
        # The worker said what happened, one line each, as the README quotes them (the
        # README's terminals use the dev server's default address and namespace).
        here, readme = (
            f"{stage.server.address} (namespace '{stage.namespace}')",
            "localhost:7233 (namespace 'default')",
        )
        said = [line.replace(here, readme) for line in worker.lines()[1:]]
        assert len(said) == 2, f"the worker said {said} after its start line"
        lost, back = said
        assert_matches_readme("worker-lost-temporal", [lost])
        assert back == "Temporal is back: the worker polls again."
        assert f"`{back}`" in README.read_text()

    played(stage, "demo-4", {At.UNREACHABLE: unreachable, At.GREETING: never_restarted}, how)


def test_the_readme_names_the_bug_line_truly():
    filename, line, old, new = readme_bug_edit()
    lines = (HELLO_DIR / filename).read_text().splitlines()
    assert old in lines[line - 1], f"line {line} of {filename} is {lines[line - 1]!r}"
    assert old != new


def test_demo_5_a_bug_ships_and_is_fixed_while_the_workflow_runs(scenario, tmp_path):
    def retrying(run, status):
        progress = status["progress"]
        assert progress["step"] == "get_location_info"
        assert progress["last_error"].startswith("KeyError")
        assert "Temporal retries it" in progress["message"]
        assert status["status"] == "RUNNING"
        worker = [p for p in scenario.procs if p.name == "worker.py"][-1]  # with the bug
        assert "Activity get_location_info failed (attempt 1): KeyError" in worker.stderr
        assert "Traceback" not in worker.stdout + worker.stderr

    # A copy of hello-ip (links resolved), edited as the presenter does.
    played(scenario, "demo-5", {At.RETRYING: retrying}, copy_to=tmp_path)


def test_bonus_the_network_fails_and_comes_back(scenario):
    def retrying(run, status):
        assert status["progress"]["step"] == "get_location_info"
        assert status["progress"]["last_error"]  # e.g. "ClientConnectorError: Cannot connect..."
        assert status["progress"]["next_retry_in_seconds"] is not None

    played(scenario, "bonus", {At.RETRYING: retrying})


def test_two_workers_one_killed_mid_run_the_other_finishes(scenario):
    def the_other(run, _):
        second = next(p for p in scenario.procs if p.name == "worker-2")
        identity = second.lines()[0].removeprefix("Starting the worker (").removesuffix(")")
        finishers = [
            e["workflowTaskCompletedEventAttributes"]["identity"]
            for e in scenario.history(run)
            if "workflowTaskCompletedEventAttributes" in e
        ]
        assert finishers[-1] == identity, "the surviving worker completed the run"

    played(scenario, "two-workers", {At.GREETING: the_other})  # Ctrl-C one of them, mid-run
