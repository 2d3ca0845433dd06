"""`make present`: the talk's terminals in tmux, numbered as the README numbers them.

Each piece is typed into its pane's shell (Ctrl-C stops it, Up then Enter starts it again);
without tmux, the lines to type by hand (in PowerShell on Windows)."""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
from pathlib import Path

from demo_support import net, run_tool
from presenter import stage
from presenter.tmux import Tmux

SESSION = stage.TMUX_SESSION
ON_WINDOWS = os.name == "nt"  # no tmux there: the lines, in PowerShell
COUNTERS = "durable-vs-volatile-execution"
# Each pane's README terminal and title; the spare shell is ready for a second worker.
LABELS = {"server": (1, "Temporal dev server"), "worker": (2, "hello-ip worker")}
LABELS |= {"app": (3, "the web app"), "standin": (4, "stand-in services")}
LABELS |= {"shell": (5, "a spare shell"), "counters": (2, "the teaser's counters")}
LABELS |= {"starter": (3, "the durable counter's starter")}
KEYS = """It opens on the teaser's window: type the teaser (README) in terminals 2 and 3; the dev
server already runs in terminal 1. Then Ctrl-C the counter's worker and press Ctrl-b n: the
stage's window, its pieces running (Ctrl-b p: back).
The app: http://127.0.0.1:{app} ; the Temporal Web UI: http://localhost:{ui} (soon).
In tmux: Ctrl-b then an arrow key (or a click) moves between panes; in a pane, Ctrl-C stops
its piece and Up then Enter starts it again; Ctrl-b d detaches. Stop everything: make reset."""
BY_HAND = """tmux is not installed. Open one terminal each, numbered as in the README, and type in
each, from {repo}:
{terminals}
The teaser (README) comes first, in terminals 2 and 3: type these there after it.
Or run everything in one terminal: """
BY_HAND += "python -m presenter.stage" if ON_WINDOWS else "make demo (with tmux: make present)"


def activate_line(powershell: bool = False, venv: Path | None = None) -> str:
    """The README's first line in every terminal, for the venv this script runs from."""
    shown = stage.shown(Path(sys.prefix) if venv is None else venv)
    if powershell:
        return ps_quote(f"{shown}\\Scripts\\Activate.ps1".replace("/", "\\"))
    return f"source {shlex.quote(shown)}/bin/activate"


def ps_quote(word: str) -> str:
    """A word as PowerShell reads it: as is when plain, else in single quotes."""
    if word and all(c.isalnum() or c in "-_.:/\\=" for c in word):
        return word
    return "'" + word.replace("'", "''") + "'"


def typed_lines(piece: stage.Piece, offline: bool, powershell: bool = False) -> list[str]:
    """The README's lines for the piece's terminal; the command last, for Up then Enter."""
    quote = ps_quote if powershell else shlex.quote
    lines = [activate_line(powershell)] + ([f"cd {piece.folder}"] if piece.folder else [])
    env = dict(piece.env)
    if offline and piece.name in ("worker", "shell") and stage.OFFLINE_ENV.items() <= env.items():
        lines.append(". .\\offline.ps1" if powershell else "source offline.sh")
        env = {k: v for k, v in env.items() if k not in stage.OFFLINE_ENV}
    setting = "$env:{} = {}" if powershell else "export {}={}"
    lines += [setting.format(key, quote(value)) for key, value in env.items()]
    return lines + ([" ".join(map(quote, piece.command))] if piece.command else [])


def pane(piece: stage.Piece, offline: bool = False, powershell: bool = False) -> dict:
    terminal, title = LABELS[piece.name]
    lines = typed_lines(piece, offline, powershell)
    return {
        "name": piece.name,
        "terminal": terminal,
        "title": title,
        "piece": piece,
        "lines": lines,
    }


def panes(pieces: list[stage.Piece], offline: bool = False, powershell: bool = False) -> list[dict]:
    """The stage's terminals, with a spare shell set up as the worker's, in the README's order."""
    worker = next(p for p in pieces if p.name == "worker")
    spare = stage.Piece("shell", "hello-ip", (), worker.env)
    found = [pane(p, offline, powershell) for p in [*pieces, spare]]
    return sorted(found, key=lambda p: p["terminal"])


def teaser_panes(pieces: list[stage.Piece]) -> list[dict]:
    """The teaser's terminals 2 and 3, in the counters' folders; the presenter types the rest."""
    worker = next(p for p in pieces if p.name == "worker")
    env = {k: v for k, v in worker.env.items() if k == "TEMPORAL_ADDRESS"}
    teaser = [("counters", "volatile"), ("starter", "durable")]
    return [pane(stage.Piece(name, f"{COUNTERS}/{folder}", (), env)) for name, folder in teaser]


def by_hand(panes_: list[dict]) -> str:
    nl = "\n       "
    terminals = [f"  {p['terminal']}. {p['title']}{nl}{nl.join(p['lines'])}" for p in panes_]
    return BY_HAND.format(repo=stage.REPO, terminals="\n".join(terminals))


