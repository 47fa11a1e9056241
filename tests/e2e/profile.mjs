// Where the wasm spends its time (a tool, not a test): runs a task in headless Chromium for 3 s under
// the CDP sampling profiler and prints the self time per wasm function. Run by `make profile-wasm`,
// which serves a copy of the page with a wasm that keeps its function names (see the Makefile).
// TASKS=model:task,... (tasks of `lrp bench`), default cnn:epsilon-plus.
import path from 'node:path';
import { startServer, launch } from './helpers.mjs';

const root = path.resolve(process.argv[2] || 'www');
const server = await startServer(root);
const browser = await launch();
const page = await (await browser.newContext()).newPage();
await page.goto(server.url);
await page.waitForFunction(() => document.documentElement.dataset.ready === 'true');
const cdp = await page.context().newCDPSession(page);
await page.evaluate(async () => {
  const mod = await import('/pkg/lrp.js');
  await mod.default();
  const gunzip = async (url) => new Uint8Array(await new Response((await fetch(url)).body.pipeThrough(new DecompressionStream('gzip'))).arrayBuffer());
  const e = new mod.Engine();
  e.load_digits(await gunzip('/data/t10k-images-idx3-ubyte.gz'), await gunzip('/data/t10k-labels-idx1-ubyte.gz'));
  window.profiled = { e, digits: Array.from({ length: 100 }, (_, i) => Float32Array.from(e.digit(i))) };
});
for (const [model, task] of (process.env.TASKS || 'cnn:epsilon-plus').split(',').map((s) => s.split(':'))) {
  await page.evaluate(async ({ model, task }) => {
    const { e, digits } = window.profiled;
    e.load_model(new Uint8Array(await (await fetch(`/models/${model}.safetensors`)).arrayBuffer()));
    const request = { method: ['all-ten-classes', 'pixel-flipping'].includes(task) ? 'epsilon-plus' : task };
    window.profiled.run = (i) => {
      e.set_pixels(digits[i % digits.length]);
      if (task === 'all-ten-classes') e.explain_all_classes(request);
      else if (task === 'pixel-flipping') e.compare({ methods: [request.method], per_step: 8, steps: 25, random_repeats: 0 });
      else e.explain(request);
    };
    for (let i = 0; i < 100; i++) window.profiled.run(i);
  }, { model, task });
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 50 });
  await cdp.send('Profiler.start');
  const us = await page.evaluate(() => {
    const t0 = performance.now();
    let n = 0;
    while (performance.now() - t0 < 3000) window.profiled.run(n++);
    return ((performance.now() - t0) * 1000) / n;
  });
  const { profile } = await cdp.send('Profiler.stop');
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  profile.samples.forEach((id, i) => {
    const name = nodes.get(id).callFrame.functionName || '(anonymous)';
    self.set(name, (self.get(name) || 0) + (profile.timeDeltas[i] || 0));
  });
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  console.log(`\n${model} ${task}: ${us.toFixed(1)} µs per run (a build without wasm-opt: a little slower than the page's)`);
  for (const [name, t] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 15)) {
    console.log(`${((100 * t) / total).toFixed(1).padStart(6)} %  ${name.replace(/::h[0-9a-f]{16}$/, '')}`);
  }
}
await browser.close();
server.stop();
