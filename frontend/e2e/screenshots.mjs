// The screenshots in docs/, and the figures behind them: the edge content of
// edge.test.mjs at 1920×1080 and 390×844 in both themes, and the built-in host
// dashboard at 1920×1080, each with what edge.test.mjs measures (card heights,
// header height, overlapping text, lowest contrast of the secondary text).
// Not a test: it asserts nothing, so it also runs against an older build, for
// a "before" picture.
//
// Run: node frontend/e2e/screenshots.mjs <dir>   (with PULSEBOARD_BIN and
// PULSEBOARD_STATIC_DIR as for the tests; see support.mjs)
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { CONFIG, edgeContent, PHONE, WALL } from './edge-content.mjs';
import { installInspector } from './inspect.mjs';
import { launchBrowser, publishWidget, startServer } from './support.mjs';

const dir = resolve(process.argv[2] ?? 'frontend/e2e/artifacts/screenshots');
mkdirSync(dir, { recursive: true });
const TOKEN = 'screenshots-token';
const LIVE_BADGE = '[data-testid="connection-badge"][data-state="live"]';
const SECONDARY = ['.gauge-range span', '.log-time', '.series-y', '.series-time span', '.waiting', '.card-age', '.badge-label', '.card-title'];

const browser = await launchBrowser();
const edge = await startServer({ config: CONFIG, extraArgs: ['--publish-token', TOKEN, '--host-metrics', 'false'] });
try {
  for (const [id, body] of edgeContent(Date.now())) await publishWidget(edge.url, TOKEN, id, body);
  for (const viewport of [WALL, PHONE]) {
    for (const colorScheme of ['light', 'dark']) {
      const context = await browser.newContext({ viewport, colorScheme });
      await context.addInitScript(installInspector);
      const page = await context.newPage();
      await page.goto(`${edge.url}/`);
      await page.waitForSelector(LIVE_BADGE);
      // Ages show from 5 s on; the overdue gauge turns stale after 1 s.
      await page.waitForSelector('[data-widget-id="edge.huge"] [data-testid="widget-age"]', { timeout: 20_000 });
      await page.waitForSelector('[data-widget-id="edge.overdue"][data-stale="true"]', { timeout: 20_000 });
      const name = `edge-${viewport.width}x${viewport.height}-${colorScheme}.png`;
      await page.screenshot({ path: resolve(dir, name) });
      const { cards } = await page.evaluate(() => window.__edge.boxes());
      const overlaps = await page.evaluate(() => window.__edge.overlaps().found.length);
      const { rows } = await page.evaluate((selectors) => window.__edge.secondaryText(selectors, []), SECONDARY);
      const lowest = {};
      for (const row of rows) lowest[row.selector] = Math.min(lowest[row.selector] ?? Infinity, row.contrast);
      const header = await page.$eval('.topbar', (el) => Math.round(el.getBoundingClientRect().height));
      const tallest = cards.reduce((a, b) => (b.height > a.height ? b : a));
      console.log(`${name}: tallest card ${tallest.id} ${Math.round(tallest.height)} px; header ${header} px; ${overlaps} overlapping texts`);
      console.log(`  lowest contrast: ${Object.entries(lowest).map(([s, c]) => `${s} ${c.toFixed(2)}`).join(', ')}`);
      await context.close();
    }
  }
} finally {
  await edge.stop();
}

const host = await startServer();
try {
  const context = await browser.newContext({ viewport: WALL });
  const page = await context.newPage();
  await page.goto(`${host.url}/`);
  await page.waitForSelector(LIVE_BADGE);
  await page.waitForFunction(() => document.querySelectorAll('[data-widget-id^="host."]:not([data-empty])').length >= 9);
  // A few seconds of samples, so the charts have lines.
  await page.waitForFunction(() => document.querySelector('[data-widget-id="host.cpu_history"] .series-line')?.getAttribute('d')?.length > 200);
  await page.screenshot({ path: resolve(dir, 'host-1920x1080.png') });
  const fit = await page.evaluate(() => ({
    columns: getComputedStyle(document.querySelector('.grid')).gridTemplateColumns.split(' ').length,
    rows: getComputedStyle(document.querySelector('.grid')).gridTemplateRows,
    pageHeight: document.documentElement.scrollHeight,
  }));
  console.log(`host-1920x1080.png: ${JSON.stringify(fit)}`);
  await context.close();
} finally {
  await host.stop();
  await browser.close();
}
