"""The real pieces run as a presenter runs them: subprocesses, Ctrl-C as SIGINT (on Windows,
CTRL_BREAK_EVENT: demo_support.interrupt). For the tests, the benchmark and the recorder."""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import demo_support
from demo_support import net
from presenter import stage

REPO = Path(__file__).resolve().parents[1]
COUNTER_DIR = REPO / "durable-vs-volatile-execution"
HELLO_DIR = REPO / "hello-ip"
TEMPORAL = Path(stage.temporal_cli() or "temporal")  # beside python, else on PATH
TEST_NAMESPACE = "meetup-tests"  # not "default": proves TEMPORAL_NAMESPACE is honoured
# One namespace per scenario test, so that its workers are the only ones on its task queue.
SCENARIO_NAMESPACES = [f"scenario-{i}" for i in range(32)]
EXPECTED_IP = "203.0.113.42"  # what standin.py answers
EXPECTED_LOCATION = "Toronto, Ontario, Canada"

port_open = net.port_in_use  # something listens on 127.0.0.1:port
wait_for = net.wait_for
http = net.http_json  # (status, parsed body)


def free_port() -> int:
    """A free port below Linux's ephemeral range, where an outgoing connection could take it."""
    while not net.can_bind(port := random.randrange(20000, 32000)):
        pass
    return port


def internet() -> bool:
    """Does the real IP service answer from here? (The online demos need it.)"""
    try:
        socket.create_connection(("icanhazip.com", 443), timeout=2).close()
        return True
    except OSError:
        return False


def _restore_sigint() -> None:
    # A child of a non-interactive shell's background job inherits SIGINT ignored.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.setpgrp()  # a group of its own, so the test's own Ctrl-C does not reach it


# Where Proc keeps each process's output: pytest's tmp_path_factory in the tests.
OUTPUT_ROOT: Path | None = None


class Proc:
    """A script run as a subprocess, its output captured to files."""

    def __init__(self, args, cwd, env=None, name=None):
        self.name = name or Path(str(args[-1])).name
        self.dir = Path(tempfile.mkdtemp(prefix=f"{self.name}-", dir=OUTPUT_ROOT))
        self.out_path, self.err_path = self.dir / "stdout", self.dir / "stderr"
        # Windows has no preexec_fn: a process group of its own there.
        group = (
            demo_support.own_process_group()
            if demo_support.on_windows()
            else {"preexec_fn": _restore_sigint}
        )
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.popen = subprocess.Popen(
                [str(a) for a in args],
                cwd=cwd,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                **group,
            )

    @property
    def stdout(self) -> str:
        return self.out_path.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def lines(self) -> list[str]:
        return self.stdout.splitlines()

    def _said(self) -> str:
        return f"\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"

    def wait_for_line(self, pattern: str, timeout: float = 15, start: int = 0) -> str:
        """The first stdout line (after the first `start`) matching pattern."""
        regex = re.compile(pattern)

        def found():
            line = next((x for x in self.lines()[start:] if regex.search(x)), None)
            if line is None and self.popen.poll() is not None:
                raise AssertionError(
                    f"{self.name} exited ({self.popen.returncode}) before printing "
                    f"{pattern!r}{self._said()}"
                )
            return line

        return wait_for(found, timeout, 0.05, f"{self.name} to print {pattern!r}")

    def interrupt(self, timeout: float = 15) -> int:
        """Ctrl-C, then wait for the process to end."""
        demo_support.interrupt(self.popen)
        return self.wait(timeout)

    def kill(self) -> int:
        self.popen.kill()
        return self.wait(10)

    def wait(self, timeout: float = 15) -> int:
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(5)
            raise AssertionError(
                f"{self.name} did not exit within {timeout}s{self._said()}"
            ) from None

    def stop(self) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(AssertionError):  # killed after 10 s
                self.interrupt(10)

    def assert_clean_exit(self, code: int | None = None) -> None:
        """Exit status 0 or 130, and nothing a presenter should not see."""
        rc = self.popen.returncode if code is None else code
        text = self.stdout + self.stderr
        assert rc in (0, 130), f"{self.name} exited {rc}\n{text}"
        for bad in ("Traceback", "Fatal Python error", "Segmentation fault", "panicked"):
            assert bad not in text, f"{self.name} printed {bad!r}:\n{text}"


