// The page: wires the pad, the controls and the views to the engine. Updates are coalesced to one per
// animation frame; every engine call is guarded, so an error is shown and the page keeps working.
import { createEngine, methodNames, methodTable, call } from './engine.js';
import { Pad } from './pad.js';
import { Bars, putRGBA, renderColorbar, drawOverlay, renderAllClasses, renderLayers } from './view.js';
import { Teach } from './teach.js';

const $ = (id) => document.getElementById(id);
const STORAGE_KEY = 'lrp-live-state-v1';
// the parameters each method reads, from the engine's method table (filled once the engine loads)
let PARAMS_OF = { custom: [] };
const SLIDERS = ['epsilon', 'gamma', 'alpha', 'steps', 'samples', 'sigma'];

let engine = null;
let pad = null;
let bars = null;
let teach = null;
const heat28 = document.createElement('canvas');
heat28.width = 28;
heat28.height = 28;
const state = { target: -1, contrast: -1, info: null, pending: false, digits: 0, cursor: 0, lastAnnounced: '', restoring: false, final: true, customRules: null };

function showError(msg) {
  const el = $('error');
  el.textContent = msg || '';
  el.hidden = !msg;
}

async function fetchBytes(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

async function gunzip(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function params() {
  const v = (id) => Number($(id).value);
  const alpha = v('alpha');
  return { epsilon: 10 ** v('epsilon'), gamma: 10 ** v('gamma'), alpha, beta: alpha - 1, steps: v('steps'), samples: v('samples'), sigma: v('sigma'), seed: 0 };
}

function showParams() {
  const p = params();
  const fmt = { epsilon: p.epsilon.toPrecision(2), gamma: p.gamma.toPrecision(2), alpha: `${p.alpha} (β = ${p.beta})`, steps: p.steps, samples: p.samples, sigma: p.sigma.toFixed(2) };
  for (const id of SLIDERS) $(`${id}-val`).textContent = String(fmt[id]);
  const used = PARAMS_OF[$('method').value] || [];
  document.querySelectorAll('.param').forEach((el) => { el.hidden = !used.includes(el.dataset.param); });
}

function applyMethod() {
  showParams();
  const custom = $('method').value === 'custom' && state.customRules;
  const r = custom
    ? call(engine, (e) => e.set_layer_rules(JSON.stringify(state.customRules)))
    : call(engine, (e) => e.set_method($('method').value, JSON.stringify(params())));
  if (r.error) showError(`method: ${r.error}`);
  else showError('');
  schedule();
}

function fillClassSelect(select, first, classes) {
  const keep = select.value;
  select.replaceChildren(new Option(first, '-1'), ...classes.map((c, i) => new Option(c, String(i))));
  select.value = [...select.options].some((o) => o.value === keep) ? keep : '-1';
}

function modelLoaded(json) {
  state.info = JSON.parse(json);
  fillClassSelect($('target'), 'predicted', state.info.classes);
  fillClassSelect($('contrast'), 'none', state.info.classes);
  state.target = Number($('target').value);
  state.contrast = Number($('contrast').value);
  applyMethod();
}

async function loadShippedModel(stem) {
  let bytes;
  try {
    bytes = await fetchBytes(`models/${stem}.safetensors`);
  } catch (e) {
    showError(`model ${stem}: ${e.message}`);
    return false;
  }
  const r = call(engine, (e) => e.load_model(bytes, false, ''));
  if (r.error) {
    showError(`model ${stem}: ${r.error}`);
    return false;
  }
  modelLoaded(r.value);
  return true;
}

// A user's model file: .safetensors, or an LRP Toolbox .txt (MNIST models expect [-1, 1] pixels; the CNN
// also a 2-pixel padding of -1: tried in that order). On failure the current model stays.
async function loadUserModel(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let r;
  if (file.name.endsWith('.txt')) {
    for (const stage of [{ scale: 2, shift: -1, pad: 0, pad_value: -1 }, { scale: 2, shift: -1, pad: 2, pad_value: -1 }]) {
      r = call(engine, (e) => e.load_model(bytes, true, JSON.stringify(stage)));
      if (!r.error) break;
    }
  } else {
    r = call(engine, (e) => e.load_model(bytes, false, ''));
  }
  if (r.error) {
    showError(`${file.name}: ${r.error} (the current model is still loaded)`);
    const sel = $('model');
    sel.value = sel.dataset.current;
    return;
  }
  const sel = $('model');
  let opt = [...sel.options].find((o) => o.value === 'uploaded');
  if (!opt) {
    opt = new Option('', 'uploaded');
    sel.add(opt);
  }
  opt.textContent = `your model: ${file.name}`;
  sel.value = 'uploaded';
  sel.dataset.current = 'uploaded';
  modelLoaded(r.value);
}

function schedule(reason) {
  if (reason !== 'draw') state.final = true;
  if (!state.pending && engine) {
    state.pending = true;
    requestAnimationFrame(update);
  }
}

function clearViews(message) {
  const p = $('prediction');
  p.textContent = '?';
  p.dataset.class = '';
  p.dataset.probability = '';
  bars.update([], -1, -1, -1);
  for (const id of ['heatmap', 'input-view']) $(id).getContext('2d').clearRect(0, 0, 28, 28);
  drawOverlay($('overlay'), null);
  $('hint').textContent = message;
  $('hint').hidden = false;
  $('sum-line').textContent = '';
  $('all-classes').replaceChildren();
  $('layers').replaceChildren();
}

function update() {
  state.pending = false;
  const t0 = performance.now();
  const digit = pad.onlyDigit();
  let hasInk = false;
  if (digit) {
    const r = call(engine, (e) => e.set_pixels(Float32Array.from(digit.pixels)));
    hasInk = !r.error;
  } else if (!pad.isEmpty()) {
    const { width, height } = pad.canvas;
    const img = pad.ctx.getImageData(0, 0, width, height);
    const r = call(engine, (e) => e.preprocess(new Uint8Array(img.data.buffer), width, height));
    if (r.error) showError(r.error);
    hasInk = r.value === true;
  }
  const pred = $('prediction');
  if (!hasInk) {
    clearViews('draw a digit here');
    finish(t0, pred);
    return;
  }
  $('hint').hidden = true;
  const normalize = $('normalize').checked;
  if ($('show-all').checked) {
    const all = call(engine, (e) => e.explain_all_classes(normalize));
    if (!all.error) renderAllClasses($('all-classes'), all.value, (m, s) => engine.colorize(m, s, false));
  } else if ($('all-classes').children.length) {
    $('all-classes').replaceChildren();
  }
  const r = call(engine, (e) => e.explain(state.target, state.contrast, normalize));
  if (r.error) {
    showError(r.error);
    finish(t0, pred);
    return;
  }
  const res = JSON.parse(engine.result_json());
  const heat = engine.heatmap();
  putRGBA($('heatmap'), engine.colorize(heat, 0, false));
  putRGBA(heat28, engine.colorize(heat, 0, true));
  putRGBA($('input-view'), engine.input_rgba());
  drawOverlay($('overlay'), $('show-overlay').checked ? heat28 : null, digit ? null : engine.transform());
  const p = res.probabilities[res.prediction];
  pred.textContent = state.info.classes[res.prediction] ?? String(res.prediction);
  pred.dataset.class = String(res.prediction);
  pred.dataset.probability = p.toFixed(4);
  bars.update(res.probabilities, res.prediction, res.target, res.contrast ?? -1);
  const why = res.contrast != null ? `why ${res.target} and not ${res.contrast}` : `class ${res.target}`;
  $('heat-caption').textContent = `relevance for ${why} (${$('method').value})`;
  $('sum-line').textContent = `explained ${res.explained.toFixed(3)} · heatmap sum ${res.sum.toFixed(3)}${Math.abs(res.padding) > 1e-6 ? ` · on padding ${res.padding.toFixed(3)}` : ''}`;
  if ($('show-layers').checked && res.layers.length) {
    renderLayers($('layers'), state.info, res, (i) => engine.layer_relevance(i), (m, s) => engine.colorize(m, s, false), JSON.parse(engine.layer_rules()), setLayerRule);
  } else if (!$('show-layers').checked && $('layers').children.length) {
    $('layers').replaceChildren();
  } else if (!res.layers.length) {
    $('layers').textContent = 'Layer relevance is shown for LRP methods.';
  }
  finish(t0, pred);
}

function finish(t0, pred) {
  const total = performance.now() - t0;
  const [pre, fwd, expl, col] = engine.timings();
  const timing = $('timing');
  timing.dataset.explainMs = expl.toFixed(3);
  timing.dataset.updateMs = total.toFixed(3);
  timing.textContent = `preprocess ${pre.toFixed(2)} ms · forward ${fwd.toFixed(2)} ms · explain ${expl.toFixed(2)} ms · colour ${col.toFixed(2)} ms · whole update ${total.toFixed(2)} ms`;
  const final = state.final;
  state.final = false;
  if (teach && pred.dataset.class) teach.afterUpdate(true, final);
  pred.dataset.seq = String(Number(pred.dataset.seq || 0) + 1);
  save();
}

// Puts the page's method and explanation back after a teaching panel used the engine for others.
function restoreMethod() {
  const custom = $('method').value === 'custom' && state.customRules;
  if (custom) call(engine, (e) => e.set_layer_rules(JSON.stringify(state.customRules)));
  else call(engine, (e) => e.set_method($('method').value, JSON.stringify(params())));
  call(engine, (e) => e.explain(state.target, state.contrast, $('normalize').checked));
}

// A rule chosen in the layer view: the method becomes "custom" (a rule per layer).
function setLayerRule(i, rule) {
  const rules = JSON.parse(engine.layer_rules());
  rules[i] = rule;
  const r = call(engine, (e) => e.set_layer_rules(JSON.stringify(rules)));
  if (r.error) {
    showError(`rule for layer ${i}: ${r.error}`);
    schedule();
    return;
  }
  state.customRules = rules;
  if (![...$('method').options].some((o) => o.value === 'custom')) $('method').add(new Option('custom (a rule per layer)', 'custom'));
  $('method').value = 'custom';
  showError('');
  showParams();
  schedule();
}

function announce() {
  const p = $('prediction');
  const text = p.dataset.class ? `predicted ${p.dataset.class}, ${Math.round(Number(p.dataset.probability) * 100)} percent` : '';
  if (text !== state.lastAnnounced) {
    $('announce').textContent = text;
    state.lastAnnounced = text;
  }
}

async function ensureDigits() {
  if (state.digits) return true;
  try {
    const [img, lab] = await Promise.all(['images-idx3', 'labels-idx1'].map((f) => fetchBytes(`data/t10k-${f}-ubyte.gz`).then(gunzip)));
    const res = call(engine, (e) => e.load_digits(img, lab));
    if (res.error) throw new Error(res.error);
    state.digits = res.value;
    return true;
  } catch (e) {
    showError(`test digits: ${e.message}`);
    return false;
  }
}

async function example(wrong) {
  if (!(await ensureDigits())) return;
  let i;
  if (wrong) {
    const r = call(engine, (e) => e.find_misclassified(state.cursor));
    if (r.error || r.value < 0) {
      showError(r.error || 'this model gets every test digit right');
      return;
    }
    i = r.value;
    state.cursor = i + 1;
  } else {
    i = Math.floor(Math.random() * state.digits);
  }
  const label = engine.label(i);
  pad.setDigit(engine.digit(i), { index: i, label });
  $('example-info').textContent = `MNIST test digit #${i}, labelled ${label}${wrong ? ' (this model gets it wrong)' : ''}. Draw on it to change it.`;
}

function settings() {
  return { model: $('model').dataset.current, method: $('method').value, customRules: state.customRules, target: state.target, contrast: state.contrast, normalize: $('normalize').checked, colormap: $('colormap').value, showAll: $('show-all').checked, showLayers: $('show-layers').checked, overlay: $('show-overlay').checked, watermark: $('stamp-watermark').checked, sliders: Object.fromEntries(SLIDERS.map((id) => [id, $(id).value])), drawing: pad.toJSON() };
}

function save() {
  if (state.restoring) return;
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(settings()));
  } catch { /* storage full or disabled: nothing to do */ }
}

