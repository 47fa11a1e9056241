// The page's settings: one object, the single source of truth (method, its base and parameters, a rule
// per layer, target, contrast, colour map, model, views). The controls are its view: `show` writes it
// into them, each control's listener writes into it. Persistence (localStorage) and share links
// (#s=<base64url(JSON)>, or deflated: #z=) live here too, with the drawing beside the settings.
import { methodTable } from './engine.js';

const $ = (id) => document.getElementById(id);
const STORAGE_KEY = 'lrp-live-state-v1';
export const SLIDERS = ['epsilon', 'gamma', 'alpha', 'bias_factor', 'steps', 'samples', 'sigma', 'patch', 'stride'];
// checkboxes: element id -> settings key
const CHECKS = { normalize: 'normalize', 'show-all': 'showAll', 'show-layers': 'showLayers', 'show-overlay': 'overlay' };

export const settings = {
  model: null,
  method: 'epsilon-plus',
  base: 'gradient',
  customRules: null,
  sliders: {},
  target: -1,
  contrast: -1,
  normalize: false,
  colormap: 'bwr',
  showAll: false,
  showLayers: false,
  overlay: true,
  watermark: false,
};
// the settings of a first visit, before the sliders are read (`reset` goes back to them)
const DEFAULTS = JSON.stringify(settings);

const row = (name) => methodTable().methods.find((m) => m.name === name);

// The method's parameters from slider values, `v(name)` (log-scale sliders hold the exponent). A view
// without a slider for a parameter gives NaN for it: the parameter is left out (the engine's default).
export function paramsFrom(v) {
  const alpha = v('alpha');
  const p = { epsilon: 10 ** v('epsilon'), gamma: 10 ** v('gamma'), alpha, beta: alpha - 1, bias_factor: v('bias_factor'), steps: v('steps'), samples: v('samples'), sigma: v('sigma'), seed: 0, patch: v('patch'), stride: v('stride') };
  for (const k of Object.keys(p)) if (!Number.isFinite(p[k])) delete p[k];
  return p;
}

// The read-out of each parameter in `p`, by name.
const FORMAT = { epsilon: (p) => p.epsilon.toPrecision(2), gamma: (p) => p.gamma.toPrecision(2), alpha: (p) => `${p.alpha} (β = ${p.beta})`, bias_factor: (p) => p.bias_factor.toFixed(2), steps: (p) => String(p.steps), samples: (p) => String(p.samples), sigma: (p) => p.sigma.toFixed(2), patch: (p) => `${p.patch} px`, stride: (p) => `${p.stride} px` };
export function paramText(p) {
  return Object.fromEntries(Object.keys(FORMAT).filter((k) => k in p).map((k) => [k, FORMAT[k](p)]));
}

// The page's parameters, from its sliders.
export function params(s = settings) {
  return paramsFrom((id) => Number(s.sliders[id] ?? $(id).value));
}

// The method as the engine reads it: `{ method, params, rules }`; a wrapper names its base (NAME:BASE).
export function methodRequest(s = settings) {
  const p = params(s);
  if (s.method === 'custom') return { method: 'custom', params: p, rules: s.customRules };
  const r = row(s.method);
  return { method: r && r.wrapper && s.base && s.base !== 'gradient' ? `${s.method}:${s.base}` : s.method, params: p };
}

// The name shown for the method (the wrapper with its base).
export function methodLabel(s = settings) {
  return s.method === 'custom' ? 'a rule per layer' : methodRequest(s).method;
}

// Parameters the current method reads (its own, and its base's for a wrapper).
export function usedParams(s = settings) {
  const r = row(s.method);
  if (!r) return [];
  if (!r.wrapper) return r.params;
  const base = row(s.base);
  return ['base', ...r.params, ...(base ? base.params : [])];
}

