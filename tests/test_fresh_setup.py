"""A laptop nobody prepared: after exactly the README's Setup, every command the README gives
works, and none prints a traceback.

In a copy of this working tree made a git repository of its own (what a clone of it holds),
in a shell with no virtual environment active, the README's Setup (its `<!-- install -->`
block: a venv and `pip install -r requirements.txt`, nothing else) is typed in bash. Then, in
that environment, the README's commands, read from the README itself:

* every row of its PowerShell table, in its Linux form: a `python -m ...` form runs as it
  is; `source offline.sh` and `temporal ...` in their bash form; the Setup's own lines are
  the Setup; the deck's rows are npm's (tests/test_slides.py builds the deck); a row of
  another kind fails here until this file says how to run it;
* the presenter or maintainers module behind each `make` target the README shows;
* the guide's own terminals: each `python SCRIPT.py` where the guide runs it (imported: a
  real run would start a server or a count), each `temporal ...` line.

Each answers `--help` at once (it starts nothing), and the two that only look run for real:
`make check` (on free ports) and `make reset` (not in a terminal, without --yes: it says what
it would do and does nothing). A row that begins with `pip install -r requirements-dev.txt`
is a maintainer's: before that install, its tools say in one line what to install and exit
non-zero; after it (the file's last tests), they answer `--help` too. The install leaves
`git status` clean.
"""

from __future__ import annotations

import ast
import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

import readme_script
from maintainers.harness import REPO, free_port
from terminals import clean_env

README = (REPO / "README.md").read_text()
MAKEFILE = (REPO / "Makefile").read_text()
DEV_INSTALL = "pip install -r requirements-dev.txt"
NPM_FORMS = ("cd slides", "npm ")  # the deck's rows: npm's, not the venv's
TIMEOUT = 60  # seconds for a --help: it starts nothing, so it answers at once
TRACEBACK = re.compile(r"^Traceback \(most recent call last\):", re.M)


@dataclass(frozen=True)
class Command:
    line: str  # as a presenter types it on Linux or macOS
    where: str  # the README's row, make target or terminal that gives it
    needs_dev: bool = False  # its row begins with pip install -r requirements-dev.txt
    folder: str = "."  # where it is typed, in the repository

    def __str__(self) -> str:
        return self.line if self.folder == "." else f"{self.folder}: {self.line}"

    def checked_as(self) -> str:
        """What the test types: --help (it starts nothing); a script of the guide, which
        would start a server or a count, imported; `source` as it is."""
        if self.line.startswith("source ") or self.runs_tests():
            return self.line
        if script := re.match(r"python ([\w.-]+)\.py\b", self.line):
            return f"python -c 'import {script[1]}'"
        return f"{self.line.split(' >')[0]} --help"

    def runs_tests(self) -> bool:
        """The guide's replay tests (demo 6): run as they are, in about two seconds."""
        return self.where == "the guide" and self.line.startswith("python -m pytest ")

    def prints_usage(self) -> bool:
        return self.checked_as().endswith(" --help")


def setup_lines() -> list[str]:
    return re.search(r"<!-- install -->\n```sh\n(.*?)\n```", README, re.S)[1].splitlines()


def table_commands() -> list[Command]:
    """Every row of the PowerShell table, as the command it runs on Linux or macOS."""
    commands = []
    for bash, forms in readme_script.powershell_table(README).items():
        where = f"README row `{bash}`"
        needs_dev = bool(forms) and forms[0] == DEV_INSTALL
        rest = forms[1:] if needs_dev else forms
        if needs_dev or any(form.startswith("python -m ") for form in rest):
            commands += [Command(form, where, needs_dev) for form in rest]
        elif bash in setup_lines():
            continue  # the Setup itself, typed by the fixture
        elif rest and all(form.startswith(NPM_FORMS) for form in rest):
            continue  # npm, not the venv: tests/test_slides.py
        elif bash.startswith("source "):  # typed in the folder that holds the script
            script = bash.split()[1]
            (found,) = [
                p
                for p in REPO.rglob(script)
                if not {".venv", ".pythons"} & set(p.relative_to(REPO).parts)
            ]
            commands.append(Command(bash, where, folder=str(found.parent.relative_to(REPO))))
        elif bash.startswith("temporal "):
            commands.append(Command(bash, where))
        else:
            raise AssertionError(f"tests/test_fresh_setup.py does not know how to run {where}")
    return commands


