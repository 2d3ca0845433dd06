"""One reading of a run: the page never contradicts itself, and says what Temporal says.

Each test is one of the page's faults found when it read a run twice (issue 19), through the
page in Chromium or the JSON API, against the real dev server and the real pieces.
"""

import json
import re
import signal
import subprocess
import time

import psutil
import pytest

from browser import require_chromium
from maintainers.browser import light, open_page, start_run, wait_light, wait_rows
from maintainers.harness import TEMPORAL, DevServer, HelloStage, wait_for
from maintainers.scenarios import DEMOS, At, page_driver, play

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = require_chromium()


def seconds_until_light(page, which: str, text: str, timeout: float) -> float:
    started = time.monotonic()
    try:
        wait_light(page, which, text, timeout)
    except TimeoutError:
        shown = [page.inner_text(f"#{id}") for id in ("lights", "status", "timeline-section")]
        raise AssertionError(f"no {text!r} in {timeout} s; the page shows {shown}") from None
    return time.monotonic() - started


def light_detail(page, which: str) -> str:
    return page.inner_text(f"#light-{which} .light-detail")


def identity(worker) -> str:
    """The worker's identity, from its first line: "Starting the worker (1234@host)"."""
    return worker.lines()[0].removeprefix("Starting the worker (").removesuffix(")")


