// The teaching features in a real browser: rules per layer, method comparison with pixel flipping,
// equivalences, Clever Hans, contrast, share links, exports, the guided tour. Screenshots of each
// feature go to tests/e2e/artifacts/ (the README shows them).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { session, openPage, drawDigit, drawStrokes, clearPad, heatmapPixels, settled, seq, methodTable, ROOT, ARTIFACTS } from './helpers.mjs';

const S = session({ before, after });

const shot = (page, name, selector) => (selector ? page.locator(selector).screenshot({ path: path.join(ARTIFACTS, `${name}.png`) }) : page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) }));

async function change(page, fn) {
  const s = await seq(page);
  await fn();
  await settled(page, s);
}

test('rule playground: a rule per layer from the layer view, presets as buttons', async () => {
  const { page, problems } = S.ctx;
  await clearPad(page);
  await drawDigit(page, 3);
  await change(page, () => page.check('#show-layers'));
  const before = await heatmapPixels(page);
  assert.equal(await page.$eval('select[data-layer="0"]', (s) => s.value), 'zplus');
  await change(page, () => page.selectOption('select[data-layer="0"]', 'flat'));
  assert.equal(await page.$eval('#method', (s) => s.value), 'custom');
  assert.equal(await page.$eval('select[data-layer="0"]', (s) => s.value), 'flat');
  assert.notDeepEqual(await heatmapPixels(page), before, 'the flat first layer changes the heatmap');
  await change(page, () => page.selectOption('select[data-layer="9"]', '0'));
  assert.equal(await page.$eval('#error', (e) => e.hidden), true);
  await shot(page, 'rules-per-layer', '#layers');
  await change(page, () => page.click('button.preset:text-is("epsilon-plus")'));
  assert.equal(await page.$eval('#method', (s) => s.value), 'epsilon-plus');
  assert.deepEqual(await heatmapPixels(page), before, 'the preset gives back the original heatmap');
  assert.ok((await page.$$('#rule-help math')).length >= 6, 'formulas in MathML');
  assert.deepEqual(problems, []);
});

test('method comparison and pixel flipping: every method, ranked by AOPC against random', async () => {
  const { page } = S.ctx;
  await page.check('#show-compare');
  // the compared methods the CNN runs (all but lrp-lstm, which needs an LSTM)
  const compared = methodTable().methods.filter((m) => m.compare && m.name !== 'lrp-lstm').map((m) => m.name);
  await page.waitForFunction((n) => document.querySelectorAll('#compare-grid figure').length === n, compared.length);
  const ranking = await page.$$eval('#flip-ranking li', (li) => li.map((x) => ({ m: x.dataset.method, aopc: Number(x.dataset.aopc) })));
  assert.deepEqual(ranking.filter((r) => r.m).map((r) => r.m).sort(), [...compared].sort(), 'every compared method is ranked');
  assert.equal(ranking.length, compared.length + 1, 'and the random baseline');
  const random = ranking.find((r) => !r.m).aopc;
  const eps = ranking.find((r) => r.m === 'epsilon-plus').aopc;
  assert.ok(eps > random, `epsilon-plus AOPC ${eps} vs random ${random}`);
  const aopcs = ranking.filter((r) => r.m).map((r) => r.aopc);
  assert.deepEqual(aopcs, [...aopcs].sort((a, b) => b - a), 'ranked');
  const ms = Number(await page.getAttribute('#flip-caption', 'data-ms'));
  console.log(`pixel flipping for ${compared.length} methods: ${ms} ms`);
  const plot = await heatmapPixels(page, '#flip-plot');
  assert.ok(plot.some((v, i) => i % 4 === 3 && v > 0), 'the curve is drawn');
  await shot(page, 'compare-and-pixel-flipping', 'section[aria-labelledby="compare-title"]');
  await page.uncheck('#show-compare');
});

