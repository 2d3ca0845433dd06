"""Room mode (python app.py --room) from hosts that are really other hosts: phones are network
namespaces with addresses of their own (maintainers/venue.py), on a /24 each, reaching the app
on the laptop's address as a phone on the venue's Wi-Fi would; the laptop's 127.0.0.1 is not
theirs. Against the real dev server, started exactly as make demo starts it, offline (the
stand-in), and Debian's Chromium running inside a phone's namespace.

Skipped where network namespaces cannot be made (not root, no `ip`), with the reason.
Screenshots go to $PAGE_SCREENSHOTS when set (else pytest's temporary folder).
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest

from maintainers import harness, venue
from maintainers.harness import DevServer, HelloStage, Proc, expected_greeting, http, wait_for
from presenter import stage as make_demo

HTML_NAME = "<img src=x onerror=alert(1)>"
SCREENSHOTS = "PAGE_SCREENSHOTS"  # where the shots fixture (conftest.py) saves, when set
PHONE = {"width": 390, "height": 844}  # an iPhone 12-15's CSS pixels


class MakeDemoServer(DevServer):
    """The dev server exactly as make demo starts it: its command line (no --ip added; its
    own default decides what it listens on), on free ports."""

    def start(self, timeout: float = 30) -> MakeDemoServer:
        ports = {"server_port": self.port, "ui_port": self.ui_port}
        server = make_demo.pieces(False, **ports, db_filename=str(self.db_file))[0]
        args = [*server.argv(), "--log-level", "error"]
        self.proc = Proc(args, cwd=self.db_file.parent, name="temporal")
        harness.wait_for(self._ready, timeout, 0.2, "the Temporal dev server")
        return self

    restart = start  # the same ports, the same database file


@dataclass
class Room:
    """The room under test: the stage (stand-in, worker, app --room), its join URL, the venue."""

    stage: HelloStage
    app: Proc
    join: str  # http://LAPTOP:PORT/j/CODE
    venue: venue.Venue
    used: set = field(default_factory=lambda: {0})  # phones[0], host 0's first: the browser's

    @property
    def code(self) -> str:
        return self.join.rsplit("/", 1)[1]

    @property
    def lan(self) -> str:
        """http://LAPTOP:PORT: the room's listener."""
        parts = urlsplit(self.join)
        return f"{parts.scheme}://{parts.netloc}"

    def phone(self, host: int | None = None) -> venue.Phone:
        """A phone no other test has used (its own runs per minute), on `host` if given."""
        for i, phone in enumerate(self.venue.phones):
            if i not in self.used and host in (None, phone.host.index):
                self.used.add(i)
                return phone
        raise AssertionError("add phones to the venue fixture")

    def view(self) -> dict:
        """GET /api/room on 127.0.0.1, as the presenter's page reads it."""
        code, body = http("GET", f"{self.stage.url}/api/room")
        assert code == 200, body
        return body

    def total(self) -> int:
        return self.view()["counts"]["total"]

    def started(self, name: str) -> list[str]:
        """The runs Temporal has for `name` (by their ids' slug), whoever started them."""
        return runs_named(self.stage, name)


def runs_named(stage: HelloStage, name: str) -> list[str]:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:30]
    listed = harness.temporal(
        stage.server, "workflow", "list", "--output", "json", "--limit", "1000",
        namespace=stage.namespace, check=True,
    ).stdout  # fmt: skip
    ids = [w["execution"]["workflowId"] for w in json.loads(listed or "[]")]
    return [i for i in ids if i.startswith(f"greeting-{slug}-")]


def unique(name: str) -> str:
    """A name no other run has (its workflow ids are counted in Temporal)."""
    return f"{name} {secrets.token_hex(3)}"


def wait_done(phone: venue.Phone, url: str, timeout: float = 30) -> dict:
    """The phone polls its run as the join page does (each request held up to 1 s)."""
    last = [None]

    def done():
        code, body = last[0] = phone.json("GET", f"{url}?wait=1")
        return code == 200 and body["status"] != "RUNNING" and body

    return wait_for(done, timeout, 0, lambda: f"{url} not done in {timeout}s: {last}")


