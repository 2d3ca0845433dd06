"""The README's presenter's guide, read as a script.

The guide marks what the rehearsal needs, right beside what a presenter reads:

* ``<!-- run: ID in terminal N -->`` before a ``sh`` block: the lines to type in terminal N
  (``, offline only`` after N: only in the offline mode; ``terminal *``: in every terminal);
* ``<!-- expect: NAME -->`` before a ``text`` block: what a terminal prints;
* ``<!-- page: NAME -->`` before a ``>`` quote: what the page says at that moment;
* ``<!-- history: NAME -->`` before a ``text`` block: a run's event history, as the Web UI
  lists it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


@dataclass(frozen=True)
class Typed:
    id: str
    terminal: str  # "1".."5", or "*" for every terminal
    offline_only: bool
    lines: tuple[str, ...]


def _text() -> str:
    return README.read_text()


def typed_blocks() -> dict[str, Typed]:
    found = re.finditer(
        r"<!-- run: ([\w-]+) in terminal ([\d*])(, offline only)? -->\n```sh\n(.*?)\n```",
        _text(),
        re.S,
    )
    blocks = {}
    for m in found:
        assert m[1] not in blocks, f"two run blocks are called {m[1]!r}"
        blocks[m[1]] = Typed(m[1], m[2], bool(m[3]), tuple(m[4].splitlines()))
    return blocks


def typed(block_id: str) -> Typed:
    blocks = typed_blocks()
    assert block_id in blocks, f"README.md has no <!-- run: {block_id} ... --> block"
    return blocks[block_id]


def expected_output(name: str) -> list[str]:
    found = re.search(rf"<!-- expect: {re.escape(name)} -->\n```text\n(.*?)\n```", _text(), re.S)
    assert found, f"README.md has no output block tagged {name!r}"
    return found[1].splitlines()


def page_text(name: str) -> list[str]:
    """The lines of a `<!-- page: NAME -->` quote, without its blank quote lines."""
    found = re.search(rf"<!-- page: {re.escape(name)} -->\n((?:>.*\n)+)", _text())
    assert found, f"README.md has no page quote tagged {name!r}"
    lines = [line.removeprefix(">").strip() for line in found[1].splitlines()]
    return [line for line in lines if line]


def history(name: str) -> list[str]:
    """A history block, or the one it names: `<!-- history: demo-3 = demo-2 -->`."""
    same = re.search(rf"<!-- history: {re.escape(name)} = ([\w-]+) -->", _text())
    if same:
        return history(same[1])
    found = re.search(rf"<!-- history: {re.escape(name)} -->\n```text\n(.*?)\n```", _text(), re.S)
    assert found, f"README.md has no history block tagged {name!r}"
    return found[1].splitlines()


def powershell_table(text: str | None = None) -> dict[str, list[str]]:
    """The table of PowerShell forms: each bash line, and the PowerShell lines (code spans)
    for it, in the table's order."""
    text = _text() if text is None else text
    table = text.split("<!-- powershell -->\n", 1)[1].split("\n\n", 1)[0]
    rows = {}
    for row in table.splitlines()[2:]:
        left, right = row.strip("|").split(" | ", 1)
        rows[left.strip().strip("`")] = re.findall(r"`([^`]+)`", right)
    return rows


def code_in_order() -> list[str]:
    """Code blocks and code spans, in the order a reader meets them."""
    return [m[1] or m[2] for m in re.finditer(r"```\w*\n(.*?)```|`([^`\n]+)`", _text(), re.S)]


def make_targets() -> set[str]:
    """The make targets the README shows (`make T ...` in a code span or a block)."""
    return {t for code in code_in_order() for t in re.findall(r"^make ([a-z][\w-]*)", code, re.M)}


def scripts_run(pattern: str = r"\bpython [\w/.-]+\.py") -> list[tuple[Path, str]]:
    """(folder, command) of each `python SCRIPT.py ...` the README runs (or each command
    matching ``pattern``), in the folder the reader's last `cd` left them in (a top folder
    of the repository counts from its root)."""
    repo = README.parent
    cwd, found = repo, []
    for snippet in code_in_order():
        for command in re.split(r"\n|&&", snippet):
            command = command.strip()
            if match := re.match(r"cd (\S+)$", command):
                target = match[1]
                cwd = repo / target if (repo / target).is_dir() else (cwd / target).resolve()
                assert cwd.is_dir(), f"cd {target}: no such folder"
            if re.search(pattern, command):
                found.append((cwd, command[command.index("python ") :]))
    return found


def ui_event_name(event: dict) -> str:
    """An event as the Web UI lists it: "Timer Fired", "Activity Task Scheduled: get_ip"."""
    name = event["eventType"].removeprefix("EVENT_TYPE_").replace("_", " ").title()
    scheduled = event.get("activityTaskScheduledEventAttributes")
    return f"{name}: {scheduled['activityType']['name']}" if scheduled else name


# --- Sample outputs, compared line by line with what a script printed ------------------


def normalize(line: str) -> str:
    """What may differ between the README's sample output and a real run."""
    line = re.sub(r"\(\S+@\S+\)$", "(<identity>)", line)  # worker identity: pid@host
    line = re.sub(r"\(run [0-9a-f-]{36}\)", "(run <run id>)", line)  # demo 6's failed run
    return re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:<port>", line)


def assert_matches_readme(name: str, lines: list[str]) -> None:
    expected = [normalize(line) for line in expected_output(name)]
    assert [normalize(line) for line in lines] == expected
