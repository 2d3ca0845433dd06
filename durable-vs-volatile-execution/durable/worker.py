"""Run the counter: poll the task queue, execute the workflow and its activity."""

from temporalio.worker import Worker

from counter import TASK_QUEUE, Counter, add_one
from demo_support import connect, run, run_worker, show_workflow_log


async def main() -> int:
    client = await connect(wait=True)
    show_workflow_log()
    worker = Worker(
        client,
        task_queue=TASK_QUEUE,
        workflows=[Counter],
        activities=[add_one],
        max_cached_workflows=0,  # no sticky queue left behind: see hello-ip/worker.py
    )
    print(f"Starting the worker ({client.identity})", flush=True)
    return await run_worker(worker)  # until Ctrl-C


if __name__ == "__main__":
    run(main)
