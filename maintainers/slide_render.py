"""The built deck in Chromium, slide by slide, at Slidev's 980 px canvas: what the back row sees.

For every slide, after all its clicks: the size of every visible text (code counts as code),
where it is drawn, its colour's contrast against what is behind it (opacities included), the
fonts Chromium drew it with, and whether anything lies outside the slide or scrolls. On Linux,
with only one set of system fonts (FONT_SETS, through fontconfig). Used by tests/test_slides.py;
run by hand to look:

    python maintainers/slide_render.py DIST_DIR OUT_DIR [COUNT] [dejavu|liberation]
    # a PNG per slide and measures.json
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

WIDTH, HEIGHT = 980, 551  # Slidev's canvas: 980 px wide, 16:9

# One slide's measures, in the page. Sizes are in canvas pixels (the slide's own scale undone).
MEASURE = r"""
(number) => {
  const content = document.querySelector('#slide-content');
  const slide = content.querySelector(`.slidev-page-${number}`);
  const box = content.getBoundingClientRect();
  const up = (e) => e.parentElement || e.getRootNode().host || null;
  // How much an element's drawing is scaled: the product of its own and its ancestors' CSS
  // transforms (the slide's scale(), a Mermaid diagram's scale); inside an SVG, its screen
  // matrix, which holds the transforms above the SVG too. A ratio of two box heights would
  // move with line-box rounding: the font's metrics, not the slide.
  const drawnScale = (el) => {
    let s = 1;
    for (let e = el; e && e !== document.documentElement; e = up(e)) {
      if (e instanceof SVGGraphicsElement) {
        const m = e.getScreenCTM();
        return s * Math.hypot(m.a, m.b);
      }
      const t = getComputedStyle(e).transform;
      if (t && t !== 'none') {
        const m = new DOMMatrixReadOnly(t);
        s *= Math.hypot(m.a, m.b);
      }
      s *= Number(getComputedStyle(e).zoom) || 1;
    }
    return s;
  };
  const scale = drawnScale(content);  // canvas px to screen px
  const parse = (c) => {
    const m = c.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const p = m[1].split(/[ ,\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, under) => {
    const a = top[3];
    return [0, 1, 2].map(i => top[i] * a + under[i] * (1 - a)).concat([1]);
  };
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
  };
  const ratio = (a, b) => {
    const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05);
  };
  // What is painted behind an element: the backgrounds of it and its ancestors, composited.
  const background = (el) => {
    const layers = [];
    for (let e = el; e && e !== document.documentElement; e = up(e)) {
      const s = getComputedStyle(e);
      const c = parse(s.backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
      if (s.backgroundImage && s.backgroundImage.includes('gradient') && !layers.length) {
        // The cover's gradient: its lightest stop is the worst case for light text.
        const stops = [...s.backgroundImage.matchAll(/rgba?\([^)]+\)/g)].map(x => parse(x[0]));
        const light = stops.sort((p, q) => lum(q) - lum(p))[0];
        layers.push(light); break;
      }
    }
    let c = [255, 255, 255, 1];
    for (const layer of layers.reverse()) c = over(layer, c);
    return c;
  };
  const opacity = (el) => {
    let o = 1;
    for (let e = el; e && e !== content.parentElement; e = up(e)) {
      o *= Number(getComputedStyle(e).opacity);
    }
    return o;
  };
  // Every text node, in shadow roots too (Slidev draws Mermaid diagrams in one).
  const nodes = [];
  const collect = (root) => {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      if (n.nodeType === Node.TEXT_NODE) nodes.push(n);
      else if (n.shadowRoot) collect(n.shadowRoot);
    }
  };
  collect(slide);
  // The font faces the page has loaded (the deck's own, bundled), as family|weight|style.
  const unquote = (f) => f.trim().replace(/^["']|["']$/g, '');
  const loaded = new Set([...document.fonts].filter(f => f.status === 'loaded')
    .map(f => `${unquote(f.family)}|${f.weight}|${f.style}`));
  const texts = [];
  for (const node of nodes) {
    if (!node.textContent.trim()) continue;
    const el = node.parentElement;
    const s = getComputedStyle(el);
    if (s.visibility === 'hidden' || s.display === 'none') continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const r = range.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    const alpha = opacity(el);
    if (alpha < 0.05) continue;  // a v-click not shown yet
    // The drawn size: the computed font size, scaled as the element is drawn, in canvas px.
    const size = parseFloat(s.fontSize) * drawnScale(el) / scale;
    const fg = parse(el instanceof SVGElement && s.fill && s.fill !== 'none' ? s.fill : s.color);
    let bg = background(el);
    if (el.closest('svg')) {
      // In a diagram, what is behind the text is the shape drawn under it (a box, a note).
      const root = el.getRootNode();
      const under = (root.elementsFromPoint ? root : document)
        .elementsFromPoint(r.left + r.width / 2, r.top + r.height / 2);
      const filled = (e) => (parse(getComputedStyle(e).fill) || [0, 0, 0, 0])[3] > 0;
      const shape = under.find(e => e instanceof SVGGeometryElement && filled(e));
      if (shape) bg = over(parse(getComputedStyle(shape).fill), bg);
    }
    fg[3] = fg[3] * alpha;
    const contrast = ratio(over(fg, bg), bg);
    const code = !!el.closest('pre, code');
    const mermaid = el.getRootNode() instanceof ShadowRoot || !!el.closest('svg');
    const outside = r.left < box.left - 1 || r.right > box.right + 1
      || r.top < box.top - 1 || r.bottom > box.bottom + 1;
    // Where the text is drawn, in canvas px from the slide's top left, and on how many lines.
    const at = (v) => Math.round(v / scale * 2) / 2;
    texts.push({
      text: node.textContent.trim().slice(0, 40), size: Math.round(size * 10) / 10,
      contrast: Math.round(contrast * 100) / 100,
      kind: code ? 'code' : mermaid ? 'diagram' : 'text',
      outside,
      // The face CSS asks for, and whether the page has loaded exactly that face.
      face: `${unquote(s.fontFamily.split(',')[0])} ${s.fontWeight} ${s.fontStyle}`,
      loaded: loaded.has(`${unquote(s.fontFamily.split(',')[0])}|${s.fontWeight}|${s.fontStyle}`),
      box: [at(r.left - box.left), at(r.top - box.top), at(r.width), at(r.height)],
      lines: new Set([...range.getClientRects()].map(q => Math.round(q.top))).size,
    });
  }
  const scrolls = [...slide.querySelectorAll('pre, .slidev-layout')]
    .filter(e => e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1)
    .map(e => e.className || e.tagName);
  return { texts, scrolls };
}
"""


class _SpaHandler(http.server.SimpleHTTPRequestHandler):
    """Serve a built Slidev site; unknown paths (/3, /presenter) get index.html, as Slidev's do."""

    def log_message(self, *args):
        pass

    def send_head(self):
        path = Path(self.translate_path(self.path))
        if not path.exists():
            self.path = "/index.html"
        return super().send_head()


@contextmanager
def serve(root: Path):
    handler = functools.partial(_SpaHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def browser_page(chromium: str, env: dict[str, str] | None = None):
    from playwright.sync_api import sync_playwright

    from browser import FLAGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=FLAGS, env={**os.environ, **(env or {})}
        )
        try:
            page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
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


def _walk(node: dict, parent: dict | None, in_code: bool):
    """(the element, whether it is in code) for each text node with text, shadow roots too."""
    name = node.get("nodeName", "")
    if node.get("nodeType") == 3 and parent is not None and node.get("nodeValue", "").strip():
        yield parent, node["nodeValue"].strip(), in_code
    in_code = in_code or name in ("PRE", "CODE")
    for child in node.get("children", []) + node.get("shadowRoots", []):
        yield from _walk(child, node if node.get("nodeType") == 1 else parent, in_code)


def _find(node: dict, element_id: str) -> dict | None:
    attributes = node.get("attributes", [])
    if "id" in attributes[::2] and attributes[attributes.index("id") + 1] == element_id:
        return node
    for child in node.get("children", []) + node.get("shadowRoots", []):
        found = _find(child, element_id)
        if found:
            return found
    return None


def drawn_fonts(cdp, element_id: str | None = None) -> list[dict]:
    """For each text drawn under #element_id (the whole page if None): the fonts it was drawn
    with, as Chromium reports them: family name, and whether it is a web font (not the system's)."""
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": -1, "pierce": True})["root"]
    top = _find(root, element_id) if element_id else root
    found, seen = [], set()
    for element, text, in_code in _walk(top, None, False) if top else ():
        if element["nodeId"] in seen:
            continue
        seen.add(element["nodeId"])
        fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": element["nodeId"]})["fonts"]
        if fonts:  # nothing drawn: hidden
            found.append(
                {
                    "text": text[:40],
                    "code": in_code,
                    "families": sorted({f["familyName"] for f in fonts}),
                    "web": all(f["isCustomFont"] for f in fonts),
                }
            )
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
    with serve(dist) as url, browser_page(chromium, env) as page:
        cdp = page.context.new_cdp_session(page)
        for number in range(1, count + 1):
            # clicks beyond the last are clamped by Slidev: every v-click shown.
            page.goto(f"{url}/{number}?clicks=99", wait_until="networkidle")
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


if __name__ == "__main__":
    from maintainers.browser import CHROMIUM

    dist, out = Path(sys.argv[1]), Path(sys.argv[2])
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 40
    env = font_config(sys.argv[4], out) if len(sys.argv) > 4 else None
    deck = measure_deck(dist, count, CHROMIUM, out, env)
    (out / "measures.json").write_text(json.dumps(deck, indent=1))
    print("system fonts:", ", ".join(deck["system"]), "· code with ->:", deck["ligatures"])
    for m in deck["slides"]:
        texts = m["texts"]
        code = [t["size"] for t in texts if t["kind"] == "code"]
        body = [t["size"] for t in texts if t["kind"] == "text"]
        low = min((t["contrast"] for t in texts), default=None)
        fonts = sorted({f for t in m["fonts"] for f in t["families"]})
        print(
            m["number"],
            "code",
            min(code, default="-"),
            "text",
            min(body, default="-"),
            "contrast",
            low,
            "outside",
            sum(t["outside"] for t in texts),
            "scrolls",
            m["scrolls"],
            "fonts",
            fonts,
        )
