"""Room mode (``python app.py --room``): attendees' phones start the runs the presenter breaks.

The app keeps its page on 127.0.0.1. The room is a second, small Flask app on the laptop's
network address (same port) that answers three things behind a random join code: the join
page, starting a run, and a phone's own run; anything else there is a 404. It is a client of
the app's own JSON API (POST /api/greetings, GET /api/greetings/<id>), with the room's rules in
front: the room's timer, runs per phone per minute, runs in flight, the body's size. The
presenter's page reads the room on 127.0.0.1 (GET /api/room): every run, the counts, the proof.
"""

from __future__ import annotations

import json
import math
import os
import posixpath
import secrets
import socket
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass

from flask import Flask, render_template, request, send_from_directory
from werkzeug.exceptions import BadRequest, HTTPException, NotFound, TooManyRequests

PER_MINUTE = int(os.environ.get("ROOM_PER_MINUTE", "3"))  # runs a phone may start a minute
IN_FLIGHT = int(os.environ.get("ROOM_IN_FLIGHT", "150"))  # the room's runs not ended yet
BODY_BYTES = 1024  # a join request's body, at most
TIMER = 30  # seconds: the room's timer until the presenter sets another (0..60)
FORGET = 300  # seconds after its timer: a run nobody watched no longer counts as in flight
JOIN_FILES = ("run-status.js", "join.js", "style.css")  # with fonts/*: what the join page loads
STEPS = ("get_ip", "get_location_info")
OFF = "Room mode is off: start the app with --room."


def network_address() -> str | None:
    """The laptop's address on its network, as a phone there would reach it (None: only
    loopback). A UDP socket's connect picks the outgoing address; it sends nothing."""
    for probe in ("10.255.255.255", "192.168.255.255", "172.31.255.255"):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            try:
                udp.connect((probe, 9))
            except OSError:
                continue
            address = udp.getsockname()[0]
            if not address.startswith("127.") and address != "0.0.0.0":
                return address
    return None


@dataclass
class Entry:
    name: str
    phone: str
    started: float  # time.monotonic()
    sleep_seconds: int
    state: str = "running"  # running, waiting (for a worker), done, failed
    step: str = ""
    message: str = "Starting"
    ran_once: bool | None = None  # each activity one attempt (None: not ended yet)


