// Page benchmark (not a test): in headless Chromium, draws digits with many pointer moves and prints the
// median and 95th percentile of `data-update-ms` (preprocess + forward + explain + drawing, measured by
// the page) per method, with and without the all-classes view, and the bytes of the first load.
// Run: make bench-page (or node tests/e2e/bench.mjs after make web cli).
import { startServer, launch, DIGITS, drawStrokes, settled, seq } from './helpers.mjs';

const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

const server = await startServer();
const browser = await launch();
const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
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

const rows = [];
// warm-up
await run('epsilon-plus', false);
for (const m of ['epsilon-plus', 'lrp-eps', 'epsilon-gamma-box', 'gradient', 'integrated-gradients']) rows.push(await run(m, false));
rows.push(await run('epsilon-plus', true));
console.log('\nin-page update with the CNN (data-update-ms: preprocess + forward + explain + drawing), headless Chromium');
console.log('method                  view          updates  median ms  p95 ms  explain median ms');
for (const r of rows) console.log(`${r.method.padEnd(23)} ${(r.allClasses ? 'all classes' : 'one class').padEnd(13)} ${String(r.n).padStart(7)} ${r.median.toFixed(2).padStart(10)} ${r.p95.toFixed(2).padStart(7)} ${r.explain.toFixed(2).padStart(18)}`);
await browser.close();
server.stop();
