"""Plumbing shared by the demo scripts; the audience need not read it.

The teaching scripts call the SDK themselves (``Client.connect(**config)``,
``Worker(...)``, ``await worker.run()``, ``asyncio.run(main())``). Around those
calls, this module adds only what a live talk needs:

* ``clean_exit()``, around ``asyncio.run(main())``: Ctrl-C (and SIGBREAK, make demo's
  Ctrl-C to a piece on Windows), no Temporal or a
  worker's fatal error end the script in one line, never a traceback; and it
  leaves with ``os._exit``, so that temporalio's Rust bridge is not torn down
  during interpreter finalisation (sdk-python issue #300: "Fatal Python error:
  PyGILState_Release" or a segfault at exit; tests/test_clean_exit.py);
* ``wait_for_temporal(config)``: a worker started before the server waits, in one line;
* ``until_ctrl_c(worker)``, the loop around ``await worker.run()``: a graceful Ctrl-C,
  and after a Temporal outage (demo 4) a fresh copy of the worker that polls at once.

It is a package of this repository that the virtual environment installs in
editable mode (``-e .`` in requirements.txt), so every script imports it the same
way from any folder. The rest of the plumbing lives with whom it serves:
``demo_support.page`` (the page's backend behind app.py), ``presenter`` (make demo,
its panel, present, check, reset) and ``maintainers`` (tests, benchmark, histories,
screenshots; not part of the install).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import NoReturn

from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client
from temporalio.envconfig import ClientConfig
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)
from temporalio.service import RetryConfig, RPCError
from temporalio.worker import Worker

DEFAULT_ADDRESS = "localhost:7233"
DEFAULT_NAMESPACE = "default"
START_SERVER_HINT = (
    "start it with: temporal server start-dev --ui-port 8080 --db-filename temporal.db"
)


class TemporalUnreachable(Exception):
    """Raised (and printed as one line) when no Temporal service answers."""


def connect_config() -> dict:
    """Client.connect() arguments from the environment configuration."""
    config = dict(ClientConfig.load_client_connect_config())
    config.setdefault("target_host", DEFAULT_ADDRESS)
    config.setdefault("namespace", DEFAULT_NAMESPACE)
    return config


def describe_target(config: dict | None = None) -> str:
    config = config or connect_config()
    address = config.get("target_host", DEFAULT_ADDRESS)
    return f"{address} (namespace {config.get('namespace', DEFAULT_NAMESPACE)!r})"


def unreachable_message(config: dict | None = None) -> str:
    return f"Cannot reach Temporal at {describe_target(config)}: {START_SERVER_HINT}"


_runtime: Runtime | None = None


def quiet_runtime() -> Runtime:
    """The SDK's Rust core, logging errors only.

    Its default prints a colourful warning for every retried call while the
    Temporal service is down (demo 4); the clients retry anyway. Its workers
    send Temporal a heartbeat every second, not every minute: the page's worker
    light goes out within seconds of a kill -9, which sends no word (run_view.py).
    """
    global _runtime
    if _runtime is None:
        # Core's warnings come to Python, where CoreLogFilter keeps one of them: a workflow
        # task that failed (demo 6's nondeterminism error), which OneLineFormatter words.
        core = TelemetryFilter(core_level="WARN", other_level="ERROR")
        forwarding = LogForwardingConfig(logger=_core_log(), append_target_to_name=False)
        logs = LoggingConfig(filter=core, forwarding=forwarding)
        _runtime = Runtime(
            telemetry=TelemetryConfig(logging=logs),
            worker_heartbeat_interval=timedelta(seconds=1),
        )
    return _runtime


FAILING_WORKFLOW_TASK = "Failing workflow task"  # sdk-core's warning, with the failure's text


class CoreLogFilter(logging.Filter):
    """Of sdk-core's warnings, only a failed workflow task; its errors all pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        core = getattr(record, "temporal_log", None)
        return record.levelno >= logging.ERROR or (
            core is not None and core.message == FAILING_WORKFLOW_TASK
        )


def _core_log() -> logging.Logger:
    """sdk-core's log, a child of "temporalio" (whose handler one_line_logs sets)."""
    log = logging.getLogger("temporalio.core")
    if not log.filters:
        log.addFilter(CoreLogFilter())
        log.setLevel(logging.WARNING)
        if not logging.getLogger("temporalio").handlers:  # not a script of ours: as before
            log.addHandler(logging.StreamHandler(sys.stderr))
    return log


