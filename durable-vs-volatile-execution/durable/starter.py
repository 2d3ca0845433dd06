"""Start a count and return at once: the worker does the counting."""

import asyncio
import sys

from temporalio.client import Client
from temporalio.envconfig import ClientConfig
from temporalio.exceptions import WorkflowAlreadyStartedError

import demo_support
from counter import TASK_QUEUE, Counter

WORKFLOW_ID = "durable-counter"  # one count at a time, found again by its id


async def main() -> int:
    # TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, temporal.toml...; else the local dev server.
    config = ClientConfig.load_client_connect_config()
    config.setdefault("target_host", "localhost:7233")
    client = await Client.connect(**config)
    try:
        await client.start_workflow(Counter.count, 10, id=WORKFLOW_ID, task_queue=TASK_QUEUE)
    except WorkflowAlreadyStartedError:
        print(
            f"A count is already running (workflow id {WORKFLOW_ID}): "
            "start (or restart) worker.py and it resumes where it stopped."
        )
        return 1
    print(f"Started the count (workflow id {WORKFLOW_ID}). Watch the worker's terminal.")
    return 0


if __name__ == "__main__":
    with demo_support.clean_exit():  # no Temporal: one line, not a traceback
        sys.exit(asyncio.run(main()))