def assert_refused(answer: venue.Answer, status: int, error: str | re.Pattern) -> None:
    """A clear refusal: the status, JSON with only the reason, never a 500."""
    assert answer.status == status, (answer.status, answer.text)
    assert answer.headers.get("content-type", "").startswith("application/json"), answer.headers
    assert set(answer.body) == {"error"}, answer.body
    if isinstance(error, re.Pattern):
        assert error.fullmatch(answer.body["error"]), answer.body
    else:
        assert answer.body["error"] == error


def assert_nothing_started(room: Room, name: str, total_before: int) -> None:
    time.sleep(0.5)  # a half-started run would be listed by now
    assert room.started(name) == []
    assert room.total() == total_before


@pytest.fixture(scope="module")
def the_venue():
    """32 phones on 4 hosts (8 addresses each), removed afterwards whatever happens."""
    with venue.or_skip(phones=32, hosts=4) as made:
        yield made


@pytest.fixture(scope="module")
def make_demo_server(tmp_path_factory, the_venue):
    server = MakeDemoServer(tmp_path_factory.mktemp("room-temporal"), ("default",)).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def room(make_demo_server, the_venue):
    """make demo --offline's pieces with the app in room mode on the venue's laptop address,
    the room's timer at 1 s (the presenter's POST /api/room)."""
    stage = HelloStage(make_demo_server, "default")
    try:
        stage.start_standin()
        stage.start_worker()
        app = stage.start_app("--room", "--room-host", the_venue.laptop)
        join = HelloStage.room_url(app)
        code, body = http("POST", f"{stage.url}/api/room", {"sleep_seconds": 1})
        assert code == 200 and body["sleep_seconds"] == 1, body
        yield Room(stage, app, join, the_venue)
    finally:
        stage.stop()


# --- a phone's run ----------------------------------------------------------------------------


def test_the_printed_join_url_is_the_laptop_address_and_a_random_code(room):
    parts = urlsplit(room.join)
    assert parts.hostname == room.venue.laptop
    assert parts.port == room.stage.app_port
    assert re.fullmatch(r"/j/[A-Za-z0-9_-]{6}", parts.path), room.join
    assert room.view()["url"] == room.join


def test_a_phone_gets_the_join_page_starts_a_run_and_polls_it_to_its_greeting(room):
    phone, name = room.phone(), unique("Ada")
    page = phone.get(room.join)
    assert page.status == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert f'data-base="/j/{room.code}"' in page.text

    answer = phone.post(f"{room.join}/runs", {"name": name, "sleep_seconds": 30})
    assert answer.status == 202, answer.text
    workflow_id = answer.body["workflow_id"]
    assert answer.body == {
        "workflow_id": workflow_id,
        "status_url": f"/j/{room.code}/runs/{workflow_id}",
        "sleep_seconds": 1,  # the room's timer, not the phone's 30
    }
    status = wait_done(phone, f"{room.lan}{answer.body['status_url']}")
    assert status["status"] == "COMPLETED", status
    assert status["result"]["greeting"] == expected_greeting(name)
    assert status["result"]["name"] == name
    # The phone's own run's words, not the presenter's page's lights, timeline or links.
    assert set(status) <= {"workflow_id", "status", "version", "progress", "result", "error"}
    assert room.started(name) == [workflow_id]
    (listed,) = [r for r in room.view()["runs"] if r["workflow_id"] == workflow_id]
    assert listed["name"] == name


def test_the_join_pages_files_are_served_to_a_phone(room):
    phone = room.phone()
    for name in ("run-status.js", "join.js", "style.css", "fonts/inter-latin-400-normal.woff2"):
        answer = phone.get(f"{room.join}/static/{name}")
        assert answer.status == 200, (name, answer.status)