def make_commands() -> list[Command]:
    """The presenter or maintainers module behind each make target the README shows."""
    commands = []
    for target in sorted(readme_script.make_targets()):
        recipe = re.search(rf"^{re.escape(target)}:.*\n((?:\t.*\n)*)", MAKEFILE, re.M)
        assert recipe, f"the README shows make {target}, which the Makefile lacks"
        for module in re.findall(r"-m ((?:presenter|maintainers)\.\w+)", recipe[1]):
            commands.append(Command(f"python -m {module}", f"make {target}"))
    return commands


def guide_commands() -> list[Command]:
    """The guide's own terminals: each script it runs, where it runs it, and `temporal`."""
    commands = [
        Command(line, "the guide", folder=str(cwd.relative_to(REPO)))
        for pattern in (r"\bpython [\w/.-]+\.py", r"\bpython -m pytest\b")  # demo 6's
        for cwd, line in readme_script.scripts_run(pattern)
    ]
    for code in readme_script.code_in_order():
        lines = [line.split("  #")[0].strip() for line in code.splitlines()]
        commands += [Command(line, "the guide") for line in lines if line.startswith("temporal ")]
    return commands


def readme_commands() -> list[Command]:
    """Each once (by what the test types, and where): the table's reading first."""
    found: dict[tuple[str, str], Command] = {}
    for command in [*table_commands(), *make_commands(), *guide_commands()]:
        key = (command.checked_as().split(" --help")[0], command.folder)
        found.setdefault(key, command)
    return list(found.values())


COMMANDS = readme_commands()
PLAIN = [c for c in COMMANDS if not c.needs_dev]
MAINTAINERS = [c for c in COMMANDS if c.needs_dev]


def test_the_list_of_commands_is_the_readmes():
    """The list the tests below run: read from the README, not written here."""
    shown = {str(c): c.where for c in COMMANDS}
    assert shown["python -m presenter.reset --yes"] == "README row `make reset YES=1`"
    assert shown["python -m maintainers.pythons"] == "make pythons"  # not in the table
    assert shown["hello-ip: python worker.py"] == "the guide"
    assert shown["hello-ip: python -m pytest ../tests/test_replay.py -q"] == "the guide"
    assert shown["hello-ip: source offline.sh"] == "README row `source offline.sh`"
    assert "temporal server start-dev --ui-port 8080 --db-filename temporal.db" in shown
    assert [c for c in MAINTAINERS if "maintainers." in c.line], "a maintainer's tool"
    assert len(COMMANDS) >= 20


# --- The fresh laptop ------------------------------------------------------------------


