"""Temporal, read once for every page: the app's client, one reader per watched run, and
one reading of the task queue. The page's words come from what they hold (run_view.py).

* The client connects when the app starts, in the background: the app starts while
  Temporal is down, and its first greeting does not wait for a connection.
* Each run that pages watch has one reader, however many pages: it follows the run's
  history with Temporal's long poll (only new events come, the moment they exist) and,
  while an activity is pending, describes the run at most every FRESH seconds (attempts,
  last failure, next retry). A run nobody asked about for IDLE seconds is no longer
  followed; the newest RUNS_KEPT runs are remembered (each failed attempt seen, the
  stand-in's counts at the start). Offline, the stand-in's counts are asked for as each
  activity ends, once for every page.
* One reading of the task queue for every run and the lights: its workers' heartbeats
  and its pollers, at most every FRESH seconds while anyone asks.
* Every call but the long poll has a DEADLINE, so that a paused service is unreachable
  within it, as a stopped one is at once; the answers then are 503s that say so.

It runs on an event loop of its own, in a thread: Flask gives each request a loop that
ends with the request. Callers await it from their own loops; its state is touched on
its loop only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
import time
import urllib.request
from collections import OrderedDict
from datetime import datetime, timedelta, timezone

from temporalio import client as temporal_client
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DescribeTaskQueueRequest,
    DescribeWorkflowExecutionRequest,
    GetWorkflowExecutionHistoryRequest,
    ListWorkersRequest,
)
from temporalio.client import Client
from temporalio.service import RetryConfig, RPCError, RPCStatusCode

import demo_support
from demo_support.page import run_view

FRESH = 0.5  # seconds: the task queue and a watched run's description, read at most this often
QUICK = 0.3  # seconds an activity runs before its run is described (most are done by then)
IDLE = 10  # seconds: a run (or the task queue) nobody asked about is no longer read
RUNS_KEPT = 200  # runs remembered, the newest asked about
DEADLINE = timedelta(seconds=2)  # for each call but the history's long poll
LONG_POLL = timedelta(seconds=30)  # the service answers a history long poll within 20 s
# The payloads the page shows: the run's input, each activity's result, the run's result.
PAYLOADS = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED: "workflow_execution_started.input",
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: "activity_task_completed.result",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: "workflow_execution_completed.result",
}
log = logging.getLogger(__name__)


def unreachable(err: BaseException) -> bool:
    """Temporal did not answer: refused, reset, or not within the deadline (a paused service)."""
    codes = (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED)
    return isinstance(err, demo_support.TemporalUnreachable) or (
        isinstance(err, RPCError)
        and (err.status in codes or "transport error" in str(err))  # UNKNOWN: connection reset
    )


def now() -> datetime:
    return datetime.now(timezone.utc)


def fetch_standin_calls(base: str | None) -> dict | None:
    """GET /calls of the stand-in (offline): its counts and when it started."""
    if not base:
        return None
    try:
        with urllib.request.urlopen(f"{base.rstrip('/')}/calls", timeout=0.5) as response:
            return json.loads(response.read())
    except (OSError, ValueError):
        return {"down": True}


def guarded(coroutine, reader: TemporalReader) -> asyncio.Task:
    """A task of the reader's: an unexpected error is one line in the log (and the answer's
    error), never a traceback on the presenter's screen."""

    async def run():
        try:
            await coroutine
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001
            log.error("The reader failed: %s: %s", type(err).__name__, err)
            reader.trouble = err

    return asyncio.create_task(run())


class CountsAtStart(temporal_client.Interceptor):
    """The client's own hook on every start_workflow: offline, the stand-in's counts just
    before the run starts, so the page can say "answered get_ip 1 time for this run"."""

    def __init__(self, reader: TemporalReader) -> None:
        self.reader = reader

    def intercept_client(self, next):
        reader = self.reader

        class Outbound(temporal_client.OutboundInterceptor):
            async def start_workflow(self, input):
                if reader.standin_url:
                    calls = await asyncio.to_thread(fetch_standin_calls, reader.standin_url)
                    if not calls.get("down"):
                        reader.remember_calls_at_start(input.id, calls)
                return await super().start_workflow(input)

        return Outbound(next)


