"""What Temporal says about a run, in the page's words: one set of facts, one answer.

The page shows three things about a run: the status line (what it is doing now), the
timeline (one row per step) and two lights (does Temporal answer, is a worker there).
``answer()`` makes all three from one set of facts, so they cannot contradict each other:
``Run`` (the run's history, its pending tasks, and what the app remembers of it: each
failed attempt it saw, the stand-in's counts at the start) and ``Workers`` (the task
queue's worker heartbeats and pollers). The reader (reader.py) fetches the facts; this
module does no I/O.

**Is a worker there?** One rule, for the light, the status line and the timeline. Each
piece of evidence says that a worker (by its identity) was alive, or gone, at a moment;
the newest one wins:

* its heartbeat (ListWorkers; demo_support's workers send one a second): RUNNING is alive;
  SHUTTING_DOWN or SHUTDOWN is gone (a Ctrl-C says so within a second); a heartbeat older
  than two of its intervals and a second and a half is gone too: kill -9 sends no word, so
  the light goes out about 3.5 s after it (for a worker on the SDK's default interval, a
  minute, 2 minutes);
* a worker whose heartbeats tell their interval (from the second on) is judged by them
  alone: Temporal records polls, even tasks, for a worker after it stopped or died;
* otherwise (no heartbeat yet, or only the first): its poll of the task queue
  (DescribeTaskQueue's pollers) and a task it started or finished in the run's history are
  alive; it is gone once its last poll is IDLE_POLL seconds old (an idle worker polls again
  every minute or so), or once it left a task untaken (below), until it polls again.

And whatever the evidence says, a task of the run that has waited longer than
NO_WORKER_AFTER with no poll of its kind since it was scheduled means that no worker is
taking work (a polling worker takes a task within milliseconds).
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from temporalio.api.enums.v1 import (
    EventType,
    PendingActivityState,
    PendingWorkflowTaskState,
    TaskQueueType,
    WorkerStatus,
    WorkflowTaskFailedCause,
)

import demo_support

E = EventType
WORKFLOW = TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW
ACTIVITY = TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY
NO_WORKER_AFTER = 1.5  # seconds a task may wait, untaken, before "no worker"
IDLE_POLL = 70  # seconds: an idle worker's poll is a long poll, renewed every minute or so
SDK_HEARTBEAT = 60  # seconds: the SDK's default heartbeat interval (when a worker's is unknown)
LATE = 1.5  # seconds: a timer that fired later than this after it was due says so
BEATS = ("heartbeat", "first heartbeat", "silent", "stopped")  # the signs heartbeats give
NO_WORKER_HINT = "Is worker.py running? Start it and the run continues where it stopped."
MISMATCH = WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR
SAFE = "The run is safe, not failed: nothing is lost. It waits for a worker whose code matches."
CLOSED = {
    E.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: "COMPLETED",
    E.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: "FAILED",
    E.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: "TIMED_OUT",
    E.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: "CANCELED",
    E.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: "TERMINATED",
    E.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW: "CONTINUED_AS_NEW",
}
# The events that name the worker that started or finished a task.
BY_A_WORKER = {
    E.EVENT_TYPE_WORKFLOW_TASK_STARTED: "workflow_task_started_event_attributes",
    E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED: "workflow_task_completed_event_attributes",
    E.EVENT_TYPE_ACTIVITY_TASK_STARTED: "activity_task_started_event_attributes",
    E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: "activity_task_completed_event_attributes",
    E.EVENT_TYPE_ACTIVITY_TASK_FAILED: "activity_task_failed_event_attributes",
}


# The events that end an activity (its last attempt), by the attribute that names it.
ACTIVITY_ENDS = {
    E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: "activity_task_completed_event_attributes",
    E.EVENT_TYPE_ACTIVITY_TASK_FAILED: "activity_task_failed_event_attributes",
    E.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: "activity_task_timed_out_event_attributes",
    E.EVENT_TYPE_ACTIVITY_TASK_CANCELED: "activity_task_canceled_event_attributes",
}


def ts(value) -> datetime | None:
    """A protobuf Timestamp as an aware datetime (None when unset)."""
    if value is None or (value.seconds == 0 and value.nanos == 0):
        return None
    return value.ToDatetime(tzinfo=timezone.utc)


def seconds(since: datetime, until: datetime) -> float:
    return max(0.0, (until - since).total_seconds())


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
    message = demo_support.short_error(failure.message)
    return f"{info.type}: {message}" if info and info.type else message


def times(n: int) -> str:
    return f"{n} time{'' if n == 1 else 's'}"


# --- the facts ------------------------------------------------------------------------------


@dataclass
class Run:
    """One run as the reader last read it, and what the app remembers of it."""

    workflow_id: str
    events: list = field(default_factory=list)  # its history so far, oldest first
    values: dict[int, Any] = field(default_factory=dict)  # decoded payloads, by event id
    pending_activities: list = field(default_factory=list)  # from its description
    pending_workflow_task: Any = None  # from its description, while a workflow task fails
    workflow_task_timeout: float = 10.0  # seconds (its description's execution config)
    failures: dict[tuple[str, int], str] = field(default_factory=dict)  # (activity id, attempt)
    calls_at_start: dict | None = None  # the stand-in's counts just before it started
    last_known: dict[str, datetime] = field(default_factory=dict)  # each worker's newest sign

    def remember_failures(self) -> None:
        """Temporal keeps only the last failure of a retried activity: remember each one seen."""
        for pending in self.pending_activities:
            if pending.HasField("last_failure") and pending.attempt > 1:
                key = (pending.activity_id, pending.attempt - 1)
                self.failures.setdefault(key, failure_text(pending.last_failure))


@dataclass(frozen=True)
class Sign:
    """Evidence that a worker was alive (or gone) at a moment, and what it was."""

    at: datetime
    alive: bool
    why: str  # heartbeat, stopped, silent, polling, no poll, task
    since: datetime | None = None  # silent, no poll: its last heartbeat or poll


@dataclass
class Workers:
    """The task queue's workers, as Temporal described them at ``at``."""

    at: datetime
    signs: dict[str, list[Sign]] = field(default_factory=dict)  # by worker identity
    started: dict[str, datetime] = field(default_factory=dict)  # by identity (heartbeats)
    polled: dict[int, datetime] = field(default_factory=dict)  # newest poll, by task type
    # Workers that left a task untaken (a run's answer finds them): kept from one reading
    # to the next. For one whose heartbeats tell nothing yet, e.g. killed in its first second.
    not_polling: dict[str, Sign] = field(default_factory=dict)

    @classmethod
    def read(cls, heartbeats, pollers: dict[int, list], at: datetime) -> Workers:
        """From ListWorkers' heartbeats and DescribeTaskQueue's pollers (by task type)."""
        workers = cls(at)
        beating = set()
        for beat in heartbeats:
            when, who = ts(beat.heartbeat_time), beat.worker_identity
            if when is None:
                continue
            beating.add(who)
            if start := ts(beat.start_time):
                workers.started[who] = min(start, workers.started.get(who, start))
            if beat.status in (
                WorkerStatus.WORKER_STATUS_SHUTTING_DOWN,
                WorkerStatus.WORKER_STATUS_SHUTDOWN,
            ):
                workers.add(who, Sign(when, False, "stopped"))
                continue
            interval = beat.elapsed_since_last_heartbeat.ToTimedelta().total_seconds()
            workers.add(who, Sign(when, True, "heartbeat" if interval else "first heartbeat"))
            silent_from = when + timedelta(seconds=2 * (interval or SDK_HEARTBEAT) + 1.5)
            if silent_from < at:
                workers.add(who, Sign(silent_from, False, "silent", when))
        for kind, listed in pollers.items():
            for poller in listed:
                when = ts(poller.last_access_time)
                if when is None:
                    continue
                workers.add(poller.identity, Sign(when, True, "polling"))
                workers.polled[kind] = max(when, workers.polled.get(kind, when))
                idle_from = when + timedelta(seconds=IDLE_POLL)
                if poller.identity not in beating and idle_from < at:
                    workers.add(poller.identity, Sign(idle_from, False, "no poll", when))
        return workers

    def there(self) -> set[str]:
        return {who for who, sign in self.verdict().items() if sign.alive}

    def add(self, who: str, sign: Sign) -> None:
        self.signs.setdefault(who, []).append(sign)

    def verdict(self, history_signs: dict[str, list[Sign]] | None = None) -> dict[str, Sign]:
        """Each worker's newest sign: alive means it is there. A worker whose heartbeats tell
        their interval (from the second on) is judged by them alone: Temporal records polls,
        even tasks, for a worker after it stopped or died."""
        history_signs = history_signs or {}
        out = {}
        for who in set(self.signs) | set(history_signs):
            signs = self.signs.get(who, []) + history_signs.get(who, [])
            signs += [self.not_polling[who]] if who in self.not_polling else []
            beats = [s for s in signs if s.why in BEATS]
            newest = max(beats, key=lambda s: (s.at, not s.alive), default=None)
            if newest is None or newest.why == "first heartbeat":
                newest = max(signs, key=lambda s: (s.at, not s.alive))
            out[who] = newest
        return out


