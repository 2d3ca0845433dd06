"""The deck in slides/: Slidev, made of this repository's own code, and usable with no internet.

Source checks (no npm needed): every snippet import names a file and region that exist, each part
of the talk has a slide, every slide has speaker notes, and the source asks for nothing remote.
With npm: the deck installs from its lockfile, Slidev's own parser reads the deck as these tests
do, the deck builds, and the built site loads nothing from the internet. With a Chromium and
poppler's pdfinfo as well: `npm run export` writes a PDF with one page per slide.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SLIDES = REPO / "slides"
DECK = SLIDES / "slides.md"
NPM = shutil.which("npm")
needs_npm = pytest.mark.skipif(NPM is None, reason="npm is not on PATH: the deck is not built")


# --- Reading slides.md as Slidev does (@slidev/parser: parse, parseSlide, matter) ---------------


@dataclass
class Slide:
    number: int  # 1-based, as in the presenter's URL
    line: int  # 1-based line of slides.md where the slide starts
    frontmatter: str
    content: str  # without frontmatter and notes
    note: str | None
    title: str | None


def parse_slide(raw: str, number: int, line: int) -> Slide:
    frontmatter = ""
    match = re.match(r"---.*\r?\n([\s\S]*?)---", raw)
    if match:
        frontmatter = match.group(1)
        raw = raw[match.end() :]
    content = raw.strip()
    note = None
    comments = list(re.finditer(r"<!--([\s\S]*?)-->", content))
    if comments and comments[-1].end() >= len(content):
        note = comments[-1].group(1).strip()
        content = content[: comments[-1].start()].strip()
    title = re.search(r"^title:\s*(.+)$", frontmatter, re.M)
    heading = re.search(r"^#+ (.*)$", content, re.M)
    title = title or heading
    return Slide(
        number, line, frontmatter, content, note, title.group(1).strip() if title else None
    )


def parse_deck(text: str) -> list[Slide]:
    """Split slides.md into slides with Slidev's rules (separators, frontmatter, fences)."""
    lines = re.split(r"\r?\n", text)
    slides: list[Slide] = []
    start = 0

    def cut(end: int) -> None:
        nonlocal start
        if start == end:
            return
        slides.append(parse_slide("\n".join(lines[start:end]), len(slides) + 1, start + 1))
        start = end + 1

    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        if line.startswith("---"):
            cut(i)
            following = lines[i + 1] if i + 1 < len(lines) else None
            if line[3:4] != "-" and following and following.strip():
                start = i  # a frontmatter block: skip to its closing ---
                i += 1
                while i < len(lines) and lines[i].rstrip() != "---":
                    i += 1
        elif line.lstrip().startswith("```"):
            fence = re.match(r"^\s*`+", line).group()
            j = i + 1
            while j < len(lines) and not lines[j].startswith(fence):
                j += 1
            if j != len(lines):
                i = j
        i += 1
    if start <= len(lines) - 1:
        cut(len(lines))
    return slides


@pytest.fixture(scope="module")
def slides() -> list[Slide]:
    return parse_deck(DECK.read_text(encoding="utf-8"))


# --- Snippet imports: <<< @/path/to/file#region (Slidev's transformSnippet) ---------------------

SNIPPET = re.compile(r"^<<<[ \t]*(\S.*?)(#[\w-]+)?[ \t]*(?:[ \t](\S+?))?[ \t]*(\{.*)?$", re.M)
# Region markers Slidev recognises (VS Code style), for the languages this repository uses.
REGION_MARKERS = [
    (r"^\s*#\s*#?region\b\s*(.*?)\s*$", r"^\s*#\s*#?endregion\b\s*(.*?)\s*$"),  # Python, shell
    (r"^\s*\/\/\s*#?region\b\s*(.*?)\s*$", r"^\s*\/\/\s*#?endregion\b\s*(.*?)\s*$"),  # JS, TS
    (r"^\s*<!--\s*#?region\b\s*(.*?)\s*-->", r"^\s*<!--\s*#?endregion\b\s*(.*?)\s*-->"),  # HTML
    (r"^\s*\/\*\s*#region\b\s*(.*?)\s*\*\/", r"^\s*\/\*\s*#endregion\b\s*(.*?)\s*\*\/"),  # CSS
]


def snippet_imports(text: str) -> list[tuple[str, Path, str | None]]:
    """(the line, the file it imports, the region or None) for every <<< line."""
    found = []
    for match in SNIPPET.finditer(text):
        path, region = match.group(1), match.group(2)
        base = SLIDES if path.startswith("@/") else DECK.parent
        file = (base / path.removeprefix("@/")).resolve()
        found.append((match.group(0), file, region[1:] if region else None))
    return found


def region_lines(source: str, name: str) -> list[str] | None:
    """The lines of region `name`, as Slidev's findRegion cuts them; None if it is not there."""
    lines = re.split(r"\r?\n", source)
    for start_re, end_re in REGION_MARKERS:
        starts = [i for i, line in enumerate(lines) if _group(start_re, line) == name]
        if not starts:
            continue
        depth = 1
        for i in range(starts[0] + 1, len(lines)):
            if _group(start_re, lines[i]) == name:
                depth += 1
            elif _group(end_re, lines[i]) in (name, ""):
                depth -= 1
                if depth == 0:
                    return lines[starts[0] + 1 : i]
        return None  # opened, never closed
    return None


def _group(pattern: str, line: str) -> str | None:
    match = re.match(pattern, line)
    return match.group(1) if match else None


def has_region_markers(source: str) -> bool:
    return any(
        _group(pattern, line) is not None
        for line in source.splitlines()
        for pair in REGION_MARKERS
        for pattern in pair
    )


def test_every_snippet_import_resolves_to_a_file_and_region():
    imports = snippet_imports(DECK.read_text(encoding="utf-8"))
    assert imports, "the deck imports no code from the repository"
    problems = []
    for line, file, region in imports:
        if not file.is_file():
            problems.append(f"{line}: no file {file}")
            continue
        try:
            file.relative_to(REPO)
        except ValueError:
            problems.append(f"{line}: {file} is outside the repository")
            continue
        source = file.read_text(encoding="utf-8")
        if region is None:
            # A whole-file import shows marker comments verbatim: import a region instead.
            if has_region_markers(source):
                problems.append(f"{line}: {file.name} has region markers; import a region")
        else:
            body = region_lines(source, region)
            if body is None:
                problems.append(f"{line}: no region {region!r} (# #region/# #endregion) in {file}")
            elif not any(text.strip() for text in body):
                problems.append(f"{line}: region {region!r} in {file.name} is empty")
    assert not problems, "\n".join(problems)


