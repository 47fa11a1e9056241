// Lesson mode in a real browser: every chapter of www/lessons/ loads its prepared state (model, method,
// parameters, classes, panels, the test digit, the view), also after a student changed everything; the
// answers say why; a broken or oversized chapter is refused with the page kept; the QR codes decode (with
// jsQR) to links that open the same state on a phone; the worksheet prints on one page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import jsQR from 'jsqr';
import { servers, openPage, drawDigit, settled, seq, heatmapPixels, methodTable, ROOT, ARTIFACTS } from './helpers.mjs';

const S = servers({ before, after });
const DIR = path.join(ROOT, 'www/lessons');
const FILES = JSON.parse(readFileSync(path.join(DIR, 'index.json'), 'utf8'));
const CHAPTERS = FILES.map((f) => JSON.parse(readFileSync(path.join(DIR, f), 'utf8')));
// every panel a chapter may open (lessons/README.md), by its check box #show-NAME
const PANELS = ['compare', 'equiv', 'net', 'proto', 'sanity', 'ab', 'hans'];
const shot = (page, name, opts = {}) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), ...opts });

// What the page must show once chapter n (1-based) is open: everything its file states.
async function expectChapter(page, n) {
  const ch = CHAPTERS[n - 1];
  const st = ch.state || {};
  await page.waitForFunction((k) => document.querySelector('#lesson')?.dataset.chapter === String(k), n, { timeout: 30000 });
  assert.equal(await page.textContent('#lesson-title'), ch.title);
  assert.equal(await page.$eval('#lesson-answers', (ol) => ol.children.length), ch.answers.length);
  if (st.view === 'photos') {
    await page.waitForFunction(() => document.querySelector('#photo-top')?.dataset.top1, null, { timeout: 60000 });
    assert.equal(await page.$eval('#digits-view', (e) => e.hidden), true, 'the photos chapter shows the Photos view');
    return;
  }
  assert.equal(await page.$eval('#digits-view', (e) => e.hidden), false);
  const table = methodTable();
  const method = st.method || 'epsilon-plus';
  const open = await page.evaluate((names) => names.filter((p) => document.querySelector(`#show-${p}`).checked), PANELS);
  assert.deepEqual(open, PANELS.filter((p) => (st.panels || []).includes(p)), `chapter ${n}: the panels it opens, and no other`);
  const got = await page.evaluate(() => ({
    model: document.querySelector('#model').value,
    method: document.querySelector('#method').value,
    target: document.querySelector('#target').value,
    contrast: document.querySelector('#contrast').value,
    layers: document.querySelector('#show-layers').checked,
    watermark: document.querySelector('#stamp-watermark').checked,
    info: document.querySelector('#example-info').textContent,
    error: document.querySelector('#error').hidden ? '' : document.querySelector('#error').textContent,
  }));
  assert.equal(got.error, '', `chapter ${n}: no error`);
  assert.equal(got.model, st.model || 'cnn');
  assert.equal(got.method, method);
  assert.equal(got.target, String(st.target ?? -1));
  assert.equal(got.contrast, String(st.contrast ?? -1));
  assert.equal(got.layers, !!st.showLayers);
  assert.equal(got.watermark, !!st.watermark);
  for (const [k, v] of Object.entries(st.params || {})) {
    const spec = table.params.find((p) => p.name === k);
    const slider = Number(await page.$eval(`#${k}`, (e) => e.value));
    assert.ok(Math.abs(slider - (spec.log ? Math.log10(v) : v)) < 1e-9, `chapter ${n}: ${k} = ${v}`);
  }
  // every other parameter is back at its default
  for (const k of ['gamma', 'alpha', 'steps']) if (!(st.params || {})[k]) assert.equal(await page.$eval(`#${k}`, (e) => e.value), await page.$eval(`#${k}`, (e) => e.defaultValue));
  await page.waitForFunction(() => document.querySelector('#prediction').dataset.class !== '', null, { timeout: 20000 });
  if (Number.isInteger(ch.digit)) {
    const m = got.info.match(/MNIST test digit #(\d+), labelled (\d)/);
    assert.ok(m, `chapter ${n}: the pad says which test digit it holds (${got.info})`);
    assert.equal(Number(m[1]), ch.digit);
    // the chapters' texts rely on these predictions: the label, or the watermark's class
    const predicted = await page.$eval('#prediction', (p) => p.dataset.class);
    assert.equal(predicted, st.watermark ? '7' : m[2], `chapter ${n}: the prediction its text describes`);
  }
  await page.waitForFunction(() => !/updating/.test(document.querySelector('#heat-caption').textContent), null, { timeout: 20000 });
  assert.ok((await heatmapPixels(page)).some((v, i) => i % 4 !== 3 && v < 200), `chapter ${n}: a heatmap`);
  if (st.showLayers) await page.waitForFunction(() => document.querySelector('#layers').children.length > 0);
  if ((st.panels || []).includes('compare')) await page.waitForFunction(() => document.querySelectorAll('#compare-grid figure').length > 5, null, { timeout: 30000 });
  if ((st.panels || []).includes('net')) await page.waitForFunction(() => document.querySelectorAll('#net-layers .net-layer').length > 3, null, { timeout: 30000 });
  if ((st.panels || []).includes('hans')) await page.waitForFunction(() => document.querySelectorAll('#hans-grid tr[data-model]').length === 2, null, { timeout: 30000 });
  if ((st.panels || []).includes('sanity')) await page.waitForFunction(() => document.querySelectorAll('#sanity-grid tr[data-method]').length > 3, null, { timeout: 30000 });
  if (st.model === 'lstm') await page.waitForFunction(() => { const s = document.querySelector('#time-strip'); return s && !s.hidden; });
}

async function decodeQr(page) {
  await page.waitForSelector('#qr-dialog[open] canvas');
  const img = await page.$eval('#qr-code canvas', (c) => ({ w: c.width, h: c.height, data: Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data) }));
  const code = jsQR(Uint8ClampedArray.from(img.data), img.w, img.h);
  assert.ok(code, 'the QR code decodes');
  return code.data;
}