def workflow_task_failure(core_log) -> str | None:
    """The message of a failed workflow task's failure, from sdk-core's log fields."""
    found = re.search(r'message: "((?:[^"\\]|\\.)*)"', str(core_log.fields.get("failure", "")))
    return found[1].replace('\\"', '"') if found else None


async def connect(*, retry_config: RetryConfig | None = None, interceptors=()) -> Client:
    """Connect the page or a presenter's tool; TemporalUnreachable if Temporal does not answer."""
    config = connect_config()
    config["runtime"] = quiet_runtime()
    if retry_config:
        config["retry_config"] = retry_config
    config["interceptors"] = list(interceptors)
    try:
        return await Client.connect(**config)
    except RuntimeError as err:  # "Failed client connect: ...": refused, or a bad TLS setting
        raise TemporalUnreachable(unreachable_message(config)) from err


async def wait_for_temporal(config: dict) -> None:
    """Return once Temporal answers at ``config``'s address; until then, one line says so.

    The plain ``Client.connect(**config)`` raises at once when no server answers; a
    worker started before the dev server (make demo, a presenter in a hurry) waits.
    """
    said_so = False
    while True:
        try:
            await Client.connect(**config)
            return
        except RuntimeError:  # "Failed client connect: ..."
            if not said_so:
                print(f"{unreachable_message(config)} (waiting for it...)", flush=True)
                said_so = True
            await asyncio.sleep(1)


def show_workflow_log() -> None:
    """Print workflow.logger messages bare, one per line, on stdout.

    workflow.logger is quiet while a workflow replays, so a worker that
    resumes a run does not print the lines it printed before.
    """
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log = logging.getLogger("temporalio.workflow")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    # Without this, every message would carry the run's details in a dict.
    from temporalio import workflow

    workflow.logger.workflow_info_on_message = False


async def until_ctrl_c(worker: Worker) -> AsyncIterator[Worker]:
    """``async for worker in until_ctrl_c(worker): await worker.run()``: the worker, then copies.

    Ctrl-C (or SIGTERM) says "Stopping the worker...", calls ``worker.shutdown()`` (its
    ``run()`` returns once in-flight work is done), says "Worker stopped." and ends the
    loop; a second Ctrl-C leaves at once. When the Temporal service comes back after an
    outage (demo 4), the worker is shut down and a fresh copy with the same settings
    comes round the loop, polling at once. The plain SDK does not do this: sdk-core
    retries a failed poll with a backoff that grows to 10 s (task_poll_retry_policy,
    not configurable), so the run would resume up to ten seconds after the restart.
    """
    stopping = came_back = False
    shutting_down: set[asyncio.Task] = set()  # a reference, so the task is not collected

    def stop() -> None:
        nonlocal stopping
        stopping = True
        on_ctrl_c(_leave_now)  # a second Ctrl-C while shutting down leaves at once
        print("Stopping the worker...", flush=True)
        shutting_down.add(asyncio.ensure_future(worker.shutdown()))

    async def renew_when_temporal_comes_back() -> None:
        nonlocal came_back
        await _temporal_came_back(worker.client)
        came_back = True
        await worker.shutdown()  # its run() returns; a fresh copy takes over below

    on_ctrl_c(stop)
    while True:
        watching = asyncio.create_task(renew_when_temporal_comes_back())
        try:
            yield worker
        finally:
            watching.cancel()
        if stopping or not came_back:
            print("Worker stopped.", flush=True)
            return
        came_back = False
        worker = Worker(**worker.config())
        print("Temporal is back: the worker polls again.", flush=True)


def stop_signals() -> list[int]:
    """What stops a script as Ctrl-C does: SIGINT, SIGTERM and, on Windows, SIGBREAK.

    On Windows, make demo's Ctrl-C to a piece is a CTRL_BREAK_EVENT (see interrupt()),
    which Python raises as SIGBREAK.
    """
    sigbreak = getattr(signal, "SIGBREAK", None)  # Windows only
    return [signal.SIGINT, signal.SIGTERM, *([sigbreak] if sigbreak is not None else [])]


