"""The web app's plumbing (hello-ip/app.py); the audience need not read it.

* TemporalReader (reader.py): one Temporal client for the whole app, connected in the
  background when the app starts (it starts even while Temporal is down), which reads
  each watched run once for every page: the run's status line, timeline and lights
  (run_view.py) come from one reading.
* json_errors and serve: every error as JSON with its reason, one line in the
  terminal, and `python app.py --port ...` on a socket of its own.
* status_routes: the lights and, under make demo, the stage panel.
* code_view: the workflow's run method as the page shows it beside the timeline, read
  once when the app starts, with the lines of each step (its activities, its timer, its
  return) found in its syntax tree.
"""

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

__all__ = [
    "TemporalReader",
    "code_view",
    "new_workflow_id",
    "plumbing",
    "serve",
    "ui_link",
    "ui_url",
]


def ui_url(flag: str | None = None) -> str:
    """The Temporal Web UI the page links to."""
    return (flag or os.environ.get("TEMPORAL_UI_URL", "http://localhost:8080")).rstrip("/")


def plumbing(app, temporal: TemporalReader, run=None) -> None:
    """What the page needs beside app.py's routes: errors as JSON, the lights, the Web UI's
    address (TEMPORAL_UI_URL, or --ui-url), the code view of ``run`` (the workflow's run
    method, read now: the code this app started with) and, under make demo, the stage panel."""
    app.config["TEMPORAL_UI_URL"] = ui_url()
    json_errors(app)
    status_routes(app, temporal)
    code = code_view(run) if run is not None else None
    app.context_processor(lambda: {"code": code})


def code_view(function) -> dict:
    """A function's source as the page shows it: its lines (with their line numbers in the
    file, the region markers left out), and the lines of each step in order: an activity
    (by its name), the timer ("timer", a sleep) and the return ("greeting"), as the run's
    timeline names them. A step's lines are the statement in the function's body that holds
    it (an `if` around a timer included)."""
    lines, first = inspect.getsourcelines(function)
    source = textwrap.dedent("".join(lines))
    tree = ast.parse(source).body[0]
    start = first + tree.lineno - 1  # the def line (its decorators left out)
    steps = []
    for statement in tree.body:
        if isinstance(statement, ast.Return):
            found = ["greeting"]
        else:
            calls = [n for n in ast.walk(statement) if isinstance(n, ast.Call)]
            found = [s for s in map(_step, sorted(calls, key=_where)) if s]
        for step in found[:1]:  # one step a statement (the first it holds)
            steps.append(
                {"step": step, "first": statement.lineno - 1 + first,
                 "last": statement.end_lineno - 1 + first}
            )  # fmt: skip
    shown = [
        {"number": first + i, "text": text.rstrip()}
        for i, text in enumerate(source.splitlines())
        if first + i >= start and not re.match(r"\s*# #(end)?region\b", text)
    ]
    while shown and not shown[-1]["text"]:
        shown.pop()
    for line in shown:
        line["step"] = next(
            (i for i, s in enumerate(steps) if s["first"] <= line["number"] <= s["last"]), None
        )
    file = os.path.basename(inspect.getsourcefile(function) or "")
    return {"file": file, "name": function.__qualname__, "lines": shown, "steps": steps}


def _where(node) -> tuple[int, int]:
    return node.lineno, node.col_offset


def _step(call: ast.Call) -> str | None:
    """The timeline's name for what a call does: an activity's name, "timer", or None."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    if name.startswith(("execute_activity", "start_activity")) and call.args:
        what = call.args[0]
        if isinstance(what, ast.Attribute):
            return what.attr
        if isinstance(what, ast.Name):
            return what.id
        if isinstance(what, ast.Constant) and isinstance(what.value, str):
            return what.value
    if name == "sleep":
        return "timer"
    return None


def ui_link(workflow_id: str = "") -> str:
    """A run in the Temporal Web UI (without an id, the namespace's list of runs)."""
    from flask import current_app

    namespace = current_app.extensions["temporal"].namespace
    base = current_app.config["TEMPORAL_UI_URL"]
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
            lights = run_view.unreachable_lights(str(err))
            body = {"error": f"Temporal is unreachable: {err}", "status": "UNREACHABLE"}
            return {**body, "lights": lights}, 503
        if isinstance(err, RPCError) and err.status == RPCStatusCode.NOT_FOUND:
            unknown = (request.view_args or {}).get("workflow_id")
            return {"error": f"No greeting run with id {unknown!r}."}, 404
        if isinstance(err, RPCError):
            return {"error": f"Temporal refused the request: {err}"}, 502
        app.logger.error("%s %s: %s: %s", request.method, request.path, type(err).__name__, err)
        return {"error": f"The app failed: {type(err).__name__}: {err}"}, 500


def serve(app) -> None:
    """`python app.py [--host H] [--port P] [--ui-url URL] [--debug]` until Ctrl-C."""
    parser = argparse.ArgumentParser(description="The hello-ip web app.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--ui-url", help="the Temporal Web UI (default http://localhost:8080)")
    parser.add_argument("--debug", action="store_true", help="Flask debug mode (off by default)")
    args = parser.parse_args()
    if args.ui_url:
        app.config["TEMPORAL_UI_URL"] = ui_url(args.ui_url)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if reader := app.extensions.get("temporal"):
        reader.start()  # connect now, in the background: the first greeting need not wait
    demo_support.run_web_app(app, args.host, args.port, args.debug)


def new_workflow_id(name: str) -> str:
    """Readable in the Web UI, and unique: 64 random bits for every submission.

    Were two ever equal, Temporal would refuse to start the second run (it
    never overwrites one), so a collision could not lose a greeting either.
    """
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:30] or "guest"
    return f"greeting-{slug}-{uuid.uuid4().hex[:16]}"


def status_routes(app, temporal: TemporalReader) -> None:
    """The page's two status lights and, under make demo, its stage panel.

    GET /api/lights: always 200 (the lights say what is down).
    GET /api/stage: the pieces, their state and last lines, and the token the
    page sends back with each press; 404 when the app does not run under make demo.
    POST /api/stage/<piece>/<interrupt|kill|start>: only from the app's own page
    (its Origin) with that token; anything else is refused with 403 and the reason.
    """
    from flask import request
    from werkzeug.exceptions import BadRequest, Forbidden, NotFound

    app.extensions["temporal"] = temporal  # serve() connects it when the app starts

    @app.get("/api/lights")
    def lights():
        return temporal.lights()

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
    """The stage's control port (demo_support/control.py): (status code, JSON body)."""
    request = urllib.request.Request(
        f"{stage_url}{path}", method=method, data=b"" if method == "POST" else None
    )
    request.add_header("X-Stage-Token", token)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")
    except OSError as err:
        return 502, {"error": f"The stage is not answering: {err}"}
