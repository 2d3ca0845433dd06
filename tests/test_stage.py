"""`make demo`: one command brings up a working page, and Ctrl-C stops everything."""

import sys

import pytest

from maintainers.harness import REPO, Proc, expected_greeting, free_port, http, port_open, wait_for


@pytest.mark.parametrize("offline", [True, False], ids=["offline", "online"])
def test_make_demo_brings_up_a_working_page_and_ctrl_c_stops_it(tmp_path, offline, monkeypatch):
    for name in ("TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    ports = {name: free_port() for name in ("server", "ui", "app", "standin")}
    args = [sys.executable, "-m", "presenter.stage"] + (["--offline"] if offline else [])
    for name, port in ports.items():
        args += [f"--{name}-port", port]
    args += ["--db-filename", tmp_path / "temporal.db"]
    stage = Proc(args, cwd=REPO, name="stage")
    try:
        ready = stage.wait_for_line(r"^Ready: the app at", timeout=60)
        assert " ," not in ready, ready
        if offline:  # Ctrl-C here stops everything: the stand-in does not promise otherwise
            (standin,) = [line for line in stage.lines() if "Stand-in services on" in line]
            assert "Ctrl-C" not in standin, standin
        app = f"http://127.0.0.1:{ports['app']}"
        code, body = http("POST", f"{app}/api/greetings", {"name": "Ada", "sleep_seconds": 0})
        assert code == 202, body
        if offline:  # the stand-ins answer: the greeting arrives
            done = wait_for(
                lambda: (
                    (s := http("GET", f"{app}{body['status_url']}?wait=1")[1])["status"]
                    == "COMPLETED"
                    and s
                ),
                30,
                what="the greeting",
            )
            assert done["result"]["greeting"] == expected_greeting("Ada")
        else:  # no internet here: the run is started, and the page says get_ip is retrying
            wait_for(
                lambda: (http("GET", f"{app}{body['status_url']}")[1]["progress"] or {}).get(
                    "last_error"
                ),
                30,
                what="get_ip's first failure",
            )
        assert (tmp_path / "temporal.db").exists()
    finally:
        code = stage.interrupt(timeout=40)
    stage.assert_clean_exit(code)
    assert stage.lines()[-1] == "Everything stopped."
    for name in ("server", "ui", "app", "standin"):
        assert not port_open(ports[name]), f"{name} still listening"


def test_make_demo_uses_the_dev_server_that_already_runs(temporal_server, monkeypatch):
    """The teaser's dev server (terminal 1) serves hello-ip too: make demo does not refuse it."""
    for name in ("TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    app_port, standin_port = free_port(), free_port()
    args = [sys.executable, "-m", "presenter.stage", "--offline"]
    args += ["--server-port", temporal_server.port, "--ui-port", temporal_server.ui_port]
    args += ["--app-port", app_port, "--standin-port", standin_port]
    stage = Proc(args, cwd=REPO, name="stage")
    try:
        stage.wait_for_line(r"^Ready: the app at", timeout=60)
        assert (
            f"Using the Temporal dev server already running on localhost:{temporal_server.port}"
            in stage.stdout
        )
        app = f"http://127.0.0.1:{app_port}"
        code, body = http("POST", f"{app}/api/greetings", {"name": "Ada", "sleep_seconds": 0})
        assert code == 202, body
        status = http("GET", f"{app}{body['status_url']}?wait=10")[1]
        assert status["result"]["greeting"] == expected_greeting("Ada"), status
    finally:
        code = stage.interrupt(timeout=40)
    stage.assert_clean_exit(code)
    assert port_open(temporal_server.port), "the dev server it did not start keeps running"


def test_the_stage_panel_presses_refusals_and_presses_twice(tmp_path):
    """The panel (make demo only) signals only its own pieces, only for the app's own page."""
    from maintainers.harness import DemoStage

    stage = DemoStage(tmp_path)
    try:
        worker = stage.wait_state("worker", "running")
        assert set(stage.pieces()) == {"server", "standin", "worker", "app"}
        assert any(line.startswith("Starting the worker") for line in worker["lines"]), worker
        # Another site cannot press a button, with or without the token ...
        code, body = stage.press("worker", "kill", origin="http://evil.example")
        assert (code, body["error"]) == (
            403,
            "Refused: a press from another site (http://evil.example).",
        )
        code, body = stage.press("worker", "kill", origin=None)
        assert code == 403 and "another site (no Origin)" in body["error"]
        # ... nor can the app's own origin without the page's token.
        for token in (None, "guessed"):
            code, body = stage.press("worker", "kill", token=token)
            assert (code, body["error"]) == (
                403,
                "Refused: the page's stage token is missing or wrong.",
            )
        # A request for another host name (DNS rebinding) is refused too.
        import urllib.error
        import urllib.request

        request = urllib.request.Request(f"{stage.url}/api/stage", headers={"Host": "evil.example"})
        try:
            urllib.request.urlopen(request, timeout=5)
            raise AssertionError("a foreign Host was answered")
        except urllib.error.HTTPError as err:
            assert err.code == 403
        # The control port itself wants the stage's token.
        control = [line for line in stage.proc.lines() if "control" in line.lower()]
        assert control == [], "the control port and its token are never printed"
        assert stage.pieces()["worker"]["pid"] == worker["pid"], "no refused press did anything"
        code, body = stage.press("worker", "explode")
        assert code == 400 and "Unknown action 'explode'" in body["error"]
        code, body = stage.press("nobody", "kill")
        assert code == 400 and "Unknown piece 'nobody'" in body["error"]
        code, body = stage.press("app", "kill")
        assert code == 409 and "The page runs on the app" in body["error"]

        # Ctrl-C, then Ctrl-C again: the second one says why it does nothing.
        code, body = stage.press("worker", "interrupt")
        assert code == 200 and body["message"].startswith("Sent Ctrl-C (SIGINT) to the worker")
        stopped = stage.wait_state("worker", "stopped", timeout=15)
        assert stopped["exit"] in (0, 130)
        assert stopped["lines"][-1] == "Worker stopped."
        code, body = stage.press("worker", "interrupt")
        assert (code, body["error"]) == (409, "The worker is not running: nothing to stop.")
        # Start, and start again while it starts or runs: refused, with the reason.
        code, body = stage.press("worker", "start")
        assert code == 200 and body["message"].startswith("Started the worker again")
        code, body = stage.press("worker", "start")
        assert code == 409 and body["error"] in (
            "The worker is starting: wait until it runs, then press again.",
            f"The worker is already running (pid {stage.pieces()['worker']['pid']}).",
        )
        stage.wait_state("worker", "running")
        code, body = stage.press("worker", "kill")
        assert code == 200 and "kill -9 (SIGKILL)" in body["message"]
        assert stage.wait_state("worker", "stopped")["exit"] == "signal SIGKILL"
        # A piece stopped from the panel does not stop the stage.
        assert stage.proc.popen.poll() is None and stage.pieces()["app"]["state"] == "running"
        assert "stopping the rest" not in stage.proc.stdout
    finally:
        code = stage.stop()
    stage.proc.assert_clean_exit(code)
    assert stage.proc.lines()[-1] == "Everything stopped."


def test_the_control_port_wants_the_stage_token():
    from presenter import control, stage

    worker = [p for p in stage.pieces(offline=False) if p.name == "worker"]
    panel = control.ControlPort()
    panel.serve(control.Supervisor(worker, lambda port: False))
    try:
        code, body = http("GET", f"{panel.url}/pieces")
        assert (code, body) == (403, {"error": "The stage's token is missing or wrong."})
        code, body = http("POST", f"{panel.url}/pieces/worker/kill", {})
        assert code == 403
        code, body = http("GET", f"{panel.url}/pieces", headers={"X-Stage-Token": panel.token})
        assert code == 200 and [p["name"] for p in body["pieces"]] == ["worker"], body
        assert panel.server_address[0] == "127.0.0.1"
    finally:
        panel.close()
