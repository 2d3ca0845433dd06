"""`make present`: the stage in tmux, one pane per terminal of the README.

Panes: the Temporal dev server, the hello-ip worker, the web app, and a spare
shell (with --offline, the stand-in services too, and the worker pointed at
them). Each piece is typed into its pane's shell, as a presenter would type
it: Ctrl-C stops that one piece, and Up then Enter starts it again. What
runs where comes from stage.pieces(), the declaration `make demo` runs.

Without tmux it prints the commands to run, one terminal each.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from demo_support import run_tool, stage

SESSION = stage.TMUX_SESSION
WINDOW = "stage"
ON_WINDOWS = os.name == "nt"  # no tmux there: the commands, in PowerShell
SERVER_START_TIMEOUT = 30  # seconds, as make demo waits
# Ready for a second `python worker.py` (README: two workers on one task queue).
SPARE = stage.Piece("shell", "shell: a spare shell", "hello-ip", ())


class TmuxError(Exception):
    """A tmux command failed; the message is tmux's own."""


# --- What runs in each pane ----------------------------------------------------------


def activate_line(powershell: bool = False, venv: Path | None = None) -> str:
    """`source .venv/bin/activate`: the README's first line in every terminal.

    The venv is the one this script runs from (the README's `.venv` after its Setup;
    another one where a maintainer made it elsewhere, as for another Python).
    """
    venv = Path(sys.prefix) if venv is None else venv
    shown = os.path.relpath(venv, stage.REPO) if stage.REPO in venv.parents else str(venv)
    if powershell:
        return ps_quote(f"{shown}\\Scripts\\Activate.ps1".replace("/", "\\"))
    return f"source {shlex.quote(shown)}/bin/activate"


def ps_quote(word: str) -> str:
    """A word as PowerShell reads it: as is when plain, else in single quotes."""
    if word and all(c.isalnum() or c in "-_.:/\\=" for c in word):
        return word
    return "'" + word.replace("'", "''") + "'"


def typed_lines(piece: stage.Piece, offline: bool, powershell: bool = False) -> list[str]:
    """What a presenter types in the piece's terminal, one line each, as the README says.

    The venv first, then the folder, then (offline, where a worker may run)
    `source offline.sh`, then the command last, so that Up then Enter starts
    the piece again after a Ctrl-C. In PowerShell (Windows), the README's forms:
    `.venv\\Scripts\\Activate.ps1`, `. .\\offline.ps1`, `$env:NAME = 'value'`.
    """
    lines = [activate_line(powershell)]
    if piece.folder:
        lines.append(f"cd {piece.folder}")
    env = dict(piece.env)
    at_default_port = all(env.get(k, v) == v for k, v in stage.OFFLINE_ENV.items())
    if offline and piece.name in ("worker", SPARE.name) and at_default_port:
        lines.append(". .\\offline.ps1" if powershell else "source offline.sh")
        env = {k: v for k, v in env.items() if k not in stage.OFFLINE_ENV}
    if powershell:
        lines += [f"$env:{key} = {ps_quote(value)}" for key, value in env.items()]
        if piece.command:
            lines.append(" ".join(ps_quote(word) for word in piece.command))
        return lines
    lines += [f"export {key}={shlex.quote(value)}" for key, value in env.items()]
    if piece.command:
        lines.append(shlex.join(piece.command))
    return lines


def panes(pieces: list[stage.Piece], offline: bool = False, powershell: bool = False) -> list[dict]:
    """The stage's pieces plus the spare shell, each with its typed lines.

    The spare shell is set up as the worker's terminal is, for a second worker.
    """
    worker = next(p for p in pieces if p.name == "worker")
    spare = dataclasses.replace(SPARE, env=dict(worker.env))
    return [
        {
            "name": p.name,
            "title": p.title,
            "port": p.port,
            "lines": typed_lines(p, offline, powershell),
            "command": shlex.join(p.command),
        }
        for p in [*pieces, spare]
    ]


