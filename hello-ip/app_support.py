"""Plumbing behind app.py; the audience need not read it.

* TemporalBridge: one Temporal client on one background event loop. Flask runs
  each request in a thread of its own (and each async view in a fresh event
  loop), while a Temporal client belongs to one loop. So every Temporal call
  is handed to the bridge's loop, and the views wait for the answer.
* parse_greeting: the request's validation (HTTP 400 reasons).
* greeting_status: what a run is doing now, in words a presenter can read out.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import threading
import uuid
from collections.abc import Coroutine
from datetime import datetime, timezone
from typing import Any

from temporalio.api.enums.v1 import (
    EventType,
    PendingActivityState,
    PendingWorkflowTaskState,
    TaskQueueType,
)
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.service import RetryConfig, RPCError, RPCStatusCode

import demo_support
from workflow import TASK_QUEUE, GreetingInput, GreetingResult

MAX_NAME = 100
MAX_SLEEP = 60
# A task that nobody has taken for this long, on a queue that no worker has
# polled since the task was scheduled, means no worker is running: a polling
# worker takes a task within milliseconds.
NO_WORKER_AFTER = 1.5


class TemporalBridge:
    """Runs coroutines on a private event loop that owns the Temporal client."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._client: Client | None = None
        threading.Thread(target=self.loop.run_forever, name="temporal", daemon=True).start()

    def run(self, coroutine: Coroutine, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def client(self) -> Client:
        """The client, connecting on first use: the app starts even when Temporal is down."""
        if self._client is None:
            self._client = self.run(self._connect())
        return self._client

    async def _connect(self) -> Client:
        if self._client is None:  # on the loop, so only one connect at a time
            try:
                # Fail fast while Temporal is down: the page polls again anyway.
                quick = RetryConfig(max_elapsed_time_millis=2000, max_retries=3)
                self._client = await asyncio.wait_for(demo_support.connect(retry_config=quick), 5)
            except asyncio.TimeoutError:
                raise demo_support.TemporalUnreachable(demo_support.unreachable_message()) from None
        return self._client


def json_errors(app) -> None:
    """Any other failure: one line in the app's terminal, JSON for the page."""
    from flask import request
    from werkzeug.exceptions import HTTPException

    @app.errorhandler(Exception)
    def unexpected(err: Exception):
        if isinstance(err, HTTPException):
            return {"error": err.description}, err.code
        app.logger.error("%s %s: %s: %s", request.method, request.path, type(err).__name__, err)
        return {"error": f"The app failed: {type(err).__name__}: {err}"}, 500


def is_unreachable(err: BaseException) -> bool:
    return isinstance(err, demo_support.TemporalUnreachable) or (
        isinstance(err, RPCError)
        and err.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED)
    )


def parse_greeting(body: Any) -> GreetingInput | str:
    """The greeting request, or the reason it is refused."""
    if not isinstance(body, dict):
        return 'Send a JSON object: {"name": "Ada", "sleep_seconds": 0}.'
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        return "Enter your name."
    name = name.strip()
    if len(name) > MAX_NAME:
        return f"The name is too long: {len(name)} characters, at most {MAX_NAME}."
    sleep = body.get("sleep_seconds", 0)
    if sleep is None or sleep == "":
        sleep = 0
    if isinstance(sleep, bool) or not isinstance(sleep, int):
        return f"sleep_seconds must be a whole number of seconds, not {sleep!r}."
    if not 0 <= sleep <= MAX_SLEEP:
        return f"sleep_seconds must be between 0 and {MAX_SLEEP}, not {sleep}."
    return GreetingInput(name=name, sleep_seconds=sleep)


def new_workflow_id(name: str) -> str:
    """Readable in the Web UI, and unique: 64 random bits for every submission.

    Were two ever equal, Temporal would refuse to start the second run (it
    never overwrites one), so a collision could not lose a greeting either.
    """
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:30] or "guest"
    return f"greeting-{slug}-{uuid.uuid4().hex[:16]}"


def greeting_text(name: str, ip: str, location: str) -> str:
    return f"Hello, {name}!\nYour IP Address is {ip}.\nYou are in {location}"


def _seconds_since(then: datetime | None, now: datetime) -> float | None:
    return None if then is None else max(0.0, (now - then).total_seconds())


def _ts(value) -> datetime | None:
    """A protobuf Timestamp as an aware datetime (None when unset)."""
    if value is None or (value.seconds == 0 and value.nanos == 0):
        return None
    return value.ToDatetime(tzinfo=timezone.utc)


