// Never frozen: with heavy settings (Integrated Gradients at 128 steps and the all-classes view) the
// heatmap comes from the engine in a Web Worker, stale requests are dropped (far fewer requests than
// pointer moves), and the result is the main thread's, bit for bit (?worker=0 turns the worker off).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { servers, openPage, drawStrokes, DIGITS, heatmapPixels } from './helpers.mjs';

const S = servers({ before, after });

// Heavy settings, then one drawn 7; resolves when the final heatmap is shown.
async function heavyDrawing(page) {
  await page.selectOption('#method', 'integrated-gradients');
  await page.$eval('#steps', (e) => { e.value = '128'; e.dispatchEvent(new Event('input', { bubbles: true })); });
  await page.check('#show-all');
  await page.click('#clear');
  await page.waitForFunction(() => document.querySelector('#prediction').dataset.class === '');
  const moves = DIGITS[7].reduce((n, s) => n + s.length, 0);
  await drawStrokes(page, DIGITS[7]);
  await page.waitForFunction(() => /relevance for class 7 \(integrated-gradients\)/.test(document.querySelector('#heat-caption').textContent), null, { timeout: 20000 });
  await page.waitForTimeout(300);
  return moves;
}

async function settledPixels(page) {
  let last = await heatmapPixels(page);
  for (let i = 0; i < 30; i++) {
    await page.waitForTimeout(700);
    const now = await heatmapPixels(page);
    if (now.every((v, k) => v === last[k])) return now;
    last = now;
  }
  return last;
}

test('heavy settings run in the worker, drop stale requests, and give the main thread\'s numbers', async () => {
  const a = await openPage(S.browser, S.server.url);
  const moves = await heavyDrawing(a.page);
  assert.equal(await a.page.getAttribute('#heatmap', 'data-source'), 'worker');
  const posted = Number(await a.page.getAttribute('#heatmap', 'data-posted'));
  assert.ok(posted >= 1 && posted < moves / 2, `${posted} requests for ${moves} pointer moves`);
  assert.equal(await a.page.$$eval('#all-classes canvas', (c) => c.length), 10);
  // the last request may still be in flight when the caption first says IG: wait until the heatmap holds still
  const viaWorker = await settledPixels(a.page);
  // the same drawing and settings on the main thread, through the share link (drawing it again could
  // differ: a busy main thread coalesces pointer moves)
  await a.page.click('#share');
  const link = new URL(await a.page.$eval('#share-url', (e) => e.value));
  const b = await openPage(S.browser, `${S.server.url}?worker=0${link.hash}`);
  await b.page.waitForFunction(() => /relevance for class 7 \(integrated-gradients\)/.test(document.querySelector('#heat-caption').textContent), null, { timeout: 20000 });
  assert.equal(await b.page.getAttribute('#heatmap', 'data-source'), 'main');
  // the blocked main thread may still be drawing its last update: wait until it has settled
  let onMain = await heatmapPixels(b.page);
  for (let i = 0; i < 20 && onMain.some((v, k) => v !== viaWorker[k]); i++) {
    await b.page.waitForTimeout(500);
    onMain = await heatmapPixels(b.page);
  }
  assert.deepEqual(onMain, viaWorker, 'the same heatmap on both threads');
  assert.deepEqual(a.problems, []);
  assert.deepEqual(b.problems, []);
  await a.context.close();
  await b.context.close();
});