def test_no_other_static_file_is_served_to_a_phone_not_even_through_fonts_dot_dot(room):
    phone = room.phone()
    assert phone.get(f"{room.lan}/static/style.css").status == 404  # the presenter's path
    for name in ("app.js", "fonts/../app.js", "fonts/%2e%2e/app.js", "fonts/..%2fapp.js"):
        answer = phone.get(f"{room.join}/static/{name}")
        assert answer.status == 404, (name, answer.status, answer.text[:80])
        assert_refused(answer, 404, re.compile(".+"))


def test_a_phones_odd_status_query_is_never_a_500(room):
    """?wait= and ?seen= come from the phone: whatever they say, an answer or a 400, while
    its run waits on its timer and after."""
    phone = room.phone()
    assert http("POST", f"{room.stage.url}/api/room", {"sleep_seconds": 5})[0] == 200
    try:
        started = phone.post(f"{room.join}/runs", {"name": unique("Query")})
    finally:
        http("POST", f"{room.stage.url}/api/room", {"sleep_seconds": 1})
    assert started.status == 202, started.text
    url = f"{room.lan}{started.body['status_url']}"
    odd = ["wait=nan", "wait=-1", "wait=1e400", "wait=abc", "seen=abc", "wait=1&seen=-1"]
    for query in [*odd, "wait=inf", *odd]:  # wait=inf: up to the end (at most 10 s)
        answer = phone.get(f"{url}?{query}", timeout=20)
        assert answer.status in (200, 400), (query, answer.status, answer.text)
        assert isinstance(answer.body, dict), (query, answer.text)
        assert answer.status == 400 or answer.body["status"] in ("RUNNING", "COMPLETED")


# --- the join code, the presenter's things, other runs: 404 -----------------------------------


def test_without_the_code_or_with_a_wrong_one_a_phone_gets_404(room):
    phone = room.phone()
    started = phone.post(f"{room.join}/runs", {"name": unique("Code")})
    assert started.status == 202, started.text
    run = started.body["workflow_id"]
    wrong = "x" + room.code[1:] if room.code[0] != "x" else "y" + room.code[1:]
    for base in (f"{room.lan}/j/{wrong}", f"{room.lan}/j/{room.code.lower()}x", f"{room.lan}/j"):
        assert phone.get(base).status == 404, base
        assert phone.post(f"{base}/runs", {"name": "Eve"}).status == 404, base
        assert phone.get(f"{base}/runs/{run}").status == 404, base
        assert phone.get(f"{base}/static/join.js").status == 404, base
    assert phone.get(f"{room.lan}/").status == 404
    assert phone.get(f"{room.join}/runs/{run}").status == 200  # the right code: its run


def test_the_presenters_page_and_api_are_404_on_the_room_listener(room):
    phone = room.phone()
    run = room.stage.post("Presenter", 0)
    for method, path in [
        ("GET", "/"),
        ("GET", "/api/greetings"),
        ("POST", "/api/greetings"),
        ("GET", f"/api/greetings/{run}"),
        ("GET", "/api/lights"),
        ("GET", "/api/stage"),
        ("POST", "/api/stage/worker/interrupt"),
        ("GET", "/api/room"),
        ("POST", "/api/room"),
        ("POST", "/api/room/reset"),
        ("GET", "/static/app.js"),
        ("GET", "/static/style.css"),
        ("GET", f"/j/{room.code}/static/app.js"),
    ]:
        body = {"name": "Eve", "sleep_seconds": 0} if method == "POST" else None
        answer = phone.request(method, f"{room.lan}{path}", body)
        assert answer.status == 404, (method, path, answer.status, answer.text[:200])
        assert isinstance(answer.body, dict) and "error" in answer.body, (path, answer.text)
    # The same paths answer on the laptop's 127.0.0.1: the room listener is another app.
    assert http("GET", f"{room.stage.url}/api/lights")[0] == 200