def python_script(script: Path, *args, env=None, name=None) -> Proc:
    """`python script.py` from the script's own folder, as the README says."""
    return Proc([sys.executable, script.name, *args], script.parent, env, name or script.name)


def temporal(server, *args, namespace=TEST_NAMESPACE, check=False) -> subprocess.CompletedProcess:
    """The temporal CLI against the server."""
    where = ["--address", server.address, "--namespace", namespace]
    return subprocess.run([TEMPORAL, *args, *where], capture_output=True, text=True, check=check)


class DevServer:
    """The real dev server as make demo starts it (its own process: Ctrl-C or kill -9 it,
    restart it on its database), on free ports, in `db_dir`'s temporal.db (default: a temp dir).

    The SDK's WorkflowEnvironment.start_local runs the same CLI, but gives no process to
    signal or restart (demo 4, make reset): one class serves every test.
    """

    NAMESPACES = (TEST_NAMESPACE, *SCENARIO_NAMESPACES)

    def __init__(self, db_dir: Path | None = None, namespaces=NAMESPACES):
        self.port, self.ui_port, self.namespaces = free_port(), free_port(), namespaces
        db_dir = db_dir or tempfile.mkdtemp(prefix="temporal-", dir=OUTPUT_ROOT)
        self.db_file = Path(db_dir) / "temporal.db"
        self.proc: Proc | None = None
        self.started = False  # once it has, its ports stay (a restart is on the same ones)

    @property
    def address(self) -> str:
        return f"localhost:{self.port}"  # as stage.pieces() gives it to the scripts

    def env(self, namespace: str = TEST_NAMESPACE) -> dict:
        return {"TEMPORAL_ADDRESS": self.address, "TEMPORAL_NAMESPACE": namespace}

    def start(self, timeout: float = 30) -> DevServer:
        ports = {"server_port": self.port, "ui_port": self.ui_port}
        server = stage.pieces(False, **ports, db_filename=str(self.db_file))[0]  # make demo's
        args = [*server.argv(), "--ip", "127.0.0.1", "--log-level", "error"]
        args += [arg for ns in self.namespaces for arg in ("--namespace", ns)]
        self.proc = Proc(args, cwd=self.db_file.parent, name="temporal")
        try:
            wait_for(self._ready, timeout, 0.2, "the Temporal dev server")
        except AssertionError as err:  # a free port taken since by another test's process
            if self.started or "address already in use" not in str(err):
                raise
            self.port, self.ui_port = free_port(), free_port()
            return self.start(timeout)
        self.started = True
        return self

    restart = start  # the same ports, the same database file

    def _ready(self) -> bool:
        if self.proc.popen.poll() is not None:
            raise AssertionError(f"dev server exited:{self.proc._said()}")
        if not port_open(self.port):
            return False
        last = (self.namespaces or ("default",))[-1]  # the port opens before the namespaces
        return temporal(self, "operator", "namespace", "describe", namespace=last).returncode == 0

    def stop(self, sig: int | None = None) -> None:
        """Ctrl-C (the platform's way), or the signal given (SIGKILL: the tests' kill -9)."""
        if self.proc and self.proc.popen.poll() is None:
            if sig is None:
                demo_support.interrupt(self.proc.popen)
            else:
                self.proc.popen.send_signal(sig)
            self.proc.wait(20)


Server = LocalServer = DevServer  # the names conftest, benchmark and slide_screenshots use


def history_json(server, workflow_id: str, namespace: str = TEST_NAMESPACE) -> str:
    """A run's history, exactly as `temporal workflow show --output json` prints it."""
    show = ("workflow", "show", "--workflow-id", workflow_id, "--output", "json")
    return temporal(server, *show, namespace=namespace, check=True).stdout


def history(server, workflow_id: str, namespace: str = TEST_NAMESPACE) -> list[dict]:
    return json.loads(history_json(server, workflow_id, namespace))["events"]


def event_types(events: list[dict]) -> list[str]:
    return [e["eventType"].removeprefix("EVENT_TYPE_") for e in events]


def activity_counts(events: list[dict], state: str = "COMPLETED") -> dict[str, int]:
    """How many times each activity type reached `state` (SCHEDULED, COMPLETED...)."""
    key = f"activityTask{state.title()}EventAttributes"
    names = {e["eventId"]: a["activityType"]["name"] for e in events
             if (a := e.get("activityTaskScheduledEventAttributes"))}  # fmt: skip
    ids = [e["eventId"] if state == "SCHEDULED" else e[key]["scheduledEventId"]
           for e in events if key in e]  # fmt: skip
    return dict(Counter(names[i] for i in ids))


