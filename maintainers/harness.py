"""Running the real pieces as a presenter would: subprocesses, Ctrl-C as SIGINT
(on Windows, CTRL_BREAK_EVENT: demo_support.interrupt).

The tests drive the stage with it, and so do the benchmark and the history recorder.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import demo_support
from demo_support import net
from presenter import stage

REPO = Path(__file__).resolve().parents[1]  # the package lives in the repository
COUNTER_DIR = REPO / "durable-vs-volatile-execution"
HELLO_DIR = REPO / "hello-ip"
TEMPORAL = Path(stage.temporal_cli() or "temporal")  # beside python, else on PATH
TEST_NAMESPACE = "meetup-tests"  # not "default": proves TEMPORAL_NAMESPACE is honoured
# One namespace per scenario test, so that its workers are the only ones on its task queue.
SCENARIO_NAMESPACES = [f"scenario-{i}" for i in range(32)]


def free_port() -> int:
    """A free port below Linux's ephemeral range (32768 and up).

    A port the OS hands out for bind(0) comes from the ephemeral range, where
    it may next become the local port of some outgoing connection, and a
    server started on it a moment later fails with "Address already in use".
    """
    while True:
        port = random.randrange(20000, 32000)
        if net.can_bind(port):
            return port


port_open = net.port_in_use  # something listens on 127.0.0.1:port
wait_for = net.wait_for
http = net.http_json  # (status, parsed body)


def internet() -> bool:
    """Does the real IP service answer from here? (The online demos need it.)"""
    try:
        socket.create_connection(("icanhazip.com", 443), timeout=2).close()
        return True
    except OSError:
        return False


def _restore_sigint() -> None:
    # A child of a non-interactive shell's background job inherits SIGINT
    # ignored; a presenter's terminal delivers it. Restore the default.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.setpgrp()  # a group of its own, so the test's own Ctrl-C does not reach it


def _own_group() -> dict:
    """Popen arguments: _restore_sigint where there is one; Windows has no preexec_fn,
    and a process group of its own there (demo_support.own_process_group)."""
    if demo_support.on_windows():
        return demo_support.own_process_group()
    return {"preexec_fn": _restore_sigint}


# Where Proc keeps each process's output. The tests set it to a folder of
# pytest's own (tmp_path_factory, cleaned up by pytest); scripts leave it unset.
OUTPUT_ROOT: Path | None = None


class Proc:
    """A script run as a subprocess, its output captured to files."""

    def __init__(self, args, cwd, env=None, name=None):
        self.name = name or Path(str(args[-1])).name
        self.dir = Path(tempfile.mkdtemp(prefix=f"{self.name}-", dir=OUTPUT_ROOT))
        self.out_path = self.dir / "stdout"
        self.err_path = self.dir / "stderr"
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.popen = subprocess.Popen(
                [str(a) for a in args],
                cwd=cwd,
                env=full_env,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                **_own_group(),
            )
        self.started = time.monotonic()

    @property
    def stdout(self) -> str:
        return self.out_path.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def lines(self) -> list[str]:
        return self.stdout.splitlines()

    def wait_for_line(self, pattern: str, timeout: float = 15, start: int = 0) -> str:
        """Wait until stdout has a line (after the first `start` lines) matching pattern."""
        regex = re.compile(pattern)

        def found():
            for line in self.lines()[start:]:
                if regex.search(line):
                    return line
            if self.popen.poll() is not None:
                raise AssertionError(
                    f"{self.name} exited ({self.popen.returncode}) before printing "
                    f"{pattern!r}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"
                )
            return None

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
                f"{self.name} did not exit within {timeout}s\n"
                f"stdout:\n{self.stdout}\nstderr:\n{self.stderr}"
            ) from None

    def stop(self) -> None:
        if self.popen.poll() is None:
            demo_support.interrupt(self.popen)
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)

    def assert_clean_exit(self, code: int | None = None) -> None:
        """Exit status 0 or 130, and nothing a presenter should not see."""
        rc = self.popen.returncode if code is None else code
        text = self.stdout + self.stderr
        assert rc in (0, 130), f"{self.name} exited {rc}\n{text}"
        for bad in ("Traceback", "Fatal Python error", "Segmentation fault", "panicked"):
            assert bad not in text, f"{self.name} printed {bad!r}:\n{text}"


def python_script(script: Path, *args, env=None, name=None) -> Proc:
    """Run `python script.py` from the script's own folder, as the README says."""
    return Proc(
        [sys.executable, script.name, *args], cwd=script.parent, env=env, name=name or script.name
    )


