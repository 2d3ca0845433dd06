"""Plumbing shared by the demo scripts; the audience need not read it.

It gives every script the same three habits:

* settings come from Temporal's environment configuration (``TEMPORAL_ADDRESS``,
  ``TEMPORAL_NAMESPACE``, ``TEMPORAL_API_KEY``, TLS settings, profiles in
  ``temporal.toml``), defaulting to the local dev server;
* when Temporal cannot be reached, one clear line says where it tried and how
  to start the dev server, never a traceback;
* Ctrl-C stops the script cleanly, and the process then leaves with
  ``os._exit`` so that temporalio's Rust bridge is not torn down during
  interpreter finalisation (sdk-python issue #300: "Fatal Python error:
  PyGILState_Release" or a segfault at exit).

It is a package of this repository that the virtual environment installs in
editable mode (``-e .`` in requirements.txt), so every script imports it the same
way from any folder. Its modules hold the rest of the plumbing: ``stage`` (what
runs where; ``make demo``), ``control`` (its stage panel), ``web``, ``reader`` and
``run_view`` (the app's plumbing: one reading of each run, in the page's words),
``present``, ``preflight``, ``reset``, ``harness``
(the processes the tests and the benchmark drive), ``benchmark`` and
``record_histories``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta

from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client
from temporalio.envconfig import ClientConfig
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
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
    return f"{config['target_host']} (namespace {config['namespace']!r})"


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
        quiet = TelemetryFilter(core_level="ERROR", other_level="ERROR")
        _runtime = Runtime(
            telemetry=TelemetryConfig(logging=LoggingConfig(filter=quiet)),
            worker_heartbeat_interval=timedelta(seconds=1),
        )
    return _runtime


async def connect(*, wait: bool = False, retry_config: RetryConfig | None = None) -> Client:
    """Connect to Temporal; with ``wait``, keep trying until it answers."""
    config = connect_config()
    config["runtime"] = quiet_runtime()
    if retry_config:
        config["retry_config"] = retry_config
    said_so = False
    while True:
        try:
            return await Client.connect(**config)
        except RuntimeError as err:
            # The SDK raises RuntimeError("Failed client connect: ...") for a
            # refused connection, an unknown namespace or a bad TLS setting.
            if not wait:
                raise TemporalUnreachable(unreachable_message(config)) from err
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


async def run_worker(worker: Worker) -> int:
    """Run a worker until Ctrl-C (or SIGTERM), then shut it down gracefully.

    While it runs, it watches the Temporal service: when the service comes back
    after an outage (demo 4), it starts the worker's pollers afresh. The SDK
    retries a failed poll with a backoff that grows to 10 s (sdk-core's
    task_poll_retry_policy, not configurable), so without this the run would
    resume anywhere from at once to ten seconds after the restart.
    """
    stop = asyncio.Event()
    on_ctrl_c(stop.set)
    stopping = asyncio.create_task(stop.wait())
    while True:
        running = asyncio.create_task(worker.run())
        came_back = asyncio.create_task(_temporal_came_back(worker.client))
        await asyncio.wait([running, stopping, came_back], return_when=asyncio.FIRST_COMPLETED)
        came_back.cancel()
        if stopping.done():
            break
        if running.done():
            # The worker ended by itself: a fatal error such as a namespace that
            # does not exist. Say it in one line.
            stopping.cancel()
            err = running.exception()
            print(f"The worker stopped: {err}", file=sys.stderr, flush=True)
            return 1
        # Temporal is back: the same worker settings, polling again right now.
        await worker.shutdown()
        with contextlib.suppress(Exception):
            await running
        worker = Worker(**worker.config())
        print("Temporal is back: the worker polls again.", flush=True)
    on_ctrl_c(_leave_now)  # a second Ctrl-C while shutting down leaves at once
    print("Stopping the worker...", flush=True)
    await worker.shutdown()
    with contextlib.suppress(Exception):
        await running
    print("Worker stopped.", flush=True)
    return 0


def on_ctrl_c(handler: Callable[[], None]) -> None:
    """Call ``handler`` in the event loop on Ctrl-C (SIGINT) and SIGTERM.

    The loop's own signal handlers where it has them (Linux, macOS); on Windows,
    whose event loops raise NotImplementedError for add_signal_handler, Python's
    signal module, handing the call over to the loop.
    """
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
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
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)


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


def run(main: Callable[[], Awaitable[int | None]]) -> None:
    """Run a script's async main() and leave cleanly, whatever happens.

    Ctrl-C outside the worker loop ends the script with status 130 and no
    traceback; TemporalUnreachable becomes its one-line message and status 1.
    """
    one_line_logs()
    ctrl_c_works()
    code = 0
    try:
        code = asyncio.run(main()) or 0
    except KeyboardInterrupt:
        code = 130
    except TemporalUnreachable as err:
        print(err, file=sys.stderr)
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