// one test per chapter: opened by its link on a fresh page at the projector's size
for (const [i, ch] of CHAPTERS.entries()) {
  test(`chapter ${i + 1}, "${ch.title}": its link opens the prepared state on a projector`, async () => {
    const { page, problems, foreign } = await openPage(S.browser, `${S.server.url}#lesson=${i + 1}`, { viewport: { width: 1024, height: 768 } });
    await expectChapter(page, i + 1);
    // the card is on the first screen with its title and task
    const box = await page.locator('#lesson-task').boundingBox();
    assert.ok(box && box.y >= 0, 'the task is shown');
    await shot(page, `lesson-projector-${i + 1}`);
    assert.deepEqual(problems, []);
    assert.deepEqual(foreign, [], 'nothing from another origin');
    await page.context().close();
  });
}

test('every chapter loads its prepared state, in order through the links and after a student changed everything', async () => {
  const { page, problems, foreign } = await openPage(S.browser, `${S.server.url}#lesson=1`, { viewport: { width: 1440, height: 900 } });
  await expectChapter(page, 1);
  await shot(page, 'lesson-chapter-1');
  assert.equal(await page.$$eval('#lesson-chapter option', (o) => o.length), CHAPTERS.length);
  assert.equal(await page.$eval('#lesson-prev', (a) => a.hidden), true, 'no previous chapter before the first');
  for (let n = 2; n <= CHAPTERS.length; n++) {
    await page.click('#lesson-next');
    await expectChapter(page, n);
  }
  assert.equal(await page.$eval('#lesson-next', (a) => a.hidden), true, 'no next chapter after the last');
  // a student changes model, method, classes and drawing; the chapter menu opens chapter 3 as stated
  await page.click('#view-digits');
  await page.selectOption('#model', 'mlp');
  await page.waitForFunction(() => document.querySelector('#model').value === 'mlp');
  await page.selectOption('#method', 'gradient');
  await page.selectOption('#target', '5');
  await page.click('#clear');
  await drawDigit(page, 8);
  await page.selectOption('#lesson-chapter', '3');
  await expectChapter(page, 3);
  // and "start the chapter again" undoes a change within the chapter
  await page.selectOption('#method', 'gradient');
  await page.click('#lesson-reset');
  await page.waitForFunction(() => document.querySelector('#method').value === 'lrp-eps');
  await expectChapter(page, 3);
  assert.deepEqual(problems, []);
  assert.deepEqual(foreign, [], 'nothing from another origin');
  await page.context().close();
});

