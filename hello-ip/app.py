"""The web front end: a page that starts a greeting workflow and shows its progress."""

from flask import Flask, render_template, request, url_for
from werkzeug.exceptions import BadRequest

from demo_support.page import web
from workflow import TASK_QUEUE, GreetingInput, GreetingWorkflow


def create_app() -> Flask:
    app = Flask(__name__)
    temporal = web.TemporalReader(TASK_QUEUE)  # one client, connected at start; reads runs once
    web.plumbing(app, temporal, GreetingWorkflow.run)  # JSON errors, the lights, the code view

    @app.get("/")
    def index():
        return render_template("index.html", workflows_url=web.ui_link())

    @app.post("/api/greetings")
    async def start_greeting():
        greeting = read_greeting(request.get_json(silent=True))
        client = await temporal()
        # #region start
        handle = await client.start_workflow(
            GreetingWorkflow.run,
            greeting,
            id=web.new_workflow_id(greeting.name),  # a fresh id for every submission
            task_queue=TASK_QUEUE,
        )
        # #endregion start
        app.logger.info("Started %s (sleep %s s)", handle.id, greeting.sleep_seconds)
        return {
            "workflow_id": handle.id,
            "status_url": url_for("get_greeting", workflow_id=handle.id),
            "ui_url": web.ui_link(handle.id),
        }, 202

    @app.get("/api/greetings/<workflow_id>")
    def get_greeting(workflow_id: str):
        wait, seen = request.args.get("wait", type=float), request.args.get("seen", type=int)
        status = temporal.status(workflow_id, wait, seen)  # a long poll: news since `seen`
        if result := status["result"]:
            result["name"] = status["input"]["name"]
            result["greeting"] = greeting_lines(**result)
        return {**status, "ui_url": web.ui_link(workflow_id)}

    return app


def greeting_lines(name: str, ip: str, location: str) -> list[str]:
    return [f"Hello, {name}!", f"Your IP Address is {ip}.", f"You are in {location}"]


def read_greeting(body) -> GreetingInput:
    """The request's name and timer; bad input is a 400 that says what is wrong."""
    if not isinstance(body, dict):
        raise BadRequest('Send a JSON object: {"name": "Ada", "sleep_seconds": 0}.')
    name = body.get("name").strip() if isinstance(body.get("name"), str) else ""
    if not name:
        raise BadRequest("Enter your name.")
    if len(name) > 100:
        raise BadRequest(f"The name is too long: {len(name)} characters, at most 100.")
    sleep = body.get("sleep_seconds") if body.get("sleep_seconds") not in (None, "") else 0
    if isinstance(sleep, bool) or not isinstance(sleep, int):
        raise BadRequest(f"sleep_seconds must be a whole number of seconds, not {sleep!r}.")
    if not 0 <= sleep <= 60:
        raise BadRequest(f"sleep_seconds must be between 0 and 60, not {sleep}.")
    return GreetingInput(name=name, sleep_seconds=sleep)


if __name__ == "__main__":
    web.serve(create_app())
