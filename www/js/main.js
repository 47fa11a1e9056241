// The page: wires the pad, the settings, the views and the teaching panels to the engine. Updates are
// coalesced to one per animation frame; every engine call is guarded, so an error is shown and the page
// keeps working. The settings object (settings.js) is the single source of truth; each call to the
// engine carries the method it needs, so a panel never changes what the main view shows.
import { createEngine, convertOnnx, explainChecked, HeavyWork, methodTable, call, colorize, colorOf } from './engine.js';
import { Pad } from './pad.js';
import { Bars, putRGBA, putTint, renderColorbar, drawOverlay, renderAllClasses, renderLayers } from './view.js';
import * as S from './settings.js';
import { ComparePanel } from './compare.js';
import { EquivalencePanel } from './equivalences.js';
import { Exports } from './exports.js';
import { tour, toured } from './tour.js';

const $ = (id) => document.getElementById(id);
const { settings } = S;

let engine = null;
let pad = null;
let bars = null;
// the model's description, the last explanation, the page's own bookkeeping
const state = { loaded: null, info: null, result: null, ink: null, pending: false, digits: 0, cursor: 0, lastAnnounced: '', final: true };
let heatSmall = null;
let tintSmall = null;
let panels = null;
// slow explanations run in a Web Worker (engine.js)
const heavyWork = new HeavyWork();
// the shipped models' stems (models/index.json)
let models = ['cnn', 'mlp', 'clever-hans', 'lstm'];

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

const classOrNull = (c) => (c < 0 ? null : c);

// The digit already on the pad at a first visit (nothing saved, no link), so that nothing is empty: a
// handwritten 3 in pad coordinates (280 x 280), two arcs.
const arc = (cx, cy, rx, ry, a0, a1, n) => Array.from({ length: n + 1 }, (_, i) => {
  const a = a0 + (a1 - a0) * i / n;
  return [Math.round((cx + rx * Math.cos(a)) * 10) / 10, Math.round((cy + ry * Math.sin(a)) * 10) / 10];
});
const FIRST_VISIT_DIGIT = [{ type: 'stroke', points: [...arc(138, 100, 44, 40, Math.PI * 1.1, Math.PI * 2.45, 30), ...arc(138, 178, 48, 44, -Math.PI * 0.45, Math.PI * 0.85, 30)] }];

function fillClassSelect(select, first, classes) {
  select.replaceChildren(new Option(first, '-1'), ...classes.map((c, i) => new Option(c, String(i))));
}

function modelLoaded(info) {
  state.info = info;
  const [, h, w] = info.input;
  heatSmall = Object.assign(document.createElement('canvas'), { width: w, height: h });
  tintSmall = Object.assign(document.createElement('canvas'), { width: w, height: h });
  for (const id of ['heatmap', 'input-view']) Object.assign($(id), { width: w, height: h });
  bars.setClasses(info.classes);
  fillClassSelect($('target'), 'predicted', info.classes);
  fillClassSelect($('contrast'), 'none', info.classes);
  S.clampClasses(info.classes.length);
  const recurrent = info.layers.some((l) => l.type === 'lstm');
  const fallback = recurrent ? 'lrp-lstm' : 'epsilon-plus';
  if (settings.method === 'custom' && (recurrent || !settings.customRules || settings.customRules.length !== info.layers.length)) {
    settings.method = fallback;
    settings.customRules = null;
  }
  S.offerMethods(info.methods, fallback);
  showLstm(recurrent);
  S.show();
  syncWatermark();
  schedule();
}

// The LSTM's panels (lstm.js), imported when an LSTM model is first loaded.
let lstmPanels = null;
function showLstm(on) {
  if (lstmPanels) lstmPanels.show(on);
  else if (on) {
    import('./lstm.js').then((m) => {
      lstmPanels = m;
      m.show(!!(state.info && state.info.layers.some((l) => l.type === 'lstm')));
      if (state.result) m.render(state.result, state.info.input, settings.colormap);
    }).catch((e) => showError(`the LSTM panels: ${e.message}`));
  }
}

