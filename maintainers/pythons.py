"""`make pythons`: the test suite under every Python 3.10 to 3.14 this machine has.

Each runs the dev container's setup line, then the suite as `make test` does but LEFT_OUT, in
a copy of this tree (.pythons/tree-3.X). Interpreters: `python3.X` on PATH, else pyenv's newest
build, this venv's left out (`make test` runs it); a 3.13 or 3.14 not found is Debian's, in a
minimal root made once by debootstrap in .pythons/ (Linux, as root).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

from demo_support import run_tool
from presenter import stage

REPO = stage.REPO
ROOTS = REPO / ".pythons"
VERSIONS = ("3.10", "3.11", "3.12", "3.13", "3.14")
OWN = ".".join(map(str, sys.version_info[:2]))  # this venv's: make test runs the suite
DEBIAN = {"3.13": "trixie", "3.14": "sid"}  # the suite whose python3.X a root gets
MIRROR = "http://deb.debian.org/debian"
LEFT_OUT = [
    *("tests/test_page.py", "tests/test_timeline.py", "tests/test_panel.py"),  # Chromium
    *("tests/test_one_reading.py", "tests/test_page_view.py"),  # Chromium too
    *("tests/test_rehearsal.py", "tests/test_slides.py"),  # Chromium, npm; the README's ports
    "tests/test_room_panel.py",  # Chromium, network namespaces
]
NOT_INHERITED = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")
QUIET = {"PIP_QUIET": "2", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}  # pip: its errors only
ROOT_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
    "HOME": "/root",
    "LANG": "C.UTF-8",
    "TERM": "xterm-256color",
    "PIP_CERT": "/etc/ssl/certs/host-ca.crt",
    "SSL_CERT_FILE": "/etc/ssl/certs/host-ca.crt",
    "PIP_DEFAULT_TIMEOUT": "180",
}
# The release, and the interpreter itself (a pyenv shim execs the build it stands for).
PROBE = "import sys, venv, ensurepip; print('%d.%d.%d' % sys.version_info[:3], sys.executable)"


def devcontainer() -> dict:
    """.devcontainer/devcontainer.json: JSON with // comment lines."""
    text = (REPO / ".devcontainer" / "devcontainer.json").read_text()
    return json.loads("\n".join(x for x in text.splitlines() if not x.strip().startswith("//")))


def pyenv_root() -> Path:
    return Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")


class Found(NamedTuple):
    version: str  # 3.10
    python: Path | None  # None: not found here
    release: str = ""  # 3.10.13
    note: str = ""  # why it was not found


def find(version: str, path: str | None = None, pyenv: Path | None = None) -> Found:
    """`python3.X` on PATH, then pyenv's CPython builds, newest first: the first that runs, is
    that version and can make a venv (a pyenv shim of a version not active says "command not
    found"; Debian's without -venv has no ensurepip)."""
    pyenv = pyenv or pyenv_root()
    patches = {d: d.name.removeprefix(f"{version}.") for d in (pyenv / "versions").glob("*")}
    builds = sorted((d for d, p in patches.items() if p.isdigit()), key=lambda d: -int(patches[d]))
    pythons = [
        shutil.which(f"python{version}", path=path),
        *(d / "bin" / f"python{version}" for d in builds),
    ]
    tried = []
    for python in [p for p in pythons if p and Path(p).exists()]:
        out = subprocess.run([python, "-c", PROBE], capture_output=True, text=True, timeout=60)
        release, _, executable = out.stdout.strip().partition(" ")
        if out.returncode == 0 and release.startswith(version + ".") and executable:
            return Found(version, Path(executable), release)
        last = (out.stderr.strip().splitlines() or [release or f"exit {out.returncode}"])[-1]
        tried.append(f"{python}: {last}")
    why = "; ".join(tried) or f"no python{version} on PATH or in {pyenv}"
    return Found(version, None, note=why)


def copy_tree(target: Path) -> None:
    """This working tree as git sees it (tracked and new files, not ignored ones) at target,
    instead of what was there, but its .venv."""
    for old in target.glob("*"):  # dot files too
        if old.name != ".venv":
            shutil.rmtree(old) if old.is_dir() else old.unlink()
    git = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    for name in subprocess.run(git, cwd=REPO, capture_output=True, check=True).stdout.split(b"\0"):
        if name and (REPO / name.decode()).exists():  # not deleted since
            (target / name.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name.decode(), target / name.decode())


