"""Run the counter: poll the task queue, execute the workflow and its activity."""

import asyncio

from temporalio.client import Client
from temporalio.envconfig import ClientConfig
from temporalio.worker import Worker

import demo_support
from counter import TASK_QUEUE, Counter, add_one


async def main() -> None:
    # TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, temporal.toml...; else the local dev server.
    config = ClientConfig.load_client_connect_config()
    config.setdefault("target_host", "localhost:7233")
    await demo_support.wait_for_temporal(config)  # started before the server? One line, waits
    client = await Client.connect(**config)
    demo_support.show_workflow_log()  # workflow.logger's numbers, bare, on stdout
    worker = Worker(
        client,
        task_queue=TASK_QUEUE,
        workflows=[Counter],
        activities=[add_one],
        max_cached_workflows=0,  # no sticky queue left behind: see hello-ip/worker.py
    )
    print(f"Starting the worker ({client.identity})", flush=True)
    # The SDK's call is worker.run(); the loop around it is the talk's: see hello-ip/worker.py.
    async for worker in demo_support.until_ctrl_c(worker):
        await worker.run()


if __name__ == "__main__":
    with demo_support.clean_exit():  # see hello-ip/worker.py
        asyncio.run(main())
