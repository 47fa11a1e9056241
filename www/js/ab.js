// Teaching panel: A | B. Any two models or any two methods on the same drawing (the input the main view
// explains, watermark included): both heatmaps, their difference (each map scaled to its largest |R|),
// and both pixel-flipping curves on one plot with their AOPC. Each side runs in an engine of its own
// with its model (`modelEngine`; "the page's model" is the main engine, also a model of your own).
// Imported the first time the panel opens; runs when a stroke ends.
import { call, colorize, methodTable, modelEngine } from './engine.js';
import { params, methodRequest } from './settings.js';
import { putRGBA, plotCanvas, yGrid } from './view.js';

const $ = (id) => document.getElementById(id);
const CURRENT = 'current';
const COLOURS = { a: '#d62020', b: '#1f4fd6' };

export class AbPanel {
  constructor(ui) {
    this.ui = ui; // { engine, settings, info(), showError, models: [stems] }
    this.run = 0;
    for (const side of ['a', 'b']) {
      const model = $(`ab-model-${side}`);
      model.replaceChildren(new Option('the page\'s model', CURRENT), ...ui.models.map((m) => new Option(m, m)));
      const method = $(`ab-method-${side}`);
      method.replaceChildren(...methodTable().methods.filter((m) => m.compare).map((m) => new Option(m.name, m.name)));
      for (const el of [model, method]) el.addEventListener('change', () => this.render());
    }
    // A: the page's method (epsilon-plus for a rule per layer); B: the gradient
    const current = methodRequest().method.split(':')[0];
    $('ab-method-a').value = [...$('ab-method-a').options].some((o) => o.value === current) ? current : 'epsilon-plus';
    $('ab-method-b').value = 'gradient';
  }

  clear() {
    for (const id of ['ab-a', 'ab-b', 'ab-diff']) $(id).getContext('2d').clearRect(0, 0, $(id).width, $(id).height);
    $('ab-plot').getContext('2d').clearRect(0, 0, $('ab-plot').width, $('ab-plot').height);
    $('ab-caption').textContent = '';
  }

  // One side: its engine (the page's, or the model's own with the page's input), its explanation and
  // pixel-flipping curve. Returns { name, model, heatmap, values, aopc, target, classes } or { error }.
  async side(key, pixels) {
    const stem = $(`ab-model-${key}`).value;
    const method = $(`ab-method-${key}`).value;
    let engine = this.ui.engine;
    let info = this.ui.info();
    if (stem !== CURRENT) {
      try {
        ({ engine, info } = await modelEngine(stem));
      } catch (e) {
        return { error: `${stem}: ${e.message}` };
      }
      const set = call(engine, (e) => e.set_pixels(pixels));
      if (set.error) return { error: `${stem}: ${set.error}` };
    }
    const target = this.ui.settings.target < 0 || this.ui.settings.target >= info.classes.length ? null : this.ui.settings.target;
    const r = call(engine, (e) => e.compare({ methods: [method], params: params(), target, per_step: 8, steps: 25, random_repeats: 0 }));
    if (r.error) return { error: `${stem === CURRENT ? info.name : stem}, ${method}: ${r.error}` };
    return { ...r.value.methods[0], model: stem === CURRENT ? info.name : stem, target: r.value.target, classes: info.classes };
  }

