// Teaching panel: the sanity check of Adebayo et al. 2018. The engine re-initialises the model's weighted
// layers from the top down, one more at each step, and explains the same class each time; each method's
// map is compared with its map on the trained model (Spearman rank correlation, of the signed map and of
// |R|, and SSIM of |R|). A row of heatmaps per method, the two curves, and the numbers. Imported the first
// time the panel opens; runs when a stroke ends.
import { call, colorize } from './engine.js';
import { params } from './settings.js';
import { putRGBA, plotCanvas, yGrid } from './view.js';

const $ = (id) => document.getElementById(id);
// the compared methods, where the model runs them: LRP rules, gradients, and occlusion (no backward pass)
const METHODS = ['lrp-0', 'epsilon-plus', 'epsilon-gamma-box', 'lrp-lstm', 'gradient', 'gradient-x-input', 'integrated-gradients', 'occlusion'];
const COLOURS = ['#d62020', '#e07b00', '#8a5a00', '#b0006e', '#1f4fd6', '#008a8a', '#6b3fd6', '#4d4d4d'];

export class SanityPanel {
  constructor(ui) {
    this.ui = ui; // { engine, settings, info(), showError }
  }

  clear() {
    $('sanity-grid').replaceChildren();
    $('sanity-caption').textContent = '';
    for (const id of ['sanity-rho', 'sanity-ssim']) $(id).getContext('2d').clearRect(0, 0, $(id).width, $(id).height);
  }

  render() {
    const { engine, settings } = this.ui;
    const info = this.ui.info();
    const methods = METHODS.filter((m) => info.methods.includes(m));
    const t0 = performance.now();
    const target = settings.target < 0 ? null : settings.target;
    const r = call(engine, (e) => e.sanity_check({ methods, params: params(), target, seed: 0 }));
    if (r.error) return this.ui.showError(r.error);
    const data = r.value;
    const ms = performance.now() - t0;
    const [, h, w] = info.input;
    const steps = data.steps;
    const head = document.createElement('tr');
    head.append(document.createElement('th'), ...steps.map((s, k) => Object.assign(document.createElement('th'), { scope: 'col', textContent: k === 0 ? 'trained' : k === steps.length - 1 ? 'all random' : `+ ${s.randomized[k - 1]}` })));
    const rows = methods.map((name, i) => {
      const tr = document.createElement('tr');
      tr.dataset.method = name;
      const th = Object.assign(document.createElement('th'), { scope: 'row', textContent: name });
      th.style.color = COLOURS[METHODS.indexOf(name)];
      tr.append(th);
      steps.forEach((s, k) => {
        const td = document.createElement('td');
        Object.assign(td.dataset, { step: String(k), spearman: String(s.spearman[i]), spearmanAbs: String(s.spearman_abs[i]), ssim: String(s.ssim[i]) });
        const c = Object.assign(document.createElement('canvas'), { width: w, height: h });
        c.setAttribute('aria-label', `${name}, ${k === 0 ? 'trained model' : `${k} layers random`}`);
        putRGBA(c, colorize(s.maps[i], 0, false, settings.colormap), w, h);
        td.append(c, Object.assign(document.createElement('span'), { className: 'small', textContent: `ρ ${s.spearman[i].toFixed(2)} · SSIM ${s.ssim[i].toFixed(2)}` }));
        tr.append(td);
      });
      return tr;
    });
    const table = document.createElement('table');
    table.append(Object.assign(document.createElement('caption'), { className: 'sr-only', textContent: 'each method\'s heatmap as more layers are randomised' }), head, ...rows);
    $('sanity-grid').replaceChildren(table);
    const series = methods.map((name, i) => ({ name, colour: COLOURS[METHODS.indexOf(name)], rho: steps.map((s) => s.spearman[i]), ssim: steps.map((s) => s.ssim[i]) }));
    plot($('sanity-rho'), series, 'rho', 'Spearman rank correlation with the trained map');
    plot($('sanity-ssim'), series, 'ssim', 'SSIM of |R| with the trained map');
    const last = steps[steps.length - 1];
    const kept = methods.filter((m, i) => last.spearman[i] > 0.5);
    const absKept = methods.filter((m, i) => last.spearman_abs[i] > 0.9);
    $('sanity-caption').textContent = `Class ${info.classes[data.target] ?? data.target}; ${steps.length - 1} layers randomised in turn from the top, ${methods.length} methods in ${ms.toFixed(0)} ms. `
      + (kept.length ? `With every layer random, ${kept.join(', ')} still rank the pixels as on the trained model: they do not depend on the weights. ` : 'With every layer random, no method ranks the pixels as on the trained model: all of them depend on the weights. ')
      + (absKept.length ? `The |R| measures stay high for ${absKept.join(', ')}: on blank pixels they give exactly 0 whatever the weights (they multiply by the input; occlusion blanks what is already blank), so the digit's outline survives; the signed correlation shows the change.` : '');
    $('sanity-grid').dataset.ready = String(Number($('sanity-grid').dataset.ready || 0) + 1);
  }
}

// One measure per method against the steps (x: how many layers are random), y from -1 to 1.
function plot(canvas, series, key, title) {
  const { ctx, cssW, cssH } = plotCanvas(canvas, 360, 200);
  const box = { l: 34, r: cssW - 8, t: 22, b: cssH - 30 };
  const n = series[0].rho.length;
  const x = (i) => box.l + (box.r - box.l) * i / Math.max(1, n - 1);
  const y = (v) => box.b - (box.b - box.t) * (v + 1) / 2;
  const style = getComputedStyle(document.documentElement);
  ctx.font = '11px system-ui, sans-serif';
  ctx.fillStyle = style.getPropertyValue('--muted').trim() || '#5b6470';
  ctx.strokeStyle = '#c8cdd3';
  ctx.lineWidth = 1;
  yGrid(ctx, box, y, [1, 0, -1], String);
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  for (let i = 0; i < n; i++) ctx.fillText(String(i), x(i), box.b + 4);
  ctx.fillText('layers randomised from the top', (box.l + box.r) / 2, box.b + 16);
  for (const s of series) {
    ctx.strokeStyle = s.colour;
    ctx.lineWidth = 2;
    ctx.beginPath();
    s[key].forEach((v, i) => (i ? ctx.lineTo(x(i), y(v)) : ctx.moveTo(x(i), y(v))));
    ctx.stroke();
  }
  ctx.fillStyle = style.getPropertyValue('--ink').trim() || '#1b1f24';
  ctx.textAlign = 'left';
  ctx.fillText(title, box.l, 4);
  canvas.dataset.series = JSON.stringify(series.map((s) => ({ name: s.name, values: s[key] })));
}
