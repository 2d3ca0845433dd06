"""A run in the page's words: the status line, the timeline and the lights, from one set of
facts (``Run``, ``Workers``; the reader fetches them, this module does no I/O).

Is a worker there? One rule for all three: each worker's newest sign wins. Its heartbeats
(ListWorkers, every second here) say alive, or gone (SHUTTING_DOWN: a Ctrl-C; silent for two
intervals and 1.5 s: a kill -9); from its second heartbeat on they alone decide (Temporal
records polls for a dead worker). Before that, its polls decide (gone once IDLE_POLL old). A
task waiting NO_WORKER_AFTER with no poll since it was scheduled means nobody takes work.
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
BEATS = ("heartbeat", "first", "silent", "stopped")  # the signs heartbeats give
NO_WORKER_HINT = "Is worker.py running? Start it and the run continues where it stopped."
MISMATCH = WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR
SAFE = "The run is safe, not failed: nothing is lost. It waits for a worker whose code matches."
STOPPED = (WorkerStatus.WORKER_STATUS_SHUTTING_DOWN, WorkerStatus.WORKER_STATUS_SHUTDOWN)
CLOSED = {
    E.Value(f"EVENT_TYPE_WORKFLOW_EXECUTION_{closed}"): closed
    for closed in ("COMPLETED", "FAILED", "TIMED_OUT", "CANCELED", "TERMINATED", "CONTINUED_AS_NEW")
}
ACTIVITY_ENDS = {
    E.Value(f"EVENT_TYPE_ACTIVITY_TASK_{end}")
    for end in ("COMPLETED", "FAILED", "TIMED_OUT", "CANCELED")
}
BY_A_WORKER = {  # the events that name the worker that started or finished a task
    E.Value(f"EVENT_TYPE_{task}")
    for task in ("WORKFLOW_TASK_STARTED", "WORKFLOW_TASK_COMPLETED", "ACTIVITY_TASK_STARTED")
    + ("ACTIVITY_TASK_COMPLETED", "ACTIVITY_TASK_FAILED")
}
LATER = {*ACTIVITY_ENDS, E.EVENT_TYPE_ACTIVITY_TASK_STARTED, E.EVENT_TYPE_TIMER_FIRED}  # of a step


def attributes(event):
    """An event's own attributes (activity_task_completed_event_attributes...)."""
    return getattr(event, event.WhichOneof("attributes"))


def ts(value) -> datetime | None:
    """A protobuf Timestamp as an aware datetime (None when unset)."""
    return value.ToDatetime(tzinfo=timezone.utc) if value and value.ToNanoseconds() else None


def seconds(since: datetime, until: datetime) -> float:
    return max(0.0, (until - since).total_seconds())


def failure_text(failure) -> str:
    """An activity failure as "KeyError: 'cty'". Over 4 KB the server keeps "Failure exceeds
    size limit." with the original, cut short, as its cause: the page shows the original."""
    if failure.HasField("server_failure_info") and failure.HasField("cause"):
        failure = failure.cause
    kind = failure.application_failure_info.type
    message = demo_support.short_error(failure.message)
    return f"{kind}: {message}" if kind else message


def times(n: int) -> str:
    return f"{n} time{'' if n == 1 else 's'}"


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
    began: dict[str, datetime] = field(default_factory=dict)  # by identity: not started before

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
    why: str  # heartbeat, first (heartbeat), stopped, silent, polling, no poll
    since: datetime | None = None  # silent, no poll: its last heartbeat or poll