def terminate(server, workflow_id: str, namespace: str = TEST_NAMESPACE) -> None:
    terminate = ("workflow", "terminate", "--workflow-id", workflow_id, "--reason", "cleanup")
    temporal(server, *terminate, namespace=namespace)


class HelloStage:
    """hello-ip's pieces as make demo --offline declares them (stage.pieces()): the stand-in,
    workers, the app; on free ports, in a namespace of the test's."""

    def __init__(self, server: DevServer, namespace: str = TEST_NAMESPACE):
        self.server, self.namespace = server, namespace
        self.standin_port, self.app_port = free_port(), free_port()
        ports = (server.port, server.ui_port, self.app_port, self.standin_port)
        self.pieces = {p.name: p for p in stage.pieces(True, *ports, namespace=namespace)}
        self.procs: list[Proc] = []

    @property
    def env(self) -> dict:
        """The worker's settings and the app's together."""
        return {**self.pieces["worker"].started(), **self.pieces["app"].started()}

    def _run(self, piece: str, *args, folder: Path | None = None, name=None) -> Proc:
        """The declared piece, with more arguments, from `folder` (a copy of hello-ip)."""
        declared = self.pieces[piece]
        argv = [*declared.argv(), *args]
        proc = Proc(argv, folder or declared.cwd, declared.started(), name or declared.command[1])
        self.procs.append(proc)
        return proc

    def start_standin(self) -> Proc:
        proc = self._run("standin")
        wait_for(lambda: port_open(self.standin_port), 15, what="the stand-in services")
        return proc

    def start_worker(self, folder: Path | None = None, name: str = "worker.py") -> Proc:
        proc = self._run("worker", folder=folder, name=name)
        proc.wait_for_line(r"^Starting the worker \(")
        return proc

    def start_app(self, *args: str) -> Proc:
        """The app; with ``--room --room-host ADDR``, its room too (``room_url(proc)``)."""
        proc = self._run("app", *args)
        proc.wait_for_line(r"^The app is at http://127\.0\.0\.1:")
        return proc

    @staticmethod
    def room_url(proc: Proc) -> str:
        """The join URL a room-mode app printed: http://ADDR:PORT/j/CODE."""
        line = proc.wait_for_line(r"^The room joins at http://")
        return re.search(r"http://\S+", line).group(0)

    def start_all(self) -> HelloStage:
        self.start_standin()
        self.start_worker()
        self.start_app()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.app_port}"

    def post(self, name: str = "Ada", sleep_seconds: int = 0) -> str:
        body = {"name": name, "sleep_seconds": sleep_seconds}
        code, body = http("POST", f"{self.url}/api/greetings", body)
        assert code == 202, body
        return body["workflow_id"]

    def status(self, workflow_id: str, wait: float = 0) -> tuple[int, dict]:
        return http("GET", f"{self.url}/api/greetings/{workflow_id}?wait={wait}")

    def wait_done(self, workflow_id: str, timeout: float = 30) -> dict:
        """Poll as the page does (each request waits) until the run has ended."""
        last = [None]

        def done():
            code, body = last[0] = self.status(workflow_id, wait=1)
            return code == 200 and body["status"] != "RUNNING" and body

        return wait_for(done, timeout, 0, lambda: f"{workflow_id} not done in {timeout}s: {last}")

    def wait_progress(self, workflow_id: str, predicate, timeout: float = 30) -> dict:
        """The status, once its progress satisfies predicate(progress)."""

        def check():
            code, body = self.status(workflow_id)
            return code == 200 and predicate(body.get("progress") or {}) and body

        return wait_for(check, timeout, 0.2, f"progress of {workflow_id}")

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()

    def history(self, workflow_id: str) -> list[dict]:
        return history(self.server, workflow_id, self.namespace)

    def wait_for_event(self, workflow_id: str, event_type: str, timeout: float = 20) -> None:
        """Wait until the run's history has an event of this type (e.g. TIMER_STARTED)."""
        seen = lambda: event_type in event_types(self.history(workflow_id))  # noqa: E731
        wait_for(seen, timeout, 0.2, f"{event_type} in {workflow_id}")


