// Robustness, security and accessibility of the page in a real browser: the CSP holds and nothing is
// requested from another origin, the page works offline, nothing is lost on reload or a failed load,
// every wasm export survives garbage, and axe-core finds no serious or critical violation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { servers, openPage, drawDigit, clearPad, settled, seq, DIGITS, ROOT } from './helpers.mjs';

const S = servers({ before, after });

// records CSP violations from the first script on
const CSP_PROBE = () => {
  window.__csp = [];
  document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
};

test('the CSP is enforced, nothing violates it, and nothing comes from another origin', async () => {
  const context = await S.browser.newContext();
  await context.addInitScript(CSP_PROBE);
  await context.addInitScript(() => localStorage.setItem('lrp-live-toured', '1'));
  const page = await context.newPage();
  const foreign = [];
  const errors = [];
  page.on('request', (r) => { if (!r.url().startsWith(S.server.url) && !/^(data|blob):/.test(r.url())) foreign.push(r.url()); });
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(S.server.url);
  await page.waitForFunction(() => document.documentElement.dataset.ready === 'true');
  await drawDigit(page, 5);
  for (const id of ['#show-all', '#show-layers']) {
    const s = await seq(page);
    await page.check(id);
    await settled(page, s);
  }
  for (const m of ['integrated-gradients', 'smoothgrad', 'deep-taylor']) {
    const s = await seq(page);
    await page.selectOption('#method', m);
    await settled(page, s);
  }
  await page.click('#example');
  await page.waitForFunction(() => document.querySelector('#example-info').textContent.length > 0);
  assert.deepEqual(await page.evaluate(() => window.__csp), [], 'no CSP violation in normal use');
  assert.deepEqual(foreign, [], 'no request to another origin');
  assert.deepEqual(errors, []);
  // the policy is really there: an inline script and a foreign fetch are blocked and reported
  await page.evaluate(() => {
    const s = document.createElement('script');
    s.textContent = 'window.__inline = 1';
    document.body.appendChild(s);
    return fetch('http://192.0.2.1/x').catch(() => null);
  });
  await page.waitForFunction(() => window.__csp.length >= 2);
  assert.equal(await page.evaluate(() => window.__inline), undefined);
  const v = await page.evaluate(() => window.__csp);
  assert.ok(v.some((x) => x.startsWith('script-src')), v.join());
  assert.ok(v.some((x) => x.startsWith('connect-src')), v.join());
  await context.close();
});

test('after the first load the page works offline', async () => {
  // every module of the page is in the service worker's install list
  const sw = readFileSync(path.join(ROOT, 'www/sw.js'), 'utf8');
  for (const f of readdirSync(path.join(ROOT, 'www/js'))) assert.ok(sw.includes(`'js/${f}'`), `www/sw.js does not cache js/${f}`);
  const { page, context } = await openPage(S.browser, S.server.url);
  await page.evaluate(() => navigator.serviceWorker.ready);
  await page.waitForFunction(async () => (await caches.keys()).length > 0 && (await (await caches.open((await caches.keys())[0])).keys()).length >= 10);
  await context.setOffline(true);
  await page.reload();
  await page.waitForFunction(() => document.documentElement.dataset.ready === 'true');
  await clearPad(page);
  await drawDigit(page, 7);
  assert.equal(await page.getAttribute('#prediction', 'data-class'), '7');
  await context.close();
});

test('the drawing, undo history and settings survive a reload, a model switch and a failed load', async () => {
  const { page, context, problems } = await openPage(S.browser, S.server.url);
  await clearPad(page);
  await drawDigit(page, 3);
  await drawDigit(page, 1); // a second stroke group, to undo later
  let s = await seq(page);
  await page.selectOption('#method', 'lrp-0');
  await settled(page, s);
  s = await seq(page);
  await page.selectOption('#target', '5');
  await settled(page, s);
  s = await seq(page);
  await page.selectOption('#model', 'mlp');
  await settled(page, s);
  await page.setInputFiles('#model-file', { name: 'bad.txt', mimeType: 'text/plain', buffer: Buffer.from('Linear 784 10\n1 2 3\n') });
  await page.waitForFunction(() => !document.querySelector('#error').hidden);
  assert.equal(await page.$eval('#model', (x) => x.value), 'mlp');
  const before = await page.evaluate(() => localStorage.getItem('lrp-live-state-v1'));
  await page.reload();
  await page.waitForFunction(() => document.documentElement.dataset.ready === 'true');
  await page.waitForFunction(() => Number(document.querySelector('#prediction').dataset.seq) > 0);
  assert.equal(await page.$eval('#model', (x) => x.value), 'mlp');
  assert.equal(await page.$eval('#method', (x) => x.value), 'lrp-0');
  assert.equal(await page.$eval('#target', (x) => x.value), '5');
  assert.equal(JSON.parse(await page.evaluate(() => localStorage.getItem('lrp-live-state-v1'))).drawing.length, JSON.parse(before).drawing.length);
  // undo still removes the last strokes (the "1") after the reload
  const strokes = DIGITS[1].length;
  for (let i = 0; i < strokes; i++) {
    s = await seq(page);
    await page.click('#undo');
    await settled(page, s);
  }
  s = await seq(page);
  await page.selectOption('#target', '-1');
  await settled(page, s);
  assert.equal(await page.getAttribute('#prediction', 'data-class'), '3');
  assert.deepEqual(problems.filter((p) => !p.includes('bad.txt')), []);
  await context.close();
});

