// The teaching panels: method comparison with pixel flipping, equivalences and pitfalls, the Clever
// Hans lesson, rules per layer with their formulas, share links and exports, and a short guided tour.
// Heavy work (the comparison) runs when a stroke ends, not on every pointer move.
import { call, methodTable } from './engine.js';
import { putRGBA } from './view.js';

const $ = (id) => document.getElementById(id);
// the methods of the comparison grid: the rows of the engine's method table marked `compare`
let comparedNames = null;
const compared = () => (comparedNames ??= methodTable().methods.filter((m) => m.compare).map((m) => m.name));

export class Teach {
  constructor(engine, ui) {
    this.engine = engine;
    this.ui = ui; // { pad, state, schedule, showError, settings(), applySettings(s) }
    $('stamp-watermark').addEventListener('change', (e) => {
      const r = call(engine, (en) => en.set_watermark(e.target.checked));
      if (r.error) {
        e.target.checked = false;
        ui.showError(r.error);
      }
      ui.schedule('watermark');
    });
    $('share').addEventListener('click', () => this.share());
    $('download-png').addEventListener('click', () => this.downloadPng());
    $('download-json').addEventListener('click', () => this.downloadJson());
    $('tour-start').addEventListener('click', () => this.tour(0));
    for (const id of ['show-compare', 'show-equiv', 'shared-scale']) $(id).addEventListener('change', () => this.refresh(true));
  }

  // Called by the page after every completed update; `final` when a stroke ended or a setting changed.
  afterUpdate(res, final) {
    this.res = res;
    this.syncWatermark();
    if (final) this.refresh(false);
  }

  syncWatermark() {
    const info = this.ui.state.info;
    const has = !!(info && info.watermark);
    $('stamp-watermark').disabled = !has;
    if (!has) $('stamp-watermark').checked = false;
  }

  refresh(force) {
    if (!this.res) return;
    const compare = $('show-compare').checked;
    const equiv = $('show-equiv').checked;
    if (compare) this.compare();
    else if (force) {
      for (const id of ['compare-grid', 'flip-ranking']) $(id).replaceChildren();
      $('flip-plot').getContext('2d').clearRect(0, 0, $('flip-plot').width, $('flip-plot').height);
      $('flip-caption').textContent = '';
    }
    if (equiv) this.equivalences();
    if (compare || equiv) this.ui.restoreMethod();
  }

