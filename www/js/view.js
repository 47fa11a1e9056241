// Drawing the results: bars, 28x28 images, the overlay on the pad, the colour bar, the all-classes grid
// and the layer view. No computation here beyond layout: numbers and colours come from the engine.

export function putRGBA(canvas, rgba, w = canvas.width, h = canvas.height) {
  const ctx = canvas.getContext('2d');
  ctx.putImageData(new ImageData(new Uint8ClampedArray(rgba.buffer ?? rgba, rgba.byteOffset ?? 0, w * h * 4), w, h), 0, 0);
}

// One bar per class of the model (rebuilt when the model's class names change).
export class Bars {
  constructor(container, onPick) {
    this.container = container;
    this.onPick = onPick;
    this.items = [];
    this.names = [];
  }

  setClasses(names) {
    if (names.length === this.names.length && names.every((n, i) => n === this.names[i])) return;
    this.names = [...names];
    this.items = names.map((name, c) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'bar';
      b.dataset.class = String(c);
      // the accessible name is the visible text (percentage, class) plus the bar's role in words
      b.innerHTML = '<div class="pct"></div><div class="fill"></div><div class="lab"></div><span class="sr-only state"></span>';
      b.querySelector('.lab').textContent = name;
      b.addEventListener('click', (e) => this.onPick(c, e.shiftKey || e.altKey));
      return b;
    });
    this.container.replaceChildren(...this.items);
  }

  update(probs, pred, target, contrast) {
    this.items.forEach((b, c) => {
      const p = probs[c] ?? 0;
      const name = this.names[c];
      b.querySelector('.fill').style.setProperty('--p', String(p));
      b.querySelector('.pct').textContent = probs.length && p >= 0.005 ? `${Math.round(p * 100)}%` : '';
      b.classList.toggle('pred', c === pred);
      b.classList.toggle('target', c === target);
      b.classList.toggle('contrast', c === contrast);
      b.querySelector('.state').textContent = `${c === pred ? ', predicted' : ''}${c === target ? ', explained' : ''}${c === contrast ? ', contrast' : ''}`;
      b.title = `class ${name}: ${(p * 100).toFixed(1)} %`;
      b.setAttribute('aria-pressed', c === target ? 'true' : 'false');
    });
  }
}

// A plot's canvas at the screen's pixel density: sized from its CSS box (or w x h), cleared; drawing
// coordinates are CSS pixels.
export function plotCanvas(canvas, w, h) {
  const dpr = window.devicePixelRatio || 1;
  const cssW = canvas.clientWidth || w;
  const cssH = canvas.clientHeight || h;
  canvas.width = Math.round(cssW * dpr);
  canvas.height = Math.round(cssH * dpr);
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, cssW, cssH);
  return { ctx, cssW, cssH };
}

// A plot's horizontal grid lines at `ticks` (values; `y` maps a value to the canvas) with their labels
// left of the box, in the context's current stroke and fill.
export function yGrid(ctx, box, y, ticks, label) {
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (const v of ticks) {
    ctx.beginPath();
    ctx.moveTo(box.l - 4, y(v));
    ctx.lineTo(box.r, y(v));
    ctx.stroke();
    ctx.fillText(label(v), box.l - 6, y(v));
  }
}

export function renderColorbar(canvas, colorOf) {
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(canvas.width, canvas.height);
  for (let x = 0; x < canvas.width; x++) {
    const rgb = colorOf(2 * x / (canvas.width - 1) - 1);
    for (let y = 0; y < canvas.height; y++) img.data.set([rgb[0], rgb[1], rgb[2], 255], (y * canvas.width + x) * 4);
  }
  ctx.putImageData(img, 0, 0);
}

// Draws the 28x28 heatmap image over the pad, mapped back through the preprocessing transform
// ([scale, src_x, src_y, dst_x, dst_y]: pad = src + (grid - dst) / scale), or at 10x when there is none.
// `mark`: a rectangle of the 28x28 grid ({ x, y, width, height }) drawn as ink with an outline (the
// stamped watermark), where the network sees it.
// The ink itself is tinted: where the relevance is strong the strokes take its colour, where it is weak
// they stay dark (`ink`: the pad's pixels as ImageData, dark ink on white, as the update already read
// them), and a faint halo shows relevance off the ink.
const scratch = { tint: null, mask: null };
function canvasLike(c, key) {
  let s = scratch[key];
  if (!s || s.width !== c.width || s.height !== c.height) s = scratch[key] = Object.assign(document.createElement('canvas'), { width: c.width, height: c.height });
  return s;
}