class TemporalReader:
    """Temporal for the whole app: ``await reader()`` is its client; status() and lights()
    are what the page shows, from one reading shared by every page."""

    def __init__(self, task_queue: str) -> None:
        self.task_queue = task_queue
        self.namespace = demo_support.connect_config()["namespace"]
        self.standin_url = os.environ.get("STANDIN_URL")
        self.client: Client | None = None
        self.trouble: Exception | None = None  # why the latest call failed (None: it answered)
        self.workers: run_view.Workers | None = None
        self.standin: dict | None = None
        self._standin_at = 0.0  # when that count was asked for (monotonic)
        self._standin_task: asyncio.Task | None = None
        self._runs: OrderedDict[str, RunReader] = OrderedDict()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._starting = threading.Lock()
        self._connected = asyncio.Event()
        self._queue_read = asyncio.Event()  # pulsed after each reading of the task queue
        self._queue_asked = 0.0
        self._queue_task: asyncio.Task | None = None

    # --- from any thread, any event loop ----------------------------------------------------

    def start(self) -> TemporalReader:
        """Start the reader's loop and connect in the background (once)."""
        with self._starting:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                threading.Thread(
                    target=self._loop.run_forever, name="temporal-reader", daemon=True
                ).start()
                asyncio.run_coroutine_threadsafe(self._connect(), self._loop)
        return self

    def _on_loop(self, coroutine):
        self.start()
        return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, self._loop))

    async def __call__(self) -> Client:
        """The connected client (TemporalUnreachable when Temporal has not answered yet)."""
        return await self._on_loop(self._client())

    def status(self, workflow_id: str, wait: float = 0, seen: int | None = None) -> dict:
        """The run's answer (run_view.answer). With ``wait``, held up to that long for the
        run's end, or, with ``seen`` (an answer's version), for news since that answer.
        ``wait`` is bounded to 0..10 s. A plain call: a Flask view need not make a loop for it."""
        wait = min(max(wait or 0, 0), 10)
        return self._wait_for(self._status(workflow_id, wait, seen), wait)

    def lights(self) -> dict:
        return self._wait_for(self._lights())

    def _wait_for(self, coroutine, wait: float = 0):
        self.start()
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(timeout=wait + 3 * DEADLINE.total_seconds() + 5)

    def remember_calls_at_start(self, workflow_id: str, calls: dict) -> None:
        """The stand-in's counts just before the run started (it answers "N for this run")."""

        def remember():
            self._run(workflow_id).facts.calls_at_start = calls

        self.start()._loop.call_soon_threadsafe(remember)  # before any later request's work

    # --- on the reader's loop -----------------------------------------------------------------

    async def _connect(self) -> None:
        quick = RetryConfig(max_elapsed_time_millis=2000, max_retries=3)
        while self.client is None:
            try:
                self.client = await asyncio.wait_for(
                    demo_support.connect(retry_config=quick, interceptors=[CountsAtStart(self)]), 5
                )
            except (demo_support.TemporalUnreachable, asyncio.TimeoutError):
                self.trouble = demo_support.TemporalUnreachable(demo_support.unreachable_message())
                await asyncio.sleep(1)
        self.trouble = None
        self._connected.set()

    async def _client(self) -> Client:
        if self.client is None:  # wait for the attempt under way
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._connected.wait(), 2.5)
        if self.client is None:
            raise demo_support.TemporalUnreachable(demo_support.unreachable_message())
        return self.client

    def answered(self) -> None:
        self.trouble = None

    def failed(self, err: RPCError) -> None:
        if err.status != RPCStatusCode.NOT_FOUND:
            self.trouble = err

    async def _status(self, workflow_id: str, wait: float, seen: int | None) -> dict:
        await self._client()
        run = self._run(workflow_id)
        run.ask()
        await self._fresh_workers()
        try:
            await run.ready()
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                self._runs.pop(workflow_id, None)
            raise
        if wait > 0:  # a long poll: until the end, or news since the answer seen
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(run.news_since(seen), wait)
        if self.trouble is not None:
            raise self.trouble
        standin = await self._standin_counts(after=max(run.calls_at, time.monotonic() - FRESH))
        return {**run_view.answer(run.facts, self.workers, now(), standin), "version": run.version}

    async def _standin_counts(self, after: float) -> dict | None:
        """The stand-in's counts (offline), asked for after ``after`` (an activity's end: the
        call behind it is counted). One request at a time, for every page."""
        if not self.standin_url:
            return None
        if self._standin_at < after:
            if self._standin_task is None or self._standin_task.done():
                self._standin_at = time.monotonic()
                fetch = asyncio.to_thread(fetch_standin_calls, self.standin_url)
                self._standin_task = asyncio.ensure_future(fetch)
            self.standin = await asyncio.shield(self._standin_task)
            if self._standin_at < after:  # that one began too early: one more
                return await self._standin_counts(after)
        return self.standin

    async def _lights(self) -> dict:
        try:
            await self._client()
            workers = await self._fresh_workers()
        except (demo_support.TemporalUnreachable, RPCError) as err:
            return run_view.unreachable_lights(str(err))
        return run_view.lights(workers.verdict(), now())

    def _run(self, workflow_id: str) -> RunReader:
        run = self._runs.pop(workflow_id, None) or RunReader(self, workflow_id)
        self._runs[workflow_id] = run  # the newest last
        while len(self._runs) > RUNS_KEPT:
            self._runs.popitem(last=False)[1].stop()
        return run

    async def _fresh_workers(self) -> run_view.Workers:
        """The task queue's workers as read at most about FRESH ago (waits for a reading)."""
        self._queue_asked = time.monotonic()
        if self._queue_task is None or self._queue_task.done():
            self._queue_task = guarded(self._read_queue_while_asked(), self)
        if self.workers is None or run_view.seconds(self.workers.at, now()) > 2 * FRESH:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._queue_read.wait(), DEADLINE.total_seconds() + 0.5)
        if self.trouble is not None:
            raise self.trouble
        if self.workers is None or run_view.seconds(self.workers.at, now()) > 2 * FRESH + 2:
            raise demo_support.TemporalUnreachable("Temporal did not answer in time")
        return self.workers

    async def _read_queue_while_asked(self) -> None:
        while time.monotonic() - self._queue_asked < IDLE:
            began = time.monotonic()
            await self._read_queue()
            self._queue_read.set()  # wakes whoever waits for this reading
            self._queue_read.clear()
            await asyncio.sleep(max(0.0, FRESH - (time.monotonic() - began)))

    async def _read_queue(self) -> None:
        """One reading of the task queue: its workers' heartbeats and its pollers."""
        if self.client is None:
            return
        service, kinds = self.client.workflow_service, (run_view.WORKFLOW, run_view.ACTIVITY)
        queues = [
            service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=self.namespace,
                    task_queue=TaskQueue(name=self.task_queue),
                    task_queue_type=kind,
                ),
                retry=False,
                timeout=DEADLINE,
            )
            for kind in kinds
        ]
        answers = await asyncio.gather(self._heartbeats(), *queues, return_exceptions=True)
        for err in (a for a in answers if isinstance(a, BaseException)):
            if not isinstance(err, RPCError):
                raise err
            return self.failed(err)
        pollers = {kind: answer.pollers for kind, answer in zip(kinds, answers[1:], strict=True)}
        before = self.workers and self.workers.there()
        workers = run_view.Workers.read(answers[0], pollers, now())
        if self.workers is not None:  # the memory goes on, with what is still listed
            memory = self.workers.not_polling.items()
            workers.not_polling = {w: s for w, s in memory if w in workers.signs}
        self.workers = workers
        self.answered()
        if before is not None and self.workers.there() != before:  # a worker came or went
            for run in self._runs.values():
                run.pulse()

    async def _heartbeats(self) -> list:
        """The task queue's workers' latest heartbeats (none from a service without ListWorkers)."""
        try:
            listed = await self.client.workflow_service.list_workers(
                ListWorkersRequest(namespace=self.namespace), retry=False, timeout=DEADLINE
            )
        except RPCError as err:
            if err.status == RPCStatusCode.UNIMPLEMENTED:
                return []
            raise
        beats = (info.worker_heartbeat for info in listed.workers_info)
        return [beat for beat in beats if beat.task_queue == self.task_queue]


