// Page benchmark (not a test): in headless Chromium, draws digits with many pointer moves and prints the
// median and 95th percentile of `data-update-ms` (preprocess + forward + explain + drawing, measured by
// the page) per method, with and without the all-classes view, and the bytes of the first load.
// Run: make bench-page (or node tests/e2e/bench.mjs after make web cli).
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { startServer, launch, DIGITS, drawStrokes, settled, seq, ROOT } from './helpers.mjs';

mkdirSync(path.join(ROOT, 'target/bench'), { recursive: true });

const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

const server = await startServer();
const browser = await launch();
const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
await context.addInitScript(() => localStorage.setItem('lrp-live-toured', '1'));
const page = await context.newPage();
const bytes = new Map();
page.on('response', async (r) => {
  try {
    const b = await r.body();
    bytes.set(new URL(r.url()).pathname, b.length);
  } catch { /* redirects have no body */ }
});
await page.goto(server.url);
await page.waitForFunction(() => document.documentElement.dataset.ready === 'true');
await page.waitForFunction(() => Number(document.querySelector('#prediction').dataset.seq) > 0);
await page.waitForTimeout(300);
const first = [...bytes.entries()];
const total = first.reduce((a, [, n]) => a + n, 0);
const pick = (re) => first.filter(([p]) => re.test(p)).reduce((a, [, n]) => a + n, 0);
console.log(`first load: ${(total / 1024).toFixed(1)} KiB in ${first.length} files (wasm ${(pick(/\.wasm$/) / 1024).toFixed(1)} KiB, JS ${(pick(/\.js$/) / 1024).toFixed(1)} KiB, default model ${(pick(/\.safetensors$/) / 1024).toFixed(1)} KiB, HTML+CSS ${(pick(/(\.html|\.css|\/)$/) / 1024).toFixed(1)} KiB)`);
console.log(`cross-origin isolated (5 µs timers): ${await page.evaluate(() => self.crossOriginIsolated)}`);

await page.evaluate(() => {
  window.__samples = [];
  new MutationObserver(() => {
    const t = document.querySelector('#timing').dataset;
    if (t.updateMs) window.__samples.push([Number(t.updateMs), Number(t.explainMs)]);
  }).observe(document.querySelector('#prediction'), { attributes: true, attributeFilter: ['data-seq'] });
});

async function run(method, allClasses) {
  await page.selectOption('#method', method);
  await page.setChecked('#show-all', allClasses);
  const samples = [];
  for (const d of [2, 3, 5, 8, 0, 6]) {
    let s = await seq(page);
    await page.click('#clear');
    await settled(page, s);
    await page.evaluate(() => { window.__samples = []; });
    s = await seq(page);
    await drawStrokes(page, DIGITS[d]);
    await settled(page, s);
    samples.push(...(await page.evaluate(() => window.__samples)));
  }
  const upd = samples.map((x) => x[0]);
  const exp = samples.map((x) => x[1]);
  return { method, allClasses, n: upd.length, median: quantile(upd, 0.5), p95: quantile(upd, 0.95), explain: quantile(exp, 0.5) };
}

