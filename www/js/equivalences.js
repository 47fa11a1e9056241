// Teaching panel: equivalences and pitfalls. LRP-0 equals Gradient x Input on a ReLU network (their
// difference shown); Simple Taylor's root point lies outside the data; explaining the softmax
// probability instead of the logit fades the map when the model is sure.
import { call, colorize } from './engine.js';
import { params } from './settings.js';
import { putRGBA } from './view.js';

const $ = (id) => document.getElementById(id);

export class EquivalencePanel {
  constructor(ui) {
    this.ui = ui; // { engine, settings, info(), showError }
  }

  render() {
    const { engine, settings } = this.ui;
    const cmap = settings.colormap;
    const target = settings.target < 0 ? null : settings.target;
    const [, h, w] = this.ui.info().input;
    const r = call(engine, (e) => e.compare({ methods: ['lrp-0', 'gradient-x-input', 'simple-taylor'], params: params(), target, per_step: 8, steps: 1, random_repeats: 0 }));
    if (r.error) return this.ui.showError(r.error);
    const [l0, gxi, taylor] = r.value.methods.map((m) => m.heatmap);
    const diff = l0.map((v, i) => v - gxi[i]);
    let maxDiff = 0;
    let maxAbs = 0;
    diff.forEach((v, i) => { maxDiff = Math.max(maxDiff, Math.abs(v)); maxAbs = Math.max(maxAbs, Math.abs(l0[i])); });
    const scale = maxAbs || 1;
    putRGBA($('eq-lrp0'), colorize(l0, scale, false, cmap), w, h);
    putRGBA($('eq-gxi'), colorize(gxi, scale, false, cmap), w, h);
    putRGBA($('eq-diff'), colorize(diff, scale, false, cmap), w, h);
    $('eq-diff-value').textContent = `largest difference: ${maxDiff.toExponential(1)} (${(100 * maxDiff / scale).toFixed(4)} % of the largest relevance)`;
    $('eq-diff-value').dataset.relative = String(maxDiff / scale);
    // simple Taylor: its root point and heatmap
    const t = call(engine, (e) => e.explain({ method: 'simple-taylor', target }));
    if (!t.error) {
      const root = t.value.root;
      let lo = Infinity;
      let hi = -Infinity;
      for (const v of root) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
      const img = new Uint8ClampedArray(root.length * 4);
      root.forEach((v, i) => { const g = Math.round(255 * (v - lo) / ((hi - lo) || 1)); img.set([g, g, g, 255], i * 4); });
      putRGBA($('eq-root'), img, w, h);
      putRGBA($('eq-taylor'), colorize(taylor, 0, false, cmap), w, h);
      $('eq-root-caption').textContent = `root point: pixels from ${lo.toFixed(2)} to ${hi.toFixed(2)} (the data lives in [0, 1]); f there ${t.value.root_value == null ? '?' : (Math.abs(t.value.root_value) < 0.0005 ? 0 : t.value.root_value).toFixed(3)}`;
    }
    // softmax instead of the logit
    const s = call(engine, (e) => e.softmax_explanation(target));
    if (!s.error) {
      const soft = s.value;
      let sm = 0;
      for (const v of soft) sm = Math.max(sm, Math.abs(v));
      // one shared scale: the probability's map fades exactly as much as it does
      let gm = 0;
      for (const v of gxi) gm = Math.max(gm, Math.abs(v));
      const shared = Math.max(sm, gm) || 1;
      putRGBA($('eq-softmax'), colorize(soft, shared, false, cmap), w, h);
      putRGBA($('eq-logit'), colorize(gxi, shared, false, cmap), w, h);
      $('eq-softmax').dataset.scale = String(shared);
      $('eq-logit').dataset.scale = String(shared);
      $('eq-softmax-caption').textContent = `largest |R| for the probability: ${sm.toExponential(1)}; for the logit: ${maxAbs.toExponential(1)}`;
      $('eq-softmax-caption').dataset.ratio = String(sm / (maxAbs || 1));
    }
  }
}
