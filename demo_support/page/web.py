"""The web app's plumbing behind hello-ip/app.py: the reader (one reading of each run, for
every page), errors as JSON, the lights, the code view and, under make demo, the stage panel."""

from __future__ import annotations

import argparse
import ast
import asyncio
import hmac
import inspect
import json
import logging
import os
import re
import textwrap
import urllib.error
import urllib.parse
import urllib.request
import uuid

from temporalio.service import RPCError, RPCStatusCode

import demo_support
from demo_support.page import run_view
from demo_support.page.reader import TemporalReader, unreachable
from demo_support.page.room import Room


def plumbing(app, temporal: TemporalReader, run=None) -> None:
    """Errors as JSON, the lights, the Web UI's address (TEMPORAL_UI_URL, or --ui-url), the
    code view of ``run`` (read now: the code this app started with), the stage panel, and
    the room (GET /api/room; its phones' listener opens with --room)."""
    app.config["TEMPORAL_UI_URL"] = os.environ.get("TEMPORAL_UI_URL", "http://localhost:8080")
    app.extensions["temporal"] = temporal  # serve() connects it when the app starts
    json_errors(app)
    stage_routes(app, temporal)
    app.extensions["room"] = Room(app, temporal)
    app.extensions["room"].routes()
    code = code_view(run) if run is not None else None
    app.context_processor(lambda: {"code": code})


def code_view(function) -> dict:
    """A function's lines as the page shows them (numbered as in its file, without region
    markers), and its steps as the timeline names them: each statement of its body that holds
    an activity call (its name), a sleep ("timer") or the return ("greeting")."""
    lines, first = inspect.getsourcelines(function)
    source = textwrap.dedent("".join(lines))
    tree = ast.parse(source).body[0]
    steps = []
    for statement in tree.body:
        calls = sorted((n for n in ast.walk(statement) if isinstance(n, ast.Call)), key=where)
        found = (
            ["greeting"] if isinstance(statement, ast.Return) else filter(None, map(step, calls))
        )
        for name in list(found)[:1]:  # one step a statement (the first it holds)
            last = statement.end_lineno - 1 + first
            steps.append({"step": name, "first": statement.lineno - 1 + first, "last": last})
    shown = [
        {"number": first + i, "text": text.rstrip()}
        for i, text in enumerate(source.splitlines())
        if i >= tree.lineno - 1 and not re.match(r"\s*# #(end)?region\b", text)
    ]
    while shown and not shown[-1]["text"]:
        shown.pop()
    for line in shown:
        inside = (i for i, s in enumerate(steps) if s["first"] <= line["number"] <= s["last"])
        line["step"] = next(inside, None)
    file = os.path.basename(inspect.getsourcefile(function) or "")
    return {"file": file, "name": function.__qualname__, "lines": shown, "steps": steps}


def where(node) -> tuple[int, int]:
    return node.lineno, node.col_offset


def step(call: ast.Call) -> str | None:
    """The timeline's name for what a call does: an activity's name, "timer", or None."""
    name = getattr(call.func, "attr", getattr(call.func, "id", ""))
    if name.startswith(("execute_activity", "start_activity")) and call.args:
        what = call.args[0]
        found = getattr(what, "attr", getattr(what, "id", getattr(what, "value", None)))
        return found if isinstance(found, str) else None
    return "timer" if name == "sleep" else None


def ui_link(workflow_id: str = "") -> str:
    """A run in the Temporal Web UI (without an id, the namespace's list of runs)."""
    from flask import current_app

    namespace = current_app.extensions["temporal"].namespace
    base = current_app.config["TEMPORAL_UI_URL"].rstrip("/")
    return f"{base}/namespaces/{namespace}/workflows/{workflow_id}".rstrip("/")


def json_errors(app) -> None:
    """Every failure as JSON with its reason (400 for bad input); one line in the terminal."""
    from flask import request
    from werkzeug.exceptions import HTTPException

    @app.errorhandler(Exception)
    def error(err: Exception):
        if isinstance(err, HTTPException):
            return {"error": err.description}, err.code
        if unreachable(err):  # Temporal down (demo 4): say so; the page keeps asking
            body = {"error": f"Temporal is unreachable: {err}", "status": "UNREACHABLE"}
            return {**body, "lights": run_view.unreachable_lights(str(err))}, 503
        if isinstance(err, RPCError) and err.status == RPCStatusCode.NOT_FOUND:
            unknown = (request.view_args or {}).get("workflow_id")
            return {"error": f"No greeting run with id {unknown!r}."}, 404
        if isinstance(err, RPCError):
            return {"error": f"Temporal refused the request: {err}"}, 502
        app.logger.error("%s %s: %s: %s", request.method, request.path, type(err).__name__, err)
        return {"error": f"The app failed: {type(err).__name__}: {err}"}, 500


