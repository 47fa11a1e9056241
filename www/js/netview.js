// Teaching panel: the network view. The model as a column of its layers (input at the top, output at
// the bottom), and per layer every channel as two small maps, its activation and its relevance, with the
// channel's relevance total and the layer's total against the explained logit (the totals the layer
// view shows). A click on a channel shows its conditional heatmap (Concept Relevance Propagation,
// Achtibat et al. 2023: the input relevance of only the relevance through that channel) and the test
// digits that activate it most. LRP with the page's method (epsilon-plus when the page shows a gradient
// method). Imported the first time the panel opens; redrawn with every update of the main view.
import { call, colorize, methodTable } from './engine.js';
import { methodRequest } from './settings.js';
import { putRGBA } from './view.js';

const $ = (id) => document.getElementById(id);
const ACTIVATIONS = ['relu', 'relu6', 'clamp', 'tanh'];
const TOP = 6;
// test digits searched for a channel's strongest activations
const SEARCHED = 1000;

// The values the view shows: every node's output but a flatten's (the same numbers again) and one that
// an activation reads next (its pre-activation; the activation's output follows).
export function shownValues(info) {
  const n = info.layers.length;
  const out = [];
  for (let v = 1; v <= n; v++) {
    const l = info.layers[v - 1];
    const next = info.layers[v];
    if (l.type === 'flatten') continue;
    if (next && ACTIVATIONS.includes(next.type) && next.inputs[0] === v) continue;
    out.push(v);
  }
  return out;
}

function greyRGBA(values, scale) {
  const rgba = new Uint8ClampedArray(values.length * 4);
  values.forEach((v, i) => {
    const g = 255 - Math.round(255 * Math.max(0, Math.min(1, v / (scale || 1))));
    rgba.fill(g, 4 * i, 4 * i + 3);
    rgba[4 * i + 3] = 255;
  });
  return rgba;
}

export class NetworkView {
  constructor(ui) {
    this.ui = ui; // { engine, settings, info(), showError, ensureDigits() }
    this.selected = null; // [value, channel]
    this.tops = new Map(); // `${model}:${value}` -> channels' top digits
  }

  clear() {
    $('net-layers').replaceChildren();
    $('net-detail').hidden = true;
    $('net-caption').textContent = '';
  }

  // The page's method if it is LRP, else epsilon-plus: { request, note }.
  method() {
    const req = methodRequest();
    const row = methodTable().methods.find((m) => m.name === req.method);
    if (req.method === 'custom' || (row && row.family === 'lrp')) return { request: req, note: '' };
    return { request: { method: 'epsilon-plus', params: req.params }, note: ` (the page shows ${req.method}, which has no relevance per layer: the network view uses epsilon-plus)` };
  }

  request(extra) {
    const s = this.ui.settings;
    return { ...this.method().request, target: s.target < 0 ? null : s.target, contrast: s.contrast < 0 ? null : s.contrast, normalize: s.normalize, ...extra };
  }

