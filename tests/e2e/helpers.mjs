// Shared pieces of the browser tests: the project's own server, Debian's Chromium, digit strokes.
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const ARTIFACTS = path.join(ROOT, 'tests/e2e/artifacts');
mkdirSync(ARTIFACTS, { recursive: true });

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

// The engine's method table, from the CLI (the page reads the same table from the wasm engine).
export function methodTable() {
  return JSON.parse(execFileSync(path.join(ROOT, 'target/release/lrp'), ['methods', '--json'], { encoding: 'utf8' }));
}

// Starts `lrp serve` on a free loopback port for `root` (default: www/); resolves to { url, stop }.
export function startServer(root = path.join(ROOT, 'www')) {
  return new Promise((resolve, reject) => {
    const bin = path.join(ROOT, 'target/release/lrp');
    const proc = spawn(bin, ['serve', '--root', root, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/http:\/\/(127\.0\.0\.1:\d+)\//);
      if (m) resolve({ url: `http://${m[1]}/`, host: m[1], stop: () => proc.kill() });
    });
    proc.on('error', reject);
    proc.on('exit', (code) => reject(new Error(`server exited with ${code}: ${out}`)));
  });
}

// The four sizes the page must work at: a phone with touch, a projector, a laptop, a desktop.
export const SIZES = [
  { name: 'phone-390x844', viewport: { width: 390, height: 844 }, touch: true },
  { name: 'projector-1024x768', viewport: { width: 1024, height: 768 } },
  { name: 'laptop-1280x720', viewport: { width: 1280, height: 720 } },
  { name: 'desktop-1440x900', viewport: { width: 1440, height: 900 } },
];

// `extra`: more Chromium flags (the fake webcam: --use-fake-device-for-media-stream ...)
export async function launch(extra = []) {
  return chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: [...FLAGS, ...extra] });
}

// A page that records console errors, page errors and every request to another origin.
// `context`: more options of the browser context (serviceWorkers: 'block' lets page.route see every fetch).
export async function openPage(browser, url, { viewport = { width: 1280, height: 1000 }, firstVisit = false, context: options = {} } = {}) {
  const context = await browser.newContext({ viewport, ...options });
  // a returning visitor: the guided tour opens by itself only on a first visit
  if (!firstVisit) await context.addInitScript(() => { try { localStorage.setItem('lrp-live-toured', '1'); } catch { /* fine */ } });
  const page = await context.newPage();
  const problems = [];
  const foreign = [];
  const origin = new URL(url).origin;
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('request', (r) => { const u = r.url(); if (!u.startsWith(origin) && !u.startsWith('data:') && !u.startsWith('blob:')) foreign.push(u); });
  await page.goto(url);
  await page.waitForFunction(() => document.documentElement.dataset.ready === 'true', null, { timeout: 20000 });
  return { page, context, problems, foreign };
}

export async function seq(page) {
  return Number(await page.getAttribute('#prediction', 'data-seq'));
}

// Waits until the page has completed an update after `after` (data-seq advanced) and rendering settled.
export async function settled(page, after) {
  await page.waitForFunction((s) => Number(document.querySelector('#prediction').dataset.seq) > s, after, { timeout: 10000 });
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
}

const circle = (cx, cy, rx, ry, a0, a1, n = 40) => Array.from({ length: n + 1 }, (_, i) => {
  const a = a0 + (a1 - a0) * i / n;
  return [cx + rx * Math.cos(a), cy + ry * Math.sin(a)];
});
const line = (x0, y0, x1, y1, n = 12) => Array.from({ length: n + 1 }, (_, i) => [x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n]);
const PI = Math.PI;

// Stroke paths of the digits 0-9 in pad coordinates (280 x 280), drawn the way people write them.
export const DIGITS = {
  0: [circle(140, 140, 48, 80, -PI / 2, 1.5 * PI + 0.2, 60)],
  1: [[...line(118, 86, 146, 58, 6), ...line(146, 58, 146, 224, 16)]],
  2: [[...circle(140, 106, 46, 44, PI * 1.05, PI * 2.2, 30), ...line(180, 136, 94, 222, 14), ...line(94, 222, 196, 220, 10)]],
  3: [[...circle(138, 100, 44, 40, PI * 1.1, PI * 2.45, 30), ...circle(138, 178, 48, 44, -PI * 0.45, PI * 0.85, 30)]],
  4: [[...line(150, 60, 88, 170, 12), ...line(88, 170, 200, 170, 12)], line(166, 100, 166, 228, 14)],
  5: [[...line(186, 62, 108, 62, 8), ...line(108, 62, 100, 136, 8), ...circle(140, 172, 50, 50, -PI * 0.75, PI * 0.8, 36)]],
  6: [[...line(176, 62, 120, 120, 10), ...circle(140, 180, 44, 44, PI * 1.05, PI * 3.1, 44)]],
  7: [[...line(88, 66, 194, 66, 12), ...line(194, 66, 128, 226, 16)]],
  8: [[...circle(140, 98, 38, 38, PI * 0.5, PI * 2.5, 40), ...circle(140, 178, 44, 42, -PI * 0.5, PI * 1.5, 44)]],
  9: [[...circle(136, 100, 42, 40, 0, 2 * PI, 44), ...line(178, 100, 170, 228, 14)]],
};

export async function drawStrokes(page, strokes) {
  // a user scrolls to the pad first; mouse coordinates are relative to the viewport
  await page.locator('#pad').scrollIntoViewIfNeeded();
  const box = await page.locator('#pad').boundingBox();
  const sx = box.width / 280;
  const sy = box.height / 280;
  for (const pts of strokes) {
    await page.mouse.move(box.x + pts[0][0] * sx, box.y + pts[0][1] * sy);
    await page.mouse.down();
    for (const [x, y] of pts.slice(1)) await page.mouse.move(box.x + x * sx, box.y + y * sy);
    await page.mouse.up();
  }
}

export async function drawDigit(page, d) {
  const before = await seq(page);
  await drawStrokes(page, DIGITS[d]);
  await settled(page, before);
}

export async function clearPad(page) {
  const before = await seq(page);
  await page.click('#clear');
  await settled(page, before);
}

// The #heatmap canvas as a flat RGBA array.
export async function heatmapPixels(page, selector = '#heatmap') {
  return page.evaluate((sel) => {
    const c = document.querySelector(sel);
    return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data);
  }, selector);
}

// One server and one browser for a test file (tests open their own pages): registers the before/after
// hooks and returns an object whose `server` and `browser` are set once `before` has run.
export function servers(hooks) {
  const s = {};
  hooks.before(async () => {
    s.server = await startServer();
    s.browser = await launch();
  });
  hooks.after(async () => {
    await s.browser?.close();
    s.server?.stop();
  });
  return s;
}

// One server, one browser and one page for a test file: registers the before/after hooks and returns
// an object whose `server`, `browser` and `ctx` (from openPage) are set once `before` has run.
export function session(hooks) {
  const s = {};
  hooks.before(async () => {
    s.server = await startServer();
    s.browser = await launch();
    s.ctx = await openPage(s.browser, s.server.url);
  });
  hooks.after(async () => {
    await s.browser?.close();
    s.server?.stop();
  });
  return s;
}
