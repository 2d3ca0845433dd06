"""hello-ip: the workflow, its activities and the JSON API, against a real dev server."""

import asyncio
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import aiohttp
import pytest
from temporalio.exceptions import ApplicationError

import activities
from app import create_app
from maintainers.harness import (
    EXPECTED_IP,
    EXPECTED_LOCATION,
    HELLO_DIR,
    HelloStage,
    LocalServer,
    expected_greeting,
    free_port,
    http,
    python_script,
    wait_for,
)
from readme_script import assert_matches_readme

# --- activities, against the stand-in services --------------------------------------------


@pytest.fixture(scope="module")
def standin():
    port = free_port()
    proc = python_script(HELLO_DIR / "standin.py", "--port", port)
    proc.wait_for_line("^Stand-in services on")
    yield f"http://127.0.0.1:{port}"
    proc.assert_clean_exit(proc.interrupt())
    assert proc.lines()[-1] == "Stand-in services stopped: the network is down."


def call(method_name: str, *args, base: str):
    async def go():
        async with aiohttp.ClientSession() as session:
            return await getattr(activities.IpActivities(session), method_name)(*args)

    return asyncio.run(go())


@pytest.fixture
def services(standin, monkeypatch):
    monkeypatch.setattr(activities, "IP_SERVICE_URL", standin)
    monkeypatch.setattr(activities, "GEO_SERVICE_URL", f"{standin}/json")
    return standin


def test_get_ip_reads_the_ip_service(services):
    assert call("get_ip", base=services) == EXPECTED_IP


def test_get_location_info_formats_city_region_country(services):
    assert call("get_location_info", EXPECTED_IP, base=services) == EXPECTED_LOCATION


def test_a_private_ip_is_a_permanent_failure(services):
    with pytest.raises(ApplicationError) as raised:
        call("get_location_info", "192.168.1.10", base=services)
    assert raised.value.non_retryable
    assert str(raised.value) == "No location for 192.168.1.10: private range"