  compare() {
    const t0 = performance.now();
    const r = call(this.engine, (e) => e.compare(JSON.stringify(compared()), this.ui.state.target, 8, 25, 4));
    if (r.error) return this.ui.showError(r.error);
    const data = JSON.parse(r.value);
    const ms = performance.now() - t0;
    const shared = $('shared-scale').checked;
    let scale = 0;
    if (shared) for (const m of data.methods) for (const v of m.heatmap) scale = Math.max(scale, Math.abs(v));
    const grid = $('compare-grid');
    grid.replaceChildren();
    for (const m of data.methods) {
      const fig = document.createElement('figure');
      fig.dataset.method = m.name;
      fig.innerHTML = '<canvas width="28" height="28"></canvas><figcaption></figcaption>';
      fig.querySelector('canvas').setAttribute('aria-label', `${m.name} heatmap`);
      putRGBA(fig.querySelector('canvas'), this.engine.colorize(Float32Array.from(m.heatmap), shared ? scale : 0, false));
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
    const current = data.methods.find((m) => m.name === $('method').value) || ranked[0];
    this.plotCurves($('flip-plot'), current, data.random);
    $('flip-caption').textContent = `Logit of class ${data.target} as the most relevant pixels of the ${current.name} heatmap are removed first (8 per step), against a random order. All ${data.methods.length} methods computed in ${ms.toFixed(0)} ms.`;
    $('flip-caption').dataset.ms = ms.toFixed(1);
    $('flip-ranking').dataset.ready = String(Number($('flip-ranking').dataset.ready || 0) + 1);
  }

  plotCurves(canvas, m, random) {
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

  equivalences() {
    const e = this.engine;
    const methods = ['lrp-0', 'gradient-x-input'];
    const r = call(e, (en) => en.compare(JSON.stringify([...methods, 'simple-taylor']), this.ui.state.target, 8, 1, 0));
    if (r.error) return this.ui.showError(r.error);
    const d = JSON.parse(r.value).methods;
    const [l0, gxi, taylor] = d.map((m) => Float32Array.from(m.heatmap));
    const diff = l0.map((v, i) => v - gxi[i]);
    let maxDiff = 0;
    let maxAbs = 0;
    diff.forEach((v, i) => { maxDiff = Math.max(maxDiff, Math.abs(v)); maxAbs = Math.max(maxAbs, Math.abs(l0[i])); });
    const scale = maxAbs || 1;
    putRGBA($('eq-lrp0'), e.colorize(l0, scale, false));
    putRGBA($('eq-gxi'), e.colorize(gxi, scale, false));
    putRGBA($('eq-diff'), e.colorize(diff, scale, false));
    $('eq-diff-value').textContent = `largest difference: ${maxDiff.toExponential(1)} (${(100 * maxDiff / scale).toFixed(4)} % of the largest relevance)`;
    $('eq-diff-value').dataset.relative = String(maxDiff / scale);
    // simple Taylor: its root point and heatmap
    const t = call(e, (en) => { en.set_method('simple-taylor', '{}'); en.explain(this.ui.state.target, -1, false); return { root: en.root(), res: JSON.parse(en.result_json()) }; });
    if (!t.error) {
      const root = t.value.root;
      let lo = Infinity;
      let hi = -Infinity;
      for (const v of root) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
      const img = new Uint8ClampedArray(784 * 4);
      root.forEach((v, i) => { const g = Math.round(255 * (v - lo) / ((hi - lo) || 1)); img.set([g, g, g, 255], i * 4); });
      putRGBA($('eq-root'), img);
      putRGBA($('eq-taylor'), e.colorize(taylor, 0, false));
      $('eq-root-caption').textContent = `root point: pixels from ${lo.toFixed(2)} to ${hi.toFixed(2)} (the data lives in [0, 1]); f there ${t.value.res.root_value?.toFixed(3)}`;
    }
    // softmax instead of the logit
    const s = call(e, (en) => en.softmax_explanation(this.ui.state.target));
    if (!s.error) {
      const soft = s.value;
      let sm = 0;
      for (const v of soft) sm = Math.max(sm, Math.abs(v));
      putRGBA($('eq-softmax'), e.colorize(soft, 0, false));
      putRGBA($('eq-logit'), e.colorize(gxi, 0, false));
      $('eq-softmax-caption').textContent = `largest |R| for the probability: ${sm.toExponential(1)}; for the logit: ${maxAbs.toExponential(1)}`;
      $('eq-softmax-caption').dataset.ratio = String(sm / (maxAbs || 1));
    }
  }

  // The page state as a URL: #s=<base64url(JSON)>.
  shareUrl() {
    const json = JSON.stringify(this.ui.settings());
    const b64 = btoa(String.fromCharCode(...new TextEncoder().encode(json))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    const u = new URL(location.href);
    u.hash = `s=${b64}`;
    return u.toString();
  }

  share() {
    const url = this.shareUrl();
    $('share-url').value = url;
    $('share-url').hidden = false;
    $('share-url').select();
    if (navigator.clipboard) navigator.clipboard.writeText(url).catch(() => { /* the field shows it */ });
  }

  static fromHash() {
    const m = location.hash.match(/^#s=([A-Za-z0-9_-]+)$/);
    if (!m) return null;
    try {
      const b64 = m[1].replace(/-/g, '+').replace(/_/g, '/');
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      return JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      return null;
    }
  }

  download(name, blob) {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }

  downloadPng() {
    const c = document.createElement('canvas');
    c.width = 280;
    c.height = 280;
    const ctx = c.getContext('2d');
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage($('heatmap'), 0, 0, 280, 280);
    c.toBlob((b) => this.download('lrp-live-heatmap.png', b), 'image/png');
  }

  explanationJson() {
    const e = this.engine;
    const info = this.ui.state.info;
    const res = JSON.parse(e.result_json());
    const layers = info.layers.map((l, i) => ({ ...l, relevance: res.layers[i] || null, map: res.layers.length ? Array.from(e.layer_relevance(i)) : null }));
    return { settings: this.ui.settings(), model: info.name, input: Array.from(e.pixels()), heatmap: Array.from(e.heatmap()), ...res, layers };
  }

  downloadJson() {
    this.download('lrp-live-explanation.json', new Blob([JSON.stringify(this.explanationJson())], { type: 'application/json' }));
  }

  tour(step) {
    const steps = [
      ['pad', 'Draw a digit here with the mouse, a finger or a pen. Everything that follows is recomputed while you draw.'],
      ['bars', "The network's answer: one bar per class. Click a bar to explain that class; Shift-click picks a contrast class (why this and not that)."],
      ['heatmap', 'Relevance per pixel: red pixels speak for the explained class, blue ones against it. LRP hands the logit back layer by layer until each pixel has its share.'],
      ['method', 'Try other methods: gradients, Integrated Gradients, and the LRP rules and presets. Their parameters appear below the list.'],
      ['layers-title', 'Open the layer view: relevance at every layer. LRP conserves it, so each bar matches the explained logit, except where biases and ε absorb some.'],
      ['compare-title', 'Compare every method on your drawing and see which one finds what the model uses: pixel flipping removes the most relevant pixels first.'],
    ];
    const box = $('tour');
    if (step >= steps.length || step < 0) {
      box.hidden = true;
      try { localStorage.setItem('lrp-live-toured', '1'); } catch { /* fine */ }
      return;
    }
    const [id, text] = steps[step];
    const target = $(id);
    target.scrollIntoView({ block: 'center' });
    const r = target.getBoundingClientRect();
    box.hidden = false;
    box.style.left = `${Math.max(8, Math.min(window.innerWidth - 330, r.left + window.scrollX))}px`;
    box.style.top = `${r.bottom + window.scrollY + 8}px`;
    $('tour-text').textContent = `${step + 1}/${steps.length}: ${text}`;
    $('tour-next').textContent = step + 1 < steps.length ? 'Next' : 'Done';
    $('tour-next').onclick = () => this.tour(step + 1);
    $('tour-skip').onclick = () => this.tour(-1);
    box.dataset.step = String(step + 1);
    $('tour-next').focus();
  }
}
