"""`make reset`: a clean stage between rehearsals. It says what it will do and asks (or --yes,
YES=1), then terminates the running demo workflows, stops the processes this repository started
and only those, closes make present's tmux session and removes the dev server's temporal.db."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shlex
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from temporalio.service import RetryConfig, RPCError, RPCStatusCode

import demo_support
from demo_support import missing_package, net, run_tool
from presenter import stage
from presenter.tmux import Tmux

try:  # a .venv made before requirements.txt pinned it: one line, not a traceback
    import psutil
except ImportError as err:
    missing_package(err, "make reset")

SESSION = stage.TMUX_SESSION  # make present's
QUERY = 'ExecutionStatus="Running" AND (TaskQueue="hello-ip" OR TaskQueue="durable-counter")'
COUNTER = "durable-vs-volatile-execution"
DB_FOLDERS = ["", "hello-ip", COUNTER, f"{COUNTER}/durable"]  # where a temporal.db may be
DB_SUFFIXES = ("", "-wal", "-shm", "-journal")
PIECES = stage.pieces(offline=True)
SCRIPTS = {  # the teaser's counters, and the stage's pieces that python runs
    f"{COUNTER}/durable/worker.py": "counter worker",
    f"{COUNTER}/durable/starter.py": "counter starter",
    f"{COUNTER}/volatile/counter.py": "volatile counter",
}
SCRIPTS |= {f"{p.folder}/{p.command[1]}": p.name for p in PIECES if p.command[0] == "python"}
MODULES = {"presenter.stage": "make demo"}  # run as python -m, from the repository's folder
# Stopped in this order: make demo first (it stops its own pieces), then the teaser's
# counters, then the stage's pieces the last started first: the server last.
ORDER = ["make demo", "counter starter", "volatile counter", "counter worker"]
ORDER += [piece.name for piece in reversed(PIECES)]
PATIENCE = {"make demo": 25, "server": 15}  # the seconds a role has after Ctrl-C (others 10)


@dataclass
class Found:
    pid: int
    role: str
    argv: list[str]
    cwd: str
    db: Path | None = None  # a server's database


@dataclass
class Plan:
    workflows: list[tuple[str, str | None]]  # (id, run id)
    note: str  # why no workflows could be listed
    processes: list[Found]
    session: bool
    files: list[Path]


def real(path: str | Path) -> Path:
    return Path(os.path.realpath(path))


def classify(cmdline: list[str], cwd: str, repo: Path, scripts: dict, pid: int = 0) -> Found | None:
    """The process as this repository's, or None (a zombie's or another user's too)."""
    if not cmdline or not cwd:
        return None
    if "start-dev" in cmdline and "server" in cmdline:
        args = [part for arg in cmdline for part in arg.split("=", 1)]  # --flag=value too
        flags = [i for i, arg in enumerate(args[:-1]) if arg in ("--db-filename", "-f")]
        path = real(Path(cwd) / args[flags[0] + 1]) if flags else repo  # in memory: not ours
        return Found(pid, "server", cmdline, cwd, path) if repo in path.parents else None
    if not Path(cmdline[0]).name.lower().startswith("python"):
        return None
    script = next((arg for arg in cmdline[1:] if not arg.startswith("-")), "")  # or -m's module
    module = "-m" in cmdline and real(cwd) == repo
    role = MODULES.get(script) if module else scripts.get(real(Path(cwd) / script))
    return Found(pid, role, cmdline, cwd) if role else None


def find_processes(repo: Path) -> list[Found]:
    """psutil: each process's real argv and folder (spaces and all)."""
    scripts = {real(repo / path): role for path, role in SCRIPTS.items()}
    processes = psutil.process_iter(["pid", "cmdline", "cwd"])
    found = filter(None, (classify(repo=repo, scripts=scripts, **p.info) for p in processes))
    return sorted(found, key=lambda f: (ORDER.index(f.role), f.pid))


def alive(found: Found) -> bool:
    """Still running, and still the same program (a pid can be reused)."""
    with contextlib.suppress(psutil.Error):  # gone, or not ours to look at
        process = psutil.Process(found.pid)
        return process.status() != psutil.STATUS_ZOMBIE and process.cmdline() == found.argv
    return False


def stop(processes: list[Found]) -> list[str]:
    """Ctrl-C each role in turn, as a presenter would, then SIGTERM, then SIGKILL. Windows has
    no Ctrl-C for another console's process (microsoft/terminal#335): TerminateProcess there."""
    problems = []
    for role in ORDER:
        group = [f for f in processes if f.role == role and alive(f)]
        steps = [(signal.SIGINT, PATIENCE.get(role, 10)), (signal.SIGTERM, 5), (signal.SIGKILL, 5)]
        for sig, patience in [(None, 5)] if demo_support.on_windows() else steps:
            for f in group:
                with contextlib.suppress(psutil.Error):  # psutil checks it is still that process
                    process = psutil.Process(f.pid)
                    process.send_signal(sig) if sig else process.kill()
            # Not psutil.wait_procs: it counts a zombie as running until its parent reaps it
            # (the tests' processes, until pytest does), and so would wait out the patience.
            net.waited(lambda group=group: not any(alive(f) for f in group), patience)
            how = f", with {sig.name if sig else 'TerminateProcess'}" * (sig != signal.SIGINT)
            stopped = [f for f in group if not alive(f)]
            print("".join(f"Stopped the {f.role} (pid {f.pid}{how}).\n" for f in stopped), end="")
            group = [f for f in group if f not in stopped]
        problems += [f"pid {f.pid} ({f.role}) is still running" for f in group]
    return problems


