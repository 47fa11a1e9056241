// Teaching panel: every method of the comparison (the rows of the engine's table marked `compare`) on
// the current drawing, and pixel flipping: each heatmap's most relevant pixels removed first, the logit
// against a random order, methods ranked by AOPC. Runs when a stroke ends, not on every pointer move.
import { call, colorize, methodTable } from './engine.js';
import { params, methodRequest } from './settings.js';
import { putRGBA, plotCanvas, yGrid } from './view.js';

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
    const runs = this.ui.info().methods;
    const names = methodTable().methods.filter((m) => m.compare && runs.includes(m.name)).map((m) => m.name);
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
    const [c, h0, w0] = this.ui.info().input;
    plotCurves($('flip-plot'), current, data.random, 8, c * h0 * w0);
    $('flip-caption').textContent = `Logit of class ${this.ui.info().classes[data.target] ?? data.target} as the most relevant pixels of the ${current.name} heatmap are removed first (8 per step), against a random order. All ${data.methods.length} methods computed in ${ms.toFixed(0)} ms.`;
    $('flip-caption').dataset.ms = ms.toFixed(1);
    $('flip-ranking').dataset.ready = String(Number($('flip-ranking').dataset.ready || 0) + 1);
  }
}

// The pixel-flipping curves with axes: x the pixels removed (8 per step, of the input's), y the logit,
// ticks and labels on both; drawn at the screen's pixel density.
function plotCurves(canvas, m, random, perStep, total) {
  const { ctx, cssW, cssH } = plotCanvas(canvas, 420, 200);
  const box = { l: 46, r: cssW - 10, t: 24, b: cssH - 34 };
  const all = [...m.values, ...random.values, 0];
  const lo = Math.min(...all);
  const hi = Math.max(...all);
  const n = m.values.length;
  const y = (v) => box.b - (box.b - box.t) * (v - lo) / ((hi - lo) || 1);
  const x = (i) => box.l + (box.r - box.l) * i / Math.max(1, n - 1);
  const style = getComputedStyle(document.documentElement);
  const ink = style.getPropertyValue('--ink').trim() || '#1b1f24';
  const muted = style.getPropertyValue('--muted').trim() || '#5b6470';
  ctx.font = '11px system-ui, sans-serif';
  ctx.fillStyle = muted;
  ctx.strokeStyle = '#c8cdd3';
  ctx.lineWidth = 1;
  // y ticks: the range's ends and zero
  const ticks = [];
  for (const v of [hi, 0, lo]) if (ticks.every((t) => Math.abs(y(t) - y(v)) >= 14)) ticks.push(v);
  const label = (v) => { const t = Number(v.toFixed(2)); return (t === 0 ? 0 : t).toFixed(2); };
  yGrid(ctx, box, y, ticks, label);
  // x ticks: 0, a quarter, a half, three quarters, all of the removed pixels
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  for (let q = 0; q <= 4; q++) {
    const i = Math.round((n - 1) * q / 4);
    ctx.beginPath();
    ctx.moveTo(x(i), box.b);
    ctx.lineTo(x(i), box.b + 4);
    ctx.stroke();
    ctx.fillText(String(Math.min(total, i * perStep)), x(i), box.b + 6);
  }
  ctx.fillText(`pixels removed (of ${total})`, (box.l + box.r) / 2, box.b + 19);
  canvas.dataset.axes = JSON.stringify({ x: `pixels removed (of ${total})`, y: 'logit', yTicks: ticks.map(label) });
  ctx.save();
  ctx.translate(11, (box.t + box.b) / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText('logit', 0, -6);
  ctx.restore();
  const line = (vals, color) => {
    ctx.strokeStyle = color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    vals.forEach((v, i) => (i ? ctx.lineTo(x(i), y(v)) : ctx.moveTo(x(i), y(v))));
    ctx.stroke();
  };
  line(random.values, '#8a94a0');
  line(m.values, '#d62020');
  ctx.fillStyle = ink;
  ctx.textAlign = 'left';
  ctx.textBaseline = 'top';
  ctx.fillText(`${m.name} (red) against a random order (grey)`, box.l, 4);
}