async function loadShippedModel(stem) {
  let bytes;
  try {
    bytes = await fetchBytes(`models/${stem}.safetensors`);
  } catch (e) {
    showError(`model ${stem}: ${e.message}`);
    return false;
  }
  const r = call(engine, (e) => e.load_model(bytes, { format: 'safetensors' }));
  if (r.error) {
    showError(`model ${stem}: ${r.error}`);
    return false;
  }
  settings.model = stem;
  state.loaded = stem;
  heavyWork.setModel(bytes, { format: 'safetensors' });
  $('model-note').hidden = true;
  modelLoaded(r.value);
  return true;
}

// The input normalisation an ONNX file does not carry: the page's preset (or custom mean/std per channel).
const ONNX_INPUT = {
  unit: { mean: [0], std: [1] },
  mnist: { mean: [0.1307], std: [0.3081] },
  signed: { mean: [0.5], std: [0.5] },
  imagenet: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
};

function onnxInput() {
  const preset = ONNX_INPUT[$('onnx-input').value];
  if (preset) return preset;
  const list = (id) => $(id).value.split(',').map((v) => Number(v.trim()));
  return { mean: list('onnx-mean'), std: list('onnx-std') };
}

// A user's model file: .onnx (with the chosen input normalisation), .safetensors, or an LRP Toolbox .txt
// (MNIST models expect [-1, 1] pixels; the CNN also a 2-pixel padding of -1: tried in that order). On
// failure the current model stays.
async function loadUserModel(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let r;
  // what the engine loaded, for the worker's engine
  let loaded = { bytes, options: { format: 'safetensors' } };
  const onnx = file.name.toLowerCase().endsWith('.onnx');
  if (onnx) {
    const converted = await convertOnnx(bytes, { name: file.name, ...onnxInput() });
    if (!converted.error) loaded = { bytes: converted.value, options: { format: 'safetensors' } };
    r = converted.error ? converted : call(engine, (e) => e.load_model(loaded.bytes, loaded.options));
  } else if (file.name.endsWith('.txt')) {
    for (const pad of [0, 2]) {
      loaded = { bytes, options: { format: 'toolbox', scale: 2, shift: -1, pad, pad_value: -1, name: file.name } };
      r = call(engine, (e) => e.load_model(bytes, loaded.options));
      if (!r.error) break;
    }
  } else {
    r = call(engine, (e) => e.load_model(bytes, loaded.options));
  }
  const sel = $('model');
  if (r.error) {
    showError(`${file.name}: ${r.error} (the current model is still loaded)`);
    sel.value = settings.model;
    return;
  }
  let opt = [...sel.options].find((o) => o.value === 'uploaded');
  if (!opt) {
    opt = new Option('', 'uploaded');
    sel.add(opt);
  }
  opt.textContent = `your model: ${file.name}`;
  sel.value = 'uploaded';
  settings.model = 'uploaded';
  state.loaded = 'uploaded';
  showError('');
  heavyWork.setModel(loaded.bytes, loaded.options);
  const note = $('model-note');
  note.textContent = onnx ? `${file.name}: ${r.value.description}` : '';
  note.hidden = !onnx;
  modelLoaded(r.value);
}

