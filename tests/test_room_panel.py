"""Room mode (issue 22) as the presenter and a phone see it, in Chromium: the room panel on the
presenter's page through demo 3 played with the room (the worker Ctrl-C'd while the phones'
timers wait, then restarted) and demo 4 (Temporal down), the join page on a phone-sized
viewport, and, with room mode off, no panel at all.

In demo 3 the phones are on other hosts (maintainers/venue.py: network namespaces): one
Chromium inside a host, the others HTTP clients from addresses of their own. Elsewhere the room
listens on 127.0.0.2 (on Linux all of 127/8 is loopback). Screenshots go to $PAGE_SCREENSHOTS
when set (else pytest's temporary folder).
"""

from __future__ import annotations

import sys
from urllib.parse import urlparse

import pytest

from browser import require_chromium
from maintainers import venue as venues
from maintainers.browser import FLAGS, open_page
from maintainers.harness import (
    EXPECTED_IP,
    HelloStage,
    activity_counts,
    expected_greeting,
    http,
    wait_for,
)

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = require_chromium()
if not sys.platform.startswith("linux"):
    pytest.skip(
        "the room listens on 127.0.0.2: on Linux all of 127/8 is loopback", allow_module_level=True
    )

SCREENSHOTS = "PAGE_SCREENSHOTS"  # where the shots fixture (conftest.py) saves, when set
ROOM_HOST = "127.0.0.2"  # the room's listener: an address other than the presenter's 127.0.0.1
TIMER = 10  # the room's timer, set on the panel: time to Ctrl-C the worker while runs wait
PHONES = ["Grace", "Linus", "<b>Margaret</b>", "Barbara", "Ken"]  # besides Ada, in Chromium
NO_WORKER_HINT = "Is worker.py running? Start it and the run continues where it stopped."


@pytest.fixture
def venue():
    """The venue's network: a phone in Chromium on host 0, the others on hosts 0 and 1."""
    with venues.or_skip(phones=1 + len(PHONES), hosts=2) as venue:
        yield venue


@pytest.fixture
def phone_browser(browser, venue):
    """Chromium inside the venue's host 0: its requests leave from that phone's address."""
    chromium = browser.browser_type.launch(executable_path=venue.chromium(0), args=FLAGS)
    yield chromium
    chromium.close()


def panel(page) -> dict:
    """The room panel as the presenter reads it."""
    return page.evaluate(
        """() => ({
          shown: !document.querySelector('#room-panel').hidden,
          url: document.querySelector('#room-url').textContent,
          summary: document.querySelector('#room-summary').textContent,
          unreachable: document.querySelector('#room-unreachable').hidden ? null
            : document.querySelector('#room-unreachable').textContent,
          ok: document.querySelector('#room-proof').dataset.ok,
          proof: document.querySelector('#room-proof-text').textContent,
          standin: document.querySelector('#room-proof-standin').textContent,
          runs: [...document.querySelectorAll('#room-runs li')].map((li) => ({
            name: li.querySelector('.room-name').textContent,
            href: li.querySelector('.room-name').href,
            state: li.querySelector('.step-state').textContent,
            step: li.querySelector('.room-step').textContent,
          })),
        })"""
    )


def wait_panel(page, predicate, what: str, timeout: float = 40) -> dict:
    last = [None]

    def check():
        last[0] = panel(page)
        return predicate(last[0]) and last[0]

    return wait_for(check, timeout, 0.2, lambda: f"the room panel: {what}; it shows {last[0]}")


def status_line(page) -> tuple[str, str]:
    return page.inner_text("#status-line"), page.inner_text("#status-detail")


def assert_phone_sized(page) -> None:
    """No sideways scroll on a phone; every visible button a touch target (48 px at least)."""
    measured = page.evaluate(
        """() => ({
          width: innerWidth,
          scrollWidth: document.documentElement.scrollWidth,
          buttons: [...document.querySelectorAll('button')].filter((b) => b.offsetParent)
            .map((b) => [b.id, Math.round(b.getBoundingClientRect().height)]),
        })"""
    )
    assert measured["scrollWidth"] <= measured["width"], measured
    assert measured["buttons"] and all(h >= 48 for _, h in measured["buttons"]), measured


def assert_bundled_fonts(page) -> None:
    """Every text drawn in the fonts the room serves (Inter, JetBrains Mono), not the phone's."""
    from maintainers.slide_render import drawn_fonts

    page.evaluate("document.fonts.ready")
    drawn = drawn_fonts(page.context.new_cdp_session(page))
    assert len(drawn) >= 5, drawn
    bundled = ("Inter", "JetBrains Mono")
    ours = lambda family: any(family == b or family.startswith(f"{b} ") for b in bundled)  # noqa: E731
    elsewhere = [f for f in drawn if not f["web"] or not all(map(ours, f["families"]))]
    assert not elsewhere, elsewhere


