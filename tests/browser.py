"""The tests' `from browser import ...`: maintainers/browser.py's."""

from maintainers.browser import CHROMIUM, FLAGS, launched, require_chromium  # noqa: F401
