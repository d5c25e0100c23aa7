// End-to-end: wall screens (issue 14). The real server and SPA in Chromium:
// kiosk mode fitted to 1920x1080 and 1280x720 (no scrollbar, every card on
// screen, screenshots in frontend/e2e/artifacts/), its badge only while not live and its
// wake lock; a dense wall of 120 cards whose every value shows whole; a rotation through three dashboards on one EventSource, each
// showing its values, including one that changed while it was off screen;
// and a page that reloads itself once when its server starts serving
// another build, and not again.
//
// Run: node --test frontend/e2e/wall.test.mjs (after the builds of
// scripts/test.sh: the debug server and frontend/dist).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  launchBrowser,
  openRecordedPage,
  publishWidget,
  screenshotOnFailure,
  startServer,
  waitUntil,
} from './support.mjs';

const TOKEN = 'e2e-wall-publish-token-0001';
const ARTIFACTS = resolve(dirname(fileURLToPath(import.meta.url)), 'artifacts');
const BADGE = '[data-testid="connection-badge"]';
const publish = (url, id, body) => publishWidget(url, TOKEN, id, body);
const baseArgs = ['--publish-token', TOKEN, '--host-metrics', 'false'];

// `wall`: ten cards of mixed sizes; `a`, `b`, `c`: one rotation each;
// `tv`: declared kiosk.
const CONFIG = `
[[dashboard]]
name = "wall"
title = "Wall"
${[
  ['w.orders', 'series', '[2, 1]'],
  ['w.cpu', 'gauge', '[1, 1]'],
  ['w.queue', 'number', '[1, 1]'],
  ['w.status', 'status', '[1, 1]'],
  ['w.deploys', 'log', '[1, 2]'],
  ['w.top', 'list', '[1, 1]'],
  ['w.note', 'text', '[1, 1]'],
  ['w.errors', 'number', '[1, 1]'],
  ['w.latency', 'series', '[2, 1]'],
  ['w.users', 'number', '[1, 1]'],
]
  .map(([id, kind, size]) => `[[dashboard.widget]]\nid = "${id}"\nkind = "${kind}"\nsize = ${size}\n`)
  .join('\n')}

[[dashboard]]
name = "a"
[[dashboard.widget]]
id = "a.value"
kind = "number"

[[dashboard]]
name = "b"
[[dashboard.widget]]
id = "b.value"
kind = "number"

[[dashboard]]
name = "c"
[[dashboard.widget]]
id = "c.value"
kind = "number"

[[dashboard]]
name = "tv"
kiosk = true
[[dashboard.widget]]
id = "a.value"

[[playlist]]
name = "lobby"
dashboards = [{ name = "c", seconds = 1 }, { name = "b", seconds = 2 }]
`;

async function fillWall(url) {
  const now = Date.now();
  const points = Array.from({ length: 30 }, (_, i) => [now - (30 - i) * 1000, 40 + 10 * Math.sin(i / 3)]);
  await publish(url, 'w.orders', { lines: { orders: points } });
  await publish(url, 'w.latency', { lines: { p99: points } });
  await publish(url, 'w.cpu', { value: 42, min: 0, max: 100, unit: '%' });
  await publish(url, 'w.queue', { value: 1234 });
  await publish(url, 'w.status', { level: 'warn', message: 'disk 85 %' });
  await publish(url, 'w.deploys', { lines: ['v1.2.3 deployed', 'v1.2.4 deployed', 'rollback'] });
  await publish(url, 'w.top', { rows: [{ label: 'eu', value: '120' }, { label: 'us', value: '98' }] });
  await publish(url, 'w.note', { text: 'Freeze on Friday' });
  await publish(url, 'w.errors', { value: 3 });
  await publish(url, 'w.users', { value: 98765 });
}