// wasm per digit, in this page's own module instance: the same tasks and digits as `lrp bench`
const wasm = await page.evaluate(async ({ n }) => {
  const mod = await import('/pkg/lrp.js');
  const exports = await mod.default();
  const gunzip = async (url) => new Uint8Array(await new Response((await fetch(url)).body.pipeThrough(new DecompressionStream('gzip'))).arrayBuffer());
  const e = new mod.Engine();
  e.load_digits(await gunzip('/data/t10k-images-idx3-ubyte.gz'), await gunzip('/data/t10k-labels-idx1-ubyte.gz'));
  const digits = Array.from({ length: Math.max(n, 100) }, (_, i) => Float32Array.from(e.digit(i)));
  const out = [];
  const memory = {};
  for (const model of ['cnn', 'mlp', 'lstm']) {
    const info = e.load_model(new Uint8Array(await (await fetch(`/models/${model}.safetensors`)).arrayBuffer()));
    // the tasks of `lrp bench`: each model runs the methods it defines (the LSTM lrp-lstm, at its epsilon 0.001)
    const lrp = info.methods.includes('lrp-lstm') ? 'lrp-lstm' : 'epsilon-plus';
    const tasks = ['gradient', 'lrp-eps', 'epsilon-plus', 'epsilon-gamma-box', 'lrp-lstm', 'integrated-gradients', 'all-ten-classes', 'pixel-flipping'];
    for (const task of tasks.filter((t) => info.methods.includes(t) || ['all-ten-classes', 'pixel-flipping'].includes(t))) {
      const method = ['all-ten-classes', 'pixel-flipping'].includes(task) ? lrp : task;
      const request = { method, ...(method === 'lrp-lstm' ? { params: { epsilon: 0.001 } } : {}) };
      const run = (i) => {
        e.set_pixels(digits[i % digits.length]);
        if (task === 'all-ten-classes') e.explain_all_classes(request);
        else if (task === 'pixel-flipping') e.compare({ methods: [request.method], per_step: 8, steps: 25, random_repeats: 0 });
        else e.explain(request);
      };
      for (let i = 0; i < 50; i++) run(i);
      const t = [];
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        run(i);
        t.push((performance.now() - t0) * 1000);
      }
      t.sort((a, b) => a - b);
      out.push({ model, task, median_us: t[Math.floor(n / 2)], p95_us: t[Math.min(n - 1, Math.floor(0.95 * n))] });
    }
  }
  memory.after_runs = exports.memory.buffer.byteLength;
  return { out, memory };
}, { n: Number(process.env.BENCH_N || 300) });
let native = [];
try {
  native = JSON.parse(readFileSync(path.join(ROOT, 'target/bench/native.json'), 'utf8'));
} catch { /* run `lrp bench --json target/bench/native.json` first for the ratio column */ }
console.log('\nper digit: native (lrp bench) vs wasm in headless Chromium, median and p95 in µs');
console.log('model  task                    native med  native p95   wasm med   wasm p95  wasm/native');
for (const w of wasm.out) {
  const nat = native.find((r) => r.model === w.model && r.task === w.task);
  const f = (v) => (v == null ? '' : v.toFixed(1)).padStart(11);
  console.log(`${w.model.padEnd(6)} ${w.task.padEnd(22)} ${f(nat?.median_us)} ${f(nat?.p95_us)} ${f(w.median_us)} ${f(w.p95_us)} ${(nat ? (w.median_us / nat.median_us).toFixed(2) : '').padStart(12)}`);
}

if (process.env.BENCH_ONLY_WASM) {
  await browser.close();
  server.stop();
  process.exit(0);
}

const rows = [];
// warm-up
await run('epsilon-plus', false);
for (const m of ['epsilon-plus', 'lrp-eps', 'epsilon-gamma-box', 'gradient', 'integrated-gradients']) rows.push(await run(m, false));
rows.push(await run('epsilon-plus', true));
console.log('\nin-page update with the CNN (data-update-ms: preprocess + forward + explain + drawing), headless Chromium');
console.log('method                  view          updates  median ms  p95 ms  explain median ms');
for (const r of rows) console.log(`${r.method.padEnd(23)} ${(r.allClasses ? 'all classes' : 'one class').padEnd(13)} ${String(r.n).padStart(7)} ${r.median.toFixed(2).padStart(10)} ${r.p95.toFixed(2).padStart(7)} ${r.explain.toFixed(2).padStart(18)}`);
// memory: the page's wasm linear memory after load and after 1,000 updates (must not grow)
const memPage = async () => page.evaluate(async () => (await (await import('/pkg/lrp.js')).default()).memory.buffer.byteLength);
await page.reload();
await page.waitForFunction(() => document.documentElement.dataset.ready === 'true');
await page.waitForFunction(() => Number(document.querySelector('#prediction').dataset.seq) > 0);
const memLoad = await memPage();
await drawStrokes(page, DIGITS[3]);
await page.click('#clear');
const memWarm = await memPage();
let updates = 0;
const startSeq = await seq(page);
while (updates < 1000) {
  for (const d of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]) {
    await drawStrokes(page, DIGITS[d]);
    updates = (await seq(page)) - startSeq;
    if (updates >= 1000) break;
  }
  await page.click('#clear');
}
const memAfter = await memPage();
const mib = (b) => (b / 1048576).toFixed(2);
console.log(`\nwasm linear memory of the page: ${mib(memLoad)} MiB after load, ${mib(memWarm)} MiB after the first drawing, ${mib(memAfter)} MiB after ${updates} more updates${memAfter > memWarm ? ' (GREW)' : ' (no growth)'}`);
writeFileSync(path.join(ROOT, 'target/bench/wasm.json'), JSON.stringify({ ...wasm, memory_page: { after_load: memLoad, after_first_drawing: memWarm, after_updates: memAfter, updates } }, null, 1));

