"""Plumbing out of the audience's way (``-e .``): clean_exit(), wait_for_temporal() and
until_ctrl_c() around the teaching scripts' SDK calls; what page/, presenter/, maintainers/ use."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import NoReturn

import temporalio.runtime as rt
from temporalio import workflow
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client
from temporalio.envconfig import ClientConfig
from temporalio.service import RetryConfig, RPCError, RPCStatusCode
from temporalio.worker import Worker

FAILING_WORKFLOW_TASK = "Failing workflow task"  # sdk-core's warning, with the failure's text


class TemporalUnreachable(Exception):
    """No Temporal service answers (printed as one line)."""


def connect_config() -> dict:
    """Client.connect() arguments from the environment's configuration; else the dev server."""
    defaults = {"target_host": "localhost:7233", "namespace": "default"}
    return {**defaults, **ClientConfig.load_client_connect_config()}


def describe_target(config: dict | None = None) -> str:
    config = {**connect_config(), **(config or {})}
    return f"{config['target_host']} (namespace {config['namespace']!r})"


def unreachable_message(config: dict | None = None) -> str:
    return (
        f"Cannot reach Temporal at {describe_target(config)}: start it with:"
        " temporal server start-dev --ui-port 8080 --db-filename temporal.db"
    )


@functools.cache
def quiet_runtime() -> rt.Runtime:
    """The SDK's core: quiet while Temporal is down (demo 4), a worker heartbeat a second (the
    page's worker light goes out soon after a kill -9); of its warnings, a failed workflow task."""
    log = logging.getLogger("temporalio.core")
    log.addFilter(
        lambda record: (
            record.levelno >= logging.ERROR
            or getattr(getattr(record, "temporal_log", None), "message", "")
            == FAILING_WORKFLOW_TASK
        )
    )
    logs = rt.LoggingConfig(
        filter=rt.TelemetryFilter(core_level="WARN", other_level="ERROR"),
        forwarding=rt.LogForwardingConfig(logger=log, append_target_to_name=False),
    )
    beat = timedelta(seconds=1)
    return rt.Runtime(telemetry=rt.TelemetryConfig(logging=logs), worker_heartbeat_interval=beat)


async def connect(*, retry_config: RetryConfig | None = None, interceptors=()) -> Client:
    """A client for the page or a tool; TemporalUnreachable if Temporal does not answer."""
    config = dict(connect_config(), runtime=quiet_runtime(), retry_config=retry_config)
    try:
        return await Client.connect(**config, interceptors=interceptors)
    except RuntimeError as err:  # "Failed client connect: ...": refused, or a bad TLS setting
        raise TemporalUnreachable(unreachable_message(config)) from err


async def wait_for_temporal(config: dict) -> None:
    """Return once Temporal answers at config's address; until then, one line says so."""
    for attempt in itertools.count():
        try:
            await Client.connect(**config)
            return
        except RuntimeError:  # "Failed client connect: ..."
            if not attempt:
                print(f"{unreachable_message(config)} (waiting for it...)", flush=True)
            await asyncio.sleep(1)


def show_workflow_log() -> None:
    """workflow.logger's messages bare on stdout (quiet while a run replays: no line twice)."""
    log = logging.getLogger("temporalio.workflow")
    log.addHandler(logging.StreamHandler(sys.stdout))  # its default format: the message
    log.setLevel(logging.INFO)
    log.propagate = False
    workflow.logger.workflow_info_on_message = False  # no dict of the run's details


async def until_ctrl_c(worker: Worker) -> AsyncIterator[Worker]:
    """``async for worker in until_ctrl_c(worker): await worker.run()``: the worker, then copies.

    Ctrl-C (or SIGTERM) shuts it down; a second one leaves at once. While Temporal does not
    answer (demo 4) it is shut down, and a fresh copy polls once Temporal answers again (sdk-core
    would retry after a backoff of up to 10 s). Shut down while Temporal answers, a worker cancels
    its polls: a task handed to one of them then would wait out its 10 s timeout (issue 20).
    """
    stopping = asyncio.Event()

    def stop() -> None:
        on_ctrl_c(lambda: _exit(130, "Stopped."))  # a second Ctrl-C leaves at once
        print("Stopping the worker...", flush=True)
        stopping.set()

    on_ctrl_c(stop)
    while True:
        watching = asyncio.ensure_future(_shut_down(worker, stopping))
        yield worker
        if not await watching:
            print("Worker stopped.", flush=True)
            return
        worker = Worker(**worker.config())
        print("Temporal is back: the worker polls again.", flush=True)


