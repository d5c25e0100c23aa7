// End-to-end: the dashboard survives its server going away. The real server
// binary is killed (or stopped gracefully) and started again on the same
// address; the open page must notice and say so, retry by itself with growing
// delays, resume from the last event it applied, and carry on updating, all
// without a reload. Also: the browser going offline and coming back.
//
// Run: node --test frontend/e2e/   (after `cargo build -p pulseboard-server`
// and `trunk build --release` in frontend/; scripts/test.sh does all of it).
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  launchBrowser,
  metric,
  openRecordedPage,
  repoRoot,
  screenshotOnFailure,
  startServer,
  waitUntil,
} from './support.mjs';

const BADGE = '[data-testid="connection-badge"]';
const badgeIn = (state) => `${BADGE}[data-state="${state}"]`;
const LAST_EVENT_AGE = '[data-testid="last-event-age"]';
const CPU_VALUE = '[data-widget-id="host.cpu"] [data-testid="widget-value"]';
const CPU_HISTORY = '[data-widget-id="host.cpu_history"]';
const SCREENSHOTS = resolve(repoRoot, 'target', 'e2e');

const until = (condition, what, timeoutMs = 30_000) => waitUntil(condition, what, timeoutMs);

/** A browser page on `url` that records the stream requests it makes. */
async function openDashboard(browser, t, url) {
  const { context, page, streams, pageErrors, consoleLines } = await openRecordedPage(browser, t);
  const response = await page.goto(`${url}/`, { waitUntil: 'load', timeout: 30_000 });
  assert.equal(response?.status(), 200, 'GET /');
  await page.waitForSelector(badgeIn('live'), { timeout: 30_000 });
  await page.waitForFunction((sel) => /\d/.test(document.querySelector(sel)?.textContent ?? ''), CPU_VALUE, {
    timeout: 30_000,
    polling: 100,
  });
  // Gone if anything reloads the page.
  await page.evaluate(() => {
    window.__sameDocument = true;
  });
  const explain = () =>
    `\nstream requests: ${JSON.stringify(streams.map((u) => u.pathname + u.search))}` +
    `\npage errors: ${JSON.stringify(pageErrors)}\nconsole:\n  ${consoleLines.slice(-40).join('\n  ')}`;
  return { context, page, streams, pageErrors, consoleLines, explain };
}

/** Waits until the markup of `selector` has changed `times` times. */
async function waitForChanges(page, selector, times) {
  for (let change = 1; change <= times; change += 1) {
    const previous = await page.$eval(selector, (el) => el.outerHTML);
    await page.waitForFunction(
      ([sel, html]) => document.querySelector(sel)?.outerHTML !== html,
      [selector, previous],
      { timeout: 15_000, polling: 50 },
    ).catch((error) => {
      throw new Error(`${selector} did not change (change ${change} of ${times}): ${error.message}`);
    });
  }
}

async function attempt(page) {
  return page.$eval(BADGE, (el) => Number(el.dataset.attempt));
}

