"""`make present`: the talk's terminals in tmux, numbered as the README numbers them.

Two windows. The teaser's: terminals 2 and 3 side by side, in the counters' folders, for
the teaser (the README's minutes 0 to 2). The stage's: 1 the Temporal dev server (the
teaser uses it too), 2 the hello-ip worker, 3 the web app, 4 (with --offline) the
stand-in services, 5 a spare shell, each piece typed into its pane's shell as a presenter
would type it (stage.pieces()): Ctrl-C stops it, Up then Enter starts it again.

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
# The teaser's terminals, in the folders the README's teaser goes to first.
COUNTERS = "durable-vs-volatile-execution"
TEASER = [
    stage.Piece("counters", "counters: the teaser's counters", f"{COUNTERS}/volatile", ()),
    stage.Piece("starter", "starter: the durable counter's starter", f"{COUNTERS}/durable", ()),
]
TEASER_TERMINAL = {"counters": 2, "starter": 3}
NEXT_WINDOW = "Ctrl-b n"  # tmux's default key for next-window (Ctrl-b p: back)


# --- What runs in each pane ----------------------------------------------------------


def activate_line(powershell: bool = False, venv: Path | None = None) -> str:
    """The README's first line in every terminal, for the venv this script runs from."""
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


# How each shell types a line, as the README does: bash and zsh, or PowerShell (Windows).
SHELLS = {
    False: {"offline": "source offline.sh", "set": "export {key}={value}", "quote": shlex.quote},
    True: {"offline": ". .\\offline.ps1", "set": "$env:{key} = {value}", "quote": ps_quote},
}


def typed_lines(piece: stage.Piece, offline: bool, powershell: bool = False) -> list[str]:
    """What a presenter types in the piece's terminal, as the README says: the venv, the
    folder, offline.sh (offline, where a worker may run), the settings, the command last
    (so that Up then Enter starts it again after a Ctrl-C)."""
    shell = SHELLS[powershell]
    quote = shell["quote"]
    lines = [activate_line(powershell)] + ([f"cd {piece.folder}"] if piece.folder else [])
    env = dict(piece.env)
    at_default_port = all(env.get(k, v) == v for k, v in stage.OFFLINE_ENV.items())
    if offline and piece.name in ("worker", SPARE.name) and at_default_port:
        lines.append(shell["offline"])
        env = {k: v for k, v in env.items() if k not in stage.OFFLINE_ENV}
    lines += [shell["set"].format(key=key, value=quote(value)) for key, value in env.items()]
    if piece.command:
        lines.append(" ".join(quote(word) for word in piece.command))
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
    """The stage's pieces and the spare shell (set up as the worker's terminal is, for a
    second worker), in the README's terminal order."""
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


def split(tmux: Tmux, session: str, teaser: list[dict], stage_panes: list[dict]) -> dict:
    """The two windows' panes, by label. The teaser: terminals 2 and 3 side by side. The
    stage: on the left terminal 1 (the server, a third of the height) over terminal 2
    (the worker, whose lines the demos show); on the right the others, stacked."""
    where = ["-c", str(stage.REPO), "-P", "-F", "#{pane_id}"]  # lines `cd` as typed
    size = ["-x", "200", "-y", "50"]  # until a terminal attaches
    first = tmux("new-session", "-d", "-s", session, "-n", TEASER_WINDOW, *size, *where)
    second = tmux("split-window", "-h", "-l", "50%", "-t", first, *where)
    ids = {teaser[0]["label"]: first, teaser[1]["label"]: second}
    left, right = stage_panes[:2], stage_panes[2:]
    server = tmux("new-window", "-d", "-t", f"={session}:", "-n", WINDOW, *where)
    last = tmux("split-window", "-h", "-l", "50%", "-t", server, *where)
    ids[left[0]["label"]], ids[right[0]["label"]] = server, last
    ids[left[1]["label"]] = tmux("split-window", "-v", "-l", "67%", "-t", server, *where)
    for index, pane_ in enumerate(right[1:], 1):  # each of the n right panes gets 1/n
        share = 100 * (len(right) - index) // (len(right) - index + 1)
        last = tmux("split-window", "-v", "-l", f"{share}%", "-t", last, *where)
        ids[pane_["label"]] = last
    return ids


