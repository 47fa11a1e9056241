// The LSTM model in a real browser: in the model menu, its prediction and heatmap while drawing, only
// the methods defined for it offered, the "relevance over time" strip, the teaching card with its
// formulas, the bias factor's conservation line; and back to the CNN with everything as it was.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { session, drawDigit, clearPad, heatmapPixels, settled, seq, ARTIFACTS } from './helpers.mjs';

const S = session({ before, after });

async function change(page, fn) {
  const s = await seq(page);
  await fn();
  await settled(page, s);
}

const coloured = (px) => px.filter((_, i) => i % 4 === 0 && !(px[i] === 255 && px[i + 1] === 255 && px[i + 2] === 255)).length;

test('the LSTM reads the drawn digits, explained with lrp-lstm, with its strip and card', async () => {
  const { page, problems } = S.ctx;
  assert.ok((await page.$$eval('#model option', (o) => o.map((x) => x.value))).includes('lstm'));
  await clearPad(page);
  await drawDigit(page, 7);
  await change(page, () => page.selectOption('#model', 'lstm'));
  await page.waitForSelector('#lstm-card:not([hidden])');
  assert.equal(await page.$eval('#method', (s) => s.value), 'lrp-lstm', 'the LSTM starts on its own rules');
  // lrp-lstm's own epsilon, 0.001
  assert.equal(await page.$eval('#epsilon-val', (e) => e.textContent), '0.0010');
  const offered = await page.$$eval('#method option', (o) => o.filter((x) => !x.disabled).map((x) => x.value));
  for (const m of ['lrp-lstm', 'lrp-eps', 'lrp-0', 'gradient', 'integrated-gradients', 'smoothgrad', 'gradient-x-input']) assert.ok(offered.includes(m), m);
  for (const m of ['epsilon-plus', 'epsilon-gamma-box', 'deep-taylor', 'lrp-zplus']) assert.ok(!offered.includes(m), `${m} is offered for the LSTM`);
  const got = [];
  for (const d of [0, 1, 3, 7]) {
    await clearPad(page);
    await drawDigit(page, d);
    got.push(Number(await page.getAttribute('#prediction', 'data-class')));
  }
  assert.deepEqual(got, [0, 1, 3, 7]);
  assert.ok(coloured(await heatmapPixels(page)) > 20, 'the LSTM heatmap is not blank');
  // the strip: 28 rows in two columns (top-down, bottom-up), and both columns drawn
  const strip = await page.$eval('#time-strip', (c) => ({ rows: c.dataset.rows, cols: c.dataset.columns, hidden: c.closest('figure').hidden }));
  assert.deepEqual(strip, { rows: '28', cols: '2', hidden: false });
  const stripPx = await heatmapPixels(page, '#time-strip');
  assert.ok(stripPx.filter((v, i) => i % 4 === 3 && v > 0).length > 200, 'the strip has bars');
  assert.match(await page.$eval('#time-caption', (e) => e.textContent), /^rows: ↓ -?\d+\.\d{3} · ↑ -?\d+\.\d{3}$/);
  // the strip stands beside the heatmap, rows level with its rows
  const [hm, ts] = await Promise.all(['#heatmap', '#time-strip'].map((s) => page.$eval(s, (e) => { const r = e.getBoundingClientRect(); return { top: r.top, height: r.height, left: r.left, right: r.right }; })));
  assert.ok(Math.abs(hm.top - ts.top) < 2 && Math.abs(hm.height - ts.height) < 2 && ts.left >= hm.right, JSON.stringify({ hm, ts }));
  // the card has the three rules in MathML
  assert.ok((await page.$$eval('#lstm-card math', (m) => m.length)) >= 5);
  assert.match(await page.$eval('#lstm-card', (e) => e.textContent), /signal-take-all/);
  await page.locator('.heat-card').screenshot({ path: path.join(ARTIFACTS, 'lstm-heatmap.png') });
  // bias factor 0: nothing on the initial states; 1: conservation, the initial states' share named
  assert.doesNotMatch(await page.$eval('#sum-line', (e) => e.textContent), /initial states/);
  await change(page, () => page.$eval('#bias_factor', (el) => { el.value = '1'; el.dispatchEvent(new Event('input', { bubbles: true })); }));
  const line = await page.$eval('#sum-line', (e) => e.textContent);
  assert.match(line, /initial states/);
  assert.doesNotMatch(line, /absorbed/, `with bias factor 1 nothing is absorbed: ${line}`);
  await page.screenshot({ path: path.join(ARTIFACTS, 'lstm-page.png'), fullPage: false });
  // a gradient method: one column of row sums
  await change(page, () => page.selectOption('#method', 'gradient'));
  assert.equal(await page.$eval('#time-strip', (c) => c.dataset.columns), '1');
  // back to the CNN: the panels go, its presets come back
  await change(page, () => page.selectOption('#model', 'cnn'));
  assert.equal(await page.$eval('#lstm-card', (e) => e.hidden), true);
  assert.equal(await page.$eval('#time-strip', (c) => c.closest('figure').hidden), true);
  const back = await page.$$eval('#method option', (o) => o.filter((x) => !x.disabled).map((x) => x.value));
  assert.ok(back.includes('epsilon-plus') && !back.includes('lrp-lstm'));
  assert.equal(await page.getAttribute('#prediction', 'data-class'), '7');
  assert.deepEqual(problems, []);
});