function schedule(reason) {
  if (reason !== 'draw') state.final = true;
  if (!state.pending && engine && state.info) {
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
  for (const id of ['heatmap', 'input-view']) $(id).getContext('2d').clearRect(0, 0, $(id).width, $(id).height);
  drawOverlay($('overlay'), null);
  $('hint').textContent = message;
  $('hint').hidden = false;
  $('sum-line').textContent = '';
  $('heat-caption').textContent = 'relevance heatmap: draw a digit';
  $('why').textContent = 'Draw a digit: its heatmap appears here.';
  $('target-note').hidden = true;
  $('contrast-note').hidden = true;
  $('all-classes').replaceChildren();
  $('layers').replaceChildren();
  state.result = null;
}

const paint = (values, scale, alpha = false) => colorize(values, scale, alpha, settings.colormap);

// The colour map's two ends as CSS colours, and their names for the sentence above the heatmap. The
// legend swatches, the bar outlines and the sentence follow the colour map (CSS custom properties).
const COLOUR_NAMES = { bwr: ['red', 'blue'], puor: ['orange', 'purple'] };
function applyColormap() {
  const cm = settings.colormap;
  renderColorbar($('colorbar'), (t) => colorOf(t, cm));
  const root = document.documentElement.style;
  for (const [name, t] of [['pos', 1], ['neg', -1]]) {
    const rgb = Array.from(colorOf(t, cm));
    root.setProperty(`--${name}`, `rgb(${rgb.join(',')})`);
    // the same hue for text: darkened on a light page, lightened on a dark one (WCAG AA contrast)
    const dark = window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches;
    const text = rgb.map((v) => Math.round(dark ? v + (255 - v) * 0.55 : v * 0.72));
    root.setProperty(`--${name}-text`, `rgb(${text.join(',')})`);
  }
}

// One plain sentence that says what the heatmap shows, in the colour map's colours.
function whySentence(res) {
  const names = state.info.classes;
  const [pos, neg] = COLOUR_NAMES[settings.colormap] || COLOUR_NAMES.bwr;
  const cap = (w) => w[0].toUpperCase() + w.slice(1);
  const t = names[res.target];
  const span = (cls, text) => Object.assign(document.createElement('span'), { className: cls, textContent: text });
  const el = $('why');
  if (res.contrast != null) {
    const c = names[res.contrast];
    el.replaceChildren(`Why ${t} and not ${c}? `, span('pos', cap(pos)), ` pixels favour ${t} over ${c}, `, span('neg', neg), ` pixels ${c} over ${t}.`);
  } else {
    el.replaceChildren(`Why ${t}? `, span('pos', cap(pos)), ` pixels are evidence for ${t}, `, span('neg', neg), ' pixels against it.');
  }
}

// A number for the page: three decimals, and never "-0.000".
const num = (v) => (Math.abs(v) < 0.0005 ? 0 : v).toFixed(3);

// What the heatmap's sum means for the method's family: LRP conserves the explained logit (up to what
// biases and stabilizers absorb); gradient methods do not conserve relevance.
function sumLine(res) {
  const row = methodTable().methods.find((m) => m.name === settings.method);
  const lrp = settings.method === 'custom' || (row && row.family === 'lrp');
  const pad = Math.abs(res.padding) > 1e-6 ? ` (${num(res.padding)} of it on the padding)` : '';
  if (lrp) {
    // an LSTM with the bias factor leaves a share on its zero initial states
    const init = res.lstm ? res.lstm.initial_state.reduce((a, b) => a + b, 0) : 0;
    const gap = res.explained - res.sum - res.padding - init;
    const absorbed = Math.abs(gap) >= 0.0005 ? `; ${num(gap)} absorbed by biases and stabilizers (layer view)` : '';
    const states = Math.abs(init) >= 0.0005 ? `; ${num(init)} on the LSTM's initial states` : '';
    return `Conservation: the heatmap sums to ${num(res.sum)} of the explained ${num(res.explained)}${pad}${states}${absorbed}.`;
  }
  return `${S.methodLabel()} does not conserve relevance: the heatmap sums to ${num(res.sum)}${pad}; the explained logit is ${num(res.explained)}.`;
}

function update() {
  state.pending = false;
  const t0 = performance.now();
  const digit = pad.onlyDigit();
  let hasInk = false;
  // the pad's pixels, read once per update: preprocessing and the overlay's ink both use them
  state.ink = null;
  if (digit) {
    const r = call(engine, (e) => e.set_pixels(Float32Array.from(digit.pixels)));
    hasInk = !r.error;
  } else if (!pad.isEmpty()) {
    const { width, height } = pad.canvas;
    const img = pad.ctx.getImageData(0, 0, width, height);
    state.ink = img;
    const r = call(engine, (e) => e.preprocess(new Uint8Array(img.data.buffer), width, height));
    if (r.error) showError(r.error);
    hasInk = r.value === true;
  }
  const pre = performance.now() - t0;
  const pred = $('prediction');
  if (!hasInk) {
    heavyWork.cancel();
    clearViews('draw a digit here');
    finish(t0, pred, { pre, forward: 0, explain: 0, colour: 0 });
    return;
  }
  $('hint').hidden = true;
  const request = { ...S.methodRequest(), target: classOrNull(settings.target), contrast: classOrNull(settings.contrast), normalize: settings.normalize, layers: settings.showLayers };
  if (heavyWork.wanted(request, settings.showAll, state.info.classes.length)) {
    // the pad keeps its frame rate: the prediction now (a gradient's forward pass), the heatmap from the
    // worker when it is ready; requests made meanwhile are dropped but the newest
    const quick = call(engine, (e) => e.explain({ method: 'gradient', target: request.target }));
    if (!quick.error) showPrediction(quick.value, digit, false);
    heavyWork.post({ pixels: engine.pixels(), request, all: settings.showAll }, (msg) => {
      if (msg.error) showError(msg.error);
      else render({ value: msg.result, same: msg.same }, msg.all, { t0: performance.now(), pre: 0, digit, worker: true });
    });
    $('heat-caption').textContent = 'updating…';
    finish(t0, pred, { pre, forward: quick.error ? 0 : quick.value.timings.forward, explain: 0, colour: 0 }, false);
    return;
  }
  const all = settings.showAll ? call(engine, (e) => e.explain_all_classes(request)) : null;
  const r = explainChecked(engine, request);
  if (!r.error) heavyWork.measured(request, settings.showAll, r.value.timings.explain + (all && !all.error ? r.value.timings.explain * state.info.classes.length : 0));
  render(r, all && !all.error ? all.value : null, { t0, pre, digit, worker: false });
}

// The prediction, the bars and what the network sees, from an explanation (or a quick forward pass).
function showPrediction(res, digit, full) {
  const [, h, w] = state.info.input;
  putRGBA($('input-view'), engine.input_rgba(), w, h);
  const pred = $('prediction');
  const names = state.info.classes;
  const p = res.probabilities[res.prediction];
  pred.textContent = names[res.prediction] ?? String(res.prediction);
  pred.dataset.class = String(res.prediction);
  pred.dataset.probability = p.toFixed(4);
  if (full) bars.update(res.probabilities, res.prediction, res.target, res.contrast ?? -1);
  else bars.update(res.probabilities, res.prediction, state.result ? state.result.target : -1, state.result ? state.result.contrast ?? -1 : -1);
}

// Draws an explanation: `r` is { value, same } or { error }; `all` the all-classes maps or null.
function render(r, all, { t0, pre, digit, worker }) {
  const pred = $('prediction');
  const [, h, w] = state.info.input;
  if (settings.showAll && all) renderAllClasses($('all-classes'), all, state.info.classes, [h, w], (m, s) => paint(m, s));
  else if (!settings.showAll && $('all-classes').children.length) $('all-classes').replaceChildren();
  $('contrast-note').hidden = !r.same;
  if (r.error) {
    showError(r.error);
    finish(t0, pred, { pre, forward: 0, explain: 0, colour: 0 });
    return;
  }
  const res = r.value;
  const names = state.info.classes;
  if (r.same) {
    const t = names[res.target];
    $('contrast-note').textContent = `The contrast class is the explained class (${t}): "why ${t} and not ${t}" is zero everywhere. Showing ${t} alone; pick another contrast class.`;
  }
  state.result = res;
  const tc = performance.now();
  putRGBA($('heatmap'), paint(res.heatmap, 0), w, h);
  putRGBA(heatSmall, paint(res.heatmap, 0, true), w, h);
  const colour = performance.now() - tc;
  const mark = settings.watermark && state.info.watermark ? state.info.watermark : null;
  if (settings.overlay) putTint(tintSmall, res.heatmap, colorOf(1, settings.colormap), colorOf(-1, settings.colormap));
  const ink = state.ink || pad.ctx.getImageData(0, 0, pad.canvas.width, pad.canvas.height);
  drawOverlay($('overlay'), settings.overlay ? heatSmall : null, digit ? null : engine.transform(), mark, h, ink, tintSmall);
  showPrediction(res, digit, true);
  const off = res.target !== res.prediction;
  $('target-note').hidden = !off;
  if (off) $('target-note-text').textContent = `Explaining ${names[res.target]}, not the predicted ${names[res.prediction]}.`;
  const why = res.contrast != null ? `why ${names[res.target]} and not ${names[res.contrast]}` : `class ${names[res.target]}`;
  $('heat-caption').textContent = `relevance for ${why} (${S.methodLabel()})`;
  $('heatmap').dataset.source = worker ? 'worker' : 'main';
  $('heatmap').dataset.posted = String(heavyWork.posted);
  $('sum-line').textContent = sumLine(res);
  whySentence(res);
  if (lstmPanels) lstmPanels.render(res, state.info.input, settings.colormap);
  // the network view follows the drawing live (the other panels when a stroke ends)
  if ($('show-net').checked && lazy.net) lazy.net.then((p) => p.render());
  if (settings.showLayers && res.layers.length) {
    renderLayers($('layers'), state.info, res, (m, s) => paint(m, s), setLayerRule);
  } else if (!settings.showLayers && $('layers').children.length) {
    $('layers').replaceChildren();
  } else if (!res.layers.length) {
    $('layers').textContent = 'Layer relevance is shown for LRP methods.';
  }
  finish(t0, pred, { pre, forward: res.timings.forward, explain: res.timings.explain, colour });
}

// `counted`: a finished update (data-seq advances, which the tests wait for); not for the quick
// prediction shown while the worker computes the heatmap.
function finish(t0, pred, t, counted = true) {
  const total = performance.now() - t0;
  const timing = $('timing');
  timing.dataset.explainMs = t.explain.toFixed(3);
  timing.dataset.updateMs = total.toFixed(3);
  timing.textContent = `preprocess ${t.pre.toFixed(2)} ms · forward ${t.forward.toFixed(2)} ms · explain ${t.explain.toFixed(2)} ms · colour ${t.colour.toFixed(2)} ms · whole update ${total.toFixed(2)} ms`;
  if (!counted) {
    S.save(pad.toJSON());
    return;
  }
  const final = state.final;
  state.final = false;
  if (final && pred.dataset.class) refreshPanels(false);
  pred.dataset.seq = String(Number(pred.dataset.seq || 0) + 1);
  S.save(pad.toJSON());
}

// The teaching panels that are open, after a stroke ends or a setting changes.
function refreshPanels(toggled) {
  if (!state.result) return;
  if ($('show-compare').checked) panels.compare.render();
  else if (toggled) panels.compare.clear();
  if ($('show-equiv').checked) panels.equiv.render();
  for (const name of Object.keys(LAZY)) {
    if ($(`show-${name}`).checked) lazyPanel(name).then((p) => p.render());
    else if (toggled && lazy[name]) lazy[name].then((p) => p.clear());
  }
}

// The panels imported the first time they open (name: its check box is show-NAME): module and class.
const LAZY = { net: ['./netview.js', 'NetworkView'], proto: ['./prototypes.js', 'PrototypesPanel'], sanity: ['./sanity.js', 'SanityPanel'], ab: ['./ab.js', 'AbPanel'], hans: ['./cleverhans.js', 'CleverHansPanel'] };
const lazy = {};
function lazyPanel(name) {
  lazy[name] ??= import(LAZY[name][0]).then((m) => new m[LAZY[name][1]](panels.ui)).catch((e) => {
    showError(`the panel ${name}: ${e.message}`);
    delete lazy[name];
    return { render() {}, clear() {} };
  });
  return lazy[name];
}

// A rule chosen in the layer view: the method becomes "custom" (a rule per layer).
function setLayerRule(i, rule) {
  const rules = [...(state.result && state.result.rules ? state.result.rules : [])];
  rules[i] = rule;
  S.setCustomRules(rules);
  schedule();
}

function syncWatermark() {
  const has = !!(state.info && state.info.watermark);
  $('stamp-watermark').disabled = !has;
  if (!has) settings.watermark = false;
  $('stamp-watermark').checked = settings.watermark;
  call(engine, (e) => e.set_watermark(settings.watermark));
  heavyWork.setWatermark(settings.watermark);
}

function announce() {
  const p = $('prediction');
  const text = p.dataset.class ? `predicted ${p.textContent}, ${Math.round(Number(p.dataset.probability) * 100)} percent` : '';
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
    state.digitBytes = { images: img, labels: lab, count: res.value };
    return true;
  } catch (e) {
    showError(`test digits: ${e.message}`);
    return false;
  }
}