def readme_bug_edit() -> tuple[str, int, str, str]:
    """Demo 5's edit, as the README states it: file, line, old text, new text."""
    readme = (REPO / "README.md").read_text()
    found = re.search(r"In `hello-ip/(\w+\.py)`, line (\d+), change `([^`]+)` to `([^`]+)`", readme)
    assert found, "the README names demo 5's edit as: In `hello-ip/FILE`, line N, change `A` to `B`"
    return found[1], int(found[2]), found[3], found[4]


def ship_the_bug(hello_dir: Path) -> tuple[Path, str]:
    """Demo 5's edit made in a copy of hello-ip: (the edited file, its text before)."""
    filename, line, old, new = readme_bug_edit()
    source = hello_dir / filename
    original = source.read_text()
    lines = original.splitlines(keepends=True)
    assert old in lines[line - 1], f"line {line} of {filename} is {lines[line - 1]!r}"
    lines[line - 1] = lines[line - 1].replace(old, new)
    source.write_text("".join(lines))
    return source, original


def readme_edit(name: str) -> tuple[str, int, str]:
    """Demo 6's edit NAME, marked ``<!-- edit: NAME, FILE after line N -->`` before a python
    block in the README: (file, the line it goes after, the lines)."""
    pattern = rf"<!-- edit: {re.escape(name)}, ([\w./-]+) after line (\d+) -->\n```python\n(.*?)```"
    found = re.search(pattern, (REPO / "README.md").read_text(), re.S)
    assert found, f"README.md has no <!-- edit: {name}, FILE after line N --> python block"
    return found[1], int(found[2]), found[3]


def make_readme_edit(hello_dir: Path, name: str) -> tuple[Path, str]:
    """Demo 6's edit NAME (demo-6-change, demo-6-fix) made to the committed file, in hello_dir:
    (the edited file, the committed text, which reverts it as `git checkout` does)."""
    path, after, lines = readme_edit(name)
    committed = (REPO / path).read_text()
    kept = committed.splitlines(keepends=True)
    source = hello_dir / Path(path).relative_to("hello-ip")
    source.write_text("".join(kept[:after]) + lines + "".join(kept[after:]))
    return source, committed


def expected_greeting(name: str) -> list[str]:
    return [
        f"Hello, {name}!",
        f"Your IP Address is {EXPECTED_IP}.",
        f"You are in {EXPECTED_LOCATION}",
    ]


class DemoStage:
    """`make demo --offline` (python -m presenter.stage) on free ports, from `repo` (a copy, for
    demo 5's edit). stop() is Ctrl-C, never kill -9: its pieces, in sessions (on Windows process
    groups) of their own, would outlive it."""

    def __init__(self, db_dir: Path, repo: Path = REPO, offline: bool = True):
        self.ports = {name: free_port() for name in ("server", "ui", "app", "standin")}
        args = [sys.executable, "-m", "presenter.stage"] + (["--offline"] if offline else [])
        for name, port in self.ports.items():
            args += [f"--{name}-port", port]
        args += ["--db-filename", Path(db_dir) / "temporal.db"]
        self.proc = Proc(args, cwd=repo, name="stage")
        self.proc.wait_for_line(r"^Ready: the app at", timeout=60)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports['app']}"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.ports['server']}"

    def history(self, workflow_id: str) -> list[dict]:
        return history(self, workflow_id, "default")

    def pieces(self) -> dict[str, dict]:
        code, body = http("GET", f"{self.url}/api/stage")
        assert code == 200, body
        return {piece["name"]: piece for piece in body["pieces"]}

    def press(self, piece: str, action: str, origin: str | None = "", token: str | None = ""):
        """A button press as the page makes it; origin/token None leave the header out."""
        if token == "":
            token = http("GET", f"{self.url}/api/stage")[1]["token"]
        headers = {} if origin is None else {"Origin": origin or self.url}
        if token is not None:
            headers["X-Stage-Token"] = token
        return http("POST", f"{self.url}/api/stage/{piece}/{action}", None, 10, headers)

    def wait_state(self, piece: str, state: str, timeout: float = 30) -> dict:
        now = lambda: (p := self.pieces()[piece])["state"] == state and p  # noqa: E731
        return wait_for(now, timeout, 0.2, f"the {piece} to be {state}")

    def stop(self) -> int:
        return self.proc.interrupt(timeout=40)
