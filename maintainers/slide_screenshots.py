"""The deck's backup slides: screenshots of every demo, taken from a real run.

`make slides-screenshots` runs the real stage (a Temporal dev server, the hello-ip worker and
app, the stand-in services) on free ports, offline, breaks it as each demo does, and saves the
page and the Temporal Web UI to slides/public/backup/, with manifest.json: the captions, and a
hash of the files the screenshots depend on. tests/test_slides.py fails when one of those files
changed and the screenshots were not taken again.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path

from demo_support import missing_package
from maintainers import harness

try:  # requirements-dev.txt's, not the Setup's: one line, not a traceback
    from playwright.sync_api import sync_playwright
except ImportError as err:
    missing_package(err, "make slides-screenshots", maintainer=True)

REPO = harness.REPO
OUT = REPO / "slides" / "public" / "backup"
MANIFEST = OUT / "manifest.json"
NAMESPACE = "slides"
# What the pictures show: the app's page, its code, and the Temporal Web UI's version.
INPUTS = [
    "hello-ip/app.py",
    "hello-ip/workflow.py",
    "hello-ip/activities.py",
    "hello-ip/standin.py",
    "hello-ip/static/app.js",
    "hello-ip/static/style.css",
    "hello-ip/templates/index.html",
    "demo_support/page/run_view.py",  # the page's words: status line, timeline, lights
    "requirements.txt",
    "maintainers/slide_screenshots.py",
]
VIEWPORT = {"width": 1200, "height": 800}
# What a slide shows of each: the Web UI without its menu; the page's own column.
CLIP = {
    "ui": {"x": 272, "y": 0, "width": 928, "height": 620},
    "page": {"x": 100, "y": 0, "width": 1000, "height": 700},
}
HIDE_FORM = "display => document.querySelectorAll('h1, #greeting-form')"
HIDE_FORM += ".forEach(e => { e.style.display = display })"
RUN = "new URLSearchParams(location.search).get('run')"
STATUS = "(p) => new RegExp(p, 'i').test(document.getElementById('status').innerText)"


def inputs_hash() -> str:
    digest = hashlib.sha256()
    for name in INPUTS:
        digest.update(name.encode() + b"\0" + (REPO / name).read_bytes() + b"\0")
    return digest.hexdigest()


class Capture:
    """The stage, its worker, the page and the Web UI in Chromium, and the shots taken."""

    def __init__(self, stage: harness.HelloStage, worker: harness.Proc, browser, folder: Path):
        self.stage, self.worker, self.folder = stage, worker, folder  # folder: demo 5's copy
        self.page = browser.new_page(viewport=VIEWPORT, device_scale_factor=1.5)
        self.ui = browser.new_page(viewport=VIEWPORT, device_scale_factor=1.5)
        self.shots: list[dict] = []

    def restart_worker(self, folder: Path | None = None) -> None:
        self.worker.interrupt()
        self.worker = self.stage.start_worker(folder=folder)

    def start_greeting(self, seconds: int = 0) -> str:
        self.page.goto(self.stage.url)
        self.page.fill("#name", "Ada")
        if seconds:
            self.page.click("text=Show Demo Options")
            self.page.fill("#sleep-seconds", str(seconds))
        self.page.click("text=Get Greeting")
        self.page.wait_for_function(RUN, timeout=10000)
        return self.page.evaluate(RUN)

    def start_timer(self, seconds: int) -> str:
        run = self.start_greeting(seconds)
        self.stage.wait_for_event(run, "TIMER_STARTED")
        return run

    def wait_greeting(self, timeout: float = 40) -> None:
        self.page.locator("#result").wait_for(state="visible", timeout=timeout * 1000)

    def page_says(self, pattern: str, timeout: float = 30) -> None:
        self.page.wait_for_function(STATUS, arg=pattern, timeout=timeout * 1000)

    def shot_page(self, demo: str, name: str, caption: str) -> None:
        """The run's part of the page: the lights, the status, the timeline (not the form)."""
        self.page.evaluate(HIDE_FORM, "none")
        self._save(self.page, demo, name, caption, CLIP["page"])
        self.page.evaluate(HIDE_FORM, "")

    def shot_ui(self, demo, caption, run, status, tab="Event History", focus="") -> None:
        """The run's page in the Web UI, scrolled to one of its tabs (Event History...)."""
        ui, port = self.ui, self.stage.server.ui_port
        ui.goto(f"http://127.0.0.1:{port}/namespaces/{NAMESPACE}/workflows/{run}")
        ui.wait_for_selector(f"text={status.upper()}", timeout=30000)  # the status badge
        link = ui.get_by_role("tab", name=re.compile(tab))
        link.click()
        ui.wait_for_timeout(1500)  # the tab's rows
        if focus:  # a row of the history, in the middle of the picture
            row = ui.get_by_text(re.compile(focus.replace(" ", r"\s*"), re.I)).first
            row.evaluate("e => e.scrollIntoView({block: 'center'})")
        else:
            link.evaluate("e => e.scrollIntoView({block: 'start'})")
            ui.evaluate("window.scrollBy(0, -12)")
        ui.mouse.move(1, 790)  # no tooltip over the rows
        ui.wait_for_timeout(300)
        self._save(ui, demo, "ui", caption, CLIP["ui"])

    def _save(self, page, demo: str, name: str, caption: str, clip: dict) -> None:
        file = f"{demo}-{name}.png"
        page.screenshot(path=str(OUT / file), clip=clip)
        self.shots.append({"demo": demo, "file": file, "caption": caption})
        print(f"  {file}: {caption}", flush=True)