def test_snippet_import_lines_are_recognised_by_slidev():
    # Slidev only expands <<< at the very start of a line; anything else would show as text.
    text = DECK.read_text(encoding="utf-8")
    misplaced = [line for line in text.splitlines() if "<<<" in line and not line.startswith("<<<")]
    assert not misplaced, misplaced


def test_code_on_slides_is_imported_never_pasted():
    fenced = re.findall(r"^\s*```\s*(py|python|python3)\b", DECK.read_text(encoding="utf-8"), re.M)
    assert not fenced, "Python code on a slide must come from the repository via <<< imports"


README_BLOCK = re.compile(r"^@readme (edit|expect): ([\w-]+)", re.M)


def test_demo_6_shows_the_readme_s_own_edits():
    """`@readme edit: NAME` (setup/preparser.ts) names a code block the README has."""
    names = README_BLOCK.findall(DECK.read_text(encoding="utf-8"))
    assert ("edit", "demo-6-change") in names and ("edit", "demo-6-fix") in names, names
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for kind, name in names:
        assert re.search(rf"<!-- {kind}: {name}\b.*-->\n```\w+\n", readme), (kind, name)


@pytest.mark.skipif(shutil.which("node") is None, reason="no node")
def test_the_export_refuses_a_code_import_that_does_not_resolve(tmp_path):
    shutil.copy(SLIDES / "export.mjs", tmp_path)
    (tmp_path / "here.py").write_text("# #region here\nx = 1\n# #endregion here\n")
    env = {**os.environ, "CHROMIUM_PATH": str(tmp_path / "no-browser")}

    def export(deck: str) -> subprocess.CompletedProcess:
        (tmp_path / "slides.md").write_text(deck)
        return subprocess.run(
            ["node", "export.mjs"], cwd=tmp_path, env=env, capture_output=True, text=True
        )

    broken = export("# A\n\n<<< @/here.py#there\n")
    assert broken.returncode == 1 and "no such file or region" in broken.stderr, broken
    assert "here.py#there" in broken.stderr
    fine = export("# A\n\n<<< @/here.py#here\n")  # it gets as far as the browser
    assert "no such file or region" not in fine.stderr and "no-browser" in fine.stderr, fine


# --- Content: the talk's parts, notes on every slide ----------------------------------------------

# Each part of the talk named in issue 5, and the slide title that carries it.
PARTS = {
    "the Temporal Service": r"\bTemporal Service\b",
    "Workflows": r"^Workflows\b",
    "Activities": r"^Activities\b",
    "Workers": r"^Workers\b",
    "Task Queues": r"\bTask Queues\b",
    "Durable Timers": r"^Durable Timers\b",
    "the event history": r"\bevent history\b",
    "replay": r"^Replay\b",
    "determinism": r"^Determinism\b",
    "the distributed Hello World": r"\bHello World\b",
    "retry policies": r"^Retry polic",
    "replay testing": r"\bTesting with replay\b",
    "demo 1": r"^Demo 1\b",
    "demo 2": r"\bDemo 2\b",
    "demo 3": r"^Demo 3\b",
    "demo 4": r"^Demo 4\b",
    "demo 5": r"^Demo 5\b",
    "the bonus demo": r"^Bonus\b",
    "where to go next": r"\bWhere to go\b",
    "the recap": r"^Three things to remember\b",
    "questions": r"^Questions\b",
    "the room (issue 22)": r"^The room joins\b",
}


def test_each_part_of_the_talk_has_a_slide(slides):
    titles = [slide.title or "" for slide in slides]
    missing = [
        part for part, pattern in PARTS.items() if not any(re.search(pattern, t) for t in titles)
    ]
    assert not missing, f"no slide title for: {', '.join(missing)} (titles: {titles})"


def main_slides(slides: list[Slide]) -> list[Slide]:
    """The slides of the 45 minutes: up to Questions; the extras and the backups follow it."""
    last = next(s.number for s in slides if re.match(r"Questions\b", s.title or ""))
    return slides[:last]


def extra_slides(slides: list[Slide]) -> list[Slide]:
    """After Questions, before the backups: the bonus demo, for a longer slot."""
    after = slides[len(main_slides(slides)) :]
    return [s for s in after if not re.match(r"Backup\b", s.title or "")]


def backup_slides(slides: list[Slide]) -> list[Slide]:
    return [s for s in slides if re.match(r"Backup\b", s.title or "")]


def demo_slides(slides: list[Slide]) -> list[Slide]:
    shown = main_slides(slides) + extra_slides(slides)
    return [s for s in shown if re.match(r"(Demo \d|Bonus)\b", s.title or "")]


def test_demo_slides_come_in_order(slides):
    order = [d for s in main_slides(slides) for d in re.findall(r"Demo \d|Bonus", s.title or "")]
    assert order == ["Demo 1", "Demo 2", "Demo 3", "Demo 4", "Demo 5", "Demo 6"]
    assert [s.title.split(" ·")[0] for s in extra_slides(slides)] == ["Bonus"]


# Each concept right after the demo that shows it (and the retry policy before demo 5).
CONCEPT_AFTER = {
    r"^The event history\b": r"^Demo 1\b",
    r"^Replay\b": r"^Demo 3\b",
    r"^Demo 5\b": r"^Retry polic",
}


def test_each_concept_comes_right_after_the_demo_that_shows_it(slides):
    titles = [s.title or "" for s in slides]
    for concept, before in CONCEPT_AFTER.items():
        (at,) = [i for i, t in enumerate(titles) if re.search(concept, t)]
        assert re.search(before, titles[at - 1]), f"{titles[at]!r} follows {titles[at - 1]!r}"


def test_the_deck_has_about_30_slides_and_the_backups_come_last(slides):
    shown = main_slides(slides)
    assert 24 <= len(shown) <= 33, f"{len(shown)} slides before the backups"
    after = slides[len(shown) :]
    assert after == extra_slides(slides) + backup_slides(slides), "extras, then backups"