// Fills the method and base menus and the sliders' ranges from the engine's table.
export function buildControls() {
  const table = methodTable();
  for (const m of table.methods) $('method').add(new Option(m.name, m.name));
  $('base').add(new Option('gradient', 'gradient'));
  for (const m of table.methods) if (!m.wrapper && m.name !== 'gradient') $('base').add(new Option(m.name, m.name));
  for (const p of table.params) {
    const el = $(p.name);
    if (!el || el.type !== 'range') continue;
    el.min = String(p.log ? Math.log10(p.min) : p.min);
    el.max = String(p.log ? Math.log10(p.max) : p.max);
  }
  for (const id of SLIDERS) settings.sliders[id] = $(id).value;
}

function ensureCustomOption() {
  if (![...$('method').options].some((o) => o.value === 'custom')) $('method').add(new Option('custom (a rule per layer)', 'custom'));
}

// Writes the settings into the controls (after a restore, a share link, a preset, a rule change).
export function show(s = settings) {
  if (s.method === 'custom') ensureCustomOption();
  $('method').value = s.method;
  $('base').value = s.base;
  for (const id of SLIDERS) if (s.sliders[id] != null) $(id).value = s.sliders[id];
  for (const [id, key] of Object.entries(CHECKS)) $(id).checked = !!s[key];
  $('colormap').value = s.colormap;
  $('target').value = String(s.target);
  $('contrast').value = String(s.contrast);
  showParams(s);
}

// The slider read-outs, and only the sliders the method reads.
export function showParams(s = settings) {
  const text = paramText(params(s));
  for (const id of SLIDERS) $(`${id}-val`).textContent = text[id];
  const used = usedParams(s);
  document.querySelectorAll('.param').forEach((el) => { el.hidden = !used.includes(el.dataset.param); });
}

// A method's own defaults (lrp-lstm's epsilon of 0.001) move its sliders when it is chosen.
function applyDefaults(name) {
  const r = row(name);
  for (const [param, value] of (r && r.defaults) || []) {
    const el = $(param);
    if (!el || el.type !== 'range') continue;
    settings.sliders[param] = sliderValue(param, value);
    el.value = settings.sliders[param];
  }
}

// Offers only the methods the model can run (`names`, from the engine: an LSTM takes no convolution
// presets, and lrp-lstm needs an LSTM). A method it cannot run becomes `fallback`, with its defaults.
export function offerMethods(names, fallback) {
  for (const id of ['method', 'base']) {
    for (const o of $(id).options) {
      const off = o.value !== 'custom' && o.value !== 'gradient' && !names.includes(o.value);
      o.disabled = off;
      o.hidden = off;
    }
  }
  if (settings.method !== 'custom' && !names.includes(settings.method)) {
    settings.method = fallback;
    applyDefaults(fallback);
  }
  if (!names.includes(settings.base)) settings.base = 'gradient';
}

// Each control writes its value into the settings, then calls `changed(key)`.
export function bind(changed) {
  $('method').addEventListener('change', (e) => { settings.method = e.target.value; applyDefaults(settings.method); showParams(); changed('method'); });
  $('base').addEventListener('change', (e) => { settings.base = e.target.value; showParams(); changed('method'); });
  for (const id of SLIDERS) $(id).addEventListener('input', (e) => { settings.sliders[id] = e.target.value; showParams(); changed('params'); });
  for (const [id, key] of Object.entries(CHECKS)) $(id).addEventListener('change', (e) => { settings[key] = e.target.checked; changed(key); });
  $('target').addEventListener('change', (e) => { settings.target = Number(e.target.value); changed('target'); });
  $('contrast').addEventListener('change', (e) => { settings.contrast = Number(e.target.value); changed('contrast'); });
  $('colormap').addEventListener('change', (e) => { settings.colormap = e.target.value; changed('colormap'); });
}

// Back to the settings of a first visit, the sliders at their HTML values (before a lesson's chapter).
export function reset() {
  Object.assign(settings, JSON.parse(DEFAULTS));
  for (const id of SLIDERS) settings.sliders[id] = $(id).defaultValue;
}

