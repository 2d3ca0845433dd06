// One slide's measures, in the page (maintainers/slide_render.py). Sizes are in canvas
// pixels (the slide's own scale undone).
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