class Server:
    """Where the tests find a Temporal dev server: its ports, its address, the scripts' env."""

    NAMESPACES = (TEST_NAMESPACE, *SCENARIO_NAMESPACES)

    def __init__(self, namespaces=NAMESPACES):
        self.port = free_port()
        self.ui_port = free_port()
        self.namespaces = namespaces

    @property
    def address(self) -> str:
        return f"localhost:{self.port}"  # as stage.pieces() gives it to the scripts

    def env(self, namespace: str = TEST_NAMESPACE) -> dict:
        return {"TEMPORAL_ADDRESS": self.address, "TEMPORAL_NAMESPACE": namespace}

    def _namespaces_ready(self) -> bool:
        """The port opens before the namespaces are ready: ask the CLI."""
        probe = subprocess.run(
            [TEMPORAL, "operator", "namespace", "describe", "--address", self.address,
             "--namespace", self.namespaces[-1] if self.namespaces else "default"],
            capture_output=True,
        )  # fmt: skip
        return probe.returncode == 0


class LocalServer(Server):
    """The SDK's own dev server (WorkflowEnvironment.start_local, the pip-installed CLI),
    on free ports, with the Web UI, in memory or in `db_dir`'s temporal.db: for servers
    that live as long as their tests, and that the tests never stop or restart.
    """

    def __init__(self, db_dir: Path | None = None, namespaces=Server.NAMESPACES):
        super().__init__(namespaces)
        self.db_file = None if db_dir is None else Path(db_dir) / "temporal.db"
        self._environment = None

    def start(self, timeout: float = 30) -> LocalServer:
        from temporalio.testing import WorkflowEnvironment

        extra = [arg for ns in self.namespaces[1:] for arg in ("--namespace", ns)]
        started = WorkflowEnvironment.start_local(
            namespace=self.namespaces[0] if self.namespaces else "default",
            port=self.port,
            ui=True,
            ui_port=self.ui_port,
            dev_server_existing_path=str(TEMPORAL),
            dev_server_database_filename=self.db_file and str(self.db_file),
            dev_server_log_level="error",
            dev_server_extra_args=extra,
            dev_server_startup_timeout=timedelta(seconds=timeout),
        )
        self._environment = asyncio.run(started)
        wait_for(self._namespaces_ready, timeout, 0.2, "the dev server's namespaces")
        return self

    def stop(self) -> None:
        if self._environment is not None:
            asyncio.run(self._environment.shutdown())
            self._environment = None


class DevServer(Server):
    """The real Temporal dev server as the presenter runs it (the pip-installed CLI), its own
    process with a database file, on free ports.

    For the tests that do to the server what a presenter does (Ctrl-C or kill -9 it, then
    start it again with the same database: demo 4), or that let another program stop it
    (make reset): the SDK's LocalServer cannot be signalled or restarted.
    """

    def __init__(self, db_dir: Path, namespaces=Server.NAMESPACES):
        super().__init__(namespaces)
        self.db_file = Path(db_dir) / "temporal.db"
        self.proc: Proc | None = None

    def start(self, timeout: float = 30) -> DevServer:
        ports = {"server_port": self.port, "ui_port": self.ui_port}
        server = stage.pieces(False, **ports, db_filename=str(self.db_file))[0]  # make demo's
        args = [*server.argv(), "--ip", "127.0.0.1", "--log-level", "error"]
        for ns in self.namespaces:
            args += ["--namespace", ns]
        self.proc = Proc(args, cwd=self.db_file.parent, name="temporal")
        wait_for(self._ready, timeout, 0.2, "the Temporal dev server")
        return self

    def _ready(self) -> bool:
        if self.proc.popen.poll() is not None:
            raise AssertionError(f"dev server exited:\n{self.proc.stdout}\n{self.proc.stderr}")
        return port_open(self.port) and self._namespaces_ready()

    def stop(self, sig: int | None = None) -> None:
        """Ctrl-C (the platform's way), or the signal given (SIGKILL: the tests' kill -9)."""
        if self.proc and self.proc.popen.poll() is None:
            if sig is None:
                demo_support.interrupt(self.proc.popen)
            else:
                self.proc.popen.send_signal(sig)
            self.proc.wait(20)

    def restart(self) -> DevServer:
        """Start again on the same ports with the same database file."""
        return self.start()


