"""`make histories`: re-record tests/histories/ from real runs, after an intended, versioned
change to a workflow (the README's "Replay testing"); never edit the files by hand.

Against a fresh dev server, with the real worker scripts: the durable counter's, and the
README's demos as maintainers/scenarios.py plays them; each history saved exactly as
`temporal workflow show --output json` prints it.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from maintainers import harness
from maintainers.harness import COUNTER_DIR, TEST_NAMESPACE, DevServer, HelloStage, python_script
from maintainers.scenarios import DEMOS, At, StageDriver, play

OUT = harness.REPO / "tests" / "histories"
HELLO = {  # each history file, from the run of a demo's scenario (tests/test_replay.py)
    "hello-ip-sleep-0": "demo-1",
    "hello-ip-sleep-3": "demo-2",
    "hello-ip-worker-restarted": "demo-3",  # Ctrl-C the worker while the timer waits
    "hello-ip-activity-retried": "bonus",  # the stand-in stops: get_location_info retries
}


def save(out: Path, server: DevServer, run: str, name: str, namespace=TEST_NAMESPACE) -> None:
    (out / f"{name}.json").write_text(harness.history_json(server, run, namespace))
    print(f"  wrote {out / name}.json")


def counter(out: Path, server: DevServer, interrupt_at: int | None, name: str) -> None:
    env, durable = server.env(), COUNTER_DIR / "durable"
    worker = python_script(durable / "worker.py", env=env)
    worker.wait_for_line("^Starting the worker")
    python_script(durable / "starter.py", env=env).wait(15)
    if interrupt_at:
        worker.wait_for_line(rf"^{interrupt_at}$", timeout=20)
        worker.interrupt()
        worker = python_script(durable / "worker.py", env=env)
    worker.wait_for_line(r"^Counted to 10\.$", timeout=30)
    worker.interrupt()
    save(out, server, "durable-counter", name)


def hello(out: Path, server: DevServer, namespace: str, name: str) -> None:
    """The demo's scenario through the JSON API; its history saved at the greeting."""
    s, stage = DEMOS[HELLO[name]], HelloStage(server, namespace)
    try:
        saved = lambda run, _: save(out, server, run, name, namespace)  # noqa: E731
        play(s, StageDriver(stage, s), hooks={At.GREETING: saved})
    finally:
        stage.stop()


def main(argv: list[str] | None = None) -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--out", type=Path, default=OUT, help="where (default: tests/histories)")
    out = parser.parse_args(argv).out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        harness.OUTPUT_ROOT = Path(tmp)  # the processes' output goes with it
        print("Starting a dev server for the recordings...")
        server = DevServer(Path(tmp)).start()
        try:
            counter(out, server, None, "counter")
            counter(out, server, 4, "counter-worker-restarted")
            for i, name in enumerate(HELLO):
                hello(out, server, f"scenario-{i}", name)
        finally:
            server.stop()
    print("Done. Run `make test` (tests/test_replay.py replays them) and commit the files.")


if __name__ == "__main__":
    main()
