"""The built deck in Chromium, slide by slide, at Slidev's 980 px canvas: what the back row sees.

For every slide, after all its clicks: the size of every visible text (code counts as code),
where it is drawn, its colour's contrast against what is behind it (opacities included), the
fonts Chromium drew it with, and whether anything lies outside the slide or scrolls. On Linux,
with only one set of system fonts (FONT_SETS, through fontconfig). Used by tests/test_slides.py;
run by hand to look:

    python -m maintainers.slide_render DIST_DIR OUT_DIR [COUNT] [dejavu|liberation]
    # a PNG per slide and measures.json
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit

from maintainers.browser import FLAGS

WIDTH, HEIGHT = 980, 551  # Slidev's canvas: 980 px wide, 16:9

# One slide's measures, in the page (sizes in canvas px: the slide's own scale undone).
MEASURE = Path(__file__).with_suffix(".js").read_text()
KINDS = ("code", "text")
ORIGIN = "http://127.0.0.1:9"  # never reached: Playwright answers from the built site


@contextmanager
def deck_page(dist: Path, chromium: str, env: dict[str, str] | None = None):
    """A Chromium page at Slidev's canvas size, served `dist` at ORIGIN; unknown paths (/3,
    /presenter) get index.html, as Slidev's own server does."""
    from playwright.sync_api import sync_playwright

    def answer(route):
        path = dist / unquote(urlsplit(route.request.url).path).lstrip("/")
        route.fulfill(path=path if path.is_file() else dist / "index.html")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=FLAGS, env={**os.environ, **(env or {})}
        )
        try:
            page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
            page.route(f"{ORIGIN}/**", answer)
            yield page
        finally:
            browser.close()


# --- The system's fonts: a laptop's, which the deck must not depend on -------------------------

# Two sets of system fonts a laptop may have (Debian: fonts-dejavu-core, fonts-liberation),
# by the start of their files' names. Under each, Chromium sees those fonts and no others.
FONT_SETS = {"dejavu": "DejaVu", "liberation": "Liberation"}
FONT_DIRS = [Path("/usr/share/fonts"), Path("/usr/local/share/fonts")]


def font_config(name: str, where: Path) -> dict[str, str] | None:
    """The environment for a Chromium that has only font set `name` (fontconfig: Linux);
    None when this machine has none of its files."""
    prefix = FONT_SETS[name]
    files = sorted(
        {f.name: f for d in FONT_DIRS if d.is_dir() for f in d.rglob(f"{prefix}*.[ot]tf")}.items()
    )
    if not files:
        return None
    fonts = where / name / "fonts"
    fonts.mkdir(parents=True, exist_ok=True)
    for file_name, file in files:
        link = fonts / file_name
        if not link.exists():
            link.symlink_to(file)
    conf = where / name / "fonts.conf"
    conf.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">\n'
        "<fontconfig>\n"
        f"  <dir>{fonts}</dir>\n"
        f"  <cachedir>{where / name / 'cache'}</cachedir>\n"
        # The system's rules (sans-serif, monospace...), without its font directories.
        '  <include ignore_missing="yes">/etc/fonts/conf.d</include>\n'
        "</fontconfig>\n"
    )
    return {"FONTCONFIG_FILE": str(conf)}


# --- Which fonts Chromium drew each text with (DevTools: CSS.getPlatformFontsForNode) ----------


def _texts(node: dict, under: str | None, parent: dict | None = None, in_code: bool = False):
    """(its element, the text, whether it is in code) for each text node with text, shadow
    roots too, under the element with id `under` (the whole page if None)."""
    attributes = node.get("attributes", [])
    if under and dict(zip(attributes[::2], attributes[1::2], strict=True)).get("id") == under:
        under = None
    if not under and node.get("nodeType") == 3 and parent and node["nodeValue"].strip():
        yield parent, node["nodeValue"].strip(), in_code
    in_code = in_code or node.get("nodeName") in ("PRE", "CODE")
    parent = node if node.get("nodeType") == 1 else parent
    for child in node.get("children", []) + node.get("shadowRoots", []):
        yield from _texts(child, under, parent, in_code)