# The README's plan: | 0–2 | Teaser... | ... |, one row per section of the talk.
PLAN_ROW = re.compile(r"^\| (\d+)–(\d+) \| ([^|]+?) \|", re.M)
# A section's start in the speaker notes: "**0–2 min · Teaser**".
NOTE_SECTION = re.compile(r"^\*\*(\d+)–(\d+) min · (.+)\*\*$", re.M)


def test_the_notes_plan_the_readme_s_minutes_section_by_section(slides):
    plan = [(int(a), int(b)) for a, b, _ in PLAN_ROW.findall((REPO / "README.md").read_text())]
    assert plan and plan[0][0] == 0 and plan[-1][1] == 45, plan
    gaps = [(b0, a1) for (_, b0), (a1, _) in zip(plan, plan[1:], strict=False) if b0 != a1]
    assert not gaps, f"gaps in the plan: {plan}"
    notes = [(int(a), int(b)) for s in slides for a, b, _ in NOTE_SECTION.findall(s.note or "")]
    assert notes == plan, f"the notes plan {notes}, the README {plan}"
    assert sum(b - a for a, b in notes) == 45


def test_every_demo_has_a_backup_slide_its_notes_jump_to(slides):
    backups = {s.number: s for s in backup_slides(slides)}
    demos = demo_slides(slides)
    assert len(backups) >= 5 and len(demos) == 7
    for demo in demos:
        jump = re.search(r"press g, type (\d+)", demo.note or "")
        assert jump, f"{demo.title}: the notes do not say which backup slide to jump to"
        backup = backups.get(int(jump.group(1)))
        assert backup, f"{demo.title}: slide {jump.group(1)} is not a backup slide"
        names = re.findall(r"Demo \d|Bonus", demo.title)
        assert any(n.split()[-1] in backup.title for n in names), (demo.title, backup.title)
        back = re.search(r"type (\d+) to go back", backup.note or "")
        assert back and int(back.group(1)) == demo.number, f"{backup.title}: the way back"


def test_notes_are_short_numbered_steps(slides):
    """Read at a glance in the presenter view: a few numbered steps, none of them a paragraph."""
    for s in slides:
        lines = [x for x in (s.note or "").splitlines() if x.strip()]
        steps = [x for x in lines if re.match(r"\d+\. ", x)]
        others = [x for x in lines if x not in steps and not NOTE_SECTION.match(x)]
        assert steps and not others, f"slide {s.number}: not numbered steps: {others}"
        numbers = [int(x.split(".")[0]) for x in steps]
        assert numbers == list(range(1, len(steps) + 1)), f"slide {s.number}: steps {numbers}"
        assert len(steps) <= 7, f"slide {s.number}: {len(steps)} steps"
        long = [x for x in steps if len(x.split()) > 25]
        assert not long, f"slide {s.number}: a step to cut: {long}"


def test_predictions_come_before_their_answers(slides):
    for s in demo_slides(slides):
        if "Predict:" in s.content:
            takeaway = re.search(r"<div (v-click[^>]*)class=\"takeaway\"", s.content)
            assert takeaway, f"{s.title}: the takeaway must wait for a click"
            assert s.content.index("Predict:") < takeaway.start()


def test_code_walks_step_by_step(slides):
    walks = [s.title for s in slides if re.search(r"^<<< .*\{all\|[^}]+\}", s.content, re.M)]
    for title in ("The same loop, made durable", "The workflow", "Then a timer, and the chain"):
        assert title in walks, f"{title}: no line-highlight steps ({{all|1-3|...}})"


def test_the_backup_screenshots_are_fresh(slides):
    """Retaken (make slides-screenshots) since the app, its page or the pins last changed."""
    from maintainers import slide_screenshots as shots

    manifest = json.loads(shots.MANIFEST.read_text())
    assert manifest["inputs"] == shots.INPUTS
    assert manifest["inputs_sha256"] == shots.inputs_hash(), (
        "the app changed since the backup screenshots were taken: make slides-screenshots"
    )
    for shot in manifest["shots"]:
        data = (shots.OUT / shot["file"]).read_bytes()
        assert data.startswith(b"\x89PNG"), shot["file"]
    # One picture a backup slide, and every picture taken on one.
    shown = [
        s
        for b in backup_slides(slides)
        for s in re.findall(r'<BackupShot file="([\w.-]+)"', b.content)
    ]
    assert len(shown) == len(backup_slides(slides)), "one picture per backup slide"
    taken = [shot["file"] for shot in manifest["shots"]]
    assert sorted(shown) == sorted(taken), f"shown {shown}, taken {taken}"


def test_the_freshness_check_sees_a_change_to_the_app(tmp_path, monkeypatch):
    from maintainers import slide_screenshots as shots

    for name in shots.INPUTS:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, tmp_path / name)
    monkeypatch.setattr(shots, "REPO", tmp_path)
    before = shots.inputs_hash()
    assert before == shots.inputs_hash()
    page = tmp_path / "hello-ip" / "templates" / "index.html"
    page.write_text(page.read_text().replace("Get Greeting", "Greet me"))
    assert shots.inputs_hash() != before


def test_the_cover_fields_are_filled_in_one_place(slides):
    head = slides[0].frontmatter
    for field in ("author", "event", "repository"):
        assert re.search(rf"^{field}:\s*\S", head, re.M), f"headmatter has no {field}:"
    # Slidev's own `presenter` turns presenter mode on or off: true, false, dev or build.
    presenter = re.search(r"^presenter:\s*(.*)$", head, re.M)
    assert not presenter or presenter[1].strip() in ("true", "dev"), "presenter mode is off"
    assert re.search(r"^repository:\s*https://", head, re.M)


def test_every_slide_has_a_title_and_speaker_notes(slides):
    untitled = [f"slide {s.number} (line {s.line})" for s in slides if not s.title]
    silent = [f"slide {s.number} {s.title!r} (line {s.line})" for s in slides if not s.note]
    assert not untitled, f"slides without a heading: {untitled}"
    assert not silent, f"slides without <!-- speaker notes --> at their end: {silent}"


