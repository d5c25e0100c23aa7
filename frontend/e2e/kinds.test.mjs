// End-to-end: declared dashboards and every widget kind. The real server runs
// with a pulseboard.toml declaring two dashboards; the test publishes one value
// of each of the seven kinds over HTTP (as a cron job or a deploy script
// would) and checks that the open page shows each within a second, that each
// dashboard shows only its own widgets, that undeclared widgets land under
// "Unsorted" on the default dashboard, that a widget past its `expect_every`
// turns stale, and that DELETE takes a card away. It leaves a screenshot of
// the full dashboard in frontend/e2e/artifacts/.
//
// Run: node --test frontend/e2e/   (after `cargo build -p pulseboard-server`
// and `trunk build --release` in frontend/; scripts/test.sh does all of it).
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { launchBrowser, publishWidget, startServer, trackEventSources, waitUntil } from './support.mjs';

const ARTIFACTS = resolve(dirname(fileURLToPath(import.meta.url)), 'artifacts');
const SCREENSHOT = resolve(ARTIFACTS, 'dashboard-all-kinds.png');
const TOKEN = 'e2e-kinds-publish-token';
/** The promise under test: a published value is on screen within this. */
const MAX_LATENCY_MS = 1_000;
/** How long any wait may take before the test gives up (a slow CI machine). */
const DEADLINE_MS = 15_000;

// `ops` comes first, so it is the default dashboard (at `/`); it declares one
// widget of each kind plus `cron`, which promises an update every second.
// `sales` declares `revenue` and `signups` (never published: a placeholder).
const CONFIG = `
[[dashboard]]
name = "ops"
title = "Operations"

[[dashboard.widget]]
id = "orders"
title = "Orders per minute"
kind = "series"
unit = "/min"
size = [2, 1]

[[dashboard.widget]]
id = "queue"
title = "Queue"
kind = "gauge"
thresholds = { warn = 5, critical = 9 }

[[dashboard.widget]]
id = "latency"
title = "Latency"
kind = "number"

[[dashboard.widget]]
id = "pages"
title = "Top pages"
kind = "list"

[[dashboard.widget]]
id = "build"
title = "Build"
kind = "status"

[[dashboard.widget]]
id = "motd"
title = "Message of the day"
kind = "text"

[[dashboard.widget]]
id = "deploys"
title = "Deploys"
kind = "log"
size = [2, 1]

[[dashboard.widget]]
id = "cron"
title = "Nightly job"
kind = "status"
expect_every = 1

[[dashboard]]
name = "sales"
title = "Sales"

[[dashboard.widget]]
id = "revenue"
kind = "number"
unit = "EUR"

[[dashboard.widget]]
id = "signups"
kind = "number"
`;

const now = Date.now();
// One value of each kind, as a publisher sends it, and a text the card must
// show once it arrived.
const KINDS = [
  {
    id: 'latency',
    kind: 'number',
    body: { kind: 'number', value: 42, unit: 'ms', thresholds: { warn: 70, critical: 90 } },
    shows: '42',
  },
  { id: 'queue', kind: 'gauge', body: { kind: 'gauge', value: 7, min: 0, max: 10, unit: 'jobs' }, shows: '7' },
  {
    id: 'orders',
    kind: 'series',
    body: {
      kind: 'series',
      lines: {
        orders: [
          [now - 240_000, 12],
          [now - 180_000, 18],
          [now - 120_000, 15],
          [now - 60_000, 21],
          [now, 19],
        ],
        refunds: [
          [now - 240_000, 2],
          [now - 120_000, 4],
          [now, 3],
        ],
      },
      unit: '/min',
      window: 600,
    },
    shows: '19',
  },
  {
    id: 'pages',
    kind: 'list',
    body: {
      kind: 'list',
      rows: [
        { label: '/home', value: '1,204' },
        { label: '/pricing', value: '311' },
      ],
    },
    shows: '/home',
  },
  { id: 'build', kind: 'status', body: { kind: 'status', level: 'warn', message: 'flaky test' }, shows: 'Warning' },
  { id: 'motd', kind: 'text', body: { kind: 'text', text: 'hello from e2e' }, shows: 'hello from e2e' },
  { id: 'deploys', kind: 'log', body: { kind: 'log', lines: ['deployed v1.1', 'deployed v1.2'] }, shows: 'deployed v1.2' },
];

