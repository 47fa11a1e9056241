// The engine in a Web Worker, for the slow explanations (see HeavyWork in engine.js): the same wasm, the
// same model bytes, the same requests; messages are handled in order. The class prototypes run in a
// worker of their own (prototypes.js): the test digits, then the chunks with their progress.
import init, { Engine } from '../pkg/lrp.js';
import { call, explainChecked } from './engine.js';

const ready = init().then(() => new Engine());

self.onmessage = async (e) => {
  const engine = await ready;
  const m = e.data;
  if (m.type === 'model') {
    const r = call(engine, (en) => en.load_model(m.bytes, m.options));
    if (r.error) self.postMessage({ type: 'error', error: r.error });
  } else if (m.type === 'watermark') {
    call(engine, (en) => en.set_watermark(m.on));
  } else if (m.type === 'digits') {
    const r = call(engine, (en) => en.load_digits(m.images, m.labels));
    self.postMessage({ type: 'digits', error: r.error || null, n: r.value });
  } else if (m.type === 'prototypes') {
    // every test digit, a chunk at a time, the progress after each
    const t0 = performance.now();
    let sums = null;
    let counts = null;
    for (let start = 0; start < m.total; start += m.chunk) {
      const r = call(engine, (en) => en.prototype_chunk(m.request, start, m.chunk));
      if (r.error) {
        self.postMessage({ type: 'prototypes', error: r.error });
        return;
      }
      if (!sums) ({ sums, counts } = { sums: r.value.sums, counts: r.value.counts });
      else {
        r.value.sums.forEach((v, i) => { sums[i] += v; });
        r.value.counts.forEach((v, i) => { counts[i] += v; });
      }
      self.postMessage({ type: 'progress', done: Math.min(m.total, start + m.chunk), total: m.total });
    }
    self.postMessage({ type: 'prototypes', error: null, sums, counts, ms: performance.now() - t0 });
  } else if (m.type === 'explain') {
    const t0 = performance.now();
    const px = call(engine, (en) => en.set_pixels(m.pixels));
    if (px.error) {
      self.postMessage({ type: 'result', id: m.id, error: px.error });
      return;
    }
    const all = m.all ? call(engine, (en) => en.explain_all_classes(m.request)) : null;
    const r = explainChecked(engine, m.request);
    const error = r.error || (all && all.error) || null;
    self.postMessage({ type: 'result', id: m.id, error, result: r.value, same: r.same, all: all && !all.error ? all.value : null, ms: performance.now() - t0 });
  }
};
