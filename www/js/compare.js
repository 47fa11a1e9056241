// Teaching panel: every method of the comparison (the rows of the engine's table marked `compare`) on
// the current drawing, and pixel flipping: each heatmap's most relevant pixels removed first, the logit
// against a random order, methods ranked by AOPC. Runs when a stroke ends, not on every pointer move.
import { call, colorize, methodTable } from './engine.js';
import { params, methodRequest } from './settings.js';
import { putRGBA } from './view.js';

const $ = (id) => document.getElementById(id);

export class ComparePanel {
  constructor(ui) {
    this.ui = ui; // { engine, settings, info(), showError }
  }

  clear() {
    for (const id of ['compare-grid', 'flip-ranking']) $(id).replaceChildren();
    $('flip-plot').getContext('2d').clearRect(0, 0, $('flip-plot').width, $('flip-plot').height);
    $('flip-caption').textContent = '';
  }

  render() {
    const { engine, settings } = this.ui;
    const names = methodTable().methods.filter((m) => m.compare).map((m) => m.name);
    const t0 = performance.now();
    const target = settings.target < 0 ? null : settings.target;
    const r = call(engine, (e) => e.compare({ methods: names, params: params(), target, per_step: 8, steps: 25, random_repeats: 4 }));
    if (r.error) return this.ui.showError(r.error);
    const data = r.value;
    const ms = performance.now() - t0;
    const shared = $('shared-scale').checked;
    let scale = 0;
    if (shared) for (const m of data.methods) for (const v of m.heatmap) scale = Math.max(scale, Math.abs(v));
    const grid = $('compare-grid');
    grid.replaceChildren();
    const [, h, w] = this.ui.info().input;
    for (const m of data.methods) {
      const fig = document.createElement('figure');
      fig.dataset.method = m.name;
      fig.innerHTML = `<canvas width="${w}" height="${h}"></canvas><figcaption></figcaption>`;
      fig.querySelector('canvas').setAttribute('aria-label', `${m.name} heatmap`);
      putRGBA(fig.querySelector('canvas'), colorize(m.heatmap, shared ? scale : 0, false, settings.colormap), w, h);
      fig.querySelector('figcaption').textContent = `${m.name} · AOPC ${m.aopc.toFixed(2)}`;
      grid.appendChild(fig);
    }
    const ranked = [...data.methods].sort((a, b) => b.aopc - a.aopc);
    const list = $('flip-ranking');
    list.replaceChildren(...ranked.map((m, i) => {
      const li = document.createElement('li');
      li.textContent = `${m.name}: AOPC ${m.aopc.toFixed(3)}${m.aopc > data.random.aopc ? '' : ' (no better than random)'}`;
      li.dataset.method = m.name;
      li.dataset.rank = String(i + 1);
      li.dataset.aopc = String(m.aopc);
      return li;
    }));
    const rnd = document.createElement('li');
    rnd.className = 'random';
    rnd.dataset.aopc = String(data.random.aopc);
    rnd.textContent = `random order: AOPC ${data.random.aopc.toFixed(3)}`;
    list.appendChild(rnd);
    const current = data.methods.find((m) => m.name === methodRequest().method) || ranked[0];
    plotCurves($('flip-plot'), current, data.random);
    $('flip-caption').textContent = `Logit of class ${this.ui.info().classes[data.target] ?? data.target} as the most relevant pixels of the ${current.name} heatmap are removed first (8 per step), against a random order. All ${data.methods.length} methods computed in ${ms.toFixed(0)} ms.`;
    $('flip-caption').dataset.ms = ms.toFixed(1);
    $('flip-ranking').dataset.ready = String(Number($('flip-ranking').dataset.ready || 0) + 1);
  }
}

function plotCurves(canvas, m, random) {
  const ctx = canvas.getContext('2d');
  const { width: w, height: h } = canvas;
  ctx.clearRect(0, 0, w, h);
  const all = [...m.values, ...random.values];
  const lo = Math.min(...all);
  const hi = Math.max(...all);
  const y = (v) => h - 14 - (h - 24) * (v - lo) / ((hi - lo) || 1);
  const x = (i, n) => 30 + (w - 40) * i / (n - 1);
  ctx.strokeStyle = '#c8cdd3';
  ctx.beginPath();
  ctx.moveTo(30, y(0));
  ctx.lineTo(w - 10, y(0));
  ctx.stroke();
  const line = (vals, color) => {
    ctx.strokeStyle = color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    vals.forEach((v, i) => (i ? ctx.lineTo(x(i, vals.length), y(v)) : ctx.moveTo(x(i, vals.length), y(v))));
    ctx.stroke();
  };
  line(random.values, '#8a94a0');
  line(m.values, '#d62020');
  ctx.fillStyle = '#1b1f24';
  ctx.font = '11px system-ui';
  ctx.fillText(`${m.name} (red) vs random (grey); x: pixels removed, y: logit`, 32, 12);
}
