// Measurements of a page as a viewer sees it, for edge.test.mjs: card boxes
// against their declared grid spans, overlapping text, and the contrast of
// text against the background it is really drawn on.

// Runs in the page (`context.addInitScript`); the measurements are window.__edge.
export function installInspector() {
  const intersect = (a, b) => {
    const r = {
      left: Math.max(a.left, b.left),
      top: Math.max(a.top, b.top),
      right: Math.min(a.right, b.right),
      bottom: Math.min(a.bottom, b.bottom),
    };
    return r.right > r.left && r.bottom > r.top ? r : null;
  };
  const clips = (el) => {
    const s = getComputedStyle(el);
    return s.overflowX !== 'visible' || s.overflowY !== 'visible';
  };
  // What of `rect` the ancestors from `from` up to (not including) `stop` let show.
  const clipped = (rect, from, stop = null) => {
    let visible = rect;
    for (let a = from; a && a !== stop && visible; a = a.parentElement) {
      if (clips(a)) visible = intersect(visible, a.getBoundingClientRect());
    }
    return visible;
  };
  const shown = (el) => {
    for (let a = el; a; a = a.parentElement) {
      const s = getComputedStyle(a);
      if (s.display === 'none' || s.visibility === 'hidden' || Number(s.opacity) === 0) return false;
    }
    return true;
  };
  const describe = (el) => {
    const id = el.closest('[data-widget-id]')?.dataset.widgetId ?? 'page';
    const cls = typeof el.className === 'string' ? el.className : el.className.baseVal;
    return `${id} <${el.tagName.toLowerCase()} class="${cls}">`;
  };

  // Every card's size is its declared span of equal, fixed grid tracks, and
  // nothing inside reaches out of it (what does not fit is cut inside).
  function boxes() {
    const problems = [];
    const cards = [];
    for (const grid of document.querySelectorAll('.grid')) {
      const gs = getComputedStyle(grid);
      const rows = gs.gridTemplateRows.split(' ').map(parseFloat);
      const cols = gs.gridTemplateColumns.split(' ').map(parseFloat);
      const [rowGap, colGap] = [parseFloat(gs.rowGap), parseFloat(gs.columnGap)];
      if (new Set(rows.map((r) => Math.round(r))).size > 1) problems.push(`grid rows differ: ${gs.gridTemplateRows}`);
      for (const el of grid.querySelectorAll(':scope > .card')) {
        const span = (axis) => Number(el.className.match(new RegExp(`card--${axis}(\\d)`))?.[1] ?? 1);
        const spanCols = Math.min(span('w'), cols.length);
        const spanRows = span('h');
        const want = {
          width: spanCols * cols[0] + (spanCols - 1) * colGap,
          height: spanRows * rows[0] + (spanRows - 1) * rowGap,
        };
        const r = el.getBoundingClientRect();
        cards.push({ id: el.dataset.widgetId, width: r.width, height: r.height, want });
        if (Math.abs(r.width - want.width) > 1 || Math.abs(r.height - want.height) > 1) {
          problems.push(`${el.dataset.widgetId}: ${r.width.toFixed(1)}×${r.height.toFixed(1)} px, declared box ${want.width.toFixed(1)}×${want.height.toFixed(1)}`);
        }
        for (const inner of el.querySelectorAll('*')) {
          if (!shown(inner)) continue;
          const ir = inner.getBoundingClientRect();
          if (ir.width === 0 && ir.height === 0) continue;
          const v = clipped(ir, inner.parentElement, el);
          if (v && (v.left < r.left - 1 || v.top < r.top - 1 || v.right > r.right + 1 || v.bottom > r.bottom + 1)) {
            problems.push(`${describe(inner)} reaches out of its card: ${JSON.stringify(v)} vs ${JSON.stringify(r.toJSON())}`);
          }
        }
      }
    }
    return { problems, cards };
  }

  // The visible boxes of every piece of text on the page.
  function textBoxes() {
    const out = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const el = node.parentElement;
      if (!node.textContent.trim() || !el || !shown(el) || el.closest('script, style, noscript')) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      for (const r of range.getClientRects()) {
        const v = clipped(r, el);
        if (v && v.right - v.left > 0.5 && v.bottom - v.top > 0.5) out.push({ v, node, el });
      }
    }
    return out;
  }

  function overlaps() {
    const boxes = textBoxes();
    const found = [];
    for (let i = 0; i < boxes.length; i += 1) {
      for (let j = i + 1; j < boxes.length; j += 1) {
        const [a, b] = [boxes[i], boxes[j]];
        if (a.node === b.node) continue;
        const x = intersect(a.v, b.v);
        if (x && x.right - x.left > 1 && x.bottom - x.top > 1) {
          found.push(`${describe(a.el)} "${a.node.textContent.trim().slice(0, 30)}" overlaps ${describe(b.el)} "${b.node.textContent.trim().slice(0, 30)}"`);
        }
      }
    }
    return { count: boxes.length, found };
  }

  // Contrast, WCAG 2: colours parsed from getComputedStyle and composited.
  function parse(colour) {
    const nums = (s) => s.split(/[\s,/]+/).filter(Boolean).map(Number);
    let m = colour.match(/^rgba?\((.*)\)$/);
    if (m) {
      const [r, g, b, a = 1] = nums(m[1]);
      return [r, g, b, a];
    }
    m = colour.match(/^color\(srgb (.*)\)$/);
    if (m) {
      const [r, g, b, a = 1] = nums(m[1]);
      return [r * 255, g * 255, b * 255, a];
    }
    throw new Error(`cannot parse the colour ${colour}`);
  }
  const over = (top, bottom) => {
    const a = top[3];
    return [0, 1, 2].map((i) => top[i] * a + bottom[i] * (1 - a)).concat(1);
  };
  const luminance = ([r, g, b]) => {
    const lin = (c) => {
      const s = c / 255;
      return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  };
  const ratio = (x, y) => {
    const [hi, lo] = [luminance(x), luminance(y)].sort((p, q) => q - p);
    return (hi + 0.05) / (lo + 0.05);
  };
  function contrastOf(el) {
    const chain = [];
    let opacity = 1;
    for (let a = el; a; a = a.parentElement) {
      chain.unshift(a);
      opacity *= Number(getComputedStyle(a).opacity);
    }
    // The canvas, then every background from the root down to the element.
    let background = matchMedia('(prefers-color-scheme: dark)').matches ? [0, 0, 0, 1] : [255, 255, 255, 1];
    for (const a of chain) background = over(parse(getComputedStyle(a).backgroundColor), background);
    const fg = parse(getComputedStyle(el).color);
    fg[3] *= opacity;
    return ratio(over(fg, background), background);
  }

  function secondaryText(required, others) {
    const found = {};
    const rows = [];
    for (const selector of [...required, ...others]) {
      found[selector] = 0;
      for (const el of document.querySelectorAll(selector)) {
        if (!shown(el) || !el.textContent.trim()) continue;
        if (!clipped(el.getBoundingClientRect(), el.parentElement)) continue;
        found[selector] += 1;
        rows.push({
          selector,
          what: `${describe(el)} "${el.textContent.trim().slice(0, 24)}"`,
          contrast: contrastOf(el),
          px: parseFloat(getComputedStyle(el).fontSize),
        });
      }
    }
    return { found, rows };
  }

  window.__edge = { boxes, overlaps, secondaryText, contrastOf };
}
