"""`make present`: the talk's terminals in tmux, numbered as the README numbers them.

Two windows. The teaser's: terminals 2 and 3, side by side, in the counters'
folders, where the presenter types the teaser (the README's minutes 0 to 2).
The stage's: terminal 1 the Temporal dev server (the teaser uses it too),
2 the hello-ip worker, 3 the web app, 4 (with --offline) the stand-in
services, 5 a spare shell, each piece already typed into its pane's shell, as
a presenter would type it: Ctrl-C stops that one piece, and Up then Enter
starts it again. What runs where comes from stage.pieces(), the declaration
`make demo` runs. After the teaser, Ctrl-b n goes to the stage's window.

Without tmux it prints the commands to run, one terminal each.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import shlex
import shutil
import sys
from pathlib import Path

from demo_support import net, run_tool
from presenter import stage
from presenter.tmux import Tmux, TmuxError

SESSION = stage.TMUX_SESSION
TEASER_WINDOW, WINDOW = "teaser", "stage"
ON_WINDOWS = os.name == "nt"  # no tmux there: the commands, in PowerShell
SERVER_START_TIMEOUT = 30  # seconds, as make demo waits
# Ready for a second `python worker.py` (README: two workers on one task queue).
SPARE = stage.Piece("shell", "shell: a spare shell", "hello-ip", ())
# The README's terminal for each piece (its hello-ip table; 5: the spare shell).
TERMINAL = {"server": 1, "worker": 2, "app": 3, "standin": 4, "shell": 5}
# The teaser's terminals, in the folders the README's teaser goes to first; the
# presenter types the rest (that is the teaser). Then on to the stage's window.
COUNTERS = "durable-vs-volatile-execution"
TEASER = [
    stage.Piece("counters", "counters: the teaser's counters", f"{COUNTERS}/volatile", ()),
    stage.Piece("starter", "starter: the durable counter's starter", f"{COUNTERS}/durable", ()),
]
TEASER_TERMINAL = {"counters": 2, "starter": 3}
NEXT_WINDOW = "Ctrl-b n"  # tmux's default key for next-window (Ctrl-b p: back)


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


def pane(piece: stage.Piece, terminal: int, offline: bool, powershell: bool) -> dict:
    return {
        "name": piece.name,
        "terminal": terminal,
        "label": f"terminal {terminal}: {piece.title.split(': ', 1)[1]}",
        "folder": piece.folder,
        "port": piece.port,
        "lines": typed_lines(piece, offline, powershell),
        "command": shlex.join(piece.command),
    }


def panes(pieces: list[stage.Piece], offline: bool = False, powershell: bool = False) -> list[dict]:
    """The stage's pieces plus the spare shell, each with its typed lines, in the
    README's terminal order (1 the server, 2 the worker, 3 the app, 4 the stand-in, 5).

    The spare shell is set up as the worker's terminal is, for a second worker.
    """
    worker = next(p for p in pieces if p.name == "worker")
    spare = dataclasses.replace(SPARE, env=dict(worker.env))
    found = [pane(p, TERMINAL[p.name], offline, powershell) for p in [*pieces, spare]]
    return sorted(found, key=lambda p: p["terminal"])


def teaser_panes(pieces: list[stage.Piece], powershell: bool = False) -> list[dict]:
    """Terminals 2 and 3 of the teaser: the venv, the counter's folder, and (on moved ports,
    for the tests) the dev server's address; the presenter types the teaser's commands."""
    worker = next(p for p in pieces if p.name == "worker")
    to_temporal = {k: v for k, v in worker.env.items() if k == "TEMPORAL_ADDRESS"}
    teaser = [dataclasses.replace(p, env=to_temporal) for p in TEASER]
    return [pane(p, TEASER_TERMINAL[p.name], False, powershell) for p in teaser]


def by_hand(panes_: list[dict]) -> str:
    lines = [
        "tmux is not installed. Open one terminal each, numbered as in the README, and type"
        f" in each, from {stage.REPO}:"
    ]
    for pane_ in panes_:
        lines.append(f"  {pane_['terminal']}. {pane_['label'].split(': ', 1)[1]}")
        lines += [f"       {line}" for line in pane_["lines"]]
    lines.append(
        "The teaser (README) comes first, in terminals 2 and 3: type these lines there after it."
    )
    if ON_WINDOWS:
        lines.append("Or run everything in one terminal: python -m presenter.stage")
    else:
        lines.append(
            "Or install tmux (brew install tmux / sudo apt install tmux) and run make present"
            " again; make demo runs everything in one terminal."
        )
    return "\n".join(lines)


# --- tmux ----------------------------------------------------------------------------


def build(tmux: Tmux, session: str, teaser: list[dict], stage_panes: list[dict]) -> None:
    """Two windows, each pane labelled with its README terminal, each piece typed into its
    pane's shell; the session opens on the teaser's window.

    The teaser: terminals 2 and 3 side by side, the whole window's height. The stage:
    on the left terminal 1 (the server, a third of the height) over terminal 2 (the
    worker, whose lines the demos show); on the right the others, stacked.
    """
    where = ["-c", str(stage.REPO), "-P", "-F", "#{pane_id}"]  # lines `cd` as typed
    size = ["-x", "200", "-y", "50"]  # until a terminal attaches
    first = tmux("new-session", "-d", "-s", session, "-n", TEASER_WINDOW, *size, *where)
    second = tmux("split-window", "-h", "-l", "50%", "-t", first, *where)
    ids = {teaser[0]["label"]: first, teaser[1]["label"]: second}
    by_terminal = {p["terminal"]: p for p in stage_panes}
    server = tmux("new-window", "-d", "-t", f"={session}:", "-n", WINDOW, *where)
    ids[by_terminal[1]["label"]] = server
    right = [p for p in stage_panes if p["terminal"] > 2]
    last = tmux("split-window", "-h", "-l", "50%", "-t", server, *where)
    ids[right[0]["label"]] = last
    ids[by_terminal[2]["label"]] = tmux("split-window", "-v", "-l", "67%", "-t", server, *where)
    for index, pane_ in enumerate(right[1:], 1):  # each of the n right panes gets 1/n
        share = 100 * (len(right) - index) // (len(right) - index + 1)
        last = tmux("split-window", "-v", "-l", f"{share}%", "-t", last, *where)
        ids[pane_["label"]] = last
    label = " #{?#{@piece},#{@piece},#{pane_title}} "
    for window in (TEASER_WINDOW, WINDOW):
        target = f"={session}:={window}"
        tmux("set-option", "-w", "-t", target, "pane-border-status", "top")
        tmux("set-option", "-w", "-t", target, "pane-border-format", label)
    tmux("set-option", "-t", f"={session}:={WINDOW}", "mouse", "on")  # a session option
    for pane_ in [*stage_panes, *teaser]:
        tmux("select-pane", "-t", ids[pane_["label"]], "-T", pane_["label"])
        # Shells may retitle their pane; @piece stays (pane options: tmux 3.0+).
        with contextlib.suppress(TmuxError):
            tmux("set-option", "-p", "-t", ids[pane_["label"]], "@piece", pane_["label"])
    wait_for_prompts(tmux, list(ids.values()))
    # In the README's order: the server first (the others start once it listens).
    for pane_ in [*stage_panes, *teaser]:
        for line in pane_["lines"]:
            tmux.send_line(ids[pane_["label"]], line)
        if pane_["name"] == "server" and not wait_for_port(pane_["port"], SERVER_START_TIMEOUT):
            print(f"The server did not open port {pane_['port']} in time: look at its pane.")
    tmux("select-pane", "-t", ids[by_terminal[5]["label"]])  # typing goes nowhere harmful
    tmux("select-window", "-t", f"={session}:={TEASER_WINDOW}")
    tmux("select-pane", "-t", first)  # terminal 2: the teaser's first command


def wait_for_port(port: int, timeout: float) -> bool:
    """The worker and the app start once the server listens, as with make demo."""
    return net.waited(lambda: stage.port_in_use(port), timeout, 0.2)


def wait_for_prompts(tmux: Tmux, ids: list[str], timeout: float = 5) -> None:
    """Type only once each shell shows its prompt, so the lines do not interleave."""
    net.waited(lambda: all(tmux.capture(i) for i in ids), timeout)


# --- Main ----------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
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
    return parser.parse_args(argv)


def refusal(args: argparse.Namespace, pieces: list[stage.Piece], tmux: Tmux | None) -> str:
    """Why make present cannot build the stage here ("" when it can)."""
    if stage.temporal_cli() is None:
        return "The temporal CLI is missing: pip install -r requirements.txt (or see the README)."
    session = args.session
    if tmux and tmux.has_session(session):
        return (
            f"The tmux session {session!r} already exists. Attach to it: "
            f"{tmux.shown('attach', '-t', session)} ; or stop it and everything in it: "
            f"make reset (or {tmux.shown('kill-session', '-t', session)})."
        )
    # Busy ports first, with or without tmux: commands typed by hand would fail on them too.
    busy = [f"{p.name} port {p.port}" for p in pieces if p.port and stage.port_in_use(p.port)]
    if stage.port_in_use(args.ui_port):
        busy.append(f"Web UI port {args.ui_port}")
    if busy:
        return f"Already in use: {', '.join(busy)}. Stop what runs there (make reset) and retry."
    return ""


def built(tmux: Tmux, session: str, teaser: list[dict], layout: list[dict]) -> int:
    """build(), or nothing left behind: 0, or the exit status and what went wrong, printed."""
    try:
        build(tmux, session, teaser, layout)
        return 0
    except (TmuxError, KeyboardInterrupt) as err:
        if tmux.has_session(session):
            with contextlib.suppress(TmuxError):
                tmux("kill-session", "-t", f"={session}")
        if isinstance(err, KeyboardInterrupt):
            print("\nInterrupted: nothing left running.")
            return 130
        print(f"tmux refused to build the stage: {err}")
        return 1


def tell(args: argparse.Namespace, teaser: list[dict], layout: list[dict]) -> None:
    """What runs where, and the keys the talk needs."""
    print(f"The talk's terminals run in the tmux session {args.session!r}, in two windows:")
    for window, panes_ in ((TEASER_WINDOW, teaser), (WINDOW, layout)):
        for pane_ in panes_:
            what = pane_["command"] or f"a shell in {pane_['folder']}"
            print(f"  {window:<6}  {pane_['terminal']}  {pane_['name']:<8}  {what}")
    app, ui = args.app_port, args.ui_port
    print(
        f"It opens on the teaser's window: type the teaser (README) in terminals 2 and 3;"
        f" the dev server already runs in terminal 1. Then Ctrl-C the counter's worker and"
        f" press {NEXT_WINDOW}: the stage's window, its pieces running (Ctrl-b p: back)."
        f"\nThe app: http://127.0.0.1:{app} ; the Temporal Web UI: http://localhost:{ui}"
        " (ready in a few seconds)."
        "\nIn tmux: Ctrl-b then an arrow key (or a click) moves between panes; in a pane,"
        " Ctrl-C stops its piece and Up then Enter starts it again; Ctrl-b d detaches."
        "\nStop everything: make reset."
    )


def attach(args: argparse.Namespace, tmux: Tmux) -> int:
    """Into the session: this terminal becomes tmux's (or, inside tmux, switch to it)."""
    session = args.session
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
    os.execvp(tmux.prefix[0], [*tmux.prefix, "attach-session", "-t", f"={session}"])
    return 0  # not reached


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ports = (args.server_port, args.ui_port, args.app_port, args.standin_port)
    pieces = stage.pieces(args.offline, *ports, args.db_filename or "temporal.db")
    layout = panes(pieces, args.offline)
    teaser = teaser_panes(pieces)
    tmux = Tmux(args.tmux_socket) if shutil.which("tmux") else None
    refused = refusal(args, pieces, tmux)
    if refused:
        print(refused)
        return 1
    if tmux is None:
        # Not a failure: the instructions are the answer (and make would bury
        # them under "Error 1").
        print(by_hand(panes(pieces, args.offline, powershell=ON_WINDOWS)))
        return 0
    failed = built(tmux, args.session, teaser, layout)
    if failed:
        return failed
    tell(args, teaser, layout)
    return attach(args, tmux)


if __name__ == "__main__":
    run_tool(main, "make present")
