"""The page's timeline and its two status lights, from Temporal's own records.

* timeline(): one row per step of a run (get_ip, the durable timer,
  get_location_info, the greeting), built from the run's event history and its
  pending activities. Temporal keeps only the last failure of a retried
  activity; the app remembers each failed attempt it has seen (Failures), so
  the page can list them all.
* lights(): **Temporal** (does the service answer the app?) and **worker** (is
  any worker polling the task queue?), from ``describe_task_queue``'s pollers
  and their last access times.

The rows carry their words (``text``, ``state``) so that the JSON API says
what the page shows; the page adds only the countdowns between two answers.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from datetime import datetime, timedelta, timezone
from typing import Any

from temporalio.api.enums.v1 import EventType, PendingActivityState, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

import demo_support

E = EventType
# An idle worker's poll is a long poll: the server answers it empty after a
# minute and the worker asks again at once. A poll older than this means the
# worker is gone (a killed worker's poller stays listed for minutes).
IDLE_POLL_SECONDS = 70
# A task nobody took for this long, on a queue nobody polled since: no worker.
NO_WORKER_AFTER = 1.5


def ts(value) -> datetime | None:
    """A protobuf Timestamp as an aware datetime (None when unset)."""
    if value is None or (value.seconds == 0 and value.nanos == 0):
        return None
    return value.ToDatetime(tzinfo=timezone.utc)


def failure_text(failure) -> str:
    """An activity failure as "KeyError: 'cty'" (its type, then its message).

    The server keeps a failed attempt's failure up to 4 KB (limit.mutableStateActivityFailureSize):
    a bigger one, such as aiohttp's DNS error and its cause with their stack traces under
    Python 3.13's longer tracebacks, becomes "Failure exceeds size limit.", a server failure
    whose cause is the original, cut short. The page shows the original.
    """
    if failure.HasField("server_failure_info") and failure.HasField("cause"):
        failure = failure.cause
    info = (
        failure.application_failure_info if failure.HasField("application_failure_info") else None
    )
    kind = info.type if info else ""
    message = demo_support.short_error(failure.message)
    return f"{kind}: {message}" if kind else message


class Failures:
    """Each failed attempt the app has seen, per run (the history keeps the last one only).

    Bounded: the newest ``runs`` runs are kept, so memory does not grow with use.
    """

    def __init__(self, runs: int = 200) -> None:
        self._runs: OrderedDict[str, dict[tuple[int, int], str]] = OrderedDict()
        self._runs_max = runs
        self._lock = threading.Lock()

    def record(self, run: str, activity: int, attempt: int, error: str) -> None:
        with self._lock:
            self._runs.setdefault(run, {}).setdefault((activity, attempt), error)
            self._runs.move_to_end(run)
            while len(self._runs) > self._runs_max:
                self._runs.popitem(last=False)

    def seen(self, run: str, activity: int) -> dict[int, str]:
        """The errors seen for one activity of a run, by attempt."""
        with self._lock:
            errors = self._runs.get(run, {})
            return {attempt: e for (act, attempt), e in errors.items() if act == activity}

    def __len__(self) -> int:
        return len(self._runs)


def _seconds(a: datetime | None, b: datetime | None) -> float | None:
    return None if a is None or b is None else round(max(0.0, (b - a).total_seconds()), 2)


async def timeline(
    client: Client, run: str, history, raw, now: datetime, failures: Failures
) -> list[dict]:
    """The run's steps so far, oldest first, each one a dict the page shows as a row."""
    rows: list[dict] = []
    activities: dict[int, dict] = {}  # by scheduled event id
    timers: dict[int, dict] = {}  # by started event id
    workflow_task_workers: list[tuple[int, str]] = []  # (event id, identity)
    for event in history:
        kind, when = event.event_type, ts(event.event_time)
        if kind == E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            name = event.activity_task_scheduled_event_attributes.activity_type.name
            row = {"step": name, "state": "scheduled", "text": "Scheduled", "attempt": 1}
            row.update(failures=[], scheduled=when, event_id=event.event_id)
            activities[event.event_id] = row
            rows.append(row)
        elif kind == E.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attrs = event.activity_task_started_event_attributes
            row = activities[attrs.scheduled_event_id]
            row.update(attempt=attrs.attempt, worker=attrs.identity)
            if attrs.HasField("last_failure") and attrs.attempt > 1:
                row["last_failure"] = failure_text(attrs.last_failure)
        elif kind == E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            attrs = event.activity_task_completed_event_attributes
            row = activities[attrs.scheduled_event_id]
            (result,) = await client.data_converter.decode(attrs.result.payloads) or [None]
            duration = _seconds(row["scheduled"], when)
            row.update(state="completed", result=result, duration_seconds=duration)
            row.update(completed=when, completed_event_id=event.event_id)
            row["text"] = f"{result} in {duration:.2f} s" if isinstance(result, str) else "Done"
        elif kind in (E.EVENT_TYPE_ACTIVITY_TASK_FAILED, E.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT):
            attrs = (
                event.activity_task_failed_event_attributes
                if kind == E.EVENT_TYPE_ACTIVITY_TASK_FAILED
                else event.activity_task_timed_out_event_attributes
            )
            row = activities[attrs.scheduled_event_id]
            row.update(state="failed", text=f"Failed for good: {failure_text(attrs.failure)}")
        elif kind == E.EVENT_TYPE_TIMER_STARTED:
            seconds = event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
            fires = when + seconds
            row = {"step": "timer", "state": "waiting", "timer_seconds": seconds.total_seconds()}
            row.update(fires_in_seconds=round(max(0.0, (fires - now).total_seconds()), 1))
            row["text"] = f"Durable timer: {int(seconds.total_seconds())} s"
            timers[event.event_id] = row
            rows.append(row)
        elif kind == E.EVENT_TYPE_TIMER_FIRED:
            row = timers[event.timer_fired_event_attributes.started_event_id]
            row.update(state="fired", fires_in_seconds=0)
            row["text"] = f"Fired after {int(row['timer_seconds'])} s"
        elif kind == E.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            identity = event.workflow_task_started_event_attributes.identity
            workflow_task_workers.append((event.event_id, identity))
        elif kind == E.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
            rows.append({"step": "greeting", "state": "completed", "text": "The greeting is ready"})
        elif kind == E.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
            rows.append({"step": "greeting", "state": "failed", "text": "The run failed"})

    for pending in raw.pending_activities if raw is not None else ():
        row = next((r for r in activities.values() if r["state"] == "scheduled"), None)
        if row is None:
            continue
        row["attempt"] = pending.attempt
        next_try = ts(pending.next_attempt_schedule_time)
        if pending.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED:
            row.update(state="running", text=f"Running (attempt {pending.attempt})")
        else:
            row.update(state="scheduled", text=f"Waiting for a worker (attempt {pending.attempt})")
        if pending.HasField("last_failure"):
            error = failure_text(pending.last_failure)
            row["last_failure"] = error
            failures.record(run, row["event_id"], pending.attempt - 1, error)
            if next_try is not None and next_try > now:
                row["state"] = "retrying"
                row["next_retry_in_seconds"] = round((next_try - now).total_seconds(), 1)
                failed = pending.attempt - 1
                row["text"] = f"Failed {failed} time{'s' * (failed > 1)}: Temporal retries it"

    for row in activities.values():
        # Failed attempts: 1 .. attempt-1, with the errors the app saw (or the last one).
        failed = row["attempt"] - 1 if row["state"] != "failed" else row["attempt"]
        seen = failures.seen(run, row["event_id"])
        for attempt in range(1, failed + 1):
            # None: the app did not see it (Temporal keeps the last failure only).
            error = seen.get(attempt) or (row.get("last_failure") if attempt == failed else None)
            row["failures"].append({"attempt": attempt, "error": error})
        # Completed before a worker that did not run it took over: it came from the history.
        done = row.get("completed_event_id")
        later = [who for event_id, who in workflow_task_workers if event_id > (done or 1 << 62)]
        if done and row.get("worker") and later and later[-1] != row["worker"]:
            row["from_history"] = True
            row["note"] = "Taken from the history by a restarted worker: not run again"
        for key in ("scheduled", "completed", "event_id", "completed_event_id"):
            row.pop(key, None)
    return rows


