// The Photos view's engine in a Web Worker (photos.js): fetches the photo model once (reporting the
// download's progress), then explains each crop it is sent. Messages are handled in order; every reply
// carries the request's id, and an error is a reply too (the page shows it and keeps its photo).
// The first message says how many threads to use: with more than one, where the page is cross-origin
// isolated (SharedArrayBuffer), the threaded build (../pkg-threads, a rayon pool of Web Workers sharing
// the engine's memory); otherwise, or if that build fails to start, the single-threaded one. Both give
// the same numbers.
let ready = null;
let note = '';
async function start(threads) {
  if (threads > 1 && self.crossOriginIsolated) {
    try {
      const pkg = await import('../pkg-threads/lrp.js');
      await pkg.default();
      // the pool's workers report when they run; a browser that cannot start them would leave it waiting
      const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('the thread pool did not start in 20 s')), 20000));
      await Promise.race([pkg.initThreadPool(threads), timeout]);
      return new pkg.PhotoEngine();
    } catch (err) {
      note = `threads unavailable (${message(err)}): one thread`;
    }
  } else if (threads > 1) {
    note = 'one thread: the page is not cross-origin isolated';
  }
  const pkg = await import('../pkg/lrp.js');
  await pkg.default();
  return new pkg.PhotoEngine();
}
let names = [];
const message = (e) => (e && e.message ? e.message : String(e));

async function fetchWithProgress(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  const total = Number(r.headers.get('content-length')) || 0;
  if (!r.body || !total) return new Uint8Array(await r.arrayBuffer());
  const out = new Uint8Array(total);
  const reader = r.body.getReader();
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (loaded + value.length > total) throw new Error(`${url}: more bytes than its Content-Length`);
    out.set(value, loaded);
    loaded += value.length;
    self.postMessage({ type: 'progress', loaded, total });
  }
  return out.subarray(0, loaded);
}

self.onmessage = async (e) => {
  const m = e.data;
  try {
    ready ??= start(m.threads ?? 1);
    const engine = await ready;
    if (m.type === 'load') {
      const bytes = await fetchWithProgress(m.url);
      const info = engine.load_model(bytes);
      names = engine.classes();
      self.postMessage({ id: m.id, info, classes: names, side: engine.side(), threads: engine.threads(), note });
    } else if (m.type === 'explain') {
      engine.set_rgba(new Uint8Array(m.rgba), m.side, m.side);
      const t0 = performance.now();
      const result = engine.explain(m.request);
      result.ms = performance.now() - t0;
      // the five most probable classes, from the explanation's own forward pass
      const order = Array.from(result.probabilities.keys()).sort((a, b) => result.probabilities[b] - result.probabilities[a]).slice(0, 5);
      const top = order.map((c) => ({ class: c, name: names[c], logit: result.logits[c], probability: result.probabilities[c] }));
      self.postMessage({ id: m.id, top, result });
    } else {
      self.postMessage({ id: m.id, error: `unknown message ${m.type}` });
    }
  } catch (err) {
    self.postMessage({ id: m.id, error: message(err) });
  }
};
