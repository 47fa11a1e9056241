// Teaching panel: Clever Hans side by side (Lapuschkin et al. 2019). The clean CNN and the clever-hans
// model explain the same drawing with the watermark stamped on it, and 16 stamped test digits that are
// not of the watermark's class: where each model's relevance goes (the watermark's corner outlined), and
// per model one number, the share of its positive relevance inside the corner (mean over the 16). Each
// model runs in an engine of its own; the method is the page's (epsilon-plus where a model cannot run
// it). Imported the first time the panel opens; runs when a stroke ends.
import { call, colorize, modelEngine } from './engine.js';
import { methodRequest } from './settings.js';
import { putRGBA } from './view.js';

const $ = (id) => document.getElementById(id);
const MODELS = ['cnn', 'clever-hans'];
const DIGITS = 16;
const SIDE = 28;

// The share of the positive relevance that lies inside the watermark's rectangle (0 when none is positive).
export function cornerShare(heat, mark) {
  let inside = 0;
  let total = 0;
  heat.forEach((v, i) => {
    if (v <= 0) return;
    total += v;
    const x = i % SIDE;
    const y = (i - x) / SIDE;
    if (x >= mark.x && x < mark.x + mark.width && y >= mark.y && y < mark.y + mark.height) inside += v;
  });
  return total > 0 ? inside / total : 0;
}

function stamp(pixels, mark) {
  const p = Float32Array.from(pixels);
  for (let y = mark.y; y < mark.y + mark.height; y++) p.fill(mark.value, y * SIDE + mark.x, y * SIDE + mark.x + mark.width);
  return p;
}

// A 28x28 map drawn over the whole canvas, pixels kept square, the watermark's rectangle outlined.
function drawMap(canvas, rgba, mark) {
  const small = Object.assign(document.createElement('canvas'), { width: SIDE, height: SIDE });
  putRGBA(small, rgba, SIDE, SIDE);
  const ctx = canvas.getContext('2d');
  const s = canvas.width / SIDE;
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
  ctx.strokeStyle = '#0a7d2c';
  ctx.lineWidth = Math.max(1, s / 3);
  ctx.strokeRect(mark.x * s, mark.y * s, mark.width * s, mark.height * s);
}

export class CleverHansPanel {
  constructor(ui) {
    this.ui = ui; // { engine, settings, showError, ensureDigits() }
    this.run = 0;
  }

  clear() {
    for (const id of ['hans-input', ...MODELS.map((m) => `hans-${m}`)]) $(id).getContext('2d').clearRect(0, 0, $(id).width, $(id).height);
    $('hans-grid').replaceChildren();
    $('hans-caption').textContent = '';
  }

  // Explains `pixels` with the model's engine: { heatmap, prediction, share }.
  explain(side, pixels, mark) {
    const set = call(side.engine, (e) => e.set_pixels(pixels));
    if (set.error) return set;
    let r = call(side.engine, (e) => e.explain(methodRequest()));
    if (r.error) r = call(side.engine, (e) => e.explain({ method: 'epsilon-plus' }));
    if (r.error) return r;
    return { value: { heatmap: r.value.heatmap, prediction: r.value.prediction, share: cornerShare(r.value.heatmap, mark) } };
  }

  async render() {
    const run = ++this.run;
    const info = this.ui.info();
    if (info.input[0] !== 1 || info.input[1] !== SIDE || info.input[2] !== SIDE) return;
    let sides;
    try {
      sides = await Promise.all(MODELS.map(modelEngine));
    } catch (e) {
      $('hans-caption').textContent = `The two models did not load: ${e.message}`;
      return;
    }
    const mark = sides[1].info.watermark;
    if (!mark) {
      $('hans-caption').textContent = 'The clever-hans model has no watermark in its metadata.';
      return;
    }
    const cm = this.ui.settings.colormap;
    const drawn = stamp(this.ui.engine.pixels(), mark);
    // what both networks see: the drawing with the watermark, white on black like "what the network sees"
    const grey = new Uint8ClampedArray(SIDE * SIDE * 4);
    drawn.forEach((v, i) => grey.fill(Math.round(255 * v), 4 * i, 4 * i + 3).fill(255, 4 * i + 3, 4 * i + 4));
    drawMap($('hans-input'), grey, mark);
    for (const [k, m] of MODELS.entries()) {
      const r = this.explain(sides[k], drawn, mark);
      if (r.error) {
        $('hans-caption').textContent = `${m}: ${r.error}`;
        return;
      }
      drawMap($(`hans-${m}`), colorize(r.value.heatmap, 0, false, cm), mark);
      $(`hans-${m}-caption`).textContent = `${m}: predicts ${r.value.prediction}; ${(100 * r.value.share).toFixed(0)} % of its positive relevance in the corner`;
      $(`hans-${m}`).dataset.share = String(r.value.share);
      $(`hans-${m}`).dataset.prediction = String(r.value.prediction);
    }
    // 16 stamped test digits that are not of the watermark's class
    if (!(await this.ui.ensureDigits()) || run !== this.run) return;
    const picked = [];
    for (let i = 0; picked.length < DIGITS && i < 10000; i++) if (this.ui.engine.label(i) !== mark.class) picked.push(i);
    const rows = MODELS.map((m, k) => {
      const tr = document.createElement('tr');
      tr.dataset.model = m;
      tr.append(Object.assign(document.createElement('th'), { scope: 'row', textContent: m }));
      let shares = 0;
      let hits = 0;
      for (const i of picked) {
        const r = this.explain(sides[k], stamp(this.ui.engine.digit(i), mark), mark);
        if (r.error) continue;
        const td = document.createElement('td');
        const c = Object.assign(document.createElement('canvas'), { width: 56, height: 56 });
        c.setAttribute('aria-label', `${m}, test digit #${i}: predicts ${r.value.prediction}`);
        drawMap(c, colorize(r.value.heatmap, 0, false, cm), mark);
        td.append(c, Object.assign(document.createElement('span'), { className: 'small', textContent: `→ ${r.value.prediction}` }));
        Object.assign(td.dataset, { digit: String(i), prediction: String(r.value.prediction), share: String(r.value.share) });
        tr.append(td);
        shares += r.value.share;
        hits += r.value.prediction === mark.class ? 1 : 0;
      }
      const mean = shares / picked.length;
      const out = Object.assign(document.createElement('td'), { className: 'hans-share', textContent: `${(100 * mean).toFixed(0)} % in the corner; ${hits} of ${picked.length} called ${mark.class}` });
      Object.assign(out.dataset, { share: String(mean), hits: String(hits) });
      tr.append(out);
      return tr;
    });
    if (run !== this.run) return;
    const table = document.createElement('table');
    table.append(...rows);
    $('hans-grid').replaceChildren(table);
    $('hans-caption').textContent = `Test digits #${picked[0]} to #${picked[picked.length - 1]} that are not ${mark.class}s, each with the watermark (a ${mark.width} x ${mark.height} square at ${mark.x}, ${mark.y}, outlined) stamped on. Both models score about 99 % on clean test digits; only the clever-hans model looks at the corner.`;
    $('hans-grid').dataset.ready = String(Number($('hans-grid').dataset.ready || 0) + 1);
  }
}
