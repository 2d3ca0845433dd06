"""`make demo`: the whole hello-ip stage in one terminal.

The Temporal dev server (temporal.db, Web UI on 8080), the hello-ip worker and web app
(with --offline the stand-in services too, the worker pointed at them); Ctrl-C stops
everything. For the failure demos, the README runs each piece in its own terminal.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import demo_support
from demo_support import net
from presenter import control

REPO = Path(__file__).resolve().parents[1]
HELLO = REPO / "hello-ip"
BIN = Path(sys.executable).parent
SERVER_PORT, UI_PORT, APP_PORT, STANDIN_PORT = 7233, 8080, 8000, 9000
PORTS = {"server": SERVER_PORT, "ui": UI_PORT, "app": APP_PORT, "standin": STANDIN_PORT}
TMUX_SESSION = "durable-demo"  # make present's, which make reset closes
NO_CLI = "The temporal CLI is missing: pip install -r requirements.txt (or see the README)."
port_in_use = net.port_in_use  # something listens on 127.0.0.1:port


def shown(path: str | Path, base: Path = REPO) -> str:
    """A path relative to the repository when inside it."""
    try:
        return str(Path(path).relative_to(base))
    except ValueError:
        return str(path)


def offline_env(standin_port: int = STANDIN_PORT) -> dict:
    """The worker's settings that point it at the stand-in services."""
    return {
        "IP_SERVICE_URL": f"http://127.0.0.1:{standin_port}",
        "GEO_SERVICE_URL": f"http://127.0.0.1:{standin_port}/json",
    }


OFFLINE_ENV = offline_env()


def temporal_cli() -> str | None:
    beside = BIN / "temporal"
    return str(beside) if beside.exists() else shutil.which("temporal")


@dataclass(frozen=True)
class Piece:
    """One terminal of the README's stage: what runs, where, and how."""

    name: str  # server, standin, worker, app
    title: str  # as make present labels its pane
    folder: str  # relative to the repository: "" or "hello-ip"
    command: tuple[str, ...]  # as typed once the venv is active: ("python", "worker.py")
    env: dict = field(default_factory=dict)  # on top of the terminal's own, typed there
    port: int | None = None  # it listens there
    # Only where a program starts it (make demo, the tests): the app's way to the panel.
    started_env: dict = field(default_factory=dict)

    @property
    def cwd(self) -> Path:
        return REPO / self.folder

    def argv(self) -> list[str]:
        """The command with the venv's own python and temporal, for a subprocess."""
        programs = {"python": sys.executable, "temporal": temporal_cli() or "temporal"}
        return [programs.get(self.command[0], self.command[0]), *self.command[1:]]

    def started(self) -> dict:
        return {**self.env, **self.started_env}


def pieces(
    offline: bool,
    server_port: int = SERVER_PORT,
    ui_port: int = UI_PORT,
    app_port: int = APP_PORT,
    standin_port: int = STANDIN_PORT,
    db_filename: str = "temporal.db",
    namespace: str = "default",
    panel: tuple[str, str] | None = None,
) -> list[Piece]:
    """The stage in start order, the one declaration make demo, make present, make reset,
    the tests and the README's terminals share. Only the tests move ports and namespace;
    `panel` is make demo's control port (its URL and token), for the app."""
    temporal_env = {}
    if server_port != SERVER_PORT:
        temporal_env["TEMPORAL_ADDRESS"] = f"localhost:{server_port}"
    if namespace != "default":
        temporal_env["TEMPORAL_NAMESPACE"] = namespace
    if ui_port != UI_PORT:
        temporal_env["TEMPORAL_UI_URL"] = f"http://localhost:{ui_port}"

    def port_flag(port: int, default: int) -> tuple[str, ...]:
        return () if port == default else ("--port", str(port))

    server = ("temporal", "server", "start-dev", "--ui-port", str(ui_port))
    server += ("--db-filename", db_filename, *port_flag(server_port, SERVER_PORT))
    stage = [Piece("server", "server: Temporal dev server", "", server, port=server_port)]
    if offline:
        standin = ("python", "standin.py", *port_flag(standin_port, STANDIN_PORT))
        title = "standin: stand-in services"
        stage.append(Piece("standin", title, "hello-ip", standin, port=standin_port))
    worker_env = {**temporal_env, **(offline_env(standin_port) if offline else {})}
    worker = ("python", "worker.py")
    stage.append(Piece("worker", "worker: hello-ip worker", "hello-ip", worker, worker_env))
    app = ("python", "app.py", *port_flag(app_port, APP_PORT))
    app_started = {"STAGE_URL": panel[0], "STAGE_TOKEN": panel[1]} if panel else {}
    if offline:
        app_started["STANDIN_URL"] = f"http://127.0.0.1:{standin_port}"
    title = "app: the web app"
    stage.append(Piece("app", title, "hello-ip", app, temporal_env, app_port, app_started))
    return stage