test('every wasm export survives garbage and the engine keeps working', async () => {
  const { page, context } = await openPage(S.browser, S.server.url);
  const report = await page.evaluate(async () => {
    const { Engine } = await import('/pkg/lrp.js');
    const e = new Engine();
    const model = new Uint8Array(await (await fetch('/models/cnn.safetensors')).arrayBuffer());
    const garbage = [undefined, null, NaN, -1, 2 ** 40, '', 'x'.repeat(1000), '{', '[1,2]', new Uint8Array(0), new Uint8Array(17), new Float32Array([NaN]), {}, [], true];
    const calls = {
      load_model: (a, b) => e.load_model(a, b),
      preprocess: (a, b) => e.preprocess(a, b, b),
      set_pixels: (a) => e.set_pixels(a),
      explain: (a) => e.explain(a),
      explain_request: (a, b) => e.explain({ method: a, target: b, contrast: a, params: { epsilon: b, steps: a }, rules: a }),
      explain_all_classes: (a) => e.explain_all_classes(a),
      compare: (a, b) => e.compare({ methods: [a], per_step: b, steps: a, random_repeats: b }),
      sanity_check: (a, b) => e.sanity_check({ methods: [a], target: b, seed: a, params: { patch: b, stride: a } }),
      colorize: (a, b) => Engine.colorize(a, b, a, b),
      color_of: (a, b) => Engine.color_of(a, b),
      softmax_explanation: (a) => e.softmax_explanation(a),
      set_watermark: (a) => e.set_watermark(a),
      load_digits: (a, b) => e.load_digits(a, b),
      digit: (a) => e.digit(a),
      label: (a) => e.label(a),
      find_misclassified: (a) => e.find_misclassified(a),
    };
    const outcomes = [];
    const run = () => {
      for (const [name, f] of Object.entries(calls)) {
        for (const a of garbage) {
          for (const b of [garbage[0], garbage[3], garbage[6], garbage[9]]) {
            try {
              f(a, b);
              outcomes.push('ok');
            } catch (err) {
              outcomes.push(String(err && err.message));
            }
          }
        }
      }
    };
    run(); // without a model
    e.load_model(model);
    e.set_pixels(new Float32Array(784).fill(0.2));
    run(); // with one
    e.load_model(model);
    e.set_pixels(new Float32Array(784).fill(0.2));
    const res = e.explain({ method: 'epsilon-plus' });
    return { outcomes, aborted: outcomes.filter((o) => /unreachable|RuntimeError|recursive use/.test(o)), heat: Array.from(res.heatmap).some((v) => v !== 0) };
  });
  assert.deepEqual(report.aborted, [], 'a panic (abort) reached JavaScript');
  assert.ok(report.outcomes.filter((o) => o !== 'ok').length > 100, 'garbage was refused');
  assert.ok(report.heat, 'the engine still explains after the garbage');
  await context.close();
});

test('accessibility: axe finds no serious or critical violation; keyboard drawing; live region', async () => {
  // axe is injected, so this context bypasses the page's CSP (the policy itself is tested above)
  const context = await S.browser.newContext({ bypassCSP: true });
  await context.addInitScript(() => localStorage.setItem('lrp-live-toured', '1'));
  const page = await context.newPage();
  await page.goto(S.server.url);
  await page.waitForFunction(() => document.documentElement.dataset.ready === 'true');
  await drawDigit(page, 2);
  await page.check('#show-layers');
  await page.check('#show-all');
  await page.waitForTimeout(200);
  await page.addScriptTag({ content: readFileSync(path.join(ROOT, 'tests/e2e/node_modules/axe-core/axe.min.js'), 'utf8') });
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes.length} nodes (${v.help})`);
  assert.deepEqual(bad, []);
  // the dark colour scheme too
  const dark = await S.browser.newContext({ bypassCSP: true, colorScheme: 'dark' });
  await dark.addInitScript(() => localStorage.setItem('lrp-live-toured', '1'));
  const dp = await dark.newPage();
  await dp.goto(S.server.url);
  await dp.waitForFunction(() => document.documentElement.dataset.ready === 'true' && document.querySelector('#prediction').dataset.class !== '');
  await dp.addScriptTag({ content: readFileSync(path.join(ROOT, 'tests/e2e/node_modules/axe-core/axe.min.js'), 'utf8') });
  const darkResult = await dp.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  assert.deepEqual(darkResult.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes.length} nodes`), [], 'dark scheme');
  await dark.close();
  // keyboard: clear with Esc, focus the pad, draw a vertical stroke with the arrows, get a prediction
  await page.focus('#pad');
  let s = await seq(page);
  await page.keyboard.press('Escape');
  await settled(page, s);
  const focusOutline = await page.$eval('#pad', (el) => getComputedStyle(el).outlineStyle);
  assert.notEqual(focusOutline, 'none', 'visible focus');
  for (let i = 0; i < 8; i++) await page.keyboard.press('ArrowUp');
  s = await seq(page);
  await page.keyboard.press('Space');
  for (let i = 0; i < 16; i++) await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Space');
  await settled(page, s);
  assert.equal(await page.getAttribute('#prediction', 'data-class'), '1');
  await page.waitForFunction(() => document.querySelector('#announce').textContent.startsWith('predicted 1'));
  // every control can be reached with Tab
  const reached = new Set();
  for (let i = 0; i < 100; i++) {
    await page.keyboard.press('Tab');
    reached.add(await page.evaluate(() => document.activeElement && (document.activeElement.id || document.activeElement.className)));
  }
  for (const id of ['pad', 'clear', 'undo', 'example', 'model', 'method', 'target', 'contrast', 'colormap', 'model-file', 'show-all', 'show-layers']) assert.ok(reached.has(id), `Tab never reaches #${id}`);
  assert.ok(reached.has('bar') || [...reached].some((x) => String(x).startsWith('bar')), 'Tab reaches the class bars');
  await context.close();
});
