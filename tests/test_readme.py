"""The README is a script that must be true: its paths, line numbers, make targets,
scripts and sample outputs are checked against the repository.

Sample outputs (blocks tagged `<!-- expect: NAME -->`) are compared with what the real
scripts print by the behavioural tests; this file checks that each tag has such a test.
"""

import os
import re
import subprocess
import sys

import readme_script as guide
from maintainers.harness import REPO

README = (REPO / "README.md").read_text()
TESTS = REPO / "tests"
DEMO_DIRS = [REPO, REPO / "durable-vs-volatile-execution", REPO / "hello-ip"]
# Names the README uses that are not files of this repository: the dev server's
# database and make rehearse's screenshots (created at run time), Temporal's own config
# file, a placeholder.
NOT_REPO_FILES = {"temporal.db", "temporal.toml", "file.json", "rehearsal/"}


def code_spans() -> list[str]:
    without_blocks = re.sub(r"```.*?```", "", README, flags=re.S)
    return re.findall(r"`([^`\n]+)`", without_blocks)


def code_blocks() -> list[str]:
    return re.findall(r"```\w*\n(.*?)```", README, flags=re.S)


def looks_like_path(token: str) -> bool:
    if " " in token or ":" in token or token.startswith(("/", "-", ".")):
        return False
    if any(c in token for c in "{}<>*=()'\""):
        return False
    return "/" in token or re.search(r"\.(py|txt|json|md|toml|js|css|html|db)$", token) is not None


def test_every_path_it_names_exists():
    paths = sorted({t for t in code_spans() if looks_like_path(t)} - NOT_REPO_FILES)
    assert len(paths) > 20  # the check reads the README, not nothing
    names = {p.name for p in REPO.rglob("*") if "node_modules" not in p.parts}
    missing = [
        p
        for p in paths
        if not any((d / p).exists() for d in DEMO_DIRS) and ("/" in p or p not in names)
    ]
    assert missing == []


def test_every_line_number_it_cites_holds_the_text_it_describes():
    cites = re.findall(r"`([\w./-]+)`, line (\d+), change `([^`]+)`", README)
    assert cites, "the README cites demo 5's line"
    for path, line, text in cites:
        lines = (REPO / path).read_text().splitlines()
        assert text in lines[int(line) - 1], f"{path} line {line} is {lines[int(line) - 1]!r}"


def test_every_make_target_it_shows_exists():
    makefile = (REPO / "Makefile").read_text()
    targets = set(re.findall(r"^([\w-]+):", makefile, flags=re.M))
    shown = guide.make_targets()
    assert {"demo", "test", "check", "present", "reset", "histories", "benchmark"} <= shown
    assert shown - targets == set()


def test_every_script_it_runs_exists_where_it_runs_it():
    runs = guide.scripts_run()
    for cwd, command in runs:
        script = re.match(r"python ([\w/.-]+\.py)", command)[1]
        assert (cwd / script).is_file(), f"{command!r} run in {cwd}"
    assert len(runs) >= 8


def test_every_sample_output_is_compared_with_a_real_run():
    tags = re.findall(r"<!-- expect: ([\w-]+) -->", README)
    assert len(tags) == len(set(tags)) >= 9
    sources = "".join(p.read_text() for p in TESTS.glob("test_*.py"))
    # assert_matches_readme: a script's output; the rehearsal's expect_*: a real terminal's.
    calls = [r'assert_matches_readme\("{}"', r'rehearsal\.expect_\w+\([^)]*"{}"']
    unchecked = [t for t in tags if not any(re.search(c.format(t), sources) for c in calls)]
    assert unchecked == []