def on_ctrl_c(handler: Callable[[], None]) -> None:
    """Call ``handler`` in the event loop on Ctrl-C (SIGINT), SIGTERM and SIGBREAK.

    The loop's own signal handlers where it has them (Linux, macOS); on Windows,
    whose event loops raise NotImplementedError for add_signal_handler, Python's
    signal module, handing the call over to the loop.
    """
    loop = asyncio.get_running_loop()
    for sig in stop_signals():
        try:
            loop.add_signal_handler(sig, handler)
        except NotImplementedError:
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(handler))


async def _temporal_came_back(client: Client, every: float = 0.5) -> None:
    """Return once the Temporal service answers again after not answering."""
    down = False
    while True:
        try:
            await client.workflow_service.get_system_info(
                GetSystemInfoRequest(), retry=False, timeout=timedelta(seconds=1)
            )
            if down:
                return
        except RPCError:
            if not down:
                print(f"Lost Temporal at {describe_target()}: waiting for it...", flush=True)
            down = True
        await asyncio.sleep(every)


def _leave_now() -> None:
    print("Stopped.", flush=True)
    _exit(130)


def ctrl_c_works() -> None:
    """Make Ctrl-C raise KeyboardInterrupt even if SIGINT came in ignored.

    A process started in the background by a non-interactive shell inherits
    SIGINT ignored; Python then leaves it that way and Ctrl-C does nothing.
    On Windows, SIGBREAK too (make demo's Ctrl-C to a piece there): without
    this, Windows would end the process at once, its last lines unsaid.
    """
    for sig in stop_signals():
        if sig != signal.SIGTERM:  # SIGTERM keeps its default: it ends a script at once
            signal.signal(sig, signal.default_int_handler)


# --- Ctrl-C to a child, the platform's way (make demo, its panel, the harness) --------


def on_windows() -> bool:
    return sys.platform == "win32"


def own_process_group() -> dict:
    """Popen arguments that keep a terminal's Ctrl-C for the parent, which stops the child.

    Linux, macOS: a session of its own. Windows ignores start_new_session: a process
    group of its own there, where Ctrl-C is disabled and CTRL_BREAK_EVENT reaches it alone.
    """
    if on_windows():
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


def interrupt(proc: subprocess.Popen) -> str:
    """Ctrl-C to a child started in its own group; returns what was sent, by name.

    Windows' Popen.send_signal refuses SIGINT (only SIGTERM, CTRL_C_EVENT and
    CTRL_BREAK_EVENT), and a CTRL_C_EVENT cannot be sent to one group. CTRL_BREAK_EVENT
    can: Python raises it as SIGBREAK (stop_signals()), and Go's runtime (the temporal
    CLI) as os.Interrupt, as it does Ctrl-C.
    """
    if on_windows():
        proc.send_signal(signal.CTRL_BREAK_EVENT)
        return "CTRL_BREAK_EVENT"
    proc.send_signal(signal.SIGINT)
    return "SIGINT"


def kill(proc: subprocess.Popen) -> str:
    """kill -9: Popen.kill() is SIGKILL, and TerminateProcess on Windows; returns which."""
    proc.kill()
    return "TerminateProcess" if on_windows() else "SIGKILL"


def short_error(message: str) -> str:
    """An error message without the transport's noise, for a projector.

    aiohttp says "Cannot connect to host 127.0.0.1:9000 ssl:default [Connect
    call failed ('127.0.0.1', 9000)]"; this says "Cannot connect to host
    127.0.0.1:9000 [connection refused]".
    """
    message = re.sub(r" ssl:\S+", "", message)
    return re.sub(r"\[Connect call failed \(.*?\)\]", "[connection refused]", message)