@dataclass
class Workers:
    """The task queue's workers, as Temporal listed them in a reading asked for at ``at``."""

    at: datetime
    verdict: dict[str, Sign] = field(default_factory=dict)  # each one's newest sign, by identity
    polled: dict[int, datetime] = field(default_factory=dict)  # newest poll, by task type
    started: dict[str, datetime] = field(default_factory=dict)  # by identity (heartbeats)
    absent: dict[str, datetime] = field(default_factory=dict)  # a reading that did not list it

    @classmethod
    def read(cls, heartbeats, pollers: dict, at: datetime, before: Workers | None) -> Workers:
        """From ListWorkers' heartbeats and DescribeTaskQueue's pollers (by task type)."""
        workers, signs = cls(at), {}
        for beat in heartbeats:
            when, who = ts(beat.heartbeat_time), beat.worker_identity
            if when is None:
                continue
            if start := ts(beat.start_time):
                workers.started[who] = start
            interval = beat.elapsed_since_last_heartbeat.ToTimedelta().total_seconds()
            why = "stopped" if beat.status in STOPPED else "heartbeat" if interval else "first"
            signs.setdefault(who, []).append(Sign(when, why != "stopped", why))
            silent_from = when + timedelta(seconds=2 * (interval or SDK_HEARTBEAT) + 1.5)
            if why != "stopped" and silent_from < at:
                signs[who].append(Sign(silent_from, False, "silent", when))
        for kind, listed in pollers.items():
            for poller in listed:
                if (when := ts(poller.last_access_time)) is None:
                    continue
                workers.polled[kind] = max(when, workers.polled.get(kind, when))
                beats = signs.setdefault(poller.identity, [])
                idle_from = when + timedelta(seconds=IDLE_POLL)
                if not any(s.why in BEATS for s in beats) and idle_from < at:
                    beats.append(Sign(idle_from, False, "no poll", when))
                beats.append(Sign(when, True, "polling"))
        for who, found in signs.items():  # heartbeats that tell their interval decide alone
            newest = max((s for s in found if s.why in BEATS), key=newest_first, default=None)
            workers.verdict[who] = (
                newest if newest and newest.why != "first" else max(found, key=newest_first)
            )
        for who in workers.verdict if before else ():  # listed now, not then: started since
            if who not in workers.started and who in before.started:
                workers.started[who] = before.started[who]
            if absent := before.absent.get(who) or (who not in before.verdict and before.at):
                workers.absent[who] = absent
        return workers

    def there(self) -> set[str]:
        return {who for who, sign in self.verdict.items() if sign.alive}

    def not_listed_at(self, who: str, when: datetime) -> datetime | None:
        """A reading that did not list the worker, before its task at ``when`` (it started
        after it); None: none did."""
        return self.absent.get(who) or (who not in self.verdict and self.at <= when and self.at)


def newest_first(sign: Sign) -> tuple:  # on a tie, gone
    return sign.at, not sign.alive


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
    worker: dict[str, Any] = {"on": bool(there) and stuck is None}
    gone = max(verdict.items(), key=lambda item: item[1].at, default=None)
    worker["text"] = "Worker: polling" if worker["on"] else "Worker: none polling"
    if worker["on"]:
        named = ", ".join(there[:2]) + (f" and {len(there) - 2} more" if len(there) > 2 else "")
        worker["detail"] = f"{len(there)} worker{'s' * (len(there) > 1)}: {named}"
    elif stuck is not None:
        worker["detail"] = f"a task has waited {stuck:.0f} s and nobody took it"
    elif gone:
        who, sign = gone
        ago = seconds(sign.since or sign.at, now)
        worker["detail"] = {
            "stopped": f"{who} stopped {ago:.0f} s ago",
            "silent": f"{who}: no heartbeat for {ago:.0f} s",
            "no poll": f"{who}: no poll for {ago:.0f} s",
        }.get(sign.why, f"{who} is gone")
    else:
        worker["detail"] = "no worker has polled this task queue"
    return {"temporal": temporal_light(), "worker": worker}


def history_signs(run: Run):
    """The workers that started or finished a task of the run, and when (alive then)."""
    for event in run.events:
        if event.event_type in BY_A_WORKER:
            yield attributes(event).identity, Sign(ts(event.event_time), True, "task")
    for pending in run.pending_activities:
        if pending.last_worker_identity and (when := ts(pending.last_started_time)):
            yield pending.last_worker_identity, Sign(when, True, "task")