def attempts(pending_activities) -> list:
    """What the page shows of the pending activities: a change is news."""
    return [(p.activity_id, p.attempt, p.state, p.last_failure.message) for p in pending_activities]


class RunReader:
    """One run, read once for every page that watches it: its history (long poll, new
    events only) and its description (at most every FRESH seconds, while watched)."""

    def __init__(self, reader: TemporalReader, workflow_id: str) -> None:
        self.reader = reader
        self.facts = run_view.Run(workflow_id)
        self.execution = WorkflowExecution(workflow_id=workflow_id)
        self.token = b""  # where the history's long poll goes on from
        self.error: RPCError | None = None  # NOT_FOUND
        self.asked_at = 0.0
        self.calls_at = 0.0  # when the newest activity's end came in (monotonic)
        self.closed = asyncio.Event()
        self.news = asyncio.Event()  # new events: describe again now
        self.changed = asyncio.Event()  # pulsed when what the page shows may have changed
        self.version = 0  # how many times it did
        self.has_history = self.described = False
        self.read = asyncio.Event()  # the history so far and a description (or its end) are in
        self.tasks: list[asyncio.Task] = []

    def ask(self) -> None:
        """A page asked: follow the run (again) unless it is over."""
        self.asked_at = time.monotonic()
        idle = all(task.done() for task in self.tasks)
        if idle and not self.closed.is_set() and self.error is None:
            self.tasks = [
                guarded(self._follow(), self.reader),
                guarded(self._describe(), self.reader),
            ]

    def pulse(self) -> None:
        self.version += 1
        self.changed.set()  # wakes the requests waiting for news
        self.changed.clear()

    async def news_since(self, seen: int | None) -> None:
        """Until the run has ended or (with ``seen``) its version is past it."""
        while not self.closed.is_set() and (seen is None or self.version == seen):
            await self.changed.wait()

    def watched(self) -> bool:
        return time.monotonic() - self.asked_at < IDLE and self.error is None

    def stop(self) -> None:
        for task in self.tasks:
            task.cancel()

    async def ready(self) -> None:
        if not self.read.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.read.wait(), DEADLINE.total_seconds() + 0.5)
        if self.error is not None:
            raise self.error
        if not self.read.is_set():
            raise self.reader.trouble or demo_support.TemporalUnreachable("no answer in time")

    def _check_read(self) -> None:
        if self.has_history and (self.described or self.closed.is_set()):
            self.read.set()

    async def _follow(self) -> None:
        service = self.reader.client.workflow_service
        while self.watched() and not self.closed.is_set():
            request = GetWorkflowExecutionHistoryRequest(
                namespace=self.reader.namespace,
                execution=self.execution,
                next_page_token=self.token,
                wait_new_event=True,
            )
            try:
                page = await service.get_workflow_execution_history(
                    request, retry=False, timeout=LONG_POLL
                )
            except RPCError as err:
                if err.status == RPCStatusCode.NOT_FOUND:
                    self.error = err
                    self.read.set()
                    return
                if err.status == RPCStatusCode.INVALID_ARGUMENT:  # a token the service forgot
                    self.token = b""
                else:
                    self.reader.failed(err)
                await asyncio.sleep(FRESH)
                continue
            self.reader.answered()
            await self._add(page.history.events)
            self.token = page.next_page_token
            self.has_history = True
            self._check_read()
            if not self.token and not self.closed.is_set():
                await asyncio.sleep(FRESH)  # a last page with no way on: read it all again

    async def _add(self, events) -> None:
        """The new events (the page shows their payloads decoded), and whether the run ended."""
        facts = self.facts
        last = facts.events[-1].event_id if facts.events else 0
        new = [e for e in events if e.event_id > last]
        for event in new:
            if where := PAYLOADS.get(event.event_type):
                attrs, name = where.split(".")
                payloads = getattr(getattr(event, f"{attrs}_event_attributes"), name).payloads
                try:
                    values = await self.reader.client.data_converter.decode(payloads)
                except Exception:  # noqa: BLE001 - a payload the page cannot show
                    values = []
                facts.values[event.event_id] = values[0] if values else None
            facts.events.append(event)
            self.news.set()
            if event.event_type in run_view.ACTIVITY_ENDS:  # the stand-in's count, ahead of time
                self.calls_at = time.monotonic()
                guarded(self.reader._standin_counts(self.calls_at), self.reader)
        if facts.events and facts.events[-1].event_type in run_view.CLOSED:
            facts.pending_activities = []  # whatever the last description said
            self.closed.set()
        if new:
            self.pulse()

    def _pending_since(self) -> datetime | None:
        """When the oldest activity not done yet was scheduled (None: none is pending)."""
        scheduled, done = {}, set()
        for event in self.facts.events:
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                scheduled[event.event_id] = run_view.ts(event.event_time)
            elif attrs := run_view.ACTIVITY_ENDS.get(event.event_type):
                done.add(getattr(event, attrs).scheduled_event_id)
        return min((t for e, t in scheduled.items() if e not in done), default=None)

    def _attempts(self) -> tuple:
        """What a description says that the page shows: the attempts of each pending task."""
        task = self.facts.pending_workflow_task
        retry = task and (task.attempt, task.state, task.started_time.seconds)
        return attempts(self.facts.pending_activities), retry

    async def _describe(self) -> None:
        """The run's pending activities (attempts, last failure, next retry): described once
        one has been pending QUICK seconds (most are done by then), then every FRESH seconds;
        and, after a workflow task failed (demo 6), its retry, every FRESH seconds."""
        service = self.reader.client.workflow_service
        request = DescribeWorkflowExecutionRequest(
            namespace=self.reader.namespace, execution=self.execution
        )
        while self.watched() and not self.closed.is_set():
            self.news.clear()
            since, pause = self._pending_since() if self.has_history else None, FRESH
            stuck = self.has_history and run_view.workflow_task_failed(self.facts) is not None
            if since is None and not stuck:
                self.facts.pending_activities = []
                self.facts.pending_workflow_task = None
            elif since is not None and (young := QUICK - run_view.seconds(since, now())) > 0:
                pause = young  # the history says enough for now: "Running get_ip"
            else:
                try:
                    described = await service.describe_workflow_execution(
                        request, retry=False, timeout=DEADLINE
                    )
                except RPCError as err:
                    self.reader.failed(err)
                else:
                    self.reader.answered()
                    before = self._attempts()
                    self.facts.pending_activities = list(described.pending_activities)
                    task = described.pending_workflow_task  # a failed workflow task's retry
                    self.facts.pending_workflow_task = task if task.attempt > 1 else None
                    timeout = described.execution_config.default_workflow_task_timeout
                    self.facts.workflow_task_timeout = timeout.ToTimedelta().total_seconds() or 10
                    if self._attempts() != before:
                        self.pulse()
                    self.facts.remember_failures()
            self.described = self.has_history
            self._check_read()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.news.wait(), pause)
