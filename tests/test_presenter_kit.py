"""The presenter's kit, for real: make check, make present and make reset.

Every run here uses free ports, temporary folders and a private tmux server
(tmux -L), so that it never touches a stage or a tmux session that a
developer has running on this machine.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest

from maintainers.harness import (
    HELLO_DIR,
    REPO,
    TEMPORAL,
    DevServer,
    Proc,
    Server,
    expected_greeting,
    free_port,
    http,
    port_open,
    wait_for,
)
from presenter import present, stage
from presenter.tmux import Tmux

TMUX = shutil.which("tmux")


def run_tool(script: str, *args, env: dict | None = None, timeout: float = 60):
    """A presenter tool as make runs it, not in a terminal; never a traceback."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "TMUX"))}
    clean.update({"NO_COLOR": "1", **(env or {})})
    clean.pop("YES", None)
    result = subprocess.run(
        [sys.executable, "-m", f"presenter.{script.removesuffix('.py')}", *map(str, args)],
        env=clean,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    result.output = result.stdout + result.stderr
    assert "Traceback" not in result.output, result.output
    return result


def lines_about(output: str, text: str) -> list[str]:
    return [line for line in output.splitlines() if text in line]


def free_ports(n: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < n:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


# --- make check ------------------------------------------------------------------------


def test_preflight_fails_on_a_port_that_something_else_holds():
    server, ui, standin = free_ports(3)
    with socket.socket() as squatter:  # listens, but is not the hello-ip app
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        app = squatter.getsockname()[1]
        args = ["--server-port", server, "--ui-port", ui, "--app-port", app]
        result = run_tool("preflight.py", *args, "--standin-port", standin, "--net-timeout", 1)
    assert result.returncode == 1, result.output
    (line,) = lines_about(result.output, f"port {app} ")
    assert line.startswith("[FAIL]") and "-> fix:" in line and "make reset" in line, line
    for port in (server, ui, standin):
        (line,) = lines_about(result.output, f"port {port} ")
        assert line.startswith("[ OK ]"), line


def test_preflight_passes_when_everything_is_free():
    ports = free_ports(4)
    flags = ["--server-port", "--ui-port", "--app-port", "--standin-port"]
    args = [x for pair in zip(flags, ports, strict=True) for x in pair]
    started = time.monotonic()
    result = run_tool("preflight.py", *args, "--net-timeout", 1)
    assert time.monotonic() - started < 10, "preflight should take seconds, not more"
    assert result.returncode == 0, result.output
    checks = [line for line in result.output.splitlines() if line.startswith("[")]
    assert len(checks) >= 9, result.output
    assert not [line for line in checks if line.startswith("[FAIL]")], result.output
    for name in ("Python", "packages", "temporal CLI", *[f"port {p} " for p in ports]):
        (line,) = lines_about(result.output, name)
        assert line.startswith("[ OK ]"), line
    (internet,) = lines_about(result.output, "internet:")
    # Here there is no internet: a warning that points at the offline mode, not a failure.
    assert internet.startswith("[ OK ]") or (
        internet.startswith("[WARN]") and "OFFLINE=1" in internet
    ), internet
    assert "\033[" not in result.output  # no colour when not a terminal
    assert "(s)" not in result.output  # "a warning", "2 warnings": words, not a formula


def test_preflight_is_green_for_ports_that_already_serve_the_stage(temporal_server):
    standin_port = free_port()
    standin = subprocess.Popen(
        [sys.executable, "standin.py", "--port", str(standin_port)],
        cwd=HELLO_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: port_open(standin_port), 15, what="the stand-in services")
        result = run_tool(
            "preflight.py",
            *["--server-port", temporal_server.port, "--ui-port", temporal_server.ui_port],
            *["--app-port", free_port(), "--standin-port", standin_port, "--net-timeout", 1],
        )
    finally:
        standin.send_signal(signal.SIGINT)
        standin.wait(10)
    assert result.returncode == 0, result.output
    for port, what in [
        (temporal_server.port, "a Temporal server answers"),
        (temporal_server.ui_port, "the Temporal Web UI answers"),
        (standin_port, "the stand-in services answer"),
    ]:
        (line,) = lines_about(result.output, f"port {port} ")
        assert line.startswith("[ OK ]") and what in line, line


# --- make present ----------------------------------------------------------------------


def tmux(socket_name: str, *args: str) -> str:
    """A tmux command on the private server; its output, "" when it fails."""
    return Tmux(socket_name)(*args, check=False)


def children(pid: int) -> list[int]:
    try:
        kids = psutil.Process(pid).children()
    except psutil.Error:
        return []
    return [k.pid for k in kids if _status(k) not in (psutil.STATUS_ZOMBIE, None)]


def _status(process: psutil.Process) -> str | None:
    try:
        return process.status()
    except psutil.Error:
        return None


def argv_of(pid: int) -> list[str]:
    try:
        return psutil.Process(pid).cmdline()
    except psutil.Error:  # gone
        return []


def http_json(url: str, body: dict | None = None) -> dict:
    code, answer = http("GET" if body is None else "POST", url, body, timeout=15)
    if code >= 400:
        raise OSError(f"HTTP {code}: {answer}")  # not up yet, as urllib's errors are
    return answer


PANE_FIELDS = ["@piece", "pane_pid", "pane_current_path", "pane_id", "pane_active"]
PANE_FIELDS += ["pane_left", "pane_top", "pane_width", "pane_height", "window_height"]


def panes_of(socket_name: str, window: str) -> dict[int, dict]:
    """A window's panes by the README terminal their label names: {2: {"@piece": ...}}."""
    listing = "\t".join(f"#{{{name}}}" for name in PANE_FIELDS)
    out = tmux(socket_name, "list-panes", "-t", f"=durable-demo:={window}", "-F", listing)
    rows = [dict(zip(PANE_FIELDS, line.split("\t"), strict=True)) for line in out.splitlines()]
    for row in rows:
        row.update({k: int(row[k]) for k in ["pane_pid", *PANE_FIELDS[5:]]})
    panes = {int(re.match(r"terminal (\d): ", row["@piece"])[1]): row for row in rows}
    assert len(panes) == len(rows), rows
    return panes


def screen(socket_name: str, pane_id: str) -> list[str]:
    return [line.removeprefix("^C").strip() for line in Tmux(socket_name).capture(pane_id, 500)]


def type_line(socket_name: str, pane_id: str, line: str) -> None:
    Tmux(socket_name).send_line(pane_id, line)


def line_where(socket_name: str, pane_id: str, test, timeout: float = 20, after: int = 0) -> int:
    """Wait until a line of the pane (after line `after`) passes the test; its index."""

    def found():
        lines = screen(socket_name, pane_id)
        return next(([i] for i in range(after, len(lines)) if test(lines[i])), None)

    try:
        return wait_for(found, timeout, 0.1)[0]
    except TimeoutError:
        shown = "\n".join(screen(socket_name, pane_id)[-30:])
        raise AssertionError(f"the pane never showed the line in {timeout} s:\n{shown}") from None


def shows(socket_name: str, pane_id: str, line: str, timeout: float = 20, after: int = 0) -> int:
    """Wait until the pane shows this whole line (after line `after`); its index."""
    return line_where(socket_name, pane_id, lambda shown: shown == line, timeout, after)


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed (.ci/run installs it)")
@pytest.mark.skipif(sys.platform != "linux", reason="proven on Linux (CI's Linux job runs it)")
def test_present_builds_the_teaser_and_the_stage_in_tmux_and_reset_closes_it(tmp_path):
    socket_name = f"presenter-kit-{uuid.uuid4().hex[:8]}"
    server, ui, app, standin = free_ports(4)
    db = tmp_path / "temporal.db"
    args = ["--offline", "--detach", "--tmux-socket", socket_name, "--db-filename", db]
    args += ["--server-port", server, "--ui-port", ui, "--app-port", app]
    args += ["--standin-port", standin]
    pids: list[int] = []
    try:
        result = run_tool("present.py", *args)
        assert result.returncode == 0, result.output
        assert f"tmux -L {socket_name} attach -t durable-demo" in result.output
        assert "Ctrl-b n" in result.output, result.output

        # Two windows; the session opens on the teaser's.
        windows = tmux(socket_name, "list-windows", "-t", "=durable-demo", "-F", "#{window_name}")
        assert windows.split() == ["teaser", "stage"]
        current = "#{window_name} #{@piece}"
        assert tmux(socket_name, "display", "-p", "-t", "=durable-demo:", current).strip() == (
            "teaser terminal 2: the teaser's counters"
        )

        # The teaser: terminals 2 and 3 side by side, the window's whole height, each in
        # the folder the README's teaser goes to, at its prompt (the presenter types it).
        counters = REPO / "durable-vs-volatile-execution"
        folders = [str(counters / "volatile"), str(counters / "durable")]
        teaser = wait_for(  # once each shell has run the lines typed into it
            lambda: (
                (t := panes_of(socket_name, "teaser"))
                and [t[n]["pane_current_path"] for n in sorted(t)] == folders
                and t
            ),
            30,  # a shell's start and its typed cd take seconds on a loaded machine
            0.1,
            "the teaser's terminals in their folders",
        )
        assert {n: p["@piece"] for n, p in teaser.items()} == {
            2: "terminal 2: the teaser's counters",
            3: "terminal 3: the durable counter's starter",
        }
        assert teaser[2]["pane_left"] == 0 < teaser[3]["pane_left"], teaser
        for pane in teaser.values():  # 200x50 until a terminal attaches: about 100x49 each
            assert pane["pane_height"] >= pane["window_height"] - 1, pane
            assert pane["pane_width"] >= 95, pane

        # The stage: 1 the server over 2 the worker on the left, 3 4 5 stacked on the right.
        panes = panes_of(socket_name, "stage")
        assert sorted(panes) == [1, 2, 3, 4, 5], panes
        assert [panes[n]["@piece"] for n in sorted(panes)] == [
            "terminal 1: Temporal dev server",
            "terminal 2: hello-ip worker",
            "terminal 3: the web app",
            "terminal 4: stand-in services",
            "terminal 5: a spare shell",
        ]
        assert panes[1]["pane_left"] == panes[2]["pane_left"] == 0
        assert panes[1]["pane_top"] < panes[2]["pane_top"], panes
        assert panes[2]["pane_height"] >= 0.6 * panes[2]["window_height"], panes[2]
        right = [panes[n] for n in (3, 4, 5)]
        assert all(p["pane_left"] > 0 for p in right), right
        assert [p["pane_top"] for p in right] == sorted(p["pane_top"] for p in right), right
        names = {1: "server", 2: "worker", 3: "app", 4: "standin", 5: "shell"}
        shells = {names[n]: pane["pane_pid"] for n, pane in panes.items()}
        worker_pane = panes[2]["pane_id"]

        pieces = {  # what each pane's shell should be running, by its command line
            "server": lambda a: a[1:3] == ["server", "start-dev"] and str(db) in a,
            "standin": lambda a: a[1:] == ["standin.py", "--port", str(standin)],
            "worker": lambda a: a[1:] == ["worker.py"],
            "app": lambda a: a[1:4] == ["app.py", "--port", str(app)],
        }

        def piece(name: str, pane: str | None = None) -> int | None:
            """The piece running in a pane: a child of its interactive shell."""
            kids = children(shells[pane or name])
            return next((k for k in kids if pieces[name](argv_of(k))), None)

        try:
            running = wait_for(
                lambda: all(piece(n) for n in pieces) and {n: piece(n) for n in pieces},
                30,
                0.2,
                "every pane's piece to run",
            )
        except TimeoutError:
            found = {n: [argv_of(k) for k in children(pid)] for n, pid in shells.items()}
            raise AssertionError(f"the panes run {found}") from None
        pids = list(running.values())
        paths = {  # where each pane's shell is now: it typed `cd hello-ip` as the README says
            names[n]: pane["pane_current_path"]
            for n, pane in panes_of(socket_name, "stage").items()
        }
        assert paths["server"] == str(REPO) and paths["worker"] == str(HELLO_DIR), paths
        assert not any(piece(n, "shell") for n in pieces)  # the spare shell runs none of them
        for pane in teaser.values():  # nor do the teaser's terminals, until the teaser
            # (a shell's prompt may run a short-lived child under load: a piece stays)
            with contextlib.suppress(TimeoutError):
                wait_for(lambda p=pane: children(p["pane_pid"]) == [], 5, 0.2, "idle")
            assert children(pane["pane_pid"]) == [], [
                argv_of(k) for k in children(pane["pane_pid"])
            ]
        worker_env = psutil.Process(running["worker"]).environ()
        assert worker_env["IP_SERVICE_URL"] == f"http://127.0.0.1:{standin}"
        assert worker_env["TEMPORAL_ADDRESS"] == f"localhost:{server}"
        shown = "#{window_name} #{@piece} | #{pane_current_command} | #{pane_pid}"
        print(tmux(socket_name, "list-panes", "-s", "-t", "=durable-demo", "-F", shown))

        # The teaser, as the README gives it from its folders, against terminal 1's server.
        two, three = teaser[2]["pane_id"], teaser[3]["pane_id"]
        type_line(socket_name, two, "python counter.py")
        shows(socket_name, two, "2")
        tmux(socket_name, "send-keys", "-t", two, "C-c")
        type_line(socket_name, two, "cd ../durable")
        type_line(socket_name, two, "python worker.py")
        wait_for(lambda: port_open(server), 30, 0.2, "the dev server")
        # The counter's worker: its own start line, after the volatile counter's lines.
        started = line_where(socket_name, two, lambda line: line.endswith("python worker.py"))
        is_start = lambda line: line.startswith("Starting the worker (")  # noqa: E731
        line_where(socket_name, two, is_start, 30, started)
        type_line(socket_name, three, "python starter.py")
        shows(
            socket_name,
            three,
            "Started the count (workflow id durable-counter). Watch the worker's terminal.",
        )
        shows(socket_name, two, "Counted to 10.", 40, started)
        tmux(socket_name, "send-keys", "-t", two, "C-c")  # the README: stop the counter's worker
        shows(socket_name, two, "Worker stopped.", 15, started)
        # Then Ctrl-b n (tmux's next-window) goes to the stage's window.
        keys = tmux(socket_name, "list-keys", "-T", "prefix", "n")
        assert keys.split()[-1] == "next-window", keys
        tmux(socket_name, "next-window", "-t", "=durable-demo")
        assert tmux(socket_name, "display", "-p", "-t", "=durable-demo:", "#{window_name}") == (
            "stage"
        )

        # The whole stage works: a greeting, through the stand-in services.
        wait_for(lambda: port_open(app) and port_open(server), 30, 0.2, "the server and app")
        greetings = f"http://127.0.0.1:{app}/api/greetings"
        started = wait_for(
            lambda: _try(http_json, greetings, {"name": "Ada"}), 20, 0.5, "a greeting to start"
        )
        status_url = f"http://127.0.0.1:{app}{started['status_url']}?wait=5"

        def completed():
            answer = http_json(status_url)
            return answer if answer["status"] == "COMPLETED" else None

        done = wait_for(completed, 20, 0.2, "the greeting")
        assert done["result"]["greeting"][-1].startswith("You are in Toronto")

        # Ctrl-C stops one piece; Up then Enter starts it again.
        old_worker = running["worker"]
        tmux(socket_name, "send-keys", "-t", worker_pane, "C-c")
        wait_for(lambda: piece("worker") is None, 15, 0.1, "the worker to stop")
        tmux(socket_name, "send-keys", "-t", worker_pane, "Up", "Enter")
        new_worker = wait_for(lambda: piece("worker"), 15, 0.1, "the worker to start again")
        assert new_worker != old_worker and argv_of(new_worker)[1:] == ["worker.py"]
        pids.append(new_worker)

        # A second make present says the stage is there, and how to reach it.
        again = run_tool("present.py", *args)
        assert again.returncode == 1 and "already exists" in again.output, again.output

        # make reset closes the session, and with it every piece.
        nothing_here = tmp_path / "not-the-repo"
        nothing_here.mkdir()
        reset = run_tool(
            "reset.py",
            *["--yes", "--repo", nothing_here, "--tmux-socket", socket_name],
            env={"TEMPORAL_ADDRESS": f"127.0.0.1:{server}"},
        )
        assert reset.returncode == 0, reset.output
        assert "Closed the tmux session 'durable-demo'" in reset.output, reset.output
        assert tmux(socket_name, "list-sessions") == ""
        wait_for(lambda: not any(argv_of(p) for p in pids), 20, 0.2, "the pieces to end")
    finally:
        Tmux(socket_name).kill_server()
        for pid in pids:
            if argv_of(pid):
                os.kill(pid, signal.SIGKILL)


def _try(call, *args):
    try:
        return call(*args)
    except OSError:  # not up yet (urllib's errors are OSErrors)
        return None


def test_present_refuses_busy_ports_and_without_tmux_prints_the_commands(tmp_path):
    socket_name = f"presenter-kit-{uuid.uuid4().hex[:8]}"
    server, ui, standin = free_ports(3)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        app = squatter.getsockname()[1]
        args = ["--detach", "--tmux-socket", socket_name, "--db-filename", tmp_path / "t.db"]
        args += ["--server-port", server, "--ui-port", ui, "--app-port", app]
        no_tmux = tmp_path / "bin"  # a PATH without tmux
        no_tmux.mkdir()
        try:
            busy = run_tool("present.py", *args, "--standin-port", standin)
            if TMUX:
                assert tmux(socket_name, "list-sessions") == ""  # nothing was started
            # Without tmux the commands are typed by hand: they would fail on that port too.
            busy_by_hand = run_tool("present.py", *args, env={"PATH": str(no_tmux)})
        finally:
            if TMUX:
                Tmux(socket_name).kill_server()
    for out in (busy, busy_by_hand):
        assert out.returncode == 1, out.output
        assert f"Already in use: app port {app}." in out.output, out.output
    assert "tmux is not installed" not in busy_by_hand.output

    # On free ports, not the README's: a stage may be running there (a presenter rehearsing).
    server, ui, app, standin = free_ports(4)
    moved = ["--server-port", server, "--ui-port", ui, "--app-port", app, "--standin-port", standin]
    by_hand = run_tool("present.py", "--offline", *moved, env={"PATH": str(no_tmux)})
    assert by_hand.returncode == 0, by_hand.output
    assert "tmux is not installed" in by_hand.output
    # Each terminal: the venv, the folder, the settings where a worker runs, the command last
    # (so that Up then Enter starts it again).
    activate = present.activate_line()  # this venv's, as the subprocess's
    temporal = [f"export TEMPORAL_ADDRESS=localhost:{server}"]
    temporal += [f"export TEMPORAL_UI_URL=http://localhost:{ui}"]
    services = [f"export IP_SERVICE_URL=http://127.0.0.1:{standin}"]
    services += [f"export GEO_SERVICE_URL=http://127.0.0.1:{standin}/json"]
    server_line = f"temporal server start-dev --ui-port {ui} --db-filename temporal.db"
    assert typed_by_hand(by_hand.output) == [
        (1, [activate, f"{server_line} --port {server}"]),
        (2, [activate, "cd hello-ip", *temporal, *services, "python worker.py"]),
        (3, [activate, "cd hello-ip", *temporal, f"python app.py --port {app}"]),
        (4, [activate, "cd hello-ip", f"python standin.py --port {standin}"]),
        (5, [activate, "cd hello-ip", *temporal, *services]),
    ], by_hand.output


def test_present_without_tmux_types_the_readmes_lines_on_the_readmes_ports():
    """What present prints for the README's own ports: the README's lines, offline.sh included
    (in-process: the ports' check is the test above's, and a stage may hold these ports)."""
    layout = present.panes(stage.pieces(offline=True), offline=True)
    activate = present.activate_line()
    assert typed_by_hand(present.by_hand(layout)) == [
        (1, [activate, "temporal server start-dev --ui-port 8080 --db-filename temporal.db"]),
        (2, [activate, "cd hello-ip", "source offline.sh", "python worker.py"]),
        (3, [activate, "cd hello-ip", "python app.py"]),
        (4, [activate, "cd hello-ip", "python standin.py"]),
        (5, [activate, "cd hello-ip", "source offline.sh"]),
    ]


def typed_by_hand(output: str) -> list[tuple[int, list[str]]]:
    """Each terminal present prints without tmux: its README number and the lines typed."""
    terminals = re.split(r"^  (\d)\. ", output, flags=re.M)[1:]
    return [
        (int(number), [line.strip() for line in text.splitlines()[1:] if line.startswith(" ")])
        for number, text in zip(terminals[::2], terminals[1::2], strict=True)
    ]


# --- make reset ------------------------------------------------------------------------


def cli(server: Server, *args: str, namespace: str = "default") -> str:
    out = subprocess.run(
        [TEMPORAL, *args, "--address", server.address, "--namespace", namespace, "-o", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout


def status(server: Server, workflow_id: str) -> str:
    info = json.loads(cli(server, "workflow", "describe", "--workflow-id", workflow_id))
    return info["workflowExecutionInfo"]["status"].removeprefix("WORKFLOW_EXECUTION_STATUS_")


def test_reset_stops_the_repos_server_removes_its_database_and_ends_demo_runs(
    temporal_server, tmp_path
):
    # A "repository" with a dev server writing its temporal.db, as make demo does.
    repo = tmp_path / "repo"
    repo.mkdir()
    ours = DevServer(repo).start()
    # Not ours: a worker.py elsewhere, and the session's server (in another folder).
    decoy_dir = tmp_path / "elsewhere"
    decoy_dir.mkdir()
    (decoy_dir / "worker.py").write_text("import time\ntime.sleep(120)\n")
    decoy = subprocess.Popen([sys.executable, "worker.py"], cwd=decoy_dir)
    # A demo run that waits for a worker forever, and a run that is not a demo's.
    demo_id, other_id = f"greeting-reset-{uuid.uuid4().hex[:8]}", f"other-{uuid.uuid4().hex[:8]}"
    greeting = '{"name": "Ada", "sleep_seconds": 0}'
    start = ["workflow", "start", "--type", "GreetingWorkflow", "--input", greeting]
    cli(temporal_server, *start, "--task-queue", "hello-ip", "--workflow-id", demo_id)
    cli(temporal_server, *start, "--task-queue", "not-a-demo", "--workflow-id", other_id)
    env = {"TEMPORAL_ADDRESS": temporal_server.address, "TEMPORAL_NAMESPACE": "default"}
    args = ["--repo", repo, "--tmux-socket", f"presenter-kit-{uuid.uuid4().hex[:8]}"]
    try:
        assert ours.db_file.exists()

        # Not in a terminal and not told yes: it says what it would do, and does nothing.
        asked = run_tool("reset.py", *args, env=env)
        assert asked.returncode == 1, asked.output
        assert "YES=1" in asked.output
        assert f"pid {ours.proc.popen.pid} " in asked.output, asked.output
        assert demo_id in asked.output and other_id not in asked.output
        assert "remove temporal.db" in asked.output
        assert ours.proc.popen.poll() is None and ours.db_file.exists()
        assert status(temporal_server, demo_id) == "RUNNING"

        done = run_tool("reset.py", *args, "--yes", env=env)
        assert done.returncode == 0, done.output
        assert ours.proc.popen.wait(5) is not None  # stopped...
        for suffix in ("", "-wal", "-shm", "-journal"):  # ...and its database gone
            assert not Path(f"{ours.db_file}{suffix}").exists(), done.output
        assert status(temporal_server, demo_id) == "TERMINATED"
        assert status(temporal_server, other_id) == "RUNNING"
        assert decoy.poll() is None, "reset stopped a worker.py that is not the repository's"
        assert port_open(temporal_server.port), "reset stopped the session's dev server"

        again = run_tool("reset.py", *args, env=env)
        assert again.returncode == 0 and "Nothing to reset" in again.output, again.output
    finally:
        ours.stop()
        decoy.kill()
        decoy.wait(5)
        subprocess.run(
            [TEMPORAL, "workflow", "terminate", "--workflow-id", other_id, "--reason", "cleanup"]
            + ["--address", temporal_server.address, "--namespace", "default"],
            capture_output=True,
        )


def test_reset_finds_make_demo_and_pieces_under_a_folder_with_a_space(tmp_path):
    """psutil reads each process's real argv and folder: "/Users/Jane Doe/..." included."""
    from presenter import reset

    repo = tmp_path / "Jane Doe" / "repo"
    (repo / "hello-ip").mkdir(parents=True)
    (repo / "hello-ip" / "worker.py").write_text("import time\ntime.sleep(60)\n")
    worker = subprocess.Popen([sys.executable, "worker.py"], cwd=repo / "hello-ip")
    try:
        found = wait_for(
            lambda: [f for f in reset.find_processes(reset.real(repo)) if f.pid == worker.pid],
            10,
            0.2,
            "the worker",
        )
        assert [f.role for f in found] == ["worker"]
    finally:
        worker.kill()
    # make demo runs as `python -m presenter.stage`, from the repository's folder.
    demo = [sys.executable, "-m", "presenter.stage", "--offline"]
    classified = reset.classify(demo, str(repo), reset.real(repo), {})
    assert classified and classified.role == "make demo"
    elsewhere = reset.classify(demo, str(tmp_path), reset.real(repo), {})
    assert elsewhere is None, "make demo in another folder is not this repository's"


# --- Room mode: make demo ROOM=1, make present ROOM=1, make check's room line -----------


def make_dry_run(*args: str) -> list[str]:
    """The presenter's command line that `make -n` shows for a target, split into words."""
    out = subprocess.run(["make", "-n", *args], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    (line,) = [line for line in out.stdout.splitlines() if " -m presenter." in line]
    return line.split()[1:]


@pytest.mark.skipif(shutil.which("make") is None, reason="no make on PATH")
def test_make_passes_room_1_to_make_demo_and_make_present_and_make_help_says_so():
    assert make_dry_run("demo") == ["-m", "presenter.stage"]  # off: nothing changes
    assert make_dry_run("demo", "ROOM=1") == ["-m", "presenter.stage", "--room"]
    assert make_dry_run("demo", "OFFLINE=1", "ROOM=1")[2:] == ["--offline", "--room"]
    assert make_dry_run("present") == ["-m", "presenter.present"]
    assert make_dry_run("present", "ROOM=1") == ["-m", "presenter.present", "--room"]
    helped = subprocess.run(["make", "help"], cwd=REPO, capture_output=True, text=True).stdout
    lines = helped.splitlines()
    for target, says in (("demo", "python app.py --room"), ("present", "python app.py --room")):
        at = next(i for i, line in enumerate(lines) if line.startswith(f"make {target} "))
        assert lines[at + 1].split()[0] == "ROOM=1:" and says in lines[at + 1], lines[at : at + 2]


def test_room_mode_changes_only_the_apps_command():
    """With the switch off the stage is what it was; on, the app is `python app.py --room`."""
    for offline in (True, False):
        plain, room = stage.pieces(offline), stage.pieces(offline, room=True)
        assert [p for p in room if p.name != "app"] == [p for p in plain if p.name != "app"]
        (app_plain,), (app_room,) = ([p for p in s if p.name == "app"] for s in (plain, room))
        assert app_plain.command == ("python", "app.py")
        assert app_room.command == ("python", "app.py", "--room")
        assert dataclasses.replace(app_room, command=app_plain.command) == app_plain
    moved = [p for p in stage.pieces(False, app_port=8001, room=True) if p.name == "app"]
    assert moved[0].command == ("python", "app.py", "--room", "--port", "8001")


def test_present_room_1_types_python_app_py_room_in_terminal_3_and_nothing_else_changes():
    activate = present.activate_line()
    terminals = {
        room: typed_by_hand(
            present.by_hand(present.panes(stage.pieces(True, room=room), offline=True))
        )
        for room in (False, True)
    }
    plain, room = terminals[False], terminals[True]
    assert room[2] == (3, [activate, "cd hello-ip", "python app.py --room"])
    assert plain[2] == (3, [activate, "cd hello-ip", "python app.py"])
    assert room[:2] + room[3:] == plain[:2] + plain[3:]


def room_address() -> str:
    from demo_support.page.room import network_address

    address = network_address()
    if address is None:
        pytest.skip("this machine has no network address (room mode needs one)")
    return address


def test_make_demo_room_1_serves_the_room_and_without_it_nothing_changes(
    temporal_server, monkeypatch
):
    """make demo ROOM=1: the app's lines show the join URL (on this laptop's network address),
    the room answers there and the presenter's /api/room on 127.0.0.1; a phone's run completes.
    Without it: no room line, /api/room says room mode is off, nothing listens for phones."""
    for name in ("TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    address = room_address()
    for room in (True, False):
        app_port, standin_port = free_port(), free_port()
        args = [sys.executable, "-m", "presenter.stage", "--offline", *(["--room"] * room)]
        args += ["--server-port", temporal_server.port, "--ui-port", temporal_server.ui_port]
        args += ["--app-port", app_port, "--standin-port", standin_port]
        demo = Proc(args, cwd=REPO, name="stage")
        app = f"http://127.0.0.1:{app_port}"
        try:
            ready = demo.wait_for_line(r"^Ready: the app at", timeout=60)
            code, view = http("GET", f"{app}/api/room")
            if not room:
                assert "The room joins" not in demo.stdout and "Room mode" not in ready, ready
                assert (
                    code == 404 and view["error"] == "Room mode is off: start the app with --room."
                )
                assert not _answers(address, app_port), "nothing listens for phones"
                continue
            assert ready.endswith(stage.ROOM_READY.strip()), ready
            (joins,) = [line for line in demo.lines() if "The room joins at " in line]
            url = re.search(r"The room joins at (http://\S+) ", joins)[1]
            assert re.fullmatch(rf"http://{re.escape(address)}:{app_port}/j/[\w-]{{6}}", url)
            assert re.match(r" *app \| The room", joins), joins  # the app's line, under make demo
            assert code == 200 and view["url"] == url, view
            assert http("POST", f"{app}/api/room", {"sleep_seconds": 0})[0] == 200
            code, started = http("POST", f"{url}/runs", {"name": "Grace"})  # a phone's
            assert code == 202, started
            status_url = f"http://{address}:{app_port}{started['status_url']}?wait=5"
            done = wait_for(
                lambda u=status_url: (s := http("GET", u)[1])["status"] == "COMPLETED" and s,
                30,
                0.2,
                "the phone's greeting",
            )
            assert done["result"]["greeting"] == expected_greeting("Grace")
            # README: under make demo OFFLINE=1 the proof has the stand-in's own counts too.
            proof = wait_for(
                lambda a=app: (v := http("GET", f"{a}/api/room")[1]["proof"])["ok"] and v, 10, 0.2
            )
            assert proof["standin"] == (
                "The stand-in answered get_ip once and get_location_info once for the 1 run"
                " started since the room opened."
            ), proof
        finally:
            code = demo.interrupt(timeout=40)
        demo.assert_clean_exit(code)
        assert not _answers(address, app_port), "Ctrl-C stopped the room's listener too"


def _answers(address: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((address, port)) == 0


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed (.ci/run installs it)")
@pytest.mark.skipif(sys.platform != "linux", reason="proven on Linux (CI's Linux job runs it)")
def test_present_room_1_in_tmux_terminal_3_runs_the_app_in_room_mode(tmp_path):
    address = room_address()
    socket_name = f"presenter-kit-{uuid.uuid4().hex[:8]}"
    server, ui, app, standin = free_ports(4)
    args = ["--room", "--detach", "--tmux-socket", socket_name]
    args += ["--db-filename", tmp_path / "temporal.db", "--server-port", server]
    args += ["--ui-port", ui, "--app-port", app, "--standin-port", standin]
    pids: list[int] = []
    try:
        result = run_tool("present.py", *args)
        assert result.returncode == 0, result.output
        assert f"3  app       python app.py --room --port {app}" in result.output, result.output
        three = panes_of(socket_name, "stage")[3]
        assert three["@piece"] == "terminal 3: the web app"

        def the_app():
            kids = children(three["pane_pid"])
            return next((k for k in kids if argv_of(k)[1:2] == ["app.py"]), None)

        pid = wait_for(the_app, 30, 0.2, "terminal 3's app")
        pids.append(pid)
        assert argv_of(pid)[1:] == ["app.py", "--room", "--port", str(app)]
        command = f"python app.py --room --port {app}"  # after the shell's prompt, if it has one
        typed = line_where(socket_name, three["pane_id"], lambda s: s.endswith(command), 30)
        joins = line_where(
            socket_name,
            three["pane_id"],
            lambda line: line.startswith(f"The room joins at http://{address}:{app}/j/"),
            30,
            typed,
        )
        url = screen(socket_name, three["pane_id"])[joins].split()[4]
        code, view = wait_for(
            lambda: _try(http, "GET", f"http://127.0.0.1:{app}/api/room"), 20, 0.2, "/api/room"
        )
        assert code == 200 and view["url"] == url, view
        # The QR code under it: block characters, in the terminal.
        qr = screen(socket_name, three["pane_id"])[joins + 1 : joins + 4]
        assert all(set(line) & set("█▀▄") for line in qr), qr
    finally:
        for name in ("worker", "server"):  # the pieces: each pane's shell's child
            pane = panes_of(socket_name, "stage").get(1 if name == "server" else 2)
            pids += children(pane["pane_pid"]) if pane else []
        Tmux(socket_name).kill_server()
        for pid in pids:
            if argv_of(pid):
                os.kill(pid, signal.SIGKILL)


def room_line(output: str) -> str:
    (line,) = lines_about(output, "room mode (optional): ")
    return line


def preflight_args() -> list:
    flags = ["--server-port", "--ui-port", "--app-port", "--standin-port"]
    ports = free_ports(4)
    return [x for pair in zip(flags, ports, strict=True) for x in pair] + ["--net-timeout", 1]


def test_preflight_room_mode_finds_this_laptops_address_and_a_listener_answers_there():
    address = room_address()
    args = preflight_args()
    result = run_tool("preflight.py", *args)
    assert result.returncode == 0, result.output
    line, port = room_line(result.output), args[args.index("--app-port") + 1]
    assert line.startswith(
        f"[ OK ] room mode (optional): this laptop is {address} on its network, and a listener"
        f" on {address}:{port} answers from here."
    ), line
    assert "only a phone can tell" in line and "hotspot" in line, line


UNSHARE = shutil.which("unshare")
HOTSPOT = [  # a laptop on a phone's hotspot: its address, its route out (a veth pair)
    "ip link add hot0 type veth peer name hot1",
    "ip addr add 172.20.10.2/28 dev hot0",
    "ip link set hot0 up",
    "ip link set hot1 up",
    "ip route add default via 172.20.10.1 dev hot0",
]


@pytest.mark.skipif(sys.platform != "linux" or UNSHARE is None, reason="Linux network namespaces")
@pytest.mark.skipif(shutil.which("ip") is None, reason="no ip (iproute2): a Debian root has none")
@pytest.mark.skipif(os.geteuid() != 0, reason="a network namespace of its own needs root")
@pytest.mark.parametrize("network", ["none", "hotspot"])
def test_preflight_room_mode_in_a_network_of_its_own(network):
    """In a network namespace of its own: no network (only the loopback), then a phone's
    hotspot. No network address is a warning with the fallback, never a failure."""
    setup = ["ip link set lo up", *(HOTSPOT if network == "hotspot" else [])]
    command = [sys.executable, "-m", "presenter.preflight", *map(str, preflight_args())]
    script = " && ".join([*setup, shlex.join(command)])
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "TMUX"))}
    out = subprocess.run(
        [UNSHARE, "--net", "sh", "-c", script],
        cwd=REPO,
        env={**clean, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = out.stdout + out.stderr
    assert "Traceback" not in output, output
    assert out.returncode == 0, output  # room mode is optional: at most a warning
    line = room_line(output)
    if network == "none":
        assert line == (
            "[WARN] room mode (optional): this laptop has no network address phones can reach"
            " (only 127.0.0.1) -> fix: join the venue's Wi-Fi, or make your phone a hotspot and"
            " join it; the talk works without room mode"
        ), line
        assert output.rstrip().splitlines()[-1].startswith("Ready, with "), output
    else:
        assert line.startswith("[ OK ] room mode (optional): this laptop is 172.20.10.2 "), line


def test_preflight_room_mode_warns_when_another_program_holds_the_port_there():
    address = room_address()
    args = preflight_args()
    with socket.socket() as squatter:  # on the network address only: 127.0.0.1 stays free
        squatter.bind((address, 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        args[args.index("--app-port") + 1] = port
        result = run_tool("preflight.py", *args)
    assert result.returncode == 0, result.output
    (loopback,) = lines_about(result.output, f"port {port} (hello-ip app)")
    assert loopback.startswith("[ OK ]"), loopback
    line = room_line(result.output)
    assert line.startswith(
        f"[WARN] room mode (optional): {address}:{port} is taken by another program -> fix: stop"
    ), line
    assert line.endswith("the talk works without room mode"), line


def test_preflight_room_mode_warns_when_a_listener_there_does_not_answer(monkeypatch):
    """What a firewall that drops the connection looks like (there is none here to set)."""
    from presenter import preflight

    address = room_address()

    def dropped(*args, **kwargs):
        raise TimeoutError("timed out")

    monkeypatch.setattr(preflight.socket, "create_connection", dropped)
    port = free_port()
    status, text, fix = preflight.check_room(port)
    assert (status, text) == (
        "WARN",
        f"room mode (optional): a listener on {address}:{port} does not answer from this laptop"
        " (timed out)",
    )
    assert fix.startswith("a firewall? Allow incoming connections for Python, or make your")


def test_preflight_room_mode_when_the_app_already_serves_the_room(scenario):
    address = room_address()
    scenario.start_standin()
    app = scenario.start_app("--room")
    url = scenario.room_url(app)
    assert url.startswith(f"http://{address}:{scenario.app_port}/j/"), url
    args = preflight_args()
    args[args.index("--app-port") + 1] = scenario.app_port
    result = run_tool("preflight.py", *args)
    assert result.returncode == 0, result.output
    (loopback,) = lines_about(result.output, f"port {scenario.app_port} ")
    assert loopback.startswith("[ OK ]") and "the hello-ip app answers" in loopback, loopback
    assert room_line(result.output).startswith(
        f"[ OK ] room mode (optional): the app serves the room at {url}. Whether phones reach it"
    )
