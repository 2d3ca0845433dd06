"""`make pythons`: the test suite under every Python 3.10 to 3.14 this machine has.

Each runs the dev container's setup line, then the suite as `make test` does but LEFT_OUT, in
a copy of this tree (.pythons/tree-3.X). Interpreters: `python3.X` on PATH, then pyenv's
(newest patch first), this venv's left out (`make test` runs it); a 3.13 or 3.14 not found is
Debian's, in a minimal root made once by debootstrap in .pythons/ (Linux, as root).
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
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from demo_support import run_tool
from presenter import stage

REPO = stage.REPO
ROOTS = REPO / ".pythons"
VERSIONS = ("3.10", "3.11", "3.12", "3.13", "3.14")
OWN = f"{sys.version_info[0]}.{sys.version_info[1]}"  # this venv's: make test runs the suite
MIRROR = "http://deb.debian.org/debian"
# Debian's interpreters, for a version not found here: (suite, its packages).
DEBIAN = {
    "3.13": ("trixie", ["python3.13", "python3.13-venv"]),
    "3.14": ("sid", ["python3.14", "python3.14-venv"]),
}
TOOLS = ["git", "tmux", "ca-certificates"]  # git: tests read the tree; tmux: make present's
# pip's progress (and warnings about a local index that is not there) is not shown.
PIP_NOISE = re.compile(
    r"\s*(━|Collecting |Downloading |Using cached |Requirement already |Obtaining |Processing "
    r"|Looking in |Building wheels |Successfully built |WARNING: Location |Installing build "
    r"|Checking if build |Getting requirements |Preparing |Building editable |Created wheel "
    r"|Stored in directory)|\n"
)
LEFT_OUT = [
    *("tests/test_page.py", "tests/test_timeline.py", "tests/test_panel.py"),  # Chromium
    *("tests/test_one_reading.py", "tests/test_page_view.py"),  # Chromium too
    *("tests/test_rehearsal.py", "tests/test_slides.py"),  # Chromium, npm; the README's ports
]
# What the venv of `make pythons` itself must not hand down to the suites it starts.
NOT_INHERITED = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")
ROOT_ENV = {
    "PATH": "/opt/pybin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
    "HOME": "/root",
    "LANG": "C.UTF-8",
    "TERM": "xterm-256color",
    "PIP_CERT": "/etc/ssl/certs/host-ca.crt",
    "SSL_CERT_FILE": "/etc/ssl/certs/host-ca.crt",
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    "PIP_DEFAULT_TIMEOUT": "180",
}


def devcontainer() -> dict:
    """.devcontainer/devcontainer.json: JSON with // comment lines."""
    text = (REPO / ".devcontainer" / "devcontainer.json").read_text()
    return json.loads("\n".join(x for x in text.splitlines() if not x.strip().startswith("//")))


# --- Finding the interpreters ------------------------------------------------------------

# The release, and the interpreter itself (a pyenv shim execs the build it stands for).
PROBE = "import sys, venv, ensurepip; print('%d.%d.%d' % sys.version_info[:3], sys.executable)"


def pyenv_root() -> Path:
    return Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")


def candidates(version: str, path: str | None = None, pyenv: Path | None = None) -> list[Path]:
    """Where a `python3.X` may be: on PATH, then pyenv's CPython builds, newest first."""
    on_path = shutil.which(f"python{version}", path=path)
    builds = re.compile(rf"{re.escape(version)}\.(\d+)")  # not 3.13.0t, pypy or a virtualenv
    named = [
        (int(m[1]), d)
        for d in ((pyenv or pyenv_root()) / "versions").glob(f"{version}.*")
        if (m := builds.fullmatch(d.name))
    ]
    pyenvs = [build / "bin" / f"python{version}" for _, build in sorted(named, reverse=True)]
    return [Path(on_path), *pyenvs] if on_path else pyenvs