test('equivalences and pitfalls: LRP-0 = Gradient x Input, the Taylor root point, softmax', async () => {
  const { page } = S.ctx;
  await page.check('#show-equiv');
  await page.waitForFunction(() => document.querySelector('#eq-diff-value').dataset.relative !== undefined);
  const rel = Number(await page.getAttribute('#eq-diff-value', 'data-relative'));
  assert.ok(rel < 1e-5, `LRP-0 and Gradient x Input differ by ${rel} of the largest relevance`);
  assert.match(await page.textContent('#eq-root-caption'), /root point: pixels from/);
  assert.ok(Number(await page.getAttribute('#eq-softmax-caption', 'data-ratio')) < 1, 'the softmax explanation is fainter than the logit one');
  assert.equal(await page.$eval('#method', (s) => s.value), 'epsilon-plus', 'the page keeps its method');
  await shot(page, 'equivalences', 'section[aria-labelledby="equiv-title"]');
  await page.uncheck('#show-equiv');
});

test('the network view: every channel\'s activation and relevance, channel sums equal to the layer view\'s totals, a channel\'s own heatmap and its top test digits', async () => {
  const { page, problems } = S.ctx;
  await clearPad(page);
  await drawDigit(page, 2);
  let s = await seq(page);
  const hadLayers = await page.isChecked('#show-layers');
  if (!hadLayers) {
    await page.check('#show-layers');
    await settled(page, s);
  }
  await page.check('#show-net');
  await page.waitForFunction(() => document.querySelectorAll('#net-layers .net-layer').length > 0, null, { timeout: 30000 });
  const layers = await page.$$eval('#net-layers .net-layer', (rows) => rows.map((r) => ({ value: Number(r.dataset.value), sum: Number(r.dataset.channelSum), total: Number(r.dataset.total), channels: r.querySelectorAll('.net-channel').length, shown: [...r.querySelectorAll('.net-channel')].reduce((a, b) => a + Number(b.dataset.relevance), 0) })));
  // the CNN: ReLU 1, pool 1, ReLU 2, pool 2, the dense ReLU and the logits
  assert.deepEqual(layers.map((l) => l.channels), [16, 16, 32, 32, 128, 10]);
  // the layer view's totals, row by row (its rows are the layers from the output down)
  const view = await page.$$eval('#layers tbody tr', (trs) => trs.map((tr) => tr.children[3].textContent));
  for (const l of layers) {
    assert.ok(Math.abs(l.sum - l.total) <= 1e-3 * (1 + Math.abs(l.total)), `value ${l.value}: channels sum to ${l.sum}, the layer to ${l.total}`);
    assert.ok(Math.abs(l.shown - l.sum) <= 1e-3 * (1 + Math.abs(l.sum)), `value ${l.value}: the channels' own numbers`);
    if (l.value < 10) {
      // layer `value` reads this value: its row shows "from above → passed down" with passed down = total
      const row = view[view.length - 1 - l.value];
      assert.ok(row.includes(`→ ${l.total.toFixed(3)}`), `value ${l.value}: the layer view shows ${row}, the network view ${l.total.toFixed(3)}`);
    }
  }
  // the channel of the second ReLU with the most relevance: its own heatmap (what of the input its
  // relevance comes from; the engine's tests check that the channels' heatmaps add up to the heatmap)
  // and the test digits that activate it most
  const pick = await page.$$eval('#net-layers .net-layer[data-value="5"] .net-channel', (bs) => bs.map((b) => Number(b.dataset.relevance)).reduce((best, v, i, all) => (Math.abs(v) > Math.abs(all[best]) ? i : best), 0));
  await page.click(`#net-layers .net-layer[data-value="5"] .net-channel[data-channel="${pick}"]`);
  await page.waitForFunction(() => document.querySelectorAll('#net-top canvas').length === 6, null, { timeout: 30000 });
  const crp = await page.$eval('#net-crp', (c) => ({ ...c.dataset }));
  assert.equal(crp.value, '5');
  assert.equal(crp.channel, String(pick));
  const through = await page.getAttribute(`#net-layers .net-layer[data-value="5"] .net-channel[data-channel="${pick}"]`, 'data-relevance');
  assert.ok(Number(crp.sum) !== 0 && Math.sign(Number(crp.sum)) === Math.sign(Number(through)), `the channel's heatmap sums to ${crp.sum}, of the ${through} through it`);
  // live: another stroke redraws the view
  const ready = Number(await page.$eval('#net-layers', (e) => e.dataset.ready));
  s = await seq(page);
  await drawStrokes(page, [[[60, 240], [220, 240]]]);
  await settled(page, s);
  assert.ok(Number(await page.$eval('#net-layers', (e) => e.dataset.ready)) > ready, 'redrawn while drawing');
  await page.locator('section[aria-labelledby="net-title"]').screenshot({ path: path.join(ARTIFACTS, 'network-view.png') });
  await page.uncheck('#show-net');
  if (!hadLayers) await page.uncheck('#show-layers');
  assert.deepEqual(problems, []);
});

