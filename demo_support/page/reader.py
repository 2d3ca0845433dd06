"""Temporal, read once for every page: the app's client (connected in the background when the
app starts), one reader per watched run (its history by Temporal's long poll; its description
at most every FRESH s while an activity is pending) and one reading of the task queue, on an
event loop of its own, in a thread (Flask's loops end with each request). Every call but the
long poll has a DEADLINE: a paused service is unreachable within it, as a stopped one is."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
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
PAYLOADS = {  # the payloads the page shows: the run's input, each activity's result, its result
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED: "input",
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: "result",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: "result",
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


def fetch_standin_calls(base: str) -> dict:
    """GET /calls of the stand-in (offline): its counts and when it started."""
    try:
        with urllib.request.urlopen(f"{base.rstrip('/')}/calls", timeout=0.5) as response:
            return json.loads(response.read())
    except (OSError, ValueError):
        return {"down": True}


def guarded(coroutine, reader: TemporalReader) -> asyncio.Task:
    """A task of the reader's: an error is one line in the log and the answer's, no traceback."""

    async def run():
        try:
            await coroutine
        except Exception as err:  # noqa: BLE001
            log.error("The reader failed: %s: %s", type(err).__name__, err)
            reader.trouble = err

    return asyncio.create_task(run())


class CountsAtStart(temporal_client.Interceptor):
    """On every start_workflow, offline: the stand-in's counts just before the run starts (the
    page says "answered get_ip 1 time for this run")."""

    def __init__(self, reader: TemporalReader) -> None:
        self.reader = reader

    def intercept_client(self, next):
        reader = self.reader

        class Outbound(temporal_client.OutboundInterceptor):
            async def start_workflow(self, input):
                reader.starts += 1  # the room's proof: runs started since it opened
                if reader.standin_url:
                    calls = await asyncio.to_thread(fetch_standin_calls, reader.standin_url)
                    if not calls.get("down"):  # on the reader's loop, before any later request

                        def remember():
                            reader._run(input.id).facts.calls_at_start = calls

                        reader.start()._loop.call_soon_threadsafe(remember)
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
        self.starts = 0  # start_workflow calls through this app's client
        self.kept = RUNS_KEPT  # runs remembered (room mode: at least its runs in flight)
        self._standin_at = 0.0  # when that count was asked for (monotonic)
        self._standin_task: asyncio.Future | None = None
        self._runs: OrderedDict[str, RunReader] = OrderedDict()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._starting = threading.Lock()
        self._connected = asyncio.Event()
        self._queue_read = asyncio.Event()  # pulsed after each reading of the task queue
        self._queue_asked = 0.0
        self._queue_task: asyncio.Task | None = None

    # --- from any thread, any event loop ------------------------------------------------------

    def start(self) -> TemporalReader:
        """Start the reader's loop and connect in the background (once)."""
        with self._starting:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                threading.Thread(target=self._loop.run_forever, daemon=True).start()
                asyncio.run_coroutine_threadsafe(self._connect(), self._loop)
        return self

    async def __call__(self) -> Client:
        """The connected client (TemporalUnreachable when Temporal has not answered yet)."""
        future = asyncio.run_coroutine_threadsafe(self._client(), self.start()._loop)
        return await asyncio.wrap_future(future)

    def status(self, workflow_id: str, wait: float = 0, seen: int | None = None) -> dict:
        """The run's answer, held up to ``wait`` s (0..10) for its end, or (with ``seen``, an
        answer's version) for news since that answer."""
        wait = min(max(wait or 0, 0), 10) if math.isfinite(wait or 0) else 0  # ?wait=nan
        return self._wait_for(self._status(workflow_id, wait, seen), wait)

    def lights(self) -> dict:
        return self._wait_for(self._lights())

    def statuses(self, workflow_ids: list[str]) -> dict[str, dict | Exception]:
        """Many runs' answers at once (the room), each as status() gives it, or its error."""

        async def answers():
            found = (self._status(i, 0, None) for i in workflow_ids)
            answers = await asyncio.gather(*found, return_exceptions=True)
            return dict(zip(workflow_ids, answers, strict=True))

        return self._wait_for(answers())

    def _wait_for(self, coroutine, wait: float = 0):
        future = asyncio.run_coroutine_threadsafe(coroutine, self.start()._loop)
        return future.result(timeout=wait + 3 * DEADLINE.total_seconds() + 5)

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

    def heard(self, err: RPCError | None = None) -> None:
        """A call answered (no ``err``) or failed (NOT_FOUND is the run's, not Temporal's)."""
        if err is None or err.status != RPCStatusCode.NOT_FOUND:
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
        while self.standin_url and run.calls_at > self._standin_at:  # an attempt failed since
            standin = await self._standin_counts(after=run.calls_at)
        return {**run_view.answer(run.facts, self.workers, now(), standin), "version": run.version}

    async def _standin_counts(self, after: float) -> dict | None:
        """The stand-in's counts (offline), asked for after ``after`` (an attempt's end: the call
        behind it is counted). One request at a time, for every page."""
        while self.standin_url and self._standin_at < after:
            if self._standin_task is None or self._standin_task.done():
                self._standin_at = time.monotonic()
                fetch = asyncio.to_thread(fetch_standin_calls, self.standin_url)
                self._standin_task = asyncio.ensure_future(fetch)
            self.standin = await asyncio.shield(self._standin_task)
        return self.standin

    async def _lights(self) -> dict:
        try:
            await self._client()
            workers = await self._fresh_workers()
        except (demo_support.TemporalUnreachable, RPCError) as err:
            return run_view.unreachable_lights(str(err))
        return run_view.lights(workers.verdict, now())

    def _run(self, workflow_id: str) -> RunReader:
        run = self._runs.pop(workflow_id, None) or RunReader(self, workflow_id)
        self._runs[workflow_id] = run  # the newest last
        while len(self._runs) > self.kept:
            self._runs.popitem(last=False)[1].stop()
        return run

    async def _fresh_workers(self) -> run_view.Workers:
        """The task queue's workers as read at most about FRESH ago (waits for a reading)."""
        self._queue_asked = time.monotonic()
        if self._queue_task is None or self._queue_task.done():
            self._queue_task = guarded(self._read_queue_while_asked(), self)
        age = lambda: self.workers and run_view.seconds(self.workers.at, now())  # noqa: E731
        if self.workers is None or age() > 2 * FRESH:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._queue_read.wait(), DEADLINE.total_seconds() + 0.5)
        if self.trouble is not None:
            raise self.trouble
        if self.workers is None or age() > 2 * FRESH + 2:
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
        service, namespace, asked = self.client.workflow_service, self.namespace, now()
        kinds, queue = (run_view.WORKFLOW, run_view.ACTIVITY), TaskQueue(name=self.task_queue)
        calls = [
            service.list_workers(
                ListWorkersRequest(namespace=namespace), retry=False, timeout=DEADLINE
            )
        ]
        for kind in kinds:
            request = DescribeTaskQueueRequest(
                namespace=namespace, task_queue=queue, task_queue_type=kind
            )
            calls.append(service.describe_task_queue(request, retry=False, timeout=DEADLINE))
        answers = await asyncio.gather(*calls, return_exceptions=True)
        if isinstance(answers[0], RPCError) and answers[0].status == RPCStatusCode.UNIMPLEMENTED:
            answers[0] = None  # a service without ListWorkers: the pollers alone
        for err in (a for a in answers if isinstance(a, BaseException)):
            if not isinstance(err, RPCError):
                raise err
            return self.heard(err)
        beats = [i.worker_heartbeat for i in answers[0].workers_info] if answers[0] else []
        beats = [beat for beat in beats if beat.task_queue == self.task_queue]
        pollers = {kind: answer.pollers for kind, answer in zip(kinds, answers[1:], strict=True)}
        before = self.workers
        self.workers = run_view.Workers.read(beats, pollers, asked, before)
        self.heard()
        if before is not None and self.workers.there() != before.there():  # came or went
            for run in self._runs.values():
                run.pulse()


