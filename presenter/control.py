"""`make demo`'s supervisor (Ctrl-C, kill -9 or start again, only what it started) and the
Stage panel's control port: on 127.0.0.1, for requests with the stage's token only; its one
client is the app (STAGE_URL, STAGE_TOKEN), which checks the page's Origin and token first."""

from __future__ import annotations

import collections
import hmac
import logging
import os
import secrets
import signal
import subprocess
import threading
import time

import flask
from werkzeug import serving
from werkzeug.exceptions import BadRequest, Conflict, Forbidden, HTTPException

import demo_support
from demo_support import net

logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log in the stage's terminal
ACTIONS = {"interrupt": "Ctrl-C", "kill": "kill -9", "start": "start"}
STARTING_AT_MOST = 30  # seconds "starting", until its port listens (no port: its first line)
Refused = Conflict  # a press that does nothing, and why (shown on the page)


class Running:
    """One piece under the supervisor: its process (if any) and its last lines."""

    def __init__(self, piece, width: int, port_in_use) -> None:
        self.piece, self.width, self.port_in_use = piece, width, port_in_use
        self.proc: subprocess.Popen | None = None
        self.lines: collections.deque[str] = collections.deque(maxlen=6)
        self.printed, self.lock = threading.Event(), threading.Lock()

    def spawn(self) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.piece.started()}
        self.proc = subprocess.Popen(
            self.piece.argv(),
            cwd=self.piece.cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            **demo_support.own_process_group(),  # Ctrl-C reaches the stage only: stop_all()
        )
        self.started_at, self.stopped_on_purpose = time.monotonic(), False
        self.printed.clear()
        self.pumping = threading.Thread(target=self._pump, args=(self.proc.stdout,), daemon=True)
        self.pumping.start()

    def _pump(self, stream) -> None:
        for raw in stream:
            self.lines.append(raw.decode(errors="replace").rstrip())
            self.printed.set()
            print(f"{self.piece.name:>{self.width}} | {self.lines[-1]}", flush=True)

    def listens(self, stopping: threading.Event) -> bool:
        """It listens on its port within 30 seconds (or Ctrl-C came first)."""
        up = lambda: self.port_in_use(self.piece.port) or stopping.is_set()  # noqa: E731
        return bool(net.waited(lambda: up() or not self.running, 30, 0.2) and up())

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def state(self) -> str:
        if not self.running:
            return "not started" if self.proc is None else "stopped"
        port = self.piece.port
        ready = self.port_in_use(port) if port else self.printed.is_set()
        starting = not ready and time.monotonic() - self.started_at < STARTING_AT_MOST
        return "starting" if starting else "running"

    def describe(self) -> dict:
        state, name = self.state, self.piece.name
        answer = {"name": name, "state": state, "pid": self.proc.pid if self.running else None}
        if state == "stopped":
            self.pumping.join(0.5)  # its last lines ("Worker stopped.") come with its state
            code = self.proc.returncode
            answer["exit"] = f"signal {signal.Signals(-code).name}" if code < 0 else code
        return {**answer, "lines": list(self.lines), "buttons": name != "app"}  # the page's

    def press(self, action: str) -> str:
        """Do what the button says, or raise Refused with the reason."""
        name = self.piece.name
        with self.lock:
            state = self.state
            if name == "app":
                raise Refused("The page runs on the app: stop the app in the stage's terminal.")
            if state == "starting":
                raise Refused(f"The {name} is starting: wait until it runs, then press again.")
            if action == "start":
                if state == "running":
                    raise Refused(f"The {name} is already running (pid {self.proc.pid}).")
                self.spawn()
                return f"Started the {name} again (pid {self.proc.pid})."
            if state != "running":
                raise Refused(f"The {name} is not running: nothing to stop.")
            self.stopped_on_purpose = True  # the stage goes on
            send = demo_support.interrupt if action == "interrupt" else demo_support.kill
            sent, pid = send(self.proc), self.proc.pid
            return f"Sent {ACTIONS[action]} ({sent}) to the {name} (pid {pid})."


class Supervisor:
    def __init__(self, pieces, port_in_use) -> None:
        width = max(len(p.name) for p in pieces)
        self.pieces = {p.name: Running(p, width, port_in_use) for p in pieces}

    def describe(self) -> list[dict]:
        return [r.describe() for r in self.pieces.values()]

    def press(self, name: str, action: str) -> str:
        if action not in ACTIONS:
            raise BadRequest(f"Unknown action {action!r}: one of {', '.join(ACTIONS)}.")
        if name not in self.pieces:
            raise BadRequest(f"Unknown piece {name!r}: one of {', '.join(self.pieces)}.")
        return self.pieces[name].press(action)

    def stop_all(self, patience: float = 15) -> None:
        """Ctrl-C each running piece, the last started first; kill -9 one that outlives it."""
        for running in reversed(self.pieces.values()):
            if running.running:
                demo_support.interrupt(running.proc)
                try:
                    running.proc.wait(patience)
                except subprocess.TimeoutExpired:
                    demo_support.kill(running.proc)

    def died(self) -> list[Running]:
        """Pieces that stopped by themselves (not from the panel)."""
        stopped = [r for r in self.pieces.values() if r.proc is not None and not r.running]
        return [r for r in stopped if not r.stopped_on_purpose]


class ControlPort(serving.ThreadedWSGIServer):
    """Made before the stage is declared (the app gets its URL and token); serve() runs it."""

    supervisor: Supervisor | None = None

    def __init__(self) -> None:
        self.token, app = secrets.token_urlsafe(24), flask.Flask(__name__)
        app.before_request(self._check_token)
        app.add_url_rule("/pieces", "pieces", lambda: {"pieces": self.supervisor.describe()})
        app.add_url_rule("/pieces/<name>/<action>", "press", self._press, methods=["POST"])
        app.register_error_handler(HTTPException, lambda e: ({"error": e.description}, e.code))
        super().__init__("127.0.0.1", 0, app)
        self.url = f"http://127.0.0.1:{self.port}"

    def _check_token(self) -> None:
        given = flask.request.headers.get("X-Stage-Token", "").encode()
        if not hmac.compare_digest(given, self.token.encode()):
            raise Forbidden("The stage's token is missing or wrong.")

    def _press(self, name: str, action: str) -> dict:
        return {"message": self.supervisor.press(name, action)}

    def serve(self, supervisor: Supervisor) -> ControlPort:
        self.supervisor = supervisor
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def close(self) -> None:
        if self.supervisor is not None:  # serve_forever runs: end it
            self.shutdown()
        self.server_close()
