"""Replay tests: today's workflow code against the histories of real, earlier runs.

A workflow is replayed from its history after every crash. If the code would now
take a different path through a saved history, in-flight runs of it would fail
with a NondeterminismError when the new code is deployed. These tests find that
first. The files in histories/ are recorded by `make histories`, never edited.
"""

import asyncio
import importlib
import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

# The demo folders are on pytest's pythonpath (pyproject.toml), as each script's own
# folder is on its path when it runs.
from counter import Counter, add_one
from maintainers.harness import HELLO_DIR, make_readme_edit
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


# The replayer's own runtime, logging errors only: a mismatch is the test's one line (the
# history's name, the SDK's message), not the SDK's warning with its details as well.
QUIET = Runtime(
    telemetry=TelemetryConfig(
        logging=LoggingConfig(filter=TelemetryFilter(core_level="ERROR", other_level="ERROR"))
    )
)


def mismatch(replayer: Replayer, path: Path) -> str | None:
    """Replay a saved history: None, or the SDK's message ("[TMPRL1100] Nondeterminism
    error: ...") without its wrapping."""
    try:
        asyncio.run(replayer.replay_workflow(load(path)))
    except NondeterminismError as err:
        found = re.search(r'message: "((?:[^"\\]|\\.)*)"', str(err))
        return found[1] if found else str(err)
    return None


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


def test_every_recorded_scenario_is_there():
    assert {path.stem for path in HISTORIES} == EXPECTED


# #region replay
@pytest.mark.parametrize("path", HISTORIES, ids=lambda path: path.stem)
def test_todays_code_replays_every_saved_history(path):
    replayer = Replayer(workflows=[Counter, GreetingWorkflow], runtime=QUIET)
    # Would today's code take another path through this history?
    if problem := mismatch(replayer, path):
        reason = f"today's code does not replay it: {problem}"
        pytest.fail(f"{path.name}: {reason}", pytrace=False)


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


# Demo 6: the README's change to workflow.py (an activity before the timer) must not replay
# the saved histories; the README's fix (the change under workflow.patched) must.


def readme_workflow(edit: str, folder: Path, monkeypatch) -> type:
    """GreetingWorkflow as workflow.py reads after the README's edit, from a copy of hello-ip
    imported under a name of its own (the sandbox imports it again by that name)."""
    copy = folder / "hello-ip"
    shutil.copytree(HELLO_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    source, _ = make_readme_edit(copy, edit)
    module = f"workflow_{edit.replace('-', '_')}"
    source.rename(copy / f"{module}.py")
    monkeypatch.syspath_prepend(str(copy))
    return importlib.import_module(module).GreetingWorkflow


@pytest.mark.parametrize(
    ("edit", "replays"), [("demo-6-change", False), ("demo-6-fix", True)], ids=["change", "fix"]
)
def test_demo_6_the_readmes_change_fails_replay_and_its_fix_passes(
    edit, replays, tmp_path, monkeypatch
):
    replayer = Replayer(workflows=[readme_workflow(edit, tmp_path, monkeypatch)], runtime=QUIET)
    for path in histories("hello-ip"):
        if replays:
            asyncio.run(replayer.replay_workflow(load(path)))
        else:
            with pytest.raises(NondeterminismError, match=r"\[TMPRL1100\]"):
                asyncio.run(replayer.replay_workflow(load(path)))
