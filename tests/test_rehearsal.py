"""The rehearsal: the presenter's guide, run from the README's own text, as a presenter runs it.

Real terminals (tmux windows; Ctrl-C, Up and Enter are keys), the page in Chromium, and
each run's event history as the Web UI lists it. The commands typed, the terminal
output, the page's words and the histories all come from README.md, so a README edit
changes the rehearsal. It runs on the README's own ports (7233, 8080, 8000, 9000), in a
copy of the repository (demo 5 edits a file), in the README's order: the teaser, the
stage, demos 1 and 2, the room's demo (room mode: simulated phones in network namespaces, one
of them Chromium on the join page), demos 3 to 6, the bonus and two workers.

`make rehearse` runs it alone, printing each step, and keeps a screenshot of the page at
each step in rehearsal/.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import readme_script as guide
from browser import FLAGS, require_chromium
from demo_support.net import http_json
from demo_support.net import port_in_use as port_busy
from demo_support.page.room import network_address
from maintainers import venue
from maintainers.harness import REPO, internet, make_readme_edit, ship_the_bug, wait_for
from terminals import TMUX, Terminals, clean_env

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = require_chromium()
if not TMUX:
    pytest.skip("no tmux on PATH (apt-get install tmux)", allow_module_level=True)

PORTS = {7233: "the Temporal server", 8080: "the Web UI", 8000: "the app", 9000: "the stand-in"}
APP = "http://127.0.0.1:8000"
NAME = "Ada"
# What may differ between the README and a run: pids, hosts, attempt numbers.
NORMALIZE = [
    (re.compile(r"\(\d+@[^)]+\)"), "(<pid>@<host>)"),
    (re.compile(r"attempt \d+"), "attempt <n>"),
    (re.compile(r"Attempt \d+ in \d+ s"), "Attempt <n> in <n> s"),
    (re.compile(r"\(run [0-9a-f-]{36}\)"), "(run <run id>)"),  # demo 6's stuck run
    # Room mode's join URL: this laptop's address, a random code.
    (re.compile(r"http://\d+\.\d+\.\d+\.\d+:(\d+)/j/[\w-]{6} "), r"http://<address>:\1/j/<code> "),
]
# Not part of a demo, and never expected: a task that timed out or failed.
TROUBLE = ("Timed Out", "Failed", "Terminated", "Canceled")


def normalize(line: str) -> str:
    for pattern, replacement in NORMALIZE:
        line = pattern.sub(replacement, line)
    return line


def say(text: str) -> None:
    print(f"[rehearsal {time.strftime('%H:%M:%S')}] {text}", flush=True)


def copy_of_the_repository(dest: Path) -> Path:
    """The repository's files (not the slides, nor build output), with its .venv linked in,
    committed in a git repository of its own: demo 6 runs the replay tests and puts the code
    back with `git checkout`."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for name in listed:
        if name.startswith("slides/") or not (REPO / name).is_file():
            continue
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, dest / name)
    git = ["git", "-c", "user.name=rehearsal", "-c", "user.email=rehearsal@example.com"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "the repository"]):
        subprocess.run([*git, *args], cwd=dest, check=True, capture_output=True)
    (dest / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    return dest


class Rehearsal:
    """The stage of one rehearsal: its terminals, the page, the screenshots and timings."""

    def __init__(self, repo: Path, terminals: Terminals, page, shots: Path, offline: bool):
        self.repo = repo
        self.t = terminals
        self.page = page
        self.shots = shots
        self.offline = offline
        self.shot_count = 0
        self.timings: dict[str, float] = {}
        self.temporal = str(Path(sys.prefix) / "bin" / "temporal")

    # --- terminals -------------------------------------------------------------------

    def run(self, block_id: str) -> None:
        """Type a README block in its terminal (activating a new terminal first)."""
        block = guide.typed(block_id)
        if block.offline_only and not self.offline:
            return
        terminal = block.terminal
        if terminal not in self.t.opened:
            self.t.open(terminal)
            for line in guide.typed("activate").lines:
                self.t.type(terminal, line)
        for line in block.lines:
            say(f"terminal {terminal}: {line}")
            self.t.type(terminal, line)

    def expect_output(self, terminal: str, command: str, name: str) -> None:
        """The terminal shows the README's sample output after the command's last run."""
        expected = [normalize(line) for line in guide.expected_output(name)]
        start = self.t.last_command_line(terminal, command)

        def shown():
            got = [normalize(x) for x in self.t.output_of(terminal, start)]
            return got if got[: len(expected)] == expected else None

        try:
            wait_for(shown, 20, 0.1, f"{name} in terminal {terminal}")
        except TimeoutError:
            got = [normalize(x) for x in self.t.output_of(terminal, start)]
            raise AssertionError(f"terminal {terminal} printed {got}, README: {expected}") from None

    def expect_lines_in_order(self, terminal: str, name: str, after: int = 0) -> None:
        """The README's sample lines appear in the terminal, in order, after line `after`."""
        expected = [normalize(line) for line in guide.expected_output(name)]

        def shown():
            got = [normalize(x) for x in self.t.screen(terminal)[after:]]
            it = iter(got)
            return all(line in it for line in expected)

        wait_for(shown, 30, 0.2, f"{name} in terminal {terminal}")

    # --- the page --------------------------------------------------------------------

    def shot(self, name: str) -> None:
        self.shot_count += 1
        self.page.screenshot(
            path=str(self.shots / f"{self.shot_count:02d}-{name}.png"), full_page=True
        )  # the timeline and the lights too

    def status_lines(self) -> list[str]:
        return self.page.evaluate(
            """() => ['status-line', 'status-detail'].flatMap((id) => {
                const el = document.getElementById(id);
                return el.hidden ? [] : el.textContent.split('\\n');
            }).filter((line) => line.trim() !== '')"""
        )

    def wait_page_says(self, name: str, timeout: float = 30) -> float:
        """Wait until the page's status shows the README's quote; return when it did."""
        expected = [normalize(line) for line in guide.page_text(name)]

        def says():
            return [normalize(x) for x in self.status_lines()] == expected

        try:
            wait_for(says, timeout, 0.05, f"the page to say {expected}")
        except TimeoutError:
            raise AssertionError(
                f"the page says {self.status_lines()}, README: {expected}"
            ) from None
        return time.monotonic()

    def start_greeting(self, seconds: int = 0) -> str:
        page = self.page
        page.click("#reset-button")
        page.fill("#name", NAME)
        if seconds and page.locator("#options").is_hidden():  # Reset keeps them open
            page.click("text=Show Demo Options")
        if page.locator("#options").is_visible():  # and keeps the last demo's seconds
            page.fill("#sleep-seconds", str(seconds))
        page.click("text=Get Greeting")
        page.wait_for_function("new URLSearchParams(location.search).get('run')", timeout=10000)
        run_id = page.evaluate("new URLSearchParams(location.search).get('run')")
        say(f"page: Get Greeting ({seconds} s) -> {run_id}")
        return run_id

    def wait_greeting(self, timeout: float = 30) -> float:
        self.page.locator("#result").wait_for(state="visible", timeout=timeout * 1000)
        seen = time.monotonic()
        lines = [
            self.page.inner_text(f"#{i}") for i in ("greeting-line", "ip-line", "location-line")
        ]
        self.assert_greeting_lines(lines)
        return seen

    def assert_greeting_lines(self, lines: list[str], name: str = NAME) -> None:
        """The README's greeting, for this name."""
        expected = guide.expected_output("greeting")
        expected[0] = expected[0].replace(NAME, name)
        if self.offline:
            assert lines == expected
        else:  # online, the IP and the place are the presenter's own
            assert lines[0] == expected[0] and lines[1].startswith("Your IP Address is ")
            assert lines[2].startswith("You are in ")

    def restart_to_greeting(self, terminal: str, what: str, within: float, claim: str) -> None:
        """Up, Enter in a terminal (the piece starts again); the greeting on the page, timed."""
        restarted = time.monotonic()
        self.t.up_enter(terminal)
        greeted = self.wait_greeting(40)
        self.timings[what] = round(greeted - restarted, 2)
        assert greeted - restarted < within, f"README: {claim}"

    def wait_timer_started(self) -> None:
        wait_for(
            lambda: any("durable timer" in x for x in self.status_lines()),
            10,
            0.05,
            "the page to show the timer",
        )

    # --- the history, as the Web UI shows it ---------------------------------------

    def events(self, run_id: str) -> list[dict]:
        out = subprocess.run(
            [self.temporal, "workflow", "show", "--workflow-id", run_id, "--output", "json",
             "--address", "localhost:7233", "--namespace", "default"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return json.loads(out.stdout)["events"]

    def ui_history(self, run_id: str) -> list[str]:
        return [guide.ui_event_name(e) for e in self.events(run_id)]

    def assert_history(self, run_id: str, name: str) -> None:
        got, expected = self.ui_history(run_id), guide.history(name)
        assert not [e for e in got if e.endswith(TROUBLE) and e not in expected], got
        assert got == expected, f"the Web UI lists {got}"
        self.web_ui(run_id, name, len(got))

    def web_ui(self, run_id: str, name: str, events: int, status: str = "Completed") -> None:
        """The run in the Temporal Web UI, in a second tab: its event count, and a screenshot."""
        tab = self.page.context.browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            tab.goto(f"http://localhost:8080/namespaces/default/workflows/{run_id}")
            try:
                tab.wait_for_selector(f"text={status}", timeout=20000)  # the run's status badge
            except sync_api.TimeoutError:
                tab.screenshot(
                    path=str(self.shots / f"{self.shot_count:02d}-{name}-web-ui-late.png")
                )
                raise
            counter = tab.get_by_role("tab", name=re.compile("Event History"))
            counter.wait_for(timeout=10000)
            assert re.search(rf"\b{events}\b", counter.inner_text()), counter.inner_text()
            tab.screenshot(path=str(self.shots / f"{self.shot_count:02d}-{name}-web-ui.png"))
        finally:
            tab.close()

    def succeeded_on_attempt(self, run_id: str) -> int:
        """The attempt of get_location_info that succeeded (its Activity Task Started)."""
        started = [e for e in self.events(run_id) if "activityTaskStartedEventAttributes" in e]
        return int(started[-1]["activityTaskStartedEventAttributes"]["attempt"])

    def assert_run(self, run_id: str, name: str) -> None:
        """The history the README shows for this demo, each activity completed once."""
        self.assert_history(run_id, name)
        self.completed_once(run_id)

    def completed_once(self, run_id: str) -> None:
        done = [e for e in self.ui_history(run_id) if e.startswith("Activity Task Scheduled")]
        assert done == [
            "Activity Task Scheduled: get_ip",
            "Activity Task Scheduled: get_location_info",
        ]
        completed = [e for e in self.ui_history(run_id) if e == "Activity Task Completed"]
        assert len(completed) == 2, "each activity completed exactly once"


@pytest.fixture(scope="module", params=["offline", "online"])
def rehearsal(request, tmp_path_factory):
    offline = request.param == "offline"
    if not offline and not internet():
        pytest.skip("online rehearsal: icanhazip.com does not answer from here (no internet)")
    busy = [f"{port} ({what})" for port, what in PORTS.items() if port_busy(port)]
    if busy:
        taken = ", ".join(busy)
        message = f"the README's ports are taken (a stage running? make reset stops it): {taken}"
        if os.environ.get("CI"):
            raise AssertionError(message)
        pytest.skip(message)
    base = tmp_path_factory.mktemp(f"rehearsal-{request.param}")
    repo = copy_of_the_repository(base / "repo")
    shots = Path(os.environ.get("REHEARSAL_SCREENSHOTS") or base / "screenshots") / request.param
    shots.mkdir(parents=True, exist_ok=True)
    terminals = Terminals(repo, clean_env(Path(sys.prefix)))
    say(f"{request.param}: watch with: tmux -L {terminals.socket} attach")
    errors: list[str] = []
    try:
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("pageerror", lambda err: errors.append(str(err)))
            stage = Rehearsal(repo, terminals, page, shots, offline)
            yield stage
            say("timings (s): " + json.dumps(stage.timings))
            (shots / "timings.json").write_text(json.dumps(stage.timings, indent=2))
            browser.close()
    finally:
        for name in sorted(terminals.opened):
            terminals.ctrl_c(name)
        time.sleep(1)
        terminals.close()
        wait_for(lambda: not any(port_busy(p) for p in PORTS), 20, 0.2, "the pieces to stop")
    assert errors == [], f"the page threw: {errors}"


# --- The guide, in its order -----------------------------------------------------------


def test_a_fresh_terminal_has_no_temporal_until_activated(rehearsal):
    t = rehearsal.t
    t.open("1")
    t.type("1", "command -v temporal || echo no-temporal-here")
    t.wait_for("1", r"^no-temporal-here$", what="no temporal before activating")
    if subprocess.run(["python3", "-c", "import temporalio"], env=t.env).returncode:
        t.type("1", "python3 -c 'import temporalio'")  # the README's Troubleshooting row
        t.wait_for("1", r"No module named 'temporalio'$", what="no temporalio before activating")
    for line in guide.typed("activate").lines:  # later terminals: run() activates them
        t.type("1", line)
    t.type("1", "command -v temporal")
    t.wait_for("1", "^" + re.escape(rehearsal.temporal) + "$", what="the venv's temporal")


def test_teaser(rehearsal):
    t = rehearsal.t
    rehearsal.run("server")
    wait_for(lambda: port_busy(7233) and port_busy(8080), 30, 0.2, "the dev server")
    wait_for(lambda: _healthy(rehearsal), 30, 0.5, "the dev server's namespace")

    rehearsal.run("volatile")
    at = t.last_command_line("2", "python counter.py")
    t.wait_for("2", r"^4$", after=at, what="the volatile count to reach 4")
    t.ctrl_c("2")
    t.wait_prompt("2", after=t.last_command_line("2", "python counter.py"))
    rehearsal.expect_output("2", "python counter.py", "volatile-interrupted")
    t.up_enter("2")  # run it again: it starts over
    start = t.last_command_line("2", "python counter.py")
    t.wait_for("2", r"^2$", after=start + 1)
    assert t.output_of("2", start)[0] == "1", "the volatile counter starts over"
    t.ctrl_c("2")

    rehearsal.run("counter-worker")
    rehearsal.expect_output("2", "python worker.py", "worker-start")
    rehearsal.run("starter")
    rehearsal.expect_output("3", "python starter.py", "starter")
    worker_at = t.last_command_line("2", "python worker.py")
    t.wait_for("2", r"^4$", after=worker_at, what="the durable count to reach 4")
    t.ctrl_c("2")
    rehearsal.expect_output("2", "python worker.py", "durable-interrupted")
    t.up_enter("2")
    rehearsal.expect_output("2", "python worker.py", "durable-resumed")
    events = rehearsal.ui_history("durable-counter")
    assert events.count("Activity Task Scheduled: add_one") == 10
    assert events.count("Activity Task Completed") == 10, "add_one ran exactly ten times"
    assert not [e for e in events if e.endswith(TROUBLE)], events

    t.ctrl_c("2")  # on to hello-ip: the counter's worker stops, the server stays
    t.wait_for("2", r"^Worker stopped\.$", after=t.last_command_line("2", "python worker.py"))
    rehearsal.run("back-2")
    rehearsal.run("back-3")


def _healthy(rehearsal) -> bool:
    out = subprocess.run(
        [rehearsal.temporal, "operator", "namespace", "describe", "--namespace", "default",
         "--address", "localhost:7233"],
        capture_output=True,
    )  # fmt: skip
    return out.returncode == 0


def test_the_stage(rehearsal):
    rehearsal.run("worker-folder")
    rehearsal.run("offline")
    rehearsal.run("worker")
    rehearsal.expect_output("2", "python worker.py", "hello-worker-start")
    rehearsal.run("app")
    rehearsal.expect_output("3", "python app.py", "app-start")
    if rehearsal.offline:
        rehearsal.run("standin")
        rehearsal.expect_output("4", "python standin.py", "standin-start")
    wait_for(lambda: port_busy(8000), 20, 0.1, "the app")
    rehearsal.page.goto(APP)
    rehearsal.shot("the-page")


def test_demo_1_successful_execution(rehearsal):
    run_id = rehearsal.start_greeting(0)
    rehearsal.wait_greeting()
    rehearsal.shot("demo-1-greeting")
    rehearsal.assert_run(run_id, "demo-1")


def test_demo_2_a_durable_timer(rehearsal):
    run_id = rehearsal.start_greeting(3)
    seen: list[str] = []
    while rehearsal.page.locator("#result").is_hidden():
        line = rehearsal.status_lines()[:1]
        if line and line[0] not in seen:
            seen.append(line[0])
            if line[0] == guide.page_text("demo-2-timer")[0]:
                rehearsal.shot("demo-2-timer")
        time.sleep(0.05)
    rehearsal.wait_greeting()
    assert guide.page_text("demo-2-timer")[0] in seen, f"the page said {seen}"
    countdown = [int(x.split(": ")[1].split()[0]) for x in seen if "durable timer:" in x]
    assert countdown == [3, 2, 1], f"the countdown said {seen}"
    rehearsal.assert_run(run_id, "demo-2")


# --- The room joins in: demo 3 with the room's phones --------------------------------------

# The join URL as terminal 3 prints it: this laptop's address, the README's port, a random code.
JOIN_URL = re.compile(r"The room joins at (http://(\d+\.\d+\.\d+\.\d+):(\d+)/j/([\w-]{6})) ")
PHONE_VIEW = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
PHONE_NAMES = ["Grace", "Linus", "Ada", "Barbara", "Guido", "Katherine", "Dennis", "Margaret"]
PHONE_NAMES += ["Ken", "Frances", "Edsger", "Radia"]


class HostPhone:
    """A phone where no venue can be made (not root, not Linux): requests from this host."""

    address = "this host"

    def json(self, method, url, body=None, timeout=30):
        return http_json(method, url, body, timeout)


class PhoneRun:
    """One phone's run, started and followed as the join page does (its long poll), in a
    thread: what it said on the way, and its last answer."""

    def __init__(self, phone, name: str, join_url: str):
        self.phone, self.name, self.join_url = phone, name, join_url
        self.origin = join_url.split("/j/")[0]
        code, body = phone.json("POST", f"{join_url}/runs", {"name": name})
        assert code == 202, f"{name}'s phone ({phone.address}): {code} {body}"
        self.workflow_id, self.status_url = body["workflow_id"], body["status_url"]
        assert body["sleep_seconds"] == 30, body  # the room's timer: the README's 30 s
        self.said: list[str] = []
        self.last: dict = {}
        self.trouble: list[str] = []  # answers that were not a status
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._follow, daemon=True)
        self.thread.start()

    def _follow(self) -> None:
        wait, seen = 0, None
        while not self.stopping.is_set():
            news = f"&seen={seen}" if seen is not None else ""
            url = f"{self.origin}{self.status_url}?wait={wait}{news}"
            try:
                code, body = self.phone.json("GET", url, timeout=20)
            except Exception as err:  # the network (or, at the end, the venue gone)
                self.trouble.append(f"{type(err).__name__}: {err}")
                self.stopping.wait(0.5)
                continue
            if code != 200:
                self.trouble.append(f"{code}: {body}")
                self.stopping.wait(0.5)
                continue
            self.last, seen, wait = body, body["version"], 10
            message = (body.get("progress") or {}).get("message")
            if message and message not in self.said:
                self.said.append(message)
            if body["status"] != "RUNNING":
                return

    def done(self) -> bool:
        return self.last.get("status") == "COMPLETED"

    def __repr__(self) -> str:
        status = self.last.get("status")
        return f"{self.name}: {status}, said {self.said}, trouble {self.trouble[-3:]}"


def phone_lines(phone_page) -> list[str]:
    """The join page's status, as a phone shows it."""
    return phone_page.evaluate(
        """() => ['status-line', 'status-detail'].flatMap((id) => {
            const el = document.getElementById(id);
            return el.hidden ? [] : el.textContent.split('\\n');
        }).filter((line) => line.trim() !== '')"""
    )


def timer_words(line: str) -> str:
    return re.sub(r"\d+ s left", "<n> s left", line)


def room_view() -> dict:
    code, body = http_json("GET", f"{APP}/api/room", timeout=10)
    assert code == 200, body
    return body


def panel_runs(page) -> list[str]:
    """The Room panel's runs, as their states."""
    return page.evaluate(
        "() => [...document.querySelectorAll('#room-runs li')].map((li) => li.dataset.state)"
    )


def test_the_room_joins_in_demo_3_with_the_rooms_phones(rehearsal):
    """The README's room demo, with simulated phones on the venue's network (network
    namespaces: hosts of their own; one phone is Chromium, phone-sized, on the join page)."""
    t = rehearsal.t
    plain = guide.typed("app").lines[-1]
    # Terminal 3: the app in room mode, as the README says (Ctrl-C, then its room command).
    t.ctrl_c("3")
    t.wait_prompt("3", after=t.last_command_line("3", plain))
    rehearsal.run("room-app")
    (command,) = guide.typed("room-app").lines
    try:
        rehearsal.expect_output("3", command, "room-app-start")
        at = t.last_command_line("3", command)
        line = next(x for x in t.output_of("3", at) if JOIN_URL.search(x))
        join_url, address, port, _ = JOIN_URL.search(line).groups()
        assert address == network_address() and port == "8000", line
        qr = t.output_of("3", at)[2:6]  # the QR code under the two lines, in block characters
        assert all(set(row) & set("█▀▄") for row in qr), qr

        # The presenter's page, reloaded: its Room panel, the same URL and QR code.
        page = rehearsal.page
        page.goto(APP)
        page.locator("#room-panel").wait_for(state="visible", timeout=10000)
        view = room_view()
        assert view["url"] == join_url and page.inner_text("#room-url") == join_url
        wait_for(lambda: page.get_attribute("#room-qr", "src") == view["qr_svg"], 5, 0.1, "QR")
        rehearsal.shot("room-panel")

        no_venue = venue.unavailable()
        made = contextlib.nullcontext(None) if no_venue else venue.Venue(phones=12, hosts=3)
        with made as room_venue:
            if room_venue is None:  # three phones from one address: the room's limit for it
                say(f"the room's phones from this host ({no_venue})")
                phones, browser_path = [HostPhone(), HostPhone()], CHROMIUM
            else:
                phones, browser_path = room_venue.phones[1:], room_venue.chromium(0)
            say(f"the room joins: 1 phone in Chromium and {len(phones)} more, at {join_url}")
            browser = page.context.browser.browser_type.launch(
                executable_path=browser_path, args=FLAGS
            )
            runs: list[PhoneRun] = []
            try:
                _the_room_demo(rehearsal, browser, join_url, phones, runs)
            finally:
                for run in runs:
                    run.stopping.set()
                browser.close()
    finally:  # terminal 3 back to the plain app, for the rest of the guide
        t.ctrl_c("3")
        t.wait_prompt("3", after=t.last_command_line("3", command))
        t.type("3", plain)
    rehearsal.expect_output("3", plain, "app-start")
    rehearsal.page.goto(APP)
    rehearsal.page.locator("#room-panel").wait_for(state="hidden", timeout=10000)


def _the_room_demo(rehearsal, browser, join_url: str, phones: list, runs: list) -> None:
    t, page = rehearsal.t, rehearsal.page
    early, late = phones[: len(phones) - 2], phones[len(phones) - 2 :]
    names = iter(PHONE_NAMES)
    phone_page = browser.new_page(**PHONE_VIEW)
    errors: list[str] = []
    phone_page.on("pageerror", lambda err: errors.append(str(err)))

    def phone_shot(name: str) -> None:
        path = rehearsal.shots / f"{rehearsal.shot_count:02d}-{name}.png"
        phone_page.screenshot(path=str(path))

    # The room joins: a phone on the join page, the others through its API.
    phone_page.goto(join_url)
    first = next(names)
    phone_page.fill("#name", first)
    phone_page.click("text=Get my greeting")
    runs += [PhoneRun(phone, next(names), join_url) for phone in early]
    expected = timer_words(guide.page_text("room-phone-timer")[0])
    wait_for(
        lambda: [timer_words(x) for x in phone_lines(phone_page)][:1] == [expected],
        10,
        0.1,
        f"the phone to say {expected!r}",
    )
    phone_shot("room-phone-timer")
    chromium_run = phone_page.inner_text("#run-id").removeprefix("Your run: ")
    total = len(runs) + 1
    wait_for(lambda: room_view()["counts"]["running"] == total, 10, 0.2, "every run counted")
    # The README: once the runs are counting down (here: every one of them, on the panel).
    wait_for(
        lambda: all(r["step"] == "timer" for r in room_view()["runs"]),
        20,
        0.2,
        lambda: f"every run on its timer: {[(r['name'], r['step']) for r in room_view()['runs']]}",
    )
    wait_for(lambda: page.inner_text("#room-summary") == f"{total} running", 5, 0.1, "summary")
    rehearsal.shot("room-running")

    # Ctrl-C the worker while the timers wait; two more phones join after it.
    t.ctrl_c("2")
    t.wait_for("2", r"^Worker stopped\.$", after=t.last_command_line("2", "python worker.py"))
    stopped = time.monotonic()
    early_runs = list(runs)
    late_runs = [PhoneRun(phone, next(names), join_url) for phone in late]
    runs += late_runs
    total += len(late_runs)
    expected = guide.page_text("room-phone-no-worker")
    wait_for(lambda: phone_lines(phone_page) == expected, 45, 0.1, f"the phone to say {expected}")
    phone_shot("room-phone-no-worker")
    wait_for(
        lambda: room_view()["counts"]["waiting"] == total,
        45,
        0.2,
        lambda: f"every run waiting for a worker: {room_view()['summary']}",
    )
    summary = f"{total} waiting for a worker"
    wait_for(lambda: page.inner_text("#room-summary") == summary, 5, 0.1, "the panel's summary")
    assert panel_runs(page) == ["waiting"] * total, panel_runs(page)
    rehearsal.shot("room-no-worker")
    # Each phone said so too (within its long poll's 10 s): the timer fired, or, started after
    # the Ctrl-C, that its first step waits for a worker.
    said = lambda run, words: words in run.said  # noqa: E731
    wait_for(
        lambda: (
            all(said(r, "The timer fired; no worker is picking up work") for r in early_runs)
            and all(said(r, "No worker is picking up work") for r in late_runs)
        ),
        15,
        0.2,
        lambda: f"the phones said: {runs}",
    )
    say(f"the worker was down {time.monotonic() - stopped:.0f} s")

    # The worker restarted: every phone gets its greeting; the late ones after their timer.
    restarted = time.monotonic()
    t.up_enter("2")
    phone_page.locator("#result").wait_for(state="visible", timeout=20000)
    greeted = time.monotonic()
    shown = [phone_page.inner_text(f"#{i}") for i in ("greeting-line", "ip-line", "location-line")]
    rehearsal.assert_greeting_lines(shown, first)
    phone_shot("room-phone-greeting")
    wait_for(lambda: all(r.done() for r in early_runs), 20, 0.1, lambda: f"greetings: {runs}")
    within = time.monotonic() - restarted
    rehearsal.timings["room: worker restart to every timed-out phone's greeting"] = round(within, 2)
    rehearsal.timings["room: worker restart to the Chromium phone's greeting"] = round(
        greeted - restarted, 2
    )
    assert within < 15, "README: every phone whose timer fired shows its greeting within seconds"
    # README: a run started after the Ctrl-C takes its first step now, then its 30 s timer.
    wait_for(lambda: all(r.done() for r in late_runs), 60, 0.2, lambda: f"late ones: {runs}")
    late = time.monotonic() - restarted
    rehearsal.timings["room: worker restart to the late phones' greetings"] = round(late, 2)
    assert 30 <= late < 45, "README: its greeting follows 30 seconds later"
    for run in runs:
        rehearsal.assert_greeting_lines(run.last["result"]["greeting"], run.name)

    # The proof, on the Room panel: none lost, none failed, each step once.
    view = wait_for(lambda: (v := room_view())["proof"]["ok"] is not None and v, 20, 0.2, "proof")
    (proof,) = guide.page_text("room-proof")
    count = lambda text: re.sub(r"^\d+ runs:", "<n> runs:", text)  # noqa: E731
    assert view["proof"]["ok"] is True, view["proof"]
    assert view["proof"]["text"].startswith(f"{total} runs:"), view["proof"]
    assert count(view["proof"]["text"]) == count(proof), view["proof"]
    wait_for(
        lambda: (
            page.inner_text("#room-proof-text") == view["proof"]["text"]
            and page.get_attribute("#room-proof", "data-ok") == "true"
        ),
        10,
        0.2,
        "the panel's proof",
    )
    # The stand-in's own counts: under make demo OFFLINE=1 only (the README), not typed terminals.
    assert view["proof"]["standin"] is None, view["proof"]
    rehearsal.shot("room-proof")
    ids = [r["workflow_id"] for r in view["runs"]]
    assert sorted(ids) == sorted([chromium_run, *(r.workflow_id for r in runs)]), ids
    for workflow_id in ids:  # each run's history: demo 3's, each activity once
        assert rehearsal.ui_history(workflow_id) == guide.history("demo-3"), workflow_id
        rehearsal.completed_once(workflow_id)
    rehearsal.web_ui(chromium_run, "room-chromium-phone", len(guide.history("demo-3")))

    # Reset clears the room's ended runs.
    page.click("#reset-button")
    wait_for(lambda: room_view()["counts"]["total"] == 0, 10, 0.2, "Reset to clear the room")
    wait_for(lambda: panel_runs(page) == [], 5, 0.1, "the panel's runs cleared")
    assert errors == [], f"the join page threw: {errors}"


def test_demo_3_the_worker_dies_while_the_timer_waits(rehearsal):
    t = rehearsal.t
    run_id = rehearsal.start_greeting(10)
    rehearsal.wait_timer_started()
    t.ctrl_c("2")  # the worker dies, before the timer fires
    t.wait_for("2", r"^Worker stopped\.$", after=t.last_command_line("2", "python worker.py"))
    fired = _wait_event(rehearsal, run_id, "Timer Fired", 20)
    said = rehearsal.wait_page_says("demo-3-no-worker", 20)
    rehearsal.timings["demo 3: timer fired to 'no worker' on the page"] = round(said - fired, 2)
    rehearsal.shot("demo-3-no-worker")
    history = rehearsal.ui_history(run_id)
    assert history[-3:] == ["Timer Started", "Timer Fired", "Workflow Task Scheduled"], history

    rehearsal.restart_to_greeting(  # restart the worker
        # "At once": about a second when idle, 3 s seen on two busy cores; never the 10 s
        # a sticky queue would hold the task (worker.py: max_cached_workflows=0).
        "2",
        "demo 3: worker restart to greeting",
        6,
        "the greeting appears at once",
    )
    rehearsal.shot("demo-3-greeting")
    rehearsal.assert_run(run_id, "demo-3")


def _text(path: Path) -> str | None:
    """A file's text, or None while it is missing (git checkout replaces it: gone a moment)."""
    try:
        return path.read_text()
    except FileNotFoundError:
        return None


def _wait_event(rehearsal, run_id: str, event: str, timeout: float) -> float:
    wait_for(lambda: event in rehearsal.ui_history(run_id), timeout, 0.1, event)
    return time.monotonic()


def test_demo_4_the_temporal_service_dies_while_the_timer_waits(rehearsal):
    t = rehearsal.t
    run_id = rehearsal.start_greeting(10)
    rehearsal.wait_timer_started()
    worker_at = len(t.screen("2"))
    t.ctrl_c("1")  # the Temporal service dies
    down = time.monotonic()
    wait_for(lambda: not port_busy(7233), 20, 0.1, "the dev server to stop")
    rehearsal.wait_page_says("demo-4-unreachable", 15)
    first = rehearsal.page.inner_text("#elapsed")
    time.sleep(1.5)
    assert rehearsal.page.inner_text("#elapsed") != first, "the elapsed time keeps counting"
    rehearsal.shot("demo-4-unreachable")
    rehearsal.expect_lines_in_order("2", "worker-lost-temporal", after=worker_at)
    assert port_busy(8000), "the app keeps running"
    time.sleep(max(0.0, 11 - (time.monotonic() - down)))  # until after the timer was due

    rehearsal.restart_to_greeting(  # the same database file
        # The dev server's own start included: 3 s seen on two busy cores.
        "1",
        "demo 4: server restart to greeting",
        6,
        "a few seconds after the restart",
    )
    rehearsal.shot("demo-4-greeting")
    t.wait_for("2", r"^Temporal is back: the worker polls again\.$", after=worker_at)
    rehearsal.assert_run(run_id, "demo-4")


def test_demo_5_a_bug_ships_and_is_fixed_while_the_workflow_runs(rehearsal):
    t = rehearsal.t
    source, good = ship_the_bug(rehearsal.repo / "hello-ip")  # the presenter's edit, saved
    t.ctrl_c("2")
    t.wait_for("2", r"^Worker stopped\.$", after=t.last_command_line("2", "python worker.py"))
    t.up_enter("2")
    worker_at = t.last_command_line("2", "python worker.py")
    t.wait_for("2", r"^Starting the worker", after=worker_at)

    run_id = rehearsal.start_greeting(0)
    rehearsal.wait_page_says("demo-5-failing", 20)
    rehearsal.shot("demo-5-failing")
    rehearsal.expect_lines_in_order("2", "activity-failing", after=worker_at)

    source.write_text(good)  # the fix
    t.ctrl_c("2")
    t.wait_for("2", r"^Worker stopped\.$", after=worker_at)
    rehearsal.restart_to_greeting(
        "2", "demo 5: fixed worker restart to greeting", 7, "at the next retry, within 5 s"
    )
    rehearsal.shot("demo-5-greeting")
    rehearsal.assert_run(run_id, "demo-5")
    assert rehearsal.succeeded_on_attempt(run_id) > 2, "two attempts failed on the page"


def test_demo_6_a_change_that_breaks_replay_fixed_with_workflow_patched(rehearsal):
    t = rehearsal.t
    hello = rehearsal.repo / "hello-ip"
    run_id = rehearsal.start_greeting(10)
    rehearsal.wait_timer_started()
    source, committed = make_readme_edit(hello, "demo-6-change")  # the presenter's edit, saved
    t.ctrl_c("2")
    t.wait_for("2", r"^Worker stopped\.$", after=t.last_command_line("2", "python worker.py"))
    t.up_enter("2")
    worker_at = t.last_command_line("2", "python worker.py")
    t.wait_for("2", r"^Starting the worker", after=worker_at)

    # The timer fires; the new code does not match the history: the page says so in words.
    expected = [normalize(line) for line in guide.page_text("demo-6-mismatch")]
    wait_for(
        lambda: [normalize(x) for x in rehearsal.status_lines()][:3] == expected,
        30,
        0.05,
        f"the page to say {expected}",
    )
    failed_at = time.monotonic()
    rehearsal.shot("demo-6-mismatch")
    rehearsal.expect_lines_in_order("2", "worker-mismatch", after=worker_at)
    assert "Traceback" not in "\n".join(t.screen("2")[worker_at:])
    t.ctrl_c("2")  # stop that worker: it cannot run this run
    t.wait_for("2", r"^Worker stopped\.$", after=worker_at)
    stuck = rehearsal.ui_history(run_id)
    assert stuck[-1] == "Workflow Task Failed", stuck
    rehearsal.web_ui(run_id, "demo-6-mismatch", len(stuck), status="Running")

    # The replay tests fail, in a few seconds, naming the history and the mismatch.
    rehearsal.run("fifth-folder")
    typed = time.monotonic()
    rehearsal.run("replay-tests")
    (replay_tests,) = guide.typed("replay-tests").lines
    tests_at = t.last_command_line("5", replay_tests)
    rehearsal.expect_lines_in_order("5", "replay-tests-failing", after=tests_at)
    t.wait_for("5", r"^\d+ failed, \d+ passed in ", 30, after=tests_at)
    rehearsal.timings["demo 6: replay tests fail"] = round(time.monotonic() - typed, 2)

    # The fix: workflow.patched. The tests pass; the fixed worker completes the stuck run.
    make_readme_edit(hello, "demo-6-fix")
    t.up_enter("5")
    fixed_at = t.last_command_line("5", replay_tests)
    t.wait_for("5", r"^\d+ passed in ", 30, after=fixed_at)
    restarted = time.monotonic()
    t.up_enter("2")
    greeted = rehearsal.wait_greeting(40)
    # README: within a second once 10 s have passed since the failure (Temporal's next try).
    since = greeted - max(restarted, failed_at + 10)
    rehearsal.timings["demo 6: fixed worker start to greeting"] = round(greeted - restarted, 2)
    assert since < 3, f"the greeting came {since:.1f} s after the fixed worker could take it"
    rehearsal.shot("demo-6-greeting")
    rehearsal.assert_run(run_id, "demo-6-stuck")

    # A new run takes the new path, and records the patch's marker.
    new_id = rehearsal.start_greeting(2)
    rehearsal.wait_greeting(30)
    rehearsal.assert_history(new_id, "demo-6-new")

    # The repository as committed, in one step; the worker restarted on it.
    rehearsal.run("demo-6-reset")
    wait_for(lambda: _text(source) == committed, 10, 0.1, "git checkout workflow.py")
    t.ctrl_c("2")
    t.wait_for("2", r"^Worker stopped\.$", after=t.last_command_line("2", "python worker.py"))
    t.up_enter("2")
    t.wait_for("2", r"^Starting the worker", after=t.last_command_line("2", "python worker.py"))


def test_bonus_the_network_fails(rehearsal):
    if not rehearsal.offline:
        pytest.skip("online, the bonus cuts the real network: a presenter's move, not a test's")
    t = rehearsal.t
    run_id = rehearsal.start_greeting(10)
    rehearsal.wait_timer_started()
    t.ctrl_c("4")  # the network fails
    wait_for(lambda: not port_busy(9000), 10, 0.1, "the stand-in to stop")
    rehearsal.wait_page_says("bonus-failing", 30)
    rehearsal.shot("bonus-failing")
    rehearsal.restart_to_greeting(
        "4", "bonus: network back to greeting", 7, "at the next retry, within 5 s"
    )
    rehearsal.shot("bonus-greeting")
    rehearsal.assert_run(run_id, "bonus")
    assert rehearsal.succeeded_on_attempt(run_id) > 1, "it failed while the network was down"


def test_two_workers_on_one_task_queue(rehearsal):
    t = rehearsal.t
    rehearsal.run("offline-5")
    rehearsal.run("second-worker")
    rehearsal.expect_output("5", "python worker.py", "hello-worker-start")
    identity = t.output_of("5", t.last_command_line("5", "python worker.py"))[0]
    identity = identity.removeprefix("Starting the worker (").removesuffix(")")

    run_id = rehearsal.start_greeting(10)
    rehearsal.wait_timer_started()
    t.ctrl_c("2")  # one of the two dies; the other finishes the run
    t.wait_for("2", r"^Worker stopped\.$", after=t.last_command_line("2", "python worker.py"))
    rehearsal.wait_greeting(30)
    rehearsal.shot("two-workers-greeting")
    rehearsal.completed_once(run_id)
    finishers = [
        e["workflowTaskCompletedEventAttributes"]["identity"]
        for e in rehearsal.events(run_id)
        if "workflowTaskCompletedEventAttributes" in e
    ]
    assert finishers[-1] == identity, "the second worker finished the run"