// Test digit i on the pad, and what it is in words.
function showDigit(i, wrong) {
  const label = engine.label(i);
  pad.setDigit(engine.digit(i), { index: i, label });
  $('example-info').textContent = `MNIST test digit #${i}, labelled ${label}${wrong ? ' (this model gets it wrong)' : ''}. Draw on it to change it.`;
}

// A lesson's chapter prepares the page: the settings of a first visit, then the chapter's (the share
// link's fields; `params` in the parameters' own units), its model, its drawing (a test digit by number,
// or strokes), the panels it opens and its view. A model that fails to load leaves the current one.
async function prepare(chapter) {
  const st = chapter.state || {};
  S.reset();
  S.setRestoring(true);
  const drawing = S.apply(st, models);
  for (const [k, v] of Object.entries(st.params || {})) if (S.SLIDERS.includes(k) && Number.isFinite(v)) settings.sliders[k] = S.sliderValue(k, v);
  if (!models.includes(settings.model)) settings.model = models.includes('cnn') ? 'cnn' : models[0];
  if (settings.model === state.loaded) modelLoaded(state.info);
  else if (!(await loadShippedModel(settings.model))) settings.model = state.loaded;
  $('model').value = settings.model;
  S.show();
  const open = st.panels || [];
  for (const name of ['compare', 'equiv', ...Object.keys(LAZY)]) $(`show-${name}`).checked = open.includes(name);
  if (!open.includes('compare')) panels.compare.clear();
  for (const name of Object.keys(LAZY)) if (!open.includes(name) && lazy[name]) lazy[name].then((p) => p.clear());
  if (Number.isInteger(chapter.digit) && (await ensureDigits()) && chapter.digit < state.digits) showDigit(chapter.digit, false);
  else {
    pad.fromJSON(drawing || []);
    $('example-info').textContent = '';
  }
  S.setRestoring(false);
  showView(st.view === 'photos' ? 'photos' : 'digits');
  schedule();
}

