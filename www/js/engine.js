// The only module that imports the WebAssembly engine. Every call goes through `call`, which turns a
// thrown JsError into { error } so the page can show it and keep working. The engine holds the model
// and the input; the method, its parameters and the colour map come with each call.
import init, { Engine } from '../pkg/lrp.js';

export async function createEngine() {
  await init();
  return new Engine();
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