def test_the_loopback_listener_is_not_reachable_from_a_phone(room):
    phone = room.phone()
    assert phone.reach(room.venue.laptop, room.stage.app_port) == "connected"  # the room's
    # 127.0.0.1 on a phone is the phone's own: nothing there.
    assert phone.reach("127.0.0.1", room.stage.app_port) == "refused"
    # The app listens on the room's address only, not on the laptop's other addresses.
    other = room.venue.hosts[1].gateway
    assert phone.reach(other, room.stage.app_port) == "refused"


def test_without_room_the_app_is_not_on_the_venues_network(room, make_demo_server):
    """The switch off: the app as today, on 127.0.0.1 only; no room to read."""
    plain = HelloStage(make_demo_server, "default")
    try:
        plain.start_app()
        phone = room.phone()
        for address in (room.venue.laptop, room.venue.hosts[1].gateway):
            assert phone.reach(address, plain.app_port) == "refused", address
        code, body = http("GET", f"{plain.url}/api/room")
        assert (code, body) == (404, {"error": "Room mode is off: start the app with --room."})
        assert "The room joins" not in plain.procs[0].stdout
    finally:
        plain.stop()


def test_a_phone_cannot_read_a_run_the_room_did_not_start(room):
    phone = room.phone()
    presenters = room.stage.post("Presenter", 0)
    assert room.stage.status(presenters)[0] == 200  # it exists, on 127.0.0.1
    answer = phone.get(f"{room.join}/runs/{presenters}")
    assert_refused(answer, 404, "No such run in this room.")
    assert phone.get(f"{room.join}/runs/greeting-nobody-0123456789abcdef").status == 404


def test_temporal_and_its_web_ui_are_not_reachable_from_a_phone(room):
    phone, server = room.phone(), room.stage.server
    assert phone.reach(room.venue.laptop, room.stage.app_port) == "connected"  # the laptop is
    for port in (server.port, server.ui_port):
        assert harness.port_open(port)  # both listen, on the laptop's loopback
        for address in (room.venue.laptop, room.venue.hosts[2].gateway, "127.0.0.1"):
            assert phone.reach(address, port) in ("refused", "unreachable", "timeout"), (
                address,
                port,
            )


# --- refusals, each from another host: a clear message, nothing started --------------------


def test_a_fourth_run_in_a_minute_from_one_phone_is_429_with_retry_after(room):
    phone, name = room.phone(host=1), unique("Quota")
    before = room.total()
    assert phone.post(f"{room.join}/runs", data=b"not json").status == 400  # not counted
    started = [phone.post(f"{room.join}/runs", {"name": name}) for _ in range(3)]
    assert [a.status for a in started] == [202, 202, 202], [a.text for a in started]

    fourth = phone.post(f"{room.join}/runs", {"name": name})
    reason = re.compile(r"You started 3 runs in the last minute: try again in (\d+) s\.")
    assert_refused(fourth, 429, reason)
    seconds = int(reason.fullmatch(fourth.body["error"])[1])
    assert 50 <= seconds <= 60 and fourth.headers["retry-after"] == str(seconds), fourth.headers
    time.sleep(0.5)
    assert sorted(room.started(name)) == sorted(a.body["workflow_id"] for a in started)
    assert room.total() == before + 3
    # Per phone: another address on the same host still starts its run.
    neighbour = room.phone(host=1)
    assert neighbour.post(f"{room.join}/runs", {"name": unique("Neighbour")}).status == 202


@pytest.fixture
def room_of_two(room, make_demo_server, monkeypatch):
    """A second app in room mode, with ROOM_IN_FLIGHT=2 (the limit's environment override), on
    the same laptop address, stand-in and worker; the runs it lists in `.started` are
    terminated afterwards."""
    other = HelloStage(make_demo_server, "default")
    ports = (make_demo_server.port, make_demo_server.ui_port, other.app_port)
    other.pieces = {p.name: p for p in make_demo.pieces(True, *ports, room.stage.standin_port)}
    monkeypatch.setenv("ROOM_IN_FLIGHT", "2")
    other.started = []
    try:
        app = other.start_app("--room", "--room-host", room.venue.laptop)
        other.join = HelloStage.room_url(app)
        yield other
    finally:
        for workflow_id in other.started:
            harness.terminate(make_demo_server, workflow_id, "default")
        other.stop()