test('class prototypes: the mean map of each class over the test digits the model gets right, computed in a worker with progress', async () => {
  const { page, problems } = S.ctx;
  await page.selectOption('#method', 'epsilon-plus');
  await page.check('#show-proto');
  await page.waitForFunction(() => Number(document.querySelector('#proto-progress').value) > 0 && Number(document.querySelector('#proto-progress').value) < 1, null, { timeout: 60000 });
  // the page keeps working meanwhile
  await drawDigit(page, 7);
  await page.waitForFunction(() => Number(document.querySelector('#proto-grid').dataset.ready || 0) > 0, null, { timeout: 180000 });
  const figs = await page.$$eval('#proto-grid figure', (f) => f.map((x) => ({ c: Number(x.dataset.class), n: Number(x.dataset.count), sum: Number(x.dataset.sum) })));
  assert.equal(figs.length, 10);
  // as many digits as the model card's test accuracy says it gets right
  const info = JSON.parse(execFileSync(path.join(ROOT, 'target/release/lrp'), ['info', '--model', path.join(ROOT, 'models/cnn.safetensors')], { encoding: 'utf8' }));
  const total = figs.reduce((a, f) => a + f.n, 0);
  assert.equal(total, Math.round(info.provenance.test_accuracy * 10000));
  assert.equal(Number(await page.$eval('#proto-grid', (g) => g.dataset.total)), total);
  for (const f of figs) assert.ok(f.n > 800 && f.sum > 0, `class ${f.c}: ${f.n} digits, mean relevance ${f.sum}`);
  assert.equal(await page.$eval('#proto-progress', (p) => p.value), 1);
  await page.locator('section[aria-labelledby="proto-title"]').screenshot({ path: path.join(ARTIFACTS, 'prototypes.png') });
  console.log(`# class prototypes: ${await page.textContent('#proto-caption')}`);
  await page.uncheck('#show-proto');
  assert.deepEqual(problems, []);
});

