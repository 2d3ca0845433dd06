"""Start a count and return at once: the worker does the counting."""

from temporalio.exceptions import WorkflowAlreadyStartedError

from counter import TASK_QUEUE, Counter
from demo_support import connect, run

WORKFLOW_ID = "durable-counter"  # one count at a time, found again by its id


async def main() -> int:
    client = await connect()
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
    run(main)