const card = (id) => `[data-widget-id="${id}"]`;
const LIVE_BADGE = '[data-testid="connection-badge"][data-state="live"]';
const NAV = '[data-testid="dashboard-nav"]';

const publish = (url, id, body) => publishWidget(url, TOKEN, id, body);
const until = (condition, what, timeoutMs = DEADLINE_MS) => waitUntil(condition, what, timeoutMs, 50);

async function remove(url, id) {
  const response = await fetch(`${url}/api/widgets/${id}`, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  assert.ok(response.ok, `DELETE /api/widgets/${id}: ${response.status} ${await response.text()}`);
}

// Runs in the page before the SPA. Records, for each awaited widget, the
// moment (Date.now(), the same clock as the test's) its card first showed the
// expected text, and whether it was stale then: a MutationObserver sees the
// DOM change as it happens, so polling from the test adds no latency.
function watchWidgets() {
  const awaited = new Map();
  const seen = {};
  window.__awaitWidget = (id, text) => awaited.set(id, text);
  window.__seenWidgets = seen;
  const check = () => {
    for (const [id, text] of awaited) {
      const el = document.querySelector(`[data-widget-id="${id}"]:not([data-empty])`);
      if (el && el.textContent.includes(text)) {
        seen[id] = { at: Date.now(), stale: el.dataset.stale === 'true' };
        awaited.delete(id);
      }
    }
  };
  new MutationObserver(check).observe(document, {
    subtree: true,
    childList: true,
    characterData: true,
    attributes: true,
  });
}

const ids = (page, selector) =>
  page.$$eval(`${selector} [data-widget-id]`, (els) => els.map((el) => el.dataset.widgetId));

describe('dashboards and widget kinds', { timeout: 240_000 }, () => {
  let server;
  let browser;

  before(async () => {
    server = await startServer({
      config: CONFIG,
      extraArgs: ['--publish-token', TOKEN, '--host-metrics', 'false'],
    });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await server?.stop();
  });

  /** A page on `path` with the watchers installed, once its stream is live. */
  async function open(t, path) {
    const context = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
    t.after(() => context.close());
    await context.addInitScript(watchWidgets);
    await context.addInitScript(trackEventSources);
    const page = await context.newPage();
    const problems = [];
    page.on('pageerror', (error) => problems.push(`page error: ${error?.stack ?? error}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
    });
    const response = await page.goto(`${server.url}${path}`, { waitUntil: 'load', timeout: 30_000 });
    assert.equal(response?.status(), 200, `GET ${path}`);
    await page.waitForSelector(LIVE_BADGE, { timeout: 30_000 });
    const explain = () => `\n${problems.join('\n')}\n${server.output()}`;
    return { page, problems, explain };
  }

  async function screenshotOnFailure(page, name, fn) {
    try {
      await fn();
    } catch (error) {
      await mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: resolve(ARTIFACTS, `${name}-failure.png`), fullPage: true }).catch(() => {});
      error.message += `\n${server.output()}`;
      throw error;
    }
  }

  test('every kind shows within a second of its publish', { timeout: 120_000 }, async (t) => {
    const { page, problems, explain } = await open(t, '/');
    await screenshotOnFailure(page, 'kinds', async () => {
      // The menu lists both dashboards, the default one marked.
      await page.waitForSelector(`${NAV} [data-dashboard="ops"][aria-current="page"]`, { timeout: DEADLINE_MS });
      const menu = await page.$$eval(`${NAV} [data-dashboard]`, (els) => els.map((el) => el.dataset.dashboard));
      assert.deepEqual(menu, ['ops', 'sales'], `menu${explain()}`);
      await until(async () => (await page.title()).startsWith('Operations'), 'the title "Operations …"');

      // Before any publish, the declared widgets wait in declared order.
      const declared = ['orders', 'queue', 'latency', 'pages', 'build', 'motd', 'deploys', 'cron'];
      assert.deepEqual(await ids(page, '[data-testid="dashboard"]'), declared, `declared order${explain()}`);
      for (const id of declared) {
        assert.equal(await page.getAttribute(card(id), 'data-empty'), 'true', `${id} waits for data`);
      }

      for (const { id, kind, body, shows } of KINDS) {
        await page.evaluate(([widget, text]) => window.__awaitWidget(widget, text), [id, shows]);
        const { sent, answered } = await publish(server.url, id, body);
        const seen = await until(
          () => page.evaluate((widget) => window.__seenWidgets[widget], id),
          `${kind} widget ${id} to show "${shows}"`,
        );
        // The server broadcasts before it answers, so the page may well be
        // first: that counts as 0.
        const latency = Math.max(0, seen.at - answered);
        t.diagnostic(`${kind}: on screen ${seen.at - sent} ms after the POST was sent, ${seen.at - answered} ms after its 2xx`);
        assert.ok(latency <= MAX_LATENCY_MS, `${kind} took ${latency} ms (max ${MAX_LATENCY_MS})${explain()}`);
        assert.equal(await page.getAttribute(card(id), 'data-kind'), kind);
        assert.equal(await page.getAttribute(card(id), 'data-empty'), null);
      }

      // Kind-specific rendering.
      // A number's update replaces it whole: unit and thresholds come again.
      await publish(server.url, 'latency', { value: 95, unit: 'ms', thresholds: { warn: 70, critical: 90 } });
      await page.waitForSelector(`${card('latency')}[data-level="critical"]`, { timeout: DEADLINE_MS });
      // Screen readers get the exact value and the level for the figure.
      assert.equal(await page.getByRole('img', { name: '95 ms, critical', exact: true }).count(), 1);
      assert.match(await page.textContent(`${card('latency')} [data-testid="number-delta"]`), /▲\s*53/);
      // Rising towards `critical`: the arrow says it is bad news.
      await page.waitForSelector(`${card('latency')} [data-testid="number-delta"].delta--worse`, { timeout: DEADLINE_MS });
      await page.waitForSelector(`${card('latency')} [data-testid="sparkline"] path`, { timeout: DEADLINE_MS });
      // The gauge has no thresholds of its own: the declared ones apply (7 >= warn 5).
      assert.equal(await page.getAttribute(card('queue'), 'data-level'), 'warn');
      assert.equal(await page.getAttribute(card('build'), 'data-level'), 'warn');
      assert.match(await page.textContent(card('build')), /flaky test/);
      const legend = await page.textContent(`${card('orders')} .legend`);
      assert.match(legend, /orders/);
      assert.match(legend, /refunds/);
      assert.ok((await page.locator(`${card('orders')} .series-y`).count()) >= 2, 'value ticks');
      assert.ok((await page.locator(`${card('orders')} .series-time span`).count()) >= 2, 'time ticks');
      // Newest log line first.
      const lines = await page.$$eval(`${card('deploys')} .log-text`, (els) => els.map((el) => el.textContent));
      assert.deepEqual(lines, ['deployed v1.2', 'deployed v1.1']);
      assert.match(await page.textContent(`${card('deploys')} .log-time`), /^\d\d:\d\d:\d\d$/);
      // Declared title and unit fill in what the value lacks.
      assert.match(await page.textContent(`${card('orders')} .card-title`), /Orders per minute/);

      // The full dashboard, every kind on it.
      await mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      t.diagnostic(`screenshot: ${SCREENSHOT}`);
    });
    assert.deepEqual(problems, [], `page problems${explain()}`);
  });

  test('a widget past its expect_every turns stale', { timeout: 60_000 }, async (t) => {
    const { page, problems, explain } = await open(t, '/');
    await screenshotOnFailure(page, 'stale', async () => {
      await page.evaluate(() => window.__awaitWidget('cron', 'OK'));
      await publish(server.url, 'cron', { kind: 'status', level: 'ok', message: 'ran at midnight' });
      const seen = await until(() => page.evaluate(() => window.__seenWidgets.cron), 'the cron widget');
      assert.equal(seen.stale, false, `fresh when it arrives${explain()}`);
      // Nothing more is published: one second (plus the grace) later it is stale.
      await page.waitForSelector(`${card('cron')}[data-stale="true"]`, { timeout: DEADLINE_MS });
      assert.match(await page.textContent(`${card('cron')} [data-testid="widget-age"]`), /^updated \d+s ago$/);
      // A new value makes it fresh again.
      await publish(server.url, 'cron', { kind: 'status', level: 'ok', message: 'ran again' });
      await page.waitForSelector(`${card('cron')}:not([data-stale])`, { timeout: DEADLINE_MS });
    });
    assert.deepEqual(problems, [], `page problems${explain()}`);
  });

  test('each dashboard shows its own widgets; undeclared ones are unsorted', { timeout: 90_000 }, async (t) => {
    await publish(server.url, 'revenue', { value: 1234.5 });
    await publish(server.url, 'stray', { kind: 'text', text: 'nobody declared me' });
    const { page, problems, explain } = await open(t, '/');
    await screenshotOnFailure(page, 'dashboards', async () => {
      // The default dashboard collects what no dashboard declares.
      await page.waitForSelector(`[data-testid="unsorted"] ${card('stray')}`, { timeout: DEADLINE_MS });
      assert.equal(await page.locator(card('revenue')).count(), 0, `sales' widget on ops${explain()}`);

      // Navigating in place: one stream at a time, a fresh one for the new
      // dashboard (no resume id: another filter), no reload.
      await page.evaluate(() => {
        window.__sameDocument = true;
      });
      await page.click(`${NAV} [data-dashboard="sales"]`);
      await page.waitForURL(`${server.url}/d/sales`);
      await page.waitForSelector(`${card('revenue')} [data-testid="widget-value"]`, { timeout: DEADLINE_MS });
      await page.waitForSelector(LIVE_BADGE, { timeout: DEADLINE_MS });
      assert.deepEqual(await ids(page, 'main'), ['revenue', 'signups'], `sales shows only its own${explain()}`);
      assert.equal(await page.getAttribute(card('signups'), 'data-empty'), 'true');
      assert.match(await page.textContent(`${card('revenue')} [data-testid="widget-value"]`), /1,?234/);
      assert.equal(await page.getAttribute(`${NAV} [data-dashboard="sales"]`, 'aria-current'), 'page');
      await until(async () => (await page.title()).startsWith('Sales'), 'the title "Sales …"');
      const tracked = await page.evaluate(() => window.__eventSources);
      assert.equal(tracked.overlaps, 0, `EventSources overlapped${explain()}`);
      const last = new URL(tracked.urls.at(-1), server.url);
      assert.equal(last.searchParams.get('dashboard'), 'sales');
      assert.equal(last.searchParams.has('last_event_id'), false, `a new filter starts over: ${last}`);
      assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was reloaded');

      // Back to the default dashboard with the browser's back button.
      await page.goBack();
      await page.waitForSelector(`[data-testid="unsorted"] ${card('stray')}`, { timeout: DEADLINE_MS });
      assert.equal(await page.locator(card('revenue')).count(), 0);
      assert.equal((await page.evaluate(() => window.__eventSources)).overlaps, 0);

      // DELETE: an undeclared widget's card goes; a declared one waits again.
      await remove(server.url, 'stray');
      await page.waitForSelector(card('stray'), { state: 'detached', timeout: DEADLINE_MS });
      await remove(server.url, 'motd');
      await page.waitForSelector(`${card('motd')}[data-empty="true"]`, { timeout: DEADLINE_MS });
    });
    assert.deepEqual(problems, [], `page problems${explain()}`);
  });

  test('a dashboard opened by its address shows only its widgets', { timeout: 60_000 }, async (t) => {
    const { page, problems, explain } = await open(t, '/d/sales');
    await page.waitForSelector(`${card('revenue')}:not([data-empty])`, { timeout: DEADLINE_MS });
    assert.deepEqual(await ids(page, 'main'), ['revenue', 'signups'], `sales by address${explain()}`);
    assert.equal(await page.locator('[data-testid="unsorted"]').count(), 0);
    assert.deepEqual(problems, [], `page problems${explain()}`);
  });

  test('an unknown dashboard says so and links to the real ones', { timeout: 60_000 }, async (t) => {
    const { page, problems, explain } = await open(t, '/d/nope');
    const notFound = '[data-testid="dashboard-not-found"]';
    await page.waitForSelector(notFound, { timeout: DEADLINE_MS });
    assert.match(await page.textContent(notFound), /No dashboard named nope/);
    const links = await page.$$eval(`${notFound} [data-dashboard]`, (els) =>
      els.map((el) => [el.dataset.dashboard, el.getAttribute('href')]),
    );
    assert.deepEqual(links, [['ops', '/'], ['sales', '/d/sales']], `links${explain()}`);
    assert.equal(await page.locator('[data-widget-id]').count(), 0);
    assert.deepEqual(problems, [], `page problems${explain()}`);
  });
});
