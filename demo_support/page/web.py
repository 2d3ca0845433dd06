"""The web app's plumbing (hello-ip/app.py); the audience need not read it.

* SharedClient: one Temporal client for the whole app, connected on first use, so
  that the app starts even while Temporal is down. Flask runs each async view in
  an event loop of its own; a connected client serves them all, and a
  threading lock makes the first connect happen once.
* greeting_status: what a run is doing now, in words a presenter can read out,
  from the run's description, its history and its task queue's pollers.
* json_errors and serve: every error as JSON with its reason, one line in the
  terminal, and `python app.py --port ...` on a socket of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import hmac
import json
import logging
import math
import os
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
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
from demo_support.page import timeline as timelines

# Each failed attempt the app has seen (the history keeps the last one only).
FAILURES = timelines.Failures()

# A task that nobody has taken for this long, on a queue that no worker has
# polled since the task was scheduled, means no worker is running: a polling
# worker takes a task within milliseconds.
NO_WORKER_AFTER = 1.5


class SharedClient:
    """One Temporal client for every request, connected by the first one that needs it."""

    def __init__(self) -> None:
        self._client: Client | None = None
        # A threading lock, not an asyncio one: each request has a loop of its own.
        self._connecting = threading.Lock()

    @property
    def namespace(self) -> str:
        return demo_support.connect_config()["namespace"]

    async def __call__(self) -> Client:
        if self._client is None:
            with self._connecting:
                if self._client is None:
                    self._client = await self._connect()
        return self._client

    @staticmethod
    async def _connect() -> Client:
        try:
            # Fail fast while Temporal is down: the page asks again anyway.
            quick = RetryConfig(max_elapsed_time_millis=2000, max_retries=3)
            return await asyncio.wait_for(demo_support.connect(retry_config=quick), 5)
        except asyncio.TimeoutError:
            raise demo_support.TemporalUnreachable(demo_support.unreachable_message()) from None


def ui_url(flag: str | None = None) -> str:
    """The Temporal Web UI the page links to."""
    return (flag or os.environ.get("TEMPORAL_UI_URL", "http://localhost:8080")).rstrip("/")


def json_errors(app) -> None:
    """Every failure as JSON with its reason (400 for bad input); one line in the terminal."""
    from flask import request
    from werkzeug.exceptions import HTTPException

    @app.errorhandler(Exception)
    def error(err: Exception):
        if isinstance(err, HTTPException):
            return {"error": err.description}, err.code
        if is_unreachable(err):  # Temporal down (demo 4): say so; the page keeps asking
            return {"error": f"Temporal is unreachable: {err}", "status": "UNREACHABLE"}, 503
        if isinstance(err, RPCError) and err.status == RPCStatusCode.NOT_FOUND:
            unknown = (request.view_args or {}).get("workflow_id")
            return {"error": f"No greeting run with id {unknown!r}."}, 404
        if isinstance(err, RPCError):
            return {"error": f"Temporal refused the request: {err}"}, 502
        app.logger.error("%s %s: %s: %s", request.method, request.path, type(err).__name__, err)
        return {"error": f"The app failed: {type(err).__name__}: {err}"}, 500


def serve(app) -> None:
    """`python app.py [--host H] [--port P] [--ui-url URL] [--debug]` until Ctrl-C."""
    parser = argparse.ArgumentParser(description="The hello-ip web app.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--ui-url", help="the Temporal Web UI (default http://localhost:8080)")
    parser.add_argument("--debug", action="store_true", help="Flask debug mode (off by default)")
    args = parser.parse_args()
    if args.ui_url:
        app.config["TEMPORAL_UI_URL"] = ui_url(args.ui_url)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    demo_support.run_web_app(app, args.host, args.port, args.debug)


def is_unreachable(err: BaseException) -> bool:
    return isinstance(err, demo_support.TemporalUnreachable) or (
        isinstance(err, RPCError)
        and err.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED)
    )


def new_workflow_id(name: str) -> str:
    """Readable in the Web UI, and unique: 64 random bits for every submission.

    Were two ever equal, Temporal would refuse to start the second run (it
    never overwrites one), so a collision could not lose a greeting either.
    """
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:30] or "guest"
    return f"greeting-{slug}-{uuid.uuid4().hex[:16]}"


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
    handle = client.get_workflow_handle(workflow_id)
    if wait > 0:
        with contextlib.suppress(asyncio.TimeoutError, WorkflowFailureError):
            await asyncio.wait_for(handle.result(), wait)
    description = await handle.describe()  # raises RPCError NOT_FOUND for an unknown id
    history = [event async for event in handle.fetch_history_events()]
    started = history[0].workflow_execution_started_event_attributes
    (run_input,) = await client.data_converter.decode(started.input.payloads)  # as JSON: a dict
    now = datetime.now(timezone.utc)
    status = description.status.name if description.status else "UNKNOWN"
    answer = {
        "workflow_id": workflow_id,
        "input": run_input,
        "status": status,
        "result": None,
        "error": None,
        "progress": None,
    }
    if description.status == WorkflowExecutionStatus.COMPLETED:
        completed = history[-1].workflow_execution_completed_event_attributes
        (answer["result"],) = await client.data_converter.decode(completed.result.payloads)
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
    raw = description.raw_description
    answer["timeline"] = await timelines.timeline(client, workflow_id, history, raw, now, FAILURES)
    answer["standin_calls"] = await standin_calls()
    answer["standin_calls_at_start"] = CALLS_AT_START.get(workflow_id)
    return answer


async def standin_calls() -> dict | None:
    """Offline, how many calls the stand-in services answered (None when not offline)."""
    return await asyncio.to_thread(_fetch_standin_calls)


def _fetch_standin_calls() -> dict | None:
    """GET /calls of the stand-in: its counts and when it started."""
    base = os.environ.get("STANDIN_URL")
    if not base:
        return None
    try:
        with urllib.request.urlopen(f"{base.rstrip('/')}/calls", timeout=0.5) as response:
            return json.loads(response.read())
    except (OSError, ValueError):
        return {"down": True}


# The stand-in's counts just before each run started (the newest 200 runs), so that
# the page can say how many calls this run made: "get_ip 1 time for this run".
CALLS_AT_START: collections.OrderedDict[str, dict] = collections.OrderedDict()


def status_routes(app, temporal: SharedClient, task_queue: str) -> None:
    """The page's two status lights and, under make demo, its stage panel.

    GET /api/lights: always 200 (the lights say what is down).
    GET /api/stage: the pieces, their state and last lines, and the token the
    page sends back with each press; 404 when the app does not run under make demo.
    POST /api/stage/<piece>/<interrupt|kill|start>: only from the app's own page
    (its Origin) with that token; anything else is refused with 403 and the reason.
    """
    from flask import g, request
    from werkzeug.exceptions import BadRequest, Forbidden, NotFound

    @app.before_request
    def count_before_a_start():  # before the run exists: none of its calls counted yet
        if request.method == "POST" and request.path == "/api/greetings":
            g.standin_calls = _fetch_standin_calls()

    @app.after_request
    def remember_counts(response):
        calls = g.pop("standin_calls", None)
        if calls and not calls.get("down") and response.status_code == 202:
            CALLS_AT_START[response.get_json()["workflow_id"]] = calls
            while len(CALLS_AT_START) > 200:
                CALLS_AT_START.popitem(last=False)
        return response

    @app.get("/api/lights")
    async def lights():
        return await timelines.lights(temporal, task_queue)

    stage_url, token = os.environ.get("STAGE_URL"), os.environ.get("STAGE_TOKEN")

    def local_host() -> None:
        host = request.host.rsplit(":", 1)[0]
        if host not in ("127.0.0.1", "localhost", "[::1]"):
            raise Forbidden(f"The stage panel answers on 127.0.0.1 and localhost only, not {host}.")
        if stage_url is None or not token:
            raise NotFound("No stage panel: the app does not run under make demo.")

    @app.get("/api/stage")
    async def stage_pieces():
        local_host()
        code, body = await asyncio.to_thread(_ask_stage, stage_url, token, "GET", "/pieces")
        return ({**body, "token": token} if code == 200 else body), code

    @app.post("/api/stage/<piece>/<action>")
    async def stage_press(piece: str, action: str):
        local_host()
        origin = request.headers.get("Origin")
        if origin != f"http://{request.host}":
            raise Forbidden(f"Refused: a press from another site ({origin or 'no Origin'}).")
        given = request.headers.get("X-Stage-Token", "")
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise Forbidden("Refused: the page's stage token is missing or wrong.")
        if action not in ("interrupt", "kill", "start"):
            raise BadRequest(f"Unknown action {action!r}: interrupt, kill or start.")
        path = f"/pieces/{urllib.parse.quote(piece, safe='')}/{action}"
        code, body = await asyncio.to_thread(_ask_stage, stage_url, token, "POST", path)
        return body, code


def _ask_stage(stage_url: str, token: str, method: str, path: str) -> tuple[int, dict]:
    """The stage's control port (presenter/control.py): (status code, JSON body)."""
    request = urllib.request.Request(
        f"{stage_url}{path}", method=method, data=b"" if method == "POST" else None
    )
    request.add_header("X-Stage-Token", token)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")
    except OSError as err:
        return 502, {"error": f"The stage is not answering: {err}"}