RERUN = "make pythons: the failed tests once more, alone"


def script(repo: str, python3: str) -> str:
    """In the copy (a git repository of one commit: the tests read `git ls-files` and clone it),
    the dev container's setup with the interpreter under test as `python3`, then the suite. A
    timing-bound test can miss its bound on a loaded machine: the failed ones run once more,
    alone, and the summary says so; a real failure fails twice."""
    pytest = f"python -m pytest -q {' '.join(f'--ignore={name}' for name in LEFT_OUT)}"
    return f"""set -e
cd {shlex.quote(repo)}
git init -q && git add -A
git -c user.name=pythons -c user.email=pythons@localhost -c commit.gpgsign=false commit -qm tree
test "$(command -v python3)" = {shlex.quote(python3)}
{devcontainer()["postCreateCommand"]}
. .venv/bin/activate
python --version && temporal --version
pip install -r requirements-dev.txt
{pytest} -n 3 --dist loadfile || {{ echo {RERUN!r}; {pytest} --lf --lfnf none; }}"""


def stream(cmd: list, env: dict, lines: list[str]) -> int:
    out = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "errors": "replace"}
    with subprocess.Popen(cmd, env=env, text=True, **out) as proc:
        for line in proc.stdout:
            print(line, end="", flush=True)
            lines.append(line.rstrip())
    return proc.returncode


def run_suite(tree: Path, python: str, env: dict, lines: list[str], root: Path | None = None):
    """The suite in a fresh copy of this tree, its `python3` (first on PATH) the interpreter
    under test: a script, not a link, so that the venv's home is the interpreter's folder."""
    copy_tree(tree)
    python3 = tree.with_name(tree.name + "-bin") / "python3"
    python3.parent.mkdir(exist_ok=True)
    python3.write_text(f'#!/bin/sh\nexec {shlex.quote(python)} "$@"\n')
    python3.chmod(0o755)
    seen = lambda path: f"/{path.relative_to(root)}" if root else str(path)  # noqa: E731
    env = {**env, **QUIET, "PATH": f"{seen(python3.parent)}{os.pathsep}{env['PATH']}"}
    cmd = ["/bin/sh", "-c", script(seen(tree), seen(python3))]
    return stream(["chroot", root, *cmd] if root else cmd, env, lines)


def run_here(found: Found, lines: list[str]) -> int:
    """The suite in .pythons/tree-3.X, under an interpreter of this machine; not under this
    venv's, nor with what it sets."""
    tree = ROOTS / f"tree-{found.version}"
    made_by = tree / ".venv" / "pyvenv.cfg"
    if made_by.exists() and f"home = {found.python.parent}\n" not in made_by.read_text():
        shutil.rmtree(tree / ".venv")  # another interpreter's
    env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    ours = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p not in ("", ours))
    return run_suite(tree, str(found.python), env, lines)


def can_make_roots() -> str:
    """Why a Debian root cannot be made here ('' when it can)."""
    if sys.platform != "linux" or os.geteuid() != 0:
        return "a Debian root needs Linux and root: sudo make pythons"
    return "" if shutil.which("debootstrap") else "a Debian root needs: apt-get install debootstrap"


def make_root(version: str) -> Path:
    """The Debian root of one interpreter, made once (a half-made one is made again)."""
    root = ROOTS / f"{DEBIAN[version]}-{version}"
    if not root.exists():
        partial, log = (root.with_name(root.name + end) for end in (".partial", ".log"))
        shutil.rmtree(partial, ignore_errors=True)
        ROOTS.mkdir(exist_ok=True)
        include = f"--include=python{version},python{version}-venv,git,tmux,ca-certificates"
        cmd = ["debootstrap", "--variant=minbase", include, DEBIAN[version], partial, MIRROR]
        with log.open("w") as out:  # git: the tests read the tree; tmux: make present's
            if subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT).returncode:
                last = log.read_text().strip().splitlines()[-1:]
                raise RuntimeError(f"debootstrap {DEBIAN[version]} failed ({log}): {last}")
        partial.rename(root)
    return root


