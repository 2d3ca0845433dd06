"""Debian's Chromium, driven by Playwright (browsers cannot be downloaded here).

Shared by the tests and the screenshot maker.
"""

from __future__ import annotations

import shutil

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Without the background-networking flags Chromium keeps calling out to Google's
# hosts, which a closed network refuses many times a second.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
