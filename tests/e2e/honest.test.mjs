// The page tells the truth about what it shows: the explained class is marked when it is not the
// prediction, a contrast equal to the target is refused, the sum line says what it means, bars carry
// their percentages, Undo brings a Clear back, shortcuts act only on the pad, Esc only closes the tour,
// Share says "copied", and the watermark toggle and the watermark itself are where they should be.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { session, drawDigit, clearPad, settled, seq, heatmapPixels } from './helpers.mjs';

const S = session({ before, after });

const pred = (page) => page.getAttribute('#prediction', 'data-class');

async function clickBar(page, c, shift = false) {
  const s = await seq(page);
  await page.click(`#bars .bar[data-class="${c}"]`, shift ? { modifiers: ['Shift'] } : {});
  await settled(page, s);
}

test('the explained class is marked when it is not the prediction, and Clear resets it', async () => {
  const { page, problems } = S.ctx;
  await clearPad(page);
  assert.match(await page.textContent('#heat-caption'), /draw a digit/, 'no stale caption on an empty pad');
  await drawDigit(page, 7);
  assert.equal(await page.isVisible('#target-note'), false);
  await clickBar(page, 3);
  assert.equal(await pred(page), '7');
  assert.equal(await page.textContent('#target-note-text'), 'Explaining 3, not the predicted 7.');
  assert.match(await page.textContent('#heat-caption'), /class 3/);
  let s = await seq(page);
  await page.click('#target-reset');
  await settled(page, s);
  assert.equal(await page.isVisible('#target-note'), false);
  assert.match(await page.textContent('#heat-caption'), /class 7/);
  // a class picked, then Clear: the next drawing explains its own prediction
  await clickBar(page, 3);
  await clearPad(page);
  assert.equal(await page.$eval('#target', (e) => e.value), '-1');
  assert.equal(await page.isVisible('#target-note'), false);
  await drawDigit(page, 2);
  assert.match(await page.textContent('#heat-caption'), /class 2/);
  assert.deepEqual(problems, []);
});

test('a contrast class equal to the explained class is refused with a message', async () => {
  const { page } = S.ctx;
  await clearPad(page);
  await drawDigit(page, 7);
  const alone = await heatmapPixels(page);
  const s = await seq(page);
  await page.selectOption('#contrast', '7');
  await settled(page, s);
  assert.equal(await page.isVisible('#contrast-note'), true);
  assert.match(await page.textContent('#contrast-note'), /"why 7 and not 7" is zero everywhere\. Showing 7 alone/);
  assert.doesNotMatch(await page.textContent('#heat-caption'), /and not/);
  assert.deepEqual(await heatmapPixels(page), alone, 'class 7 explained alone, not an empty map');
  // a real contrast clears the note
  const s2 = await seq(page);
  await page.selectOption('#contrast', '1');
  await settled(page, s2);
  assert.equal(await page.isVisible('#contrast-note'), false);
  assert.match(await page.textContent('#heat-caption'), /why 7 and not 1/);
  await clearPad(page);
});

test('the sum line says what the sum means per method family; bars show percentages; no -0.000', async () => {
  const { page } = S.ctx;
  await clearPad(page);
  await drawDigit(page, 4);
  let s = await seq(page);
  await page.selectOption('#method', 'epsilon-plus');
  await settled(page, s);
  assert.match(await page.textContent('#sum-line'), /^Conservation: the heatmap sums to -?\d+\.\d{3} of the explained \d+\.\d{3}/);
  s = await seq(page);
  await page.selectOption('#method', 'gradient');
  await settled(page, s);
  assert.match(await page.textContent('#sum-line'), /^gradient does not conserve relevance: the heatmap sums to/);
  const p = Number(await page.getAttribute('#prediction', 'data-probability'));
  const bar = await page.textContent('#bars .bar[data-class="4"] .pct');
  assert.equal(bar, `${Math.round(p * 100)}%`);
  const shown = await page.$$eval('#bars .pct', (e) => e.map((x) => x.textContent));
  assert.ok(shown.every((t) => t === '' || /^\d+%$/.test(t)), 'a percentage, or nothing below 0.5 %');
  assert.doesNotMatch(await page.textContent('body'), /-0\.000/);
  s = await seq(page);
  await page.selectOption('#method', 'epsilon-plus');
  await settled(page, s);
});