def answer(run: Run, workers: Workers, now: datetime, standin: dict | None = None) -> dict:
    """The run's status, its result, the status line, the timeline rows and the lights."""
    verdict = dict(workers.verdict)
    for who, sign in history_signs(run):  # alive then; heartbeats that tell their interval win
        mine = verdict.get(who)
        if mine is None or (
            mine.why in ("first", "polling", "no poll", "task") and mine.at < sign.at
        ):
            verdict[who] = sign
    for who, sign in verdict.items():  # the memory: a sign survives its worker's record
        last = sign.since or sign.at  # its last word, not when its silence began
        run.last_known[who] = max(last, run.last_known.get(who, last))
    for event in run.events:
        if event.event_type == E.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            who = event.workflow_task_started_event_attributes.identity
            if start := workers.started.get(who):  # its heartbeats' start: exact
                run.began[who] = start
            elif bound := workers.not_listed_at(who, ts(event.event_time)):
                run.began.setdefault(who, bound)
    closed = CLOSED.get(run.events[-1].event_type)
    status = closed or "RUNNING"
    out: dict[str, Any] = {"workflow_id": run.workflow_id, "status": status}
    out.update(input=run.values.get(run.events[0].event_id), result=None, error=None)
    out["timeline"] = timeline(run, verdict, now, standin)

    def no_worker(kind: int, since: datetime | None) -> float | None:
        """How long a task waiting since ``since`` has had nobody to take it (None: someone)."""
        if since is None:
            return None
        polled = workers.polled.get(kind)
        untaken = seconds(since, workers.at) > NO_WORKER_AFTER and (not polled or polled < since)
        nobody = not any(sign.alive for sign in verdict.values())
        return seconds(since, now) if nobody or untaken else None

    if status == "COMPLETED":
        out["result"] = copy.deepcopy(run.values.get(run.events[-1].event_id))  # the caller's
        out["progress"] = {"step": "done", "message": "Done"}
    elif status == "FAILED":
        failure = run.events[-1].workflow_execution_failed_event_attributes.failure
        while failure.HasField("cause"):  # the root cause, e.g. the service's own message
            failure = failure.cause
        out["error"] = failure.message or "The run failed."
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


def newest(run: Run, found, passed):
    """The newest event of type ``found``, unless one of type ``passed`` came after it."""
    for event in reversed(run.events):
        if event.event_type in (found, passed):
            return event if event.event_type == found else None
    return None


def workflow_task_failed(run: Run):
    """The run's last workflow task failure, if no task has completed since."""
    return newest(run, E.EVENT_TYPE_WORKFLOW_TASK_FAILED, E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)


def waiting(out: dict, waited: float, message: str) -> dict:
    out.update(waiting_for_worker=True, waited_seconds=waited)
    out.update(message=message, details=[NO_WORKER_HINT])
    return out


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
            out["details"] += [row["countdown"]] if "countdown" in row else []
        next_try = ts(pending.next_attempt_schedule_time)
        if pending.state == PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED and (
            next_try is None or next_try <= now
        ):
            waited = no_worker(ACTIVITY, next_try or ts(pending.scheduled_time))
            if waited is not None:
                waiting(out, waited, f"{name} is waiting: no worker is picking up work")
        return out
    if undone:  # not described yet: what the history says
        row = next(iter(undone.values()))
        out.update(step=row["step"], attempt=row["attempt"], message=f"Running {row['step']}")
        return out
    if failed := workflow_task_failed(run):
        return stuck(run, failed, out, no_worker, now)
    timer = next((r for r in rows if r["step"] == "timer" and r["state"] == "waiting"), None)
    if timer is not None:
        left = timer["fires_in_seconds"]
        out["step"] = "timer"
        out["countdown"] = {**timer["countdown"], "text": "Sleeping on a durable timer: {s} s left"}
        out["countdown"]["done"] = "The timer is firing..."
        out["message"] = f"Sleeping on a durable timer: {math.ceil(left)} s left"
        return out
    scheduled = newest(
        run, E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, E.EVENT_TYPE_WORKFLOW_TASK_STARTED
    )
    if scheduled and (waited := no_worker(WORKFLOW, ts(scheduled.event_time))) is not None:
        fired = any(e.event_type == E.EVENT_TYPE_TIMER_FIRED for e in run.events)
        out["step"] = "waiting_for_worker"
        return waiting(
            out, waited, f"{'The timer fired; no' if fired else 'No'} worker is picking up work"
        )
    out.update(step="workflow", message="The workflow is deciding its next step")
    return out