def test_demo_notes_say_where_to_switch(slides):
    vague = [
        s.title
        for s in demo_slides(slides)
        if not re.search(r"\bterminal [123]\b", s.note or "", re.I)
        and not re.search(r"\bbrowser\b", s.note or "", re.I)
    ]
    assert not vague, f"demo notes that name no terminal or browser tab: {vague}"


def room_slide(slides: list[Slide]) -> Slide:
    (slide,) = [s for s in slides if re.match(r"The room joins\b", s.title or "")]
    return slide


def test_the_room_joins_in_demo_3_s_minutes_right_before_it(slides):
    """Demo 3 played with the room (issue 22): the QR code goes up right before it, in its
    minutes (the notes' section starts on this slide), and the notes say when to skip it."""
    room = room_slide(slides)
    after = slides[room.number]  # the next one (numbers start at 1)
    assert re.match(r"Demo 3\b", after.title or ""), after.title
    assert re.search(r"^<RoomJoin />$", room.content, re.M), "the live QR code (RoomJoin.vue)"
    assert room in main_slides(slides)
    sections = NOTE_SECTION.findall(room.note or "")
    assert [name for _, _, name in sections] == ["Demo 3 and replay"], sections
    assert not NOTE_SECTION.search(after.note or ""), "demo 3's section starts one slide earlier"
    for words in ("Optional", "Wi-Fi", "skip this slide: the timing is the same"):
        assert words in room.note, f"the room slide's notes do not say {words!r}"
    for command in ("`python app.py --room`", "`make demo ROOM=1`"):
        assert command in room.note, command
    assert re.search(r"Room panel's proof: each step ran once", after.note or ""), after.note


# --- Offline, in the source ----------------------------------------------------------------------

REMOTE_IN_SOURCE = [
    (r"!\[[^\]]*\]\(\s*https?://", "a remote image"),
    (r"^\s*(background|image|backgroundImage)\s*:\s*['\"]?https?://", "a remote background"),
    (r"\b(src|srcset|poster)\s*=\s*['\"]?https?://", "a remote src"),
    (r"<(iframe|Tweet|Youtube|SlidevVideo)\b", "an embed that needs the internet"),
    (r"^```\s*plantuml", "a PlantUML diagram (rendered by a remote server)"),
    (r"^\s*layout:\s*iframe", "an iframe layout"),
]


def test_the_source_asks_for_nothing_remote():
    text = DECK.read_text(encoding="utf-8")
    found = [
        f"{what}: {m.group(0).strip()}"
        for pattern, what in REMOTE_IN_SOURCE
        for m in re.finditer(pattern, text, re.M)
    ]
    headmatter = parse_deck(text)[0].frontmatter
    if not re.search(r"^\s+provider:\s*['\"]?none\b", headmatter, re.M):
        found.append("headmatter: fonts.provider is not none (Slidev loads Google Fonts)")
    if not re.search(r"^favicon:\s*['\"]?/", headmatter, re.M):
        found.append("headmatter: no local favicon (Slidev's default is on a CDN)")
    # The layouts, components and styles of the deck itself.
    for path in sorted(SLIDES.glob("*/*.*")) + sorted(SLIDES.glob("*.css")):
        if path.parts[len(SLIDES.parts)] in ("node_modules", "dist", "public"):
            continue
        # The room slide asks the presenter's own app, on 127.0.0.1: not the internet.
        text = path.read_text(encoding="utf-8")
        for m in re.finditer(r"https?://(?!127\.0\.0\.1[:/])[^\s'\"<>)]+", text):
            found.append(f"{path.relative_to(SLIDES)}: {m.group(0)}")
    assert not found, "\n".join(found)


# --- With npm: install, Slidev's parser, build, offline check of the built site ------------------