def copy_as_a_clone(dest: Path) -> Path:
    """The working tree's files (tracked, and new ones not ignored) in a git repository of
    their own: what a clone of it, once committed, holds."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.split("\0")  # fmt: skip
    for name in filter(None, listed):
        if (REPO / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)
    git = ["git", "-c", "user.name=fresh", "-c", "user.email=fresh@example.com"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "a fresh clone"]):
        subprocess.run([*git, *args], cwd=dest, check=True, capture_output=True)
    return dest


@dataclass
class Ran:
    code: int
    output: str
    seconds: float


def run(line: str, repo: Path, folder: str = ".", env=None, timeout: float = TIMEOUT) -> Ran:
    """A line typed in bash in a fresh terminal of the clone, activated as the README says.
    On a timeout, everything it started goes with it (its own process group)."""
    script = f"source .venv/bin/activate\ncd {shlex.quote(folder)}\n{line}\n"
    started = time.monotonic()
    proc = subprocess.Popen(
        ["bash", "-c", script],
        cwd=repo,
        env={**clean_env(Path(sys.prefix)), "NO_COLOR": "1", **(env or {})},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        pytest.fail(f"{line!r} still ran after {timeout} s (did --help start it?):\n{output}")
    return Ran(proc.returncode, output, time.monotonic() - started)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """The clone, after exactly the README's Setup, typed in bash with no venv active."""
    repo = copy_as_a_clone(tmp_path_factory.mktemp("fresh-laptop"))
    started = time.monotonic()
    setup = subprocess.run(
        ["bash", "-e", "-c", "\n".join(setup_lines())],
        cwd=repo, env=clean_env(Path(sys.prefix)), stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    print(f"The README's Setup took {time.monotonic() - started:.0f} s")
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert not TRACEBACK.search(setup.stdout + setup.stderr)
    yield repo
    stop_what_runs_from(repo)


def stop_what_runs_from(repo: Path) -> None:
    """A command that started a server when asked for --help (a test failed) may have left it
    in a session of its own, out of reach of its process group: whatever runs from the
    clone's venv, or in the clone, goes."""
    import psutil

    for process in psutil.process_iter(["cmdline", "cwd"]):
        argv, cwd = process.info["cmdline"] or [""], process.info["cwd"] or "/"
        if Path(argv[0]).is_relative_to(repo) or Path(cwd).is_relative_to(repo):
            with contextlib.suppress(psutil.Error):
                process.kill()


def test_the_setup_installs_this_clone_and_leaves_it_clean(fresh):
    """`-e .` points at the clone (the commands below run its code), and the install writes
    nothing that git would see: no build output is committed, nor left unignored."""
    where = run('python -c "import demo_support; print(demo_support.__file__)"', fresh)
    assert where.output.strip() == str(fresh / "demo_support" / "__init__.py"), where.output
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=fresh, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert status == "", f"pip install -r requirements.txt left the checkout modified:\n{status}"
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True)
    assert [f for f in tracked.stdout.splitlines() if ".egg-info/" in f] == []


def no_traceback(ran: Ran, line: str) -> None:
    assert not TRACEBACK.search(ran.output), f"{line}:\n{ran.output}"


@pytest.mark.parametrize("command", PLAIN, ids=str)
def test_every_command_works_after_the_plain_setup(fresh, command):
    line = command.checked_as()
    ran = run(line, fresh, command.folder)
    no_traceback(ran, line)
    assert ran.code == 0, f"{line} ({command.where}) exited {ran.code}:\n{ran.output}"
    if command.prints_usage():
        assert "usage:" in ran.output.lower(), f"{line} printed no usage:\n{ran.output}"
    elif command.runs_tests():
        assert re.search(r"^\d+ passed in ", ran.output, re.M), f"{line}:\n{ran.output}"
    else:
        assert ran.output == "", f"{line}:\n{ran.output}"


def table_form(bash: str) -> str:
    """The one `python -m` form of a row of the PowerShell table."""
    (form,) = [c.line for c in COMMANDS if c.where == f"README row `{bash}`"]
    return form


def test_make_check_says_ready_after_the_plain_setup(fresh):
    """For real (it only looks), on free ports: the packages as pinned, the CLI there."""
    ports = ["--server-port", "--ui-port", "--app-port", "--standin-port"]
    flags = " ".join(f"{flag} {free_port()}" for flag in ports)
    line = f"{table_form('make check')} {flags} --net-timeout 1"
    ran = run(line, fresh)
    no_traceback(ran, line)
    assert ran.code == 0, ran.output
    assert re.search(r"^\[ OK \] packages as pinned in requirements\.txt", ran.output, re.M)
    assert re.search(r"^\[ OK \] temporal CLI", ran.output, re.M), ran.output
    assert ran.output.rstrip().splitlines()[-1].startswith("Ready"), ran.output


def test_make_reset_looks_and_changes_nothing_after_the_plain_setup(fresh):
    """For real, as make runs it (not in a terminal, no --yes), with a private tmux server and
    no Temporal there: it looks at this clone's processes and database, and acts on nothing."""
    line = f"{table_form('make reset')} --tmux-socket fresh-setup-{os.getpid()}"
    (fresh / "temporal.db").write_bytes(b"")  # something for it to show
    try:
        ran = run(line, fresh, env={"TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}"})
    finally:
        shown = (fresh / "temporal.db").exists()
        (fresh / "temporal.db").unlink(missing_ok=True)
    no_traceback(ran, line)
    assert "make reset will:" in ran.output and "temporal.db" in ran.output, ran.output
    assert "nobody can say yes" in ran.output and ran.code == 1, ran.output
    assert shown, "without a yes, make reset removes nothing"