# --- the answer ------------------------------------------------------------------------------


def temporal_light(reason: str | None = None) -> dict:
    if reason:
        return {"on": False, "text": "Temporal: unreachable", "detail": reason}
    return {"on": True, "text": "Temporal: reachable", "detail": "the app reaches it"}


def unreachable_lights(reason: str) -> dict:
    """The lights while Temporal does not answer the app: nobody can tell about the worker."""
    reason = demo_support.short_error(reason).splitlines()[0]
    worker = {"on": None, "text": "Worker: unknown", "detail": "Temporal is unreachable"}
    return {"temporal": temporal_light(reason), "worker": worker}


def lights(verdict: dict[str, Sign], now: datetime, stuck: float | None = None) -> dict:
    """Temporal answered; is a worker there? ``stuck``: a task has waited that long, untaken."""
    there = sorted(who for who, sign in verdict.items() if sign.alive)
    worker: dict[str, Any] = {"on": bool(there) and stuck is None, "text": "Worker: polling"}
    worker["workers"] = [
        {"identity": w, "there": s.alive, "sign": s.why} for w, s in sorted(verdict.items())
    ]
    if worker["on"]:
        named = ", ".join(there[:2]) + (f" and {len(there) - 2} more" if len(there) > 2 else "")
        worker["detail"] = f"{len(there)} worker{'s' * (len(there) > 1)}: {named}"
        return {"temporal": temporal_light(), "worker": worker}
    worker["text"] = "Worker: none polling"
    gone = max(verdict.items(), key=lambda item: item[1].at, default=None)
    if stuck is not None:
        worker["detail"] = f"a task has waited {stuck:.0f} s and nobody took it"
    elif gone:
        who, sign = gone
        ago = seconds(sign.since or sign.at, now)
        worker["detail"] = {
            "stopped": f"{who} stopped {ago:.0f} s ago",
            "silent": f"{who}: no heartbeat for {ago:.0f} s",
            "no poll": f"{who}: no poll for {ago:.0f} s",
            "not polling": f"{who} takes no work",
        }.get(sign.why, f"{who} is gone")
    else:
        worker["detail"] = "no worker has polled this task queue"
    return {"temporal": temporal_light(), "worker": worker}