@dataclass(frozen=True)
class Found:
    version: str  # 3.10
    python: Path | None  # None: not found here
    release: str = ""  # 3.10.13
    note: str = ""  # why it was not found

    @property
    def source(self) -> str:
        inside = self.python and pyenv_root() in self.python.resolve().parents
        return "pyenv" if inside else "PATH"


def find(version: str, path: str | None = None, pyenv: Path | None = None) -> Found:
    """The first candidate that runs, is that version and can make a venv (a pyenv shim of
    a version not active says "command not found"; Debian's without -venv has no ensurepip)."""
    tried = []
    for python in candidates(version, path, pyenv):
        try:
            out = subprocess.run([python, "-c", PROBE], capture_output=True, text=True, timeout=60)
        except OSError as err:
            tried.append(f"{python}: {err.strerror}")
            continue
        release, _, executable = out.stdout.strip().partition(" ")
        if out.returncode == 0 and release.startswith(version + ".") and executable:
            return Found(version, Path(executable), release)
        last = (out.stderr.strip().splitlines() or [release or f"exit {out.returncode}"])[-1]
        tried.append(f"{python}: {last}")
    where = "; ".join(tried) or f"no python{version} on PATH or in {pyenv or pyenv_root()}"
    return Found(version, None, note=where)


# --- Where a suite runs: a copy of the tree, on this machine or in a Debian root ----------


def copy_tree(target: Path) -> None:
    """This working tree as git sees it (tracked and new files, not ignored ones) at target,
    instead of what was there, but its .venv (made by the same interpreter)."""
    for old in target.iterdir() if target.exists() else ():
        if old.name == ".venv":
            continue
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old)
        else:
            old.unlink()
    git = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    for name in subprocess.run(git, cwd=REPO, capture_output=True, check=True).stdout.split(b"\0"):
        source = REPO / name.decode()
        if name and (source.exists() or source.is_symlink()):  # not deleted, not yet in git
            (target / name.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name.decode(), follow_symlinks=False)


RERUN = "make pythons: the failed tests once more, alone"


def script(repo: str, python3: str) -> str:
    """What runs in the copy: the dev container's setup, its `python3` the interpreter under
    test (first on PATH, in a folder of its own), then the suite."""
    ignore = " ".join(f"--ignore={name}" for name in LEFT_OUT)
    return "\n".join(
        [
            "set -e",
            f"cd {shlex.quote(repo)}",
            # The tests read `git ls-files` and clone the tree: a repository with one commit.
            "git init -q && git add -A",
            "git -c user.name=pythons -c user.email=pythons@localhost -c commit.gpgsign=false"
            " commit -qm tree",
            f'test "$(command -v python3)" = {shlex.quote(python3)}',
            devcontainer()["postCreateCommand"],
            ". .venv/bin/activate",
            "python --version",
            "temporal --version",
            "pip install --quiet -r requirements-dev.txt",
            # A timing-bound test can miss its bound on a loaded machine: the failed ones
            # run once more, alone, and the summary says so; a real failure fails twice.
            f"python -m pytest -n 3 --dist loadfile -q {ignore} || {{ echo {RERUN!r};"
            f" python -m pytest --last-failed --last-failed-no-failures none -q {ignore}; }}",
        ]
    )


def stream(version: str, cmd: list, env: dict, lines: list[str]) -> int:
    """Run cmd, printing its lines with the version in front (pip's progress left out)."""
    with subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as proc:
        for line in proc.stdout:
            lines.append(line.rstrip())
            if not PIP_NOISE.match(line):
                print(f"[{version}] {line}", end="", flush=True)
    return proc.returncode