def test_a_full_room_is_429_and_takes_runs_again_when_one_ends(room, room_of_two):
    full, name = room_of_two, unique("Full")
    assert http("POST", f"{full.url}/api/room", {"sleep_seconds": 60})[0] == 200
    for phone in (room.phone(), room.phone()):
        answer = phone.post(f"{full.join}/runs", {"name": name})
        assert answer.status == 202, answer.text
        full.started.append(answer.body["workflow_id"])
    late = room.phone()
    refused = late.post(f"{full.join}/runs", {"name": name})
    message = "The room is full: 2 runs are in flight. Try again in a minute."
    assert_refused(refused, 429, message)
    assert refused.headers["retry-after"] == "60"
    time.sleep(0.5)
    assert sorted(runs_named(full, name)) == sorted(full.started)
    assert http("GET", f"{full.url}/api/room")[1]["counts"]["total"] == 2

    harness.terminate(full.server, full.started[0], "default")  # one run ends
    counts = lambda: http("GET", f"{full.url}/api/room")[1]["counts"]  # noqa: E731
    wait_for(lambda: counts()["running"] == 1, 10, 0.2, "the room to see the run end")
    again = late.post(f"{full.join}/runs", {"name": name})
    assert again.status == 202, again.text
    full.started.append(again.body["workflow_id"])


def test_runs_that_ended_free_the_room_even_when_nobody_watched_them(room, room_of_two):
    """Phones that start a run and close the page, the presenter's page not open: the runs
    end in Temporal, and the room takes new ones."""
    full, name = room_of_two, unique("Gone")
    assert http("POST", f"{full.url}/api/room", {"sleep_seconds": 0})[0] == 200
    for phone in (room.phone(), room.phone()):
        answer = phone.post(f"{full.join}/runs", {"name": name})
        assert answer.status == 202, answer.text
        full.started.append(answer.body["workflow_id"])

    def ended():
        listed = harness.temporal(full.server, "workflow", "list", "--output", "json",
                                  namespace="default", check=True).stdout  # fmt: skip
        states = {w["execution"]["workflowId"]: w["status"] for w in json.loads(listed)}
        return all(states.get(i, "").endswith("COMPLETED") for i in full.started)

    wait_for(ended, 20, 0.3, "both runs to complete in Temporal")
    answer = room.phone().post(f"{full.join}/runs", {"name": name})
    assert answer.status == 202, answer.text  # not "The room is full": none is in flight
    full.started.append(answer.body["workflow_id"])


def test_a_body_over_1024_bytes_is_400_and_1024_bytes_are_taken(room):
    phone, name = room.phone(), unique("Big")
    before = room.total()
    json_header = {"Content-Type": "application/json"}
    body = json.dumps({"name": name, "pad": "x" * 1100}).encode()
    answer = phone.post(f"{room.join}/runs", data=body, headers=json_header)
    assert_refused(answer, 400, f"The request is too large: {len(body)} bytes, at most 1024.")
    assert_nothing_started(room, name, before)

    exact = json.dumps({"name": name}).encode()
    exact += b" " * (1024 - len(exact))  # JSON's own whitespace, up to the limit
    answer = phone.post(f"{room.join}/runs", data=exact, headers=json_header)
    assert answer.status == 202, answer.text


