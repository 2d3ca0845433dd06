"""`make demo`: one command brings up a working page, and Ctrl-C stops everything."""

import sys

import pytest

from helpers import REPO, Proc, expected_greeting, free_port, http, wait_for


@pytest.mark.parametrize("offline", [True, False], ids=["offline", "online"])
def test_make_demo_brings_up_a_working_page_and_ctrl_c_stops_it(tmp_path, offline, monkeypatch):
    for name in ("TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    ports = {name: free_port() for name in ("server", "ui", "app", "standin")}
    args = [sys.executable, "support/stage.py"] + (["--offline"] if offline else [])
    for name, port in ports.items():
        args += [f"--{name}-port", port]
    args += ["--db-filename", tmp_path / "temporal.db"]
    stage = Proc(args, cwd=REPO, name="stage")
    try:
        stage.wait_for_line(r"^Ready: the app at", timeout=60)
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
        from helpers import port_open

        assert not port_open(ports[name]), f"{name} still listening"
