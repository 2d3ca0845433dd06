"""The teaser: the volatile counter starts over, the durable one resumes."""

import time

import pytest

from maintainers.harness import COUNTER_DIR, activity_counts, history, python_script, terminate
from readme_script import assert_matches_readme

VOLATILE = COUNTER_DIR / "volatile" / "counter.py"
DURABLE = COUNTER_DIR / "durable"
WORKER = DURABLE / "worker.py"
STARTER = DURABLE / "starter.py"
WORKFLOW_ID = "durable-counter"  # the id starter.py uses


@pytest.fixture
def counter_env(temporal_server):
    yield temporal_server.env()
    terminate(temporal_server, WORKFLOW_ID)  # leave no count running for the next test


def numbers(proc) -> list[int]:
    return [int(line) for line in proc.lines() if line.strip().isdigit()]


def test_volatile_counter_counts_a_second_apart_and_starts_over():
    first = python_script(VOLATILE)
    first.wait_for_line(r"^1$")
    t1 = time.monotonic()
    first.wait_for_line(r"^4$")
    t4 = time.monotonic()
    assert 2.6 < t4 - t1 < 4.0, "numbers should come one second apart"
    first.assert_clean_exit(first.interrupt())  # Ctrl-C at 4, as the README says
    assert_matches_readme("volatile-interrupted", first.lines())

    again = python_script(VOLATILE)
    again.wait_for_line(r"^2$")
    again.assert_clean_exit(again.interrupt())
    assert numbers(again)[0] == 1, "a volatile script starts over"


def test_volatile_counter_finishes_at_ten():
    proc = python_script(VOLATILE)
    proc.assert_clean_exit(proc.wait(20))
    assert numbers(proc) == list(range(1, 11))
    assert proc.lines()[-1] == "Counted to 10."


def test_durable_counter_resumes_after_ctrl_c(temporal_server, counter_env):
    worker = python_script(WORKER, env=counter_env)
    worker.wait_for_line(r"^Starting the worker \(\S+@\S+\)$")
    assert_matches_readme("worker-start", worker.lines())

    starter = python_script(STARTER, env=counter_env)
    starter.assert_clean_exit(starter.wait(15))
    assert_matches_readme("starter", starter.lines())

    worker.wait_for_line(r"^4$", timeout=20)
    worker.assert_clean_exit(worker.interrupt())  # Ctrl-C at 4
    before = numbers(worker)
    assert before == [1, 2, 3, 4]
    assert_matches_readme("durable-interrupted", worker.lines())

    restarted = python_script(WORKER, env=counter_env)
    restarted.wait_for_line(r"^Counted to 10\.$", timeout=30)
    after = numbers(restarted)
    assert after[0] == before[-1] + 1, "the restarted worker continues with the next number"
    assert before + after == list(range(1, 11)), "no number is printed twice, none is missing"
    assert_matches_readme("durable-resumed", restarted.lines())
    restarted.assert_clean_exit(restarted.interrupt())

    events = history(temporal_server, WORKFLOW_ID)
    assert activity_counts(events) == {"add_one": 10}
    assert activity_counts(events, "SCHEDULED") == {"add_one": 10}
    assert events[-1]["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"


def test_starter_says_when_a_count_is_already_running(temporal_server, counter_env):
    first = python_script(STARTER, env=counter_env)
    first.assert_clean_exit(first.wait(15))
    second = python_script(STARTER, env=counter_env)
    assert second.wait(15) == 1
    assert second.stdout.strip().splitlines() == [
        f"A count is already running (workflow id {WORKFLOW_ID}): "
        "start (or restart) worker.py and it resumes where it stopped."
    ]
    assert_matches_readme("starter-already-running", second.lines())
    assert "Traceback" not in second.stderr


def test_starter_starts_a_new_count_after_a_finished_one(temporal_server, counter_env):
    worker = python_script(WORKER, env=counter_env)
    worker.wait_for_line(r"^Starting the worker")
    for run in range(2):
        starter = python_script(STARTER, env=counter_env)
        starter.assert_clean_exit(starter.wait(15))
        assert "Started the count" in starter.stdout
        worker.wait_for_line(r"^Counted to 10\.$", timeout=30, start=1 + 11 * run)
    worker.assert_clean_exit(worker.interrupt())
    assert numbers(worker) == list(range(1, 11)) * 2


@pytest.mark.parametrize("script", [STARTER, WORKER], ids=["starter", "worker"])
def test_temporal_down_gives_one_clear_line(script):
    env = {"TEMPORAL_ADDRESS": "127.0.0.1:1", "TEMPORAL_NAMESPACE": "default"}
    proc = python_script(script, env=env)
    expected = (
        "Cannot reach Temporal at 127.0.0.1:1 (namespace 'default'): start it with: "
        "temporal server start-dev --ui-port 8080 --db-filename temporal.db"
    )
    if script == STARTER:
        assert proc.wait(15) == 1
        assert proc.stderr.strip() == expected
        assert proc.stdout == ""
    else:  # the worker waits for Temporal; Ctrl-C still ends it cleanly
        proc.wait_for_line("^Cannot reach Temporal")
        assert proc.lines() == [expected + " (waiting for it...)"]
        proc.assert_clean_exit(proc.interrupt())


def test_worker_connects_once_temporal_comes_up():
    from maintainers.harness import LocalServer

    server = LocalServer()  # its ports chosen: the worker waits for it there
    worker = python_script(WORKER, env=server.env())
    worker.wait_for_line("^Cannot reach Temporal")
    server.start()
    try:
        worker.wait_for_line(r"^Starting the worker", timeout=20)
        worker.assert_clean_exit(worker.interrupt())
    finally:
        server.stop()