test('Undo brings back a cleared drawing; shortcuts act only on the pad; Esc only closes the tour', async () => {
  const { page } = S.ctx;
  await clearPad(page);
  await drawDigit(page, 7);
  await clearPad(page);
  assert.equal(await pred(page), '');
  let s = await seq(page);
  await page.click('#undo');
  await settled(page, s);
  assert.equal(await pred(page), '7', 'Undo restores the drawing Clear removed');
  // keys with a button focused do nothing to the drawing
  await page.focus('#example');
  for (const key of ['u', 'Escape', 'Delete', 'Control+z']) await page.keyboard.press(key);
  await page.waitForTimeout(100);
  assert.equal(await pred(page), '7', 'no shortcut acted away from the pad');
  // on the pad they do
  await page.focus('#pad');
  s = await seq(page);
  await page.keyboard.press('Escape');
  await settled(page, s);
  assert.equal(await pred(page), '', 'Esc on the pad clears');
  s = await seq(page);
  await page.keyboard.press('u');
  await settled(page, s);
  assert.equal(await pred(page), '7', 'u on the pad undoes the clear');
  // the tour: Esc closes it and leaves the drawing alone, even with the pad focused
  await page.click('#tour-start');
  assert.equal(await page.isVisible('#tour'), true);
  await page.focus('#pad');
  await page.keyboard.press('Escape');
  assert.equal(await page.isVisible('#tour'), false);
  await page.waitForTimeout(100);
  assert.equal(await pred(page), '7');
});

test('Share says the link was copied', async () => {
  const { page, context } = S.ctx;
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: S.server.url });
  await page.click('#share');
  await page.waitForFunction(() => document.querySelector('#share-status').textContent !== '');
  assert.equal(await page.textContent('#share-status'), 'link copied');
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), await page.$eval('#share-url', (e) => e.value));
});

test('the watermark toggle is enabled with the model, and the watermark is drawn on the pad', async () => {
  const { page } = S.ctx;
  await clearPad(page);
  let s = await seq(page);
  await page.selectOption('#model', 'clever-hans');
  await settled(page, s);
  assert.equal(await page.isDisabled('#stamp-watermark'), false, 'enabled before anything is drawn');
  const inkPixels = () => page.evaluate(() => {
    const c = document.querySelector('#overlay');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] === 17 && d[i + 1] === 17 && d[i + 2] === 17 && d[i + 3] === 255) n++;
    return n;
  });
  await drawDigit(page, 3);
  assert.equal(await inkPixels(), 0);
  s = await seq(page);
  await page.check('#stamp-watermark');
  await settled(page, s);
  assert.ok((await inkPixels()) > 20, 'the stamped square shows on the pad');
  assert.equal(await pred(page), '7', 'and the Clever Hans model answers 7');
  s = await seq(page);
  await page.uncheck('#stamp-watermark');
  await settled(page, s);
  assert.equal(await inkPixels(), 0);
  s = await seq(page);
  await page.selectOption('#model', 'cnn');
  await settled(page, s);
  assert.equal(await page.isDisabled('#stamp-watermark'), true);
});

test('touch: a visible toggle makes a tap on a bar pick the contrast class', async () => {
  const { page } = S.ctx;
  await clearPad(page);
  await drawDigit(page, 7);
  await page.check('#pick-contrast');
  await clickBar(page, 1);
  assert.match(await page.textContent('#heat-caption'), /why 7 and not 1/);
  assert.match(await page.textContent('#why'), /^Why 7 and not 1\?/);
  await page.uncheck('#pick-contrast');
  await clickBar(page, 1, true);
  assert.doesNotMatch(await page.textContent('#heat-caption'), /and not/, 'Shift-click toggles it off again');
});

test('the PNG export carries the drawing, the heatmap, the colour bar, the class, the method and its parameters', async () => {
  const { page } = S.ctx;
  await clearPad(page);
  await drawDigit(page, 5);
  const s = await seq(page);
  await page.selectOption('#method', 'lrp-gamma');
  await settled(page, s);
  const [png] = await Promise.all([page.waitForEvent('download'), page.click('#download-png')]);
  const bytes = readFileSync(await png.path());
  assert.deepEqual([bytes.readUInt32BE(16), bytes.readUInt32BE(20)], [720, 464], 'drawing and heatmap side by side, a caption below');
  const caption = await page.getAttribute('#download-png', 'data-caption');
  assert.match(caption, /^Relevance for class 5; the network predicts 5 \(\d+\.\d %\)\./);
  assert.match(caption, /Method: lrp-gamma \(γ = 0\.25\)\. Model: cnn\./);
  assert.match(caption, /Red \/ blue: for the class \/ against it/);
  const st = await seq(page);
  await page.selectOption('#method', 'epsilon-plus');
  await settled(page, st);
});