def serve(app) -> None:
    """`python app.py [--host H] [--port P] [--ui-url URL] [--debug] [--room [--room-host A]]`
    until Ctrl-C."""
    parser = argparse.ArgumentParser(description="The hello-ip web app.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--ui-url", help="the Temporal Web UI (default http://localhost:8080)")
    parser.add_argument("--debug", action="store_true", help="Flask debug mode (off by default)")
    parser.add_argument(
        "--room", action="store_true", help="attendees' phones join too (on the network address)"
    )
    parser.add_argument("--room-host", help="the address phones reach (default: detected)")
    args = parser.parse_args()
    if args.room and args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("--room keeps the presenter's page on 127.0.0.1: leave --host out")
    app.config["TEMPORAL_UI_URL"] = args.ui_url or app.config["TEMPORAL_UI_URL"]
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    app.extensions["temporal"].start()  # connect now, in the background: no wait at the first
    room = app.extensions["room"]
    then = (lambda: room.open(args.room_host, args.port)) if args.room else None
    demo_support.run_web_app(app, args.host, args.port, args.debug, then)


def new_workflow_id(name: str) -> str:
    """Readable in the Web UI, and unique: 64 random bits for every submission (Temporal would
    refuse to start a second run with the same id: a collision could not lose a greeting)."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:30] or "guest"
    return f"greeting-{slug}-{uuid.uuid4().hex[:16]}"


def stage_routes(app, temporal: TemporalReader) -> None:
    """GET /api/lights (always 200: the lights say what is down) and, under make demo, the
    stage panel: GET /api/stage (the pieces and the token the page sends back with each press)
    and POST /api/stage/<piece>/<interrupt|kill|start>, only from the app's own page (its
    Origin) with that token (else 403 and the reason); 404 when not under make demo."""
    from flask import request
    from werkzeug.exceptions import BadRequest, Forbidden, NotFound

    app.get("/api/lights")(temporal.lights)
    stage_url, token = os.environ.get("STAGE_URL"), os.environ.get("STAGE_TOKEN")

    def local_host() -> None:
        host = request.host.rsplit(":", 1)[0]
        if host not in ("127.0.0.1", "localhost", "[::1]"):
            raise Forbidden(f"The stage panel answers on 127.0.0.1 and localhost only, not {host}.")
        if stage_url is None or not token:
            raise NotFound("No stage panel: the app does not run under make demo.")

    @app.get("/api/stage")
    async def stage_pieces():
        local_host()
        code, body = await asyncio.to_thread(_ask_stage, stage_url, token, "GET", "/pieces")
        return ({**body, "token": token} if code == 200 else body), code

    @app.post("/api/stage/<piece>/<action>")
    async def stage_press(piece: str, action: str):
        local_host()
        origin = request.headers.get("Origin")
        if origin != f"http://{request.host}":
            raise Forbidden(f"Refused: a press from another site ({origin or 'no Origin'}).")
        given = request.headers.get("X-Stage-Token", "")
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise Forbidden("Refused: the page's stage token is missing or wrong.")
        if action not in ("interrupt", "kill", "start"):
            raise BadRequest(f"Unknown action {action!r}: interrupt, kill or start.")
        path = f"/pieces/{urllib.parse.quote(piece, safe='')}/{action}"
        code, body = await asyncio.to_thread(_ask_stage, stage_url, token, "POST", path)
        return body, code


def _ask_stage(stage_url: str, token: str, method: str, path: str) -> tuple[int, dict]:
    """The stage's control port (presenter/control.py): (status code, JSON body)."""
    data = b"" if method == "POST" else None
    request = urllib.request.Request(f"{stage_url}{path}", method=method, data=data)
    request.add_header("X-Stage-Token", token)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")
    except OSError as err:
        return 502, {"error": f"The stage is not answering: {err}"}