def test_transport_and_http_errors_are_retryable(services, monkeypatch):
    monkeypatch.setattr(activities, "IP_SERVICE_URL", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(aiohttp.ClientConnectionError):  # not an ApplicationError: retried
        call("get_ip", base=services)
    monkeypatch.setattr(activities, "GEO_SERVICE_URL", f"{services}/no-such-path")
    with pytest.raises(aiohttp.ClientResponseError):  # any 4xx or 5xx, here a 404
        call("get_location_info", EXPECTED_IP, base=services)


def test_the_default_services_are_the_real_ones():
    """With no setting (a new terminal, no offline.sh), the worker asks the real services."""
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.endswith("_SERVICE_URL")}
    out = subprocess.run(
        [sys.executable, "-c", "import activities; print(activities.IP_SERVICE_URL)"],
        cwd=HELLO_DIR, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert out.stdout.split() == ["https://icanhazip.com"]
    out = subprocess.run(
        [sys.executable, "-c", "import activities; print(activities.GEO_SERVICE_URL)"],
        cwd=HELLO_DIR, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert out.stdout.split() == ["http://ip-api.com/json"]


# --- the workflow, run by the real worker ---------------------------------------------------


def test_each_piece_prints_the_start_line_the_readme_shows(hello):
    standin, worker, app = hello.procs[:3]
    # In a terminal of its own (the README, the rehearsal) the stand-in adds what Ctrl-C
    # does there; with no terminal (make demo, here) Ctrl-C stops everything, so it does not.
    assert_matches_readme("standin-start", [standin.lines()[0] + " Ctrl-C cuts the network."])
    assert "Ctrl-C" not in standin.lines()[0]
    assert_matches_readme("hello-worker-start", worker.lines()[:1])
    assert_matches_readme("app-start", app.lines()[:1])


def test_a_permanent_failure_ends_the_run_with_the_services_message(scenario):
    # The stand-in answers with a private IP, which ip-api cannot place.
    stage = scenario
    stage._run("standin", "--ip", "10.1.2.3")
    wait_for(lambda: http_ok(f"http://127.0.0.1:{stage.standin_port}/"), 15)
    stage.start_worker()
    stage.start_app()
    try:
        done = stage.wait_done(stage.post("Lin", 0), timeout=20)
        assert done["status"] == "FAILED"
        assert done["error"] == "No location for 10.1.2.3: private range"
        assert done["result"] is None
    finally:
        stage.stop()


def http_ok(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except OSError:
        return False


# --- the JSON API ---------------------------------------------------------------------------

BAD_INPUTS = [
    ({}, "Enter your name."),
    ({"name": "   "}, "Enter your name."),
    ({"name": 42}, "Enter your name."),
    ({"name": "x" * 101}, "The name is too long: 101 characters, at most 100."),
    (
        {"name": "Ada", "sleep_seconds": "3"},
        "sleep_seconds must be a whole number of seconds, not '3'.",
    ),
    (
        {"name": "Ada", "sleep_seconds": 2.5},
        "sleep_seconds must be a whole number of seconds, not 2.5.",
    ),
    (
        {"name": "Ada", "sleep_seconds": True},
        "sleep_seconds must be a whole number of seconds, not True.",
    ),
    ({"name": "Ada", "sleep_seconds": -1}, "sleep_seconds must be between 0 and 60, not -1."),
    ({"name": "Ada", "sleep_seconds": 61}, "sleep_seconds must be between 0 and 60, not 61."),
    (["Ada"], 'Send a JSON object: {"name": "Ada", "sleep_seconds": 0}.'),
]


def count_greeting_runs(server: LocalServer, namespace: str) -> int:
    import subprocess

    from maintainers.harness import TEMPORAL

    out = subprocess.run(
        [TEMPORAL, "workflow", "count", "--address", server.address, "--namespace", namespace,
         "--query", "WorkflowType='GreetingWorkflow'"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return int(out.stdout.split()[-1])


@pytest.mark.parametrize(("body", "reason"), BAD_INPUTS)
def test_bad_input_is_a_400_with_the_reason(hello, body, reason):
    code, answer = http("POST", f"{hello.url}/api/greetings", body)
    assert (code, answer) == (400, {"error": reason})


def test_bad_input_starts_no_workflow(scenario):
    scenario.start_standin()
    scenario.start_worker()
    app = scenario.start_app()  # an app of its own: every run it starts is in its log
    for body, _ in BAD_INPUTS:
        assert http("POST", f"{scenario.url}/api/greetings", body)[0] == 400
    fence = scenario.post("Fence", 0)  # a good one after the bad ones

    def started():  # the app's log (stderr): one line per run it started
        return [line for line in app.stderr.splitlines() if line.startswith("Started ")]

    wait_for(lambda: any(fence in line for line in started()), 15)
    assert started() == [f"Started {fence} (sleep 0 s)"]
    # And Temporal agrees: the namespace holds that one run only.
    scenario.wait_done(fence)
    counted = wait_for(lambda: count_greeting_runs(scenario.server, scenario.namespace), 10)
    assert counted == 1


def test_not_json_is_a_400(hello):
    import urllib.error
    import urllib.request

    request = urllib.request.Request(f"{hello.url}/api/greetings", data=b"name=Ada", method="POST")
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=10)
    assert raised.value.code == 400


def test_html_in_the_name_stays_text(hello):
    name = "<script>alert('hi')</script>"
    done = hello.wait_done(hello.post(name, 0))
    assert done["result"]["name"] == name
    assert done["result"]["greeting"][0] == f"Hello, {name}!"


def test_unknown_id_is_a_404(hello):
    code, body = hello.status("greeting-nobody-000000000000")
    assert code == 404
    assert body == {"error": "No greeting run with id 'greeting-nobody-000000000000'."}


def test_the_status_names_the_ui_link(hello, temporal_server):
    workflow_id = hello.post("Ada", 0)
    code, body = http("GET", f"{hello.url}/api/greetings/{workflow_id}")
    ui = f"http://localhost:{temporal_server.ui_port}/namespaces/{hello.namespace}/workflows/"
    assert body["ui_url"] == ui + workflow_id
    assert body["workflow_id"] == workflow_id


def test_simultaneous_submissions_each_get_their_own_run(hello):
    with ThreadPoolExecutor(20) as pool:
        ids = list(pool.map(lambda i: hello.post("Same Name", 0), range(20)))
    assert len(set(ids)) == 20
    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(lambda wid: hello.wait_done(wid, timeout=60), ids))
    assert all(r["result"]["greeting"] == expected_greeting("Same Name") for r in results)


def test_a_fresh_apps_first_requests_share_one_client(scenario):
    """Twenty requests at once, the app's very first: each thread's event loop, one client."""
    scenario.start_standin()
    scenario.start_worker()
    app = scenario.start_app()
    with ThreadPoolExecutor(20) as pool:
        ids = list(pool.map(lambda i: scenario.post("First", 0), range(20)))
        results = list(pool.map(lambda wid: scenario.wait_done(wid, timeout=60), ids))
    assert len(set(ids)) == 20
    assert all(r["result"]["greeting"] == expected_greeting("First") for r in results)
    assert "The app failed" not in app.stdout + app.stderr


def test_temporal_down_is_a_503_and_the_app_connects_when_it_comes_up():
    server = LocalServer(namespaces=("temporal-down",))  # not started yet
    stage = HelloStage(server, "temporal-down")
    app = stage.start_app()  # the app starts although Temporal is down
    try:
        code, page = 0, None
        import urllib.request

        with urllib.request.urlopen(stage.url, timeout=10) as response:
            code, page = response.status, response.read().decode()
        assert code == 200 and "Distributed Hello World" in page
        code, body = http("POST", f"{stage.url}/api/greetings", {"name": "Ada"})
        assert code == 503
        assert body["error"].startswith(
            f"Temporal is unreachable: Cannot reach Temporal at {server.address}"
        )
        code, body = stage.status("greeting-ada-000000000000")
        assert code == 503 and body["status"] == "UNREACHABLE"

        server.start()
        stage.start_standin()
        stage.start_worker()
        done = stage.wait_done(stage.post("Ada", 0), timeout=30)
        assert done["result"]["greeting"] == expected_greeting("Ada")
    finally:
        stage.stop()
        server.stop()
    app.assert_clean_exit()


def test_the_app_validates_without_temporal():
    """Flask's test client: validation needs no Temporal (app factory, as in Flask's tutorial)."""
    client = create_app().test_client()
    response = client.post("/api/greetings", json={"name": ""})
    assert response.status_code == 400
    assert response.get_json() == {"error": "Enter your name."}
    page = client.get("/")
    assert page.status_code == 200
    assert b"Show Demo Options" in page.data