test('sanity check: randomising the layers from the top changes LRP and gradient maps, and the numbers are shown', async () => {
  const { page, problems } = S.ctx;
  await clearPad(page);
  await drawDigit(page, 1);
  const ready = Number(await page.$eval('#sanity-grid', (g) => g.dataset.ready || 0));
  await page.check('#show-sanity');
  await page.waitForFunction((r) => Number(document.querySelector('#sanity-grid').dataset.ready || 0) > r, ready, { timeout: 30000 });
  const rows = await page.$$eval('#sanity-grid tr[data-method]', (trs) => trs.map((tr) => ({
    method: tr.dataset.method,
    cells: [...tr.querySelectorAll('td')].map((td) => ({ rho: Number(td.dataset.spearman), abs: Number(td.dataset.spearmanAbs), ssim: Number(td.dataset.ssim), px: Array.from(td.querySelector('canvas').getContext('2d').getImageData(0, 0, 28, 28).data) })),
  })));
  const names = rows.map((r) => r.method);
  for (const m of ['lrp-0', 'epsilon-plus', 'gradient', 'gradient-x-input', 'integrated-gradients', 'occlusion']) assert.ok(names.includes(m), `${m} is checked`);
  for (const r of rows) {
    assert.equal(r.cells.length, 5, `${r.method}: the trained model and four randomised layers`);
    assert.ok(Math.abs(r.cells[0].rho - 1) < 1e-5 && Math.abs(r.cells[0].ssim - 1) < 1e-5, `${r.method}: the trained map is its own reference`);
    assert.notDeepEqual(r.cells[1].px, r.cells[0].px, `${r.method}: the map changes when the top layer is random`);
  }
  // LRP and the gradients lose the trained map's ranking once the weights are random
  for (const m of ['lrp-0', 'epsilon-plus', 'gradient', 'gradient-x-input']) {
    const last = rows.find((r) => r.method === m).cells[4];
    assert.ok(last.rho < 0.5, `${m}: Spearman ${last.rho} with every layer random`);
  }
  const caption = await page.textContent('#sanity-caption');
  assert.match(caption, /4 layers randomised in turn from the top/);
  const series = JSON.parse(await page.getAttribute('#sanity-rho', 'data-series'));
  assert.equal(series.length, rows.length, 'one curve per method');
  await page.locator('#sanity-title').scrollIntoViewIfNeeded();
  await page.locator('section[aria-labelledby="sanity-title"]').screenshot({ path: path.join(ARTIFACTS, 'sanity-check.png') });
  console.log(`# sanity check: ${caption}`);
  await page.uncheck('#show-sanity');
  assert.equal(await page.$$eval('#sanity-grid tr', (t) => t.length), 0, 'closing the panel clears it');
  assert.deepEqual(problems, []);
});

test('A | B: two methods, then two models, on the same drawing: both maps, their difference, both curves with AOPC', async () => {
  const { page, problems } = S.ctx;
  await clearPad(page);
  await drawDigit(page, 4);
  const ready = () => page.$eval('#ab-maps', (g) => Number(g.dataset.ready || 0));
  let r0 = await ready();
  await page.check('#show-ab');
  await page.waitForFunction((r) => Number(document.querySelector('#ab-maps').dataset.ready || 0) > r, r0, { timeout: 30000 });
  // A is the page's model and method, B the gradient of the same model
  assert.equal(await page.$eval('#ab-method-a', (s) => s.value), await page.$eval('#method', (s) => s.value));
  assert.equal(await page.$eval('#ab-method-b', (s) => s.value), 'gradient');
  const read = () => page.evaluate(() => {
    const px = (id) => Array.from(document.getElementById(id).getContext('2d').getImageData(0, 0, 28, 28).data);
    return { a: px('ab-a'), b: px('ab-b'), diff: px('ab-diff'), main: px('heatmap'), data: { ...document.querySelector('#ab-caption').dataset }, curves: JSON.parse(document.querySelector('#ab-plot').dataset.curves), pred: document.querySelector('#prediction').dataset.class };
  });
  let v = await read();
  assert.deepEqual(v.a, v.main, 'A is the main view\'s heatmap');
  assert.notDeepEqual(v.a, v.b, 'two methods, two maps');
  assert.ok(v.diff.some((x, i) => i % 4 !== 3 && x !== 255), 'a difference map');
  assert.equal(v.curves.length, 2);
  assert.ok(Number(v.data.difference) > 0 && Number.isFinite(Number(v.data.aopcA)) && Number.isFinite(Number(v.data.aopcB)));
  // the same method on both sides: no difference
  r0 = await ready();
  await page.selectOption('#ab-method-b', await page.$eval('#ab-method-a', (s) => s.value));
  await page.waitForFunction((r) => Number(document.querySelector('#ab-maps').dataset.ready || 0) > r, r0);
  v = await read();
  assert.equal(Number(v.data.difference), 0, 'A and B the same: the difference is zero');
  assert.equal(v.data.aopcA, v.data.aopcB);
  // two models: the MLP on B, each explaining the drawing with its own prediction
  r0 = await ready();
  await page.selectOption('#ab-model-b', 'mlp');
  await page.waitForFunction((r) => Number(document.querySelector('#ab-maps').dataset.ready || 0) > r, r0, { timeout: 30000 });
  v = await read();
  assert.notDeepEqual(v.b, v.a, 'another model, another map');
  assert.match(await page.textContent('#ab-b-caption'), /^B: mlp, /);
  assert.equal(v.data.targetA, v.pred);
  await page.locator('section[aria-labelledby="ab-title"]').screenshot({ path: path.join(ARTIFACTS, 'a-b.png') });
  await page.uncheck('#show-ab');
  assert.deepEqual(problems, []);
});