def history_signs(run: Run) -> dict[str, list[Sign]]:
    """The workers that started or finished a task of the run, and when (alive then)."""
    signs: dict[str, list[Sign]] = {}
    for event in run.events:
        if attrs := BY_A_WORKER.get(event.event_type):
            who = getattr(event, attrs).identity
            signs.setdefault(who, []).append(Sign(ts(event.event_time), True, "task"))
    for pending in run.pending_activities:
        if pending.last_worker_identity and (when := ts(pending.last_started_time)):
            signs.setdefault(pending.last_worker_identity, []).append(Sign(when, True, "task"))
    return signs


def answer(run: Run, workers: Workers, now: datetime, standin: dict | None = None) -> dict:
    """The run's status, its result, the status line, the timeline rows and the lights."""
    verdict = workers.verdict(history_signs(run))
    for who, sign in verdict.items():  # the memory: a sign survives its worker's record
        last = sign.since or sign.at  # its last word, not when its silence began
        run.last_known[who] = max(last, run.last_known.get(who, last))
    closed = CLOSED.get(run.events[-1].event_type)
    status = closed or "RUNNING"
    out: dict[str, Any] = {"workflow_id": run.workflow_id, "status": status}
    out.update(input=run.values.get(run.events[0].event_id), result=None, error=None)
    out["timeline"] = timeline(run, verdict, workers.started, now, standin)

    def no_worker(kind: int, since: datetime | None) -> float | None:
        """How long a task waiting since ``since`` has had nobody to take it (None: someone)."""
        if since is None:
            return None
        polled = workers.polled.get(kind)
        if not any(sign.alive for sign in verdict.values()):
            return seconds(since, now)
        if seconds(since, workers.at) > NO_WORKER_AFTER and (polled is None or polled < since):
            for who, sign in verdict.items():  # none of them takes work: remembered
                if sign.alive and who not in workers.not_polling:
                    gone = since + timedelta(seconds=NO_WORKER_AFTER)
                    workers.not_polling[who] = Sign(gone, False, "not polling", sign.at)
            return seconds(since, now)
        return None

    if status == "COMPLETED":
        out["result"] = copy.deepcopy(run.values.get(run.events[-1].event_id))  # the caller's
        out["progress"] = {"step": "done", "message": "Done"}
    elif status == "FAILED":
        out["error"] = failure_message(run.events[-1])
        out["progress"] = {"step": "failed", "message": out["error"]}
    elif closed:
        out["progress"] = {"step": status.lower(), "message": f"The run is {status}"}
    else:
        out["progress"] = progress(run, out["timeline"], no_worker, now)
    out["lights"] = lights(verdict, now, out["progress"].get("waited_seconds"))
    until = ts(run.events[-1].event_time) if closed else now
    out["progress"]["elapsed_seconds"] = round(seconds(ts(run.events[0].event_time), until), 1)
    out["standin_calls"], out["standin_calls_at_start"] = standin, run.calls_at_start
    return out


