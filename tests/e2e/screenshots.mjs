// Screenshots of the page at the four sizes the page must work at (a phone with touch, a projector, a
// laptop, a desktop): on load, and after one stroke-drawn digit; and the Photos view at each size (the
// cat explained; at the desktop size also with the layer view, the whole page). Not a test: it writes PNGs.
//   node tests/e2e/screenshots.mjs [ROOT] [OUT_PREFIX]      (default: www/, docs/screenshots/after)
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { ROOT, SIZES, startServer, launch, drawDigit } from './helpers.mjs';


const root = process.argv[2] ? path.resolve(process.argv[2]) : path.join(ROOT, 'www');
const prefix = process.argv[3] ? path.resolve(process.argv[3]) : path.join(ROOT, 'docs/screenshots/after');
mkdirSync(path.dirname(prefix), { recursive: true });

const server = await startServer(root);
const browser = await launch();
try {
  for (const size of SIZES) {
    const context = await browser.newContext({ viewport: size.viewport, hasTouch: !!size.touch, isMobile: !!size.touch, deviceScaleFactor: size.touch ? 2 : 1 });
    await context.addInitScript(() => { try { localStorage.setItem('lrp-live-toured', '1'); } catch { /* fine */ } });
    const page = await context.newPage();
    await page.goto(server.url);
    await page.waitForFunction(() => document.documentElement.dataset.ready === 'true', null, { timeout: 20000 });
    await page.waitForTimeout(300);
    await page.screenshot({ path: `${prefix}-${size.name}-load.png` });
    await page.click('#clear');
    await drawDigit(page, 7);
    await page.waitForTimeout(200);
    await page.screenshot({ path: `${prefix}-${size.name}-drawn.png` });
    await page.goto(`${server.url}?view=photos`);
    await page.waitForFunction(() => document.querySelector('#photo-top')?.dataset.top1, null, { timeout: 60000 });
    await page.waitForTimeout(300);
    await page.screenshot({ path: path.join(path.dirname(prefix), `photos-${size.name}.png`) });
    if (size.name.startsWith('desktop')) {
      await page.check('#photo-show-layers');
      await page.waitForTimeout(300);
      await page.screenshot({ path: path.join(path.dirname(prefix), `photos-${size.name}-layers.png`), fullPage: true });
    }
    await context.close();
  }
} finally {
  await browser.close();
  server.stop();
}
console.log(`screenshots: ${prefix}-*.png`);