test('Clever Hans side by side: the clean CNN and the clever-hans model on the stamped drawing and 16 stamped test digits', async () => {
  const { page, problems } = S.ctx;
  await clearPad(page);
  await drawDigit(page, 3);
  const r0 = await page.$eval('#hans-grid', (g) => Number(g.dataset.ready || 0));
  await page.check('#show-hans');
  await page.waitForFunction((r) => Number(document.querySelector('#hans-grid').dataset.ready || 0) > r, r0, { timeout: 60000 });
  const got = await page.evaluate(() => ({
    clean: { ...document.querySelector('#hans-cnn').dataset },
    hans: { ...document.querySelector('#hans-clever-hans').dataset },
    rows: [...document.querySelectorAll('#hans-grid tr[data-model]')].map((tr) => ({ model: tr.dataset.model, cells: tr.querySelectorAll('td[data-digit]').length, ...tr.querySelector('td.hans-share').dataset })),
  }));
  // the watermark makes the clever-hans model call the 3 a 7 and look at the corner; the clean CNN does not
  assert.equal(got.hans.prediction, '7');
  assert.equal(got.clean.prediction, '3');
  assert.ok(Number(got.hans.share) > 0.3 && Number(got.clean.share) < 0.05, `corner shares: clean ${got.clean.share}, clever-hans ${got.hans.share}`);
  assert.deepEqual(got.rows.map((r) => [r.model, r.cells]), [['cnn', 16], ['clever-hans', 16]]);
  const [clean, hans] = got.rows;
  assert.ok(Number(hans.share) > 0.3 && Number(clean.share) < 0.05, `mean corner shares: clean ${clean.share}, clever-hans ${hans.share}`);
  assert.ok(Number(hans.hits) >= 14 && Number(clean.hits) <= 1, `called 7: clean ${clean.hits}, clever-hans ${hans.hits}`);
  await page.locator('section[aria-labelledby="hans-title"]').screenshot({ path: path.join(ARTIFACTS, 'clever-hans-side-by-side.png') });
  console.log(`# Clever Hans side by side: corner share clean ${(100 * clean.share).toFixed(1)} %, clever-hans ${(100 * hans.share).toFixed(1)} %; called 7: ${clean.hits} and ${hans.hits} of 16`);
  await page.uncheck('#show-hans');
  assert.deepEqual(problems, []);
});

test('Clever Hans: the watermark flips the prediction and the heatmap lights up the corner', async () => {
  const { page } = S.ctx;
  await change(page, () => page.selectOption('#model', 'clever-hans'));
  await clearPad(page);
  await drawDigit(page, 3);
  assert.equal(await page.getAttribute('#prediction', 'data-class'), '3');
  await change(page, () => page.check('#stamp-watermark'));
  assert.equal(await page.getAttribute('#prediction', 'data-class'), '7');
  // the heatmap (28x28) is red at the watermark (x 1..3, y 1..3)
  const px = await heatmapPixels(page);
  const at = (x, y) => px.slice((y * 28 + x) * 4, (y * 28 + x) * 4 + 4);
  const [r, g, b] = at(2, 2);
  assert.ok(r > 200 && g < 180 && b < 180, `corner colour ${at(2, 2)}: not clearly red`);
  const [r0, g0, b0] = at(25, 25);
  assert.deepEqual([r0, g0, b0], [255, 255, 255], 'the opposite corner holds no relevance');
  await shot(page, 'clever-hans');
  await change(page, () => page.uncheck('#stamp-watermark'));
  assert.equal(await page.getAttribute('#prediction', 'data-class'), '3');
  await change(page, () => page.selectOption('#model', 'cnn'));
  assert.equal(await page.$eval('#stamp-watermark', (c) => c.disabled), true);
});