def test_a_chunked_body_over_1024_bytes_is_400_too_large(room):
    """No Content-Length (Transfer-Encoding: chunked, as curl can send): the same limit, the
    same reason, whether the first 1024 bytes are a JSON object or not."""
    phone, name = room.phone(), unique("Chunked")
    before = room.total()
    chunked = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    too_large = re.compile(r"The request is too large: .*1024 bytes.*")  # N is not known
    padded = json.dumps({"name": name}).encode() + b" " * 3000  # an object, then whitespace
    cut = json.dumps({"name": name, "pad": "x" * 3000}).encode()  # an object only past 1024
    for body in (padded, cut):
        answer = phone.post(f"{room.join}/runs", data=iter([body]), headers=chunked)
        assert_refused(answer, 400, too_large)
    assert_nothing_started(room, name, before)


def test_an_empty_name_is_400(room):
    phone, before = room.phone(), room.total()
    for body in ({"name": ""}, {"name": "   "}, {}):
        assert_refused(phone.post(f"{room.join}/runs", body), 400, "Enter your name.")
    time.sleep(0.5)
    assert room.total() == before


def test_a_101_character_name_is_400_and_100_are_taken(room):
    phone, tag = room.phone(), secrets.token_hex(3)
    before = room.total()
    long = f"Long {tag} ".ljust(101, "n")
    answer = phone.post(f"{room.join}/runs", {"name": long})
    assert_refused(answer, 400, "The name is too long: 101 characters, at most 100.")
    assert_nothing_started(room, long, before)
    answer = phone.post(f"{room.join}/runs", {"name": long[:100]})
    assert answer.status == 202, answer.text


def test_a_body_that_is_not_a_json_object_is_400(room):
    phone, name = room.phone(), unique("Form")
    before = room.total()
    reason = 'Send a JSON object: {"name": "Ada"}.'
    for data, kind in [
        (f"name={name}".encode(), "application/x-www-form-urlencoded"),
        (b'{"name": ', "application/json"),
        (json.dumps([name]).encode(), "application/json"),
        (json.dumps(name).encode(), "application/json"),
        (b"\xff\xfe", "application/json"),
    ]:
        answer = phone.post(f"{room.join}/runs", data=data, headers={"Content-Type": kind})
        assert_refused(answer, 400, reason)
    assert_nothing_started(room, name, before)


# --- the join page in Chromium, on a phone ----------------------------------------------------


@pytest.fixture(scope="module")
def browsers(the_venue):
    """Two Debian Chromiums under one Playwright: the phone's, running inside host 0's
    namespace (its requests leave from phones[0]'s address; Playwright talks to it over pipes,
    not TCP), and the presenter's, on the laptop."""
    from maintainers.browser import FLAGS, require_chromium

    sync_api = pytest.importorskip("playwright.sync_api")
    laptop = require_chromium()
    with sync_api.sync_playwright() as playwright:
        phone = playwright.chromium.launch(executable_path=the_venue.chromium(0), args=FLAGS)
        presenter = playwright.chromium.launch(executable_path=laptop, args=FLAGS)
        yield phone, presenter
        presenter.close()
        phone.close()