// Lesson mode: #lesson=N opens chapter N (lessons.js, imported the first time).
let lessons = null;
const lessonInHash = () => { const m = location.hash.match(/^#lesson=(\d+)$/); return m ? Number(m[1]) : null; };
function openLesson(n) {
  lessons ??= import('./lessons.js').then(({ Lessons }) => new Lessons({ prepare, showError }));
  return lessons.then((l) => l.open(n)).catch((e) => showError(`Lesson: ${e.message}`));
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
  showDigit(i, wrong);
}

// Present mode, for a projector: full screen (when asked by a click), text 1.5x, only the pad, the
// heatmap, the prediction and the sentence. Also from the URL: ?present.
function setPresent(on, fullscreen) {
  document.documentElement.classList.toggle('present', on);
  $('present').textContent = on ? 'Leave present mode' : 'Present';
  $('present').setAttribute('aria-pressed', String(on));
  if (fullscreen && on && document.fullscreenEnabled && !document.fullscreenElement) document.documentElement.requestFullscreen().catch(() => { /* a window is fine */ });
  if (!on && document.fullscreenElement) document.exitFullscreen().catch(() => { /* fine */ });
}

function wire() {
  $('present').addEventListener('click', () => setPresent(!document.documentElement.classList.contains('present'), true));
  if (new URLSearchParams(location.search).has('present')) setPresent(true, false);
  S.bind((key) => {
    showError('');
    if (key === 'colormap') applyColormap();
    schedule();
  });
  $('model').addEventListener('change', async (e) => {
    const stem = e.target.value;
    if (stem === 'uploaded') return;
    if (!(await loadShippedModel(stem))) e.target.value = settings.model;
  });
  for (const p of ['lrp-0', 'lrp-eps', 'lrp-gamma', 'lrp-alpha2-beta1', 'lrp-zplus', 'deep-taylor', 'epsilon-plus', 'epsilon-gamma-box', 'epsilon-alpha2-beta1', 'epsilon-plus-flat']) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'small-btn preset';
    b.textContent = p;
    b.addEventListener('click', () => { settings.method = p; settings.showLayers = true; S.show(); schedule(); });
    $('preset-buttons').appendChild(b);
  }
  $('stamp-watermark').addEventListener('change', (e) => {
    const r = call(engine, (en) => en.set_watermark(e.target.checked));
    if (r.error) {
      e.target.checked = false;
      showError(r.error);
    }
    settings.watermark = e.target.checked;
    heavyWork.setWatermark(settings.watermark);
    schedule('watermark');
  });
  for (const id of ['show-compare', 'show-equiv', 'shared-scale', ...Object.keys(LAZY).map((n) => `show-${n}`)]) $(id).addEventListener('change', () => refreshPanels(true));
  $('tour-start').addEventListener('click', () => tour(0));
  $('lessons-start').addEventListener('click', () => {
    if (lessonInHash() === 1) openLesson(1);
    else location.hash = 'lesson=1';
  });
  window.addEventListener('hashchange', () => { const n = lessonInHash(); if (n) openLesson(n); });
  $('clear').addEventListener('click', () => pad.clear());
  $('target-reset').addEventListener('click', () => { settings.target = -1; S.show(); schedule(); });
  $('undo').addEventListener('click', () => pad.undo());
  $('example').addEventListener('click', () => example(false));
  $('example-wrong').addEventListener('click', () => example(true));
  $('model-file').addEventListener('change', (e) => {
    const f = e.target.files && e.target.files[0];
    if (f) loadUserModel(f).finally(() => { e.target.value = ''; schedule(); });
  });
  $('onnx-input').addEventListener('change', () => { $('onnx-custom').hidden = $('onnx-input').value !== 'custom'; });
  document.addEventListener('dragover', (e) => e.preventDefault());
  document.addEventListener('drop', (e) => {
    e.preventDefault();
    // on the Photos view a dropped file is a photo (photos.js)
    if (!$('photos-view').hidden) return;
    const f = e.dataTransfer && e.dataTransfer.files[0];
    if (f) loadUserModel(f).finally(schedule);
  });
}

// Digits or Photos: one view at a time; `?view=photos` opens the Photos view (its code and its model are
// fetched the first time it opens, so that the digits' first load stays small).
let photoView = null;
function showView(name, push = true) {
  const photos = name === 'photos';
  $('digits-view').hidden = photos;
  $('photos-view').hidden = !photos;
  document.querySelector('header .tagline').hidden = photos;
  $('tour-start').hidden = photos;
  $('present').hidden = photos;
  $('timing').hidden = photos;
  $('view-digits').setAttribute('aria-pressed', String(!photos));
  $('view-photos').setAttribute('aria-pressed', String(photos));
  document.documentElement.dataset.view = name;
  if (push) {
    const u = new URL(location.href);
    if (photos) u.searchParams.set('view', 'photos'); else u.searchParams.delete('view');
    history.replaceState(null, '', u);
  }
  if (photos) {
    photoView ??= import('./photos.js').then(({ PhotoView }) => new PhotoView({ showError }));
    photoView.then((v) => v.open()).catch((e) => showError(`The Photos view did not load: ${e.message}`));
  }
}

async function main() {
  pad = new Pad($('pad'), (why) => {
    if (why !== 'draw') $('example-info').textContent = pad.onlyDigit() ? $('example-info').textContent : '';
    // a new drawing starts with the predicted class explained
    if (why === 'clear') {
      settings.target = -1;
      settings.contrast = -1;
      S.show();
    }
    schedule(why);
    if (why === 'end' || why === 'example' || why === 'clear' || why === 'undo') requestAnimationFrame(() => requestAnimationFrame(announce));
  });
  bars = new Bars($('bars'), (c, shift) => {
    // Shift-click, or a tap with "tap picks the contrast" on (touch screens have no Shift)
    const contrast = shift || $('pick-contrast').checked;
    if (contrast) settings.contrast = settings.contrast === c ? -1 : c;
    else settings.target = settings.target === c ? -1 : c;
    S.show();
    schedule();
  });
  try {
    engine = await createEngine();
    methodTable();
  } catch (e) {
    showError(`could not start the engine: ${e.message}`);
    return;
  }
  const colours = () => { const [p, n] = COLOUR_NAMES[settings.colormap] || COLOUR_NAMES.bwr; return `${p[0].toUpperCase()}${p.slice(1)} / ${n}`; };
  const ui = { engine, settings, pad, showError, colours, info: () => state.info, result: () => state.result, ensureDigits, get models() { return models; }, modelBytes: () => heavyWork.model, digitBytes: async () => ((await ensureDigits()) ? state.digitBytes : null) };
  panels = { ui, compare: new ComparePanel(ui), equiv: new EquivalencePanel(ui), exports: new Exports(ui) };
  S.buildControls();
  try {
    models = JSON.parse(new TextDecoder().decode(await fetchBytes('models/index.json'))).map((m) => m.stem);
  } catch { /* the built-in list */ }
  for (const m of models) $('model').add(new Option(m, m));

  const fromLink = await S.fromHash();
  const lesson = lessonInHash();
  S.setRestoring(true);
  const saved = fromLink || S.restored();
  const drawing = saved ? S.apply(saved, models) : FIRST_VISIT_DIGIT;
  const first = models.includes(settings.model) ? settings.model : (models.includes('cnn') ? 'cnn' : models[0]);
  $('model').value = first;
  // a loaded model shows the settings (saved classes out of its range fall back); a failed load leaves
  // the controls to show them here
  await loadShippedModel(first);
  S.show();
  if (drawing) pad.fromJSON(drawing);
  S.setRestoring(false);
  pad.fitToScreen([$('overlay')]);
  let resizing = 0;
  window.addEventListener('resize', () => {
    cancelAnimationFrame(resizing);
    resizing = requestAnimationFrame(() => { if (pad.fitToScreen([$('overlay')])) schedule(); });
  });
  applyColormap();
  window.matchMedia?.('(prefers-color-scheme: dark)').addEventListener?.('change', applyColormap);
  wire();
  $('view-digits').addEventListener('click', () => showView('digits'));
  $('view-photos').addEventListener('click', () => showView('photos'));
  const photosFirst = new URLSearchParams(location.search).get('view') === 'photos';
  if (photosFirst) showView('photos', false);
  schedule();
  if (lesson) await openLesson(lesson);
  else if (!toured() && !fromLink && !photosFirst) requestAnimationFrame(() => tour(0));
  if ('serviceWorker' in navigator) navigator.serviceWorker.register('sw.js').catch(() => { /* offline use is optional */ });
  document.documentElement.dataset.ready = 'true';
}

main();