// Drawing with heavy settings (Integrated Gradients at 128 steps and the all-classes view): the time
// between animation frames during a stroke, with the heavy work in the Web Worker and on the main thread
// (?worker=0), and how many explanations arrived while drawing.
async function strokeFrames(query) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  await ctx.addInitScript(() => localStorage.setItem('lrp-live-toured', '1'));
  const p = await ctx.newPage();
  await p.goto(`${server.url}${query}`);
  await p.waitForFunction(() => document.documentElement.dataset.ready === 'true');
  await p.selectOption('#method', 'integrated-gradients');
  await p.$eval('#steps', (e) => { e.value = '128'; e.dispatchEvent(new Event('input', { bubbles: true })); });
  await p.check('#show-all');
  await p.click('#clear');
  await p.waitForTimeout(500);
  await p.evaluate(() => {
    window.__frames = [];
    window.__seq0 = Number(document.querySelector('#prediction').dataset.seq);
    let last = performance.now();
    const tick = (t) => { window.__frames.push(t - last); last = t; if (!window.__stop) requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
  });
  await p.locator('#pad').scrollIntoViewIfNeeded();
  const box = await p.locator('#pad').boundingBox();
  const sx = box.width / 280;
  for (let k = 0; k < 3; k++) {
    for (const pts of DIGITS[[7, 3, 2][k]]) {
      await p.mouse.move(box.x + pts[0][0] * sx, box.y + pts[0][1] * sx);
      await p.mouse.down();
      for (const [x, y] of pts.slice(1)) await p.mouse.move(box.x + x * sx, box.y + y * sx, { steps: 2 });
      await p.mouse.up();
    }
  }
  const out = await p.evaluate(() => {
    window.__stop = true;
    return { frames: window.__frames.slice(2), arrived: Number(document.querySelector('#prediction').dataset.seq) - window.__seq0 };
  });
  await ctx.close();
  return out;
}
console.log('\ndrawing with Integrated Gradients (128 steps) and the all-classes view: time between frames during the strokes');
console.log('engine                 frames  median ms  p95 ms  explanations shown');
const frameRows = {};
for (const [name, query] of [['in a Web Worker', ''], ['on the main thread', '?worker=0']]) {
  const r = await strokeFrames(query);
  frameRows[name] = { frames: r.frames.length, median_ms: quantile(r.frames, 0.5), p95_ms: quantile(r.frames, 0.95), explanations: r.arrived };
  console.log(`${name.padEnd(22)} ${String(r.frames.length).padStart(6)} ${quantile(r.frames, 0.5).toFixed(1).padStart(10)} ${quantile(r.frames, 0.95).toFixed(1).padStart(7)} ${String(r.arrived).padStart(19)}`);
}
writeFileSync(path.join(ROOT, 'target/bench/frames.json'), JSON.stringify(frameRows, null, 1));

await browser.close();
server.stop();