test('plots are drawn at the screen density with axes; softmax and logit maps share one scale', async () => {
  const { page } = S.ctx;
  await clearPad(page);
  await drawDigit(page, 3);
  await page.check('#show-compare');
  await page.check('#show-equiv');
  await page.waitForFunction(() => Number(document.querySelector('#flip-ranking').dataset.ready || 0) > 0);
  const plot = await page.$eval('#flip-plot', (c) => ({ w: c.width, css: c.clientWidth, dpr: devicePixelRatio }));
  assert.equal(plot.w, Math.round(plot.css * plot.dpr));
  const axes = JSON.parse(await page.getAttribute('#flip-plot', 'data-axes'));
  assert.equal(axes.x, 'pixels removed (of 784)');
  assert.equal(axes.y, 'logit');
  assert.ok(axes.yTicks.length >= 2 && axes.yTicks.every((t) => /^-?\d+\.\d\d$/.test(t) && t !== '-0.00'), axes.yTicks.join(' '));
  assert.doesNotMatch(await page.textContent('body'), /-0\.000/, 'no -0.000 with the panels open');
  // the panels follow a visitor's questions: the layer view before the comparisons
  const order = await page.$$eval('#digits-view section.card.wide h2', (h) => h.map((x) => x.id));
  assert.deepEqual(order, ['all-title', 'layers-title', 'net-title', 'proto-title', 'rules-title', 'compare-title', 'ab-title', 'hans-title', 'sanity-title', 'equiv-title']);
  await page.waitForFunction(() => document.querySelector('#eq-softmax').dataset.scale);
  assert.equal(await page.getAttribute('#eq-softmax', 'data-scale'), await page.getAttribute('#eq-logit', 'data-scale'));
  await page.uncheck('#show-compare');
  await page.uncheck('#show-equiv');
  assert.equal(await page.isVisible('#compare-grid'), false, 'a closed panel shows no empty frame');
});

test('the tour highlights what it describes without covering it, follows a resize, and never blocks drawing', async () => {
  const { page } = S.ctx;
  const overlap = () => page.evaluate(() => {
    const t = document.querySelector('.tour-target').getBoundingClientRect();
    const b = document.querySelector('#tour').getBoundingClientRect();
    return !(b.right <= t.left || b.left >= t.right || b.bottom <= t.top || b.top >= t.bottom);
  });
  await page.click('#tour-start');
  for (let i = 1; i <= 6; i++) {
    assert.equal(await page.$eval('.tour-target', (e) => e.id), ['pad', 'bars', 'heatmap', 'method', 'layers-title', 'compare-title'][i - 1]);
    assert.equal(await overlap(), false, `step ${i} covers its target`);
    if (i === 1) {
      // drawing works with the tour open
      await clearPad(page);
      await drawDigit(page, 4);
      assert.equal(await pred(page), '4');
      assert.equal(await page.isVisible('#tour'), true);
      await page.setViewportSize({ width: 900, height: 800 });
      await page.waitForTimeout(100);
      assert.equal(await overlap(), false, 'after a resize');
      await page.setViewportSize({ width: 1280, height: 1000 });
    }
    if (i < 6) await page.click('#tour-next');
  }
  await page.click('#tour-skip');
  assert.equal(await page.$$eval('.tour-target', (e) => e.length), 0);
});

test('the legend swatches, the bar outlines and the sentence follow the colour map', async () => {
  const { page } = S.ctx;
  await clearPad(page);
  await drawDigit(page, 7);
  const colours = () => page.evaluate(() => ({
    swatch: getComputedStyle(document.querySelector('.swatch.pos')).backgroundColor,
    neg: getComputedStyle(document.querySelector('.swatch.neg')).backgroundColor,
    outline: getComputedStyle(document.querySelector('.bar.target')).borderTopColor,
    word: document.querySelector('#why .pos').textContent,
  }));
  const bwr = await colours();
  assert.deepEqual([bwr.swatch, bwr.neg, bwr.outline, bwr.word], ['rgb(255, 0, 0)', 'rgb(0, 0, 255)', 'rgb(255, 0, 0)', 'Red']);
  let s = await seq(page);
  await page.selectOption('#colormap', 'puor');
  await settled(page, s);
  const puor = await colours();
  assert.deepEqual([puor.swatch, puor.neg, puor.outline, puor.word], ['rgb(179, 88, 6)', 'rgb(84, 39, 136)', 'rgb(179, 88, 6)', 'Orange']);
  s = await seq(page);
  await page.selectOption('#colormap', 'bwr');
  await settled(page, s);
});

test('on a high-density screen the pad has the screen\'s pixels and the drawing the same prediction', async () => {
  const context = await S.browser.newContext({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 2 });
  await context.addInitScript(() => { try { localStorage.setItem('lrp-live-toured', '1'); } catch { /* fine */ } });
  const page = await context.newPage();
  await page.goto(S.server.url);
  await page.waitForFunction(() => document.documentElement.dataset.ready === 'true');
  assert.deepEqual(await page.$eval('#pad', (c) => [c.width, c.height]), [560, 560]);
  assert.deepEqual(await page.$eval('#overlay', (c) => [c.width, c.height]), [560, 560]);
  await clearPad(page);
  await drawDigit(page, 7);
  assert.equal(await pred(page), '7');
  await context.close();
});