def run_in_root(version: str, root: Path, lines: list[str]) -> int:
    """The host's CA bundle and resolv.conf copied in, proc and dev mounted (ptys for tmux)."""
    shutil.copy("/etc/ssl/certs/ca-certificates.crt", root / "etc/ssl/certs/host-ca.crt")
    shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")
    with contextlib.ExitStack() as mounted:
        for how in (["-t", "proc", "proc", root / "proc"], ["--rbind", "/dev", root / "dev"]):
            subprocess.run(["mount", *how], check=True)
            mounted.callback(subprocess.run, ["umount", "-R", "-l", how[-1]], check=False)
        env = {**ROOT_ENV, "CI": os.environ.get("CI", "")}
        return run_suite(root / "repo", f"/usr/bin/python{version}", env, lines, root)


class Suite(NamedTuple):
    version: str
    where: str  # "pyenv 3.10.13" or "Debian sid"
    start: Callable[[list[str]], int]  # (the lines it printed) -> its exit status


def plan(
    versions: list[str], explicit: bool, debian: bool, pool: ThreadPoolExecutor
) -> tuple[list[str], list[Suite]]:
    """One line per version (found where, or why not), and the suites to run: Debian's last,
    their roots made in the pool meanwhile."""
    said, suites, no_roots = [], [], can_make_roots()
    for version in versions:
        asked = debian and version in DEBIAN
        found = Found(version, None, note="--debian") if asked else find(version)
        suite = DEBIAN.get(version)
        if found.python and version == OWN and not explicit:
            said.append(f"Python {version}: {found.release}, this venv's (make test runs it)")
        elif found.python:
            said.append(f"Python {version}: {found.release}, {found.python}")
            source = "pyenv" if pyenv_root() in found.python.resolve().parents else "PATH"
            run = lambda lines, f=found: run_here(f, lines)  # noqa: E731
            suites.append(Suite(version, f"{source} {found.release}", run))
        elif suite and not no_roots:
            why = "--debian" if asked else f"not found ({found.note})"
            said.append(f"Python {version}: {why}: Debian {suite}'s, in .pythons/{suite}-{version}")
            root = pool.submit(make_root, version)
            run = lambda lines, v=version, r=root: run_in_root(v, r.result(), lines)  # noqa: E731
            suites.append(Suite(version, f"Debian {suite}", run))
        else:
            said.append(
                f"Python {version}: not found ({found.note}){f'; {no_roots}' if suite else ''}"
            )
    return said, sorted(suites, key=lambda s: s.where.startswith("Debian"))


def run(suite: Suite) -> tuple[int, str]:
    """The suite's exit status, and its line of the summary: pytest's counts, without times."""
    print(f"\n[Python {suite.version} ({suite.where})]", flush=True)
    began, lines = time.monotonic(), []
    try:
        code = suite.start(lines)
    except (RuntimeError, OSError, subprocess.CalledProcessError) as err:
        print(f"make pythons: {err}", flush=True)
        code = 1
    counts = [m[1] for x in lines if (m := re.match(r"=* ?(\d+ (passed|failed).*) in [\d.]+s", x))]
    verdict = "ok" if code == 0 else f"FAILED (exit {code})"
    summary = "; re-run: ".join(counts) or "-"
    took = f"({time.monotonic() - began:.0f} s)"
    return code, f"{f'Python {suite.version} ({suite.where})':<30} {verdict:<16} {summary} {took}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("versions", nargs="*", help=f"some of {', '.join(VERSIONS)} (all)")
    parser.add_argument("--debian", action="store_true", help="Debian's 3.13, 3.14 anyway")
    args = parser.parse_args(argv)
    if unknown := [v for v in args.versions if v not in VERSIONS]:
        parser.error(f"unknown interpreter {', '.join(unknown)}: choose from {', '.join(VERSIONS)}")
    if sys.platform == "win32":
        parser.error("make pythons needs Linux or macOS (the suite sends POSIX signals)")
    started = time.monotonic()
    # One suite at a time: on two cores, two at once took twice as long each and failed
    # timing-bound tests; Debian's roots download meanwhile.
    with ThreadPoolExecutor(len(DEBIAN)) as roots:
        versions = args.versions or list(VERSIONS)
        said, suites = plan(versions, bool(args.versions), args.debian, roots)
        print("\n".join(said), flush=True)
        results = [run(suite) for suite in suites]
    print("\nLeft out (Chromium, npm, the README's ports; make test runs them):", *LEFT_OUT)
    print("\n".join([*said, *(line for _, line in results)]))
    print(f"make pythons: {time.monotonic() - started:.0f} s")
    if not suites:
        print("make pythons found no interpreter to run the suite under.")
    return 0 if suites and all(code == 0 for code, _ in results) else 1


if __name__ == "__main__":
    run_tool(main, "make pythons")
