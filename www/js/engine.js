// The only module that imports the WebAssembly engine. Every call goes through `call`, which turns a
// thrown JsError into { error } so the page can show it and keep working. The engine holds the model
// and the input; the method, its parameters and the colour map come with each call.
import init, { Engine } from '../pkg/lrp.js';

export async function createEngine() {
  await init();
  return new Engine();
}

// An engine of its own with a shipped model (the A | B and Clever Hans panels), loaded once per model;
// a load that fails is not kept, so the next call tries again.
const modelEngines = new Map();
export function modelEngine(stem) {
  if (!modelEngines.has(stem)) {
    const p = (async () => {
      const r = await fetch(`models/${stem}.safetensors`);
      if (!r.ok) throw new Error(`models/${stem}.safetensors: HTTP ${r.status}`);
      const e = new Engine();
      const info = e.load_model(new Uint8Array(await r.arrayBuffer()), { format: 'safetensors' });
      return { engine: e, info };
    })();
    p.catch(() => modelEngines.delete(stem));
    modelEngines.set(stem, p);
  }
  return modelEngines.get(stem);
}

// An ONNX file to this project's .safetensors bytes, by the engine's ONNX build (pkg-onnx, loaded on the
// first .onnx file only, so that the first load of the page stays small). Returns { value } or { error }.
let onnxEngine = null;
export async function convertOnnx(bytes, options) {
  try {
    if (!onnxEngine) {
      const m = await import('../pkg-onnx/lrp.js');
      await m.default();
      onnxEngine = new m.Engine();
    }
  } catch (e) {
    return { error: `the ONNX importer did not load (${e && e.message ? e.message : e})` };
  }
  return call(onnxEngine, (e) => {
    e.load_model(bytes, { format: 'onnx', ...options });
    return e.export_model();
  });
}

// The engine's method table: { methods: [{ name, family, params, compare, wrapper, description,
// reference }], params: [{ name, default, min, max, log, integer, description }] }.
let table = null;
export function methodTable() {
  table ??= Engine.methods();
  return table;
}

// RGBA of values with a colour map (`bwr` or `puor`), scaled by `scale` (<= 0: their own max |v|).
export function colorize(values, scale, alphaByMagnitude, colormap) {
  return Engine.colorize(values, scale, alphaByMagnitude, colormap);
}

export function colorOf(t, colormap) {
  return Engine.color_of(t, colormap);
}

// Runs fn(engine); returns { value } or { error: message }.
export function call(engine, fn) {
  try {
    return { value: fn(engine) };
  } catch (e) {
    return { error: e && e.message ? e.message : String(e) };
  }
}

// An explanation, with a contrast equal to the explained class refused ("why 7 and not 7" is zero
// everywhere): then the class is explained alone and `same` says so. Returns { value, same } or { error }.
export function explainChecked(engine, request) {
  let r = call(engine, (e) => e.explain(request));
  const same = !r.error && r.value.contrast != null && r.value.contrast === r.value.target;
  if (same) r = call(engine, (e) => e.explain({ ...request, contrast: null }));
  return { ...r, same };
}

// Slow explanations (Integrated Gradients with many steps, SmoothGrad, the all-classes view: anything
// measured or estimated over FRAME_MS) run in a Web Worker with its own engine and the same model, so
// that the pad keeps drawing at full frame rate. One request is in flight; a newer one replaces any
// waiting one (stale requests are dropped, never computed). Without worker support
// everything runs on the main thread (the same numbers).
const FRAME_MS = 12;

export class HeavyWork {
  constructor() {
    this.worker = null;
    this.failed = typeof Worker === 'undefined' || new URLSearchParams(location.search).get('worker') === '0';
    this.model = null;
    this.watermark = false;
    this.cost = new Map();
    this.busy = null;
    this.next = null;
    this.id = 0;
    this.posted = 0;
  }

  start() {
    try {
      this.worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    } catch {
      this.failed = true;
      return;
    }
    this.worker.onmessage = (e) => this.done(e.data);
    this.worker.onerror = () => { this.failed = true; };
    if (this.model) this.worker.postMessage({ type: 'model', ...this.model });
    this.worker.postMessage({ type: 'watermark', on: this.watermark });
  }

  setModel(bytes, options) {
    this.model = { bytes, options };
    this.cost.clear();
    this.worker?.postMessage({ type: 'model', bytes, options });
  }

  setWatermark(on) {
    this.watermark = on;
    this.worker?.postMessage({ type: 'watermark', on });
  }

  key(request, all) {
    return JSON.stringify([request.method, request.params, request.rules, request.layers, all]);
  }

  // Whether this request should go to the worker: its measured time, or else an estimate from the
  // passes it needs (steps x samples, x the classes for the all-classes view).
  wanted(request, all, classes = 10) {
    if (this.failed) return false;
    const ms = this.cost.get(this.key(request, all));
    if (ms !== undefined) return ms > FRAME_MS;
    const p = request.params || {};
    const steps = request.method.includes('integrated-gradients') ? p.steps : 1;
    const samples = request.method.includes('smoothgrad') ? p.samples : 1;
    // occlusion: a forward pass per patch position (on a 28-pixel side)
    const side = (n) => Math.max(1, Math.floor((28 - n) / Math.max(1, p.stride)) + 1);
    const patches = request.method === 'occlusion' ? side(p.patch) ** 2 : 1;
    return steps * samples * patches * (all ? classes + 1 : 1) > 40;
  }

  measured(request, all, ms) {
    this.cost.set(this.key(request, all), ms);
  }

  post(msg, onResult) {
    if (!this.worker) this.start();
    const job = { msg: { ...msg, type: 'explain', id: ++this.id }, onResult };
    if (this.busy) this.next = job;
    else this.send(job);
  }

  send(job) {
    this.busy = job;
    this.posted++;
    this.worker.postMessage(job.msg);
  }

  done(data) {
    if (data.type === 'error') return;
    const job = this.busy;
    this.busy = null;
    if (job && data.ms !== undefined) this.measured(job.msg.request, job.msg.all, data.ms);
    // shown as it arrives (explanations come as fast as the method allows), then the newest waiting
    // request goes; the ones it replaced were never sent
    if (job && !job.cancelled) job.onResult(data);
    if (this.next) {
      const n = this.next;
      this.next = null;
      this.send(n);
    }
  }

  // The pad was cleared: nothing waiting or in flight is shown.
  cancel() {
    this.next = null;
    if (this.busy) this.busy.cancelled = true;
  }
}