def history_json(server: Server, workflow_id: str, namespace: str = TEST_NAMESPACE) -> str:
    """A run's event history, exactly as `temporal workflow show --output json` prints it."""
    out = subprocess.run(
        [TEMPORAL, "workflow", "show", "--workflow-id", workflow_id, "--output", "json",
         "--address", server.address, "--namespace", namespace],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return out.stdout


def history(server: Server, workflow_id: str, namespace: str = TEST_NAMESPACE) -> list[dict]:
    """A run's history events, parsed."""
    return json.loads(history_json(server, workflow_id, namespace))["events"]


def event_types(events: list[dict]) -> list[str]:
    return [e["eventType"].removeprefix("EVENT_TYPE_") for e in events]


def activity_counts(events: list[dict], state: str = "COMPLETED") -> dict[str, int]:
    """How many times each activity type reached `state` (SCHEDULED, COMPLETED...)."""
    scheduled = {}
    for e in events:
        attrs = e.get("activityTaskScheduledEventAttributes")
        if attrs:
            scheduled[e["eventId"]] = attrs["activityType"]["name"]
    counts: dict[str, int] = {}
    key = "activityTask" + state.title() + "EventAttributes"
    for e in events:
        if state == "SCHEDULED" and e["eventId"] in scheduled:
            name = scheduled[e["eventId"]]
        elif key in e:
            name = scheduled[e[key]["scheduledEventId"]]
        else:
            continue
        counts[name] = counts.get(name, 0) + 1
    return counts


def terminate(server: Server, workflow_id: str, namespace: str = TEST_NAMESPACE) -> None:
    subprocess.run(
        [TEMPORAL, "workflow", "terminate", "--workflow-id", workflow_id, "--reason", "cleanup",
         "--address", server.address, "--namespace", namespace],
        capture_output=True,
    )  # fmt: skip


class HelloStage:
    """hello-ip's pieces for one test, as make demo --offline starts them (stage.pieces()):
    the stand-in services, workers, the app; on free ports, in a namespace of the test's."""

    def __init__(self, server: Server, namespace: str = TEST_NAMESPACE):
        self.server = server
        self.namespace = namespace
        self.standin_port = free_port()
        self.app_port = free_port()
        ports = (server.port, server.ui_port, self.app_port, self.standin_port)
        declared = stage.pieces(True, *ports, namespace=namespace)
        self.pieces = {piece.name: piece for piece in declared}
        self.procs: list[Proc] = []

    @property
    def env(self) -> dict:
        """The worker's settings and the app's together."""
        return {**self.pieces["worker"].started(), **self.pieces["app"].started()}

    def _run(self, piece: str, *args, folder: Path | None = None, name=None) -> Proc:
        """The declared piece (with more arguments; from a copy of its folder)."""
        declared = self.pieces[piece]
        argv, cwd = [*declared.argv(), *args], folder or declared.cwd
        proc = Proc(argv, cwd, declared.started(), name or declared.command[1])
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

    def start_app(self) -> Proc:
        proc = self._run("app")
        proc.wait_for_line(r"^The app is at http://127\.0\.0\.1:")
        return proc

    def start_all(self) -> HelloStage:
        self.start_standin()
        self.start_worker()
        self.start_app()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.app_port}"

    def post(self, name: str = "Ada", sleep_seconds: int = 0) -> str:
        code, body = http(
            "POST", f"{self.url}/api/greetings", {"name": name, "sleep_seconds": sleep_seconds}
        )
        assert code == 202, body
        return body["workflow_id"]

    def status(self, workflow_id: str, wait: float = 0) -> tuple[int, dict]:
        return http("GET", f"{self.url}/api/greetings/{workflow_id}?wait={wait}")

    def wait_done(self, workflow_id: str, timeout: float = 30) -> dict:
        """Poll as the page does until the run has ended; returns the last status."""
        last = [None]

        def done():
            code, body = last[0] = self.status(workflow_id, wait=1)  # the request waits
            return code == 200 and body["status"] != "RUNNING" and body

        said = lambda: f"{workflow_id} still not done after {timeout}s: {last[0]}"  # noqa: E731
        return wait_for(done, timeout, 0, said)

    def wait_progress(self, workflow_id: str, predicate, timeout: float = 30) -> dict:
        """Poll until the status's progress satisfies predicate(progress)."""

        def check():
            code, body = self.status(workflow_id)
            return body if code == 200 and predicate(body.get("progress") or {}) else None

        return wait_for(check, timeout, 0.2, f"progress of {workflow_id}")

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()

    def history(self, workflow_id: str) -> list[dict]:
        return history(self.server, workflow_id, self.namespace)

    def wait_for_event(self, workflow_id: str, event_type: str, timeout: float = 20) -> None:
        """Wait until the run's history has an event of this type (e.g. TIMER_STARTED)."""
        wait_for(
            lambda: event_type in event_types(self.history(workflow_id)),
            timeout,
            0.2,
            f"{event_type} in {workflow_id}",
        )


