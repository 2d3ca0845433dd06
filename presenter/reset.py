"""`make reset`: a clean stage between rehearsals.

After saying what it will do, and a yes (asked in a terminal; elsewhere --yes or
`make reset YES=1`): it terminates the demo workflows still running (task queues hello-ip,
durable-counter) on the demos' Temporal server, stops the processes this repository
started and only those (the dev server whose database is in it, the demo scripts and make
demo run from it), closes make present's tmux session and removes temporal.db and its
-wal and -shm files, so that the next start has an empty history.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shlex
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.service import RetryConfig, RPCError, RPCStatusCode

import demo_support
from demo_support import missing_package, net, run_tool
from presenter import stage
from presenter.tmux import Tmux, TmuxError

try:  # a .venv made before requirements.txt pinned it: one line, not a traceback
    import psutil
except ImportError as err:
    missing_package(err, "make reset")

SESSION = stage.TMUX_SESSION
DEMO_TASK_QUEUES = ("hello-ip", "durable-counter")
DB_NAME = "temporal.db"
DB_SUFFIXES = ("", "-wal", "-shm", "-journal")
COUNTER = Path("durable-vs-volatile-execution")
EXTRA_SCRIPTS = {  # besides the stage's pieces: the teaser's counters
    COUNTER / "durable" / "worker.py": "counter worker",
    COUNTER / "durable" / "starter.py": "counter starter",
    COUNTER / "volatile" / "counter.py": "volatile counter",
}
MODULES = {"presenter.stage": "make demo"}  # run as python -m, from the repository's folder
# Stopped in this order: make demo first (it stops its own pieces), then the teaser's
# counters, then the stage's pieces the last started first (stage.pieces()): the server last.
ORDER = ["make demo", "counter starter", "volatile counter", "counter worker"]
ORDER += [piece.name for piece in reversed(stage.pieces(offline=True))]
PATIENCE = {"make demo": 25.0, "server": 15.0}  # seconds after Ctrl-C; others 10
INTERRUPTED = "Interrupted: whatever was already done stays done; run make reset again."


@dataclass
class Found:
    pid: int
    role: str
    argv: list[str]
    cwd: str
    db: Path | None = None

    def describe(self) -> str:
        command = shlex.join([Path(self.argv[0]).name, *self.argv[1:]])
        return f"pid {self.pid:<7} {self.role:<16} {command}  (in {self.cwd})"


@dataclass
class Plan:
    processes: list[Found] = field(default_factory=list)
    session: bool = False
    files: list[Path] = field(default_factory=list)
    workflows: list[tuple[str, str | None]] = field(default_factory=list)  # (id, run id)
    target: str = ""
    temporal_note: str = ""

    def empty(self) -> bool:
        return not (self.processes or self.session or self.files or self.workflows)


# --- Which processes belong to this repository -----------------------------------------


def real(path: str | Path) -> Path:
    return Path(os.path.realpath(path))


def repo_scripts(repo: Path) -> dict[Path, str]:
    """Each demo script of the repository, by its real path, with its role."""
    scripts = {real(repo / relative): role for relative, role in EXTRA_SCRIPTS.items()}
    for piece in stage.pieces(offline=True):
        if piece.command[0] == "python":
            scripts[real(repo / piece.folder / piece.command[1])] = piece.name
    return scripts


def _flag_value(argv: list[str], *names: str) -> str | None:
    """The value of a flag: `--name value` or `--name=value`."""
    for i, arg in enumerate(argv):
        name, equals, value = arg.partition("=")
        if name in names:
            return value if equals else (argv[i + 1] if i + 1 < len(argv) else None)
    return None


def _script_of(argv: list[str]) -> str | None:
    """What a Python command line runs: "script.py" (python [options] script.py ...) or
    "-m module"; None for anything else."""
    if not Path(argv[0]).name.lower().startswith("python"):
        return None
    args = iter(argv[1:])
    for arg in args:
        if arg in ("-m", "-c"):
            return f"-m {next(args, '')}" if arg == "-m" else None
        if arg in ("-X", "-W"):
            next(args, None)
        elif not arg.startswith("-"):
            return arg
    return None


def classify(argv: list[str], cwd: str, repo: Path, scripts: dict[Path, str]) -> Found | None:
    if not argv or not cwd:  # None or empty: gone, or another user's
        return None
    if "start-dev" in argv and argv[argv.index("start-dev") - 1] == "server":
        db = _flag_value(argv, "--db-filename", "-f")
        if db is None:
            return None  # an in-memory server: nothing says it is ours
        path = real(Path(cwd) / db)
        return Found(0, "server", argv, cwd, path) if repo in path.parents else None
    script = _script_of(argv) or ""
    if script.startswith("-m "):
        role = MODULES.get(script.removeprefix("-m ")) if real(cwd) == repo else None
    else:
        role = scripts.get(real(Path(cwd) / script)) if script else None
    return Found(0, role, argv, cwd) if role else None


def find_processes(repo: Path) -> list[Found]:
    """psutil: the same argv and folder from /proc on Linux and from the kernel on macOS,
    spaces in paths and all; zombies left out."""
    scripts, found = repo_scripts(repo), []
    for process in psutil.process_iter(["pid", "cmdline", "cwd", "status"]):
        info = process.info
        if info["pid"] == os.getpid() or info["status"] == psutil.STATUS_ZOMBIE:
            continue
        match = classify(info["cmdline"], info["cwd"], repo, scripts)
        if match:
            match.pid = info["pid"]
            found.append(match)
    return sorted(found, key=lambda f: (ORDER.index(f.role), f.pid))


def alive(found: Found) -> bool:
    """Still running, and still the same program (a pid can be reused)."""
    try:
        process = psutil.Process(found.pid)
        return process.status() != psutil.STATUS_ZOMBIE and process.cmdline() == found.argv
    except psutil.Error:  # gone, or not ours to look at
        return False


def escalation(role: str) -> list[tuple[str, float]]:
    """Each step that stops a process of this role, and how long it then waits.

    Linux, macOS: Ctrl-C (SIGINT), as a presenter would, then SIGTERM, then SIGKILL.
    Windows has no Ctrl-C for another console's process (a console event sent to a process
    that leads no group reaches reset's whole console: microsoft/terminal#335), so
    TerminateProcess (psutil's kill) there; the database goes anyway.
    """
    if demo_support.on_windows():
        return [("TerminateProcess", 5.0)]
    return [("SIGINT", PATIENCE.get(role, 10.0)), ("SIGTERM", 5.0), ("SIGKILL", 5.0)]


def stop(processes: list[Found]) -> list[str]:
    """Ctrl-C each group in turn, as a presenter would; escalate when one hangs."""
    problems = []
    for role in ORDER:  # every role found has its place there: the server last
        group = [f for f in processes if f.role == role and alive(f)]
        for step, patience in escalation(role):
            if not group:
                break
            for f in group:
                try:  # psutil checks that the pid is still that process
                    process = psutil.Process(f.pid)
                    if step == "TerminateProcess":
                        process.kill()
                    else:
                        process.send_signal(getattr(signal, step))
                except psutil.NoSuchProcess:
                    pass
                except psutil.AccessDenied:
                    problems.append(f"cannot stop pid {f.pid} ({f.role}): permission denied")
            # Not psutil.wait_procs: it counts a zombie as running until its parent reaps it
            # (the tests' processes, until pytest does), and so would wait out the patience.
            net.waited(lambda group=group: not any(alive(f) for f in group), patience)
            how = "" if step == "SIGINT" else f", with {step}"
            for f in group:
                if not alive(f):
                    print(f"Stopped the {f.role} (pid {f.pid}{how}).")
            group = [f for f in group if alive(f)]
        problems += [f"pid {f.pid} ({f.role}) is still running" for f in group]
    return problems


# --- Workflows -------------------------------------------------------------------------


async def running_workflows(timeout: float = 5) -> tuple[list[tuple[str, str | None]], str, str]:
    """(running demo workflows, where we looked, a note when we could not look)."""
    target = demo_support.describe_target()
    queues = " OR ".join(f'TaskQueue="{q}"' for q in DEMO_TASK_QUEUES)
    query = f'ExecutionStatus="Running" AND ({queues})'
    try:
        quick = RetryConfig(max_elapsed_time_millis=2000, max_retries=2)
        client = await asyncio.wait_for(demo_support.connect(retry_config=quick), timeout)
        found = [(w.id, w.run_id) async for w in client.list_workflows(query)]
    except (demo_support.TemporalUnreachable, asyncio.TimeoutError):
        return [], target, f"no Temporal server answers at {target}"
    except RPCError as err:
        return [], target, f"Temporal at {target} refused to list workflows: {err}"
    return found, target, ""


async def terminate(workflows: list[tuple[str, str | None]]) -> list[str]:
    try:
        client = await demo_support.connect()
    except demo_support.TemporalUnreachable as err:
        return [f"could not terminate the demo workflows: {err}"]
    problems = []
    for workflow_id, run_id in workflows:
        try:
            handle = client.get_workflow_handle(workflow_id, run_id=run_id)
            await handle.terminate(reason="make reset")
            print(f"Terminated workflow {workflow_id}.")
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:  # not found: it ended meanwhile
                problems.append(f"could not terminate {workflow_id}: {err}")
    return problems


# --- Main ------------------------------------------------------------------------------


def make_plan(args) -> Plan:
    plan = Plan()
    plan.workflows, plan.target, plan.temporal_note = asyncio.run(running_workflows())
    plan.processes = find_processes(args.repo)
    plan.session = Tmux(args.tmux_socket).has_session(args.session)
    # temporal.db at the root and in the demo folders, and any other our servers use.
    folders = [args.repo, args.repo / "hello-ip", args.repo / COUNTER / "durable"]
    databases = [folder / DB_NAME for folder in [*folders, args.repo / COUNTER]]
    databases += [f.db for f in plan.processes if f.db and f.db not in databases]
    files = [Path(f"{db}{suffix}") for db in databases for suffix in DB_SUFFIXES]
    plan.files = [path for path in files if path.exists()]
    return plan


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}es" if word.endswith("s") else f"{n} {word}s"


def size(path: Path) -> str:
    try:
        n = path.stat().st_size
    except OSError:
        return "gone"
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.0f} kB"


def show(plan: Plan, args) -> None:
    print("make reset will:")
    if plan.workflows:
        ids = ", ".join(w[0] for w in plan.workflows)
        count = plural(len(plan.workflows), "running demo workflow")
        print(f"  - terminate {count} on {plan.target}: {ids}")
    elif plan.temporal_note:
        print(
            f"  - terminate no workflows: {plan.temporal_note}"
            " (removing the database clears the runs a stopped dev server kept)"
        )
    if plan.processes:
        print(f"  - stop {plural(len(plan.processes), 'process')} started from {args.repo}:")
        for found in plan.processes:
            print(f"      {found.describe()}")
    if plan.session:
        print(f"  - close the tmux session {args.session!r} (make present) and its panes")
    if plan.files:
        sizes = [f"{stage.shown(p, args.repo)} ({size(p)})" for p in plan.files]
        print(f"  - remove {', '.join(sizes)}")


def confirmed(args) -> bool | None:
    """True to go ahead, False when the presenter said no, None when nobody could answer."""
    if args.yes or os.environ.get("YES", "").lower() in ("1", "y", "yes", "true"):
        return True
    if not sys.stdin.isatty():
        return None
    try:
        answer = input("Go ahead? [y/N] ")
    except (EOFError, KeyboardInterrupt):
        print()
        return False
    return answer.strip().lower() in ("y", "yes")


def act(plan: Plan, args) -> list[str]:
    problems = asyncio.run(terminate(plan.workflows)) if plan.workflows else []
    problems += stop(plan.processes)
    if plan.session:
        tmux = Tmux(args.tmux_socket)
        with contextlib.suppress(TmuxError):
            tmux("kill-session", "-t", f"={args.session}")
        if tmux.has_session(args.session):
            problems.append(f"the tmux session {args.session!r} is still there")
        else:
            print(f"Closed the tmux session {args.session!r}.")
    held = [f.db for f in plan.processes if f.role == "server" and alive(f)]
    held_files = {Path(f"{db}{suffix}") for db in held for suffix in DB_SUFFIXES}
    for path in plan.files:
        shown = stage.shown(path, args.repo)
        if path in held_files:
            problems.append(f"kept {shown}: its server is still running")
            continue
        try:
            path.unlink()
            print(f"Removed {shown}.")
        except FileNotFoundError:
            pass
        except OSError as err:
            problems.append(f"could not remove {shown}: {err.strerror}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask (also: YES=1)")
    parser.add_argument(
        "--repo", type=real, default=stage.REPO, help="the repository to reset (default: this one)"
    )
    parser.add_argument("--session", default=SESSION, help=f"tmux session ({SESSION})")
    parser.add_argument("--tmux-socket", help="a private tmux server (tmux -L NAME); for tests")
    args = parser.parse_args(argv)
    plan = make_plan(args)
    if plan.empty():
        note = plan.temporal_note or "no demo workflows running"
        print(
            f"Nothing to reset: no demo processes, no tmux session {args.session!r},"
            f" no {DB_NAME}; {note}."
        )
        return 0
    show(plan, args)
    answer = confirmed(args)
    if answer is None:
        print("Not run from a terminal, so nobody can say yes: make reset YES=1 goes ahead.")
        return 1
    if not answer:
        print("Nothing changed.")
        return 0  # the presenter's own choice, not a failure
    problems = act(plan, args)
    for problem in problems:
        print(f"Not done: {problem}")
    if problems:
        return 1
    print("Clean: the next start begins with an empty history.")
    return 0


if __name__ == "__main__":
    run_tool(
        main,
        "make reset",
        "Interrupted: whatever was already done stays done; run make reset again.",
    )  # noqa: E501
