"""The built deck in Chromium at Slidev's 980 px canvas, slide by slide: what the back row sees.

After all of a slide's clicks: each visible text's size, box, contrast and drawn fonts, and what
lies outside the slide or scrolls (slide_render.js). Used by tests/test_slides.py.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit

from maintainers.browser import FLAGS

WIDTH, HEIGHT = 980, 551  # Slidev's canvas: 980 px wide, 16:9
MEASURE = Path(__file__).with_suffix(".js").read_text()  # one slide's measures, in canvas px
ORIGIN = "http://127.0.0.1:9"  # never reached: Playwright answers from the built site
# Where the room slide (components/RoomJoin.vue) asks for the app by default: refused here, so
# that an app running on this machine never changes what is measured (the tests pass ?room=).
ROOM_APP = "http://127.0.0.1:8000"


@contextmanager
def deck_page(dist: Path, chromium: str, env: dict[str, str] | None = None):
    """A page at the canvas size, served `dist` at ORIGIN (unknown paths: index.html)."""
    from playwright.sync_api import sync_playwright

    def answer(route):
        path = dist / unquote(urlsplit(route.request.url).path).lstrip("/")
        route.fulfill(path=path if path.is_file() else dist / "index.html")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=FLAGS, env={**os.environ, **(env or {})}
        )
        page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
        page.route(f"{ORIGIN}/**", answer)
        page.route(f"{ROOM_APP}/**", lambda route: route.abort("connectionrefused"))
        yield page


@contextmanager
def served(dist: Path):
    """The built deck on a real port of 127.0.0.1, as `make slides` serves it; yields its origin.
    The room slide asks the app on 127.0.0.1 from there: loopback to loopback, which Chromium's
    Local Network Access allows (from ORIGIN, a routed page, it refuses)."""
    import threading
    from functools import partial
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Deck(SimpleHTTPRequestHandler):
        def translate_path(self, path: str) -> str:
            file = Path(super().translate_path(path))
            return str(file if file.is_file() else dist / "index.html")  # the slides' routes

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Deck, directory=str(dist)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# Two sets of system fonts a laptop may have (Debian: fonts-dejavu-core, fonts-liberation), by
# the start of their files' names. Under each, Chromium sees those fonts and no others.
FONT_SETS = {"dejavu": "DejaVu", "liberation": "Liberation"}
FONT_DIRS = [Path("/usr/share/fonts"), Path("/usr/local/share/fonts")]


def font_config(name: str, where: Path) -> dict[str, str] | None:
    """Chromium's environment to see only font set `name` (fontconfig); None if none is here."""
    files = {
        f.name: f for d in FONT_DIRS if d.is_dir() for f in d.rglob(f"{FONT_SETS[name]}*.[ot]tf")
    }
    if not files:
        return None
    fonts = where / name / "fonts"
    fonts.mkdir(parents=True, exist_ok=True)
    for file_name, file in sorted(files.items()):
        if not (fonts / file_name).exists():
            (fonts / file_name).symlink_to(file)
    conf = where / name / "fonts.conf"
    conf.write_text(  # the system's rules (sans-serif, monospace...), not its font directories
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">\n'
        f"<fontconfig>\n  <dir>{fonts}</dir>\n  <cachedir>{where / name / 'cache'}</cachedir>\n"
        '  <include ignore_missing="yes">/etc/fonts/conf.d</include>\n</fontconfig>\n'
    )
    return {"FONTCONFIG_FILE": str(conf)}


def _texts(node: dict, under: str | None, parent: dict | None = None, in_code: bool = False):
    """(its element, the text, whether in code) for each text node under the element `#under`."""
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
    """The fonts each text under #element_id was drawn with (CSS.getPlatformFontsForNode): family
    names, and whether all are web fonts."""
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
LIGATURES_ON = (
    ".slidev-code, .slidev-code * { font-variant-ligatures: normal !important;"
    " font-feature-settings: normal !important; }"
)


def _ligatures(page, number: int) -> dict | None:
    """A code line with `->`: its ligature setting, and whether allowing them changes it."""
    line = page.locator(f"#slide-content .slidev-page-{number} .slidev-code .line")
    line = line.filter(has_text="->")
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


def show_slide(page, number: int, query: str = "", origin: str = ORIGIN) -> None:
    """Slide `number` with all its clicks shown (Slidev clamps clicks beyond the last)."""
    page.goto(f"{origin}/{number}?clicks=99{query}", wait_until="networkidle")
    page.wait_for_selector(f"#slide-content .slidev-page-{number} .slidev-layout")
    page.wait_for_timeout(700)  # the fade transition, Mermaid's rendering
    page.evaluate("document.fonts.ready")


def measure_slide(page, cdp, number: int, query="", shot: Path | None = None, origin=ORIGIN):
    """One slide's measures (slide_render.js) and drawn fonts; with `shot`, a PNG of it."""
    show_slide(page, number, query, origin)
    found = {**page.evaluate(MEASURE, number), "number": number}
    found["fonts"] = drawn_fonts(cdp, "slide-content")
    if shot:
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot))
    return found


def png_pixels(data: bytes) -> list[list[tuple[int, int, int]]]:
    """A screenshot's pixels, rows of (r, g, b): an 8-bit RGB or RGBA PNG, as Chromium writes."""
    import struct
    import zlib

    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    at, chunks, header = 8, [], None
    while at < len(data):
        (length,), kind = struct.unpack(">I", data[at : at + 4]), data[at + 4 : at + 8]
        body = data[at + 8 : at + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
        at += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and not interlace, header
    size = 3 if colour == 2 else 4
    raw, stride, rows, previous = zlib.decompress(b"".join(chunks)), width * size, [], None
    for y in range(height):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        above = previous or bytearray(stride)
        for i in range(stride):
            left = line[i - size] if i >= size else 0
            up, corner = above[i], above[i - size] if i >= size else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                near = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + near) & 255
        rows.append([tuple(line[x : x + 3]) for x in range(0, stride, size)])
        previous = line
    return rows


def measure_deck(dist: Path, count: int, chromium: str, shots=None, env=None) -> dict:
    """Each slide's measures and drawn fonts (`slides`), the system's fonts (`system`), a code
    line with `->` (`ligatures`); with `shots` (a folder), a PNG of each slide too."""
    results, ligatures = [], None
    with deck_page(dist, chromium, env) as page:
        cdp = page.context.new_cdp_session(page)
        for number in range(1, count + 1):
            shot = Path(shots) / f"{number:02d}.png" if shots else None
            results.append(measure_slide(page, cdp, number, shot=shot))
            ligatures = ligatures or _ligatures(page, number)
        page.set_content(SYSTEM_PROBE)
        system = sorted({f for t in drawn_fonts(cdp, "probe") for f in t["families"]})
    return {"slides": results, "system": system, "ligatures": ligatures}
