"""The distributed Hello World: get the caller's IP, wait, then geolocate it."""

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

# Activities do the I/O, outside the workflow sandbox: import them through it.
with workflow.unsafe.imports_passed_through():
    from activities import IpActivities

TASK_QUEUE = "hello-ip"


@dataclass
class GreetingInput:
    name: str
    sleep_seconds: int = 0


@dataclass
class GreetingResult:
    ip: str
    location: str  # "City, Region, Country"


# Retry until it works, but never wait more than 5 s between attempts. The
# default policy (the Temporal Service's) backs off to 100 s: after a fix (or the
# network coming back) a live audience would wait in silence. Capped, the greeting
# shows within 10 s.
# #region retry-policy
RETRY_POLICY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=5),
    maximum_attempts=0,  # 0 means no limit
)
# #endregion retry-policy


# #region workflow
@workflow.defn
class GreetingWorkflow:
    @workflow.run
    async def run(self, greeting: GreetingInput) -> GreetingResult:
        ip = await workflow.execute_activity_method(
            IpActivities.get_ip,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RETRY_POLICY,
            summary="get_ip",  # the step's name in the Web UI, as on the page
        )
        # #endregion workflow

        # #region chain
        if greeting.sleep_seconds > 0:
            # A durable timer: it lives in the Temporal Service and fires
            # whether or not a worker is running right now.
            await workflow.sleep(greeting.sleep_seconds, summary="durable timer")

        location = await workflow.execute_activity_method(
            IpActivities.get_location_info,
            ip,  # the first activity's output is the second one's input
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RETRY_POLICY,
            summary="get_location_info",
        )
        return GreetingResult(ip=ip, location=location)
        # #endregion chain
