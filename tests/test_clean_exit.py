"""Ctrl-C on a busy worker ends it cleanly, every time (sdk-python issue #300)."""

import asyncio
import os
import signal
import subprocess
import sys
import uuid

import pytest
from temporalio.client import Client

from maintainers.harness import (
    COUNTER_DIR,
    HELLO_DIR,
    TEST_NAMESPACE,
    free_port,
    python_script,
    terminate,
)

WORKER = COUNTER_DIR / "durable" / "worker.py"
INTERRUPTS = 10


async def start_long_count(address: str, workflow_id: str) -> None:
    client = await Client.connect(address, namespace=TEST_NAMESPACE)
    await client.start_workflow("Counter", 1_000_000, id=workflow_id, task_queue="durable-counter")


def test_ctrl_c_on_a_busy_worker_never_crashes(temporal_server):
    workflow_id = f"busy-count-{uuid.uuid4()}"
    asyncio.run(start_long_count(temporal_server.address, workflow_id))
    unclean = []
    try:
        for attempt in range(INTERRUPTS):
            worker = python_script(WORKER, env=temporal_server.env())
            worker.wait_for_line(r"^Starting the worker")
            # Busy: it has just run an activity and a workflow task, and a timer is pending.
            worker.wait_for_line(r"^\d+$", timeout=20)
            code = worker.interrupt()
            try:
                worker.assert_clean_exit(code)
            except AssertionError as err:
                unclean.append(f"attempt {attempt}: {err}")
    finally:
        terminate(temporal_server, workflow_id)
    assert unclean == [], f"{len(unclean)} of {INTERRUPTS} exits were unclean"


WINDOWS_LOOPS = (
    "import asyncio\n"
    "def add_signal_handler(self, *args):\n"
    "    raise NotImplementedError  # as on Windows\n"
    "asyncio.BaseEventLoop.add_signal_handler = add_signal_handler\n"
    "asyncio.unix_events._UnixSelectorEventLoop.add_signal_handler = add_signal_handler\n"
)


def test_ctrl_c_stops_the_worker_where_the_loop_has_no_signal_handlers(tmp_path, temporal_server):
    """Windows: asyncio's loops there raise NotImplementedError for add_signal_handler.

    The real counter worker runs with that made true here (a sitecustomize that patches the
    loop class, as Windows' loops behave), is Ctrl-C'd mid-count twice and restarted: the
    same shutdown lines and exit status, and no number lost or repeated.
    """
    (tmp_path / "sitecustomize.py").write_text(WINDOWS_LOOPS)
    env = {**temporal_server.env(), "PYTHONPATH": str(tmp_path)}
    probe = subprocess.run(  # the patch holds: the loop has no signal handlers
        [sys.executable, "-c", "import asyncio, signal\n"
         "async def main(): asyncio.get_running_loop().add_signal_handler(signal.SIGINT, print)\n"
         "asyncio.run(main())"],
        env={**os.environ, **env}, capture_output=True, text=True,
    )  # fmt: skip
    assert "NotImplementedError" in probe.stderr, probe.stderr
    terminate(temporal_server, "durable-counter")
    worker = python_script(COUNTER_DIR / "durable" / "worker.py", env=env)
    worker.wait_for_line(r"^Starting the worker")
    python_script(COUNTER_DIR / "durable" / "starter.py", env=env).wait(15)
    counted: list[int] = []
    for stop_at in (3, 6, None):
        if stop_at is None:
            worker.wait_for_line(r"^Counted to 10\.$", timeout=30)
        else:
            worker.wait_for_line(rf"^{stop_at}$", timeout=30)
        code = worker.interrupt()
        worker.assert_clean_exit(code)
        assert code == 0 and worker.lines()[-2:] == ["Stopping the worker...", "Worker stopped."]
        counted += [int(line) for line in worker.lines() if line.isdigit()]
        if stop_at is not None:
            worker = python_script(COUNTER_DIR / "durable" / "worker.py", env=env)
    assert counted == list(range(1, 11)), "no number lost or repeated"


# make demo's Ctrl-C to a piece on Windows is a CTRL_BREAK_EVENT, which Python raises as
# SIGBREAK (demo_support.interrupt). Linux has no SIGBREAK: here a sitecustomize names
# SIGUSR1 signal.SIGBREAK, and the loops have no signal handlers, as on Windows; the pieces'
# own code then takes the path it takes there. Windows' delivery itself is not simulated.
PIECES = {  # script, its arguments, the line that says it runs, its last line
    "worker": ("worker.py", (), r"^Starting the worker", "Worker stopped."),
    "app": ("app.py", ("--port",), r"^The app is at ", "App stopped."),
    "standin": (
        "standin.py",
        ("--port",),
        r"^Stand-in services on ",
        "Stand-in services stopped: the network is down.",
    ),
}


@pytest.mark.parametrize("name", PIECES)
def test_each_hello_ip_piece_stops_cleanly_on_sigbreak_simulated_by_sigusr1(
    tmp_path, temporal_server, name
):
    (tmp_path / "sitecustomize.py").write_text(
        WINDOWS_LOOPS + "import signal\nsignal.SIGBREAK = signal.SIGUSR1  # stands in\n"
    )
    script, args, running, last = PIECES[name]
    args = [arg for flag in args for arg in (flag, free_port())]
    env = {**temporal_server.env(), "PYTHONPATH": str(tmp_path)}
    piece = python_script(HELLO_DIR / script, *args, env=env)
    piece.wait_for_line(running, timeout=30)
    piece.popen.send_signal(signal.SIGUSR1)  # as SIGBREAK
    code = piece.wait(20)
    piece.assert_clean_exit(code)
    assert code == 0 and piece.lines()[-1] == last, piece.stdout + piece.stderr
