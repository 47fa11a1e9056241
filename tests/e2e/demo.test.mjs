// The demo page in a real browser (Debian chromium): load, draw, classify, explain, switch, fail safely.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startServer, launch, openPage, drawDigit, clearPad, heatmapPixels, settled, seq, ARTIFACTS } from './helpers.mjs';

let server;
let browser;
let ctx;

before(async () => {
  server = await startServer();
  browser = await launch();
  ctx = await openPage(browser, server.url);
});

after(async () => {
  await browser?.close();
  server?.stop();
});

test('the page loads with every model and method and no console error', async () => {
  const { page, problems } = ctx;
  const models = await page.$$eval('#model option', (o) => o.map((x) => x.value));
  assert.deepEqual(models, ['cnn', 'mlp', 'clever-hans']);
  const methods = await page.$$eval('#method option', (o) => o.map((x) => x.value));
  assert.equal(methods.length, 17);
  assert.ok(methods.includes('epsilon-plus') && methods.includes('integrated-gradients'));
  assert.equal(await page.$eval('#model', (s) => s.value), 'cnn');
  assert.deepEqual(problems, []);
});

test('drawing each digit 0-9 with the mouse gives the right class', async () => {
  const { page } = ctx;
  const got = [];
  for (let d = 0; d <= 9; d++) {
    await clearPad(page);
    await drawDigit(page, d);
    got.push(Number(await page.getAttribute('#prediction', 'data-class')));
    if (d === 8) await page.screenshot({ path: path.join(ARTIFACTS, 'digit-8.png') });
  }
  assert.deepEqual(got, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

test('the heatmap is non-blank and changes with the method', async () => {
  const { page } = ctx;
  await clearPad(page);
  await drawDigit(page, 3);
  const a = await heatmapPixels(page);
  const white = (px, i) => px[i] === 255 && px[i + 1] === 255 && px[i + 2] === 255;
  const coloured = (px) => px.filter((_, i) => i % 4 === 0 && !white(px, i)).length;
  assert.ok(coloured(a) > 20, `only ${coloured(a)} coloured heatmap pixels`);
  let s = await seq(page);
  await page.selectOption('#method', 'gradient');
  await settled(page, s);
  const b = await heatmapPixels(page);
  assert.notDeepEqual(a, b);
  s = await seq(page);
  await page.selectOption('#method', 'epsilon-plus');
  await settled(page, s);
  assert.deepEqual(await heatmapPixels(page), a, 'the same method gives the same heatmap');
});

test('switching model and method works', async () => {
  const { page, problems } = ctx;
  await clearPad(page);
  await drawDigit(page, 7);
  for (const model of ['mlp', 'clever-hans', 'cnn']) {
    const s = await seq(page);
    await page.selectOption('#model', model);
    await settled(page, s);
    assert.equal(await page.getAttribute('#prediction', 'data-class'), '7', model);
  }
  for (const method of ['lrp-0', 'deep-taylor', 'smoothgrad', 'simple-taylor', 'epsilon-gamma-box']) {
    const s = await seq(page);
    await page.selectOption('#method', method);
    await settled(page, s);
    assert.equal(await page.$eval('#error', (e) => e.hidden), true, method);
  }
  assert.deepEqual(problems, []);
});

test('a broken model file shows an error and the page keeps working', async () => {
  const { page } = ctx;
  await clearPad(page);
  await drawDigit(page, 2);
  await page.setInputFiles('#model-file', { name: 'broken.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from('this is not a model at all') });
  await page.waitForFunction(() => !document.querySelector('#error').hidden);
  const msg = await page.textContent('#error');
  assert.match(msg, /broken\.safetensors/);
  assert.match(msg, /current model is still loaded/);
  assert.equal(await page.$eval('#model', (s) => s.value), 'cnn');
  // the drawing is intact and still classified; drawing more still updates
  assert.equal(await page.getAttribute('#prediction', 'data-class'), '2');
  await clearPad(page);
  await drawDigit(page, 4);
  assert.equal(await page.getAttribute('#prediction', 'data-class'), '4');
  await page.screenshot({ path: path.join(ARTIFACTS, 'page.png'), fullPage: true });
});