def by_hand(panes_: list[dict]) -> str:
    lines = [
        f"tmux is not installed. Open one terminal per piece and type in each, from {stage.REPO}:"
    ]
    for number, pane in enumerate(panes_, 1):
        lines.append(f"  {number}. {pane['title']}")
        lines += [f"       {line}" for line in pane["lines"]]
    if ON_WINDOWS:
        lines.append("Or run everything in one terminal: python -m demo_support.stage")
    else:
        lines.append(
            "Or install tmux (brew install tmux / sudo apt install tmux) and run make present"
            " again; make demo runs everything in one terminal."
        )
    return "\n".join(lines)


# --- tmux ----------------------------------------------------------------------------


class Tmux:
    def __init__(self, socket_name: str | None = None):
        self.prefix = ["tmux"] + (["-L", socket_name] if socket_name else [])
        self.socket_name = socket_name

    def __call__(self, *args: str) -> str:
        try:
            out = subprocess.run([*self.prefix, *args], capture_output=True, text=True, timeout=15)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise TmuxError(str(err)) from None
        if out.returncode != 0:
            raise TmuxError(out.stderr.strip() or f"tmux {args[0]} failed ({out.returncode})")
        return out.stdout.strip()

    def has_session(self, name: str) -> bool:
        try:
            self("has-session", "-t", f"={name}")
        except TmuxError:
            return False
        return True

    def shown(self, *args: str) -> str:
        return shlex.join([*self.prefix, *args])


def build(tmux: Tmux, session: str, panes_: list[dict]) -> None:
    """One window, a tiled pane per piece, each piece typed into its pane's shell."""
    ids = []
    for i in range(len(panes_)):
        where = ["-c", str(stage.REPO), "-P", "-F", "#{pane_id}"]  # lines `cd` as typed
        if i == 0:
            size = ["-x", "200", "-y", "50"]  # until a terminal attaches
            ids.append(tmux("new-session", "-d", "-s", session, "-n", WINDOW, *size, *where))
        else:
            ids.append(tmux("split-window", "-t", f"={session}:{WINDOW}", *where))
            tmux("select-layout", "-t", f"={session}:{WINDOW}", "tiled")
    window = f"={session}:{WINDOW}"
    tmux("set-option", "-w", "-t", window, "pane-border-status", "top")
    label = " #{pane_index}: #{?#{@piece},#{@piece},#{pane_title}} "
    tmux("set-option", "-w", "-t", window, "pane-border-format", label)
    tmux("set-option", "-t", window, "mouse", "on")  # a session option
    for pane_id, pane in zip(ids, panes_, strict=True):
        tmux("select-pane", "-t", pane_id, "-T", pane["title"])
        # Shells may retitle their pane; @piece stays (pane options: tmux 3.0+).
        with contextlib.suppress(TmuxError):
            tmux("set-option", "-p", "-t", pane_id, "@piece", pane["title"])
    wait_for_prompts(tmux, ids)
    for pane_id, pane in zip(ids, panes_, strict=True):
        for line in pane["lines"]:
            tmux("send-keys", "-t", pane_id, "-l", line)
            tmux("send-keys", "-t", pane_id, "Enter")
        if pane["name"] == "server" and not wait_for_port(pane["port"], SERVER_START_TIMEOUT):
            print(f"The server did not open port {pane['port']} in time: look at its pane.")
    tmux("select-pane", "-t", ids[-1])  # the spare shell: typing goes nowhere harmful


def wait_for_port(port: int, timeout: float) -> bool:
    """The worker and the app start once the server listens, as with make demo."""
    deadline = time.monotonic() + timeout
    while not stage.port_in_use(port):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def wait_for_prompts(tmux: Tmux, ids: list[str], timeout: float = 5) -> None:
    """Type only once each shell shows its prompt, so the lines do not interleave."""
    deadline = time.monotonic() + timeout
    waiting = list(ids)
    while waiting and time.monotonic() < deadline:
        waiting = [i for i in waiting if not tmux("capture-pane", "-p", "-t", i).strip()]
        if waiting:
            time.sleep(0.1)


