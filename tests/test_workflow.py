"""The test an attendee would write first: the workflow in this process, its activities mocked.

The SDK's WorkflowEnvironment starts a dev server from the installed `temporal` CLI
(`dev_server_existing_path`: nothing to download), a Worker runs in the test, and two
stand-in activities with the real ones' names answer without any network.
"""

import asyncio
import uuid

from temporalio import activity
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from maintainers.harness import TEMPORAL
from workflow import TASK_QUEUE, GreetingInput, GreetingResult, GreetingWorkflow

located: list[str] = []


@activity.defn(name="get_ip")
async def get_ip() -> str:
    return "198.51.100.7"


@activity.defn(name="get_location_info")
async def get_location_info(ip: str) -> str:
    located.append(ip)
    return "Lisbon, Lisbon, Portugal"


@activity.defn(name="get_location_info")
async def get_location_info_fails(ip: str) -> str:
    raise ApplicationError(f"No location for {ip}: private range", non_retryable=True)


async def run_greeting(greeting: GreetingInput, activities) -> GreetingResult:
    env = await WorkflowEnvironment.start_local(dev_server_existing_path=str(TEMPORAL))
    async with env:
        worker = Worker(
            env.client, task_queue=TASK_QUEUE, workflows=[GreetingWorkflow], activities=activities
        )
        async with worker:
            return await env.client.execute_workflow(
                GreetingWorkflow.run, greeting, id=f"test-{uuid.uuid4()}", task_queue=TASK_QUEUE
            )


def test_the_first_activitys_output_is_the_second_ones_input():
    located.clear()
    result = asyncio.run(run_greeting(GreetingInput("Ada", 1), [get_ip, get_location_info]))
    assert result == GreetingResult(ip="198.51.100.7", location="Lisbon, Lisbon, Portugal")
    assert located == ["198.51.100.7"]


def test_a_final_failure_fails_the_run_with_the_services_message():
    try:
        asyncio.run(run_greeting(GreetingInput("Ada"), [get_ip, get_location_info_fails]))
    except WorkflowFailureError as err:
        assert "private range" in str(err.cause.cause)
    else:
        raise AssertionError("the run should have failed")
