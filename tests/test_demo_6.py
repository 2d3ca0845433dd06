"""Demo 6 end to end (DEMOS["demo-6"], played as the README's guide does it): a change to
the workflow code breaks replay, the replay tests say so, and `workflow.patched` fixes it.

The recovery time (the fixed worker's start to the greeting) is printed with -s.
"""

import base64
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import readme_script as guide
from maintainers.harness import (
    COUNTER_DIR,
    REPO,
    activity_counts,
    event_types,
    readme_edit,
    wait_for,
)
from maintainers.scenarios import DEMOS, At, StageDriver, play

PATCH_ID = "locate-before-wait"


def repo_copy(root: Path) -> None:
    """What the README's replay command needs besides hello-ip (StageDriver copies it): the
    tests and their histories, pyproject.toml (pytest's settings) and the counter."""
    ignore = shutil.ignore_patterns("__pycache__", ".pytest_cache")
    shutil.copytree(REPO / "tests", root / "tests", ignore=ignore)
    shutil.copytree(COUNTER_DIR / "durable", root / COUNTER_DIR.name / "durable", ignore=ignore)
    shutil.copy(REPO / "pyproject.toml", root)


def replay_tests(hello: Path) -> tuple[int, str, float]:
    """The README's replay command, typed in hello-ip: (exit status, output, seconds)."""
    (line,) = guide.typed("replay-tests").lines
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, *line.split()[1:]], cwd=hello, capture_output=True, text=True
    )
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started


def payload_texts(event: dict) -> str:
    """Every payload of an event, decoded, as one string."""
    found = []

    def walk(value):
        if isinstance(value, dict):
            if "data" in value and "metadata" in value:
                found.append(base64.b64decode(value["data"]).decode(errors="replace"))
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(event)
    return " ".join(found)


def test_the_readme_names_demo_6s_line_truly():
    """The README's edits go after the line that ends the get_ip call; the fix adds one line."""
    path, after, change = readme_edit("demo-6-change")
    lines = (REPO / path).read_text().splitlines()
    assert lines[after - 1].strip() == ")" and "get_ip" in "".join(lines[after - 6 : after])
    assert "get_location_info" in change
    _, fix_after, fix = readme_edit("demo-6-fix")
    assert fix_after == after and f'workflow.patched("{PATCH_ID}")' in fix
    assert len(fix.splitlines()) - len(change.splitlines()) == 1  # one line: the if


def test_demo_6_a_change_that_breaks_replay_fixed_with_workflow_patched(scenario, tmp_path):
    s = DEMOS["demo-6"]
    repo_copy(tmp_path)
    driver = StageDriver(scenario, s, tmp_path)
    hello = driver.folder

    def mismatch(run, status):  # the new code asks for an activity where the history has the timer
        assert status["status"] == "RUNNING" and status["result"] is None  # stuck, not failed
        progress = status["progress"]
        said = [progress["message"], *[d for d in progress["details"] if isinstance(d, str)]]
        assert said[:3] == guide.page_text("demo-6-mismatch"), said
        (row,) = [r for r in status["timeline"] if r["step"] == "replay"]
        assert row["state"] == "mismatch" and "[TMPRL1100]" in row["text"]
        failed = [e for e in scenario.history(run) if e["eventType"].endswith("TASK_FAILED")]
        attrs = failed[0]["workflowTaskFailedEventAttributes"]
        assert attrs["cause"].endswith("NON_DETERMINISTIC_ERROR")
        assert attrs["failure"]["message"].startswith("[TMPRL1100] Nondeterminism error")
        worker = driver.procs["worker"]
        wait_for(lambda: "Workflow task failed" in worker.stderr, 10, what="the worker's line")
        guide.assert_matches_readme("worker-mismatch", worker.stderr.splitlines())

    def replay_fails(run, _):  # that worker stopped (cleanly), the run waits, safe
        code, output, took = replay_tests(hello)
        print(f"\n[replay tests] failing: {took:.2f} s")
        assert code == 1, output
        # Each history's own line (pytest's short summary, as wide as the terminal, may repeat it).
        mine = re.compile(r"^[\w-]+\.json: today's code does not replay it: ")
        mismatches = [line for line in output.splitlines() if mine.match(line)]
        # hello-ip's; the counter's pass
        assert [line.split(".json:")[0] for line in mismatches] == [
            "hello-ip-activity-retried", "hello-ip-sleep-0", "hello-ip-sleep-3",
            "hello-ip-worker-restarted",
        ]  # fmt: skip
        sample = [line for line in mismatches if line.startswith("hello-ip-sleep-3.json:")]
        guide.assert_matches_readme("replay-tests-failing", sample)  # the README's example
        assert "Traceback" not in output
        assert took < 20

    def fixed(run, _):  # the patch: the replay tests pass; the fixed worker is about to start
        code, output, took = replay_tests(hello)
        print(f"\n[replay tests] passing: {took:.2f} s")
        assert code == 0, output
        # The page says when Temporal gives the task out again, or that no worker polls for it.
        waiting = scenario.status(run)[1]["progress"]
        assert waiting["step"] == "workflow_task_failed" and len(waiting["details"]) == 3, waiting
        retry = waiting["details"][2]
        retry = retry if isinstance(retry, str) else retry["text"]
        assert "gives the task out again" in retry or "no worker is polling" in retry, retry
        # A presenter takes longer than these tests: by the time the fixed worker starts, the
        # attempt the stopped worker dropped has timed out, and the next one waits for a worker.
        waits = "no worker is polling"
        scenario.wait_progress(run, lambda p: waits in " ".join(map(str, p["details"])), 15)

    def old_path(run, done):  # play(): each activity once, the only failure demo 6's task
        events = scenario.history(run)
        types = event_types(events)
        assert types.index("ACTIVITY_TASK_SCHEDULED", types.index("TIMER_FIRED"))  # only after it
        assert "MARKER_RECORDED" not in types  # the old path: no patch marker
        assert [guide.ui_event_name(e) for e in events] == guide.history("demo-6-stuck")
        assert next(r for r in done["timeline"] if r["step"] == "replay")["state"] == "replayed"
        # A new run takes the new path, and its history records the patch's marker (before
        # play() puts the committed file back: the sandbox reads workflow.py for each run).
        new_id = scenario.post("Ada", 2)
        done = scenario.wait_done(new_id, timeout=30)
        assert done["status"] == "COMPLETED", done
        events = scenario.history(new_id)
        assert activity_counts(events) == {"get_ip": 1, "get_location_info": 2}
        markers = [e for e in events if e["eventType"].endswith("MARKER_RECORDED")]
        assert len(markers) == 1 and PATCH_ID in payload_texts(markers[0])
        assert [guide.ui_event_name(e) for e in events] == guide.history("demo-6-new")

    hooks = {At.MISMATCH: mismatch, At.DOWN: replay_fails, At.FIXED: fixed, At.GREETING: old_path}
    done = play(s, driver, hooks=hooks)
    print(f"\n[recovery] demo 6, the patched fix's worker started: {done.recovery:.2f} s")
    assert done.recovery < 4  # README: within a second (0.6 s here; slower on two busy cores)