def assert_panel_on_screen(page) -> None:
    """At the README's projector sizes the room panel is all on the screen (the code view may
    be a scroll away under it)."""
    for width, height in [(1280, 720), (1920, 1080)]:
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(100)
        box, tall = page.evaluate(
            """() => [Object.values(document.querySelector('#room-panel').getBoundingClientRect()
                       .toJSON()).map(Math.round), document.documentElement.scrollHeight]"""
        )
        x, y, w, h = box[:4]
        assert x >= 0 and y >= 0 and x + w <= width and y + h <= height, (width, height, box)
        print(f"\n[room panel] {width}x{height}: panel {box[:4]}, page {tall} px tall")
    page.set_viewport_size({"width": 1280, "height": 720})


def test_demo_3_with_the_room_the_panel_shows_the_outage_then_the_proof(
    browser, scenario, venue, phone_browser, shots
):
    scenario.start_standin()
    worker = scenario.start_worker()
    app = scenario.start_app("--room", "--room-host", venue.laptop)
    join_url = HelloStage.room_url(app)
    assert urlparse(join_url).hostname == venue.laptop

    presenter = open_page(browser, scenario.url, viewport={"width": 1280, "height": 720})
    presenter.locator("#room-panel").wait_for(state="visible", timeout=10000)
    assert panel(presenter)["url"] == join_url
    qr = presenter.eval_on_selector(
        "#room-qr", "img => [img.src.split(/[;,]/)[0], img.naturalWidth]"
    )
    assert qr[0] == "data:image/svg+xml" and qr[1] > 0, qr  # drawn, nothing fetched
    size = presenter.eval_on_selector("#room-url", "p => parseFloat(getComputedStyle(p).fontSize)")
    assert size >= 24, size  # the URL, legible from the back row at 1280x720

    # The room's timer, set on the panel.
    presenter.fill("#room-seconds", "61")
    presenter.click("#room-set")
    presenter.wait_for_function(
        "document.querySelector('#room-message').dataset.refused === 'true'"
    )
    assert "from 0 to 60" in presenter.inner_text("#room-message")
    presenter.fill("#room-seconds", str(TIMER))
    presenter.click("#room-set")
    presenter.wait_for_function(
        "document.querySelector('#room-message').dataset.refused === 'false'"
    )
    assert (
        presenter.inner_text("#room-message")
        == f"The room's new runs wait {TIMER} s on their timer."
    )
    assert http("GET", f"{scenario.url}/api/room")[1]["sleep_seconds"] == TIMER

    # Ada joins from a phone (Chromium, 390x844); the others from addresses of their own.
    phone = open_page(
        phone_browser, join_url, viewport={"width": 390, "height": 844}, device_scale_factor=2
    )
    assert phone.inner_text("h1") == "Join the demo"
    assert_phone_sized(phone)
    phone.fill("#name", "Ada")
    phone.click("#get-greeting")
    phone.wait_for_function(
        "document.querySelector('#status-line').textContent.startsWith('Sleeping on a durable')",
        timeout=10000,
    )
    ids = {}
    for name, other in zip(PHONES, venue.phones[1:], strict=True):
        code, body = other.json("POST", f"{join_url}/runs", {"name": name})
        assert code == 202, body
        assert body["sleep_seconds"] == TIMER
        ids[name] = body["workflow_id"]
    names = ["Ada", *PHONES]
    every = len(names)
    shown = wait_panel(presenter, lambda p: p["summary"] == f"{every} running", f"{every} running")
    assert [run["name"] for run in shown["runs"]] == names[::-1], "newest first, names as text"
    assert presenter.locator("#room-runs b").count() == 0
    assert shown["ok"] == "null" and shown["proof"] == f"{every} of {every} runs still going."
    first = shown["runs"][0]
    assert first["href"].endswith(f"/namespaces/{scenario.namespace}/workflows/{ids[PHONES[-1]]}")

    # Ctrl-C the worker while the timers wait: once they fire, every run waits for a worker.
    worker.assert_clean_exit(worker.interrupt())
    outage = wait_panel(
        presenter,
        lambda p: p["summary"] == f"{every} waiting for a worker",
        f"{every} waiting for a worker",
        timeout=TIMER + 30,
    )
    assert {run["state"] for run in outage["runs"]} == {"waiting"}
    assert {run["step"] for run in outage["runs"]} == {
        "The timer fired; no worker is picking up work"
    }
    assert outage["ok"] == "null" and outage["unreachable"] is None
    wait_for(
        lambda: (
            status_line(phone) == ("The timer fired; no worker is picking up work", NO_WORKER_HINT)
        ),
        15,
        0.2,
        "the phone to say no worker is picking up work",
    )
    presenter.screenshot(path=str(shots / "page-room-outage.png"))
    phone.screenshot(path=str(shots / "join-room-outage.png"))
    assert_panel_on_screen(presenter)

    # The phone locks its screen (a reload): its run comes back.
    run_id = phone.inner_text("#run-id")
    phone.reload()
    phone.wait_for_function(
        "document.querySelector('#status-line').textContent.includes('no worker')", timeout=10000
    )
    assert phone.inner_text("#run-id") == run_id and phone.locator("#join-form").is_hidden()

    # The worker again: every run completes, each activity once.
    scenario.start_worker()
    proof = wait_panel(presenter, lambda p: p["summary"] == f"{every} done", f"{every} done")
    assert {run["state"] for run in proof["runs"]} == {"done"}
    assert proof["ok"] == "true", proof
    assert proof["proof"] == (
        f"{every} runs: none lost, none failed; each ran get_ip once and get_location_info once"
        " (from their histories)."
    )
    assert proof["standin"] == (
        f"The stand-in answered get_ip {every} times and get_location_info {every} times"
        f" for the {every} runs started since the room opened."
    )
    ids["Ada"] = run_id.removeprefix("Your run: ")
    for name, workflow_id in ids.items():  # the proof's numbers, from the histories themselves
        counts = activity_counts(scenario.history(workflow_id))
        assert counts == {"get_ip": 1, "get_location_info": 1}, (name, counts)
    calls = http("GET", f"http://127.0.0.1:{scenario.standin_port}/calls")[1]
    assert (calls["get_ip"], calls["get_location_info"]) == (every, every), calls
    color = presenter.eval_on_selector("#room-proof-text", "p => getComputedStyle(p).color")
    assert color == "rgb(142, 240, 168)", color  # green: --ok

    phone.locator("#result").wait_for(state="visible", timeout=10000)
    lines = [phone.inner_text(f"#{i}") for i in ("greeting-line", "ip-line", "location-line")]
    assert lines == expected_greeting("Ada") and EXPECTED_IP in lines[1]
    assert phone.locator("#start-another").is_visible()
    assert_phone_sized(phone)
    presenter.screenshot(path=str(shots / "page-room-proof.png"))
    phone.screenshot(path=str(shots / "join-room-greeting.png"))

    # Reset clears the room's ended runs with the presenter's own run.
    presenter.click("#reset-button")
    cleared = wait_panel(presenter, lambda p: not p["runs"], "no run after Reset", timeout=5)
    assert cleared["summary"] == "No run yet: the room joins at the URL above"
    phone.reload()  # the phone's run is gone from the room with the others: it says so
    phone.locator("#error").wait_for(state="visible", timeout=10000)
    assert phone.inner_text("#error").startswith("The room no longer has your run: the presenter")
    assert phone.locator("#join-form").is_visible() and phone.input_value("#name") == "Ada"
    assert presenter.errors == [] and phone.errors == []
    presenter.close()
    phone.close()


