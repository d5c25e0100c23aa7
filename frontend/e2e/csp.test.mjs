// End-to-end: the SPA runs under the server's Content-Security-Policy with
// no violation. The built index.html has no inline script (trunk's loader is
// moved to a hashed boot-*.js by scripts/externalize-loader.mjs), the server
// sends the policy with every answer, and a page that shows the login form,
// logs in and renders every widget kind (the series' ticks and the list's
// bars are placed through the CSSOM, not style attributes) reports nothing.
//
// Run: node --test frontend/e2e/   (after `cargo build -p pulseboard-server`
// and `trunk build --release` in frontend/; scripts/test.sh does all of it).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { launchBrowser, publishWidget, repoRoot, startServer, trackEventSources, watchCspViolations } from './support.mjs';

const ARTIFACTS = resolve(dirname(fileURLToPath(import.meta.url)), 'artifacts');
const STATIC_DIR = resolve(process.env.PULSEBOARD_STATIC_DIR ?? resolve(repoRoot, 'frontend', 'dist'));
const VIEWER_TOKEN = 'e2e-csp-viewer-token';
const PUBLISH_TOKEN = 'e2e-csp-publisher';
const DEADLINE_MS = 15_000;
const LIVE_BADGE = '[data-testid="connection-badge"][data-state="live"]';
const card = (id) => `[data-widget-id="${id}"]`;

/** The directives the SPA must live with (frame-ancestors is the server's to configure). */
const REQUIRED_DIRECTIVES = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
];

const now = Date.now();
// One value of each kind (as in kinds.test.mjs), the list with percentages so
// its rows get bars, and a text each card must show.
const KINDS = [
  { id: 'latency', body: { kind: 'number', value: 42, unit: 'ms', thresholds: { warn: 70, critical: 90 } }, shows: '42' },
  { id: 'queue', body: { kind: 'gauge', value: 7, min: 0, max: 10, unit: 'jobs' }, shows: '7' },
  {
    id: 'orders',
    body: {
      kind: 'series',
      lines: {
        orders: [[now - 240_000, 12], [now - 180_000, 18], [now - 120_000, 15], [now - 60_000, 21], [now, 19]],
        refunds: [[now - 240_000, 2], [now - 120_000, 4], [now, 3]],
      },
      unit: '/min',
      window: 600,
    },
    shows: '19',
  },
  {
    id: 'cores',
    body: {
      kind: 'list',
      rows: [
        { label: 'cpu0', value: '42.0 %' },
        { label: 'cpu1', value: '7.5%' },
        { label: 'note', value: 'idle' },
      ],
    },
    shows: 'cpu0',
  },
  { id: 'build', body: { kind: 'status', level: 'warn', message: 'flaky test' }, shows: 'flaky test' },
  { id: 'motd', body: { kind: 'text', text: 'hello from the csp test' }, shows: 'hello from the csp test' },
  { id: 'deploys', body: { kind: 'log', lines: ['deployed v1.1', 'deployed v1.2'] }, shows: 'deployed v1.2' },
];

const sri = (bytes) => `sha384-${createHash('sha384').update(bytes).digest('base64')}`;

const publish = (url, id, body) => publishWidget(url, PUBLISH_TOKEN, id, body);

/** Every `<script ...>...</script>` of an HTML text: its attributes and code. */
function scripts(html) {
  return [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script\s*>/gi)].map(([, attrs, code]) => ({
    attrs,
    code,
    src: attrs.match(/\bsrc\s*=\s*"([^"]*)"/i)?.[1],
    integrity: attrs.match(/\bintegrity\s*=\s*"([^"]*)"/i)?.[1],
  }));
}

function checkHeaders(headers, what) {
  const policy = headers.get('content-security-policy');
  assert.ok(policy, `${what}: no Content-Security-Policy header`);
  const directives = policy.split(';').map((d) => d.trim().replace(/\s+/g, ' '));
  for (const directive of REQUIRED_DIRECTIVES) {
    assert.ok(directives.includes(directive), `${what}: CSP lacks "${directive}": ${policy}`);
  }
  assert.ok(
    directives.some((d) => d.startsWith('frame-ancestors ')),
    `${what}: CSP lacks frame-ancestors: ${policy}`,
  );
  assert.equal(headers.get('x-content-type-options'), 'nosniff', `${what}: X-Content-Type-Options`);
  assert.equal(headers.get('referrer-policy'), 'no-referrer', `${what}: Referrer-Policy`);
}