def _failure_message(history) -> str:
    """The root cause of a failed run, e.g. the service's own message."""
    for event in reversed(history):
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
            failure = event.workflow_execution_failed_event_attributes.failure
            while failure.HasField("cause"):
                failure = failure.cause
            return failure.message
    return "The run failed."


async def _nobody_polled_since(
    client: Client, task_queue: str, kind: TaskQueueType.ValueType, since
) -> bool:
    """True when no worker has polled the task queue since ``since``.

    The truth from Temporal: the task queue's pollers and the last time each
    one asked for work (a stopped worker stays listed for minutes, with its
    last poll getting older).
    """
    described = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=kind,
        )
    )
    return not any((_ts(poller.last_access_time) or since) > since for poller in described.pollers)


async def _no_worker(client: Client, raw, kind, since: datetime | None, now: datetime) -> bool:
    """A task has waited for a worker since ``since``: is there no worker at all?"""
    if since is None or (now - since).total_seconds() <= NO_WORKER_AFTER:
        return False
    task_queue = raw.execution_config.task_queue.name
    return await _nobody_polled_since(client, task_queue, kind, since)


NO_WORKER_HINT = "Is worker.py running? Start it and the run continues where it stopped."


async def _progress(client: Client, raw, history, now: datetime) -> dict:
    progress: dict[str, Any] = {"waiting_for_worker": False}
    if raw.pending_activities:
        activity = raw.pending_activities[0]
        name = activity.activity_type.name
        progress.update(step=name, attempt=activity.attempt)
        next_try = _ts(activity.next_attempt_schedule_time)
        if activity.HasField("last_failure"):
            progress["last_error"] = timelines.failure_text(activity.last_failure)
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
            if await _no_worker(client, raw, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY, since, now):
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
            client, raw, TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, _ts(task.scheduled_time), now
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
