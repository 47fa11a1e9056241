// The Photos view as a visitor uses it: a sample photo gives its expected top-1 and a non-blank heatmap,
// a class from the top-5 and one found by name are explained, a file upload works, a corrupt file and a
// decompression bomb show an error and keep the photo, and the webcam (Chromium's fake camera) is
// explained frame after frame, with the frame rate shown.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ROOT, ARTIFACTS, startServer, launch, openPage } from './helpers.mjs';

const S = {};
before(async () => {
  S.server = await startServer();
  S.browser = await launch(['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream']);
});
after(async () => {
  await S.browser?.close();
  S.server?.stop();
});

const seqOf = (page) => page.evaluate(() => Number(document.querySelector('#photos-view').dataset.seq || 0));
async function nextResult(page, after, timeout = 60000) {
  await page.waitForFunction((s) => Number(document.querySelector('#photos-view').dataset.seq || 0) > s, after, { timeout });
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
}
const top1 = (page) => page.getAttribute('#photo-top', 'data-top1');

// the spread of the heatmap's pixels: zero for a blank canvas
async function heatSpread(page) {
  return page.evaluate(() => {
    const c = document.querySelector('#photo-heat');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let lo = 255, hi = 0;
    for (let i = 0; i < d.length; i += 4) { const v = d[i] + d[i + 1] + d[i + 2]; lo = Math.min(lo, v); hi = Math.max(hi, v); }
    return hi - lo;
  });
}

async function openPhotos(url = S.server.url, query = '') {
  const ctx = await openPage(S.browser, `${url}?view=photos${query}`, { viewport: { width: 1440, height: 1000 } });
  await ctx.page.waitForFunction(() => document.querySelector('#photo-top')?.dataset.top1, null, { timeout: 60000 });
  return ctx;
}

test('a sample photo: the expected top-1, a heatmap, any class explained', async () => {
  const { page, context, problems, foreign } = await openPhotos();
  assert.match(await top1(page), /cat/, 'the first sample is the cat');
  let s = await seqOf(page);
  await page.click('#photo-samples [data-photo="coffee"]');
  await nextResult(page, s);
  assert.equal(await top1(page), 'espresso');
  assert.ok(await heatSpread(page) > 100, 'the heatmap is not blank');
  assert.match(await page.textContent('#photo-why'), /Why “espresso”\?/);
  assert.ok(Number(await page.getAttribute('#photo-heat', 'data-nonzero')) > 10000);
  // the colour scale is the 99th percentile of |R|: about 1 % of the pixels take the colour bar's end
  // colours (on the maximum's scale only the largest one would), and the caption says so
  const saturated = await page.evaluate(() => {
    const bar = document.querySelector('#photo-colorbar').getContext('2d').getImageData(0, 0, 256, 1).data;
    const ends = [bar.slice(0, 3), bar.slice(255 * 4, 255 * 4 + 3)].map((c) => c.join());
    const c = document.querySelector('#photo-heat');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (ends.includes(`${d[i]},${d[i + 1]},${d[i + 2]}`)) n++;
    return n / (d.length / 4);
  });
  assert.ok(saturated > 0.005 && saturated < 0.03, `${(100 * saturated).toFixed(2)} % of the pixels in full colour`);
  assert.match(await page.textContent('#photo-scale'), /99th percentile of \|relevance\|/);
  // the second class of the top-5, then a contrast by Shift-click
  const second = await page.getAttribute('#photo-top .top-row:nth-child(2)', 'data-class');
  s = await seqOf(page);
  await page.click('#photo-top .top-row:nth-child(2)');
  await nextResult(page, s);
  assert.equal(await page.getAttribute('#photo-why', 'data-target'), second);
  assert.equal(await page.isVisible('#photo-target-note'), true);
  s = await seqOf(page);
  await page.click('#photo-top .top-row:nth-child(1)', { modifiers: ['Shift'] });
  await nextResult(page, s);
  assert.match(await page.textContent('#photo-why'), /and not “espresso”/);
  // any of the 1000 classes by name
  s = await seqOf(page);
  await page.fill('#photo-search', 'timber wolf, grey wolf, gray wolf, Canis lupus');
  await page.dispatchEvent('#photo-search', 'change');
  await nextResult(page, s);
  assert.equal(await page.getAttribute('#photo-why', 'data-target'), '269');
  // another method; the layer view shows how much reached the input
  s = await seqOf(page);
  await page.click('#photo-target-reset');
  await nextResult(page, s);
  await page.check('#photo-show-layers');
  const share = Number(await page.getAttribute('#photo-layers', 'data-input'));
  assert.ok(share > 0 && share < 0.05, `input share ${share}`);
  s = await seqOf(page);
  await page.selectOption('#photo-method', 'gradient');
  await nextResult(page, s);
  assert.match(await page.textContent('#photo-sum'), /does not conserve/);
  await page.screenshot({ path: path.join(ARTIFACTS, 'photos-coffee.png') });
  assert.deepEqual(problems, []);
  assert.deepEqual(foreign, []);
  await context.close();
});

