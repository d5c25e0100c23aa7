// End-to-end: the real server binary serving the real SPA, driven in Debian's
// Chromium. The server samples host metrics every 250 ms, so a working
// pipeline (sampler -> hub -> SSE -> EventSource -> reducer -> DOM) shows as
// host widgets whose content keeps changing.
//
// Run: node --test frontend/e2e/   (after `cargo build -p pulseboard-server`
// and `trunk build --release` in frontend/; scripts/test.sh does all of it).
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { launchBrowser, repoRoot, startServer } from './support.mjs';

const LIVE_BADGE = '[data-testid="connection-badge"][data-state="live"]';
const HOST_CARDS = '[data-widget-id^="host."]';
const CPU_HISTORY = '[data-widget-id="host.cpu_history"]';
const SCREENSHOT = resolve(repoRoot, 'target', 'e2e', 'dashboard.png');

describe('pulseboard in a browser', { timeout: 180_000 }, () => {
  let server;
  let browser;

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await server?.stop();
  });

  test('dashboard goes live and host widgets update', { timeout: 120_000 }, async (t) => {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    t.after(() => context.close());
    const page = await context.newPage();
    const pageErrors = [];
    const consoleErrors = [];
    page.on('pageerror', (error) => pageErrors.push(String(error?.stack ?? error)));
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    const explain = () =>
      `\npage errors: ${JSON.stringify(pageErrors)}\nconsole errors: ${JSON.stringify(consoleErrors)}\n${server.output()}`;

    try {
      const response = await page.goto(`${server.url}/`, { waitUntil: 'load', timeout: 30_000 });
      assert.equal(response?.status(), 200, `GET / status${explain()}`);

      // The badge turns live once the stream's init event has been applied.
      await page.waitForSelector(LIVE_BADGE, { timeout: 30_000 });

      // The built-in host source fills in its widgets (cpu, memory, load, net, disk ...).
      await page.waitForFunction((sel) => document.querySelectorAll(sel).length >= 8, HOST_CARDS, {
        timeout: 30_000,
        polling: 100,
      });
      const hostCards = await page.locator(HOST_CARDS).count();
      assert.ok(hostCards >= 8, `expected >= 8 host.* widgets, found ${hostCards}`);

      // host.cpu_history gains a point every sample (250 ms): its markup must
      // keep changing. Wait for several changes so the chart has a few points
      // before the screenshot.
      await page.waitForSelector(CPU_HISTORY, { timeout: 30_000 });
      for (let change = 1; change <= 8; change += 1) {
        const previous = await page.$eval(CPU_HISTORY, (el) => el.outerHTML);
        await page.waitForFunction(
          ([sel, html]) => document.querySelector(sel)?.outerHTML !== html,
          [CPU_HISTORY, previous],
          { timeout: 15_000, polling: 50 },
        ).catch((error) => {
          throw new Error(`host.cpu_history did not change (change ${change} of 8): ${error.message}${explain()}`);
        });
      }

      // Still live after the updates (no reconnect loop).
      assert.equal(await page.locator(LIVE_BADGE).count(), 1, `badge no longer live${explain()}`);

      await mkdir(resolve(SCREENSHOT, '..'), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      t.diagnostic(`screenshot: ${SCREENSHOT}`);
    } catch (error) {
      // A screenshot of the failing state helps more than the error alone.
      await mkdir(resolve(SCREENSHOT, '..'), { recursive: true });
      await page.screenshot({ path: SCREENSHOT.replace(/\.png$/, '-failure.png'), fullPage: true }).catch(() => {});
      if (!String(error.message).includes('--- server output')) error.message += explain();
      throw error;
    }

    assert.deepEqual(pageErrors, [], `uncaught page errors${explain()}`);
    assert.deepEqual(consoleErrors, [], `console errors${explain()}`);
  });

  test('client-side routes fall back to index.html', async () => {
    const index = await fetch(`${server.url}/`, { headers: { accept: 'text/html' } });
    assert.equal(index.status, 200);
    const indexBody = await index.text();

    const response = await fetch(`${server.url}/some/client/route`, { headers: { accept: 'text/html' } });
    assert.equal(response.status, 200, `GET /some/client/route${'\n'}${server.output()}`);
    assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
    const body = await response.text();
    assert.match(body, /<html/i);
    assert.equal(body, indexBody, 'the fallback serves the same index.html as /');
  });
});