describe('pulseboard reconnects', { timeout: 300_000 }, () => {
  let browser;

  before(async () => {
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close().catch(() => {});
  });

  for (const signal of ['SIGKILL', 'SIGTERM']) {
    const how = signal === 'SIGKILL' ? 'killed' : 'stopped gracefully';
    test(`recovers without a reload when the server is ${how} and restarted`, { timeout: 120_000 }, async (t) => {
      let server = await startServer();
      t.after(() => server.stop());
      const addr = new URL(server.url).host;
      const { page, streams, pageErrors, explain } = await openDashboard(browser, t, server.url);
      const explainAll = () => `${explain()}\n${server.output()}`;

      await screenshotOnFailure(page, SCREENSHOTS, `reconnect-${signal}`, async () => {
        assert.match(await page.textContent(LAST_EVENT_AGE), /^last event \d+s ago$/, `last event age${explainAll()}`);
        assert.equal(streams.length, 1, `one stream while live${explainAll()}`);

        await server.kill(signal);

        // The badge says so at once, and the retries go on while the server
        // is away (each one fails, so the attempt number grows).
        await page.waitForSelector(badgeIn('reconnecting'), { timeout: 30_000 });
        await page.waitForFunction((sel) => Number(document.querySelector(sel)?.dataset.attempt) >= 2, BADGE, {
          timeout: 30_000,
          polling: 50,
        });
        const attemptsWhileDown = await attempt(page);
        assert.match(
          (await page.textContent(BADGE)) ?? '',
          /Reconnecting.*attempt \d+ · (in \d+s|connecting…)/,
          `badge text while down${explainAll()}`,
        );

        server = await startServer({ addr });
        await page.waitForSelector(badgeIn('live'), { timeout: 60_000 }).catch((error) => {
          throw new Error(`not live again after the restart: ${error.message}${explainAll()}`);
        });

        // The same document throughout: no reload, no second navigation.
        assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was reloaded');
        assert.equal(await page.evaluate(() => performance.getEntriesByType('navigation').length), 1);

        // The new server's values arrive.
        await waitForChanges(page, CPU_HISTORY, 4);
        assert.equal(await page.locator(badgeIn('live')).count(), 1, `badge no longer live${explainAll()}`);
        assert.equal(await page.$eval(BADGE, (el) => el.hasAttribute('data-attempt')), false);

        // Every stream after the first resumed from an event id; the new
        // server (another epoch) answered with a reset.
        assert.ok(streams.length >= 1 + attemptsWhileDown, `one request per attempt${explainAll()}`);
        assert.equal(streams[0].searchParams.has('last_event_id'), false, 'the first stream asks for init');
        for (const url of streams.slice(1)) {
          assert.match(url.searchParams.get('last_event_id') ?? '', /^[A-Za-z0-9]+-\d+$/, `resume id in ${url}`);
        }
        const resets = await metric(server.url, 'pulseboard_resets_sent_total{reason="foreign_epoch"}');
        assert.ok(resets >= 1, `expected a foreign_epoch reset, got ${resets}${explainAll()}`);

        // One EventSource at a time, and every request to /api/events was one
        // the SPA made (the browser never retried behind its back).
        const tracked = await page.evaluate(() => window.__eventSources);
        assert.equal(tracked.overlaps, 0, `EventSources overlapped${explainAll()}`);
        assert.equal(tracked.urls.length, streams.length, `stream requests vs EventSources${explainAll()}`);
        assert.deepEqual(pageErrors, [], `uncaught page errors${explainAll()}`);
      });
    });
  }

  test('replaces a connection that went silent (no heartbeat)', { timeout: 120_000 }, async (t) => {
    const server = await startServer();
    // Never leave a frozen server behind, whatever happens below.
    const resume = () => {
      try {
        process.kill(server.pid, 'SIGCONT');
      } catch {
        // Already gone.
      }
    };
    t.after(async () => {
      resume();
      await server.stop();
    });
    const { page, streams, pageErrors, consoleLines, explain } = await openDashboard(browser, t, server.url);
    const explainAll = () => `${explain()}\n${server.output()}`;

    await screenshotOnFailure(page, SCREENSHOTS, 'silent', async () => {
      // A frozen server keeps its connections open but says nothing: only the
      // heartbeat watchdog (2.5 intervals of 1 s here) can tell.
      process.kill(server.pid, 'SIGSTOP');
      await page.waitForSelector(badgeIn('reconnecting'), { timeout: 30_000 }).catch((error) => {
        throw new Error(`silence went unnoticed: ${error.message}${explainAll()}`);
      });
      assert.ok(
        consoleLines.some((line) => line.includes('no heartbeat')),
        `the watchdog, not an error, noticed${explainAll()}`,
      );
      resume();
      await page.waitForSelector(badgeIn('live'), { timeout: 60_000 }).catch((error) => {
        throw new Error(`not live again after the server resumed: ${error.message}${explainAll()}`);
      });
      await waitForChanges(page, CPU_HISTORY, 2);

      assert.ok(streams.length >= 2, `a new stream was opened${explainAll()}`);
      for (const url of streams.slice(1)) {
        assert.match(url.searchParams.get('last_event_id') ?? '', /^[A-Za-z0-9]+-\d+$/, `resume id in ${url}`);
      }
      const tracked = await page.evaluate(() => window.__eventSources);
      assert.equal(tracked.overlaps, 0, `EventSources overlapped${explainAll()}`);
      assert.deepEqual(pageErrors, [], `uncaught page errors${explainAll()}`);
    });
  });

  test('shows offline, and resumes on the same server once back online', { timeout: 120_000 }, async (t) => {
    const server = await startServer();
    t.after(() => server.stop());
    const { context, page, streams, pageErrors, explain } = await openDashboard(browser, t, server.url);
    const explainAll = () => `${explain()}\n${server.output()}`;

    await screenshotOnFailure(page, SCREENSHOTS, 'offline', async () => {
      await context.setOffline(true);
      await page.waitForSelector(badgeIn('offline'), { timeout: 30_000 }).catch((error) => {
        throw new Error(`badge not offline: ${error.message}${explainAll()}`);
      });
      // Events missed meanwhile (the server samples every 250 ms) ...
      const publishedOffline = await metric(server.url, 'pulseboard_events_published_total');
      await until(
        async () => (await metric(server.url, 'pulseboard_events_published_total')) > publishedOffline + 10,
        'events published while offline',
      );
      const replayedBefore = await metric(server.url, 'pulseboard_events_replayed_total');

      await context.setOffline(false);
      await page.waitForSelector(badgeIn('live'), { timeout: 30_000 }).catch((error) => {
        throw new Error(`not live again once online: ${error.message}${explainAll()}`);
      });
      await waitForChanges(page, CPU_HISTORY, 2);

      // ... are replayed from the history: same epoch, so no reset.
      const last = streams.at(-1);
      assert.match(last.searchParams.get('last_event_id') ?? '', /^[A-Za-z0-9]+-\d+$/, `resume id in ${last}`);
      const replayed = await metric(server.url, 'pulseboard_events_replayed_total');
      assert.ok(replayed > replayedBefore, `expected replayed events (${replayedBefore} -> ${replayed})${explainAll()}`);
      for (const reason of ['foreign_epoch', 'expired', 'invalid_id']) {
        assert.equal(await metric(server.url, `pulseboard_resets_sent_total{reason="${reason}"}`), 0, reason);
      }

      const tracked = await page.evaluate(() => window.__eventSources);
      assert.equal(tracked.overlaps, 0, `EventSources overlapped${explainAll()}`);
      assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was reloaded');
      assert.deepEqual(pageErrors, [], `uncaught page errors${explainAll()}`);
    });
  });
});
