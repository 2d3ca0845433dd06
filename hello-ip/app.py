"""The web front end: a page that starts a greeting workflow and shows its progress.

    python app.py    # http://127.0.0.1:8000

The app never waits for the workflow to finish: it starts it, answers at once,
and the page asks for the status until the greeting is there.
"""

import argparse
import logging
import os

from flask import Flask, render_template, request, url_for
from temporalio.service import RPCError, RPCStatusCode

from app_support import (
    TemporalBridge,
    greeting_status,
    is_unreachable,
    json_errors,
    new_workflow_id,
    parse_greeting,
)
from demo_support import TemporalUnreachable, connect_config, run_web_app
from workflow import TASK_QUEUE, GreetingWorkflow


def create_app(ui_url: str | None = None) -> Flask:
    app = Flask(__name__)
    json_errors(app)  # no HTML error pages or tracebacks: JSON with the reason
    temporal = TemporalBridge()  # one Temporal client for the whole app
    namespace = connect_config()["namespace"]
    ui_url = (ui_url or os.environ.get("TEMPORAL_UI_URL", "http://localhost:8080")).rstrip("/")

    def ui_link(workflow_id: str) -> str:
        return f"{ui_url}/namespaces/{namespace}/workflows/{workflow_id}"

    @app.get("/")
    def index():
        return render_template("index.html", ui_url=ui_url, namespace=namespace)

    # #region start-workflow
    @app.post("/api/greetings")
    def start_greeting():
        greeting = parse_greeting(request.get_json(silent=True))
        if isinstance(greeting, str):
            return {"error": greeting}, 400  # bad input starts nothing
        # A fresh id for every submission: two people who press the button at
        # the same moment get two runs. Start the workflow and return at once.
        workflow_id = new_workflow_id(greeting.name)
        client = temporal.client()
        temporal.run(
            client.start_workflow(
                GreetingWorkflow.run, greeting, id=workflow_id, task_queue=TASK_QUEUE
            )
        )
        app.logger.info("Started %s (sleep %s s)", workflow_id, greeting.sleep_seconds)
        return {
            "workflow_id": workflow_id,
            "status_url": url_for("get_greeting", workflow_id=workflow_id),
            "ui_url": ui_link(workflow_id),
        }, 202

    # #endregion start-workflow

    @app.get("/api/greetings/<workflow_id>")
    def get_greeting(workflow_id: str):
        wait = min(max(request.args.get("wait", 0, type=float), 0), 10)
        try:
            status = temporal.run(greeting_status(temporal.client(), workflow_id, wait))
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            return {"error": f"No greeting run with id {workflow_id!r}."}, 404
        return {**status, "ui_url": ui_link(workflow_id)}

    @app.errorhandler(TemporalUnreachable)
    @app.errorhandler(RPCError)
    def temporal_error(err: Exception):
        # Temporal down (or restarting, as in demo 4): say so; the page keeps polling.
        if is_unreachable(err):
            return {"error": f"Temporal is unreachable: {err}", "status": "UNREACHABLE"}, 503
        return {"error": f"Temporal refused the request: {err}"}, 502

    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="The hello-ip web app.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--ui-url", help="the Temporal Web UI (default http://localhost:8080)")
    parser.add_argument("--debug", action="store_true", help="Flask debug mode (off by default)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    run_web_app(create_app(args.ui_url), args.host, args.port, args.debug)
