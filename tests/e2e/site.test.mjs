// `make site` writes static files that work from any static host: served here by a plain file server
// that sends no special headers (no CSP header, no cross-origin isolation, as GitHub Pages), the page
// loads, draws and explains with no console error, and an ONNX model still loads (its wasm on demand).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { readFile, stat } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { ROOT, launch, openPage, drawDigit, clearPad, heatmapPixels, seq, settled } from './helpers.mjs';

const SITE = path.join(ROOT, 'target/site');
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json' };
let server;
let browser;
let url;
const seen = [];

before(async () => {
  server = http.createServer(async (req, res) => {
    const rel = decodeURIComponent(new URL(req.url, 'http://x').pathname).replace(/\/$/, '/index.html');
    const file = path.join(SITE, path.normalize(rel));
    try {
      if (!file.startsWith(SITE) || !(await stat(file)).isFile()) throw new Error('no');
      res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream' });
      res.end(await readFile(file));
      seen.push(rel);
    } catch {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${server.address().port}/`;
  browser = await launch();
});

after(async () => {
  await browser?.close();
  server?.close();
});

test('the static site works from a plain file server with no special headers', async () => {
  const { page, problems, foreign } = await openPage(browser, url);
  assert.equal(await page.evaluate(() => self.crossOriginIsolated), false, 'no isolation headers here');
  await clearPad(page);
  await drawDigit(page, 7);
  assert.equal(await page.getAttribute('#prediction', 'data-class'), '7');
  assert.ok((await heatmapPixels(page)).some((v, i) => i % 4 !== 3 && v !== 255), 'a heatmap');
  assert.ok(!seen.some((f) => f.includes('pkg-onnx')), 'the ONNX build is not fetched on load');
  const s = await seq(page);
  await page.setInputFiles('#model-file', { name: 'mnist-cnn.onnx', mimeType: 'application/octet-stream', buffer: readFileSync(path.join(ROOT, 'tests/fixtures/onnx/mnist-cnn.onnx')) });
  await page.waitForFunction(() => document.querySelector('#model').value === 'uploaded');
  await settled(page, s);
  assert.equal(await page.getAttribute('#prediction', 'data-class'), '7');
  assert.ok(seen.some((f) => f.includes('pkg-onnx')), 'fetched when an .onnx file came');
  assert.deepEqual(problems, []);
  assert.deepEqual(foreign, []);
});