def failure_message(closing_event) -> str:
    """The root cause of a failed run, e.g. the service's own message."""
    failure = closing_event.workflow_execution_failed_event_attributes.failure
    while failure.HasField("cause"):
        failure = failure.cause
    return failure.message or "The run failed."


def workflow_task_waiting(run: Run) -> datetime | None:
    """When the run's workflow task was scheduled, if no worker has started it yet."""
    for event in reversed(run.events):
        if event.event_type == E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
            return ts(event.event_time)
        if event.event_type == E.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            return None
    return None


def progress(run: Run, rows: list[dict], no_worker, now: datetime) -> dict:
    """The status line of a running run: the first pending activity, else its timer, else its
    workflow task; ``waited_seconds`` when a task waits with no worker to take it."""
    out: dict[str, Any] = {"waiting_for_worker": False, "details": []}
    # The description may be older than the history: an activity done since is not pending.
    undone = {
        r["activity_id"]: r for r in rows if r["state"] in ("scheduled", "running", "retrying")
    }
    pending = next((p for p in run.pending_activities if p.activity_id in undone), None)
    if pending is not None:
        name, row = pending.activity_type.name, undone[pending.activity_id]
        out.update(step=name, attempt=pending.attempt, message=f"Running {name}")
        if pending.HasField("last_failure"):
            out["last_error"] = failure_text(pending.last_failure)
            out["message"] = f"{name} failed (attempt {pending.attempt - 1}); Temporal retries it"
            out["details"].append(f"Last error: {out['last_error']}")
            out["next_retry_in_seconds"] = row.get("next_retry_in_seconds")
            if "countdown" in row:
                out["details"].append(row["countdown"])
        next_try = ts(pending.next_attempt_schedule_time)
        if pending.state == PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED and (
            next_try is None or next_try <= now
        ):
            waited = no_worker(ACTIVITY, next_try or ts(pending.scheduled_time))
            if waited is not None:
                out.update(waiting_for_worker=True, waited_seconds=waited, hint=NO_WORKER_HINT)
                out["message"] = f"{name} is waiting: no worker is picking up work"
                out["details"] = [NO_WORKER_HINT]
        return out
    if undone:  # not described yet: what the history says
        row = next(iter(undone.values()))
        out.update(step=row["step"], attempt=row["attempt"], message=f"Running {row['step']}")
        return out
    if failed := workflow_task_failed(run):
        return stuck(run, failed, out, no_worker, now)
    timer = next((r for r in rows if r["step"] == "timer" and r["state"] == "waiting"), None)
    if timer is not None:
        out.update(step="timer", timer_seconds_left=timer["fires_in_seconds"])
        out["countdown"] = {**timer["countdown"], "text": "Sleeping on a durable timer: {s} s left"}
        out["countdown"]["done"] = "The timer is firing..."
        out["message"] = (
            f"Sleeping on a durable timer: {math.ceil(timer['fires_in_seconds'])} s left"
        )
        return out
    if scheduled := workflow_task_waiting(run):
        waited = no_worker(WORKFLOW, scheduled)
        if waited is not None:
            fired = any(e.event_type == E.EVENT_TYPE_TIMER_FIRED for e in run.events)
            message = "The timer fired; no worker" if fired else "No worker"
            out.update(step="waiting_for_worker", waiting_for_worker=True, waited_seconds=waited)
            out.update(message=f"{message} is picking up work", hint=NO_WORKER_HINT)
            out["details"] = [NO_WORKER_HINT]
            return out
    out.update(step="workflow", message="The workflow is deciding its next step")
    return out