def is_temporal_server(port: int) -> bool:
    """A Temporal service answers a health check on this port."""
    cli = temporal_cli()
    if cli is None:
        return False
    args = [cli, "operator", "cluster", "health", "--address", f"127.0.0.1:{port}"]
    args += ["--command-timeout", "2s", "--disable-config-env", "--disable-config-file"]
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=4)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and "SERVING" in out.stdout


def add_port_options(parser: argparse.ArgumentParser, help: str | None = None) -> None:
    """--server-port, --ui-port, --app-port, --standin-port: the README's by default."""
    for name, port in PORTS.items():
        parser.add_argument(f"--{name}-port", type=int, default=port, help=help)


def ports(args: argparse.Namespace) -> tuple[int, int, int, int]:
    return args.server_port, args.ui_port, args.app_port, args.standin_port


def busy(stage: list[Piece], ui_port: int | None) -> str:
    """ "Already in use: ..." for the stage's ports that something listens on ("" if none)."""
    taken = [f"{p.name} port {p.port}" for p in stage if p.port and port_in_use(p.port)]
    if ui_port and port_in_use(ui_port):
        taken.append(f"Web UI port {ui_port}")
    if not taken:
        return ""
    return f"Already in use: {', '.join(taken)}. Stop what runs there (make reset) and retry."


def start_in_order(supervisor: control.Supervisor, stopping: threading.Event) -> bool:
    """Each piece, the next once the one before listens; False when one did not start."""
    for running in supervisor.pieces.values():
        running.spawn()
        if running.piece.port and not listens(running, stopping):
            print(f"The {running.piece.name} did not start: see its lines above.")
            return False
    return True


def listens(running: control.Running, stopping: threading.Event, timeout: float = 30) -> bool:
    """It listens on its port within `timeout` seconds (or Ctrl-C came first)."""
    up = lambda: port_in_use(running.piece.port) or stopping.is_set()  # noqa: E731
    return bool(net.waited(lambda: up() or not running.running, timeout, 0.2) and up())


def supervise(supervisor: control.Supervisor, stopping: threading.Event) -> None:
    """Until Ctrl-C, or until a piece stops by itself (not from the panel)."""
    while not stopping.is_set():
        for running in supervisor.died():
            code = running.proc.returncode
            print(f"The {running.piece.name} stopped (exit {code}); stopping the rest.")
            stopping.set()
        stopping.wait(0.5)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offline", action="store_true", help="use the local stand-in services")
    # For the tests, which must not take the presenter's ports:
    add_port_options(parser, help=argparse.SUPPRESS)
    parser.add_argument("--db-filename", default="temporal.db", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if temporal_cli() is None:
        print(NO_CLI)
        return 1
    # The teaser's dev server (README: terminal 1) serves the whole talk: use it.
    reuse_server = port_in_use(args.server_port) and is_temporal_server(args.server_port)
    panel = control.ControlPort()  # the stage panel's control port, for the app
    stage = pieces(args.offline, *ports(args), args.db_filename, panel=(panel.url, panel.token))
    stage = [p for p in stage if not (reuse_server and p.name == "server")]
    refused = busy(stage, None if reuse_server else args.ui_port)
    if refused:
        panel.close()
        print(refused)
        return 1
    supervisor = control.Supervisor(stage, port_in_use)
    panel.serve(supervisor)
    stopping = threading.Event()
    for sig in demo_support.stop_signals():  # Ctrl-C, SIGTERM, and Ctrl-Break on Windows
        signal.signal(sig, lambda *_: stopping.set())
    if reuse_server:
        print(
            f"Using the Temporal dev server already running on localhost:{args.server_port}"
            " (Ctrl-C here leaves it running).",
            flush=True,
        )
    try:
        if not start_in_order(supervisor, stopping):
            return 1
        if not stopping.is_set():
            print(
                f"\nReady: the app at http://127.0.0.1:{args.app_port}, "
                f"the Temporal Web UI at http://localhost:{args.ui_port}"
                + (" (offline: stand-in services)" if args.offline else "")
                + ". Ctrl-C stops everything; the page's stage panel stops one piece.\n",
                flush=True,
            )
        supervise(supervisor, stopping)
    finally:
        panel.close()
        supervisor.stop_all()  # the server last
        print("Everything stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
