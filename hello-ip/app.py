"""The web front end: a page that starts a greeting workflow and shows its progress.

    python app.py    # http://127.0.0.1:8000

The app never waits for the workflow to finish: it starts it, answers at once,
and the page asks for the status until the greeting is there.
"""

from flask import Flask, render_template, request, url_for
from werkzeug.exceptions import BadRequest

from demo_support.page import web
from workflow import TASK_QUEUE, GreetingInput, GreetingWorkflow


def create_app() -> Flask:
    app = Flask(__name__)
    app.config["TEMPORAL_UI_URL"] = web.ui_url()
    temporal = web.TemporalReader(TASK_QUEUE)  # one client, connected at start; reads runs once
    web.json_errors(app)  # every error as JSON with its reason, never an HTML page
    web.status_routes(app, temporal)  # the lights; under make demo, the stage panel

    def ui_link(workflow_id: str) -> str:
        ui = app.config["TEMPORAL_UI_URL"]
        return f"{ui}/namespaces/{temporal.namespace}/workflows/{workflow_id}"

    @app.get("/")
    def index():
        ui = app.config["TEMPORAL_UI_URL"]
        return render_template("index.html", ui_url=ui, namespace=temporal.namespace)

    # #region start-workflow
    @app.post("/api/greetings")
    async def start_greeting():
        greeting = read_greeting(request.get_json(silent=True))
        client = await temporal()
        # A fresh id for every submission; start the workflow and answer at once.
        handle = await client.start_workflow(
            GreetingWorkflow.run,
            greeting,
            id=web.new_workflow_id(greeting.name),
            task_queue=TASK_QUEUE,
        )
        app.logger.info("Started %s (sleep %s s)", handle.id, greeting.sleep_seconds)
        status_url = url_for("get_greeting", workflow_id=handle.id)
        return {
            "workflow_id": handle.id,
            "status_url": status_url,
            "ui_url": ui_link(handle.id),
        }, 202

    # #endregion start-workflow

    @app.get("/api/greetings/<workflow_id>")
    def get_greeting(workflow_id: str):
        wait = min(max(request.args.get("wait", 0, type=float), 0), 10)  # a long poll, 10 s at most
        status = temporal.status(workflow_id, wait, seen=request.args.get("seen", type=int))
        if status["result"]:
            result, name = status["result"], status["input"]["name"]
            result.update(name=name, greeting=greeting_text(name, result["ip"], result["location"]))
        return {**status, "ui_url": ui_link(workflow_id)}

    return app


def greeting_text(name: str, ip: str, location: str) -> str:
    return f"Hello, {name}!\nYour IP Address is {ip}.\nYou are in {location}"


def read_greeting(body) -> GreetingInput:
    """The request's name and timer; bad input is a 400 that says what is wrong."""
    if not isinstance(body, dict):
        raise BadRequest('Send a JSON object: {"name": "Ada", "sleep_seconds": 0}.')
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise BadRequest("Enter your name.")
    if len(name.strip()) > 100:
        raise BadRequest(f"The name is too long: {len(name.strip())} characters, at most 100.")
    sleep = body.get("sleep_seconds", 0)
    if sleep in (None, ""):
        sleep = 0
    if isinstance(sleep, bool) or not isinstance(sleep, int):
        raise BadRequest(f"sleep_seconds must be a whole number of seconds, not {sleep!r}.")
    if not 0 <= sleep <= 60:
        raise BadRequest(f"sleep_seconds must be between 0 and 60, not {sleep}.")
    return GreetingInput(name=name.strip(), sleep_seconds=sleep)


if __name__ == "__main__":
    web.serve(create_app())