class OneLineFormatter(logging.Formatter):
    """Log records as one line each: an error's type and message, no traceback."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        core = getattr(record, "temporal_log", None)
        if core is not None:  # sdk-core's: "Failing workflow task" (CoreLogFilter), or an error
            if core.message == FAILING_WORKFLOW_TASK:
                why = workflow_task_failure(core) or "no reason given"
                run = core.fields.get("run_id", "?")
                return (
                    f"Workflow task failed (run {run}): {why}. The run waits, safe,"
                    " for a worker whose code matches its history."
                )
            return core.message
        activity_info = getattr(record, "temporal_activity", None)
        if record.exc_info and record.exc_info[1] is not None:
            err = record.exc_info[1]
            if activity_info:
                why = f"{type(err).__name__}: {short_error(str(err))}"
                message = (
                    f"Activity {activity_info['activity_type']} failed "
                    f"(attempt {activity_info['attempt']}): {why}"
                )
            else:
                message = f"{message}: {type(err).__name__}: {err}"
        return message


def one_line_logs() -> None:
    """The SDK's own warnings (e.g. a failing activity) as one line, not a traceback."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLineFormatter())
    log = logging.getLogger("temporalio")
    log.addHandler(handler)
    log.setLevel(logging.WARNING)
    log.propagate = False


@contextlib.contextmanager
def clean_exit() -> Iterator[None]:
    """Around a script's ``asyncio.run(main())``: leave cleanly, whatever happens.

    Ctrl-C outside the worker's loop is status 130; no Temporal is its one-line
    message and status 1; then ``os._exit`` (see the module docstring).
    """
    one_line_logs()
    ctrl_c_works()
    Runtime.set_default(quiet_runtime(), error_if_already_set=False)
    code = 0
    try:
        yield
    except SystemExit as leaving:  # sys.exit(asyncio.run(main()))
        code = leaving.code or 0
    except KeyboardInterrupt:
        code = 130
    except Exception as err:  # never a traceback on the presenter's screen
        # Client.connect's RuntimeError("Failed client connect: ..."): refused, or bad TLS.
        if isinstance(err, RuntimeError) and str(err).startswith("Failed client connect"):
            print(unreachable_message(), file=sys.stderr)
        else:  # e.g. a worker's fatal error: a namespace that does not exist
            print(f"{Path(sys.argv[0]).name} stopped: {err}", file=sys.stderr)
        code = 1
    _exit(code)


def run_tool(main: Callable[[], int], name: str, interrupted: str = "Interrupted.") -> None:
    """A presenter's tool (make check, present, reset): its exit status, never a traceback.

    It leaves with os._exit: a tool may hold temporalio's bridge (see above) or
    daemon threads still waiting on the network.
    """
    try:
        code = main()
    except KeyboardInterrupt:
        print(f"\n{interrupted}")
        code = 130
    except BrokenPipeError:  # make check | head
        code = 1
    except Exception as err:  # never a traceback on the presenter's screen
        print(f"{name} failed: {type(err).__name__}: {err}")
        code = 1
    with contextlib.suppress(BrokenPipeError):
        _exit(code)
    os._exit(code)


def missing_package(err: ImportError, tool: str, maintainer: bool = False) -> NoReturn:
    """A tool's package is not installed: one line saying what to install, exit status 1.

    Called where the tool imports it, before anything else runs (run_tool's guard comes
    later): the presenter's tools need requirements.txt (a .venv made before it pinned their
    packages), a maintainer's needs requirements-dev.txt.
    """
    package = err.name or str(err)
    if maintainer:
        raise SystemExit(
            f"{tool} is a maintainer's tool: pip install -r requirements-dev.txt"
            f" (it needs {package})"
        )
    raise SystemExit(
        f"{tool} needs {package}, which this environment lacks: pip install -r requirements.txt"
    )


def _exit(code: int) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter finalisation: see the module docstring.
    os._exit(code)


def run_web_app(app, host: str, port: int, debug: bool = False) -> None:
    """Serve a Flask app until Ctrl-C; a port in use is one line, not a traceback."""
    from werkzeug.serving import make_server

    one_line_logs()
    ctrl_c_works()
    # One line per request would bury the app's own lines; keep warnings only.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    if debug:
        app.run(host=host, port=port, debug=True, use_reloader=False)
        _exit(0)
    try:
        # Our own socket: werkzeug would print its own lines and exit on a busy port.
        listening = socket.create_server((host, port))
    except OSError as err:
        print(
            f"Cannot serve on {host}:{port}: {os.strerror(err.errno) if err.errno else err}."
            " Is the app already running? Pick another port with --port.",
            file=sys.stderr,
        )
        _exit(1)
    server = make_server(host, port, app, threaded=True, fd=listening.fileno())
    print(f"The app is at http://{host}:{port} (Ctrl-C stops it)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()  # returns on Ctrl-C
    print("App stopped.", flush=True)
    _exit(0)
