"""`make demo`: one command brings up a working page, and Ctrl-C stops everything."""

import sys

import pytest

from demo_support.harness import REPO, Proc, expected_greeting, free_port, http, port_open, wait_for


@pytest.mark.parametrize("offline", [True, False], ids=["offline", "online"])
def test_make_demo_brings_up_a_working_page_and_ctrl_c_stops_it(tmp_path, offline, monkeypatch):
    for name in ("TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    ports = {name: free_port() for name in ("server", "ui", "app", "standin")}
    args = [sys.executable, "-m", "demo_support.stage"] + (["--offline"] if offline else [])
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
    args = [sys.executable, "-m", "demo_support.stage", "--offline"]
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
