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
NAME = "Ada"
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


def inputs_hash() -> str:
    digest = hashlib.sha256()
    for name in INPUTS:
        digest.update(name.encode() + b"\0" + (REPO / name).read_bytes() + b"\0")
    return digest.hexdigest()


class Capture:
    def __init__(self, stage: harness.HelloStage, page, ui):
        self.stage, self.page, self.ui = stage, page, ui
        self.shots: list[dict] = []

    def start_greeting(self, seconds: int = 0) -> str:
        page = self.page
        page.goto(self.stage.url)
        page.fill("#name", NAME)
        if seconds:
            page.click("text=Show Demo Options")
            page.fill("#sleep-seconds", str(seconds))
        page.click("text=Get Greeting")
        page.wait_for_function("new URLSearchParams(location.search).get('run')", timeout=10000)
        return page.evaluate("new URLSearchParams(location.search).get('run')")

    def wait_greeting(self, timeout: float = 40) -> None:
        self.page.locator("#result").wait_for(state="visible", timeout=timeout * 1000)

    def page_says(self, pattern: str, timeout: float = 30) -> None:
        self.page.wait_for_function(
            "(p) => new RegExp(p, 'i').test(document.getElementById('status').innerText)",
            arg=pattern,
            timeout=timeout * 1000,
        )

    def shot_page(self, demo: str, name: str, caption: str) -> None:
        """The run's part of the page: the lights, the status, the timeline (not the form)."""
        hide = "display => document.querySelectorAll('h1, #greeting-form')"
        hide += ".forEach(e => { e.style.display = display })"
        self.page.evaluate(hide, "none")
        self._save(self.page, demo, name, caption, CLIP["page"])
        self.page.evaluate(hide, "")

    def shot_ui(
        self,
        demo: str,
        name: str,
        caption: str,
        run_id: str,
        status: str,
        tab: str,
        focus: str = "",
    ) -> None:
        """The run's page in the Web UI, scrolled to one of its tabs (Event History...)."""
        ui = self.ui
        port = self.stage.server.ui_port
        ui.goto(f"http://127.0.0.1:{port}/namespaces/{NAMESPACE}/workflows/{run_id}")
        ui.wait_for_selector(f"text={status.upper()}", timeout=30000)  # the status badge
        link = ui.get_by_role("tab", name=re.compile(tab))
        link.click()
        ui.wait_for_timeout(1500)  # the tab's rows
        if focus:  # a row of the history, in the middle of the picture
            ui.get_by_text(re.compile(focus.replace(" ", r"\s*"), re.I)).first.evaluate(
                "e => e.scrollIntoView({block: 'center'})"
            )
        else:
            link.evaluate("e => e.scrollIntoView({block: 'start'})")
            ui.evaluate("window.scrollBy(0, -12)")
        ui.mouse.move(1, 790)  # no tooltip over the rows
        ui.wait_for_timeout(300)
        self._save(ui, demo, name, caption, CLIP["ui"])

    def _save(self, page, demo: str, name: str, caption: str, clip: dict) -> None:
        file = f"{demo}-{name}.png"
        page.screenshot(path=str(OUT / file), clip=clip)
        self.shots.append({"demo": demo, "file": file, "caption": caption})
        print(f"  {file}: {caption}", flush=True)


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
            page = browser.new_page(viewport=VIEWPORT, device_scale_factor=1.5)
            ui = browser.new_page(viewport=VIEWPORT, device_scale_factor=1.5)
            c = Capture(stage, page, ui)

            print("Demos 1 and 2: a run with a durable timer", flush=True)
            run = c.start_greeting(3)
            c.wait_greeting()
            c.shot_page("demo-1-2", "page", "The greeting, after a 3 s durable timer")
            c.shot_ui(
                "demo-1-2",
                "ui",
                "The Web UI: Timer Started, Timer Fired",
                run,
                "Completed",
                "Event History",
                focus="Timer Fired",
            )

            print("Demo 3: the worker dies while the timer waits", flush=True)
            run = c.start_greeting(6)
            stage.wait_for_event(run, "TIMER_STARTED")
            worker.interrupt()
            stage.wait_for_event(run, "TIMER_FIRED", timeout=20)
            c.shot_ui(
                "demo-3",
                "ui",
                "No worker: Timer Fired, then a task waiting",
                run,
                "Running",
                "Event History",
            )
            worker = stage.start_worker()
            c.wait_greeting()
            # The lights ask every second: the worker's comes back on within a few.
            c.page.locator("#light-worker[data-on='true']").wait_for(timeout=10000)
            c.shot_page("demo-3", "page", "Worker restarted: the greeting appears at once")

            print("Demo 4: the Temporal Service dies while the timer waits", flush=True)
            run = c.start_greeting(6)
            stage.wait_for_event(run, "TIMER_STARTED")
            c.page.locator("#timeline li[data-step='timer']").wait_for(timeout=10000)
            server.stop()
            c.page_says("unreachable", timeout=30)
            c.shot_page("demo-4", "page", "The Service is down: the page waits")
            server.restart()
            c.wait_greeting(60)
            c.shot_ui(
                "demo-4",
                "ui",
                "Restarted on the same database: completed",
                run,
                "Completed",
                "Event History",
            )

            print("Demo 5: a bug ships, and is fixed while the workflow runs", flush=True)
            copy = tmp / "hello-ip"
            shutil.copytree(harness.HELLO_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
            source, original = harness.ship_the_bug(copy)
            worker.interrupt()
            worker = stage.start_worker(folder=copy)
            run = c.start_greeting(0)
            stage.wait_progress(run, lambda p: p.get("attempt", 0) >= 3, timeout=30)
            c.page_says(r"attempt [3-9]")
            c.shot_page("demo-5", "page", "The bug: get_location_info fails, Temporal retries it")
            c.shot_ui(
                "demo-5",
                "ui",
                "Pending Activities: the attempts, the KeyError",
                run,
                "Running",
                "Pending Activities",
            )
            source.write_text(original)
            worker.interrupt()
            worker = stage.start_worker(folder=copy)
            c.wait_greeting()

            print("Bonus: the network fails", flush=True)
            standin = stage.procs[0]
            run = c.start_greeting(4)
            stage.wait_for_event(run, "TIMER_STARTED")
            standin.interrupt()
            stage.wait_progress(run, lambda p: p.get("attempt", 0) >= 2, timeout=40)
            c.page_says(r"attempt [2-9]")
            c.shot_page("bonus", "page", "No network: get_location_info keeps retrying")
            stage.start_standin()
            c.wait_greeting()
            c.shot_page("bonus", "done", "Network back: the greeting, after the next retry")
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