def run_here(found: Found, lines: list[str]) -> int:
    """The suite in .pythons/tree-3.X, under an interpreter of this machine."""
    tree, bin_dir = ROOTS / f"tree-{found.version}", ROOTS / f"bin-{found.version}"
    bin_dir.mkdir(parents=True, exist_ok=True)
    made_by, interpreter = bin_dir / "venv-made-by", f"{found.python} {found.release}"
    if not made_by.exists() or made_by.read_text() != interpreter:
        shutil.rmtree(tree / ".venv", ignore_errors=True)
        made_by.write_text(interpreter)
    copy_tree(tree)
    # A script, not a link: the venv's home is then the interpreter's own folder.
    python3 = bin_dir / "python3"
    python3.write_text(f'#!/bin/sh\nexec {shlex.quote(str(found.python))} "$@"\n')
    python3.chmod(0o755)
    ours = Path(sys.executable).parent
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and Path(p) != ours]
    env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    env["PATH"] = os.pathsep.join([str(bin_dir), *path])
    return stream(found.version, ["/bin/sh", "-c", script(str(tree), str(python3))], env, lines)


def can_make_roots() -> str:
    """Why a Debian root cannot be made here ('' when it can)."""
    if sys.platform != "linux" or os.geteuid() != 0:
        return "a Debian root needs Linux and root: sudo make pythons"
    missing = [tool for tool in ("debootstrap", "chroot", "mount") if shutil.which(tool) is None]
    if missing:
        return f"a Debian root needs {', '.join(missing)}: sudo apt-get install debootstrap"
    return ""


def make_root(version: str) -> Path:
    """The Debian root of one interpreter, made once (a half-made one is made again)."""
    suite, packages = DEBIAN[version]
    root = ROOTS / f"{suite}-{version}"
    if (root / "usr" / "bin" / f"python{version}").exists():
        return root
    partial = root.with_name(root.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    log = partial.with_suffix(".log")
    include = ",".join(packages + TOOLS)
    cmd = ["debootstrap", "--variant=minbase", f"--include={include}", suite, partial, MIRROR]
    with log.open("w") as out:
        if subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT).returncode != 0:
            tail = log.read_text().strip().splitlines()[-3:]
            raise RuntimeError(f"debootstrap {suite} failed ({log}): " + " | ".join(tail))
    partial.rename(root)
    return root


def run_in_root(version: str, root: Path, lines: list[str]) -> int:
    """Mount proc and dev, run the script under chroot, unmount."""
    shutil.copy("/etc/ssl/certs/ca-certificates.crt", root / "etc/ssl/certs/host-ca.crt")
    shutil.copy("/etc/resolv.conf", root / "etc" / "resolv.conf")
    copy_tree(root / "repo")
    python3 = root / "opt" / "pybin" / "python3"
    python3.parent.mkdir(parents=True, exist_ok=True)
    python3.unlink(missing_ok=True)
    python3.symlink_to(f"/usr/bin/python{version}")
    with contextlib.ExitStack() as mounted:  # dev: ptys for tmux, shm
        for how in (["-t", "proc", "proc", root / "proc"], ["--rbind", "/dev", root / "dev"]):
            subprocess.run(["mount", *how], check=True)
            mounted.callback(subprocess.run, ["umount", "-R", "-l", how[-1]], check=False)
        cmd = ["chroot", root, "/bin/sh", "-c", script("/repo", "/opt/pybin/python3")]
        return stream(version, cmd, {**ROOT_ENV, "CI": os.environ.get("CI", "")}, lines)


# --- The plan, and the runs ---------------------------------------------------------------


class Suite(NamedTuple):
    version: str
    where: str  # "pyenv 3.10.13" or "Debian sid"
    start: Callable[[list[str]], int]  # (the lines it printed) -> its exit status