def stuck(run: Run, failed, out: dict, no_worker, now: datetime) -> dict:
    """A workflow task failed (demo 6: the code does not match the history): what Temporal
    reported, that the run is safe, and when a worker gets the task again (a worker whose code
    still does not match drops each retry, given out again once it times out)."""
    attrs = failed.workflow_task_failed_event_attributes
    mismatch = attrs.cause == MISMATCH
    reported = demo_support.short_error(attrs.failure.message) or "no reason given"
    what = "the worker's code does not match the run's history" if mismatch else "it failed"
    out["step"] = "workflow_task_failed"
    out["message"] = f"A workflow task failed: {what}"
    out["details"] = [f"Temporal reported: {reported}", SAFE]
    if (task := run.pending_workflow_task) is None:
        return out
    out["attempt"] = n = task.attempt
    if task.state == PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_STARTED:
        left = seconds(now, ts(task.started_time) + timedelta(seconds=run.workflow_task_timeout))
        out["details"].append(
            {
                "seconds": round(left, 1),
                "text": f"Attempt {n} is with a worker; if it drops it, Temporal"
                " gives the task out again in {s} s",
                "done": f"Temporal gives the task out again (attempt {n + 1})",
            }
        )
    elif (waited := no_worker(WORKFLOW, ts(task.scheduled_time))) is not None:
        out.update(waiting_for_worker=True, waited_seconds=waited)
        out["details"].append(
            f"Attempt {n} waits: no worker is polling. Start one whose code matches."
        )
    else:
        out["details"].append(f"Attempt {n} is due: Temporal gives it to a worker")
    return out


def timeline(run: Run, verdict: dict[str, Sign], now: datetime, standin) -> list[dict]:
    """The run's steps so far, oldest first: each one a row, with the words the page shows."""
    rows: list[dict] = []
    steps: dict[int, dict] = {}  # activity and timer rows, by the event id that began them
    owner: dict[int, int] = {}  # each event of a step: the index of its row
    for event in run.events:
        kind, when, row = event.event_type, ts(event.event_time), None
        new = kind in (E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, E.EVENT_TYPE_TIMER_STARTED)
        if kind == E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attrs = event.activity_task_scheduled_event_attributes
            row = {"step": attrs.activity_type.name, "state": "scheduled", "text": "Scheduled"}
            row.update(attempt=1, activity_id=attrs.activity_id, failures=[], _scheduled=when)
        elif kind == E.EVENT_TYPE_TIMER_STARTED:
            row = timer_row(event, now)
        elif kind in LATER:
            attrs = attributes(event)
            begun = attrs.started_event_id if kind == E.EVENT_TYPE_TIMER_FIRED else None
            row = steps[begun or attrs.scheduled_event_id]
            later_event(row, kind, attrs, when, run.values.get(event.event_id))
        elif kind == E.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            rows.append(replay_row(event.workflow_task_failed_event_attributes, owner))
        elif kind == E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED and rows and rows[-1]["step"] == "replay":
            if rows[-1]["state"] != "replayed":  # a worker whose code matches took it on
                rows[-1].update(
                    state="replayed",
                    worker=event.workflow_task_completed_event_attributes.identity,
                    text="A worker whose code matches replayed the history and took the run on",
                )
        elif kind in CLOSED:
            done = kind == E.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED
            words = "The greeting is ready" if done else f"The run is {CLOSED[kind]}"
            words = "The run failed" if kind == E.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED else words
            rows.append({"step": "greeting", "state": "completed" if done else "failed"})
            rows[-1]["text"] = words
        if new:
            steps[event.event_id], row["_index"] = row, len(rows)
            rows.append(row)
        if row is not None:
            owner[event.event_id] = row["_index"]
    for row in (r for r in rows if "activity_id" in r):
        activity_row(row, run, verdict, now, standin)
    for row in rows:
        for key in [k for k in row if k.startswith("_")]:
            del row[key]
    return rows


def later_event(row: dict, kind, attrs, when: datetime, value) -> None:
    """An activity's start or end, or a timer's firing, in the step's row."""
    if kind == E.EVENT_TYPE_ACTIVITY_TASK_STARTED:
        row.update(attempt=attrs.attempt, worker=attrs.identity)
        if attrs.HasField("last_failure") and attrs.attempt > 1:
            row["last_failure"] = failure_text(attrs.last_failure)
    elif kind == E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
        took = round(seconds(row["_scheduled"], when), 2)
        row.update(state="completed", result=value, duration_seconds=took, _done=when)
        row["text"] = f"{value} in {took:.2f} s" if isinstance(value, str) else "Done"
    elif kind in (E.EVENT_TYPE_ACTIVITY_TASK_FAILED, E.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT):
        row.update(state="failed", text=f"Failed for good: {failure_text(attrs.failure)}")
    elif kind == E.EVENT_TYPE_TIMER_FIRED:
        took, due = round(seconds(row.pop("_started"), when), 1), row["timer_seconds"]
        row.update(state="fired", fires_in_seconds=0, fired_after_seconds=took)  # one rounding
        del row["countdown"]
        row["text"] = f"Fired after {due:.0f} s"
        if took > due + LATE:  # e.g. the service was down when it was due
            row["text"] = f"Fired after {took:.0f} s (it was due at {due:.0f} s)"


