"""Each demo's scenario, written once (issue 19): what breaks, when, what brings it back, what
the run shows. play(DEMOS[key], driver, how, hooks) runs it the same way with every driver: the
JSON API and the processes (StageDriver), the page with those or with its stage panel (PageDriver,
Panel). At each moment the driver's wait() checks what every run shows and returns what it saw;
the test's hook for that moment, hook(run, seen), asserts more, takes a screenshot, saves a history.
"""

from __future__ import annotations

import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from maintainers import browser, harness


class At:
    """The moments of a run, as each driver tells them."""

    STARTED = "started"  # the run began (a hook's moment only, as DOWN and FIXED are)
    TIMER_WAITING = "timer waiting"  # get_ip done, the durable timer counting
    NO_WORKER = "no worker"  # the timer fired; no worker picks up the next task
    UNREACHABLE = "unreachable"  # the app cannot reach Temporal
    RETRYING = "retrying"  # get_location_info failed `failures` times; Temporal retries it
    MISMATCH = "mismatch"  # demo 6: the new code does not match the history; the run waits
    DOWN = "down"  # the piece is stopped (demo 6: the mismatched worker too), not yet fixed
    FIXED = "fixed"  # the fix made (bug, change), the piece about to start again
    GREETING = "greeting"  # completed, with the greeting


@dataclass(frozen=True)
class Scenario:
    key: str  # the README's name for it ("demo-3"), and its history block's
    name: str  # typed into the form
    seconds: int  # the durable timer (the README says 10: a presenter talks meanwhile)
    piece: str | None = None  # what breaks: "worker", "server", "standin"
    hows: tuple[str, ...] = ("interrupt",)  # how: the README's first; "kill" is kill -9
    bug: bool = False  # the README's edit (demo 5) ships before the run and is fixed after
    change: bool = False  # demo 6's edit, made while the timer waits; fixed with its patch
    at: str | None = At.TIMER_WAITING  # when it breaks (bug: before the run; no piece: shows)
    broken: str | None = None  # what the run shows while it is broken
    failures: int = 0  # at RETRYING: get_location_info's failed attempts
    # Seconds the piece stays down (demo 4: the service restarts while the timer still counts,
    # as the README has it; tests/test_demo_4_late.py restarts it after the timer is due).
    down_for: float = 0
    restored: bool = True  # what restores it: the piece started again (the bug: fixed first)
    workers: int = 1
    from_history: tuple[str, ...] | None = ()  # the steps a restarted worker did not run again
    within: float | None = None  # restore to greeting, in seconds (room for two busy cores)
    history: bool = True  # the README shows its history (<!-- history: KEY -->)


DEMOS = {
    s.key: s
    for s in [
        Scenario("demo-1", "Ada", 0, at=None),
        Scenario("demo-2", "Grace", 3),  # nothing breaks: the page counts the timer down
        # About a second when idle, 3.4 s seen on two busy cores; a sticky queue would hold
        # the task 10 s (worker.py: max_cached_workflows=0).
        Scenario("demo-3", "Linus", 4, "worker", ("interrupt", "kill"), broken=At.NO_WORKER,
                 from_history=("get_ip",), within=8),
        Scenario("demo-4", "Margaret", 10, "server", ("interrupt", "kill"), broken=At.UNREACHABLE,
                 down_for=3),
        Scenario("demo-5", "Barbara", 0, "worker", bug=True, at=None, broken=At.RETRYING,
                 failures=3, from_history=("get_ip",), within=10),
        Scenario("demo-6", "Hedy", 4, "worker", change=True, broken=At.MISMATCH,
                 from_history=("get_ip",), history=False),
        Scenario("bonus", "Katherine", 2, "standin", broken=At.RETRYING, failures=3, within=10),
        Scenario("two-workers", "Alan", 3, "worker", restored=False, workers=2,
                 from_history=None, history=False),
    ]
}  # fmt: skip

Hook = Callable[[str, object], None]  # hook(run, seen): what the driver's wait() saw


