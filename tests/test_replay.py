"""Replay tests: today's workflow code against the histories of real, earlier runs.

A workflow is replayed from its history after every crash. If the code would now
take a different path through a saved history, in-flight runs of it would fail
with a NondeterminismError when the new code is deployed. These tests find that
first. The files in histories/ are recorded by `make histories`, never edited.
"""

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

# The demo folders are on pytest's pythonpath (pyproject.toml), as each script's own
# folder is on its path when it runs.
from counter import Counter, add_one
from workflow import RETRY_POLICY, GreetingInput, GreetingResult, GreetingWorkflow

with workflow.unsafe.imports_passed_through():
    from activities import IpActivities

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))
EXPECTED = {
    "counter",
    "counter-worker-restarted",
    "hello-ip-sleep-0",
    "hello-ip-sleep-3",
    "hello-ip-worker-restarted",
    "hello-ip-activity-retried",
}


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


def test_every_recorded_scenario_is_there():
    assert {path.stem for path in HISTORIES} == EXPECTED


# #region replay
@pytest.mark.parametrize("path", HISTORIES, ids=lambda path: path.stem)
def test_todays_code_replays_every_saved_history(path):
    replayer = Replayer(workflows=[Counter, GreetingWorkflow])
    # Raises if today's code would take another path through this history.
    asyncio.run(replayer.replay_workflow(load(path)))


# #endregion replay


# The negative cases: changed workflows that must NOT replay the saved histories.


@workflow.defn(name="GreetingWorkflow", sandboxed=False)
class TimerMovedFirst:
    """The timer moved before get_ip: an innocent-looking reordering."""

    @workflow.run
    async def run(self, greeting: GreetingInput) -> GreetingResult:
        if greeting.sleep_seconds > 0:
            await asyncio.sleep(greeting.sleep_seconds)
        ip = await workflow.execute_activity_method(
            IpActivities.get_ip, start_to_close_timeout=timedelta(seconds=10)
        )
        location = await workflow.execute_activity_method(
            IpActivities.get_location_info, ip, start_to_close_timeout=timedelta(seconds=10)
        )
        return GreetingResult(ip=ip, location=location)


@workflow.defn(name="GreetingWorkflow", sandboxed=False)
class ExtraActivity:
    """An extra activity call before the others."""

    @workflow.run
    async def run(self, greeting: GreetingInput) -> GreetingResult:
        await workflow.execute_activity_method(
            IpActivities.get_location_info,
            "203.0.113.1",
            start_to_close_timeout=timedelta(seconds=10),
        )
        ip = await workflow.execute_activity_method(
            IpActivities.get_ip,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RETRY_POLICY,
        )
        await asyncio.sleep(greeting.sleep_seconds)
        location = await workflow.execute_activity_method(
            IpActivities.get_location_info, ip, start_to_close_timeout=timedelta(seconds=10)
        )
        return GreetingResult(ip=ip, location=location)


@workflow.defn(name="Counter", sandboxed=False)
class CounterSleepsFirst:
    """The counter's sleep moved before the addition."""

    @workflow.run
    async def count(self, limit: int = 10) -> int:
        number = 0
        while number < limit:
            await asyncio.sleep(1)
            number = await workflow.execute_activity(
                add_one, number, start_to_close_timeout=timedelta(seconds=5)
            )
        return number


def histories(prefix: str, with_timer: bool = False) -> list[Path]:
    chosen = [p for p in HISTORIES if p.stem.startswith(prefix)]
    if with_timer:
        chosen = [p for p in chosen if "TIMER_STARTED" in p.read_text()]
    assert chosen
    return chosen


@pytest.mark.parametrize(
    ("changed", "paths"),
    [
        (TimerMovedFirst, histories("hello-ip", with_timer=True)),
        (ExtraActivity, histories("hello-ip")),
        (CounterSleepsFirst, histories("counter")),
    ],
    ids=["timer-moved-first", "extra-activity", "counter-sleeps-first"],
)
def test_a_changed_workflow_fails_replay(changed, paths):
    replayer = Replayer(workflows=[changed])
    for path in paths:
        with pytest.raises(NondeterminismError):
            asyncio.run(replayer.replay_workflow(load(path)))