class Room:
    """The room's runs and rules, shared by the room's listener and the presenter's page."""

    def __init__(self, main: Flask, reader) -> None:
        self.main, self.reader = main, reader
        self.code = secrets.token_urlsafe(6)[:6]
        self.url: str | None = None  # set by open(): room mode is on
        self.sleep_seconds = TIMER
        self.runs: dict[str, Entry] = {}
        self.phones: dict[str, deque] = {}  # each phone's starts in the last minute
        self.starting = 0
        self.lock = threading.Lock()
        self.counts_at_open: dict | None = None
        self.starts_at_open = 0
        self.qr_svg = ""  # the join URL's QR code, drawn once by open()
        self.refreshed = 0.0  # when a full room last re-read its runs (monotonic)

    # --- the presenter's side, on 127.0.0.1 ---------------------------------------------------

    def routes(self) -> None:
        main = self.main

        @main.route("/api/room", methods=["GET", "POST"])
        def room_view():
            if self.url is None:
                raise NotFound(OFF)
            if request.method == "POST":
                self.set_timer(request.get_json(silent=True))
            return self.view(), 200, {"Access-Control-Allow-Origin": "*"}

        @main.post("/api/room/reset")
        def room_reset():
            if self.url is None:
                raise NotFound(OFF)
            self.reset()
            return self.view()

    def set_timer(self, body) -> None:
        seconds = body.get("sleep_seconds") if isinstance(body, dict) else None
        if isinstance(seconds, bool) or not isinstance(seconds, int) or not 0 <= seconds <= 60:
            raise BadRequest(f"sleep_seconds must be a whole number from 0 to 60, not {seconds!r}.")
        self.sleep_seconds = seconds

    def reset(self) -> None:
        """The page's Reset: the room's ended runs go; runs in flight stay. With none in flight,
        the proof starts over (the stand-in's counts from now)."""
        self.refresh()
        with self.lock:
            self.runs = {i: e for i, e in self.runs.items() if e.state in ("running", "waiting")}
            if not self.runs:
                self._rebase()

    def _rebase(self) -> None:
        self.counts_at_open = self._standin_counts()
        self.starts_at_open = self.reader.starts

    def _standin_counts(self) -> dict | None:
        from demo_support.page.reader import fetch_standin_calls

        if not self.reader.standin_url:
            return None
        calls = fetch_standin_calls(self.reader.standin_url)
        return None if calls.get("down") else calls

    def refresh(self) -> str | None:
        """The state of every run not ended yet, from one reading of them all; None, or why
        Temporal is unreachable (an ended run keeps what it last said)."""
        from demo_support.page.reader import unreachable

        with self.lock:
            ids = [i for i, e in self.runs.items() if e.state in ("running", "waiting")]
        trouble = None
        for workflow_id, answer in self.reader.statuses(ids).items():
            entry = self.runs.get(workflow_id)
            if entry is None:
                continue
            if isinstance(answer, BaseException):
                trouble = f"Temporal is unreachable: {answer}" if unreachable(answer) else trouble
                continue
            self.note(entry, answer)
        return trouble

    def note(self, entry: Entry, answer: dict) -> None:
        """What a run's answer says, remembered for the counts and the proof."""
        progress, status = answer.get("progress") or {}, answer.get("status")
        entry.step, entry.message = progress.get("step", ""), progress.get("message", "")
        if status == "COMPLETED":
            entry.state = "done"
            rows = [r for r in answer.get("timeline", []) if r.get("step") in STEPS]
            entry.ran_once = sorted(r["step"] for r in rows) == sorted(STEPS) and all(
                r.get("state") == "completed" and r.get("attempt") == 1 for r in rows
            )
        elif status != "RUNNING":
            entry.state, entry.ran_once = "failed", False
        else:
            entry.state = "waiting" if progress.get("waiting_for_worker") else "running"

    def in_flight(self) -> int:
        now = time.monotonic()
        return self.starting + sum(
            1
            for e in self.runs.values()
            if e.state in ("running", "waiting") and now - e.started < e.sleep_seconds + FORGET
        )

    def view(self) -> dict:
        """GET /api/room: the join URL and QR code, the counts, every run, the proof."""
        from demo_support.page import web

        trouble = self.refresh()
        with self.lock:
            entries = list(reversed(self.runs.items()))
        counts = {s: 0 for s in ("running", "waiting", "done", "failed")}
        for _, entry in entries:
            counts[entry.state] += 1
        words = {"running": "running", "waiting": "waiting for a worker", "done": "done"}
        words["failed"] = "failed"
        summary = ", ".join(f"{counts[s]} {w}" for s, w in words.items() if counts[s])
        runs = [
            {"workflow_id": i, "name": e.name, "state": e.state, "step": e.step}
            | {"message": e.message, "ui_url": web.ui_link(i)}
            for i, e in entries
        ]
        return {
            "url": self.url,
            "qr_svg": self.qr_svg,
            "sleep_seconds": self.sleep_seconds,
            "limits": {"runs_per_phone_per_minute": PER_MINUTE, "in_flight": IN_FLIGHT}
            | {"body_bytes": BODY_BYTES, "name_chars": 100},
            "counts": {**counts, "total": len(entries)},
            "summary": summary or "No run yet: the room joins at the URL above",
            "unreachable": trouble,
            "runs": runs,
            "proof": self.proof([e for _, e in entries]),
        }

    def proof(self, entries: list[Entry]) -> dict:
        """After the demo: every run done, each activity run once (from the histories); offline,
        the stand-in's own counts since the room opened."""
        if not entries:
            return {"ok": None, "text": "No run yet.", "standin": None}
        going = sum(e.state in ("running", "waiting") for e in entries)
        if going:
            return {
                "ok": None,
                "text": f"{going} of {len(entries)} runs still going.",
                "standin": None,
            }
        failed = sum(e.state == "failed" for e in entries)
        twice = sum(e.state == "done" and not e.ran_once for e in entries)
        n = len(entries)
        text = f"{runs(n)}: none lost, none failed; each ran get_ip once and get_location_info once"
        if failed or twice:
            text = f"{runs(n)}: {failed} failed, {twice} with an activity that ran more than once"
        standin, now = None, self._standin_counts()
        if now and self.counts_at_open:
            ip, geo = (now[s] - self.counts_at_open[s] for s in STEPS)
            started = self.reader.starts - self.starts_at_open
            standin = (
                f"The stand-in answered get_ip {times(ip)} and get_location_info {times(geo)}"
                f" for the {runs(started)} started since the room opened."
            )
        return {
            "ok": not (failed or twice),
            "text": text + " (from their histories).",
            "standin": standin,
        }

    # --- the phones' side, on the laptop's network address ------------------------------------

    def open(self, host: str | None, port: int) -> None:
        """Serve the room on ``host`` (default: the laptop's network address), ``port``."""
        from werkzeug.serving import make_server

        import demo_support

        host = host or network_address()
        if host is None:
            print(
                "Room mode: this laptop has no network address phones can reach (only"
                " 127.0.0.1). Join the venue's Wi-Fi or a phone's hotspot, or pass --room-host.",
                file=sys.stderr,
            )
            demo_support._exit(1)
        try:
            listening = socket.create_server((host, port))
        except OSError as err:
            why = os.strerror(err.errno) if err.errno else err
            print(f"Room mode: cannot serve on {host}:{port}: {why}.", file=sys.stderr)
            demo_support._exit(1)
        server = make_server(host, port, self.phone_app(), threaded=True, fd=listening.fileno())
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.url = f"http://{host}:{port}/j/{self.code}"
        self.qr_svg = qr_code(self.url).svg_data_uri(scale=8, border=2)
        self.reader.kept = max(self.reader.kept, IN_FLIGHT + 50)  # every run in flight read once
        self._rebase()
        print(f"The room joins at {self.url} (phones on this network; the QR code below)")
        try:
            qr_code(self.url).terminal(compact=True)
        except (UnicodeEncodeError, OSError):  # a terminal without block characters
            qr_code(self.url).terminal()
        sys.stdout.flush()

    def phone_app(self) -> Flask:
        """The room's listener: the join page, starting a run, a phone's own run; else 404."""
        app = Flask(__name__, root_path=self.main.root_path, static_folder=None)
        app.config["MAX_CONTENT_LENGTH"] = BODY_BYTES + 1  # a chunked body: read one byte more
        base = f"/j/{self.code}"
        app.errorhandler(Exception)(phone_error)

        @app.get(base)
        def join():
            return render_template("join.html", base=base, sleep_seconds=self.sleep_seconds)

        @app.get(f"{base}/static/<path:name>")
        def static_file(name: str):
            name = posixpath.normpath(name)  # fonts/../app.js is app.js: not the join page's
            if name not in JOIN_FILES and not (name.startswith("fonts/") and ".." not in name):
                raise NotFound()
            return send_from_directory(self.main.static_folder, name)

        @app.post(f"{base}/runs")
        def start_run():
            return self.start(base)

        @app.get(f"{base}/runs/<workflow_id>")
        def run_status(workflow_id: str):
            return self.status(workflow_id)

        return app

    def start(self, base: str):
        if (request.content_length or 0) > BODY_BYTES:
            raise BadRequest(too_large(request.content_length))
        data = request.get_data(cache=False)  # with no Content-Length (chunked), cut at the limit
        if len(data) > BODY_BYTES:
            raise BadRequest(too_large(None))
        try:
            body = json.loads(data)
        except ValueError:
            body = None
        name = body.get("name") if isinstance(body, dict) else None
        if not isinstance(body, dict):
            raise BadRequest('Send a JSON object: {"name": "Ada"}.')
        phone = request.remote_addr or "?"
        full = self.in_flight() >= IN_FLIGHT
        if full and time.monotonic() - self.refreshed > 1:  # runs may have ended unwatched
            self.refreshed = time.monotonic()
            self.refresh()
        with self.lock:  # the limits, checked and taken at once
            self.check_limits(phone)
            self.phones[phone].append(time.monotonic())
            self.starting += 1
        started = None
        try:
            sleep = self.sleep_seconds
            answer = self.main.test_client().post(
                "/api/greetings", json={"name": name, "sleep_seconds": sleep}
            )
            if answer.status_code == 202:
                started = answer.get_json()["workflow_id"]
                entry = Entry(str(name).strip(), phone, time.monotonic(), sleep)
        finally:
            with self.lock:
                self.starting -= 1
                if started is None:
                    self.phones[phone].pop()
                else:
                    self.runs[started] = entry
        if started is None:  # the app's own answer: 400 (the name), 503 (Temporal down)
            return phone_fields(answer.get_json()), answer.status_code
        return {"workflow_id": started, "status_url": f"{base}/runs/{started}"} | {
            "sleep_seconds": sleep
        }, 202

    def check_limits(self, phone: str) -> None:
        now, starts = time.monotonic(), self.phones.setdefault(phone, deque())
        while starts and now - starts[0] >= 60:
            starts.popleft()
        if len(starts) >= PER_MINUTE:
            wait = math.ceil(60 - (now - starts[0]))
            raise TooManyRequests(
                f"You started {PER_MINUTE} runs in the last minute: try again in {wait} s.",
                retry_after=wait,
            )
        if self.in_flight() >= IN_FLIGHT:
            raise TooManyRequests(
                f"The room is full: {IN_FLIGHT} runs are in flight. Try again in a minute.",
                retry_after=60,
            )

    def status(self, workflow_id: str):
        entry = self.runs.get(workflow_id)
        if entry is None:
            raise NotFound("No such run in this room.")
        query = {k: request.args[k] for k in ("wait", "seen") if k in request.args}
        answer = self.main.test_client().get(f"/api/greetings/{workflow_id}", query_string=query)
        body = answer.get_json()
        if answer.status_code == 200:
            self.note(entry, body)
        return phone_fields(body), answer.status_code


def runs(n: int) -> str:
    return f"{n} run" if n == 1 else f"{n} runs"


def times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


PHONE_FIELDS = ("workflow_id", "status", "version", "progress", "result", "error")


def phone_fields(body: dict) -> dict:
    """What a phone may see of an answer: its run's words, not the lights or the links."""
    return {k: body[k] for k in PHONE_FIELDS if k in body}


def too_large(size: int | None) -> str:
    if not size:  # chunked: no size given, cut at the limit
        return f"The request is too large: more than {BODY_BYTES} bytes."
    return f"The request is too large: {size} bytes, at most {BODY_BYTES}."


def phone_error(err: Exception):
    """The room's errors, as JSON with the reason; nothing but these on that listener."""
    if isinstance(err, HTTPException) and err.code == 413:
        return {"error": too_large(request.content_length)}, 400
    if isinstance(err, HTTPException):
        headers = [(k, v) for k, v in err.get_headers() if k == "Retry-After"]
        return {"error": err.description}, err.code, headers
    print(f"Room: {request.method} {request.path}: {type(err).__name__}: {err}", file=sys.stderr)
    return {"error": f"The app failed: {type(err).__name__}"}, 500


def qr_code(url: str):
    import segno

    return segno.make(url, error="m")
