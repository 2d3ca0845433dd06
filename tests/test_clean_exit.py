"""Ctrl-C on a busy worker ends it cleanly, every time (sdk-python issue #300)."""

import asyncio
import uuid

from temporalio.client import Client

from demo_support.harness import COUNTER_DIR, TEST_NAMESPACE, python_script, terminate

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