class RunReader:
    """One run, read once for every page that watches it: its history (long poll, new events
    only) and its description (at most every FRESH seconds, while watched)."""

    def __init__(self, reader: TemporalReader, workflow_id: str) -> None:
        self.reader = reader
        self.facts = run_view.Run(workflow_id)
        self.execution = WorkflowExecution(workflow_id=workflow_id)
        self.token = b""  # where the history's long poll goes on from
        self.error: RPCError | None = None  # NOT_FOUND
        self.asked_at = 0.0
        self.calls_at = 0.0  # when an attempt's end was last seen (monotonic)
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
        return (
            time.monotonic() - self.asked_at < IDLE
            and self.error is None
            and not self.closed.is_set()
        )

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
        while self.watched():
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
                    return self.read.set()
                if err.status == RPCStatusCode.INVALID_ARGUMENT:  # a token the service forgot
                    self.token = b""
                else:
                    self.reader.heard(err)
                await asyncio.sleep(FRESH)
                continue
            self.reader.heard()
            await self._add(page.history.events)
            self.token, self.has_history = page.next_page_token, True
            self._check_read()
            if not self.token and not self.closed.is_set():
                await asyncio.sleep(FRESH)  # a last page with no way on: read it all again

    async def _add(self, events) -> None:
        """The new events (their payloads decoded), and whether the run ended."""
        facts = self.facts
        last = facts.events[-1].event_id if facts.events else 0
        new = [e for e in events if e.event_id > last]
        for event in new:
            if name := PAYLOADS.get(event.event_type):
                payloads = getattr(run_view.attributes(event), name).payloads
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
            elif event.event_type in run_view.ACTIVITY_ENDS:
                done.add(run_view.attributes(event).scheduled_event_id)
        return min((t for e, t in scheduled.items() if e not in done), default=None)

    def _shown(self) -> tuple:
        """What a description says that the page shows: the attempts of each pending task."""
        task = self.facts.pending_workflow_task
        activities = [
            (p.activity_id, p.attempt, p.state, p.last_failure.message)
            for p in self.facts.pending_activities
        ]
        return activities, task and (task.attempt, task.state, task.started_time.seconds)

    async def _describe(self) -> None:
        """The run's pending activities (attempts, last failure, next retry), described once one
        has been pending QUICK seconds, then every FRESH seconds; and a failed workflow task's
        retry (demo 6)."""
        service, facts = self.reader.client.workflow_service, self.facts
        request = DescribeWorkflowExecutionRequest(
            namespace=self.reader.namespace, execution=self.execution
        )
        while self.watched():
            self.news.clear()
            since, pause = self._pending_since() if self.has_history else None, FRESH
            stuck = self.has_history and run_view.workflow_task_failed(facts) is not None
            if since is None and not stuck:
                facts.pending_activities, facts.pending_workflow_task = [], None
            elif since is not None and (young := QUICK - run_view.seconds(since, now())) > 0:
                pause = young  # the history says enough for now: "Running get_ip"
            else:
                try:
                    described = await service.describe_workflow_execution(
                        request, retry=False, timeout=DEADLINE
                    )
                except RPCError as err:
                    self.reader.heard(err)
                else:
                    self.reader.heard()
                    before = self._shown()
                    facts.pending_activities = list(described.pending_activities)
                    task = described.pending_workflow_task  # a failed workflow task's retry
                    facts.pending_workflow_task = task if task.attempt > 1 else None
                    timeout = described.execution_config.default_workflow_task_timeout
                    facts.workflow_task_timeout = timeout.ToTimedelta().total_seconds() or 10
                    if self._shown() != before:  # an attempt failed: its call is counted now
                        self.calls_at = time.monotonic()
                        self.pulse()
                    facts.remember_failures()
            self.described = self.has_history
            self._check_read()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.news.wait(), pause)
