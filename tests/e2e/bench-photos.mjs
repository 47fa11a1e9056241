// The Photos view's time per explanation in headless Chromium (part of `make bench`): each method on the
// sample photos in turn, in the photo worker with 1 and 2 threads (`?threads=N`), median and 95th
// percentile of the worker's own time for the forward pass and the explanation; IG with 32 steps. Prints a
// table; not a test.
import { startServer, launch, openPage } from './helpers.mjs';

const METHODS = ['gradient', 'epsilon-plus-flat', 'epsilon-gamma-box', 'integrated-gradients'];
const RUNS = Number(process.env.RUNS || 6);
const server = await startServer();
const browser = await launch();
const q = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
console.log(`in the page (headless Chromium, the photo worker), per 224x224 photo, ${RUNS} runs after 1 warm-up`);
console.log('task                    threads  median ms     p95 ms');
const rows = [];
for (const threads of [1, 2]) {
  const { page, context } = await openPage(browser, `${server.url}?view=photos&threads=${threads}`, { viewport: { width: 1440, height: 900 } });
  await page.waitForFunction(() => document.querySelector('#photo-top')?.dataset.top1, null, { timeout: 60000 });
  const got = await page.getAttribute('#photo-timing', 'data-threads');
  if (got !== String(threads)) throw new Error(`asked for ${threads} threads, the worker runs ${got}: ${await page.textContent('#photo-timing')}`);
  for (const m of METHODS) {
    await page.selectOption('#photo-method', m);
    if (m === 'integrated-gradients') await page.$eval('#p-steps', (e) => { e.value = '32'; e.dispatchEvent(new Event('input', { bubbles: true })); });
    const times = [];
    const photos = ['cat', 'coffee', 'rocket', 'camera', 'astronaut'];
    for (let i = 0; i <= RUNS; i++) {
      const s = await page.evaluate(() => Number(document.querySelector('#photos-view').dataset.seq || 0));
      await page.click(`#photo-samples [data-photo="${photos[i % photos.length]}"]`);
      // polled every 250 ms: polling on every animation frame (the default) keeps the page's main
      // thread and the compositor busy on a core that the pool's threads want
      await page.waitForFunction((x) => Number(document.querySelector('#photos-view').dataset.seq || 0) > x && !document.querySelector('#photo-status').classList.contains('busy'), s, { timeout: 120000, polling: 250 });
      await page.waitForTimeout(50);
      if (i > 0) times.push(Number(await page.getAttribute('#photo-timing', 'data-ms')));
    }
    rows.push({ task: m, threads, median_ms: q(times, 0.5), p95_ms: q(times, 0.95) });
    console.log(`${m.padEnd(22)} ${String(threads).padStart(8)} ${q(times, 0.5).toFixed(1).padStart(10)} ${q(times, 0.95).toFixed(1).padStart(10)}`);
  }
  await context.close();
}
await browser.close();
server.stop();