@pytest.fixture
def on_a_phone(browsers):
    context = browsers[0].new_context(
        viewport=PHONE, device_scale_factor=3, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.requested, page.errors, page.dialogs = [], [], []
    page.on("request", lambda request: page.requested.append(request.url))
    page.on("pageerror", lambda err: page.errors.append(str(err)))
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    yield page
    context.close()


def test_the_join_page_on_a_phone_shows_the_run_then_its_greeting(room, on_a_phone, shots):
    page, name = on_a_phone, unique("Grace")
    assert http("POST", f"{room.stage.url}/api/room", {"sleep_seconds": 6})[0] == 200
    try:
        page.goto(room.join)
        page.fill("#name", name)
        page.screenshot(path=str(shots / "join-phone-name.png"))
        page.tap("#get-greeting")
        line = page.locator("#status-line")
        line.wait_for(state="visible", timeout=5000)
        page.wait_for_function(
            "document.querySelector('#status-line').textContent.includes('durable timer')",
            timeout=8000,
        )
        page.screenshot(path=str(shots / "join-phone-timer.png"))
        page.locator("#result").wait_for(state="visible", timeout=20000)
        lines = [page.inner_text(f"#{i}") for i in ("greeting-line", "ip-line", "location-line")]
        assert lines == expected_greeting(name)
        page.screenshot(path=str(shots / "join-phone-greeting.png"))
    finally:
        http("POST", f"{room.stage.url}/api/room", {"sleep_seconds": 1})
    # The run came from the phone's address, and nothing came from anywhere but the laptop.
    (run,) = [r for r in room.view()["runs"] if r["name"] == name]
    assert run["state"] == "done"
    hosts = {urlsplit(url).netloc for url in page.requested if not url.startswith("data:")}
    assert hosts == {urlsplit(room.join).netloc}, page.requested
    assert page.errors == []
    # It fits the phone: nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # The browser is on the phone's host: the laptop's 127.0.0.1 is not there.
    assert http("GET", f"{room.stage.url}/api/lights")[0] == 200  # from the laptop, it is
    with pytest.raises(Exception, match="ERR_CONNECTION_REFUSED"):
        page.goto(f"{room.stage.url}/")


def test_html_in_a_name_is_text_on_the_join_page(room, on_a_phone):
    page, name = on_a_phone, f"{HTML_NAME} {secrets.token_hex(2)}"
    page.goto(room.join)
    page.fill("#name", name)
    page.tap("#get-greeting")
    page.locator("#result").wait_for(state="visible", timeout=20000)
    assert page.inner_text("#greeting-line") == f"Hello, {name}!"
    assert page.evaluate("document.querySelectorAll('img, [onerror]').length") == 0
    assert page.dialogs == [] and page.errors == []


def test_html_in_a_name_is_text_on_the_presenters_room_panel(room, browsers, shots):
    phone, name = room.phone(), f"{HTML_NAME} {secrets.token_hex(2)}"
    assert phone.post(f"{room.join}/runs", {"name": name}).status == 202
    presenter = browsers[1].new_page(viewport={"width": 1280, "height": 900})
    try:
        presenter.dialogs = []
        presenter.on("dialog", lambda d: (presenter.dialogs.append(d.message), d.dismiss()))
        presenter.goto(room.stage.url)
        presenter.locator("#room-panel").wait_for(state="visible", timeout=10000)
        names = "[...document.querySelectorAll('#room-runs .room-name')].map(n => n.textContent)"
        wait_for(lambda: name in presenter.evaluate(names), 10, 0.2, "the name in the room")
        injected = "document.querySelectorAll('#room-runs img, #room-runs [onerror], img[src=x]')"
        assert presenter.evaluate(f"{injected}.length") == 0
        assert presenter.dialogs == []
        presenter.screenshot(path=str(shots / "room-panel-html-name.png"))
    finally:
        presenter.close()


# --- Temporal down: last, it stops the module's dev server ----------------------------------


def test_with_temporal_down_a_phone_gets_503_nothing_starts_and_its_run_survives(room):
    phone, name, late = room.phone(), unique("Outage"), unique("Refused")
    assert http("POST", f"{room.stage.url}/api/room", {"sleep_seconds": 3})[0] == 200
    answer = phone.post(f"{room.join}/runs", {"name": name})
    assert answer.status == 202, answer.text
    status_url = f"{room.lan}{answer.body['status_url']}"
    server = room.stage.server
    server.stop()
    try:
        refused = phone.post(f"{room.join}/runs", {"name": late})
        assert refused.status == 503, refused.text
        assert set(refused.body) == {"error", "status"}, refused.body
        assert refused.body["status"] == "UNREACHABLE"
        assert refused.body["error"].startswith("Temporal is unreachable: "), refused.body
        polled = phone.get(f"{status_url}?wait=0")
        assert polled.status == 503 and polled.body["status"] == "UNREACHABLE", polled.text
    finally:
        server.restart()
    done = wait_done(phone, status_url, timeout=40)
    assert done["status"] == "COMPLETED" and done["result"]["greeting"] == expected_greeting(name)
    assert room.started(late) == []  # the refused one was never started