# --- Main ----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offline", action="store_true", help="add the stand-in services")
    parser.add_argument("--detach", action="store_true", help="start it, but do not attach")
    parser.add_argument("--session", default=SESSION, help=f"tmux session name ({SESSION})")
    parser.add_argument("--tmux-socket", help="a private tmux server (tmux -L NAME); for tests")
    parser.add_argument("--server-port", type=int, default=stage.SERVER_PORT)
    parser.add_argument("--ui-port", type=int, default=stage.UI_PORT)
    parser.add_argument("--app-port", type=int, default=stage.APP_PORT)
    parser.add_argument("--standin-port", type=int, default=stage.STANDIN_PORT)
    parser.add_argument("--db-filename", help="the dev server's database (temporal.db)")
    args = parser.parse_args(argv)

    pieces = stage.pieces(
        args.offline,
        args.server_port,
        args.ui_port,
        args.app_port,
        args.standin_port,
        args.db_filename or "temporal.db",
    )
    layout = panes(pieces, args.offline)
    if stage.temporal_cli() is None:
        print("The temporal CLI is missing: pip install -r requirements.txt (or see the README).")
        return 1
    tmux = Tmux(args.tmux_socket) if shutil.which("tmux") else None
    session = args.session
    if tmux and tmux.has_session(session):
        print(
            f"The tmux session {session!r} already exists. Attach to it: "
            f"{tmux.shown('attach', '-t', session)} ; or stop it and everything in it: "
            f"make reset (or {tmux.shown('kill-session', '-t', session)})."
        )
        return 1
    # Busy ports first, with or without tmux: commands typed by hand would fail on them too.
    taken = [p for p in pieces if p.port and stage.port_in_use(p.port)]
    busy = [f"{p.name} port {p.port}" for p in taken]
    if stage.port_in_use(args.ui_port):
        busy.append(f"Web UI port {args.ui_port}")
    if busy:
        print(f"Already in use: {', '.join(busy)}. Stop what runs there (make reset) and retry.")
        return 1
    if tmux is None:
        # Not a failure: the instructions are the answer (and make would bury
        # them under "Error 1").
        print(by_hand(panes(pieces, args.offline, powershell=ON_WINDOWS)))
        return 0

    try:
        build(tmux, session, layout)
    except (TmuxError, KeyboardInterrupt) as err:
        if tmux.has_session(session):
            with contextlib.suppress(TmuxError):
                tmux("kill-session", "-t", f"={session}")
        if isinstance(err, KeyboardInterrupt):
            print("\nInterrupted: nothing left running.")
            return 130
        print(f"tmux refused to build the stage: {err}")
        return 1

    width = max(len(p["name"]) for p in layout)
    print(f"The stage runs in the tmux session {session!r}, one pane each:")
    for pane in layout:
        print(f"  {pane['name']:<{width}}  {pane['command'] or '(a spare shell)'}")
    app, ui = args.app_port, args.ui_port
    print(
        f"The app: http://127.0.0.1:{app} ; the Temporal Web UI: http://localhost:{ui}"
        " (ready in a few seconds)."
        "\nIn tmux: Ctrl-b then an arrow key (or a click) moves between panes; in a pane,"
        " Ctrl-C stops its piece and Up then Enter starts it again; Ctrl-b d detaches."
        "\nStop everything: make reset."
    )
    attach = ["attach-session", "-t", f"={session}"]
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    if args.detach or not interactive:
        print(f"Attach: {tmux.shown('attach', '-t', session)}")
        return 0
    sys.stdout.flush()
    if os.environ.get("TMUX") and not args.tmux_socket:
        try:
            tmux("switch-client", "-t", f"={session}")
            return 0
        except TmuxError as err:
            print(f"Could not switch to it ({err}): {tmux.shown('attach', '-t', session)}")
            return 1
    os.execvp(tmux.prefix[0], [*tmux.prefix, *attach])  # tmux takes over this terminal
    return 0  # not reached


if __name__ == "__main__":
    run_tool(main, "make present")