  render() {
    const info = this.ui.info();
    const r = call(this.ui.engine, (e) => e.explain(this.request({ layers: true, activations: true })));
    if (r.error) {
      $('net-caption').textContent = r.error;
      return;
    }
    const res = r.value;
    const cm = this.ui.settings.colormap;
    const rows = shownValues(info).map((v) => {
      const l = info.layers[v - 1];
      const { c, h, w } = l.output;
      const plane = h * w;
      const rel = res.layer_maps[v];
      const act = res.layer_acts[v];
      const totals = Array.from({ length: c }, (_, k) => rel.subarray(k * plane, (k + 1) * plane).reduce((a, b) => a + b, 0));
      const channelSum = totals.reduce((a, b) => a + b, 0);
      // the layer view's number: the relevance at the input of the layer that reads this value (the
      // output's relevance for the logits)
      const layerTotal = v < info.layers.length ? res.layers[v].relevance_in : res.layers[v - 1].relevance_out;
      const relScale = rel.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
      const actScale = act.reduce((m, x) => Math.max(m, x), 0);
      const row = document.createElement('div');
      row.className = 'net-layer';
      Object.assign(row.dataset, { value: String(v), channelSum: String(channelSum), total: String(layerTotal), relevances: JSON.stringify(totals) });
      const frac = res.explained !== 0 ? layerTotal / res.explained : 0;
      const head = document.createElement('p');
      head.className = 'net-head';
      head.append(Object.assign(document.createElement('strong'), { textContent: `${v - 1} ${l.type}` }), ` ${c} ${plane > 1 ? `channels of ${h}×${w}` : 'units'} · relevance ${layerTotal.toFixed(3)} (${(100 * frac).toFixed(1)} % of the explained ${res.explained.toFixed(3)})`);
      const bar = Object.assign(document.createElement('span'), { className: 'cons' });
      const fill = document.createElement('span');
      fill.style.width = `${Math.min(100, Math.abs(frac) * 100)}%`;
      bar.append(fill);
      head.append(bar);
      const grid = document.createElement('div');
      grid.className = plane > 1 ? 'net-channels' : 'net-units';
      for (let k = 0; k < c; k++) {
        const b = document.createElement('button');
        b.type = 'button';
        b.className = 'net-channel';
        Object.assign(b.dataset, { value: String(v), channel: String(k), relevance: String(totals[k]) });
        b.title = `${l.type} ${v - 1}, ${plane > 1 ? 'channel' : 'unit'} ${k}: activation up to ${act.subarray(k * plane, (k + 1) * plane).reduce((m, x) => Math.max(m, x), -Infinity).toFixed(2)}, relevance ${totals[k].toFixed(3)}`;
        b.setAttribute('aria-label', b.title);
        if (this.selected && this.selected[0] === v && this.selected[1] === k) b.setAttribute('aria-pressed', 'true');
        const a = Object.assign(document.createElement('canvas'), { width: w, height: h });
        putRGBA(a, greyRGBA(act.subarray(k * plane, (k + 1) * plane), actScale), w, h);
        const m = Object.assign(document.createElement('canvas'), { width: w, height: h });
        putRGBA(m, colorize(rel.subarray(k * plane, (k + 1) * plane), relScale, false, cm), w, h);
        b.append(a, m);
        if (plane > 1) b.append(Object.assign(document.createElement('span'), { textContent: totals[k].toFixed(2) }));
        b.addEventListener('click', () => this.select(v, k));
        grid.append(b);
      }
      row.append(head, grid);
      return row;
    });
    $('net-layers').replaceChildren(...rows);
    $('net-caption').textContent = `Class ${info.classes[res.target] ?? res.target}, ${this.method().request.method}${this.method().note}. Each channel: its activation (dark: high) above its relevance; the number is its relevance. The channels' relevances add up to the layer's, which the layer view shows. Click a channel for its own heatmap.`;
    if (this.selected) this.detail();
    $('net-layers').dataset.ready = String(Number($('net-layers').dataset.ready || 0) + 1);
  }

  select(v, k) {
    this.selected = [v, k];
    document.querySelectorAll('#net-layers .net-channel[aria-pressed]').forEach((b) => b.removeAttribute('aria-pressed'));
    document.querySelector(`#net-layers .net-channel[data-value="${v}"][data-channel="${k}"]`)?.setAttribute('aria-pressed', 'true');
    this.detail();
  }

  // The selected channel's conditional heatmap, and its top test digits.
  async detail() {
    const [v, k] = this.selected;
    const info = this.ui.info();
    if (v > info.layers.length || k >= info.layers[v - 1].output.c) {
      this.selected = null;
      $('net-detail').hidden = true;
      return;
    }
    const r = call(this.ui.engine, (e) => e.explain(this.request({ condition: [v, k] })));
    if (r.error) {
      $('net-detail-text').textContent = r.error;
      $('net-detail').hidden = false;
      return;
    }
    const [, h, w] = info.input;
    putRGBA($('net-crp'), colorize(r.value.heatmap, 0, false, this.ui.settings.colormap), w, h);
    const l = info.layers[v - 1];
    const through = Number(document.querySelector(`#net-layers .net-channel[data-value="${v}"][data-channel="${k}"]`)?.dataset.relevance);
    $('net-detail-text').textContent = `${l.type} ${v - 1}, ${l.output.h * l.output.w > 1 ? 'channel' : 'unit'} ${k}: relevance ${through.toFixed(3)} passes through it; its heatmap (the pixels' share of that relevance) sums to ${r.value.sum.toFixed(3)}.`;
    Object.assign($('net-crp').dataset, { value: String(v), channel: String(k), sum: String(r.value.sum) });
    $('net-detail').hidden = false;
    // the test digits that activate it most (found once per layer and model)
    if (!(await this.ui.ensureDigits())) return;
    const key = `${info.name}:${info.parameters}:${v}`;
    if (!this.tops.has(key)) {
      const t = call(this.ui.engine, (e) => e.top_digits(v, TOP, SEARCHED));
      if (t.error) {
        $('net-top').textContent = t.error;
        return;
      }
      this.tops.set(key, t.value);
    }
    if (!this.selected || this.selected[0] !== v || this.selected[1] !== k) return;
    const ids = this.tops.get(key)[k];
    $('net-top').replaceChildren(...ids.map((i) => {
      const c = Object.assign(document.createElement('canvas'), { width: 28, height: 28 });
      c.dataset.digit = String(i);
      c.setAttribute('aria-label', `test digit #${i}, labelled ${this.ui.engine.label(i)}`);
      const px = this.ui.engine.digit(i);
      putRGBA(c, greyRGBA(px, 1), 28, 28);
      return c;
    }));
    $('net-top-caption').textContent = `The ${ids.length} of the first ${SEARCHED} test digits that activate it most: ${ids.map((i) => `#${i} (${this.ui.engine.label(i)})`).join(', ')}.`;
  }
}