// A slider's value from a parameter's value (log-scale sliders hold the exponent).
export function sliderValue(param, value) {
  const spec = methodTable().params.find((p) => p.name === param);
  return String(spec && spec.log ? Math.log10(value) : value);
}

// A rule per layer chosen in the layer view: the method becomes `custom`.
export function setCustomRules(rules) {
  settings.customRules = rules;
  settings.method = 'custom';
  show();
}

// Takes a saved or shared state (unknown or invalid fields are ignored). Returns its drawing.
export function apply(saved, models) {
  if (!saved || typeof saved !== 'object') return null;
  const names = methodTable().methods.map((m) => m.name);
  if (saved.sliders && typeof saved.sliders === 'object') for (const id of SLIDERS) if (saved.sliders[id] != null) settings.sliders[id] = String(saved.sliders[id]);
  if (Array.isArray(saved.customRules) && saved.method === 'custom') {
    settings.customRules = saved.customRules;
    settings.method = 'custom';
  } else if (names.includes(saved.method)) settings.method = saved.method;
  if (names.includes(saved.base)) settings.base = saved.base;
  for (const key of Object.values(CHECKS)) if (key in saved) settings[key] = !!saved[key];
  if (saved.colormap === 'bwr' || saved.colormap === 'puor') settings.colormap = saved.colormap;
  if (models.includes(saved.model)) settings.model = saved.model;
  for (const key of ['target', 'contrast']) if (Number.isInteger(saved[key])) settings[key] = saved[key];
  settings.watermark = !!saved.watermark;
  return saved.drawing ?? null;
}

// Targets out of the model's range fall back to "predicted" / "none".
export function clampClasses(classes) {
  for (const key of ['target', 'contrast']) if (settings[key] >= classes) settings[key] = -1;
}

export function snapshot(drawing) {
  return { ...settings, sliders: { ...settings.sliders }, drawing };
}

let restoring = false;
export function setRestoring(on) { restoring = on; }

export function save(drawing) {
  if (restoring) return;
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(snapshot(drawing)));
  } catch { /* storage full or disabled: nothing to do */ }
}

export function restored() {
  try {
    return JSON.parse(localStorage.getItem(STORAGE_KEY) || 'null');
  } catch {
    return null;
  }
}

// The settings and drawing as a URL: #s=<base64url(JSON)>, or (`compactUrl`, for QR codes) the same
// JSON deflated: #z=<base64url(deflate-raw(JSON))>, a drawn digit in about a quarter of the length.
const b64url = (bytes) => btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join('')).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const unb64url = (text) => Uint8Array.from(atob(text.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
const withHash = (hash) => { const u = new URL(location.href); u.hash = hash; return u.toString(); };

export function shareUrl(drawing) {
  return withHash(`s=${b64url(new TextEncoder().encode(JSON.stringify(snapshot(drawing))))}`);
}

export async function compactUrl(drawing) {
  const stream = new Blob([JSON.stringify(snapshot(drawing))]).stream().pipeThrough(new CompressionStream('deflate-raw'));
  return withHash(`z=${b64url(new Uint8Array(await new Response(stream).arrayBuffer()))}`);
}

// A shared state's JSON is at most this long once inflated (a drawing of long strokes is ~50 KB).
const MAX_SHARED = 1 << 20;

async function inflate(bytes) {
  const reader = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate-raw')).getReader();
  const parts = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > MAX_SHARED) {
      reader.cancel();
      throw new Error('the shared state is too large');
    }
    parts.push(value);
  }
  return new TextDecoder().decode(await new Blob(parts).arrayBuffer());
}

// The state in the URL's hash (#s= or #z=), or null when there is none or it does not decode.
export async function fromHash() {
  const m = location.hash.match(/^#([sz])=([A-Za-z0-9_-]+)$/);
  if (!m) return null;
  try {
    const bytes = unb64url(m[2]);
    return JSON.parse(m[1] === 's' ? new TextDecoder().decode(bytes) : await inflate(bytes));
  } catch {
    return null;
  }
}