// the heatmap canvas's pixels, the top-5 and the relevance sum: what a visitor sees of one explanation
async function shown(page) {
  return page.evaluate(() => {
    const c = document.querySelector('#photo-heat');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let h = 0;
    for (let i = 0; i < d.length; i++) h = (Math.imul(h, 31) + d[i]) | 0;
    return { pixels: h, top: document.querySelector('#photo-top').textContent, sum: document.querySelector('#photo-sum').textContent };
  });
}

test('two threads give the numbers of one', async () => {
  const runs = {};
  for (const threads of [1, 2]) {
    const { page, context, problems } = await openPhotos(S.server.url, `&threads=${threads}`);
    assert.equal(await page.getAttribute('#photo-timing', 'data-threads'), String(threads));
    assert.match(await page.textContent('#photo-timing'), new RegExp(`on ${threads} thread`));
    runs[threads] = [await shown(page)];
    const s = await seqOf(page);
    await page.selectOption('#photo-method', 'integrated-gradients');
    await nextResult(page, s);
    runs[threads].push(await shown(page));
    assert.deepEqual(problems, []);
    await context.close();
  }
  assert.match(runs[1][0].top, /cat/);
  assert.deepEqual(runs[2], runs[1]);
});

test('an uploaded photo works; a corrupt file and a bomb show an error and keep the photo', async () => {
  const { page, context, problems } = await openPhotos();
  let s = await seqOf(page);
  await page.setInputFiles('#photo-file', path.join(ROOT, 'www/data/photos/rocket.jpg'));
  await nextResult(page, s);
  assert.match(await top1(page), /missile/);
  const before = await heatSpread(page);
  for (const [file, says] of [['garbage.jpg', /cannot decode|no image header/], ['bomb-20000x20000.png', /20000x20000.*megapixels/], ['truncated.jpg', /truncated/], ['zero-0x0.png', /no pixels/]]) {
    await page.setInputFiles('#photo-file', path.join(ROOT, 'tests/fixtures/images', file));
    await page.waitForFunction(() => !document.querySelector('#error').hidden, null, { timeout: 10000 });
    assert.match(await page.textContent('#error'), says, file);
    assert.match(await page.textContent('#error'), /current photo stays/);
    assert.match(await top1(page), /missile/, `${file}: the photo stays`);
    assert.equal(await heatSpread(page), before);
  }
  // a photo pasted from the clipboard
  s = await seqOf(page);
  await page.evaluate(async () => {
    const blob = await (await fetch('data/photos/coffee.jpg')).blob();
    const dt = new DataTransfer();
    dt.items.add(new File([blob], 'pasted.jpg', { type: 'image/jpeg' }));
    document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true }));
  });
  await nextResult(page, s);
  assert.equal(await top1(page), 'espresso');
  assert.equal(await page.isVisible('#error'), false);
  assert.deepEqual(problems, []);
  await context.close();
});

test('the webcam (a fake camera) is explained frame after frame', async () => {
  const { page, context, problems } = await openPhotos();
  await page.selectOption('#photo-method', 'gradient');
  await page.click('#webcam');
  await page.waitForFunction(() => document.querySelector('#photos-view').dataset.photo === 'webcam', null, { timeout: 20000 });
  const s = await seqOf(page);
  await page.waitForFunction((x) => Number(document.querySelector('#photos-view').dataset.seq) >= x + 3, s, { timeout: 60000 });
  await page.waitForFunction(() => document.querySelector('#photo-fps').dataset.fps, null, { timeout: 20000 });
  const fps = Number(await page.getAttribute('#photo-fps', 'data-fps'));
  assert.ok(fps > 0.2, `${fps} frames per second`);
  assert.ok(await heatSpread(page) > 50);
  await page.click('#webcam');
  await page.waitForFunction(() => document.querySelector('#photos-view').dataset.photo === 'webcam frame', null, { timeout: 10000 });
  assert.equal(await page.getAttribute('#webcam', 'aria-pressed'), 'false');
  assert.deepEqual(problems, []);
  await context.close();
});