def slug(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_table_of_contents_points_at_real_headings():
    headings = {slug(h) for h in re.findall(r"^##+ (.+)$", README, flags=re.M)}
    links = re.findall(r"\]\(#([\w-]+)\)", README)
    assert len(links) >= 15
    assert [link for link in links if link not in headings] == []


def test_the_talk_timing_covers_45_minutes():
    rows = re.findall(r"^\| (\d+)–(\d+) \|", README, flags=re.M)
    spans = [(int(a), int(b)) for a, b in rows]
    assert spans[0][0] == 0 and spans[-1][1] == 45
    assert all(prev[1] == nxt[0] for prev, nxt in zip(spans, spans[1:], strict=False))


def test_the_troubleshooting_messages_are_the_ones_the_scripts_print():
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")}
    message = subprocess.run(
        [sys.executable, "-c", "import demo_support; print(demo_support.unreachable_message())"],
        cwd=REPO, env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert f"| `{message}` |" in README
    code = "".join(
        p.read_text()
        for p in [
            *REPO.glob("hello-ip/*.py"),
            *REPO.glob("demo_support/**/*.py"),
            *REPO.glob("presenter/*.py"),
        ]
    )
    for phrase in ["no worker is picking up work", "Temporal is unreachable", "Cannot serve on ",
                   "Already in use: ", "private range"]:  # fmt: skip
        assert phrase in README and phrase in code, phrase


def test_the_readmes_terminals_type_what_the_stage_declares():
    """One declaration of the stage (presenter/stage.py): make demo runs it, make present
    types it, make reset looks for it, and the README's terminals (which the rehearsal types)
    say the same, line for line."""
    import readme_script as guide
    from presenter import stage
    from presenter.present import activate_line, typed_lines

    blocks = {"server": ["server"], "standin": ["standin"], "app": ["app"]}
    blocks["worker"] = ["worker-folder", "offline", "worker"]
    # The README's venv, wherever this suite's own venv is (another Python's may be elsewhere).
    assert list(guide.typed("activate").lines) == [activate_line(venv=REPO / ".venv")]
    for piece in stage.pieces(offline=True):
        in_readme = [line for block in blocks[piece.name] for line in guide.typed(block).lines]
        assert in_readme == typed_lines(piece, offline=True)[1:], piece.name


def test_make_present_numbers_and_places_the_terminals_as_the_readme_does():
    """make present labels each pane with the README's terminal number, and opens the
    teaser's terminals 2 and 3 where the README's teaser goes first (its `cd`, done)."""
    import readme_script as guide
    from presenter import present, stage

    pieces = stage.pieces(offline=True)
    blocks = {"server": "server", "worker": "worker", "app": "app", "standin": "standin"}
    blocks["shell"] = "second-worker"  # the spare shell: the Plus section's fifth terminal
    numbers = {name: int(guide.typed(block).terminal) for name, block in blocks.items()}
    layout = present.panes(pieces, offline=True)
    assert {p["name"]: p["terminal"] for p in layout} == numbers
    assert [p["terminal"] for p in layout] == [1, 2, 3, 4, 5]
    first = {"counters": "volatile", "starter": "starter"}  # the teaser's blocks
    teaser = present.teaser_panes(pieces)
    assert [p["name"] for p in teaser] == list(first)
    for pane in teaser:
        block = guide.typed(first[pane["name"]])
        assert pane["terminal"] == int(block.terminal), pane
        assert pane["lines"][1:] == [block.lines[0]], (pane, block)
        assert block.lines[0].startswith("cd "), block


def test_the_readmes_room_command_is_what_make_present_room_1_types():
    """Room mode: terminal 3's `python app.py --room` (the rehearsal types it) is what make
    present ROOM=1 types there and make demo ROOM=1 runs; the rest of the stage is the same."""
    import readme_script as guide
    from presenter import stage
    from presenter.present import typed_lines

    room = guide.typed("room-app")
    assert room.terminal == guide.typed("app").terminal == "3"
    (app,) = [p for p in stage.pieces(offline=True, room=True) if p.name == "app"]
    assert list(room.lines) == typed_lines(app, offline=True)[-1:] == ["python app.py --room"]
    table = guide.powershell_table()
    assert table["make demo ROOM=1"] == ["python -m presenter.stage --room"]
    assert table["make present ROOM=1"] == ["python -m presenter.present --room"]