def workflow_task_failed(run: Run):
    """The run's last workflow task event, if it is a failure (no task has completed since)."""
    for event in reversed(run.events):
        if event.event_type == E.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            return event
        if event.event_type == E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            return None
    return None


def stuck(run: Run, failed, out: dict, no_worker, now: datetime) -> dict:
    """A workflow task failed (demo 6: the code does not match the history): what Temporal
    reported, that the run is safe, and when a worker gets the task again.

    The SDK reports a workflow task's failure once, on its first attempt; a worker whose code
    still does not match takes each retry and drops it, and Temporal gives the task out again
    only once the dropped attempt times out (the run's workflow task timeout, 10 s)."""
    attrs = failed.workflow_task_failed_event_attributes
    mismatch = attrs.cause == MISMATCH
    reported = demo_support.short_error(attrs.failure.message) or "no reason given"
    what = "the worker's code does not match the run's history" if mismatch else "it failed"
    out.update(step="workflow_task_failed", mismatch=mismatch, reported=reported)
    out["message"] = f"A workflow task failed: {what}"
    out["details"] = [f"Temporal reported: {reported}", SAFE]
    task = run.pending_workflow_task
    if task is None:
        return out
    out["attempt"] = task.attempt
    if task.state == PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_STARTED:
        timeout = timedelta(seconds=run.workflow_task_timeout)
        left = round(seconds(now, ts(task.started_time) + timeout), 1)
        out["details"].append(
            {
                "seconds": left,
                "text": f"Attempt {task.attempt} is with a worker; if it drops it, Temporal"
                " gives the task out again in {s} s",
                "done": f"Temporal gives the task out again (attempt {task.attempt + 1})",
            }
        )
    elif (waited := no_worker(WORKFLOW, ts(task.scheduled_time))) is not None:
        out.update(waiting_for_worker=True, waited_seconds=waited)
        out["details"].append(
            f"Attempt {task.attempt} waits: no worker is polling. Start one whose code matches."
        )
    else:
        out["details"].append(f"Attempt {task.attempt} is due: Temporal gives it to a worker")
    return out