async def greeting_status(client: Client, workflow_id: str, wait: float = 0) -> dict:
    """The run's status, its result when done, and what it is doing meanwhile.

    With ``wait``, hold the answer up to that many seconds for the run to end
    (a long poll), so that a waiting page sees the result the moment it exists.
    """
    handle = client.get_workflow_handle(workflow_id, result_type=GreetingResult)
    if wait > 0:
        with contextlib.suppress(asyncio.TimeoutError, WorkflowFailureError):
            await asyncio.wait_for(handle.result(), wait)
    description = await handle.describe()  # raises RPCError NOT_FOUND for an unknown id
    history = [event async for event in handle.fetch_history_events()]
    started = history[0].workflow_execution_started_event_attributes
    (greeting,) = await client.data_converter.decode(started.input.payloads, [GreetingInput])
    now = datetime.now(timezone.utc)
    status = description.status.name if description.status else "UNKNOWN"
    answer = {
        "workflow_id": workflow_id,
        "name": greeting.name,
        "sleep_seconds": greeting.sleep_seconds,
        "status": status,
        "result": None,
        "error": None,
        "progress": None,
    }
    if description.status == WorkflowExecutionStatus.COMPLETED:
        completed = history[-1].workflow_execution_completed_event_attributes
        (result,) = await client.data_converter.decode(completed.result.payloads, [GreetingResult])
        answer["result"] = {
            "name": greeting.name,
            "ip": result.ip,
            "location": result.location,
            "greeting": greeting_text(greeting.name, result.ip, result.location),
        }
        answer["progress"] = {"step": "done", "message": "Done"}
    elif description.status == WorkflowExecutionStatus.FAILED:
        answer["error"] = _failure_message(history)
        answer["progress"] = {"step": "failed", "message": answer["error"]}
    elif description.status == WorkflowExecutionStatus.RUNNING:
        answer["progress"] = await _progress(client, description.raw_description, history, now)
    else:
        answer["progress"] = {"step": status.lower(), "message": f"The run is {status}"}
    answer["progress"]["elapsed_seconds"] = round(
        (_seconds_since(description.start_time, description.close_time or now) or 0), 1
    )
    return answer


def _failure_text(failure) -> str:
    """An activity failure as "KeyError: 'cty'" (its type, then its message)."""
    kind = (
        failure.application_failure_info.type
        if failure.HasField("application_failure_info")
        else ""
    )
    message = demo_support.short_error(failure.message)
    return f"{kind}: {message}" if kind else message


def _failure_message(history) -> str:
    """The root cause of a failed run, e.g. the service's own message."""
    for event in reversed(history):
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
            failure = event.workflow_execution_failed_event_attributes.failure
            while failure.HasField("cause"):
                failure = failure.cause
            return failure.message
    return "The run failed."


async def _nobody_polled_since(client: Client, kind: TaskQueueType.ValueType, since) -> bool:
    """True when no worker has polled the task queue since ``since``.

    The truth from Temporal: the task queue's pollers and the last time each
    one asked for work (a stopped worker stays listed for minutes, with its
    last poll getting older).
    """
    described = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=TASK_QUEUE),
            task_queue_type=kind,
        )
    )
    return not any((_ts(poller.last_access_time) or since) > since for poller in described.pollers)


async def _no_worker(client: Client, kind, since: datetime | None, now: datetime) -> bool:
    """A task has waited for a worker since ``since``: is there no worker at all?"""
    if since is None or (now - since).total_seconds() <= NO_WORKER_AFTER:
        return False
    return await _nobody_polled_since(client, kind, since)


NO_WORKER_HINT = "Is worker.py running? Start it and the run continues where it stopped."


async def _progress(client: Client, raw, history, now: datetime) -> dict:
    progress: dict[str, Any] = {"waiting_for_worker": False}
    if raw.pending_activities:
        activity = raw.pending_activities[0]
        name = activity.activity_type.name
        progress.update(step=name, attempt=activity.attempt)
        next_try = _ts(activity.next_attempt_schedule_time)
        if activity.HasField("last_failure"):
            progress["last_error"] = _failure_text(activity.last_failure)
            progress["next_retry_in_seconds"] = (
                None if next_try is None else round(max(0.0, (next_try - now).total_seconds()), 1)
            )
            failed_attempt = activity.attempt - 1 if next_try else activity.attempt
            progress["message"] = f"{name} failed (attempt {failed_attempt}); Temporal retries it"
        else:
            progress["message"] = f"Running {name}"
        if activity.state == PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED and (
            next_try is None or next_try <= now
        ):
            since = next_try or _ts(activity.scheduled_time)
            if await _no_worker(client, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY, since, now):
                progress["waiting_for_worker"] = True
                progress["message"] = f"{name} is waiting: no worker is picking up work"
                progress["hint"] = NO_WORKER_HINT
        return progress

    timer = _pending_timer(history)
    if timer is not None:
        fires_at = (
            _ts(timer.event_time)
            + timer.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
        )
        left = max(0.0, (fires_at - now).total_seconds())
        progress.update(
            step="timer",
            timer_seconds_left=round(left, 1),
            message=f"Sleeping on a durable timer: {math.ceil(left)} s left",
        )
        return progress

    task = raw.pending_workflow_task
    if task.state == PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_SCHEDULED and (
        await _no_worker(
            client, TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, _ts(task.scheduled_time), now
        )
    ):
        fired = any(e.event_type == EventType.EVENT_TYPE_TIMER_FIRED for e in history)
        progress.update(
            step="waiting_for_worker",
            waiting_for_worker=True,
            message=("The timer fired; " if fired else "") + "no worker is picking up work",
            hint=NO_WORKER_HINT,
        )
        return progress
    progress.update(step="workflow", message="The workflow is deciding its next step")
    return progress


def _pending_timer(history):
    started = {}
    for event in history:
        if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
            started[event.event_id] = event
        elif event.event_type == EventType.EVENT_TYPE_TIMER_FIRED:
            started.pop(event.timer_fired_event_attributes.started_event_id, None)
    return next(iter(started.values()), None)