export function drawOverlay(overlay, heat, transform, mark = null, side = 28, ink = null, tintMap = heat) {
  const ctx = overlay.getContext('2d');
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, overlay.width, overlay.height);
  if (!heat && !mark) return;
  const toGrid = (c) => {
    if (transform && transform.length === 5) {
      const [s, sx, sy, dx, dy] = transform;
      c.setTransform(1 / s, 0, 0, 1 / s, sx - dx / s, sy - dy / s);
    } else {
      c.setTransform(overlay.width / side, 0, 0, overlay.height / side, 0, 0);
    }
    c.imageSmoothingEnabled = true;
  };
  toGrid(ctx);
  if (heat) {
    ctx.globalAlpha = 0.45;
    ctx.drawImage(heat, 0, 0, side, side);
    ctx.globalAlpha = 1;
    if (ink) {
      // the ink's coverage as an alpha mask
      const mask = canvasLike(overlay, 'mask');
      const alpha = new ImageData(ink.width, ink.height);
      const [s, d] = [ink.data, alpha.data];
      for (let i = 3; i < d.length; i += 4) d[i] = 255 - s[i - 3];
      mask.getContext('2d').putImageData(alpha, 0, 0);
      // the heat over dark ink, cut to the ink
      const tint = canvasLike(overlay, 'tint');
      const t = tint.getContext('2d');
      t.setTransform(1, 0, 0, 1, 0, 0);
      t.globalCompositeOperation = 'source-over';
      t.fillStyle = '#222';
      t.fillRect(0, 0, tint.width, tint.height);
      toGrid(t);
      t.drawImage(tintMap, 0, 0, side, side);
      t.setTransform(1, 0, 0, 1, 0, 0);
      t.globalCompositeOperation = 'destination-in';
      t.drawImage(mask, 0, 0);
      t.globalCompositeOperation = 'source-over';
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.drawImage(tint, 0, 0);
      toGrid(ctx);
    }
  }
  if (mark) {
    ctx.fillStyle = '#111';
    ctx.fillRect(mark.x, mark.y, mark.width, mark.height);
    ctx.strokeStyle = '#d97706';
    ctx.lineWidth = 0.5;
    ctx.strokeRect(mark.x - 0.5, mark.y - 0.5, mark.width + 1, mark.height + 1);
  }
  ctx.setTransform(1, 0, 0, 1, 0, 0);
}

// The colour map's end colours with alpha sqrt(|v| / max |v|): over dark ink, strong relevance shows
// its full colour and weak relevance leaves the ink dark.
export function putTint(canvas, values, pos, neg) {
  const scale = values.reduce((m, v) => Math.max(m, Math.abs(v)), 0) || 1;
  const img = new ImageData(canvas.width, canvas.height);
  for (let i = 0; i < values.length && i * 4 < img.data.length; i++) {
    const t = values[i] / scale;
    const c = t >= 0 ? pos : neg;
    img.data.set([c[0], c[1], c[2], Math.round(Math.sqrt(Math.abs(t)) * 255)], i * 4);
  }
  canvas.getContext('2d').putImageData(img, 0, 0);
}

// One heatmap per class on one colour scale: `maps` holds the classes' maps one after another.
export function renderAllClasses(container, maps, names, [h, w], colorize) {
  const n = h * w;
  if (container.children.length !== names.length) {
    container.replaceChildren(...names.map((name) => {
      const fig = document.createElement('figure');
      fig.innerHTML = `<canvas width="${w}" height="${h}"></canvas><figcaption></figcaption>`;
      fig.querySelector('canvas').setAttribute('aria-label', `heatmap for class ${name}`);
      return fig;
    }));
  }
  let scale = 0;
  for (const v of maps) scale = Math.max(scale, Math.abs(v));
  names.forEach((name, c) => {
    const fig = container.children[c];
    const m = maps.subarray(c * n, (c + 1) * n);
    putRGBA(fig.querySelector('canvas'), colorize(m, scale), w, h);
    let sum = 0;
    for (const v of m) sum += v;
    fig.querySelector('figcaption').textContent = `${name}: Σ ${sum.toFixed(2)}`;
  });
  container.dataset.scale = String(scale);
}