# --- The demos, in the talk's order ------------------------------------------------------


def demos_1_and_2(c: Capture) -> None:
    """Demos 1 and 2: a run with a durable timer"""
    run = c.start_greeting(3)
    c.wait_greeting()
    c.shot_page("demo-1-2", "page", "The greeting, after a 3 s durable timer")
    c.shot_ui(
        "demo-1-2", "The Web UI: Timer Started, Timer Fired", run, "Completed", focus="Timer Fired"
    )


def demo_3(c: Capture) -> None:
    """Demo 3: the worker dies while the timer waits"""
    run = c.start_timer(6)
    c.worker.interrupt()
    c.stage.wait_for_event(run, "TIMER_FIRED", timeout=20)
    c.shot_ui("demo-3", "No worker: Timer Fired, then a task waiting", run, "Running")
    c.worker = c.stage.start_worker()
    c.wait_greeting()
    # The lights ask every second: the worker's comes back on within a few.
    c.page.locator("#light-worker[data-on='true']").wait_for(timeout=10000)
    c.shot_page("demo-3", "page", "Worker restarted: the greeting appears at once")


def demo_4(c: Capture) -> None:
    """Demo 4: the Temporal Service dies while the timer waits"""
    run = c.start_timer(6)
    c.page.locator("#timeline li[data-step='timer']").wait_for(timeout=10000)
    c.stage.server.stop()
    c.page_says("unreachable", timeout=30)
    c.shot_page("demo-4", "page", "The Service is down: the page waits")
    c.stage.server.restart()
    c.wait_greeting(60)
    c.shot_ui("demo-4", "Restarted on the same database: completed", run, "Completed")


def demo_5(c: Capture) -> None:
    """Demo 5: a bug ships, and is fixed while the workflow runs"""
    shutil.copytree(harness.HELLO_DIR, c.folder, ignore=shutil.ignore_patterns("__pycache__"))
    source, original = harness.ship_the_bug(c.folder)
    c.restart_worker(c.folder)
    run = c.start_greeting(0)
    c.stage.wait_progress(run, lambda p: p.get("attempt", 0) >= 3, timeout=30)
    c.page_says(r"attempt [3-9]")
    c.shot_page("demo-5", "page", "The bug: get_location_info fails, Temporal retries it")
    caption = "Pending Activities: the attempts, the KeyError"
    c.shot_ui("demo-5", caption, run, "Running", "Pending Activities")
    source.write_text(original)
    c.restart_worker(c.folder)
    c.wait_greeting()


def bonus(c: Capture) -> None:
    """Bonus: the network fails"""
    run = c.start_timer(4)
    c.stage.procs[0].interrupt()  # the stand-in services, started first
    c.stage.wait_progress(run, lambda p: p.get("attempt", 0) >= 2, timeout=40)
    c.page_says(r"attempt [2-9]")
    c.shot_page("bonus", "page", "No network: get_location_info keeps retrying")
    c.stage.start_standin()
    c.wait_greeting()
    c.shot_page("bonus", "done", "Network back: the greeting, after the next retry")


def capture(tmp: Path) -> list[dict]:
    from maintainers.browser import CHROMIUM, FLAGS

    if not CHROMIUM:
        raise SystemExit("no chromium on PATH (apt-get install chromium)")
    server = harness.DevServer(tmp, namespaces=(NAMESPACE,)).start()
    stage = harness.HelloStage(server, NAMESPACE)
    try:
        stage.start_standin()
        worker = stage.start_worker()
        stage.start_app()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            c = Capture(stage, worker, browser, tmp / "hello-ip")
            for demo in (demos_1_and_2, demo_3, demo_4, demo_5, bonus):
                print(demo.__doc__, flush=True)
                demo(c)
            browser.close()
        return c.shots
    finally:
        stage.stop()
        server.stop()


def main(argv: list[str] | None = None) -> int:
    formatter = argparse.RawDescriptionHelpFormatter  # it has no options: its help is its doc
    argparse.ArgumentParser(description=__doc__, formatter_class=formatter).parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.png"):
        old.unlink()
    with tempfile.TemporaryDirectory(prefix="slide-shots-") as tmp:
        shots = capture(Path(tmp))
    manifest = {
        "about": "Written by `make slides-screenshots`; do not edit.",
        "inputs": INPUTS,
        "inputs_sha256": inputs_hash(),
        "shots": shots,
    }
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"{len(shots)} screenshots and {MANIFEST.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