test('answers: a wrong one says why not, the right one why, "show the answer" reveals it; leaving the lesson hides the card', async () => {
  const { page, problems } = await openPage(S.browser, `${S.server.url}#lesson=2`);
  await expectChapter(page, 2);
  const answers = CHAPTERS[1].answers;
  const wrong = answers.findIndex((a) => !a.correct);
  const right = answers.findIndex((a) => a.correct);
  await page.click(`#lesson-answers li:nth-child(${wrong + 1}) button`);
  assert.equal(await page.getAttribute(`#lesson-answers li:nth-child(${wrong + 1}) button`, 'data-verdict'), 'wrong');
  assert.equal(await page.textContent('#lesson-feedback'), `Not quite. ${answers[wrong].why}`);
  await page.click(`#lesson-answers li:nth-child(${right + 1}) button`);
  assert.equal(await page.getAttribute(`#lesson-answers li:nth-child(${right + 1}) button`, 'data-verdict'), 'right');
  assert.equal(await page.textContent('#lesson-feedback'), `Right. ${answers[right].why}`);
  await page.click('#lesson-reset');
  await page.waitForFunction(() => document.querySelector('#lesson-feedback').textContent === '');
  await page.click('#lesson-reveal');
  assert.match(await page.textContent('#lesson-feedback'), /^The answer: /);
  await page.click('#lesson-close');
  assert.equal(await page.$eval('#lesson', (e) => e.hidden), true);
  assert.equal(new URL(page.url()).hash, '');
  // the header's Lessons button opens the first chapter
  await page.click('#lessons-start');
  await expectChapter(page, 1);
  assert.deepEqual(problems, []);
  await page.context().close();
});