def replay_row(attrs, owner: dict[int, int]) -> dict:
    """A failed workflow task: in demo 6, the new code and the run's history disagree. The
    SDK's message names the event where the new code expected something else: ``at_row`` is
    the row of that event's step (marked in the code view), ``event`` its words."""
    reported = demo_support.short_error(attrs.failure.message)
    if attrs.cause != MISMATCH:
        text = f"A workflow task failed: {reported}"
        return {"step": "replay", "state": "task failed", "text": text, "reported": reported}
    text = f"The code does not match the history: {reported}"
    row = {"step": "replay", "state": "mismatch", "text": text, "reported": reported}
    if found := re.search(r"HistoryEvent\(id: (\d+), (\w+)\)", reported):
        row["event"] = f"event {found[1]}, {found[2]}"
        if (at := owner.get(int(found[1]))) is not None:
            row["at_row"] = at
    return row


def timer_row(event, now: datetime) -> dict:
    due = event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta().total_seconds()
    started = ts(event.event_time)
    left = round(max(0.0, due - seconds(started, now)), 1)
    row = {"step": "timer", "state": "waiting", "timer_seconds": due, "fires_in_seconds": left}
    text = "Fires in {s} s (it counts in Temporal, worker or not)"
    row.update(text=f"Durable timer: {due:.0f} s", _started=started)
    row["countdown"] = {"seconds": left, "text": text, "done": "Firing..."}
    return row


def activity_row(row: dict, run: Run, verdict: dict[str, Sign], now: datetime, standin) -> None:
    """An activity's row, with what the description and the app add: its pending attempt, the
    errors of its failed attempts, whether it was taken from the history, the stand-in's count."""
    pending = next((p for p in run.pending_activities if p.activity_id == row["activity_id"]), None)
    if pending is not None and row["state"] == "scheduled":  # not done since it was described
        pending_row(row, pending, now)
    failed = row["attempt"] if row["state"] == "failed" else row["attempt"] - 1
    for attempt in range(1, failed + 1):  # each with the error the app saw (None: unseen)
        error = run.failures.get((row["activity_id"], attempt))
        if error is None and attempt == failed:
            error = row.get("last_failure")  # Temporal keeps the last one
        row["failures"].append({"attempt": attempt, "error": error})
    taken_from_history(row, run, verdict)
    if note := calls_note(row, standin, run.calls_at_start):
        row["calls"] = note


def pending_row(row: dict, pending, now: datetime) -> None:
    """An activity not done yet: running, waiting for a worker, or waiting to be retried."""
    n = row["attempt"] = pending.attempt
    if pending.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED:
        row.update(state="running", text=f"Running (attempt {n})")
    else:
        row.update(state="scheduled", text=f"Waiting for a worker (attempt {n})")
    if pending.HasField("last_failure"):
        row["last_failure"] = failure_text(pending.last_failure)
        next_try = ts(pending.next_attempt_schedule_time)
        if next_try is not None and next_try > now:
            left = round(seconds(now, next_try), 1)
            row.update(state="retrying", next_retry_in_seconds=left)
            row["text"] = f"Failed {times(n - 1)}: Temporal retries it"
            row["countdown"] = {"seconds": left, "text": f"Attempt {n} in {{s}} s"}
            row["countdown"]["done"] = f"Attempt {n} is due"


def taken_from_history(row: dict, run: Run, verdict: dict[str, Sign]) -> None:
    """A step done before another worker took the run on: that one replayed the history and
    used the step's result (not run again). It is so when that worker started after the step
    was done (a restart: kill -9 sends no word, its heartbeats need not stop first), or once
    the step's own worker was gone. Two live workers taking turns is neither."""
    done, by = row.get("_done"), row.get("worker")
    if done is None or not by:
        return
    gone, last_seen = not (verdict.get(by) and verdict[by].alive), run.last_known.get(by)
    for event in run.events:
        who, when = event.workflow_task_started_event_attributes.identity, ts(event.event_time)
        if event.event_type != E.EVENT_TYPE_WORKFLOW_TASK_STARTED or when <= done or who == by:
            continue
        began = run.began.get(who)
        new = began is not None and began > done
        if new or (gone and (last_seen is None or last_seen < when)):
            kind = "another" if began is not None and not new else "a restarted"
            row["from_history"] = True
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