@dataclass
class Played:
    run: str
    recovery: float | None = None  # restore to greeting, in seconds


def play(s: Scenario, driver, how: str | None = None, hooks: dict[str, Hook] | None = None):
    """Run the scenario with the driver; at each moment, the hook for it (if any)."""
    hooks, how = hooks or {}, how or s.hows[0]
    restored = None

    def reached(moment: str, wait: bool = True) -> None:
        seen = driver.wait(played.run, moment, s) if wait else None
        if moment == At.GREETING and restored is not None:  # before the hook's own checks
            played.recovery = time.monotonic() - restored
        if moment in hooks:
            hooks[moment](played.run, seen)

    def redeploy(edit: str | None) -> None:  # the edit saved, the worker restarted with it
        driver.edit(edit)
        driver.stop("worker", "interrupt")
        driver.start("worker")

    try:
        if s.bug:
            redeploy("demo-5")
        started = time.monotonic()
        played = Played(driver.start_run(s))
        reached(At.STARTED, wait=False)
        if s.at:
            reached(s.at)
        if s.change:  # demo 6: the new code, deployed while the run waits on its timer
            redeploy("demo-6-change")
        elif s.at and s.piece:
            driver.stop(s.piece, how)
        if s.broken:
            reached(s.broken)
        if s.change:
            driver.stop("worker", "interrupt")  # it cannot run this run (the README)
        reached(At.DOWN, wait=False)
        time.sleep(s.down_for)
        if s.restored and s.piece:
            if s.bug or s.change:  # the bug's fix: the file as committed; demo 6's: its patch
                driver.edit("demo-6-fix" if s.change else None)
                if s.bug:
                    driver.stop("worker", "interrupt")
                reached(At.FIXED, wait=False)
            restored = time.monotonic()
            driver.start(s.piece)
        reached(At.GREETING)
        assert time.monotonic() - started >= s.seconds, "the greeting came before the timer"
        return played
    finally:
        if s.bug or s.change:  # no edit left behind, even by a scenario that failed
            driver.edit(None)


def completed_once(events: list[dict]) -> None:
    once = {"get_ip": 1, "get_location_info": 1}
    assert harness.activity_counts(events) == once
    assert harness.activity_counts(events, "SCHEDULED") == once


class Hands:
    """The README's edits in `folder` (a copy of hello-ip); the run's history from `stage`."""

    folder: Path | None = None
    original: str | None = None

    def __init__(self, stage):
        self.stage = stage

    def edit(self, name: str | None) -> None:
        """ "demo-5" (the bug), "demo-6-change", "demo-6-fix"; None: the file as committed."""
        if name == "demo-5":
            self.source, self.original = harness.ship_the_bug(self.folder)
        elif name:
            self.source, self.original = harness.make_readme_edit(self.folder, name)
        elif self.original is not None:
            self.source.write_text(self.original)

    def history(self, run: str) -> list[dict]:
        return self.stage.history(run)


