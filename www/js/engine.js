// The only module that imports the WebAssembly engine. Every call goes through `call`, which turns a
// thrown JsError into { error } so the page can show it and keep working.
import init, { Engine } from '../pkg/lrp.js';

export async function createEngine() {
  await init();
  return new Engine();
}

export function methodNames() {
  return Engine.method_names();
}

// The engine's method table: { methods: [{ name, family, params, compare, description, reference }],
// params: [{ name, default, min, max, log, integer, description }] }.
export function methodTable() {
  return JSON.parse(Engine.methods());
}

// Runs fn(engine); returns { value } or { error: message }.
export function call(engine, fn) {
  try {
    return { value: fn(engine) };
  } catch (e) {
    return { error: e && e.message ? e.message : String(e) };
  }
}