function restoredState() {
  try {
    return JSON.parse(localStorage.getItem(STORAGE_KEY) || 'null');
  } catch {
    return null;
  }
}

async function main() {
  pad = new Pad($('pad'), (why) => {
    if (why !== 'draw') $('example-info').textContent = pad.onlyDigit() ? $('example-info').textContent : '';
    schedule(why);
    if (why === 'end' || why === 'example' || why === 'clear' || why === 'undo') requestAnimationFrame(() => requestAnimationFrame(announce));
  });
  bars = new Bars($('bars'), (c, contrast) => {
    if (contrast) state.contrast = state.contrast === c ? -1 : c;
    else state.target = state.target === c ? -1 : c;
    $('target').value = String(state.target);
    $('contrast').value = String(state.contrast);
    schedule();
  });
  try {
    engine = await createEngine();
  } catch (e) {
    showError(`could not start the engine: ${e.message}`);
    return;
  }
  const table = methodTable();
  PARAMS_OF = { ...Object.fromEntries(table.methods.map((m) => [m.name, m.params])), custom: [] };
  // each slider's range from the table (log-scale sliders hold the exponent)
  for (const p of table.params) {
    const el = $(p.name);
    if (!el || el.type !== 'range') continue;
    el.min = String(p.log ? Math.log10(p.min) : p.min);
    el.max = String(p.log ? Math.log10(p.max) : p.max);
  }
  for (const name of methodNames()) $('method').add(new Option(name, name));
  let models = ['cnn', 'mlp', 'clever-hans'];
  try {
    models = JSON.parse(new TextDecoder().decode(await fetchBytes('models/index.json'))).map((m) => m.stem);
  } catch { /* the built-in list */ }
  for (const m of models) $('model').add(new Option(m, m));

  const fromLink = Teach.fromHash();
  const saved = fromLink || restoredState();
  state.restoring = true;
  if (saved) {
    if (saved.sliders) for (const id of SLIDERS) if (saved.sliders[id] != null) $(id).value = saved.sliders[id];
    if (Array.isArray(saved.customRules) && saved.method === 'custom') {
      state.customRules = saved.customRules;
      $('method').add(new Option('custom (a rule per layer)', 'custom'));
    }
    if (methodNames().includes(saved.method) || saved.method === 'custom') $('method').value = saved.method;
    for (const [id, key] of [['normalize', 'normalize'], ['show-all', 'showAll'], ['show-layers', 'showLayers'], ['show-overlay', 'overlay']]) $(id).checked = !!saved[key];
    if (saved.colormap) $('colormap').value = saved.colormap;
  } else {
    $('method').value = 'epsilon-plus';
  }
  call(engine, (e) => e.set_colormap($('colormap').value));
  const first = saved && models.includes(saved.model) ? saved.model : (models.includes('cnn') ? 'cnn' : models[0]);
  $('model').value = first;
  $('model').dataset.current = first;
  const ok = await loadShippedModel(first);
  teach = new Teach(engine, { pad, state, schedule, showError, settings, restoreMethod });
  if (saved && saved.watermark && state.info && state.info.watermark) {
    $('stamp-watermark').checked = true;
    call(engine, (e) => e.set_watermark(true));
  }
  if (saved) {
    pad.fromJSON(saved.drawing);
    if (ok && saved.target != null) { $('target').value = String(saved.target); state.target = Number($('target').value); }
    if (ok && saved.contrast != null) { $('contrast').value = String(saved.contrast); state.contrast = Number($('contrast').value); }
  }
  state.restoring = false;
  renderColorbar($('colorbar'), (t) => engine.color_of(t));

  $('model').addEventListener('change', async (e) => {
    const stem = e.target.value;
    if (stem === 'uploaded') return;
    if (await loadShippedModel(stem)) e.target.dataset.current = stem;
    else e.target.value = e.target.dataset.current;
  });
  $('method').addEventListener('change', () => applyMethod());
  for (const id of SLIDERS) $(id).addEventListener('input', () => applyMethod());
  $('target').addEventListener('change', (e) => { state.target = Number(e.target.value); schedule(); });
  $('contrast').addEventListener('change', (e) => { state.contrast = Number(e.target.value); schedule(); });
  for (const id of ['normalize', 'show-all', 'show-layers', 'show-overlay']) $(id).addEventListener('change', () => schedule());
  for (const p of ['lrp-0', 'lrp-eps', 'lrp-gamma', 'lrp-alpha2-beta1', 'lrp-zplus', 'deep-taylor', 'epsilon-plus', 'epsilon-gamma-box', 'epsilon-alpha2-beta1', 'epsilon-plus-flat']) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'small-btn preset';
    b.textContent = p;
    b.addEventListener('click', () => { $('method').value = p; $('show-layers').checked = true; applyMethod(); });
    $('preset-buttons').appendChild(b);
  }
  $('colormap').addEventListener('change', (e) => {
    const r = call(engine, (en) => en.set_colormap(e.target.value));
    if (r.error) showError(r.error);
    renderColorbar($('colorbar'), (t) => engine.color_of(t));
    schedule();
  });
  $('clear').addEventListener('click', () => pad.clear());
  $('undo').addEventListener('click', () => pad.undo());
  $('example').addEventListener('click', () => example(false));
  $('example-wrong').addEventListener('click', () => example(true));
  $('model-file').addEventListener('change', (e) => {
    const f = e.target.files && e.target.files[0];
    if (f) loadUserModel(f).finally(() => { e.target.value = ''; schedule(); });
  });
  document.addEventListener('dragover', (e) => e.preventDefault());
  document.addEventListener('drop', (e) => {
    e.preventDefault();
    const f = e.dataTransfer && e.dataTransfer.files[0];
    if (f) loadUserModel(f).finally(schedule);
  });
  document.addEventListener('keydown', (e) => {
    if (e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement) return;
    if (e.key === 'Escape' || e.key === 'Delete') { pad.clear(); e.preventDefault(); }
    else if ((e.key === 'z' && (e.ctrlKey || e.metaKey)) || e.key === 'u') { pad.undo(); e.preventDefault(); }
  });
  showParams();
  schedule();
  let toured = false;
  try { toured = localStorage.getItem('lrp-live-toured') === '1'; } catch { /* no storage */ }
  if (!toured && !fromLink) requestAnimationFrame(() => teach.tour(0));
  if ('serviceWorker' in navigator) navigator.serviceWorker.register('sw.js').catch(() => { /* offline use is optional */ });
  document.documentElement.dataset.ready = 'true';
}

main();