class StageDriver(Hands):
    """The JSON API and a HelloStage's processes; with an edit, the workers in copy_to/hello-ip."""

    def __init__(self, stage: harness.HelloStage, s: Scenario, copy_to: Path | None = None):
        super().__init__(stage)
        if s.bug or s.change:
            self.folder = Path(copy_to) / "hello-ip"
            ignore = shutil.ignore_patterns("__pycache__")
            shutil.copytree(harness.HELLO_DIR, self.folder, ignore=ignore)
        self.procs = {"standin": stage.start_standin()}
        self.workers = [self._worker(f"worker-{i}") for i in range(1, s.workers + 1)]
        self.procs.update(worker=self.workers[0], app=stage.start_app())

    def _worker(self, name: str = "worker.py") -> harness.Proc:
        return self.stage.start_worker(folder=self.folder, name=name)

    def start_run(self, s: Scenario) -> str:
        return self.stage.post(s.name, s.seconds)

    def stop(self, piece: str, how: str) -> None:
        if piece == "server":
            return self.stage.server.stop(None if how == "interrupt" else signal.SIGKILL)
        proc = self.procs[piece]
        if how == "interrupt":
            proc.assert_clean_exit(proc.interrupt())
        else:
            proc.kill()

    def start(self, piece: str) -> None:
        if piece == "server":
            self.stage.server.restart()  # the same database file, the same ports
        else:
            self.procs[piece] = self._worker() if piece == "worker" else self.stage.start_standin()

    def wait(self, run: str, moment: str, s: Scenario):
        """The run's status (the API's JSON) once it shows the moment."""
        stage, progress = self.stage, self.stage.wait_progress
        if moment == At.TIMER_WAITING:
            stage.wait_for_event(run, "TIMER_STARTED")
        elif moment == At.NO_WORKER:
            stage.wait_for_event(run, "TIMER_FIRED", timeout=10)
            return progress(run, lambda p: p.get("waiting_for_worker"), timeout=15)
        elif moment == At.UNREACHABLE:
            code, status = stage.status(run)  # at once: no traceback, no 500
            assert code == 503 and status["status"] == "UNREACHABLE", status
            return status
        elif moment == At.RETRYING:
            return progress(run, lambda p: p.get("attempt", 0) > s.failures, timeout=20)
        elif moment == At.MISMATCH:
            return progress(run, lambda p: p.get("step") == "workflow_task_failed", timeout=20)
        elif moment == At.GREETING:
            return self._greeting(run, s)
        return stage.status(run)[1]

    def _greeting(self, run: str, s: Scenario) -> dict:
        """Nothing lost or done twice, nothing timed out or failed (but demo 6's task)."""
        done = self.stage.wait_done(run, timeout=30)
        assert done["status"] == "COMPLETED", done
        assert done["result"]["greeting"] == harness.expected_greeting(s.name)
        events = self.history(run)
        completed_once(events)
        types = harness.event_types(events)
        assert types[-1] == "WORKFLOW_EXECUTION_COMPLETED"
        trouble = [t for t in types if t.endswith(("TIMED_OUT", "FAILED"))]
        assert trouble == (["WORKFLOW_TASK_FAILED"] if s.change else []), types
        if s.from_history is not None:
            taken = [row["step"] for row in done["timeline"] if row.get("from_history")]
            assert taken == list(s.from_history), done["timeline"]
        return done