// The layer view: one row per layer, from the output down, with the relevance entering and leaving it
// against the explained logit, and the relevance map (summed over channels) at the layer's input.
const RULE_CHOICES = ['0', 'eps', 'gamma', 'alpha2-beta1', 'alpha1-beta0', 'zplus', 'zb', 'w2', 'flat'];

// `result.rules`: the rule of each layer (null where none) when the method is LRP; `result.layer_maps`:
// the relevance of every value of the graph (a layer's map is that of the value it reads);
// `onRule(i, rule)` changes one rule.
export function renderLayers(container, info, result, colorize, onRule) {
  const rules = result.rules;
  const rows = [];
  const explained = result.explained;
  const n = info.layers.length;
  const table = document.createElement('table');
  table.innerHTML = '<thead><tr><th>layer</th><th>rule</th><th>shape in</th><th>relevance from above → passed down</th><th>vs explained</th><th>map</th></tr></thead>';
  const body = document.createElement('tbody');
  for (let i = n - 1; i >= 0; i--) {
    const l = info.layers[i];
    const t = result.layers[i];
    const tr = document.createElement('tr');
    const frac = explained !== 0 ? t.relevance_in / explained : 0;
    const absorbed = t.relevance_out - t.relevance_in;
    tr.innerHTML = `<td>${i} ${l.type}</td><td></td><td>${l.input.c}×${l.input.h}×${l.input.w}</td>` +
      `<td>${t.relevance_out.toFixed(3)} → ${t.relevance_in.toFixed(3)}${Math.abs(absorbed) > 1e-4 * Math.abs(explained) ? ` <span class="small">(${absorbed > 0 ? 'absorbed' : 'created'} ${Math.abs(absorbed).toFixed(3)})</span>` : ''}</td>` +
      `<td><div class="cons" title="${(frac * 100).toFixed(1)}% of the explained value"><span class="${frac > 1.0005 ? 'over' : ''}"></span></div></td><td></td>`;
    // through the CSSOM: the page's CSP forbids inline style attributes
    tr.querySelector('.cons span').style.width = `${Math.min(100, Math.abs(frac) * 100)}%`;
    if (rules && rules[i] != null) {
      const sel = document.createElement('select');
      sel.setAttribute('aria-label', `rule of layer ${i} (${l.type})`);
      sel.dataset.layer = String(i);
      const current = String(rules[i]).replace(/^eps=.*/, 'eps').replace(/^gamma=.*/, 'gamma').replace(/^alpha1-beta0$/, 'alpha1-beta0');
      const norm = (r) => (r.startsWith('alpha') ? r.replace(/\.0\b/g, '') : r);
      for (const r of RULE_CHOICES) sel.add(new Option(r, r));
      if (![...sel.options].some((o) => o.value === norm(current))) sel.add(new Option(current, current));
      sel.value = norm(current);
      sel.addEventListener('change', () => onRule(i, sel.value));
      tr.children[1].appendChild(sel);
    }
    const s = l.input;
    if (s.h > 1 && s.w > 1) {
      const m = result.layer_maps[l.inputs[0]];
      const flat = new Float32Array(s.h * s.w);
      for (let c = 0; c < s.c; c++) for (let k = 0; k < s.h * s.w; k++) flat[k] += m[c * s.h * s.w + k];
      const cv = document.createElement('canvas');
      cv.width = s.w;
      cv.height = s.h;
      cv.setAttribute('aria-label', `relevance at the input of layer ${i}`);
      putRGBA(cv, colorize(flat, 0), s.w, s.h);
      tr.lastChild.appendChild(cv);
    }
    rows.push(tr);
  }
  rows.forEach((r) => body.appendChild(r));
  table.appendChild(body);
  container.replaceChildren(table);
}