def plan(
    versions: list[str], explicit: bool, debian: bool, pool: ThreadPoolExecutor
) -> tuple[list[str], list[Suite]]:
    """One line per version (found where, or why not), and the suites to run."""
    said, suites = [], []
    no_roots = can_make_roots()
    for version in versions:
        asked = debian and version in DEBIAN
        found = Found(version, None, note="--debian") if asked else find(version)
        if found.python and version == OWN and not explicit:
            said.append(f"Python {version}: {found.release}, this venv's (make test runs it)")
        elif found.python:
            said.append(f"Python {version}: {found.release}, {found.python}")
            where = f"{found.source} {found.release}"
            suites.append(Suite(version, where, lambda lines, f=found: run_here(f, lines)))
        elif version in DEBIAN and not no_roots:
            suite = DEBIAN[version][0]
            why = "--debian" if asked else f"not found ({found.note})"
            said.append(f"Python {version}: {why}: Debian {suite}'s, in .pythons/{suite}-{version}")
            root: Future = pool.submit(make_root, version)  # the download overlaps the suites
            run = lambda lines, v=version, r=root: run_in_root(v, r.result(), lines)  # noqa: E731
            suites.append(Suite(version, f"Debian {suite}", run))
        else:
            extra = f"; {no_roots}" if version in DEBIAN else ""
            said.append(f"Python {version}: not found ({found.note}){extra}")
    # Debian's last: their roots download while the suites of this machine run.
    return said, sorted(suites, key=lambda s: s.where.startswith("Debian"))


def counts(lines: list[str]) -> str:
    """pytest's last count line, without its time."""
    last = next((x for x in reversed(lines) if re.search(r"\d+ (passed|failed)", x)), "")
    return re.sub(r" in [\d.]+s.*", "", last.strip("= "))


def run(suite: Suite) -> tuple[int, str]:
    """The suite's exit status, and its line of the summary."""
    began, lines = time.monotonic(), []
    try:
        code = suite.start(lines)
    except (RuntimeError, OSError, subprocess.CalledProcessError) as err:
        lines.append(f"make pythons: {err}")
        print(f"[{suite.version}] {err}", flush=True)
        code = 1
    summary = counts(lines)
    if RERUN in lines:
        summary = f"{counts(lines[: lines.index(RERUN)])}; re-run: {summary}"
    found = f"Python {suite.version} ({suite.where})"
    verdict = "ok" if code == 0 else f"FAILED (exit {code})"
    return code, f"{found:<30} {verdict:<16} {summary or '-'} ({time.monotonic() - began:.0f} s)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("versions", nargs="*", help=f"some of {', '.join(VERSIONS)} (all)")
    parser.add_argument(
        "--debian", action="store_true", help="3.13 and 3.14: Debian's, even where one is found"
    )
    # Measured on two cores: two suites at once took twice as long each (about 620 s, not 310)
    # and ten timing-bound tests failed in each; one at a time is as fast, and green.
    parser.add_argument("--jobs", type=int, default=1, help="suites run at once (1)")
    args = parser.parse_args(argv)
    if unknown := [v for v in args.versions if v not in VERSIONS]:
        print(f"Unknown interpreter {', '.join(unknown)}: choose from {', '.join(VERSIONS)}.")
        return 2
    if sys.platform == "win32":
        print("make pythons needs Linux or macOS (the suite sends POSIX signals).")
        return 2
    started = time.monotonic()
    with ThreadPoolExecutor(len(DEBIAN)) as roots, ThreadPoolExecutor(max(1, args.jobs)) as pool:
        said, suites = plan(
            args.versions or list(VERSIONS), bool(args.versions), args.debian, roots
        )
        print("\n".join(said), flush=True)
        if not suites:
            print("make pythons found no interpreter to run the suite under.")
            return 1
        results = list(pool.map(run, suites))
    print(
        f"\nLeft out (Chromium, npm, the README's ports; make test runs them): {' '.join(LEFT_OUT)}"
    )
    print("\n".join(said))
    print("\n".join(line for _, line in results))
    print(f"make pythons: {time.monotonic() - started:.0f} s")
    return 0 if all(code == 0 for code, _ in results) else 1


if __name__ == "__main__":
    run_tool(main, "make pythons")