  async render() {
    const run = ++this.run;
    const info = this.ui.info();
    const [c, h, w] = info.input;
    if (c !== 1 || h !== 28 || w !== 28) {
      $('ab-caption').textContent = 'A | B compares digit models (1 x 28 x 28); the page\'s model takes another input.';
      return;
    }
    const pixels = this.ui.engine.pixels();
    const t0 = performance.now();
    const [a, b] = [await this.side('a', pixels), await this.side('b', pixels)];
    if (run !== this.run) return; // a newer drawing or choice took over
    const failed = [a, b].find((s) => s.error);
    if (failed) {
      this.clear();
      $('ab-caption').textContent = failed.error;
      return;
    }
    const cm = this.ui.settings.colormap;
    putRGBA($('ab-a'), colorize(a.heatmap, 0, false, cm), w, h);
    putRGBA($('ab-b'), colorize(b.heatmap, 0, false, cm), w, h);
    const peak = (m) => m.reduce((x, v) => Math.max(x, Math.abs(v)), 0) || 1;
    const [pa, pb] = [peak(a.heatmap), peak(b.heatmap)];
    const diff = Float32Array.from(a.heatmap, (v, i) => v / pa - b.heatmap[i] / pb);
    putRGBA($('ab-diff'), colorize(diff, 2, false, cm), w, h);
    const label = (s) => `${s.model}, ${s.name}: class ${s.classes[s.target] ?? s.target}`;
    $('ab-a-caption').textContent = `A: ${label(a)}`;
    $('ab-b-caption').textContent = `B: ${label(b)}`;
    plot($('ab-plot'), [{ ...a, colour: COLOURS.a, key: 'A' }, { ...b, colour: COLOURS.b, key: 'B' }], 8, c * h * w);
    const l1 = diff.reduce((x, v) => x + Math.abs(v), 0) / diff.length;
    $('ab-caption').textContent = `Difference A − B, each map scaled to its largest |R|: mean |difference| ${l1.toFixed(3)} (0: the same map, 2: opposite). AOPC A ${a.aopc.toFixed(3)}, B ${b.aopc.toFixed(3)}; as shares of each model's starting logit ${share(a).toFixed(2)} and ${share(b).toFixed(2)}: ${share(a) === share(b) ? 'the same' : `${share(a) > share(b) ? 'A' : 'B'} removes what its model uses faster`}. ${(performance.now() - t0).toFixed(0)} ms.`;
    Object.assign($('ab-caption').dataset, { aopcA: String(a.aopc), aopcB: String(b.aopc), difference: String(l1), targetA: String(a.target), targetB: String(b.target) });
    $('ab-maps').dataset.ready = String(Number($('ab-maps').dataset.ready || 0) + 1);
  }
}

// AOPC as a share of the starting logit, so that two models with logits of different scales compare.
const share = (s) => s.aopc / (Math.abs(s.values[0]) || 1);

// Both pixel-flipping curves, each as a share of its model's starting logit (two models' logits have
// different scales), against the pixels removed.
function plot(canvas, sides, perStep, total) {
  const { ctx, cssW, cssH } = plotCanvas(canvas, 420, 200);
  const box = { l: 40, r: cssW - 10, t: 36, b: cssH - 34 };
  const curves = sides.map((s) => s.values.map((v) => v / (Math.abs(s.values[0]) || 1)));
  const all = [...curves.flat(), 0, 1];
  const [lo, hi] = [Math.min(...all), Math.max(...all)];
  const n = curves[0].length;
  const x = (i) => box.l + (box.r - box.l) * i / Math.max(1, n - 1);
  const y = (v) => box.b - (box.b - box.t) * (v - lo) / ((hi - lo) || 1);
  const style = getComputedStyle(document.documentElement);
  ctx.font = '11px system-ui, sans-serif';
  ctx.fillStyle = style.getPropertyValue('--muted').trim() || '#5b6470';
  ctx.strokeStyle = '#c8cdd3';
  ctx.lineWidth = 1;
  yGrid(ctx, box, y, [1, 0], String);
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  for (let q = 0; q <= 4; q++) {
    const i = Math.round((n - 1) * q / 4);
    ctx.fillText(String(Math.min(total, i * perStep)), x(i), box.b + 4);
  }
  ctx.fillText(`pixels removed, most relevant first (of ${total}); y: logit / logit at the start`, (box.l + box.r) / 2, box.b + 18);
  curves.forEach((vals, k) => {
    ctx.strokeStyle = sides[k].colour;
    ctx.lineWidth = 2;
    ctx.beginPath();
    vals.forEach((v, i) => (i ? ctx.lineTo(x(i), y(v)) : ctx.moveTo(x(i), y(v))));
    ctx.stroke();
  });
  ctx.textAlign = 'left';
  sides.forEach((s, k) => {
    ctx.fillStyle = s.colour;
    ctx.fillText(`${s.key}: ${s.model}, ${s.name} (AOPC ${s.aopc.toFixed(2)}, ${share(s).toFixed(2)} of its logit)`, box.l, 2 + 14 * k);
  });
  canvas.dataset.curves = JSON.stringify(curves);
}
