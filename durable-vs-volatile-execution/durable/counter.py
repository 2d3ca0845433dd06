"""Count from 1 to 10, one number a second: the same loop as a Temporal workflow.

Compare it with ../volatile/counter.py: the loop is the same; the addition
became an activity, the sleep a durable timer, print() the workflow logger.
"""

import asyncio
from datetime import timedelta

from temporalio import activity, workflow

TASK_QUEUE = "durable-counter"


@activity.defn
async def add_one(number: int) -> int:
    return number + 1


# #region loop
@workflow.defn
class Counter:
    @workflow.run
    async def count(self, limit: int = 10) -> int:
        number = 0
        while number < limit:
            number = await workflow.execute_activity(
                add_one, number, start_to_close_timeout=timedelta(seconds=5)
            )
            # The logger stays quiet while a restarted worker replays the
            # history, so no number is printed twice.
            workflow.logger.info(number)
            await asyncio.sleep(1)  # a durable timer, kept by the Temporal Service
        workflow.logger.info(f"Counted to {number}.")
        return number


# #endregion loop
