"""Demo 6 end to end: a change to the workflow code breaks replay, the replay tests say so,
and `workflow.patched` fixes it, as the README's guide does it.

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
    HELLO_DIR,
    REPO,
    activity_counts,
    event_types,
    expected_greeting,
    make_readme_edit,
    readme_edit,
)

PATCH_ID = "locate-before-wait"


def report(label: str, seconds: float) -> None:
    print(f"\n[recovery] {label}: {seconds:.2f} s")


def repo_copy(root: Path) -> Path:
    """What the README's replay command needs, copied: hello-ip (to edit), the tests and their
    histories, pyproject.toml (pytest's settings) and the counter. Returns the hello-ip copy."""
    ignore = shutil.ignore_patterns("__pycache__", ".pytest_cache")
    shutil.copytree(HELLO_DIR, root / "hello-ip", ignore=ignore)
    shutil.copytree(REPO / "tests", root / "tests", ignore=ignore)
    shutil.copytree(COUNTER_DIR / "durable", root / COUNTER_DIR.name / "durable", ignore=ignore)
    shutil.copy(REPO / "pyproject.toml", root)
    return root / "hello-ip"


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
    hello = repo_copy(tmp_path)
    scenario.start_standin()
    worker = scenario.start_worker(folder=hello)
    scenario.start_app()
    workflow_id = scenario.post("Margaret", 5)
    scenario.wait_for_event(workflow_id, "TIMER_STARTED")

    # While the timer waits: the change, and the worker restarted with it.
    worker.assert_clean_exit(worker.interrupt())
    make_readme_edit(hello, "demo-6-change")
    worker = scenario.start_worker(folder=hello)

    # The timer fires; the new code asks for an activity where the history has the timer.
    status = scenario.wait_progress(
        workflow_id, lambda p: p.get("step") == "workflow_task_failed", timeout=20
    )
    assert status["status"] == "RUNNING" and status["result"] is None  # stuck, not failed
    progress = status["progress"]
    said = [progress["message"], *[d for d in progress["details"] if isinstance(d, str)]]
    assert said[:3] == guide.page_text("demo-6-mismatch"), said
    (row,) = [r for r in status["timeline"] if r["step"] == "replay"]
    assert row["state"] == "mismatch" and "[TMPRL1100]" in row["text"]
    failed = [e for e in scenario.history(workflow_id) if e["eventType"].endswith("TASK_FAILED")]
    attrs = failed[0]["workflowTaskFailedEventAttributes"]
    assert attrs["cause"].endswith("NON_DETERMINISTIC_ERROR")
    assert attrs["failure"]["message"].startswith("[TMPRL1100] Nondeterminism error")
    deadline = time.monotonic() + 10
    while "Workflow task failed" not in worker.stderr and time.monotonic() < deadline:
        time.sleep(0.1)
    guide.assert_matches_readme("worker-mismatch", worker.stderr.splitlines())

    # Stop that worker; the run waits, safe; the replay tests fail, naming each history.
    worker.assert_clean_exit(worker.interrupt())
    code, output, took = replay_tests(hello)
    print(f"\n[replay tests] failing: {took:.2f} s")
    assert code == 1, output
    # Each history's own line (pytest's short summary, as wide as the terminal, may repeat it).
    mine = re.compile(r"^[\w-]+\.json: today's code does not replay it: ")
    mismatches = [line for line in output.splitlines() if mine.match(line)]
    assert [line.split(".json:")[0] for line in mismatches] == [  # hello-ip's; the counter's pass
        "hello-ip-activity-retried", "hello-ip-sleep-0", "hello-ip-sleep-3",
        "hello-ip-worker-restarted",
    ]  # fmt: skip
    sample = [line for line in mismatches if line.startswith("hello-ip-sleep-3.json:")]
    guide.assert_matches_readme("replay-tests-failing", sample)  # the README's example
    assert "Traceback" not in output
    assert took < 20

    # The fix: the replay tests pass; the fixed worker completes the stuck run, on the old path.
    make_readme_edit(hello, "demo-6-fix")
    code, output, took = replay_tests(hello)
    print(f"\n[replay tests] passing: {took:.2f} s")
    assert code == 0, output
    # The page says when Temporal gives the task out again, or that no worker polls for it.
    waiting = scenario.status(workflow_id)[1]["progress"]
    assert waiting["step"] == "workflow_task_failed" and len(waiting["details"]) == 3, waiting
    retry = waiting["details"][2]
    retry = retry if isinstance(retry, str) else retry["text"]
    assert "gives the task out again" in retry or "no worker is polling" in retry, retry
    # A presenter takes longer than these tests: by the time the fixed worker starts, the
    # attempt the stopped worker dropped has timed out, and the next one waits for a worker.
    waits = "no worker is polling"
    scenario.wait_progress(workflow_id, lambda p: waits in " ".join(map(str, p["details"])), 15)
    restarted = time.monotonic()
    scenario.start_worker(folder=hello)
    done = scenario.wait_done(workflow_id, timeout=30)
    recovery = time.monotonic() - restarted
    report("demo 6, the patched fix's worker started", recovery)
    assert done["status"] == "COMPLETED", done
    assert done["result"]["greeting"] == expected_greeting("Margaret")
    assert recovery < 4  # README: within a second (0.6 s here; slower on two busy cores)
    events = scenario.history(workflow_id)
    assert activity_counts(events) == {"get_ip": 1, "get_location_info": 1}
    assert activity_counts(events, "SCHEDULED") == {"get_ip": 1, "get_location_info": 1}
    types = event_types(events)
    assert types.index("ACTIVITY_TASK_SCHEDULED", types.index("TIMER_FIRED"))  # only after it
    assert "MARKER_RECORDED" not in types  # the old path: no patch marker
    assert [guide.ui_event_name(e) for e in events] == guide.history("demo-6-stuck")
    row = next(r for r in done["timeline"] if r["step"] == "replay")
    assert row["state"] == "replayed"

    # A new run takes the new path, and its history records the patch's marker.
    new_id = scenario.post("Ada", 2)
    done = scenario.wait_done(new_id, timeout=30)
    assert done["status"] == "COMPLETED", done
    events = scenario.history(new_id)
    assert activity_counts(events) == {"get_ip": 1, "get_location_info": 2}
    markers = [e for e in events if e["eventType"].endswith("MARKER_RECORDED")]
    assert len(markers) == 1 and PATCH_ID in payload_texts(markers[0])
    assert [guide.ui_event_name(e) for e in events] == guide.history("demo-6-new")