describe('content security policy', { timeout: 240_000 }, () => {
  let server;
  let browser;

  before(async () => {
    server = await startServer({
      extraArgs: ['--viewer-token', VIEWER_TOKEN, '--publish-token', PUBLISH_TOKEN, '--host-metrics', 'false'],
    });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await server?.stop();
  });

  test('the built index.html has no inline script, and loads its boot script with SRI', () => {
    const html = readFileSync(resolve(STATIC_DIR, 'index.html'), 'utf8');
    const found = scripts(html);
    assert.ok(found.length >= 1, 'no script at all in index.html');
    for (const script of found) {
      assert.ok(script.src, `an inline script in ${STATIC_DIR}/index.html: <script${script.attrs}>${script.code.slice(0, 200)}`);
      assert.equal(script.code.trim(), '', `a script with both src and code: ${script.attrs}`);
      assert.match(script.src, /^\/boot-[0-9a-f]{16}\.js$/, 'the loader is a hashed boot file');
      const bytes = readFileSync(resolve(STATIC_DIR, script.src.replace(/^\//, '')));
      assert.equal(script.integrity, sri(bytes), `integrity of ${script.src}`);
      assert.match(bytes.toString(), /import init/, 'the boot file loads the bundle');
    }
    assert.doesNotMatch(html, /\sstyle\s*=/i, 'a style attribute in index.html');
    assert.doesNotMatch(html, /\son[a-z]+\s*=/i, 'an inline event handler in index.html');
    assert.doesNotMatch(html, /<style\b/i, 'an inline <style> in index.html');
  });

  test('every answer carries the policy and the other security headers', async () => {
    const index = await fetch(`${server.url}/`);
    assert.equal(index.status, 200);
    checkHeaders(index.headers, 'GET /');
    const served = await index.text();
    assert.ok(scripts(served).every((s) => s.src), 'the served index.html has an inline script');
    const boot = scripts(served)[0].src;
    checkHeaders((await fetch(`${server.url}${boot}`)).headers, `GET ${boot}`);
    checkHeaders((await fetch(`${server.url}/d/some/route`)).headers, 'GET /d/some/route (SPA fallback)');
    checkHeaders((await fetch(`${server.url}/api/session`)).headers, 'GET /api/session');
    checkHeaders((await fetch(`${server.url}/api/widgets`)).headers, 'GET /api/widgets (401)');
  });

  test('login, live dashboard and every widget kind without a violation', { timeout: 120_000 }, async (t) => {
    const context = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
    t.after(() => context.close());
    await context.addInitScript(watchCspViolations);
    await context.addInitScript(trackEventSources);
    const page = await context.newPage();
    const problems = [];
    const consoleLines = [];
    page.on('pageerror', (error) => problems.push(`page error: ${error?.stack ?? error}`));
    page.on('console', (message) => {
      consoleLines.push(`${message.type()}: ${message.text()}`);
      if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(`console: ${message.text()}`);
    });
    const violations = () => page.evaluate(() => window.__cspViolations);
    const explain = async () =>
      `\nviolations: ${JSON.stringify(await violations().catch(() => 'n/a'), null, 2)}` +
      `\nproblems: ${problems.join('\n')}\nconsole:\n  ${consoleLines.slice(-30).join('\n  ')}\n${server.output()}`;

    try {
      const response = await page.goto(`${server.url}/`, { waitUntil: 'load', timeout: 30_000 });
      assert.equal(response?.status(), 200);
      assert.ok(response.headers()['content-security-policy'], 'the page was served with a CSP');

      // The app starts at all (its loader ran) and shows the login form.
      await page.waitForSelector('[data-testid="login-form"]', { timeout: DEADLINE_MS });
      await mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: resolve(ARTIFACTS, 'login-light.png') });
      await page.emulateMedia({ colorScheme: 'dark' });
      await page.screenshot({ path: resolve(ARTIFACTS, 'login-dark.png') });
      await page.emulateMedia({ colorScheme: 'light' });

      await page.getByLabel('Viewer token').fill(VIEWER_TOKEN);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.waitForSelector(LIVE_BADGE, { timeout: DEADLINE_MS });

      for (const { id, body, shows } of KINDS) {
        await publish(server.url, id, body);
        await page.waitForFunction(
          ([sel, text]) => document.querySelector(sel)?.textContent.includes(text),
          [card(id), shows],
          { timeout: DEADLINE_MS },
        );
      }

      // Placed through the CSSOM, where style attributes used to do it.
      assert.deepEqual(
        await page.$$eval(`${card('cores')} .list-bar`, (els) => els.map((el) => el.style.width)),
        // As the CSSOM serializes them ("42.0%" reads back "42%").
        ['42%', '7.5%'],
        'list bars',
      );
      const barWidth = await page.$eval(`${card('cores')} .list-bar`, (el) => el.getBoundingClientRect().width);
      assert.ok(barWidth > 10, `the bar is drawn (${barWidth}px)`);
      const yTicks = await page.$$eval(`${card('orders')} .series-y`, (els) => els.map((el) => el.style.top));
      assert.ok(yTicks.length >= 2 && yTicks.every((top) => /^\d+(\.\d+)?%$/.test(top)), `y ticks: ${yTicks}`);
      const tTicks = await page.$$eval(`${card('orders')} .series-time span`, (els) => els.map((el) => el.style.left));
      assert.ok(tTicks.length >= 2 && tTicks.every((left) => /^\d+(\.\d+)?%$/.test(left)), `time ticks: ${tTicks}`);
      // The ticks are spread out, not stacked at the origin.
      const tops = await page.$$eval(`${card('orders')} .series-y`, (els) =>
        els.map((el) => Math.round(el.getBoundingClientRect().top)),
      );
      assert.equal(new Set(tops).size, tops.length, `y ticks at distinct heights: ${tops}`);

      // Still live, and an update moves a bar (the effect reruns).
      await publish(server.url, 'cores', { kind: 'list', rows: [{ label: 'cpu0', value: '90 %' }] });
      await page.waitForFunction(
        (sel) => document.querySelector(sel)?.style.width === '90%',
        `${card('cores')} .list-bar`,
        { timeout: DEADLINE_MS },
      );
      assert.equal(await page.locator(LIVE_BADGE).count(), 1);
      await page.screenshot({ path: resolve(ARTIFACTS, 'csp-all-kinds.png'), fullPage: true });

      // Log out and back in, under the policy too.
      await page.click('[data-testid="logout-button"]');
      await page.waitForSelector('[data-testid="login-form"]', { timeout: DEADLINE_MS });

      assert.deepEqual(await violations(), [], 'CSP violations');
      assert.deepEqual(problems, [], 'console and page problems');
    } catch (error) {
      await mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: resolve(ARTIFACTS, 'csp-failure.png'), fullPage: true }).catch(() => {});
      error.message += await explain();
      throw error;
    }
  });
});
