"""The worker: it polls the task queue and runs the workflow and its activities."""

import aiohttp
from temporalio.worker import Worker

from activities import IpActivities
from demo_support import connect, run, run_worker
from workflow import TASK_QUEUE, GreetingWorkflow


async def main() -> int:
    client = await connect(wait=True)
    # Worker-scoped state: one HTTP session, shared by every activity call.
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=8)) as session:
        activities = IpActivities(session)
        # #region worker
        worker = Worker(
            client,
            task_queue=TASK_QUEUE,
            workflows=[GreetingWorkflow],
            activities=[activities.get_ip, activities.get_location_info],
            # No workflow cache: each workflow task replays the (short) history.
            # In exchange a stopped worker leaves no sticky queue behind, so the
            # next worker takes over at once, with no task timeout in the history.
            max_cached_workflows=0,
        )
        print(f"Starting the worker ({client.identity})", flush=True)
        return await run_worker(worker)  # until Ctrl-C
        # #endregion worker


if __name__ == "__main__":
    run(main)