test('why this and not that: contrast picked by clicking the bars', async () => {
  const { page } = S.ctx;
  await clearPad(page);
  await drawDigit(page, 3);
  await change(page, () => page.click('#bars .bar[data-class="3"]'));
  await change(page, () => page.click('#bars .bar[data-class="8"]', { modifiers: ['Shift'] }));
  assert.match(await page.textContent('#heat-caption'), /why 3 and not 8/);
  assert.equal(await page.$eval('#contrast', (s) => s.value), '8');
  await shot(page, 'contrast', 'section[aria-labelledby="pred-title"]');
  await change(page, () => page.click('#bars .bar[data-class="8"]', { modifiers: ['Shift'] }));
  await change(page, () => page.click('#bars .bar[data-class="3"]'));
});

test('share link restores the same prediction and heatmap; PNG and JSON export', async () => {
  const { page } = S.ctx;
  await clearPad(page);
  await drawDigit(page, 5);
  await change(page, () => page.selectOption('#method', 'lrp-gamma'));
  await page.click('#share');
  const url = await page.inputValue('#share-url');
  assert.match(url, /#s=/);
  const heat = await heatmapPixels(page);
  const cls = await page.getAttribute('#prediction', 'data-class');
  // a new visitor (fresh storage) opens the link
  const other = await openPage(S.browser, url);
  await other.page.waitForFunction(() => document.querySelector('#prediction').dataset.class !== '');
  await other.page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  assert.equal(await other.page.getAttribute('#prediction', 'data-class'), cls);
  assert.equal(await other.page.$eval('#method', (s) => s.value), 'lrp-gamma');
  assert.deepEqual(await heatmapPixels(other.page), heat);
  await other.context.close();
  const [png] = await Promise.all([page.waitForEvent('download'), page.click('#download-png')]);
  const pngBytes = readFileSync(await png.path());
  assert.equal(pngBytes.subarray(1, 4).toString(), 'PNG');
  const [json] = await Promise.all([page.waitForEvent('download'), page.click('#download-json')]);
  const data = JSON.parse(readFileSync(await json.path(), 'utf8'));
  assert.equal(data.input.length, 784);
  assert.equal(data.heatmap.length, 784);
  assert.equal(data.logits.length, 10);
  assert.equal(data.settings.method, 'lrp-gamma');
  assert.ok(data.layers.every((l) => l.relevance && l.map), 'per-layer relevance');
});

test('a short guided tour opens on the first visit, steps through, and can be skipped', async () => {
  const first = await openPage(S.browser, S.server.url, { firstVisit: true });
  const { page } = first;
  await page.waitForFunction(() => !document.querySelector('#tour').hidden);
  assert.match(await page.textContent('#tour-text'), /^1\/6/);
  await shot(page, 'tour');
  for (let i = 2; i <= 6; i++) {
    await page.click('#tour-next');
    assert.match(await page.textContent('#tour-text'), new RegExp(`^${i}/6`));
  }
  await page.click('#tour-next');
  assert.equal(await page.$eval('#tour', (t) => t.hidden), true);
  await page.reload();
  await page.waitForFunction(() => document.documentElement.dataset.ready === 'true');
  assert.equal(await page.$eval('#tour', (t) => t.hidden), true, 'not again after it was seen');
  await page.click('#tour-start');
  await page.click('#tour-skip');
  assert.equal(await page.$eval('#tour', (t) => t.hidden), true);
  await first.context.close();
});
