"""`make demo`: the whole hello-ip stage in one terminal; Ctrl-C stops everything.

The dev server (unless one runs), the worker and the app, with --offline the stand-in too,
with --room the app in room mode (`python app.py --room`: phones join from the venue's
network); pieces() is the stage's one declaration."""

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
PORTS = {"server": 7233, "ui": 8080, "app": 8000, "standin": 9000}  # the README's
TMUX_SESSION = "durable-demo"  # make present's, which make reset closes
NO_CLI = "The temporal CLI is missing: pip install -r requirements.txt (or see the README)."
port_in_use = net.port_in_use  # something listens on 127.0.0.1:port
ROOM_HELP = "room mode: the app also serves the join page to phones on this laptop's network"
ROOM_READY = (
    " Room mode: the join URL and its QR code are in the app's lines above, and on the"
    " page's Room panel."
)


def shown(path: str | Path, base: Path = REPO) -> str:
    """A path relative to the repository when inside it."""
    try:
        return str(Path(path).relative_to(base))
    except ValueError:
        return str(path)


def offline_env(standin_port: int = PORTS["standin"]) -> dict:
    """The worker's settings that point it at the stand-in services."""
    url = f"http://127.0.0.1:{standin_port}"
    return {"IP_SERVICE_URL": url, "GEO_SERVICE_URL": f"{url}/json"}


OFFLINE_ENV = offline_env()


def temporal_cli() -> str | None:
    beside = Path(sys.executable).parent / "temporal"
    return str(beside) if beside.exists() else shutil.which("temporal")


@dataclass(frozen=True)
class Piece:
    """One terminal of the README's stage: what runs, where, and how."""

    name: str  # server, standin, worker, app
    folder: str  # relative to the repository: "" or "hello-ip"
    command: tuple[str, ...]  # as typed once the venv is active: ("python", "worker.py")
    env: dict = field(default_factory=dict)  # typed in its terminal
    port: int | None = None  # it listens there
    started_env: dict = field(default_factory=dict)  # only where a program starts it

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
    server_port: int = PORTS["server"],
    ui_port: int = PORTS["ui"],
    app_port: int = PORTS["app"],
    standin_port: int = PORTS["standin"],
    db_filename: str = "temporal.db",
    namespace: str = "default",
    panel: tuple[str, str] | None = None,
    room: bool = False,
) -> list[Piece]:
    """The stage in start order; the tests move ports and namespace; `panel`: make demo's;
    `room`: the app in room mode (README: `python app.py --room`)."""

    def flag(port: int, name: str) -> tuple[str, ...]:  # the README's port: no flag
        return () if port == PORTS[name] else ("--port", str(port))

    env = {}
    if server_port != PORTS["server"]:
        env["TEMPORAL_ADDRESS"] = f"localhost:{server_port}"
    if namespace != "default":
        env["TEMPORAL_NAMESPACE"] = namespace
    if ui_port != PORTS["ui"]:
        env["TEMPORAL_UI_URL"] = f"http://localhost:{ui_port}"
    server = ("temporal", "server", "start-dev", "--ui-port", str(ui_port))
    server += ("--db-filename", db_filename, *flag(server_port, "server"))
    stage = [Piece("server", "", server, port=server_port)]
    if offline:
        standin = ("python", "standin.py", *flag(standin_port, "standin"))
        stage.append(Piece("standin", "hello-ip", standin, port=standin_port))
    worker_env = {**env, **(offline_env(standin_port) if offline else {})}
    stage.append(Piece("worker", "hello-ip", ("python", "worker.py"), worker_env))
    app_env = {"STAGE_URL": panel[0], "STAGE_TOKEN": panel[1]} if panel else {}
    if offline:
        app_env["STANDIN_URL"] = f"http://127.0.0.1:{standin_port}"
    app = ("python", "app.py", *(["--room"] if room else []), *flag(app_port, "app"))
    return [*stage, Piece("app", "hello-ip", app, env, app_port, app_env)]


def is_temporal_server(port: int) -> bool:
    """A Temporal service answers a health check on this port."""
    address = ["--address", f"127.0.0.1:{port}", "--command-timeout", "2s"]
    args = [temporal_cli() or "temporal", "operator", "cluster", "health", *address]
    args += ["--disable-config-env", "--disable-config-file"]
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=4)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and "SERVING" in out.stdout


def add_port_options(parser: argparse.ArgumentParser, help: str | None = None) -> None:
    """--server-port, --ui-port, --app-port, --standin-port: the README's by default."""
    for name, port in PORTS.items():
        parser.add_argument(f"--{name}-port", type=int, default=port, help=help)


def ports(args: argparse.Namespace) -> list[int]:
    return [getattr(args, f"{name}_port") for name in PORTS]


def busy(stage: list[Piece], ui_port: int | None) -> str:
    """ "Already in use: ..." for the stage's ports that something listens on ("" if none)."""
    taken = [f"{p.name} port {p.port}" for p in stage if p.port and port_in_use(p.port)]
    taken += [f"Web UI port {ui_port}"] if ui_port and port_in_use(ui_port) else []
    if taken:
        return f"Already in use: {', '.join(taken)}. Stop what runs there (make reset) and retry."
    return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offline", action="store_true", help="use the local stand-in services")
    parser.add_argument("--room", action="store_true", help=ROOM_HELP)
    add_port_options(parser, help=argparse.SUPPRESS)  # for the tests, off the presenter's ports
    parser.add_argument("--db-filename", default="temporal.db", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if temporal_cli() is None:
        print(NO_CLI)
        return 1
    # The teaser's dev server (README: terminal 1) serves the whole talk: use it.
    reuse = port_in_use(args.server_port) and is_temporal_server(args.server_port)
    panel = control.ControlPort()  # the Stage panel's control port, for the app
    control_port = (panel.url, panel.token)
    stage = pieces(args.offline, *ports(args), args.db_filename, panel=control_port, room=args.room)
    stage = [p for p in stage if not (reuse and p.name == "server")]
    refused = busy(stage, None if reuse else args.ui_port)
    if refused:
        panel.close()
        print(refused)
        return 1
    supervisor = control.Supervisor(stage, port_in_use)
    panel.serve(supervisor)
    stopping = threading.Event()
    for sig in demo_support.stop_signals():  # Ctrl-C, SIGTERM, and Ctrl-Break on Windows
        signal.signal(sig, lambda *_: stopping.set())
    if reuse:
        print(
            f"Using the Temporal dev server already running on localhost:{args.server_port}"
            " (Ctrl-C here leaves it running).",
            flush=True,
        )
    try:
        for running in supervisor.pieces.values():  # each once the one before listens
            running.spawn()
            if running.piece.port and not running.listens(stopping):
                print(f"The {running.piece.name} did not start: see its lines above.")
                return 1
        if not stopping.is_set():
            offline = " (offline: stand-in services)" if args.offline else ""
            room = ROOM_READY if args.room else ""
            print(
                f"\nReady: the app at http://127.0.0.1:{args.app_port}, the Temporal Web UI at"
                f" http://localhost:{args.ui_port}{offline}. Ctrl-C stops everything; the"
                f" page's stage panel stops one piece.{room}\n",
                flush=True,
            )
        while not stopping.wait(0.5):  # until Ctrl-C, or a piece stops by itself
            for running in supervisor.died():
                code = running.proc.returncode
                print(f"The {running.piece.name} stopped (exit {code}); stopping the rest.")
                stopping.set()
    finally:
        panel.close()
        supervisor.stop_all()  # the server last
        print("Everything stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
