"""`make pythons`: the test suite under Debian's Python 3.13 (trixie) and 3.14 (sid).

Each interpreter lives in a minimal Debian root of its own, made once with debootstrap
in .pythons/ (about a minute each; kept for the next run). In it, from a copy of this
working tree, it runs the dev container's setup line (.devcontainer/devcontainer.json's
postCreateCommand, so that line is proven on a clean Debian), installs the test tools,
and runs the suite, as `make test` does, except the files that need Chromium or npm
(LEFT_OUT: the root has neither). It needs root (debootstrap, chroot, mount) and the
Debian mirror; pip reaches PyPI with the host's CA bundle (PIP_CERT).

Python 3.10 is not packaged by Debian: tests/test_portability.py proves it statically.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from demo_support import stage

REPO = stage.REPO
ROOTS = REPO / ".pythons"
MIRROR = "http://deb.debian.org/debian"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")

# Interpreter: (Debian suite, its packages). git: tests read the tree; tmux: `make present`'s tests.
TARGETS = {
    "3.13": ("trixie", ["python3.13", "python3.13-venv"]),
    "3.14": ("sid", ["python3.14", "python3.14-venv"]),
}
TOOLS = ["git", "tmux", "ca-certificates"]
PIP_NOISE = re.compile(r"\s*(Collecting|Downloading|Using cached|Requirement already|Obtaining|━)")
LEFT_OUT = [
    *("tests/test_page.py", "tests/test_timeline.py", "tests/test_panel.py"),  # Chromium
    *("tests/test_rehearsal.py", "tests/test_slides.py"),  # Chromium, npm
]


def fail(message: str) -> int:
    print(message)
    return 2


def devcontainer() -> dict:
    """.devcontainer/devcontainer.json: JSON with // comment lines."""
    text = (REPO / ".devcontainer" / "devcontainer.json").read_text()
    return json.loads("\n".join(x for x in text.splitlines() if not x.strip().startswith("//")))


def make_root(version: str) -> Path:
    """The Debian root of one interpreter, made once (a half-made one is made again)."""
    suite, packages = TARGETS[version]
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


def copy_tree(root: Path) -> None:
    """This working tree as git sees it (tracked and new files, not ignored ones) at /repo."""
    target = root / "repo"
    shutil.rmtree(target, ignore_errors=True)
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the working tree, not yet in git
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / name, follow_symlinks=False)


def script(version: str) -> str:
    """What runs in the root, in /repo: the dev container's setup, then the suite."""
    ignore = " ".join(f"--ignore={name}" for name in LEFT_OUT)
    return "\n".join(
        [
            "set -e",
            "cd /repo",
            # The tests read `git ls-files` and clone the tree: a repository with one commit.
            "git init -q && git add -A",
            "git -c user.name=pythons -c user.email=pythons@localhost commit -qm tree",
            # `python3` in the dev container's line is this root's interpreter under test.
            f"mkdir -p /opt/pybin && ln -sf /usr/bin/python{version} /opt/pybin/python3",
            devcontainer()["postCreateCommand"],
            ". .venv/bin/activate",
            "python --version",
            "temporal --version",
            "pip install --quiet -r requirements-dev.txt",
            f"python -m pytest -n 3 --dist loadfile -p no:cacheprovider -q {ignore}",
        ]
    )


def run_in_root(version: str, root: Path) -> tuple[int, str]:
    """Mount proc and dev, run the script under chroot, unmount; (status, last lines)."""
    shutil.copy(CA_BUNDLE, root / "etc" / "ssl" / "certs" / "host-ca.crt")
    shutil.copy("/etc/resolv.conf", root / "etc" / "resolv.conf")
    copy_tree(root)
    env = {
        "PATH": "/opt/pybin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "TERM": "xterm-256color",
        "PIP_CERT": "/etc/ssl/certs/host-ca.crt",
        "SSL_CERT_FILE": "/etc/ssl/certs/host-ca.crt",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_DEFAULT_TIMEOUT": "180",
        "CI": os.environ.get("CI", ""),
    }
    mounts = [
        (["mount", "-t", "proc", "proc", root / "proc"], root / "proc"),
        (["mount", "--rbind", "/dev", root / "dev"], root / "dev"),  # ptys for tmux, shm
    ]
    mounted = []
    lines: list[str] = []
    try:
        for cmd, point in mounts:
            subprocess.run(cmd, check=True)
            mounted.append(point)
        with subprocess.Popen(
            ["chroot", root, "/bin/sh", "-c", script(version)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ) as proc:
            for line in proc.stdout:
                lines.append(line.rstrip())
                if not PIP_NOISE.match(line):
                    print(f"[{version}] {line}", end="", flush=True)
        return proc.returncode, lines
    finally:
        for point in reversed(mounted):
            subprocess.run(["umount", "-R", "-l", point], check=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("versions", nargs="*", default=list(TARGETS), help="3.13, 3.14")
    args = parser.parse_args(argv)
    unknown = [v for v in args.versions if v not in TARGETS]
    if unknown:
        return fail(f"Unknown interpreter {', '.join(unknown)}: choose from {', '.join(TARGETS)}.")
    if sys.platform != "linux" or os.geteuid() != 0:
        return fail("make pythons needs Linux and root (debootstrap, chroot): sudo make pythons")
    missing = [tool for tool in ("debootstrap", "chroot", "mount") if shutil.which(tool) is None]
    if missing:
        return fail(f"Missing {', '.join(missing)}: sudo apt-get install debootstrap")

    started = time.monotonic()
    # The roots download in parallel (the network is the wait); the suites run one at a time.
    with ThreadPoolExecutor(len(args.versions)) as pool:
        roots = dict(zip(args.versions, pool.map(make_root, args.versions), strict=True))
    print(f"Debian roots ready in {time.monotonic() - started:.0f} s: {ROOTS}")

    results = {}
    for version, root in roots.items():
        began = time.monotonic()
        code, lines = run_in_root(version, root)
        summary = next((x for x in reversed(lines) if re.search(r"\d+ (passed|failed)", x)), "")
        found = next((x for x in lines if x.startswith("Python ")), f"Python {version}?")
        results[version] = (code, found, summary.strip("= "), time.monotonic() - began)

    print(f"\nLeft out (no Chromium or npm in the roots): {', '.join(LEFT_OUT)}")
    for version, (code, found, summary, seconds) in results.items():
        suite = TARGETS[version][0]
        verdict = "ok" if code == 0 else f"FAILED (exit {code})"
        print(f"{found:<16} Debian {suite:<7} {verdict:<18} {summary or '-'} ({seconds:.0f} s)")
    return 0 if all(code == 0 for code, *_ in results.values()) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (RuntimeError, subprocess.CalledProcessError) as err:
        print(f"make pythons failed: {err}")
        sys.exit(1)
    except KeyboardInterrupt:
        print("\nInterrupted.")
        sys.exit(130)