def drawn_fonts(cdp, element_id: str | None = None) -> list[dict]:
    """For each text drawn under #element_id (the whole page if None): the fonts it was drawn
    with, as Chromium reports them: family name, and whether it is a web font (not the system's)."""
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": -1, "pierce": True})["root"]
    found, seen = [], set()
    for element, text, in_code in _texts(root, element_id):
        if element["nodeId"] in seen:
            continue
        seen.add(element["nodeId"])
        fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": element["nodeId"]})["fonts"]
        if fonts:  # nothing drawn: hidden
            families = sorted({f["familyName"] for f in fonts})
            web = all(f["isCustomFont"] for f in fonts)
            found.append({"text": text[:40], "code": in_code, "families": families, "web": web})
    return found


# The system's own fonts for the generic families, as the deck's fonts would fall back to them.
SYSTEM_PROBE = (
    '<p id="probe"><span style="font-family: sans-serif">Hamburgefonstiv</span>'
    '<span style="font-family: monospace">Hamburgefonstiv</span></p>'
)

# A code line with `->` in it, drawn as the deck draws it and with ligatures allowed.
LIGATURES_ON = (
    ".slidev-code, .slidev-code * { font-variant-ligatures: normal !important;"
    " font-feature-settings: normal !important; }"
)


def _ligatures(page, number: int) -> dict | None:
    line = page.locator(f"#slide-content .slidev-page-{number} .slidev-code .line").filter(
        has_text="->"
    )
    if not line.count():
        return None
    line = line.first
    computed = line.evaluate(
        "e => [...e.querySelectorAll('*')].map(x => getComputedStyle(x).fontVariantLigatures)"
    )
    as_drawn = line.screenshot()
    style = page.add_style_tag(content=LIGATURES_ON)
    with_ligatures = line.screenshot()
    style.evaluate("e => e.remove()")
    return {
        "slide": number,
        "text": line.inner_text().strip(),
        "computed": sorted(set(computed)),
        "ligatures_would_change_it": as_drawn != with_ligatures,
    }


def measure_deck(
    dist: Path,
    count: int,
    chromium: str,
    shots: Path | None = None,
    env: dict[str, str] | None = None,
) -> dict:
    """Each slide's measures after all its clicks (`slides`), with the fonts each text was
    drawn with; the system's fonts (`system`); a code line with `->` (`ligatures`).
    With `shots`, a PNG of each slide too; `env` for Chromium (FONTCONFIG_FILE)."""
    results, ligatures = [], None
    with deck_page(dist, chromium, env) as page:
        cdp = page.context.new_cdp_session(page)
        for number in range(1, count + 1):
            # clicks beyond the last are clamped by Slidev: every v-click shown.
            page.goto(f"{ORIGIN}/{number}?clicks=99", wait_until="networkidle")
            page.wait_for_selector(f"#slide-content .slidev-page-{number} .slidev-layout")
            page.wait_for_timeout(700)  # the fade transition, Mermaid's rendering
            page.evaluate("document.fonts.ready")
            found = page.evaluate(MEASURE, number)
            found["number"] = number
            found["fonts"] = drawn_fonts(cdp, "slide-content")
            results.append(found)
            if shots:
                shots.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(shots / f"{number:02d}.png"))
            ligatures = ligatures or _ligatures(page, number)
        page.set_content(SYSTEM_PROBE)
        system = sorted({f for t in drawn_fonts(cdp, "probe") for f in t["families"]})
    return {"slides": results, "system": system, "ligatures": ligatures}


def main(dist: str, out: str, count: str = "40", font_set: str | None = None) -> None:
    from maintainers.browser import CHROMIUM

    env = font_config(font_set, Path(out)) if font_set else None
    deck = measure_deck(Path(dist), int(count), CHROMIUM, Path(out), env)
    (Path(out) / "measures.json").write_text(json.dumps(deck, indent=1))
    print("system fonts:", ", ".join(deck["system"]), "· code with ->:", deck["ligatures"])
    for m in deck["slides"]:
        texts = m["texts"]
        code, text = (min((t["size"] for t in texts if t["kind"] == k), default="-") for k in KINDS)
        low = min((t["contrast"] for t in texts), default=None)
        fonts = sorted({f for t in m["fonts"] for f in t["families"]})
        outside = sum(t["outside"] for t in texts)
        print(m["number"], "code", code, "text", text, "contrast", low)
        print("  outside", outside, "scrolls", m["scrolls"], "fonts", fonts)


if __name__ == "__main__":
    main(*sys.argv[1:])