@contextmanager
def _lock(path: Path):
    """One `npm ci` at a time, also across pytest-xdist workers (POSIX; no-op elsewhere)."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _installed() -> bool:
    marker = SLIDES / "node_modules" / ".package-lock.json"  # written by npm ci / npm install
    if not marker.exists():
        return False
    newest = max((SLIDES / name).stat().st_mtime for name in ("package.json", "package-lock.json"))
    return marker.stat().st_mtime >= newest


NPM_CI_LOG = SLIDES / "node_modules" / ".npm-ci.log"  # what the last npm ci printed


@pytest.fixture(scope="session")
def node_modules():
    """slides/node_modules, installed from the lockfile when missing or out of date."""
    if NPM is None:
        pytest.skip("npm is not on PATH")
    with _lock(Path(tempfile.gettempdir()) / f"npm-ci-{zlib.crc32(bytes(SLIDES))}.lock"):
        if not _installed():
            env = {**os.environ, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"}
            done = subprocess.run(
                [NPM, "ci", "--no-audit", "--no-fund"],
                cwd=SLIDES,
                env=env,
                capture_output=True,
                text=True,
                timeout=900,
            )
            assert done.returncode == 0, f"npm ci failed:\n{done.stdout}\n{done.stderr}"
            (SLIDES / "node_modules" / ".package-lock.json").touch()
            NPM_CI_LOG.write_text(done.stdout + done.stderr)
    return SLIDES / "node_modules"


def node(script: str) -> str:
    done = subprocess.run(
        ["node", "--input-type=module", "-e", script],
        cwd=SLIDES,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@needs_npm
def test_slidev_reads_the_deck_as_these_tests_do(node_modules, slides):
    out = node(
        "import { parse } from '@slidev/parser';"
        "import { readFileSync } from 'node:fs';"
        "const deck = await parse(readFileSync('slides.md', 'utf8'), 'slides.md');"
        "console.log(JSON.stringify({"
        "  headmatter: deck.slides[0].frontmatter,"
        "  slides: deck.slides.map(s => ({ title: s.title ?? null, note: s.note ?? null })),"
        "}));"
    )
    deck = json.loads(out)
    assert [s["title"] for s in deck["slides"]] == [s.title for s in slides]
    assert [s["note"] for s in deck["slides"]] == [s.note for s in slides]
    headmatter = deck["headmatter"]
    assert headmatter["fonts"]["provider"] == "none"
    # Slidev's own fallbacks are system fonts (ui-sans-serif, Segoe UI, Menlo...): none of them.
    assert headmatter["fonts"]["fallbacks"] is False
    assert headmatter["favicon"].startswith("/")
    assert (SLIDES / "public" / headmatter["favicon"].lstrip("/")).is_file()


@pytest.fixture(scope="module")
def built_deck(node_modules, tmp_path_factory):
    out = tmp_path_factory.mktemp("slides") / "dist"
    started = time.monotonic()
    done = subprocess.run(
        [NPM, "run", "build", "--", "--out", str(out)],
        cwd=SLIDES,
        capture_output=True,
        text=True,
        timeout=300,
    )
    seconds = time.monotonic() - started
    assert done.returncode == 0, f"slidev build failed:\n{done.stdout[-4000:]}\n{done.stderr}"
    print(f"slidev build: {seconds:.1f} s")
    return out


@needs_npm
def test_the_deck_builds(built_deck):
    index = (built_deck / "index.html").read_text(encoding="utf-8")
    assert "<title>Build Invincible Apps with Durable Execution" in index
    scripts = list((built_deck / "assets").glob("*.js"))
    assert scripts, "no JavaScript in the build"
    # The preparser put the README's demo 6 fix on its slide (Shiki splits it into tokens).
    fix = re.compile(r"workflow\.patched\(.{0,80}locate-before-wait")
    assert any(fix.search(s.read_text(errors="replace")) for s in scripts)


# Hosts that only ever serve things a page loads: fonts, scripts, images, embeds.
ASSET_HOSTS = re.compile(
    r"https?://(?:[\w-]+\.)*(?:"
    r"fonts\.googleapis\.com|fonts\.gstatic\.com|fonts\.bunny\.net|fonts\.coollabs\.io"
    r"|cdn\.jsdelivr\.net|unpkg\.com|cdnjs\.cloudflare\.com|esm\.sh|esm\.run|cdn\.skypack\.dev"
    r"|ga\.jspm\.io|unsplash\.com|cover\.sli\.dev|platform\.twitter\.com|youtube\.com/embed"
    r"|player\.vimeo\.com|api\.iconify\.design|kroki\.io|i\.imgur\.com"
    r")"
)
# Ways a page loads a URL by itself, in HTML, CSS or the JavaScript that renders the slides.
# (A link the presenter may click, <a href="https://docs...">, is not among them.)
REMOTE = r"""["'`]?\s*https?://(?!localhost[:/]|127\.0\.0\.1[:/])"""
LOADS = [
    (re.compile(r"""\b(?:src|poster|data)\s*[:=]\s*\\?""" + REMOTE), "src"),
    (re.compile(r"""\bsrcset\s*[:=]\s*["'`][^"'`]*https?://"""), "srcset"),
    (re.compile(r"""url\(\s*\\?""" + REMOTE), "CSS url()"),
    (re.compile(r"""@import\s+(?:url\(\s*)?""" + REMOTE), "CSS @import"),
    (re.compile(r"""\bimport\(\s*""" + REMOTE), "dynamic import()"),
    (re.compile(r"""\bfrom\s*["']https?://"""), "ES module import"),
    (re.compile(r"""<link\b[^>]*\bhref\s*=\s*""" + REMOTE), "<link href>"),
    (
        re.compile(r"""\bhref\s*[:=]\s*["'`]https?://[^"'`]+\.(?:css|m?js|woff2?|ttf|otf)\b"""),
        "href",
    ),
]


def remote_loads(root: Path) -> list[tuple[str, str, str]]:
    """(file, why, the URL and what surrounds it) for each remote load in a built site."""
    found = []
    for path in sorted(root.rglob("*")):
        if path.suffix not in (".html", ".css", ".js", ".mjs", ".json", ".svg", ".webmanifest"):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        name = str(path.relative_to(root))
        matches = [(m, "an asset host") for m in ASSET_HOSTS.finditer(text)]
        matches += [(m, what) for pattern, what in LOADS for m in pattern.finditer(text)]
        for m, what in matches:
            url = re.search(r"https?://[^\s\"'`)<>]*", text[m.start() : m.end() + 200])
            context = text[max(0, m.start() - 40) : m.end() + 60].replace("\n", " ")
            found.append(
                (name, what, f"{url.group(0) if url else m.group(0)}  in  ...{context}...")
            )
    return found


@needs_npm
def test_the_built_deck_loads_nothing_from_the_internet(built_deck):
    found = [f"{name}: {what}: {where}" for name, what, where in remote_loads(built_deck)]
    assert not found, "the deck would need the internet at the venue:\n" + "\n".join(found[:20])


def test_the_offline_check_catches_what_slidev_adds_by_default(tmp_path):
    # Slidev's defaults (Google Fonts, a CDN favicon, the seriph cover's Unsplash image) must fail.
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text(
        '<link rel="icon" href="https://cdn.jsdelivr.net/gh/slidevjs/slidev/assets/favicon.png">'
        '<link rel="stylesheet" href="https://fonts.googleapis.com/css2?family=PT+Serif">'
        '<script src="https://example.org/x.js"></script>'
        '<a href="https://docs.temporal.io">docs</a><a href="http://localhost:8080">UI</a>'
    )
    (tmp_path / "assets" / "cover.js").write_text(
        'const d={default:"https://source.unsplash.com/collection/94734566/1920x1080"};'
        'h("img",{src:"https://example.com/x.png"});h("a",{href:"https://example.com/docs"})'
    )
    (tmp_path / "assets" / "a.css").write_text(
        "@font-face{src:url(https://example.com/f.woff2)}"
        "a{background:url(data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E)}"
    )
    urls = " ".join(where.split("  in  ")[0] for _, _, where in remote_loads(tmp_path))
    for expected in ("jsdelivr", "googleapis", "unsplash", "x.js", "x.png", "f.woff2"):
        assert expected in urls
    for allowed in ("docs.temporal.io", "example.com/docs", "localhost", "w3.org"):
        assert allowed not in urls


# --- With a Chromium and pdfinfo too: the PDF the presenter can fall back on ----------------------


def _chromium() -> str | None:
    chosen = os.environ.get("CHROMIUM_PATH")
    if chosen:
        return chosen if Path(chosen).exists() else None
    return next(
        (
            shutil.which(name)
            for name in ("chromium", "chromium-browser", "google-chrome")
            if shutil.which(name)
        ),
        None,
    )


SLIDE_LOAD_ERROR = "An error occurred on this slide"  # Slidev's page for a slide's failed load


def _export(pdf: Path, number: str) -> str:
    """`npm run export` to ``pdf``; the text of its page ``number``."""
    done = subprocess.run(
        [NPM, "run", "export", "--", "--output", str(pdf)],
        cwd=SLIDES,
        env={**os.environ, "CHROMIUM_PATH": _chromium()},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"export failed:\n{done.stdout[-4000:]}\n{done.stderr}"
    return subprocess.run(
        ["pdftotext", "-f", number, "-l", number, str(pdf), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


@needs_npm
@pytest.mark.skipif(_chromium() is None, reason="no Chromium or Chrome: the PDF is not exported")
@pytest.mark.skipif(shutil.which("pdfinfo") is None, reason="no pdfinfo (poppler-utils)")
@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="no pdftotext (poppler-utils)")
def test_the_deck_exports_to_a_pdf_with_one_page_per_slide(node_modules, slides, tmp_path):
    pdf = tmp_path / "deck.pdf"
    number = str(room_slide(slides).number)
    text = _export(pdf, number)
    if SLIDE_LOAD_ERROR in text:  # seen once, in CI under load; never in an export run alone
        print(f"the export's page {number} showed Slidev's load error: exporting again")
        text = _export(pdf, number)  # a second time fails the test
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    pages = int(re.search(r"^Pages:\s+(\d+)", info.stdout, re.M).group(1))
    assert pages == len(slides)
    # The room slide, with no app to ask (nor any asked: a join code is made at each start):
    # the fallback, in text.
    for words in ("Room mode is off", "python app.py --room", "make demo ROOM=1", "is live"):
        assert words in text, (words, text)


# --- In Chromium: what the back row sees (maintainers/slide_render.py) -----------------

CODE_MIN_PX = 16  # at the 980 px slide width: about 30 px on a 1080p projector
TEXT_MIN_PX = 20
DIAGRAM_MIN_PX = 16
CONTRAST_MIN = 4.5


# The sets of system fonts the deck is rendered under: on Linux, two that a laptop may have,
# each alone (fontconfig); elsewhere the machine's own. The deck must not depend on them.
FONT_SETS = ["dejavu", "liberation"] if sys.platform.startswith("linux") else ["system"]
FONT_PACKAGES = {"dejavu": "fonts-dejavu-core", "liberation": "fonts-liberation"}  # Debian's
BUNDLED = {"Inter", "JetBrains Mono"}  # slides/package.json: @fontsource/inter, .../jetbrains-mono


def _of(family: str, fonts: set[str]) -> bool:
    """Whether a font Chromium reports (its file's name: "Inter SemiBold") is of one of `fonts`."""
    return any(family == name or family.startswith(f"{name} ") for name in fonts)


@pytest.fixture(scope="module")
def deck_under(built_deck, slides, tmp_path_factory):
    """The deck measured in Chromium with only the system fonts of a set, once per set."""
    from browser import require_chromium
    from maintainers.slide_render import font_config, measure_deck

    chromium = require_chromium()
    shots = os.environ.get("SLIDE_SCREENSHOTS")
    measured = {}

    def under(name: str) -> dict:
        if name not in measured:
            env = None
            if name != "system":
                env = font_config(name, tmp_path_factory.mktemp("fontconfig"))
                if env is None:
                    why = f"no {name} fonts on this machine: apt-get install {FONT_PACKAGES[name]}"
                    if os.environ.get("CI"):
                        pytest.fail(f"CI must have them ({why}): .ci/run installs them")
                    pytest.skip(why)
            out = Path(shots) / name if shots else None
            measured[name] = measure_deck(built_deck, len(slides), chromium, out, env)
        return measured[name]

    return under


@pytest.fixture(scope="module", params=FONT_SETS)
def deck(request, deck_under):
    return deck_under(request.param)


@pytest.fixture(scope="module")
def rendered(deck):
    return deck["slides"]


def _smallest(rendered, kind):
    return min(t["size"] for m in rendered for t in m["texts"] if t["kind"] == kind)


@needs_npm
def test_every_text_is_large_enough_from_the_back_row(rendered):
    small = [
        f"slide {m['number']}: {t['kind']} {t['size']} px: {t['text']!r}"
        for m in rendered
        for t in m["texts"]
        if t["size"]
        < {"code": CODE_MIN_PX, "diagram": DIAGRAM_MIN_PX}.get(t["kind"], TEXT_MIN_PX) - 0.05
    ]
    sizes = ", ".join(
        f"{kind} {_smallest(rendered, kind)} px" for kind in ("code", "text", "diagram")
    )
    print(f"smallest: {sizes}")
    assert not small, "\n".join(small)


@needs_npm
def test_every_text_colour_has_4_5_to_1_contrast(rendered):
    faint = [
        f"slide {m['number']}: {t['contrast']}:1: {t['text']!r}"
        for m in rendered
        for t in m["texts"]
        if t["contrast"] < CONTRAST_MIN
    ]
    lowest = min(t["contrast"] for m in rendered for t in m["texts"])
    print(f"lowest contrast: {lowest}:1")
    assert not faint, "\n".join(faint)


@needs_npm
def test_nothing_overflows_its_slide(rendered):
    problems = [f"slide {m['number']}: scrolls: {m['scrolls']}" for m in rendered if m["scrolls"]]
    problems += [
        f"slide {m['number']}: outside the slide: {t['text']!r}"
        for m in rendered
        for t in m["texts"]
        if t["outside"]
    ]
    assert not problems, "\n".join(problems)


@needs_npm
def test_every_slide_shows_text(rendered):
    # A slide that rendered nothing (a broken import, a layout error) would pass the checks above.
    empty = [m["number"] for m in rendered if len(m["texts"]) < 2]
    assert not empty, f"slides with no text rendered: {empty}"


def _listed(lines: list[str] | set[str], most: int = 20) -> str:
    lines = sorted(lines) if isinstance(lines, set) else lines
    more = f"\n... and {len(lines) - most} more" if len(lines) > most else ""
    return "\n".join(lines[:most]) + more


def _layout(deck: dict) -> list[list[tuple]]:
    """Each slide's texts: where each is drawn (canvas px, to the half pixel), on how many lines,
    at what size."""
    return [
        [(t["text"], *t["box"], t["lines"], t["size"]) for t in m["texts"]] for m in deck["slides"]
    ]


@needs_npm
@pytest.mark.skipif(len(FONT_SETS) < 2, reason="fontconfig (Linux) chooses the system's fonts")
def test_the_deck_looks_the_same_whatever_fonts_the_system_has(deck_under):
    first, second = FONT_SETS
    a, b = deck_under(first), deck_under(second)
    # Each Chromium had its set's fonts and no other: the generic families resolve differently.
    assert a["system"] != b["system"], (a["system"], b["system"])
    for name, measured in ((first, a), (second, b)):
        assert all(name in font.lower() for font in measured["system"]), (name, measured["system"])
    moved = []
    for number, (here, there) in enumerate(zip(_layout(a), _layout(b), strict=True), start=1):
        if here != there:
            diff = [(x, y) for x, y in zip(here, there, strict=False) if x != y] or [
                (len(here), len(there))
            ]
            moved.append(
                f"slide {number}: {diff[0][0]}  under {first}, {diff[0][1]}  under {second}"
            )
    print(
        f"system fonts: {a['system']} and {b['system']}; slides laid out alike: {len(a['slides'])}"
    )
    assert not moved, "text laid out differently (text, x, y, width, height, lines, px):\n" + (
        _listed(moved)
    )


@needs_npm
def test_every_text_is_drawn_in_the_deck_s_bundled_fonts(deck):
    # What Chromium drew each text with (DevTools' platform fonts): a web font, one of the deck's.
    drawn = [(m["number"], f) for m in deck["slides"] for f in m["fonts"]]
    assert drawn, "no text reported by Chromium"
    elsewhere = [
        f"slide {n}: {f['text']!r} in {f['families']}"
        for n, f in drawn
        if not f["web"] or not all(_of(family, BUNDLED) for family in f["families"])
    ]
    assert not elsewhere, f"{len(elsewhere)} texts in the system's fonts:\n" + _listed(elsewhere)
    code = {family for _, f in drawn if f["code"] for family in f["families"]}
    assert code and all(_of(family, {"JetBrains Mono"}) for family in code), code
    # The face each text asks for (family, weight, style) is one the page loaded: no bold or
    # italic made up by the browser from another face.
    missing = {
        f"{t['face']} (slide {m['number']}: {t['text']!r})"
        for m in deck["slides"]
        for t in m["texts"]
        if not t["loaded"]
    }
    assert not missing, "faces the deck does not bundle:\n" + _listed(missing)


@needs_npm
def test_code_is_drawn_without_ligatures(deck):
    line = deck["ligatures"]
    assert line, "no code line with -> on any slide: nothing to check ligatures on"
    assert line["computed"] == ["none"], line
    # The same line drawn with ligatures allowed looks different: the font has a -> ligature,
    # and the deck's setting is what keeps the two characters.
    assert line["ligatures_would_change_it"], line


def test_npm_ci_warns_of_no_unsupported_engine(node_modules):
    """The lockfile fits the Node.js the machine has (Debian's 20): no EBADENGINE warnings."""
    if not NPM_CI_LOG.exists():
        pytest.skip("node_modules was installed before this check: rm -r slides/node_modules")
    assert "EBADENGINE" not in NPM_CI_LOG.read_text(), NPM_CI_LOG.read_text()


# --- The room slide in Chromium: the running app's QR code and URL (components/RoomJoin.vue) ----

# A phone reads a QR code from about ten times its width. At 320 of the slide's 980 px (the code
# itself, its quiet zone aside), a 3 m screen shows it 0.98 m wide: read from about 10 m, the
# back of a meetup's room.
QR_MIN_PX = 320
QUIET_MODULES = 4  # the white the QR code standard asks for around the code, in modules
ROOM_HOST = "127.0.0.2"  # the room's listener's address here: loopback, but not 127.0.0.1


def _can_bind(host: str) -> bool:
    import socket

    try:
        socket.create_server((host, 0)).close()
        return True
    except OSError:
        return False


needs_room_host = pytest.mark.skipif(
    not _can_bind(ROOM_HOST), reason=f"{ROOM_HOST} is not an address of this machine"
)


@contextmanager
def hello_app(port: int, *args: str):
    """hello-ip's app on `port`, with `args` (--room...); no Temporal Service anywhere: the slide
    reads only GET /api/room. Yields the process (harness.Proc)."""
    from maintainers.harness import Proc, free_port

    env = {"TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}"}  # nothing there
    argv = [sys.executable, "app.py", "--port", str(port), *args]
    proc = Proc(argv, REPO / "hello-ip", env, "app.py")
    try:
        proc.wait_for_line(r"^The app is at http://127\.0\.0\.1:", timeout=30)
        yield proc
    finally:
        proc.stop()


@contextmanager
def room_page(built_deck):
    """A Chromium page at the slide's size, and the origin the built deck is served on."""
    from browser import require_chromium
    from maintainers.slide_render import deck_page, served

    with served(built_deck) as origin, deck_page(built_deck, require_chromium()) as page:
        yield page, origin


def _room_state(page, number: int) -> dict:
    """What the room slide shows: the QR image's box (canvas px), the URL, the fallback's text."""
    return page.evaluate(
        """(number) => {
          const slide = document.querySelector(`#slide-content .slidev-page-${number}`)
          const scale = document.querySelector('#slide-content').getBoundingClientRect().width / 980
          const box = (e) => { const r = e.getBoundingClientRect()
            return [r.left, r.top, r.width, r.height].map(v => v / scale) }
          const qr = slide.querySelector('img.qr'), url = slide.querySelector('.url')
          return {
            scale,
            images: slide.querySelectorAll('img').length,
            qr: qr && { box: box(qr), loaded: qr.complete && qr.naturalWidth > 0 },
            frame: qr && box(slide.querySelector('.qr-frame')),
            url: url && url.textContent.trim(),
            off: slide.querySelector('.off')?.innerText ?? null,
          }
        }""",
        number,
    )


def _shot(page, name: str) -> None:
    shots = os.environ.get("SLIDE_SCREENSHOTS")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(shots) / name))


def _assert_fallback(state: dict) -> None:
    assert state["off"] is not None and state["qr"] is None, state
    assert state["images"] == 0, "an image on the fallback slide"
    for words in ("Room mode is off", "python app.py --room", "make demo ROOM=1"):
        assert words in state["off"], (words, state["off"])


def _qr_modules(page, frame: list[float], size: int) -> tuple[list[list[bool]], float, list[int]]:
    """The QR code as the slide draws it: each module's centre dark or light (a size x size
    grid), the module's width in px, and the white around the code (left, top, right, bottom)
    inside its frame, in px. From a screenshot (canvas px = screen px at the slide's size)."""
    from maintainers.slide_render import png_pixels

    x, y, w, h = frame
    clip = {"x": x + 1, "y": y + 1, "width": w - 2, "height": h - 2}  # inside the frame's border
    rows = png_pixels(page.screenshot(clip=clip))
    dark = [[sum(p) < 3 * 128 for p in row] for row in rows]
    ys = [i for i, row in enumerate(dark) if any(row)]
    xs = [j for j in range(len(dark[0])) if any(row[j] for row in dark)]
    assert ys and xs, "no dark pixel in the QR code's frame"
    left, top, right, bottom = xs[0], ys[0], xs[-1] + 1, ys[-1] + 1
    module = (right - left) / size
    grid = [
        [dark[int(top + (r + 0.5) * module)][int(left + (c + 0.5) * module)] for c in range(size)]
        for r in range(size)
    ]
    margins = [left, top, len(dark[0]) - right, len(dark) - bottom]
    return grid, module, margins


@needs_npm
@needs_room_host
def test_the_room_slide_shows_the_app_s_qr_code_and_url_while_it_runs(built_deck, slides):
    """Nothing on the port: the fallback. The app starts with --room: within a poll, its QR
    code (the URL it printed, module for module, large, with its quiet zone) and its URL, in the
    deck's own font, legible. The app stops: the fallback again (its join code is gone)."""
    from demo_support.page.room import qr_code
    from maintainers.harness import free_port
    from maintainers.slide_render import MEASURE, drawn_fonts, show_slide

    number, port = room_slide(slides).number, free_port()
    with room_page(built_deck) as (page, origin):
        slide = f"#slide-content .slidev-page-{number}"
        show_slide(page, number, f"&room=http://127.0.0.1:{port}", origin)
        _assert_fallback(_room_state(page, number))

        with hello_app(port, "--room", "--room-host", ROOM_HOST) as app:
            join = re.search(r"The room joins at (http://\S+)", app.wait_for_line("room joins"))[1]
            page.wait_for_selector(f"{slide} img.qr", timeout=10_000)  # the next poll, 3 s
            page.wait_for_function(f"document.querySelector('{slide} img.qr').naturalWidth > 0")
            page.evaluate("document.fonts.ready")
            state = _room_state(page, number)
            _shot(page, "room-on.png")

            assert state["url"] == join, (state["url"], join)
            assert state["off"] is None and state["images"] == 1, state
            expected = [[bool(v) for v in row] for row in qr_code(join).matrix]
            grid, module, margins = _qr_modules(page, state["frame"], len(expected))
            side = module * len(expected) / state["scale"]
            image = min(state["qr"]["box"][2:])
            print(
                f"QR code: {side:.0f} px of the slide's 980 ({image:.0f} with its border); {join}"
            )
            assert side >= QR_MIN_PX, f"the QR code is {side:.0f} px wide, at least {QR_MIN_PX}"
            wrong = sum(
                a != b
                for ra, rb in zip(grid, expected, strict=True)
                for a, b in zip(ra, rb, strict=True)
            )
            assert wrong == 0, f"{wrong} of {len(expected) ** 2} modules differ from {join}'s"
            quiet = min(margins) / module
            print(f"modules: {module:.1f} px; quiet zone {quiet:.1f} modules")
            assert quiet >= QUIET_MODULES, f"{quiet:.1f} modules of white around the code"

            # Its texts, as every slide's: large, contrasted, inside, in the bundled fonts.
            cdp = page.context.new_cdp_session(page)
            measured = page.evaluate(MEASURE, number)
            small = [t for t in measured["texts"] if t["size"] < TEXT_MIN_PX - 0.05]
            faint = [t for t in measured["texts"] if t["contrast"] < CONTRAST_MIN]
            outside = [t for t in measured["texts"] if t["outside"]]
            assert not (small or faint or outside or measured["scrolls"]), (
                small,
                faint,
                outside,
                measured["scrolls"],
            )
            fonts = drawn_fonts(cdp, "slide-content")
            url = [f for f in fonts if f["text"].startswith("http://")]
            assert url and url[0]["web"] and url[0]["families"] == ["JetBrains Mono"], url
            assert all(f["web"] and all(_of(x, BUNDLED) for x in f["families"]) for f in fonts)

        page.wait_for_selector(f"{slide} .off", timeout=10_000)
        _assert_fallback(_room_state(page, number))


@needs_npm
def test_the_room_slide_falls_back_when_the_app_runs_without_room_mode(built_deck, slides):
    """The app without --room answers GET /api/room with a 404: the slide asked it, and says
    how to turn room mode on; no image."""
    from maintainers.harness import free_port, wait_for
    from maintainers.slide_render import show_slide

    number, port = room_slide(slides).number, free_port()
    with room_page(built_deck) as (page, origin), hello_app(port):
        asked = []
        page.on("request", lambda r: asked.append(r.url))
        show_slide(page, number, f"&room=http://127.0.0.1:{port}", origin)
        room = f"http://127.0.0.1:{port}/api/room"
        wait_for(lambda: room in asked, 10, 0.2, f"the slide to ask the app: {asked}")
        page.wait_for_timeout(1000)
        _assert_fallback(_room_state(page, number))
        # What it was told (Chromium keeps a CORS-less answer from the page: ask again here).
        with pytest.raises(urllib.error.HTTPError) as off:
            urllib.request.urlopen(room, timeout=5)
        assert off.value.code == 404 and "Room mode is off" in off.value.read().decode()
        _shot(page, "room-off.png")