test('a broken, oversized or missing chapter is refused with a clear error, and the page keeps its state', async () => {
  // the service worker's own fetches would bypass page.route
  const { page } = await openPage(S.browser, `${S.server.url}#lesson=1`, { context: { serviceWorkers: 'block' } });
  await expectChapter(page, 1);
  const drawing = await page.evaluate(() => localStorage.getItem('lrp-live-state-v1'));
  const cases = [
    ['02-contrast.json', JSON.stringify({ title: 'no answers', text: ['x'], task: 't', question: 'q', answers: [] }), /answers/],
    ['03-conservation.json', '{"title": ', /not JSON/],
    ['04-rules.json', JSON.stringify({ title: 'x'.repeat(100000) }), /more than a chapter's/],
    ['05-faithful.json', JSON.stringify({ ...CHAPTERS[4], answers: CHAPTERS[4].answers.map((a) => ({ ...a, correct: false })) }), /correct/],
  ];
  for (const [file, body, message] of cases) {
    await page.route(`**/lessons/${file}`, (r) => r.fulfill({ status: 200, contentType: 'application/json', body }));
    const n = FILES.indexOf(file) + 1;
    await page.evaluate((k) => { location.hash = `lesson=${k}`; }, n);
    await page.waitForFunction(() => !document.querySelector('#error').hidden);
    assert.match(await page.textContent('#error'), message, file);
    assert.equal(await page.getAttribute('#lesson', 'data-chapter'), '1', 'chapter 1 stays');
    assert.equal(await page.textContent('#lesson-title'), CHAPTERS[0].title);
    assert.equal(await page.$eval('#model', (s) => s.value), 'cnn');
    assert.equal(await page.evaluate(() => localStorage.getItem('lrp-live-state-v1')), drawing, 'the drawing and settings are kept');
    await page.evaluate(() => { document.querySelector('#error').hidden = true; });
  }
  await page.evaluate(() => { location.hash = 'lesson=99'; });
  await page.waitForFunction(() => !document.querySelector('#error').hidden);
  assert.match(await page.textContent('#error'), /there is no chapter 99; the lesson has \d+/);
  await page.context().close();
});

test('QR codes: the chapter\'s and the share link\'s decode to links that open the same state on a phone', async () => {
  const { page, problems } = await openPage(S.browser, `${S.server.url}#lesson=4`, { viewport: { width: 1024, height: 768 } });
  await expectChapter(page, 4);
  await page.click('#lesson-qr');
  const chapterUrl = await decodeQr(page);
  assert.equal(chapterUrl, `${S.server.url}#lesson=4`);
  await shot(page, 'lesson-qr');
  await page.click('#qr-close');
  // a drawing of the student's own, shared as a QR code (the deflated #z= link)
  await page.click('#lesson-close');
  await page.click('#clear');
  await drawDigit(page, 2);
  const s = await seq(page);
  await page.selectOption('#method', 'lrp-gamma');
  await settled(page, s);
  const heat = await heatmapPixels(page);
  const pred = await page.$eval('#prediction', (p) => p.dataset.class);
  await page.click('#share-qr');
  const shared = await decodeQr(page);
  assert.match(shared, /#z=[A-Za-z0-9_-]+$/);
  const { page: phone, context } = await (async () => {
    const ctx = await S.browser.newContext({ viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true });
    const p = await ctx.newPage();
    await p.goto(shared);
    await p.waitForFunction(() => document.documentElement.dataset.ready === 'true', null, { timeout: 20000 });
    return { page: p, context: ctx };
  })();
  await phone.waitForFunction(() => document.querySelector('#prediction').dataset.class !== '');
  assert.equal(await phone.$eval('#method', (m) => m.value), 'lrp-gamma');
  assert.equal(await phone.$eval('#prediction', (p) => p.dataset.class), pred);
  assert.deepEqual(await heatmapPixels(phone), heat, 'the phone shows the same heatmap');
  // the chapter's link on a phone
  await phone.goto(chapterUrl);
  await phone.reload();
  await phone.waitForFunction(() => document.documentElement.dataset.ready === 'true');
  await expectChapter(phone, 4);
  const wide = await phone.evaluate(() => ({ scroll: document.documentElement.scrollWidth, view: document.documentElement.clientWidth }));
  assert.ok(wide.scroll <= wide.view, `the chapter fits the phone's width: ${wide.scroll} > ${wide.view}`);
  await shot(phone, 'lesson-phone', { fullPage: false });
  await context.close();
  assert.deepEqual(problems, []);
  await page.context().close();
});

test('the worksheet: print CSS puts the task, the question, the drawing, the heatmap, the colour bar and the method on one page', async () => {
  const { page } = await openPage(S.browser, `${S.server.url}#lesson=3`);
  await expectChapter(page, 3);
  await page.emulateMedia({ media: 'print' });
  await page.evaluate(() => window.dispatchEvent(new Event('beforeprint')));
  const shown = await page.evaluate(() => Object.fromEntries(['#lesson-task', '#lesson-question', '#lesson-answers', '#pad', '#heatmap', '#colorbar', '#prediction', '#print-info', '#lesson-link', '.lesson-nav', '#bars', '#ctl-title', 'header'].map((s) => {
    const e = document.querySelector(s);
    const r = e.getBoundingClientRect();
    return [s, r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== 'hidden'];
  })));
  for (const s of ['#lesson-task', '#lesson-question', '#lesson-answers', '#pad', '#heatmap', '#colorbar', '#prediction', '#print-info', '#lesson-link']) assert.equal(shown[s], true, `${s} is printed`);
  for (const s of ['.lesson-nav', '#bars', '#ctl-title', 'header']) assert.equal(shown[s], false, `${s} is not printed`);
  const info = await page.textContent('#print-info');
  assert.match(info, /Method: lrp-eps \(ε = 0\.010\)/);
  assert.match(await page.textContent('#lesson-link'), /#lesson=3$/);
  await shot(page, 'worksheet', { fullPage: true });
  const pdf = await page.pdf({ format: 'A4' });
  const pages = (pdf.toString('latin1').match(/\/Type\s*\/Page\b(?!s)/g) || []).length;
  assert.equal(pages, 1, 'the worksheet is one A4 page');
  await page.context().close();
});