class PageDriver:
    """The page in Chromium, by its rows and lights (with `shots`, PREFIX-KEY-MOMENT.png of each);
    the pieces break and come back by `hands`: a StageDriver, or the stage panel (Panel)."""

    def __init__(self, page, hands, shots: Path | None = None, prefix: str = "page"):
        self.page, self.hands, self.shots, self.prefix = page, hands, shots, prefix

    def __getattr__(self, name: str):  # stop, start, edit, history: the hands'
        return getattr(self.hands, name)

    def start_run(self, s: Scenario) -> str:
        return browser.start_run(self.page, s.name, s.seconds)

    def failures(self):
        return self.page.locator("#timeline li[data-step='get_location_info'] .step-failure")

    def wait(self, run: str, moment: str, s: Scenario):
        page = self.page
        if moment == At.TIMER_WAITING:
            browser.wait_rows(page, [["get_ip", "done"], ["durable timer", "waiting"]])
        elif moment == At.NO_WORKER:
            browser.wait_rows(page, [["get_ip", "done"], ["durable timer", "fired"]], timeout=10)
            browser.wait_light(page, "worker", "Worker: none polling", timeout=10)
            assert page.get_attribute("#light-worker", "data-on") == "false"
            assert browser.light(page, "temporal") == "Temporal: reachable"
        elif moment == At.UNREACHABLE:
            browser.wait_light(page, "temporal", "Temporal: unreachable")
            assert page.get_attribute("#light-worker", "data-on") == "unknown"
            assert page.inner_text("#status-line") == "Temporal is unreachable"
            countdown = page.locator("#timeline li[data-step='timer'] .countdown")
            first = countdown.inner_text()
            page.wait_for_timeout(1200)
            assert countdown.inner_text() != first, "the timer counts with the server down"
        elif moment == At.RETRYING:
            what = f"{s.failures} failed attempts on the page"
            harness.wait_for(lambda: self.failures().count() >= s.failures, 25, 0.2, what)
        elif moment == At.MISMATCH:
            said = lambda: "does not match" in page.inner_text("#status-line")  # noqa: E731
            harness.wait_for(said, 20, 0.1, "the page's words for a workflow task that failed")
        elif moment == At.GREETING:
            self._greeting(run, s)
        if self.shots:
            name = f"{self.prefix}-{s.key}-{moment.replace(' ', '-')}.png"
            page.screenshot(path=str(self.shots / name), full_page=True)
        return page

    def _greeting(self, run: str, s: Scenario) -> None:
        page = self.page
        page.locator("#result").wait_for(state="visible", timeout=40000)
        timer = [["durable timer", "fired"]] if s.seconds else []
        done = [["get_ip", "done"], *timer, ["get_location_info", "done"], ["greeting", "done"]]
        shown = lambda: [r for r in browser.rows(page) if r[0] != "replay"] == done  # noqa: E731
        if s.change:  # demo 6: besides them, the failed replay, then the fixed worker's
            harness.wait_for(shown, 20, 0.1, f"timeline rows {done}")
        else:
            browser.wait_rows(page, done)
        browser.wait_light(page, "temporal", "Temporal: reachable")
        browser.wait_light(page, "worker", "Worker: polling")
        for step in ("get_ip", "get_location_info"):
            text = browser.row_text(page, step)
            if s.from_history is not None and step in s.from_history:
                assert "Taken from the history by a restarted worker: not run again" in text
            elif s.from_history is not None:
                assert "from the history" not in text, text
        completed_once(self.history(run))


def page_driver(chromium, stage: harness.HelloStage, s: Scenario, copy_to=None, view=None, **shots):
    """The StageDriver's pieces started, then the page open (view: new_page's options), lit."""
    hands = StageDriver(stage, s, copy_to)
    page = browser.open_page(chromium, stage.url, **(view or {}))
    browser.wait_light(page, "temporal", "Temporal: reachable")
    browser.wait_light(page, "worker", "Worker: polling")
    return PageDriver(page, hands, **shots)


class Panel(Hands):
    """The buttons of a DemoStage's panel; its edits in its copy of the repository, `repo`."""

    SAID = {"interrupt": "Sent Ctrl-C (SIGINT)", "kill": "Sent kill -9 (SIGKILL)"}

    def __init__(self, page, stage: harness.DemoStage, repo: Path):
        super().__init__(stage)
        self.page, self.folder = page, repo / "hello-ip"

    def press(self, piece: str, action: str, expect: str) -> None:
        """Click a panel button; the panel says what it did."""
        self.page.click(f".piece[data-name='{piece}'] .press-{action}")
        said = lambda: expect in self.page.inner_text("#stage-message")  # noqa: E731
        harness.wait_for(said, 10, 0.1, f"panel: {expect}")

    def wait_piece(self, piece: str, state: str, timeout: float = 30) -> None:
        selector = f".piece[data-name='{piece}']"
        now = lambda: self.page.get_attribute(selector, "data-state") == state  # noqa: E731
        harness.wait_for(now, timeout, 0.2, f"{piece} {state}")

    def stop(self, piece: str, how: str) -> None:
        self.press(piece, how, f"{self.SAID[how]} to the {piece}")
        self.wait_piece(piece, "stopped")
        if how == "kill":
            said = self.page.inner_text(f".piece[data-name='{piece}'] .piece-state")
            assert "exit signal SIGKILL" in said, said

    def start(self, piece: str) -> None:
        self.press(piece, "start", f"Started the {piece} again")
        self.wait_piece(piece, "running")