async def _shut_down(worker: Worker, stopping: asyncio.Event) -> bool:
    """Shut it down on Ctrl-C (False) or while Temporal is down (True once it answers again)."""
    lost = await _first(stopping.wait(), _answers(worker.client, False))
    if lost:
        print(f"Lost Temporal at {describe_target()}: waiting for it...", flush=True)
    await worker.shutdown()
    return lost and not await _first(_answers(worker.client), stopping.wait())


async def _first(*awaitables: Awaitable) -> int:
    """The index of the awaitable that finished first; the others are cancelled."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    return tasks.index(done.pop())


async def _answers(client: Client, answers: bool = True) -> None:
    """Return once Temporal answers (answers=False: once it refuses; slow is neither)."""
    while True:
        try:
            await client.workflow_service.get_system_info(
                GetSystemInfoRequest(), retry=False, timeout=timedelta(seconds=1)
            )
            if answers:
                return
        except RPCError as err:
            if not answers and err.status != RPCStatusCode.DEADLINE_EXCEEDED:
                return
        await asyncio.sleep(0.5)


def stop_signals() -> list[int]:
    """What stops a script as Ctrl-C does: SIGINT, SIGTERM, SIGBREAK on Windows (interrupt())."""
    sigbreak = getattr(signal, "SIGBREAK", None)  # Windows only
    return [signal.SIGINT, signal.SIGTERM, *([sigbreak] if sigbreak is not None else [])]


def on_ctrl_c(handler: Callable[[], None]) -> None:
    """Call handler in the running loop on a stop signal (Windows' loops: via signal.signal)."""
    loop = asyncio.get_running_loop()
    for sig in stop_signals():
        try:
            loop.add_signal_handler(sig, handler)
        except NotImplementedError:
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(handler))


def ctrl_c_works() -> None:
    """Ctrl-C and SIGBREAK raise KeyboardInterrupt, even if SIGINT came in ignored (bg job)."""
    for sig in set(stop_signals()) - {signal.SIGTERM}:
        signal.signal(sig, signal.default_int_handler)


def on_windows() -> bool:
    return sys.platform == "win32"


def own_process_group() -> dict:
    """Popen arguments that keep a terminal's Ctrl-C for the parent (Windows: a process group)."""
    if on_windows():
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


def interrupt(proc: subprocess.Popen) -> str:
    """Ctrl-C to a child in its own group; returns its name. Windows' send_signal refuses
    SIGINT: CTRL_BREAK_EVENT, which Python raises as SIGBREAK and Go as os.Interrupt."""
    windows = on_windows()
    proc.send_signal(signal.CTRL_BREAK_EVENT if windows else signal.SIGINT)
    return "CTRL_BREAK_EVENT" if windows else "SIGINT"


def kill(proc: subprocess.Popen) -> str:
    """kill -9: Popen.kill() is SIGKILL, and TerminateProcess on Windows; returns which."""
    proc.kill()
    return "TerminateProcess" if on_windows() else "SIGKILL"


def short_error(message: str) -> str:
    """aiohttp's "H:P ssl:default [Connect call failed ('H', P)]" as "H:P [connection refused]"."""
    message = re.sub(r" ssl:\S+", "", message)
    return re.sub(r"\[Connect call failed \(.*?\)\]", "[connection refused]", message)