def timeline(
    run: Run, verdict: dict[str, Sign], started: dict[str, datetime], now: datetime, standin
) -> list[dict]:
    """The run's steps so far, oldest first: each one a row, with the words the page shows."""
    rows: list[dict] = []
    steps: dict[int, dict] = {}  # activity and timer rows, by the event id that began them
    owner: dict[int, int] = {}  # each event of a step: the index of its row
    for event in run.events:
        kind, when = event.event_type, ts(event.event_time)
        if kind == E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attrs = event.activity_task_scheduled_event_attributes
            row = {"step": attrs.activity_type.name, "state": "scheduled", "text": "Scheduled"}
            row.update(attempt=1, activity_id=attrs.activity_id, failures=[], _scheduled=when)
            steps[event.event_id] = row
            rows.append(row)
        elif kind == E.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attrs = event.activity_task_started_event_attributes
            row = steps[attrs.scheduled_event_id]
            row.update(attempt=attrs.attempt, worker=attrs.identity)
            if attrs.HasField("last_failure") and attrs.attempt > 1:
                row["last_failure"] = failure_text(attrs.last_failure)
        elif kind == E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            row = steps[event.activity_task_completed_event_attributes.scheduled_event_id]
            result, took = (
                run.values.get(event.event_id),
                round(seconds(row["_scheduled"], when), 2),
            )
            row.update(state="completed", result=result, duration_seconds=took, _done=when)
            row["text"] = f"{result} in {took:.2f} s" if isinstance(result, str) else "Done"
        elif kind in (E.EVENT_TYPE_ACTIVITY_TASK_FAILED, E.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT):
            name = "failed" if kind == E.EVENT_TYPE_ACTIVITY_TASK_FAILED else "timed_out"
            attrs = getattr(event, f"activity_task_{name}_event_attributes")
            row = steps[attrs.scheduled_event_id]
            row.update(state="failed", text=f"Failed for good: {failure_text(attrs.failure)}")
        elif kind == E.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            rows.append(replay_row(event.workflow_task_failed_event_attributes, owner))
        elif kind == E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED and replay_pending(rows):
            rows[-1].update(
                state="replayed", worker=event.workflow_task_completed_event_attributes.identity
            )
            rows[-1]["text"] = (
                "A worker whose code matches replayed the history and took the run on"
            )
        elif kind == E.EVENT_TYPE_TIMER_STARTED:
            rows.append(timer_row(event, now))
            steps[event.event_id] = rows[-1]
        elif kind == E.EVENT_TYPE_TIMER_FIRED:
            timer_fired(steps[event.timer_fired_event_attributes.started_event_id], when)
        elif kind in CLOSED:
            done = kind == E.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED
            words = "The greeting is ready" if done else f"The run is {CLOSED[kind]}"
            words = "The run failed" if kind == E.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED else words
            rows.append({"step": "greeting", "state": "completed" if done else "failed"})
            rows[-1]["text"] = words
        if (begun := begun_by(event)) in steps:
            owner[event.event_id] = next(i for i, r in enumerate(rows) if r is steps[begun])
    activities = [r for r in rows if "activity_id" in r]
    for pending in run.pending_activities:
        row = next((r for r in activities if r["activity_id"] == pending.activity_id), None)
        if row is not None and row["state"] == "scheduled":  # not done since it was described
            pending_row(row, pending, now)
    for row in activities:
        failed_attempts(row, run.failures)
        taken_from_history(row, run, verdict, started)
        if note := calls_note(row, standin, run.calls_at_start):
            row["calls"] = note
        for key in [k for k in row if k.startswith("_")]:
            del row[key]
    return rows


def replay_pending(rows: list[dict]) -> bool:
    """The last row is a failed workflow task that no task has completed since."""
    return bool(rows) and rows[-1]["step"] == "replay" and rows[-1]["state"] != "replayed"


def begun_by(event) -> int:
    """The id of the event that began the step an event belongs to (itself, for a step's
    first event): an activity's Scheduled event, a timer's Started event."""
    for name in ("activity_task_started", "activity_task_completed", "activity_task_failed",
                 "activity_task_timed_out", "activity_task_canceled"):  # fmt: skip
        if event.HasField(f"{name}_event_attributes"):
            return getattr(event, f"{name}_event_attributes").scheduled_event_id
    if event.HasField("timer_fired_event_attributes"):
        return event.timer_fired_event_attributes.started_event_id
    return event.event_id


def replay_row(attrs, owner: dict[int, int] | None = None) -> dict:
    """A failed workflow task: in demo 6, the new code and the run's history disagree.

    The SDK's message names the event of the history where the new code expected something
    else ("HistoryEvent(id: 11, TimerStarted)"): ``at_row`` is the timeline row of that
    event's step (the page marks that step's line in the code view), ``event`` its words."""
    reported = demo_support.short_error(attrs.failure.message)
    if attrs.cause == MISMATCH:
        text = f"The code does not match the history: {reported}"
        row = {"step": "replay", "state": "mismatch", "text": text, "reported": reported}
        if found := re.search(r"HistoryEvent\(id: (\d+), (\w+)\)", reported):
            row["event"] = f"event {found[1]}, {found[2]}"
            if (owner or {}).get(int(found[1])) is not None:
                row["at_row"] = owner[int(found[1])]
        return row
    text = f"A workflow task failed: {reported}"
    return {"step": "replay", "state": "task failed", "text": text, "reported": reported}