async def describe_queue(client: Client, task_queue: str, kind):
    return await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=kind,
            report_stats=True,
        ),
        timeout=timedelta(seconds=3),
    )


async def lights(temporal, task_queue: str) -> dict:
    """Two lights: is Temporal reachable from the app, and is a worker polling the queue?

    A worker is polling when one asked for work within IDLE_POLL_SECONDS, unless
    a task has waited longer than NO_WORKER_AFTER with no poll since (a worker
    takes a task within milliseconds): that answer comes within two seconds.
    """
    answer: dict[str, Any] = {
        "temporal": {"on": False, "text": "Temporal: unreachable"},
        "worker": {"on": None, "text": "Worker: unknown", "detail": "Temporal is unreachable"},
    }
    try:
        client = await temporal()
        kinds = (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY)
        # Both calls end before the view does (its event loop closes with it), even on failure.
        queues = await asyncio.gather(
            *(describe_queue(client, task_queue, k) for k in kinds), return_exceptions=True
        )
        for failed in (q for q in queues if isinstance(q, BaseException)):
            raise failed
    except Exception as err:  # noqa: BLE001 - the light says why, in one line
        answer["temporal"]["detail"] = demo_support.short_error(str(err)).splitlines()[0]
        return answer
    now = datetime.now(timezone.utc)
    answer["temporal"] = {"on": True, "text": "Temporal: reachable", "detail": "the app reaches it"}
    newest: dict[str, float] = {}
    stuck = None  # seconds a task has waited with nobody polling since
    for queue in queues:
        ages = [_seconds(ts(p.last_access_time), now) for p in queue.pollers]
        for poller, age in zip(queue.pollers, ages, strict=True):
            if age is not None:
                newest[poller.identity] = min(age, newest.get(poller.identity, age))
        waited = queue.stats.approximate_backlog_age.ToTimedelta().total_seconds()
        nobody_since = all(age is None or age >= waited for age in ages)
        if queue.stats.approximate_backlog_count and waited > NO_WORKER_AFTER and nobody_since:
            stuck = max(stuck or 0, waited)
    alive = {who: age for who, age in newest.items() if age <= IDLE_POLL_SECONDS}
    worker: dict[str, Any] = {"on": bool(alive) and stuck is None}
    worker["pollers"] = [
        {"identity": who, "last_poll_seconds_ago": round(age, 1)} for who, age in newest.items()
    ]
    if worker["on"]:
        worker["text"] = "Worker: polling"
        worker["detail"] = f"last poll {min(alive.values()):.0f} s ago"
    else:
        worker["text"] = "Worker: none polling"
        if stuck is not None:
            worker["detail"] = f"a task has waited {stuck:.0f} s and nobody polled"
        elif newest:
            worker["detail"] = f"last poll {min(newest.values()):.0f} s ago"
        else:
            worker["detail"] = "no worker has polled this task queue"
    answer["worker"] = worker
    return answer
