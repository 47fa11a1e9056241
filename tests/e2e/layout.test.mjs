// The page at the four sizes it must work at (a phone with touch, a projector, a laptop, a desktop), at
// a first visit: nothing empty on load, the whole heatmap on the first screen after one stroke, and no
// sideways scrolling with every panel open. Screenshots of each go to tests/e2e/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { servers, SIZES, drawDigit, seq, settled, ARTIFACTS } from './helpers.mjs';

const S = servers({ before, after });

// How many pixels of a canvas differ from `bg` (RGB).
const painted = (page, sel, bg) => page.$eval(sel, (c, bg) => {
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i] - bg[0]) + Math.abs(d[i + 1] - bg[1]) + Math.abs(d[i + 2] - bg[2]) > 30) n++;
  return n;
}, bg);

for (const size of SIZES) {
  test(`${size.name}: nothing empty on load, the heatmap on the first screen, no sideways scroll`, async () => {
    const context = await S.browser.newContext({ viewport: size.viewport, hasTouch: !!size.touch, isMobile: !!size.touch });
    await context.addInitScript(() => { try { localStorage.setItem('lrp-live-toured', '1'); } catch { /* fine */ } });
    const page = await context.newPage();
    const problems = [];
    page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
    await page.goto(S.server.url);
    await page.waitForFunction(() => document.documentElement.dataset.ready === 'true' && document.querySelector('#prediction').dataset.class !== '');
    // a first visit: an example digit is drawn, classified and explained
    assert.ok((await painted(page, '#pad', [255, 255, 255])) > 500, 'ink on the pad');
    assert.ok((await painted(page, '#heatmap', [255, 255, 255])) > 20, 'a heatmap');
    assert.ok((await painted(page, '#input-view', [0, 0, 0])) > 20, 'the network input');
    assert.match(await page.textContent('#why'), /^Why \d\?/);
    const empty = await page.$$eval('canvas', (cs) => cs.filter((c) => c.offsetParent !== null && c.getBoundingClientRect().width > 0 && !c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some((v, i) => i % 4 === 3 && v > 0)).map((c) => c.id || c.className));
    assert.deepEqual(empty, [], 'no visible empty canvas');
    await page.screenshot({ path: path.join(ARTIFACTS, `layout-${size.name}-load.png`) });
    // one stroke-drawn digit: the whole heatmap is on screen with the pad
    await page.click('#clear');
    await drawDigit(page, 7);
    const r = await page.$eval('#heatmap', (c) => { const b = c.getBoundingClientRect(); return { top: b.top, bottom: b.bottom, left: b.left, right: b.right, h: innerHeight, w: innerWidth }; });
    assert.ok(r.top >= 0 && r.bottom <= r.h && r.left >= 0 && r.right <= r.w, `heatmap ${JSON.stringify(r)} inside the ${size.name} screen`);
    assert.equal(await page.getAttribute('#prediction', 'data-class'), '7');
    await page.screenshot({ path: path.join(ARTIFACTS, `layout-${size.name}-drawn.png`) });
    // every panel open: still no sideways scroll
    for (const id of ['show-all', 'show-layers']) {
      const s = await seq(page);
      await page.check(`#${id}`);
      await settled(page, s);
    }
    // the teaching panels render on their own (no new explanation of the main view)
    for (const id of ['compare', 'equiv', 'ab', 'hans', 'sanity']) await page.check(`#show-${id}`);
    await page.waitForFunction(() => document.querySelectorAll('#compare-grid canvas').length > 0);
    await page.waitForFunction(() => ['#ab-maps', '#hans-grid', '#sanity-grid'].every((g) => Number(document.querySelector(g).dataset.ready || 0) > 0), null, { timeout: 60000 });
    await page.waitForTimeout(300);
    const wide = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, view: document.documentElement.clientWidth }));
    assert.ok(wide.scroll <= wide.view, `no horizontal scroll: ${wide.scroll} > ${wide.view}`);
    assert.deepEqual(problems, []);
    await context.close();
  });
}

test('present mode (button and ?present): only pad, heatmap, bars and the sentence, text 1.5x, readable at 1024x768', async () => {
  const context = await S.browser.newContext({ viewport: { width: 1024, height: 768 } });
  await context.addInitScript(() => { try { localStorage.setItem('lrp-live-toured', '1'); } catch { /* fine */ } });
  const page = await context.newPage();
  await page.goto(S.server.url);
  await page.waitForFunction(() => document.documentElement.dataset.ready === 'true' && document.querySelector('#prediction').dataset.class !== '');
  const whySize = () => page.$eval('#why', (e) => parseFloat(getComputedStyle(e).fontSize));
  const normal = await whySize();
  await page.click('#present');
  assert.equal(await page.getAttribute('#present', 'aria-pressed'), 'true');
  assert.ok((await whySize()) >= 1.49 * normal, 'text 1.5x');
  for (const hidden of ['#method', '#model', '#show-compare', '#sum-line', '#pad-keys']) assert.equal(await page.isVisible(hidden), false, hidden);
  for (const shown of ['#pad', '#heatmap', '#bars', '#why', '#prediction']) assert.equal(await page.isVisible(shown), true, shown);
  await page.click('#clear');
  await drawDigit(page, 7);
  const r = await page.$eval('#heatmap', (c) => { const b = c.getBoundingClientRect(); return { top: b.top, bottom: b.bottom, right: b.right, h: innerHeight, w: innerWidth, side: b.width }; });
  assert.ok(r.top >= 0 && r.bottom <= r.h && r.right <= r.w && r.side >= 300, `heatmap ${JSON.stringify(r)}`);
  await page.screenshot({ path: path.join(ARTIFACTS, 'present-1024x768.png') });
  await page.click('#present');
  assert.equal(await page.isVisible('#method'), true);
  // the URL flag
  await page.goto(`${S.server.url}?present`);
  await page.waitForFunction(() => document.documentElement.dataset.ready === 'true');
  assert.equal(await page.evaluate(() => document.documentElement.classList.contains('present')), true);
  await context.close();
});