// In the page: where every card is, and whether anything scrolls.
function kioskGeometry() {
  const root = document.scrollingElement ?? document.documentElement;
  const cards = [...document.querySelectorAll('[data-widget-id]')].map((card) => {
    const r = card.getBoundingClientRect();
    return { id: card.dataset.widgetId, left: r.left, top: r.top, right: r.right, bottom: r.bottom };
  });
  const grid = document.querySelector('[data-testid="dashboard"]')?.getBoundingClientRect();
  return {
    width: innerWidth,
    height: innerHeight,
    scrollWidth: root.scrollWidth,
    scrollHeight: root.scrollHeight,
    cards,
    grid: grid && { left: grid.left, top: grid.top, right: grid.right, bottom: grid.bottom },
    header: document.querySelectorAll('.topbar').length,
    cursor: getComputedStyle(document.querySelector('[data-widget-id]')).cursor,
    kiosk: document.documentElement.hasAttribute('data-kiosk'),
  };
}

// For addInitScript: a fake Screen Wake Lock API that counts requests, and a
// way to play "the tab was hidden, now it is visible again".
function fakeWakeLock() {
  const log = { requests: 0, released: 0 };
  window.__wakeLock = log;
  Object.defineProperty(navigator, 'wakeLock', {
    value: {
      request: async (type) => {
        log.requests += 1;
        log.type = type;
        return { release: async () => { log.released += 1; } };
      },
    },
  });
  let hidden = false;
  Object.defineProperty(document, 'hidden', { get: () => hidden });
  Object.defineProperty(document, 'visibilityState', { get: () => (hidden ? 'hidden' : 'visible') });
  window.__setHidden = (value) => {
    hidden = value;
    document.dispatchEvent(new Event('visibilitychange'));
  };
}

