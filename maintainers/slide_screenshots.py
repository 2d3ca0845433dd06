"""The backup slides' screenshots: each demo's scenario played on a real stage, offline.

`make slides-screenshots` saves the page and the Web UI at the scenarios' moments to
slides/public/backup/ (or --out DIR) with manifest.json: the captions and a hash of INPUTS, which
tests/test_slides.py compares with today's files.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

from demo_support import missing_package
from maintainers import harness
from maintainers.scenarios import DEMOS, At, page_driver, play

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
    "hello-ip/static/run-status.js",
    "hello-ip/static/app.js",
    "hello-ip/static/style.css",
    "hello-ip/templates/index.html",
    "hello-ip/templates/run-status.html",
    "demo_support/page/run_view.py",  # the page's words: status line, timeline, lights
    "requirements.txt",
    "maintainers/slide_screenshots.py",
    "maintainers/scenarios.py",  # the demos' runs: names, timers, moments
]
VIEWPORT = {"width": 1200, "height": 800}
# The Web UI without its menu; the whole page (both columns: run, code), its form hidden.
CLIP = {
    "ui": {"x": 272, "y": 0, "width": 928, "height": 620},
    "page": {"x": 0, "y": 0, "width": 1200, "height": 800},
}
HIDE_FORM = "d => document.querySelectorAll('h1, #greeting-form').forEach(e => e.style.display = d)"


def inputs_hash() -> str:
    digest = hashlib.sha256()
    for name in INPUTS:
        digest.update(name.encode() + b"\0" + (REPO / name).read_bytes() + b"\0")
    return digest.hexdigest()


class Shot(NamedTuple):
    """At a moment: the page ("page", "done") or the run in the Web UI ("ui": a tab, a row)."""

    moment: str
    name: str
    caption: str
    tab: str = "Event History"
    focus: str = ""


# (the slides' name, the scenario in maintainers/scenarios.py): its shots, in the talk's order.
TIMER = DEMOS["demo-2"].seconds
SHOTS = {
    ("demo-1-2", "demo-2"): [
        Shot(At.GREETING, "page", f"The greeting, after a {TIMER} s durable timer"),
        Shot(At.GREETING, "ui", "The Web UI: Timer Started, Timer Fired", focus="Timer Fired"),
    ],
    ("demo-3", "demo-3"): [
        Shot(At.NO_WORKER, "ui", "No worker: Timer Fired, then a task waiting"),
        Shot(At.GREETING, "page", "Worker restarted: the greeting appears at once"),
    ],
    ("demo-4", "demo-4"): [
        Shot(At.UNREACHABLE, "page", "The Service is down: the page waits"),
        Shot(At.GREETING, "ui", "Restarted on the same database: completed"),
    ],
    ("demo-5", "demo-5"): [
        Shot(At.RETRYING, "page", "The bug: get_location_info fails, Temporal retries it"),
        Shot(At.RETRYING, "ui", "Pending Activities: the attempts, the KeyError",
             tab="Pending Activities"),
    ],
    ("demo-6", "demo-6"): [
        Shot(At.MISMATCH, "page", "New code, old history: the run waits, safe"),
        Shot(At.MISMATCH, "ui", "Workflow Task Failed, the SDK's message; the run still Running",
             tab="Timeline", focus="Workflow Task Failed"),
    ],
    ("bonus", "bonus"): [
        Shot(At.RETRYING, "page", "No network: get_location_info keeps retrying"),
        Shot(At.GREETING, "done", "Network back: the greeting, after the next retry"),
    ],
}  # fmt: skip


class Camera:
    """Takes the shots into `out`: of the page, and of the run in the Web UI (`ui`)."""

    def __init__(self, ui, server: harness.Server, out: Path):
        self.ui, self.server, self.out, self.shots = ui, server, out, []

    def take(self, demo: str, shot: Shot, run: str, page) -> None:
        if shot.name != "ui":  # the run's part of the page: lights, status, timeline, code
            page.evaluate(HIDE_FORM, "none")
            self._save(page, demo, shot, CLIP["page"])
            return page.evaluate(HIDE_FORM, "")
        ui, status = self.ui, "Completed" if shot.moment == At.GREETING else "Running"
        ui.goto(f"http://127.0.0.1:{self.server.ui_port}/namespaces/{NAMESPACE}/workflows/{run}")
        ui.wait_for_selector(f"text={status.upper()}", timeout=30000)  # the status badge
        link = ui.get_by_role("tab", name=re.compile(shot.tab))
        link.click()
        ui.wait_for_timeout(1500)  # the tab's rows
        if shot.focus:  # a row of the history, in the middle of the picture
            row = ui.get_by_text(re.compile(shot.focus.replace(" ", r"\s*"), re.I))
            row = row.filter(visible=True).first
            row.wait_for(timeout=30000)  # a failed workflow task shows once the worker reports it
            row.evaluate("e => e.scrollIntoView({block: 'center'})")
        else:
            link.evaluate("e => e.scrollIntoView({block: 'start'})")
            ui.evaluate("window.scrollBy(0, -12)")
        ui.mouse.move(1, 790)  # no tooltip over the rows
        ui.wait_for_timeout(300)
        self._save(ui, demo, shot, CLIP["ui"])

    def _save(self, page, demo: str, shot: Shot, clip: dict) -> None:
        file = f"{demo}-{shot.name}.png"
        page.screenshot(path=str(self.out / file), clip=clip)
        self.shots.append({"demo": demo, "file": file, "caption": shot.caption})
        print(f"  {file}: {shot.caption}", flush=True)

    def hooks(self, demo: str, shots: list[Shot]) -> dict:
        """play()'s hooks: at each moment, its shots (`page` is the PageDriver's page)."""

        def hook(moment):
            return lambda run, page: [
                self.take(demo, s, run, page) for s in shots if s.moment == moment
            ]

        return {s.moment: hook(s.moment) for s in shots}


def capture(tmp: Path, out: Path) -> list[dict]:
    from maintainers.browser import CHROMIUM, FLAGS

    if not CHROMIUM:
        raise SystemExit("no chromium on PATH (apt-get install chromium)")
    server = harness.DevServer(tmp, namespaces=(NAMESPACE,)).start()  # demo 4 restarts it
    view = {"viewport": VIEWPORT, "device_scale_factor": 1.5}
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            camera = Camera(chromium.new_page(**view), server, out)
            for (demo, key), shots in SHOTS.items():
                s, stage = DEMOS[key], harness.HelloStage(server, NAMESPACE)
                print(f"{demo}: scenario {key} ({s.name}, {s.seconds} s timer)", flush=True)
                try:
                    driver = page_driver(chromium, stage, s, tmp / key, view)
                    play(s, driver, hooks=camera.hooks(demo, shots))
                    driver.page.close()
                finally:
                    stage.stop()
        return camera.shots
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="default: slides/public/backup")
    out = parser.parse_args(argv).out
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.png"):
        old.unlink()
    with tempfile.TemporaryDirectory(prefix="slide-shots-") as tmp:
        shots = capture(Path(tmp), out)
    about = "Written by `make slides-screenshots`; do not edit."
    manifest = {"about": about, "inputs": INPUTS, "inputs_sha256": inputs_hash(), "shots": shots}
    (out / MANIFEST.name).write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"{len(shots)} screenshots and {out / MANIFEST.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