def test_temporal_down_then_the_app_down_the_phone_and_the_panel_say_so(
    browser, restartable, shots
):
    """Demo 4 with the room: the phone's run is safe while Temporal is down (the panel says it
    is unreachable), completes once it is back; the app stopped, the phone says so and keeps
    trying."""
    stage = restartable
    stage.start_standin()
    stage.start_worker()
    app = stage.start_app("--room", "--room-host", ROOM_HOST)
    join_url = HelloStage.room_url(app)
    assert http("POST", f"{stage.url}/api/room", {"sleep_seconds": TIMER})[0] == 200
    presenter = open_page(browser, stage.url, viewport={"width": 1280, "height": 720})
    phone = open_page(browser, join_url, viewport={"width": 390, "height": 844})
    phone.fill("#name", "Margaret")
    phone.click("#get-greeting")
    phone.wait_for_function(
        "document.querySelector('#status-line').textContent.startsWith('Sleeping on a durable')",
        timeout=10000,
    )
    wait_panel(presenter, lambda p: p["summary"] == "1 running", "1 running", timeout=10)

    stage.server.stop()  # Ctrl-C in the dev server's terminal
    wait_for(
        lambda: (
            status_line(phone)
            == (
                "Temporal is unreachable",
                "Your run is safe in Temporal's database. This page keeps trying.",
            )
        ),
        15,
        0.2,
        "the phone to say Temporal is unreachable",
    )
    down = wait_panel(
        presenter,
        lambda p: (p["unreachable"] or "").startswith("Temporal is unreachable"),
        "Temporal is unreachable",
        timeout=15,
    )
    assert down["summary"] == "1 running"  # the run as last read: not lost, not failed
    color = presenter.eval_on_selector("#room-unreachable", "p => getComputedStyle(p).color")
    assert color == "rgb(255, 155, 155)", color  # red: --bad
    presenter.screenshot(path=str(shots / "page-room-unreachable.png"))
    phone.screenshot(path=str(shots / "join-room-unreachable.png"))

    stage.server.restart()
    phone.locator("#result").wait_for(state="visible", timeout=40000)
    assert phone.inner_text("#greeting-line") == "Hello, Margaret!"
    back = wait_panel(presenter, lambda p: p["summary"] == "1 done", "1 done", timeout=15)
    assert back["unreachable"] is None and back["ok"] == "true", back

    phone.click("#start-another")
    phone.click("#get-greeting")  # the name kept
    phone.wait_for_function(
        "document.querySelector('#status-line').textContent.startsWith('Sleeping on a durable')",
        timeout=10000,
    )
    app.assert_clean_exit(app.interrupt())  # Ctrl-C in the app's terminal
    wait_for(
        lambda: (
            status_line(phone)
            == (
                "The app is not answering",
                "Is this phone still on the venue's network? This page keeps trying.",
            )
        ),
        15,
        0.2,
        "the phone to say the app is not answering",
    )
    elapsed = phone.inner_text("#elapsed")
    phone.wait_for_timeout(1500)
    assert phone.inner_text("#elapsed") != elapsed, "the phone keeps counting and trying"
    assert presenter.errors == [] and phone.errors == []
    presenter.close()
    phone.close()


