// The demo page in a real browser (Debian chromium): load, draw, classify, explain, switch, fail safely.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { session, openPage, drawDigit, clearPad, heatmapPixels, settled, seq, methodTable, ARTIFACTS, ROOT } from './helpers.mjs';

const S = session({ before, after });

test('the page loads with every model and method and no console error', async () => {
  const { page, problems } = S.ctx;
  const models = await page.$$eval('#model option', (o) => o.map((x) => x.value));
  assert.deepEqual(models, ['cnn', 'mlp', 'clever-hans', 'lstm']);
  const methods = await page.$$eval('#method option', (o) => o.map((x) => x.value));
  assert.deepEqual(methods, methodTable().methods.map((m) => m.name));
  assert.ok(methods.includes('epsilon-plus') && methods.includes('integrated-gradients'));
  assert.equal(await page.$eval('#model', (s) => s.value), 'cnn');
  assert.deepEqual(problems, []);
});

test('drawing each digit 0-9 with the mouse gives the right class', async () => {
  const { page } = S.ctx;
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
  const { page } = S.ctx;
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

test('the heatmap on the drawing is aligned with the ink', async () => {
  const { page } = S.ctx;
  await clearPad(page);
  // a small 7 in the top-left corner of the pad: preprocessing moves and scales it a lot
  const small = [[[40, 40], [50, 40], [60, 40], [70, 40], [80, 40], [74, 52], [68, 64], [62, 76], [56, 88], [52, 100]]];
  const s = await seq(page);
  const { drawStrokes } = await import('./helpers.mjs');
  await drawStrokes(page, small);
  await settled(page, s);
  const box = (sel, test) => page.evaluate(({ sel, test }) => {
    const c = document.querySelector(sel);
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let x0 = 1e9, y0 = 1e9, x1 = -1, y1 = -1;
    for (let y = 0; y < c.height; y++) for (let x = 0; x < c.width; x++) {
      const i = (y * c.width + x) * 4;
      const on = test === 'ink' ? d[i] < 128 : d[i + 3] > 40;
      if (on) { x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y); }
    }
    return [x0, y0, x1, y1];
  }, { sel, test });
  const ink = await box('#pad', 'ink');
  const heat = await box('#overlay', 'heat');
  assert.ok(heat[2] > 0, 'the overlay shows something');
  // the relevance lies on the ink: its box is inside the ink's box, give or take the blur of one grid cell
  const slack = 12;
  assert.ok(heat[0] >= ink[0] - slack && heat[1] >= ink[1] - slack && heat[2] <= ink[2] + slack && heat[3] <= ink[3] + slack, `overlay ${heat} vs ink ${ink}`);
  // and covers most of it
  assert.ok(heat[2] - heat[0] > 0.6 * (ink[2] - ink[0]) && heat[3] - heat[1] > 0.6 * (ink[3] - ink[1]), `overlay ${heat} vs ink ${ink}`);
});

test('switching model and method works', async () => {
  const { page, problems } = S.ctx;
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
  // SmoothGrad of an LRP composite: the wrapper with a base, its sliders and the base's
  let s = await seq(page);
  await page.selectOption('#method', 'smoothgrad');
  await settled(page, s);
  assert.equal(await page.isVisible('#base'), true, 'a wrapper offers a base method');
  assert.equal(await page.isVisible('#epsilon'), false);
  const plain = await page.evaluate(() => document.querySelector('#heatmap').toDataURL());
  s = await seq(page);
  await page.selectOption('#base', 'epsilon-plus');
  await settled(page, s);
  assert.match(await page.textContent('#heat-caption'), /smoothgrad:epsilon-plus/);
  assert.equal(await page.isVisible('#epsilon'), true, "the base's parameter");
  assert.equal(await page.isVisible('#samples'), true, "the wrapper's parameter");
  assert.notEqual(await page.evaluate(() => document.querySelector('#heatmap').toDataURL()), plain);
  assert.equal(await page.$eval('#error', (e) => e.hidden), true);
  s = await seq(page);
  await page.selectOption('#method', 'epsilon-gamma-box');
  await settled(page, s);
  assert.equal(await page.isVisible('#base'), false);
  assert.deepEqual(problems, []);
});

test('a broken model file shows an error and the page keeps working', async () => {
  const { page } = S.ctx;
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

// Drops a file on the page as a user drags it from the desktop (a real drop event with a DataTransfer).
async function dropFile(page, file) {
  const b64 = readFileSync(path.join(ROOT, 'tests/fixtures/onnx', file)).toString('base64');
  const dt = await page.evaluateHandle(({ b64, file }) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const d = new DataTransfer();
    d.items.add(new File([bytes], file, { type: 'application/octet-stream' }));
    return d;
  }, { b64, file });
  await page.dispatchEvent('#pad', 'drop', { dataTransfer: dt });
}

test('an ONNX model dropped on the page classifies and explains the drawing; bad ONNX files keep it', async () => {
  const { page, problems } = S.ctx;
  await clearPad(page);
  await drawDigit(page, 3);
  const shippedHeat = await heatmapPixels(page);
  // the normalisation presets; mean and std fields only for "custom"
  assert.equal(await page.isVisible('#onnx-custom'), false);
  await page.selectOption('#onnx-input', 'custom');
  assert.equal(await page.isVisible('#onnx-custom'), true);
  await page.selectOption('#onnx-input', 'unit');
  assert.equal(await page.isVisible('#onnx-custom'), false);
  // the shipped CNN in float32 (the shipped file holds its weights in float16: the same heatmap up to
  // a few colour levels), then the same weights written and exported by PyTorch (ending in log_softmax)
  let s = await seq(page);
  await dropFile(page, 'mnist-cnn.safetensors');
  await page.waitForFunction(() => /mnist-cnn\.safetensors/.test(document.querySelector('#model option[value="uploaded"]')?.textContent));
  await settled(page, s);
  const f32Heat = await heatmapPixels(page);
  const levels = f32Heat.reduce((m, v, i) => Math.max(m, Math.abs(v - shippedHeat[i])), 0);
  assert.ok(levels <= 8, `float16 weights move the heatmap by ${levels} colour levels`);
  s = await seq(page);
  await dropFile(page, 'mnist-cnn.onnx');
  await page.waitForFunction(() => document.querySelector('#model').value === 'uploaded');
  await settled(page, s);
  assert.match(await page.textContent('#model option[value="uploaded"]'), /mnist-cnn\.onnx/);
  const note = await page.textContent('#model-note');
  assert.match(note, /Imported from ONNX \(opset 17/);
  assert.match(note, /LogSoftmax was removed: the heatmaps explain the logits/);
  assert.equal(await page.getAttribute('#prediction', 'data-class'), '3');
  assert.deepEqual(await heatmapPixels(page), f32Heat, 'the same network gives the same heatmap');
  await clearPad(page);
  await drawDigit(page, 6);
  assert.equal(await page.getAttribute('#prediction', 'data-class'), '6');
  const heat = await heatmapPixels(page);
  assert.ok(heat.some((v, i) => i % 4 !== 3 && v !== 255), 'a heatmap is drawn');
  // an unsupported operator: the message names it and its node; the ONNX model and drawing stay
  await page.setInputFiles('#model-file', { name: 'sigmoid.onnx', mimeType: 'application/octet-stream', buffer: readFileSync(path.join(ROOT, 'tests/fixtures/onnx/sigmoid.onnx')) });
  await page.waitForFunction(() => !document.querySelector('#error').hidden);
  assert.match(await page.textContent('#error'), /sigmoid\.onnx: ONNX model: unsupported ONNX operator Sigmoid at node "\/1\/Sigmoid" \(and 1 more: Sigmoid at "\/3\/Sigmoid"\) \(the current model is still loaded\)/);
  assert.equal(await page.$eval('#model', (e) => e.value), 'uploaded');
  assert.equal(await page.getAttribute('#prediction', 'data-class'), '6');
  // a 3x16x16 RGB model: not a digit model (the photo view is another page's job)
  await dropFile(page, 'gap.onnx');
  await page.waitForFunction(() => /gap\.onnx/.test(document.querySelector('#error').textContent));
  assert.match(await page.textContent('#error'), /this page draws 28x28 grey digits; the model takes 3x16x16 inputs/);
  assert.equal(await page.getAttribute('#prediction', 'data-class'), '6');
  await page.screenshot({ path: path.join(ARTIFACTS, 'onnx-dropped.png'), fullPage: false });
  // back to the shipped model: the note goes
  s = await seq(page);
  await page.selectOption('#model', 'cnn');
  await settled(page, s);
  assert.equal(await page.$eval('#model-note', (e) => e.hidden), true);
  assert.deepEqual(problems, []);
});