def build(tmux: Tmux, teaser: list[dict], layout: list[dict]) -> None:
    """The teaser's window (2 | 3), then the stage's: 1 (a third) over 2 on the left, the rest
    stacked on the right; the server's lines first (the others start once it listens)."""
    where = ["-c", str(stage.REPO), "-P", "-F", "#{pane_id}"]  # the lines `cd` as typed
    two, three = teaser
    size = ["-x", "200", "-y", "50"]  # until a terminal attaches
    two["id"] = tmux("new-session", "-d", "-s", SESSION, "-n", "teaser", *size, *where)
    three["id"] = tmux("split-window", "-h", "-t", two["id"], *where)
    server, worker, *right = layout
    server["id"] = tmux("new-window", "-d", "-t", f"={SESSION}:", "-n", "stage", *where)
    right[0]["id"] = tmux("split-window", "-h", "-t", server["id"], *where)
    worker["id"] = tmux("split-window", "-v", "-l", "67%", "-t", server["id"], *where)
    for i in range(1, len(right)):  # each of the n right panes gets 1/n of the height
        share = f"{100 * (len(right) - i) // (len(right) - i + 1)}%"
        right[i]["id"] = tmux("split-window", "-v", "-l", share, "-t", right[i - 1]["id"], *where)
    for window in ("teaser", "stage"):
        tmux("set-option", "-w", "-t", f"={SESSION}:={window}", "pane-border-status", "top")
        tmux("set-option", "-w", "-t", f"={SESSION}:={window}", "pane-border-format", " #{@piece} ")
    tmux("set-option", "-t", f"={SESSION}:", "mouse", "on")
    for p in [*layout, *teaser]:  # a pane option (tmux 3.0+): shells may retitle a pane
        tmux("set-option", "-p", "-t", p["id"], "@piece", f"terminal {p['terminal']}: {p['title']}")
    # Type only once each shell shows its prompt, so that the lines do not interleave.
    net.waited(lambda: all(tmux.capture(p["id"]) for p in [*layout, *teaser]), 5)
    port = server["piece"].port
    for pane_ in [*layout, *teaser]:
        for line in pane_["lines"]:
            tmux.send_line(pane_["id"], line)
        if pane_ is server and not net.waited(lambda: stage.port_in_use(port), 30, 0.2):
            print(f"The server did not open port {port} in time: look at its pane.")
    tmux("select-pane", "-t", layout[-1]["id"])  # the spare shell: harmless
    tmux("select-window", "-t", f"={SESSION}:=teaser")
    tmux("select-pane", "-t", two["id"])  # terminal 2: the teaser's first command


def tell(args: argparse.Namespace, teaser: list[dict], layout: list[dict]) -> None:
    """What runs where, and the keys the talk needs."""
    print(f"The talk's terminals run in the tmux session {SESSION!r}, in two windows:")
    for window, panes_ in (("teaser", teaser), ("stage", layout)):
        for p in panes_:
            what = shlex.join(p["piece"].command) or f"a shell in {p['piece'].folder}"
            print(f"  {window:<6}  {p['terminal']}  {p['name']:<8}  {what}")
    print(KEYS.format(app=args.app_port, ui=args.ui_port))
    if args.room:
        print(
            "Room mode: terminal 3 shows the join URL and its QR code, and the page's Room panel."
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offline", action="store_true", help="add the stand-in services")
    parser.add_argument("--room", action="store_true", help=stage.ROOM_HELP)
    parser.add_argument("--detach", action="store_true", help="start it, but do not attach")
    parser.add_argument("--tmux-socket", help="a private tmux server (tmux -L NAME); for tests")
    stage.add_port_options(parser)
    parser.add_argument("--db-filename", default="temporal.db", help="the dev server's database")
    args = parser.parse_args(argv)
    pieces = stage.pieces(args.offline, *stage.ports(args), args.db_filename, room=args.room)
    tmux = Tmux(args.tmux_socket) if shutil.which("tmux") else None
    attach = tmux.shown("attach", "-t", SESSION) if tmux else ""
    if stage.temporal_cli() is None:
        refused = stage.NO_CLI
    elif tmux and tmux.has_session(SESSION):
        refused = f"The tmux session {SESSION!r} already exists. Attach to it: {attach} ; or stop"
        refused += " it and everything in it: make reset."
    else:  # with or without tmux: the lines typed by hand would fail on busy ports too
        refused = stage.busy(pieces, args.ui_port)
    if refused:
        print(refused)
        return 1
    if tmux is None:  # not a failure: the lines to type are the answer (make: no "Error 1")
        print(by_hand(panes(pieces, args.offline, powershell=ON_WINDOWS)))
        return 0
    layout, teaser = panes(pieces, args.offline), teaser_panes(pieces)
    try:
        build(tmux, teaser, layout)
    except BaseException:  # tmux refused, or Ctrl-C: nothing left behind; run_tool says why
        tmux("kill-session", "-t", f"={SESSION}", check=False)
        raise
    tell(args, teaser, layout)
    if args.detach or not (sys.stdin.isatty() and sys.stdout.isatty()):
        print(f"Attach: {attach}")
        return 0
    sys.stdout.flush()
    if os.environ.get("TMUX") and not args.tmux_socket:  # inside tmux: go there
        tmux("switch-client", "-t", f"={SESSION}")
        return 0
    os.execvp("tmux", [*tmux.prefix, "attach-session", "-t", f"={SESSION}"])
    return 0  # not reached


if __name__ == "__main__":
    run_tool(main, "make present", "Interrupted: nothing left running.")