describe('wall screens', { timeout: 300_000 }, () => {
  let browser;
  before(async () => {
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close().catch(() => {});
  });

  test('kiosk mode fills the screen, shows the badge only when not live, keeps the screen awake', { timeout: 150_000 }, async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pulseboard-e2e-kiosk-'));
    t.after(() => rmSync(dataDir, { recursive: true, force: true }));
    let server = await startServer({ config: CONFIG, dataDir, extraArgs: baseArgs });
    t.after(() => server.stop());
    await fillWall(server.url);
    mkdirSync(ARTIFACTS, { recursive: true });

    for (const [width, height] of [[1920, 1080], [1280, 720]]) {
      const { page } = await openRecordedPage(browser, t, { width, height });
      await page.context().addInitScript(fakeWakeLock);
      await screenshotOnFailure(page, ARTIFACTS, `kiosk-${width}x${height}`, async () => {
        await page.goto(`${server.url}/d/wall?kiosk`);
        await page.waitForFunction(() => document.querySelectorAll('[data-widget-id]').length === 10
          && document.documentElement.hasAttribute('data-kiosk'), null, { timeout: 30_000 });
        // The grid is laid out (and its text sized) once the fit is applied.
        await page.waitForFunction(() => getComputedStyle(document.documentElement).getPropertyValue('--kiosk-rows') !== '', null, { timeout: 10_000 });
        const g = await page.evaluate(kioskGeometry);
        const where = `${width}x${height}: ${JSON.stringify(g)}`;
        assert.equal(g.header, 0, `no header in kiosk mode: ${where}`);
        assert.equal(g.cursor, 'none', `no cursor: ${where}`);
        assert.ok(g.scrollWidth <= width && g.scrollHeight <= height, `nothing scrolls: ${where}`);
        for (const card of g.cards) {
          assert.ok(card.left >= 0 && card.top >= 0 && card.right <= width + 0.5 && card.bottom <= height + 0.5,
            `card ${card.id} inside the viewport: ${where}`);
        }
        // Edge to edge: the grid is the screen, and the cards cover most of it.
        assert.ok(g.grid.left <= 1 && g.grid.top <= 1 && g.grid.right >= width - 1 && g.grid.bottom >= height - 1,
          `the grid fills the screen: ${where}`);
        const covered = g.cards.reduce((sum, c) => sum + (c.right - c.left) * (c.bottom - c.top), 0);
        assert.ok(covered >= 0.9 * width * height, `cards cover ${Math.round((100 * covered) / (width * height))} % of the screen: ${where}`);
        assert.equal(await page.locator(BADGE).count(), 0, 'no badge while live');
        await page.screenshot({ path: resolve(ARTIFACTS, `kiosk-${width}x${height}.png`) });
        t.diagnostic(`screenshot: frontend/e2e/artifacts/kiosk-${width}x${height}.png`);

        // The wake lock is held, and taken again when the tab is visible again.
        await waitUntil(() => page.evaluate(() => window.__wakeLock.requests >= 1), 'a wake lock request', 10_000);
        assert.equal(await page.evaluate(() => window.__wakeLock.type), 'screen');
        await page.evaluate(() => window.__setHidden(true));
        await page.evaluate(() => window.__setHidden(false));
        await waitUntil(() => page.evaluate(() => window.__wakeLock.requests >= 2), 'the wake lock taken again', 10_000);
      });
    }

    // A dashboard declared kiosk is shown so without ?kiosk; the badge shows
    // up while the server is gone, and goes once the stream is live again.
    const { page } = await openRecordedPage(browser, t, { width: 1280, height: 720 });
    await screenshotOnFailure(page, ARTIFACTS, 'kiosk-badge', async () => {
      await page.goto(`${server.url}/d/tv`);
      await page.waitForSelector('[data-widget-id="a.value"]', { timeout: 30_000 });
      assert.equal(await page.evaluate(() => document.documentElement.hasAttribute('data-kiosk')), true);
      assert.equal(await page.locator('.topbar').count(), 0);
      assert.equal(await page.locator(BADGE).count(), 0);
      const addr = new URL(server.url).host;
      await server.kill('SIGKILL');
      await page.waitForSelector(`${BADGE}[data-state="reconnecting"], ${BADGE}[data-state="offline"]`, { timeout: 30_000 });
      await page.screenshot({ path: resolve(ARTIFACTS, 'kiosk-badge-reconnecting.png') });
      server = await startServer({ config: CONFIG, dataDir, addr, extraArgs: baseArgs });
      await page.waitForFunction((sel) => document.querySelectorAll(sel).length === 0, BADGE, { timeout: 30_000 });
    });
  });

  test('a dense kiosk wall (120 cards on 1280x720) still shows every value, whole', { timeout: 120_000 }, async (t) => {
    const server = await startServer({ extraArgs: baseArgs });
    t.after(() => server.stop());
    const ids = Array.from({ length: 120 }, (_, i) => `dense.n${String(i).padStart(3, '0')}`);
    // Two values each, so every number has a change and a sparkline to drop.
    for (const value of [1000, 123456]) {
      const response = await fetch(`${server.url}/api/batch`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ updates: ids.map((id) => ({ id, kind: 'number', value })) }),
      });
      assert.equal(response.status, 200, await response.text());
    }
    mkdirSync(ARTIFACTS, { recursive: true });
    const [width, height] = [1280, 720];
    const { page } = await openRecordedPage(browser, t, { width, height });
    await screenshotOnFailure(page, ARTIFACTS, 'kiosk-dense', async () => {
      await page.goto(`${server.url}/?kiosk`);
      await page.waitForFunction((n) => document.querySelectorAll('[data-widget-id]').length === n
        && document.documentElement.hasAttribute('data-kiosk-dense'), ids.length, { timeout: 30_000 });
      await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="widget-value"]')]
        .every((v) => v.textContent.includes('123')), null, { timeout: 30_000 });
      const g = await page.evaluate(kioskGeometry);
      assert.ok(g.scrollWidth <= width && g.scrollHeight <= height, `nothing scrolls: ${JSON.stringify(g).slice(0, 400)}`);
      // Each card's value: shown, inside its card's body (not cut by it, so
      // not faded out either), in text no smaller than the root font.
      const values = await page.evaluate(() => [...document.querySelectorAll('[data-widget-id]')].map((card) => {
        const body = card.querySelector('.card-body').getBoundingClientRect();
        const value = card.querySelector('[data-testid="widget-value"]');
        const r = value.getBoundingClientRect();
        const figure = value.querySelector('.figure').getBoundingClientRect();
        return {
          id: card.dataset.widgetId,
          inside: r.height > 0 && r.top >= body.top - 0.5 && r.bottom <= body.bottom + 0.5
            && figure.left >= body.left - 0.5 && figure.right <= body.right + 0.5,
          cut: card.querySelector('.card-body').classList.contains('clip--cut'),
          fontPx: parseFloat(getComputedStyle(value).fontSize),
          sparkline: card.querySelector('[data-testid="sparkline"]')?.getBoundingClientRect().height ?? 0,
        };
      }));
      const rootPx = await page.evaluate(() => parseFloat(getComputedStyle(document.documentElement).fontSize));
      for (const v of values) {
        assert.ok(v.inside && !v.cut, `the value of ${v.id} shows whole: ${JSON.stringify(v)}`);
        assert.ok(v.fontPx >= rootPx, `the value of ${v.id} is at least the root font (${rootPx} px): ${JSON.stringify(v)}`);
        assert.equal(v.sparkline, 0, `no sparkline on a dense wall: ${JSON.stringify(v)}`);
      }
      await page.screenshot({ path: resolve(ARTIFACTS, 'kiosk-dense-1280x720.png') });
      t.diagnostic('screenshot: frontend/e2e/artifacts/kiosk-dense-1280x720.png');
    });
  });

  test('a rotation shows three dashboards on one EventSource, each with its current values', { timeout: 120_000 }, async (t) => {
    const server = await startServer({ config: CONFIG, extraArgs: baseArgs });
    t.after(() => server.stop());
    for (const name of ['a', 'b', 'c']) await publish(server.url, `${name}.value`, { value: 1 });

    const { page, streams } = await openRecordedPage(browser, t);
    // Every value a card shows, as it appears in the DOM (before any paint).
    await page.context().addInitScript(() => {
      window.__shown = [];
      const record = () => {
        for (const card of document.querySelectorAll('[data-widget-id]')) {
          const value = card.querySelector('[data-testid="widget-value"]')?.textContent;
          const id = card.dataset.widgetId;
          const last = window.__shown.findLast((s) => s.id === id);
          if (!last || last.value !== value || !last.present) window.__shown.push({ id, value, present: true, at: Date.now() });
        }
        for (const id of ['a.value', 'b.value', 'c.value']) {
          const last = window.__shown.findLast((s) => s.id === id);
          if (last?.present && !document.querySelector(`[data-widget-id="${id}"]`)) window.__shown.push({ id, present: false, at: Date.now() });
        }
      };
      new MutationObserver(record).observe(document, { subtree: true, childList: true, characterData: true });
    });
    const onScreen = () => page.evaluate(() => ['a', 'b', 'c'].find((n) => document.querySelector(`[data-widget-id="${n}.value"]`)));

    await screenshotOnFailure(page, ARTIFACTS, 'rotation', async () => {
      await page.goto(`${server.url}/?rotate=2s&dashboards=a,b,c`);
      await waitUntil(async () => (await onScreen()) === 'a', 'dashboard a on screen', 30_000, 20);
      // c changes while a is on screen.
      await publish(server.url, 'c.value', { value: 33 });
      await waitUntil(async () => (await onScreen()) === 'b', 'dashboard b next', 10_000, 20);
      await publish(server.url, 'a.value', { value: 11 });
      await waitUntil(async () => (await onScreen()) === 'c', 'dashboard c next', 10_000, 20);
      await waitUntil(async () => (await onScreen()) === 'a', 'back to a', 10_000, 20);

      const shown = await page.evaluate(() => window.__shown);
      const values = (id) => shown.filter((s) => s.id === id && s.present).map((s) => s.value);
      assert.deepEqual(values('c.value'), ['33'], `c only ever showed its current value: ${JSON.stringify(shown)}`);
      assert.deepEqual(values('b.value'), ['1'], JSON.stringify(shown));
      assert.deepEqual(values('a.value'), ['1', '11'], JSON.stringify(shown));
      const sources = await page.evaluate(() => ({ ...window.__eventSources, open: window.__openEventSources() }));
      assert.equal(sources.urls.length, 1, `one EventSource for the whole rotation: ${JSON.stringify(sources)}`);
      assert.equal(sources.overlaps, 0);
      assert.equal(sources.open, 1);
      assert.equal(streams[0].searchParams.get('dashboards'), 'a,b,c');
    });

    // A declared playlist: its dashboards in its order and times.
    const second = await openRecordedPage(browser, t);
    await second.page.goto(`${server.url}/?playlist=lobby`);
    const seen = [];
    await waitUntil(async () => {
      const name = await second.page.evaluate(() => ['a', 'b', 'c'].find((n) => document.querySelector(`[data-widget-id="${n}.value"]`)));
      if (name && seen.at(-1) !== name) seen.push(name);
      return seen.length >= 4;
    }, 'the playlist to go round twice', 20_000, 20);
    assert.deepEqual(seen.slice(0, 4), ['c', 'b', 'c', 'b']);
    assert.equal(second.streams.length, 1);
    assert.equal(second.streams[0].searchParams.get('playlist'), 'lobby');
  });

  test('a page reloads itself once when the server serves another build', { timeout: 120_000 }, async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pulseboard-e2e-build-'));
    t.after(() => rmSync(dataDir, { recursive: true, force: true }));
    let server = await startServer({ config: CONFIG, dataDir, extraArgs: baseArgs });
    t.after(() => server.stop());
    await publish(server.url, 'a.value', { value: 5 });
    const addr = new URL(server.url).host;

    const { page, streams, consoleLines } = await openRecordedPage(browser, t);
    let loads = 0;
    page.on('load', () => { loads += 1; });
    const live = `${BADGE}[data-state="live"]`;
    await screenshotOnFailure(page, ARTIFACTS, 'reload', async () => {
      await page.goto(`${server.url}/d/a`);
      await page.waitForSelector(live, { timeout: 30_000 });
      assert.ok(streams[0].searchParams.get('build'), `the stream says which build the page runs: ${streams[0]}`);
      await page.evaluate(() => { window.__before = true; });

      // A deploy: the same data, another build.
      await server.kill('SIGTERM');
      server = await startServer({ config: CONFIG, dataDir, addr, extraArgs: [...baseArgs, '--build-id', 'deployed-build-1'] });
      await waitUntil(() => loads >= 2, 'the page to reload itself', 30_000);
      await page.waitForSelector(live, { timeout: 30_000 });
      assert.equal(await page.evaluate(() => window.__before), undefined, 'a new document');
      assert.equal(await page.textContent('[data-widget-id="a.value"] [data-testid="widget-value"]'), '5');

      // The reload brought back the same build (the test's server says
      // another one, as a cache in front of it might): no second reload.
      await page.waitForTimeout(4_000);
      assert.equal(loads, 2, `no reload loop:\n${consoleLines.join('\n')}`);

      // Another deploy right after: at most one reload per 5 minutes.
      await server.kill('SIGTERM');
      server = await startServer({ config: CONFIG, dataDir, addr, extraArgs: [...baseArgs, '--build-id', 'deployed-build-2'] });
      await page.waitForSelector(live, { timeout: 30_000 });
      await page.waitForTimeout(3_000);
      assert.equal(loads, 2, `builds that keep changing do not reload every time:\n${consoleLines.join('\n')}`);
      assert.ok(consoleLines.some((line) => line.includes('deployed-build-1')), consoleLines.join('\n'));
    });
  });
});