EXPECTED_IP = "203.0.113.42"  # what standin.py answers
EXPECTED_LOCATION = "Toronto, Ontario, Canada"


def readme_bug_edit() -> tuple[str, int, str, str]:
    """Demo 5's edit, as the README states it: file, line, old text, new text."""
    readme = (REPO / "README.md").read_text()
    found = re.search(r"In `hello-ip/(\w+\.py)`, line (\d+), change `([^`]+)` to `([^`]+)`", readme)
    assert found, "the README names demo 5's edit as: In `hello-ip/FILE`, line N, change `A` to `B`"
    return found[1], int(found[2]), found[3], found[4]


def ship_the_bug(hello_dir: Path) -> tuple[Path, str]:
    """Make demo 5's edit in a copy of hello-ip: (the edited file, its text before the edit)."""
    filename, line, old, new = readme_bug_edit()
    source = hello_dir / filename
    original = source.read_text()
    lines = original.splitlines(keepends=True)
    assert old in lines[line - 1], f"line {line} of {filename} is {lines[line - 1]!r}"
    lines[line - 1] = lines[line - 1].replace(old, new)
    source.write_text("".join(lines))
    return source, original


def readme_edit(name: str) -> tuple[str, int, str]:
    """Demo 6's edits as the README gives them: (file, the line they go after, the lines).

    The README marks each as ``<!-- edit: NAME, FILE after line N -->`` before a python block.
    """
    readme = (REPO / "README.md").read_text()
    found = re.search(
        rf"<!-- edit: {re.escape(name)}, ([\w./-]+) after line (\d+) -->\n```python\n(.*?)```",
        readme,
        re.S,
    )
    assert found, f"README.md has no <!-- edit: {name}, FILE after line N --> python block"
    return found[1], int(found[2]), found[3]


def make_readme_edit(hello_dir: Path, name: str) -> tuple[Path, str]:
    """Demo 6's edit NAME (demo-6-change, demo-6-fix) made to hello_dir's file as the README
    says, from the committed file: (the edited file, the committed text). Reverting is
    writing the committed text back (the README's `git checkout hello-ip/workflow.py`)."""
    path, after, lines = readme_edit(name)
    committed = (REPO / path).read_text()
    source = hello_dir / Path(path).relative_to("hello-ip")
    kept = committed.splitlines(keepends=True)
    source.write_text("".join(kept[:after]) + lines + "".join(kept[after:]))
    return source, committed


def expected_greeting(name: str) -> list[str]:
    return [
        f"Hello, {name}!",
        f"Your IP Address is {EXPECTED_IP}.",
        f"You are in {EXPECTED_LOCATION}",
    ]


class DemoStage:
    """`make demo --offline` (python -m presenter.stage) on free ports, as a subprocess.

    With ``repo``, it runs from a copy of the repository (demo 5 edits hello-ip there).
    Stop it with stop(): Ctrl-C, never kill -9 (its pieces live in sessions, on Windows
    process groups, of their own: they would outlive it).
    """

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
        return wait_for(
            lambda: (p := self.pieces()[piece])["state"] == state and p,
            timeout,
            0.2,
            f"the {piece} to be {state}",
        )

    def stop(self) -> int:
        return self.proc.interrupt(timeout=40)