async def make_plan(args, client) -> Plan:
    target = demo_support.describe_target()
    workflows, note = [], f"no Temporal server answers at {target}"
    if client:
        try:
            workflows, note = [(w.id, w.run_id) async for w in client.list_workflows(QUERY)], ""
        except RPCError as err:
            note = f"Temporal at {target} refused to list workflows: {err}"
    processes = find_processes(args.repo)
    dbs = {args.repo / d / "temporal.db" for d in DB_FOLDERS} | {f.db for f in processes if f.db}
    files = [Path(f"{db}{suffix}") for db in sorted(dbs) for suffix in DB_SUFFIXES]
    session = Tmux(args.tmux_socket).has_session(SESSION)
    return Plan(workflows, note, processes, session, [f for f in files if f.exists()])


def show(plan: Plan, args) -> None:
    print("make reset will:")
    if plan.workflows:
        ids = ", ".join(workflow_id for workflow_id, _ in plan.workflows)
        print(f"  - terminate the running demo workflows: {ids}")
    elif plan.note:
        print(f"  - terminate no workflows: {plan.note} (removing the database clears its runs)")
    if plan.processes:
        print(f"  - stop what was started from {args.repo}:")
        for f in plan.processes:
            print(f"      pid {f.pid:<7} {f.role:<16} {shlex.join(f.argv)}  (in {f.cwd})")
    if plan.session:
        print(f"  - close the tmux session {SESSION!r} (make present) and its panes")
    if plan.files:
        print(f"  - remove {', '.join(stage.shown(path, args.repo) for path in plan.files)}")


async def act(plan: Plan, args, client) -> list[str]:
    problems = []
    for workflow_id, run_id in plan.workflows:
        try:
            handle = client.get_workflow_handle(workflow_id, run_id=run_id)
            await handle.terminate(reason="make reset")
            print(f"Terminated workflow {workflow_id}.")
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:  # not found: it ended meanwhile
                problems.append(f"could not terminate {workflow_id}: {err}")
    problems += stop(plan.processes)
    if plan.session:
        tmux = Tmux(args.tmux_socket)
        tmux("kill-session", "-t", f"={SESSION}", check=False)
        if tmux.has_session(SESSION):
            problems.append(f"the tmux session {SESSION!r} is still there")
        else:
            print(f"Closed the tmux session {SESSION!r}.")
    for path in plan.files:  # a server still running has its problem above
        try:
            path.unlink(missing_ok=True)
            print(f"Removed {stage.shown(path, args.repo)}.")
        except OSError as err:
            problems.append(f"could not remove {stage.shown(path, args.repo)}: {err.strerror}")
    return problems


async def reset(args) -> int:
    client = None
    with contextlib.suppress(demo_support.TemporalUnreachable, asyncio.TimeoutError):
        quick = RetryConfig(max_elapsed_time_millis=2000, max_retries=2)
        client = await asyncio.wait_for(demo_support.connect(retry_config=quick), 5)
    plan = await make_plan(args, client)
    if not (plan.workflows or plan.processes or plan.session or plan.files):
        note = plan.note or "no demo workflows running"
        print(f"Nothing to reset: no demo processes, tmux session or temporal.db; {note}.")
        return 0
    show(plan, args)
    yes = args.yes or os.environ.get("YES", "").lower() in ("1", "y", "yes", "true")
    if not yes and not sys.stdin.isatty():
        print("Not run from a terminal, so nobody can say yes: make reset YES=1 goes ahead.")
        return 1
    with contextlib.suppress(EOFError, KeyboardInterrupt):
        yes = yes or input("Go ahead? [y/N] ").strip().lower() in ("y", "yes")
    if not yes:
        print("\nNothing changed.")  # the presenter's own choice, not a failure
        return 0
    problems = await act(plan, args, client)
    clean = "Clean: the next start begins with an empty history."
    print("\n".join(f"Not done: {problem}" for problem in problems) or clean)
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask (also: YES=1)")
    parser.add_argument("--repo", type=real, default=stage.REPO, help="the repository to reset")
    parser.add_argument("--tmux-socket", help="a private tmux server (tmux -L NAME); for tests")
    return asyncio.run(reset(parser.parse_args(argv)))


if __name__ == "__main__":
    run_tool(main, "make reset", "Interrupted: what was done stays done; run make reset again.")
