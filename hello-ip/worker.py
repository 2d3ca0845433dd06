"""The worker: it polls the task queue and runs the workflow and its activities."""

import asyncio

import aiohttp
from temporalio.client import Client
from temporalio.envconfig import ClientConfig
from temporalio.worker import Worker

import demo_support
from activities import IpActivities
from workflow import TASK_QUEUE, GreetingWorkflow


async def main() -> None:
    # TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, temporal.toml...; else the local dev server.
    # #region connect
    config = ClientConfig.load_client_connect_config()
    config.setdefault("target_host", "localhost:7233")
    await demo_support.wait_for_temporal(config)  # started before the server? One line, waits
    client = await Client.connect(**config)
    # #endregion connect
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
        # worker.run() is the SDK's; the loop is the talk's: Ctrl-C stops it cleanly, and
        # after a Temporal outage a fresh copy polls at once (the SDK alone waits up to 10 s).
        async for worker in demo_support.until_ctrl_c(worker):
            await worker.run()
        # #endregion worker


if __name__ == "__main__":
    # Ctrl-C or no Temporal: one line, never a traceback; then os._exit, past
    # temporalio's crash at interpreter exit (sdk-python #300).
    with demo_support.clean_exit():
        asyncio.run(main())