def wait_heartbeat(stage, worker) -> None:
    """Until Temporal lists the worker's second heartbeat, which tells its interval (a second
    or so after its start; run_view.py assumes the SDK's default minute before it)."""

    def listed() -> bool:
        out = subprocess.run(
            [TEMPORAL, "worker", "list", "--address", stage.server.address,
             "--namespace", stage.namespace, "--output", "json"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        beats = [w["workerHeartbeat"] for w in json.loads(out.stdout or "[]")]
        mine = [b for b in beats if b["workerIdentity"] == identity(worker)]
        return any(b.get("elapsedSinceLastHeartbeat", "0s") != "0s" for b in mine)

    wait_for(listed, 10, 0.2, f"the heartbeat of {identity(worker)}")


def test_a_stopped_workers_light_goes_out_within_2_s_whatever_is_in_flight(browser, scenario):
    scenario.start_standin()
    worker = scenario.start_worker()
    scenario.start_app()
    page = open_page(browser, scenario.url)
    wait_light(page, "worker", "Worker: polling")
    # An idle worker's light names it: no "last poll 32 s ago" that looks stale.
    assert light_detail(page, "worker") == f"(1 worker: {identity(worker)})"

    worker.popen.send_signal(signal.SIGINT)  # Ctrl-C, no run in flight
    took = seconds_until_light(page, "worker", "Worker: none polling", 10)
    print(f"[light] {took:.2f} s")
    assert took < 2, f"the light went out {took:.1f} s after Ctrl-C"
    assert re.fullmatch(
        rf"\({re.escape(identity(worker))} stopped \d+ s ago\)", light_detail(page, "worker")
    )
    worker.assert_clean_exit(worker.wait())

    worker = scenario.start_worker()
    wait_light(page, "worker", "Worker: polling", 5)
    start_run(page, "Linus", 10)
    wait_rows(page, [["get_ip", "done"], ["durable timer", "waiting"]])
    worker.popen.send_signal(signal.SIGINT)  # Ctrl-C while the timer waits
    took = seconds_until_light(page, "worker", "Worker: none polling", 10)
    print(f"[light] {took:.2f} s")
    assert took < 2, f"the light went out {took:.1f} s after Ctrl-C, a run in flight"
    assert page.inner_text("#status-line").startswith("Sleeping on a durable timer: ")
    worker.assert_clean_exit(worker.wait())
    assert page.errors == []
    page.close()


def test_a_killed_workers_light_goes_out_when_its_heartbeat_falls_silent(browser, scenario):
    """kill -9 sends no word: the light goes out once the heartbeat, every second, has not
    come for 3.5 s (run_view.py), whatever is in flight; here nothing is."""
    scenario.start_standin()
    worker = scenario.start_worker()
    scenario.start_app()
    page = open_page(browser, scenario.url)
    wait_light(page, "worker", "Worker: polling")
    wait_heartbeat(scenario, worker)
    worker.kill()
    took = seconds_until_light(page, "worker", "Worker: none polling", 20)
    print(f"[light] {took:.2f} s")
    # 3.5 s after the last heartbeat, which came up to 1 s before the kill: not at once, not late
    assert 2.4 <= took < 6, f"the light went out {took:.1f} s after kill -9"
    detail = light_detail(page, "worker")
    assert re.fullmatch(rf"\({re.escape(identity(worker))}: no heartbeat for \d+ s\)", detail)
    assert page.errors == []
    page.close()


# Each change on the page, as it happens: the greeting shown, the worker light, the status line.
RECORD = """() => {
  window.moments = [];
  const note = () => window.moments.push({
    greeting: !document.getElementById('result').hidden,
    worker: document.getElementById('light-worker').dataset.on,
    workerText: document.querySelector('#light-worker .light-text').textContent,
    status: document.getElementById('status').hidden ? '' :
      document.getElementById('status-line').textContent,
  });
  new MutationObserver(note).observe(document.body,
    {subtree: true, childList: true, attributes: true, characterData: true});
  note();
}"""


def test_the_lights_never_contradict_the_greeting_or_the_status_line(browser, scenario):
    """Demo 3 with kill -9: red while no worker takes the task; green with the greeting."""
    driver = page_driver(browser, scenario, DEMOS["demo-3"])
    page = driver.page

    def no_worker(run, _):
        said = "document.getElementById('status-line').textContent.includes('no worker')"
        page.wait_for_function(said, timeout=15000)

    def done(run, _):
        page.wait_for_timeout(2500)  # and a while after it
        moments = page.evaluate("window.moments")
        for moment in moments:
            assert not (moment["greeting"] and moment["worker"] != "true"), moments
            no_worker = "no worker is picking up work" in moment["status"]
            assert not (no_worker and moment["worker"] == "true"), moments
        assert any(m["worker"] == "false" and "no worker" in m["status"] for m in moments)

    record = lambda run, _: page.evaluate(RECORD)  # noqa: E731 (from the timer on)
    hooks = {At.TIMER_WAITING: record, At.NO_WORKER: no_worker, At.GREETING: done}
    play(DEMOS["demo-3"], driver, "kill", hooks)
    assert page.errors == []
    page.close()


def test_two_workers_take_turns_without_a_false_restart_then_one_takes_over(scenario):
    scenario.start_standin()
    first = scenario.start_worker(name="worker-1")
    second = scenario.start_worker(name="worker-2")
    scenario.start_app()
    runs = [scenario.post(f"Pair {i}", 0) for i in range(4)]
    done = [scenario.wait_done(run) for run in runs]
    workers = {row.get("worker") for d in done for row in d["timeline"]} - {None}
    assert workers == {identity(first), identity(second)}, "both took work"
    notes = [row["note"] for d in done for row in d["timeline"] if "note" in row]
    assert notes == [], "two workers taking turns: nobody restarted"

    run = scenario.post("Alan", 4)
    scenario.wait_for_event(run, "TIMER_STARTED")
    code, status = scenario.status(run)
    by = status["timeline"][0]["worker"]
    stopped, survivor = (first, second) if by == identity(first) else (second, first)
    stopped.assert_clean_exit(stopped.interrupt())  # Ctrl-C the one that ran get_ip
    done = scenario.wait_done(run)
    get_ip = done["timeline"][0]
    assert get_ip["note"] == "Taken from the history by another worker: not run again"
    assert done["timeline"][2]["worker"] == identity(survivor)


def test_a_late_timer_says_when_it_fired_and_when_it_was_due(restartable):
    stage, server = restartable, restartable.server
    stage.start_all()
    run = stage.post("Margaret", 3)
    stage.wait_for_event(run, "TIMER_STARTED")
    server.stop()
    time.sleep(6)  # the timer is due while the service is down
    server.restart()
    done = stage.wait_done(run, timeout=40)
    timer = done["timeline"][1]
    assert timer["step"] == "timer" and timer["fired_after_seconds"] >= 6, timer
    late = re.fullmatch(r"Fired after (\d+) s \(it was due at 3 s\)", timer["text"])
    assert late and int(late[1]) == round(timer["fired_after_seconds"]), timer


def test_a_paused_service_is_unreachable_on_the_page_not_a_slow_timer(browser, restartable):
    stage, server = restartable, restartable.server
    paused = False
    try:
        stage.start_all()
        page = open_page(browser, stage.url)
        start_run(page, "Grace", 3)
        wait_rows(page, [["get_ip", "done"], ["durable timer", "waiting"]])
        server.proc.popen.send_signal(signal.SIGSTOP)  # kill -STOP: no answer, no refusal
        paused, started = True, time.monotonic()
        page.wait_for_function(
            "document.getElementById('status-line').textContent === 'Temporal is unreachable'",
            timeout=10000,
        )
        took = time.monotonic() - started
        assert took < 4, f"the page said 'unreachable' {took:.1f} s after the pause"
        detail = "The run is safe in Temporal's database. The page keeps trying."
        assert page.inner_text("#status-detail") == detail
        wait_light(page, "temporal", "Temporal: unreachable", 5)
        server.proc.popen.send_signal(signal.SIGCONT)
        paused = False
        page.locator("#result").wait_for(state="visible", timeout=30000)
        wait_light(page, "temporal", "Temporal: reachable")
        assert page.errors == []
        page.close()
    finally:
        if paused:
            server.proc.popen.send_signal(signal.SIGCONT)


def test_an_error_from_while_temporal_was_down_goes_once_it_is_back(browser, tmp_path):
    server = DevServer(tmp_path, namespaces=("down-then-up",))  # not started yet
    stage = HelloStage(server, "down-then-up")
    try:
        stage.start_app()
        page = open_page(browser, stage.url)
        page.fill("#name", "Ada")
        page.click("text=Get Greeting")
        page.locator("#error").wait_for(state="visible", timeout=15000)
        assert page.inner_text("#error").startswith("Temporal is unreachable: ")
        assert light(page, "temporal") == "Temporal: unreachable"

        server.start()
        wait_light(page, "temporal", "Temporal: reachable", 20)
        page.locator("#error").wait_for(state="hidden", timeout=2000)
        assert page.errors == []
        page.close()
    finally:
        stage.stop()
        server.stop()


def test_one_countdown_the_status_line_and_the_timeline_agree(browser, hello):
    page = open_page(browser, hello.url)
    start_run(page, "Ada", 4)
    wait_rows(page, [["get_ip", "done"], ["durable timer", "waiting"]])
    pairs = []
    while page.locator("#result").is_hidden() and len(pairs) < 400:
        pairs.append(
            page.evaluate(
                """() => [document.getElementById('status-line').textContent,
                  (document.querySelector('#timeline .countdown') || {}).textContent || '']"""
            )
        )
        page.wait_for_timeout(20)
    counted = []
    for status, timeline in pairs:
        left = re.fullmatch(r"Sleeping on a durable timer: (\d+) s left", status)
        fires = re.match(r"Fires in (\d+) s", timeline)
        if left or fires:
            assert left and fires and left[1] == fires[1], (status, timeline)
            counted.append(int(left[1]))
    assert {4, 3, 2, 1} <= set(counted) | {4}, counted
    assert page.errors == []
    page.close()


def test_the_app_connects_to_temporal_when_it_starts_not_at_the_first_request(temporal_server):
    stage = HelloStage(temporal_server)
    try:
        app = stage.start_app()  # and no request at all

        def connected() -> bool:
            port = temporal_server.port
            links = psutil.Process(app.popen.pid).net_connections(kind="tcp")
            return any(
                c.raddr and c.raddr.port == port and c.status == "ESTABLISHED" for c in links
            )

        wait_for(connected, 10, 0.1, "the app's connection to Temporal")
    finally:
        stage.stop()