class OneLineFormatter(logging.Formatter):
    """Log records as one line each: an error's type and message, no traceback."""

    def format(self, record: logging.LogRecord) -> str:
        core, err = getattr(record, "temporal_log", None), record.exc_info and record.exc_info[1]
        if core is not None and core.message == FAILING_WORKFLOW_TASK:
            found = re.search(r'message: "((?:[^"\\]|\\.)*)"', str(core.fields.get("failure")))
            why = found[1].replace('\\"', '"') if found else "no reason given"
            return (
                f"Workflow task failed (run {core.fields.get('run_id', '?')}): {why}."
                " The run waits, safe, for a worker whose code matches its history."
            )
        if core is not None or not err:  # sdk-core's error, or no exception
            return core.message if core is not None else record.getMessage()
        if activity := getattr(record, "temporal_activity", None):
            return (
                f"Activity {activity['activity_type']} failed (attempt {activity['attempt']}):"
                f" {type(err).__name__}: {short_error(str(err))}"
            )
        return f"{record.getMessage()}: {type(err).__name__}: {err}"


def one_line_logs() -> None:
    """The SDK's own warnings (e.g. a failing activity) as one line, not a traceback."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLineFormatter())
    log = logging.getLogger("temporalio")
    log.addHandler(handler)
    log.setLevel(logging.WARNING)
    log.propagate = False


@contextlib.contextmanager
def clean_exit(name: str = "", interrupted: str = "") -> Iterator[None]:
    """Around a script's asyncio.run(main()) or a tool's main(): Ctrl-C is status 130, an error one
    line and status 1, never a traceback; then os._exit, past sdk-python #300's crash at exit."""
    if not name:  # a demo script
        one_line_logs()
        ctrl_c_works()
        rt.Runtime.set_default(quiet_runtime(), error_if_already_set=False)
    code = 0
    try:
        yield
    except SystemExit as leaving:  # sys.exit(asyncio.run(main()))
        code = leaving.code or 0
    except KeyboardInterrupt:
        code = 130
        if interrupted:
            print(f"\n{interrupted}")
    except BrokenPipeError:  # make check | head
        code = 1
    except Exception as err:
        code = 1
        if isinstance(err, RuntimeError) and str(err).startswith("Failed client connect"):
            print(unreachable_message(), file=sys.stderr)
        else:  # e.g. a worker's fatal error: a namespace that does not exist
            name = name or Path(sys.argv[0]).name
            print(f"{name} failed: {type(err).__name__}: {err}", file=sys.stderr)
    _exit(code)


def run_tool(main: Callable[[], int], name: str, interrupted: str = "Interrupted.") -> None:
    """A presenter's tool (make check, present, reset): clean_exit() around main()."""
    with clean_exit(name, interrupted):
        raise SystemExit(main())


def missing_package(err: ImportError, tool: str, maintainer: bool = False) -> NoReturn:
    """A tool's package is missing: one line naming the requirements file, exit status 1."""
    file = "requirements-dev.txt" if maintainer else "requirements.txt"
    raise SystemExit(f"{tool} needs {err.name or err}, missing here: pip install -r {file}")


def _exit(code: int, last_line: str = "") -> None:
    """Say the last line; flush what can be (make check | head: not stdout); skip finalisation."""
    with contextlib.suppress(OSError, ValueError):
        print(last_line, end="\n" if last_line else "", flush=True)
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
    os._exit(code)


def run_web_app(app, host: str, port: int, debug: bool = False, then=None) -> None:
    """Serve a Flask app until Ctrl-C; a port in use is one line, not a traceback. ``then``:
    called once it listens (room mode opens the phones' listener)."""
    from werkzeug.serving import make_server

    one_line_logs()
    ctrl_c_works()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not one line per request
    if debug:
        if then:
            then()
        app.run(host=host, port=port, debug=True, use_reloader=False)
        _exit(0)
    try:  # our own socket: werkzeug would print its own lines and exit on a busy port
        listening = socket.create_server((host, port))
    except OSError as err:
        why = os.strerror(err.errno) if err.errno else err
        print(
            f"Cannot serve on {host}:{port}: {why}. Is the app already running?"
            " Pick another port with --port.",
            file=sys.stderr,
        )
        _exit(1)
    server = make_server(host, port, app, threaded=True, fd=listening.fileno())
    print(f"The app is at http://{host}:{port} (Ctrl-C stops it)", flush=True)
    if then:
        then()
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()  # returns on Ctrl-C
    _exit(0, "App stopped.")
