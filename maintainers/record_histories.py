"""`make histories`: re-record tests/histories/ from real runs.

Runs each scenario against a fresh dev server (free ports, temp dir), with the
real worker scripts, then saves each run's event history exactly as
`temporal workflow show --output json` prints it. Use it after an intended,
versioned change to a workflow (see the README's "Replay testing"); never edit
the files by hand.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from maintainers import harness
from maintainers.harness import COUNTER_DIR, TEST_NAMESPACE, HelloStage, Server, python_script

OUT = harness.REPO / "tests" / "histories"


def save(server: Server, workflow_id: str, name: str, namespace: str = TEST_NAMESPACE) -> None:
    (OUT / f"{name}.json").write_text(harness.history_json(server, workflow_id, namespace))
    print(f"  wrote tests/histories/{name}.json")


def counter(server: Server, interrupt_at: int | None, name: str) -> None:
    env = server.env()
    durable = COUNTER_DIR / "durable"
    worker = python_script(durable / "worker.py", env=env)
    worker.wait_for_line("^Starting the worker")
    python_script(durable / "starter.py", env=env).wait(15)
    if interrupt_at:
        worker.wait_for_line(rf"^{interrupt_at}$", timeout=20)
        worker.interrupt()
        worker = python_script(durable / "worker.py", env=env)
    worker.wait_for_line(r"^Counted to 10\.$", timeout=30)
    worker.interrupt()
    save(server, "durable-counter", name)


def hello(server: Server, namespace: str, name: str, sleep: int, breaks: str | None) -> None:
    stage = HelloStage(server, namespace)
    try:
        standin = stage.start_standin()
        worker = stage.start_worker()
        stage.start_app()
        workflow_id = stage.post("Ada", sleep)
        if breaks:
            stage.wait_for_event(workflow_id, "TIMER_STARTED")
        if breaks == "worker":  # demo 3: Ctrl-C the worker while the timer waits
            worker.interrupt()
            stage.wait_for_event(workflow_id, "TIMER_FIRED")
            stage.start_worker()
        if breaks == "network":  # the bonus: the stand-in stops, get_location_info retries
            standin.interrupt()
            stage.wait_progress(workflow_id, lambda p: p.get("attempt", 0) >= 3, timeout=20)
            stage.start_standin()
        done = stage.wait_done(workflow_id, timeout=30)
        assert done["status"] == "COMPLETED", done
        save(server, workflow_id, name, namespace)
    finally:
        stage.stop()


def main(argv: list[str] | None = None) -> None:
    formatter = argparse.RawDescriptionHelpFormatter  # it has no options: its help is its doc
    argparse.ArgumentParser(description=__doc__, formatter_class=formatter).parse_args(argv)
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        harness.OUTPUT_ROOT = Path(tmp)  # the processes' output goes with it
        print("Starting a dev server for the recordings...")
        server = harness.LocalServer().start()
        try:
            counter(server, None, "counter")
            counter(server, 4, "counter-worker-restarted")
            hello(server, "scenario-0", "hello-ip-sleep-0", 0, None)
            hello(server, "scenario-1", "hello-ip-sleep-3", 3, None)
            hello(server, "scenario-2", "hello-ip-worker-restarted", 3, "worker")
            hello(server, "scenario-3", "hello-ip-activity-retried", 2, "network")
        finally:
            server.stop()
    print("Done. Run `make test` (tests/test_replay.py replays them) and commit the files.")


if __name__ == "__main__":
    main()