def timer_row(event, now: datetime) -> dict:
    due = event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta().total_seconds()
    started = ts(event.event_time)
    left = round(max(0.0, due - seconds(started, now)), 1)
    row = {"step": "timer", "state": "waiting", "timer_seconds": due, "fires_in_seconds": left}
    row["text"] = f"Durable timer: {due:.0f} s"
    row["countdown"] = {
        "seconds": left,
        "text": "Fires in {s} s (it counts in Temporal, worker or not)",
    }
    row["countdown"]["done"] = "Firing..."
    row["_started"] = started
    return row


def timer_fired(row: dict, when: datetime) -> None:
    took, due = seconds(row.pop("_started"), when), row["timer_seconds"]
    row.update(state="fired", fires_in_seconds=0, fired_after_seconds=round(took, 1))
    del row["countdown"]
    row["text"] = f"Fired after {due:.0f} s"
    if took > due + LATE:  # e.g. the service was down when it was due
        row["text"] = f"Fired after {took:.0f} s (it was due at {due:.0f} s)"


def pending_row(row: dict, pending, now: datetime) -> None:
    """An activity not done yet: running, waiting for a worker, or waiting to be retried."""
    row["attempt"] = pending.attempt
    if pending.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED:
        row.update(state="running", text=f"Running (attempt {pending.attempt})")
    else:
        row.update(state="scheduled", text=f"Waiting for a worker (attempt {pending.attempt})")
    if pending.HasField("last_failure"):
        row["last_failure"] = failure_text(pending.last_failure)
        next_try = ts(pending.next_attempt_schedule_time)
        if next_try is not None and next_try > now:
            failed, left = pending.attempt - 1, round(seconds(now, next_try), 1)
            row.update(state="retrying", next_retry_in_seconds=left)
            row["text"] = f"Failed {times(failed)}: Temporal retries it"
            row["countdown"] = {"seconds": left, "text": f"Attempt {pending.attempt} in {{s}} s"}
            row["countdown"]["done"] = f"Attempt {pending.attempt} is due"


def failed_attempts(row: dict, seen: dict[tuple[str, int], str]) -> None:
    """Attempts 1 .. n that failed, each with the error the app saw (None: it did not see it)."""
    failed = row["attempt"] if row["state"] == "failed" else row["attempt"] - 1
    for attempt in range(1, failed + 1):
        error = seen.get((row["activity_id"], attempt))
        if error is None and attempt == failed:
            error = row.get("last_failure")  # Temporal keeps the last one
        row["failures"].append({"attempt": attempt, "error": error})


def taken_from_history(
    row: dict, run: Run, verdict: dict[str, Sign], started: dict[str, datetime]
) -> None:
    """A step done by a worker that was gone when another one took the run over: that one
    replayed the history and used the step's recorded result (it did not run it again).
    Two workers taking turns is no takeover: the first one is still there."""
    done, by = row.get("_done"), row.get("worker")
    if done is None or not by or (verdict.get(by) and verdict[by].alive):
        return
    last_seen = run.last_known.get(by)
    for event in run.events:
        who, when = event.workflow_task_started_event_attributes.identity, ts(event.event_time)
        if event.event_type != E.EVENT_TYPE_WORKFLOW_TASK_STARTED or when <= done or who == by:
            continue
        if last_seen is None or last_seen < when:  # the first task after it was gone
            row["from_history"] = True
            was_there = started.get(who) and last_seen and started[who] < last_seen
            kind = "another" if was_there else "a restarted"
            row["note"] = f"Taken from the history by {kind} worker: not run again"
            return


def calls_note(row: dict, calls: dict | None, at_start: dict | None) -> str | None:
    """The stand-in's own count of the calls for this step (offline), in words."""
    step = row["step"]
    if not calls or (step not in calls and not calls.get("down")):
        return None
    if calls.get("down"):
        return "Stand-in services: down (no call answered)"
    if at_start and at_start.get("started") == calls.get("started"):
        return f"Stand-in answered {step} {times(calls[step] - at_start[step])} for this run"
    done = row.get("_done")
    if done is not None and done.timestamp() < calls["started"]:
        return (
            f"Stand-in restarted after this step; it has answered {step} {times(calls[step])} since"
        )
    return f"Stand-in answered {step} {times(calls[step])} since it started"