def test_a_phone_sees_the_rooms_refusals_and_starts_another(browser, scenario, shots):
    """The 400's and the 429's reasons on the phone, as the room gives them; Start another."""
    scenario.start_standin()
    scenario.start_worker()
    app = scenario.start_app("--room", "--room-host", ROOM_HOST)
    join_url = HelloStage.room_url(app)
    http("POST", f"{scenario.url}/api/room", {"sleep_seconds": 0})
    phone = open_page(browser, join_url, viewport={"width": 360, "height": 740})
    phone.click("#get-greeting")  # no name
    phone.locator("#error").wait_for(state="visible", timeout=5000)
    assert phone.inner_text("#error") == "Enter your name."
    assert phone.locator("#status").is_hidden()
    name = "<img src=x onerror=alert(1)>"
    for n in range(3):  # the room's limit: 3 runs a phone a minute
        if n:
            phone.click("#start-another")
        phone.fill("#name", name)
        phone.click("#get-greeting")
        phone.locator("#result").wait_for(state="visible", timeout=20000)
        assert phone.inner_text("#greeting-line") == f"Hello, {name}!"
        assert phone.locator("#result img").count() == 0
    phone.click("#start-another")
    assert phone.input_value("#name") == name  # kept for the next run
    phone.click("#get-greeting")
    phone.locator("#error").wait_for(state="visible", timeout=5000)
    refused = phone.inner_text("#error")
    assert refused.startswith("You started 3 runs in the last minute: try again in "), refused
    assert phone.locator("#join-form").is_visible() and phone.locator("#status").is_hidden()
    phone.screenshot(path=str(shots / "join-room-429.png"))
    for width in (360, 430):
        phone.set_viewport_size({"width": width, "height": 740})
        assert_phone_sized(phone)
    assert_bundled_fonts(phone)
    assert phone.errors == []
    phone.close()


def test_without_room_mode_the_page_has_no_room_panel(browser, hello):
    code, body = http("GET", f"{hello.url}/api/room")
    assert code == 404 and body == {"error": "Room mode is off: start the app with --room."}
    page = open_page(browser, hello.url, viewport={"width": 1280, "height": 720})
    asked = []
    page.on("request", lambda request: asked.append(request.url))
    page.reload()
    page.wait_for_timeout(2500)
    assert page.locator("#room-panel").is_hidden()
    assert [url for url in asked if url.endswith("/api/room")] == [f"{hello.url}/api/room"]
    boxes = page.evaluate(
        """() => ['#run-column', '#code-section'].map((id) => {
          const r = document.querySelector(id).getBoundingClientRect();
          return [r.left, r.top, r.right].map(Math.round);
        })"""
    )
    (run_left, run_top, run_right), (code_left, code_top, _) = boxes
    assert code_left > run_right and code_top == run_top, boxes  # the two columns, as before
    assert page.errors == []
    page.close()