# --- A maintainer's tools: one line before requirements-dev.txt, then they work ----------


def test_a_maintainers_tool_says_what_to_install_in_one_line(fresh):
    tools = [c for c in MAINTAINERS if "maintainers." in c.line]
    assert tools
    for command in tools:
        line = f"{command.line} --help"
        ran = run(line, fresh)
        no_traceback(ran, line)
        assert ran.code != 0, f"{line}:\n{ran.output}"
        lines = ran.output.strip().splitlines()
        assert len(lines) == 1 and DEV_INSTALL in lines[0], f"{line}:\n{ran.output}"


@pytest.fixture(scope="module")
def fresh_dev(fresh) -> Path:
    """The same clone after the install the maintainer's rows begin with: the tests that use
    it come after every test of the plain Setup (pytest runs a file in order)."""
    ran = run(DEV_INSTALL, fresh, timeout=600)
    assert ran.code == 0 and not TRACEBACK.search(ran.output), ran.output
    print(f"{DEV_INSTALL} took {ran.seconds:.0f} s")
    return fresh


@pytest.mark.parametrize("command", MAINTAINERS, ids=str)
def test_a_maintainers_command_answers_help_after_the_dev_install(fresh_dev, command):
    line = command.checked_as()
    ran = run(line, fresh_dev, command.folder)
    no_traceback(ran, line)
    assert ran.code == 0, f"{line} ({command.where}) exited {ran.code}:\n{ran.output}"
    assert "usage:" in ran.output.lower(), f"{line} printed no usage:\n{ran.output}"


# --- A .venv older than requirements.txt: one line, not a traceback -----------------------


def pinned(path: Path) -> set[str]:
    names = set()
    for raw in path.read_text().splitlines():
        line = raw.split("#")[0].strip()
        if line and not line.startswith("-"):
            names.add(re.split(r"[=<>;\[ ]", line)[0].lower())
    return names


def third_party_imports(module: Path) -> set[str]:
    """The top-level packages a module imports when it starts (not inside a function)."""
    found = set()
    for node in ast.parse(module.read_text()).body:
        for inner in [node, *(ast.walk(node) if isinstance(node, ast.Try) else [])]:
            if isinstance(inner, ast.Import):
                found |= {alias.name.split(".")[0] for alias in inner.names}
            elif isinstance(inner, ast.ImportFrom) and inner.level == 0 and inner.module:
                found.add(inner.module.split(".")[0])
    return (
        found
        - set(sys.stdlib_module_names)
        - {"demo_support", "presenter", "maintainers", "__future__"}
    )


def guarded_imports() -> list[tuple[str, str, str]]:
    """(module, package, the requirements file that pins it) for each command module's own
    third-party import, but those the package itself needs (demo_support/__init__.py)."""
    package_needs = third_party_imports(REPO / "demo_support" / "__init__.py")
    demos, dev = pinned(REPO / "requirements.txt"), pinned(REPO / "requirements-dev.txt")
    cases = []
    for path in sorted([*REPO.glob("presenter/*.py"), *REPO.glob("maintainers/*.py")]):
        if '__name__ == "__main__"' not in path.read_text():
            continue
        for package in sorted(third_party_imports(path) - package_needs):
            file = "requirements.txt" if package in demos else "requirements-dev.txt"
            assert package in demos | dev, f"{path.name} imports {package}, pinned nowhere"
            cases.append((f"{path.parent.name}.{path.stem}", package, file))
    return cases


@pytest.mark.parametrize(("module", "package", "file"), guarded_imports())
def test_a_missing_package_is_one_line_naming_the_requirements_file(module, package, file):
    code = (
        f"import runpy, sys; sys.modules[{package!r}] = None; "
        f"runpy.run_module({module!r}, run_name='__main__')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, "--help"],
        cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT,
    )  # fmt: skip
    output = out.stdout + out.stderr
    assert not TRACEBACK.search(output) and out.returncode != 0, output
    lines = output.strip().splitlines()
    assert len(lines) == 1 and f"pip install -r {file}" in lines[0], output
    assert package in lines[0], output
