"""`make demo`'s supervisor and the stage panel's control port.

The supervisor runs the stage's pieces (stage.pieces()), keeps each one's last lines and
does to a piece what a presenter does in its terminal: Ctrl-C, kill -9, or start it again
(the same command). It only signals processes it started (demo_support.interrupt and kill:
CTRL_BREAK_EVENT and TerminateProcess on Windows).

The control port listens on 127.0.0.1 only and answers only requests with the stage's
token. Its one client is the app (STAGE_URL, STAGE_TOKEN), which checks the browser's
Origin and the page's token first (demo_support/page/web.py, stage_routes).
"""

from __future__ import annotations

import collections
import hmac
import json
import os
import secrets
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import demo_support

ACTIONS = {"interrupt": "Ctrl-C", "kill": "kill -9", "start": "start"}
LINES_KEPT = 6
# "starting" until its port listens (no port: until it prints a line), at most this long.
STARTING_AT_MOST = 30


class Refused(Exception):
    """A press that does nothing, and why (shown on the page)."""


class Running:
    """One piece under the supervisor: its process (if any) and its last lines."""

    def __init__(self, piece, width: int, port_in_use) -> None:
        self.piece, self.width, self.port_in_use = piece, width, port_in_use
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **piece.started()}
        self.proc: subprocess.Popen | None = None
        self.lines: collections.deque[str] = collections.deque(maxlen=LINES_KEPT)
        self.started_at = 0.0
        self.printed = threading.Event()
        self.stopped_on_purpose = False  # by a press on the panel: the stage goes on
        self.lock = threading.Lock()

    def spawn(self) -> None:
        self.proc = subprocess.Popen(
            self.piece.argv(),
            cwd=self.piece.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # Ctrl-C reaches the stage only; it stops the pieces in order (stop_all).
            **demo_support.own_process_group(),
        )
        self.started_at = time.monotonic()
        self.printed.clear()
        self.stopped_on_purpose = False
        self.pumping = threading.Thread(target=self._pump, args=(self.proc.stdout,), daemon=True)
        self.pumping.start()

    def _pump(self, stream) -> None:
        for raw in stream:
            line = raw.decode(errors="replace").rstrip()
            self.lines.append(line)
            self.printed.set()
            print(f"{self.piece.name:>{self.width}} | {line}", flush=True)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def state(self) -> str:
        if self.proc is None:
            return "not started"
        if not self.running:
            return "stopped"
        port = self.piece.port
        ready = self.port_in_use(port) if port else self.printed.is_set()
        starting = time.monotonic() - self.started_at < STARTING_AT_MOST and not ready
        return "starting" if starting else "running"

    def describe(self) -> dict:
        state, name = self.state, self.piece.name
        answer = {"name": name, "title": self.piece.title, "state": state}
        answer["pid"] = self.proc.pid if self.running else None
        if state == "stopped":
            self.pumping.join(0.5)  # its last lines ("Worker stopped.") come with its state
            code = self.proc.returncode
            answer["exit"] = f"signal {signal.Signals(-code).name}" if code < 0 else code
        return {**answer, "lines": list(self.lines), "buttons": name != "app"}  # the page's

    def press(self, action: str) -> str:
        """Do what the button says, or raise Refused with the reason."""
        name = self.piece.name
        with self.lock:
            if name == "app":
                raise Refused("The page runs on the app: stop the app in the stage's terminal.")
            state = self.state
            if state == "starting":
                raise Refused(f"The {name} is starting: wait until it runs, then press again.")
            if action == "start":
                if state == "running":
                    raise Refused(f"The {name} is already running (pid {self.proc.pid}).")
                self.spawn()
                return f"Started the {name} again (pid {self.proc.pid})."
            if state != "running":
                raise Refused(f"The {name} is not running: nothing to stop.")
            self.stopped_on_purpose = True
            send = demo_support.interrupt if action == "interrupt" else demo_support.kill
            sent = send(self.proc)
            return f"Sent {ACTIONS[action]} ({sent}) to the {name} (pid {self.proc.pid})."


class Supervisor:
    def __init__(self, pieces, port_in_use) -> None:
        width = max(len(p.name) for p in pieces)
        self.pieces = {p.name: Running(p, width, port_in_use) for p in pieces}

    def describe(self) -> list[dict]:
        return [r.describe() for r in self.pieces.values()]

    def press(self, name: str, action: str) -> str:
        if action not in ACTIONS:
            raise ValueError(f"Unknown action {action!r}: one of {', '.join(ACTIONS)}.")
        if name not in self.pieces:
            raise ValueError(f"Unknown piece {name!r}: one of {', '.join(self.pieces)}.")
        return self.pieces[name].press(action)

    def stop_all(self, patience: float = 15) -> None:
        """Ctrl-C each running piece, the last started first (the server last); kill -9
        one still running after `patience` seconds."""
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


class Handler(BaseHTTPRequestHandler):
    """GET /pieces and POST /pieces/NAME/ACTION, only with the stage's token."""

    server: ControlPort

    def _answer(self, code: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self) -> tuple[int, dict]:
        given = self.headers.get("X-Stage-Token", "").encode()
        if not hmac.compare_digest(given, self.server.token.encode()):
            return 403, {"error": "The stage's token is missing or wrong."}
        parts = self.path.strip("/").split("/")
        supervisor = self.server.supervisor
        if self.command == "GET" and self.path == "/pieces":
            return 200, {"pieces": supervisor.describe()}
        if self.command != "POST" or len(parts) != 3 or parts[0] != "pieces":
            return 404, {"error": f"No such path: {self.path}"}
        try:
            return 200, {"message": supervisor.press(parts[1], parts[2])}
        except ValueError as err:
            return 400, {"error": str(err)}
        except Refused as err:
            return 409, {"error": str(err), "refused": True}

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self._answer(*self._route())

    do_POST = do_GET

    def log_message(self, *args) -> None:  # no access log in the stage's terminal
        pass


class ControlPort(ThreadingHTTPServer):
    """The control port on 127.0.0.1 and its token, made before the stage's pieces are
    declared (the app gets both); serve() hands it the supervisor."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.token = secrets.token_urlsafe(24)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self.supervisor: Supervisor | None = None

    def serve(self, supervisor: Supervisor) -> ControlPort:
        self.supervisor = supervisor
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def close(self) -> None:
        if self.supervisor is not None:  # serve_forever runs: end it
            self.shutdown()
        self.server_close()