def build(tmux: Tmux, session: str, teaser: list[dict], stage_panes: list[dict]) -> None:
    """Two windows, each pane labelled with its README terminal, each piece typed into its
    pane's shell; the session opens on the teaser's window."""
    ids = split(tmux, session, teaser, stage_panes)
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
    # Type only once each shell shows its prompt, so the lines do not interleave.
    net.waited(lambda: all(tmux.capture(i) for i in ids.values()), 5)
    # In the README's order: the server first (the others start once it listens).
    for pane_ in [*stage_panes, *teaser]:
        for line in pane_["lines"]:
            tmux.send_line(ids[pane_["label"]], line)
        port = pane_["port"]
        if pane_["name"] == "server" and not wait_for_port(port, SERVER_START_TIMEOUT):
            print(f"The server did not open port {port} in time: look at its pane.")
    tmux("select-pane", "-t", ids[stage_panes[-1]["label"]])  # the spare shell: harmless
    tmux("select-window", "-t", f"={session}:={TEASER_WINDOW}")
    tmux("select-pane", "-t", ids[teaser[0]["label"]])  # terminal 2: the teaser's first command


def wait_for_port(port: int, timeout: float) -> bool:
    """The worker and the app start once the server listens, as with make demo."""
    return net.waited(lambda: stage.port_in_use(port), timeout, 0.2)


# --- Main ----------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offline", action="store_true", help="add the stand-in services")
    parser.add_argument("--detach", action="store_true", help="start it, but do not attach")
    parser.add_argument("--session", default=SESSION, help=f"tmux session name ({SESSION})")
    parser.add_argument("--tmux-socket", help="a private tmux server (tmux -L NAME); for tests")
    stage.add_port_options(parser)
    parser.add_argument("--db-filename", default="temporal.db", help="the dev server's database")
    return parser.parse_args(argv)


def refusal(args: argparse.Namespace, pieces: list[stage.Piece], tmux: Tmux | None) -> str:
    """Why make present cannot build the stage here ("" when it can)."""
    if stage.temporal_cli() is None:
        return stage.NO_CLI
    session = args.session
    if tmux and tmux.has_session(session):
        return (
            f"The tmux session {session!r} already exists. Attach to it: "
            f"{tmux.shown('attach', '-t', session)} ; or stop it and everything in it: "
            f"make reset (or {tmux.shown('kill-session', '-t', session)})."
        )
    # With or without tmux: commands typed by hand would fail on busy ports too.
    return stage.busy(pieces, args.ui_port)


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
    print(
        f"It opens on the teaser's window: type the teaser (README) in terminals 2 and 3;"
        f" the dev server already runs in terminal 1. Then Ctrl-C the counter's worker and"
        f" press {NEXT_WINDOW}: the stage's window, its pieces running (Ctrl-b p: back)."
        f"\nThe app: http://127.0.0.1:{args.app_port} ; the Temporal Web UI:"
        f" http://localhost:{args.ui_port} (ready in a few seconds)."
        "\nIn tmux: Ctrl-b then an arrow key (or a click) moves between panes; in a pane,"
        " Ctrl-C stops its piece and Up then Enter starts it again; Ctrl-b d detaches."
        "\nStop everything: make reset."
    )


def attach(args: argparse.Namespace, tmux: Tmux) -> int:
    """Into the session: this terminal becomes tmux's (or, inside tmux, switch to it)."""
    session = args.session
    if args.detach or not (sys.stdin.isatty() and sys.stdout.isatty()):
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
    pieces = stage.pieces(args.offline, *stage.ports(args), args.db_filename)
    layout, teaser = panes(pieces, args.offline), teaser_panes(pieces)
    tmux = Tmux(args.tmux_socket) if shutil.which("tmux") else None
    refused = refusal(args, pieces, tmux)
    if refused:
        print(refused)
        return 1
    if tmux is None:  # not a failure: the instructions are the answer (make: no "Error 1")
        print(by_hand(panes(pieces, args.offline, powershell=ON_WINDOWS)))
        return 0
    failed = built(tmux, args.session, teaser, layout)
    if failed:
        return failed
    tell(args, teaser, layout)
    return attach(args, tmux)


if __name__ == "__main__":
    run_tool(main, "make present")
