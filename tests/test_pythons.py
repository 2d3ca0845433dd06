"""`make pythons` finds the interpreters a laptop has, and says which it could not.

Its real run (the suite under each of them, minutes each) is `make pythons` itself, which
.ci/run runs after `make test`; here, its finding and its plan, with stand-in interpreters.
"""

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from maintainers import pythons

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="make pythons: Linux, macOS")


def fake_python(path: Path, body: str) -> Path:
    """An executable that answers the probe as `body` says (sh)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def answers(release: str) -> str:
    """What a real interpreter prints for the probe: its release and sys.executable."""
    return f'echo "{release} $0"'


def test_a_shim_that_cannot_run_is_passed_over_for_pyenvs_newest_build(tmp_path):
    # pyenv's shim for a version that is not its active one: "command not found", exit 127.
    shims = tmp_path / "shims"
    fake_python(shims / "python3.10", 'echo "pyenv: python3.10: command not found" >&2; exit 127')
    pyenv = tmp_path / "pyenv"
    for build in ("3.10.2", "3.10.13", "3.10.9"):
        fake_python(pyenv / "versions" / build / "bin" / "python3.10", answers(build))
    # Not CPython builds of 3.10: a free-threaded one, a virtualenv, PyPy.
    for other in ("3.10.14t", "3.10.13-envs", "pypy3.10-7.3.17"):
        fake_python(pyenv / "versions" / other / "bin" / "python3.10", answers("3.10.99"))

    found = pythons.find("3.10", path=str(shims), pyenv=pyenv)
    assert found.python == pyenv / "versions" / "3.10.13" / "bin" / "python3.10"
    assert found.release == "3.10.13"


def test_the_first_interpreter_on_path_that_runs_is_taken(tmp_path):
    bin_dir = tmp_path / "bin"
    fake_python(bin_dir / "python3.12", answers("3.12.8"))
    pyenv = tmp_path / "pyenv"
    fake_python(pyenv / "versions" / "3.12.1" / "bin" / "python3.12", answers("3.12.1"))
    found = pythons.find("3.12", path=str(bin_dir), pyenv=pyenv)
    assert (found.python, found.release) == (bin_dir / "python3.12", "3.12.8")


def test_what_was_not_found_says_why(tmp_path):
    # Debian's python3.X without python3.X-venv: no ensurepip.
    bin_dir = tmp_path / "bin"
    no_venv = "echo \"ModuleNotFoundError: No module named 'ensurepip'\" >&2; exit 1"
    fake_python(bin_dir / "python3.13", no_venv)
    found = pythons.find("3.13", path=str(bin_dir), pyenv=tmp_path / "no-pyenv")
    assert found.python is None
    assert (
        found.note == f"{bin_dir / 'python3.13'}: ModuleNotFoundError: No module named 'ensurepip'"
    )
    nothing = pythons.find("3.14", path=str(bin_dir), pyenv=tmp_path / "no-pyenv")
    assert nothing.python is None
    assert nothing.note == f"no python3.14 on PATH or in {tmp_path / 'no-pyenv'}"


def test_one_line_per_version_and_debian_only_for_what_is_missing(monkeypatch):
    here = {"3.10": "3.10.13", "3.11": "3.11.7", "3.12": "3.12.1"}  # no 3.13, no 3.14
    monkeypatch.setattr(pythons, "OWN", "3.11")  # make test's

    def find(version):
        release = here.get(version)
        python = Path(f"/opt/python{version}") if release else None
        return pythons.Found(version, python, release or "", "" if release else "not here")

    monkeypatch.setattr(pythons, "find", find)
    monkeypatch.setattr(pythons, "can_make_roots", lambda: "")
    monkeypatch.setattr(pythons, "make_root", lambda version: Path("/nowhere"))
    with ThreadPoolExecutor(2) as pool:
        said, suites = pythons.plan(list(pythons.VERSIONS), False, False, pool)
    assert len(said) == len(pythons.VERSIONS)
    assert [line.split(":")[0] for line in said] == [f"Python {v}" for v in pythons.VERSIONS]
    assert "Python 3.11: 3.11.7, this venv's (make test runs it)" in said
    assert "Python 3.13: not found (not here): Debian trixie's, in .pythons/trixie-3.13" in said
    ran = [(s.version, s.where) for s in suites]
    debian = [("3.13", "Debian trixie"), ("3.14", "Debian sid")]
    assert ran == [("3.10", "PATH 3.10.13"), ("3.12", "PATH 3.12.1"), *debian]

    # Asked for by name, make test's own runs too; without root a missing 3.14 is only said.
    monkeypatch.setattr(pythons, "can_make_roots", lambda: "a Debian root needs root")
    with ThreadPoolExecutor(2) as pool:
        said, suites = pythons.plan(["3.11", "3.14"], True, False, pool)
    assert said[1] == "Python 3.14: not found (not here); a Debian root needs root"
    assert [s.version for s in suites] == ["3.11"]
