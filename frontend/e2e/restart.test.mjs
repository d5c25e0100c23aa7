// End-to-end: the server keeps its state across restarts (issue 11). One
// server with a data dir (`--data-dir`, the SQLite database `pulseboard.db`)
// serves the real SPA in Chromium; it is killed (SIGKILL) or stopped
// gracefully (SIGTERM) and started again on the same address and the same
// data dir. The open page must resume from its last event id and get exactly
// the events it missed: no `reset`, no line twice, none lost, one EventSource
// at a time, no reload. A `log` widget (whose updates append) shows it: lines
// A, B before the restart, C published after the restart while the page is
// kept from reconnecting (so C can only reach it by replay), D right as it
// reconnects, E once it is live: the page shows A, B, C, D, E, each once, in
// order. And past the history bound (`--history-size 2` after the restart,
// ten lines missed) the page gets one `reset` of the same epoch and the whole
// log, each line once.
//
// Run: node --test frontend/e2e/   (after `cargo build -p pulseboard-server`
// and `trunk build --release` in frontend/; scripts/test.sh does all of it).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import {
  launchBrowser,
  metric,
  openRecordedPage,
  publishWidget,
  screenshotOnFailure,
  startServer,
  waitUntil,
} from './support.mjs';

const ARTIFACTS = resolve(dirname(fileURLToPath(import.meta.url)), 'artifacts');
const TOKEN = 'e2e-restart-token';
const BADGE = '[data-testid="connection-badge"]';
const badgeIn = (state) => `${BADGE}[data-state="${state}"]`;
const card = (id) => `[data-widget-id="${id}"]`;
const valueOf = (id) => `${card(id)} [data-testid="widget-value"]`;
/** How long anything may take on a slow, busy machine. */
const DEADLINE_MS = 20_000;

const LOG = 'restart.log';
const TEXT = 'restart.text';
const NUMBER = 'restart.number';

const publish = (url, id, body) => publishWidget(url, TOKEN, id, body);
const until = (condition, what, timeoutMs = DEADLINE_MS) => waitUntil(condition, what, timeoutMs, 50);

/** Every `pulseboard_resets_sent_total{reason="..."}` sample of a server, by reason. */
async function resetsSent(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const byReason = {};
  for (const line of text.split('\n')) {
    const match = line.match(/^pulseboard_resets_sent_total\{reason="([^"]*)"\} (\S+)$/);
    if (match) byReason[match[1]] = Number(match[2]);
  }
  return byReason;
}


const sum = (byReason) => Object.values(byReason).reduce((a, b) => a + b, 0);
const textOf = (page, selector) => page.$eval(selector, (el) => el.textContent.trim()).catch(() => null);
/** The log card's lines, oldest first (the card shows the newest first). */
const logLines = (page) =>
  page.$$eval(`${card(LOG)} .log-text`, (els) => els.map((el) => el.textContent).reverse()).catch(() => []);
const seqOf = (id) => Number(id.split('-')[1]);
const epochOf = (id) => id.split('-')[0];

/**
 * A data dir of the test's own (so it outlives each server), a server on it,
 * and `restart(extraArgs)`: the next server on the same address and data dir.
 */
async function serverWithDataDir(t) {
  const dataDir = mkdtempSync(join(tmpdir(), 'pulseboard-e2e-restart-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const args = ['--publish-token', TOKEN, '--host-metrics', 'false'];
  const servers = [await startServer({ dataDir, extraArgs: args })];
  t.after(() => Promise.all(servers.map((server) => server.stop())));
  const addr = new URL(servers[0].url).host;
  return {
    dataDir,
    servers,
    current: () => servers.at(-1),
    restart: async (extraArgs = []) => {
      const server = await startServer({ addr, dataDir, extraArgs: [...args, ...extraArgs] });
      servers.push(server);
      assert.equal(server.url, servers[0].url, 'restarted on the same address');
      return server;
    },
    output: () => servers.map((server) => server.output()).join('\n'),
  };
}

/** A page on the dashboard that records its streams and their events. */
async function openDashboard(browser, t, url) {
  const { page, streams, pageErrors, consoleLines } = await openRecordedPage(browser, t);
  const response = await page.goto(`${url}/`, { waitUntil: 'load', timeout: DEADLINE_MS });
  assert.equal(response?.status(), 200, 'GET /');
  await page.waitForSelector(badgeIn('live'), { timeout: DEADLINE_MS });
  await page.evaluate(() => {
    window.__sameDocument = true;
  });
  const events = () => page.evaluate(() => window.__streamEvents);
  const explain = async () =>
    `\nstream requests: ${JSON.stringify(streams.map((u) => u.pathname + u.search))}` +
    `\nstream events: ${JSON.stringify(await events().catch(() => 'n/a'))}` +
    `\npage errors: ${JSON.stringify(pageErrors)}\nconsole:\n  ${consoleLines.slice(-30).join('\n  ')}`;
  return { page, streams, pageErrors, events, explain };
}

/** Keeps the page's stream requests from reaching any server until the returned function is called. */
async function blockStreams(page) {
  const pattern = (url) => url.pathname === '/api/events';
  const abort = (route) => route.abort('connectionrefused');
  await page.route(pattern, abort);
  return () => page.unroute(pattern, abort);
}

/** The same document throughout, one EventSource at a time, no page error. */
async function assertOneDocumentOneStream(page, pageErrors, streams, why) {
  assert.equal(await page.evaluate(() => window.__sameDocument), true, `the page was reloaded${why}`);
  assert.equal(await page.evaluate(() => performance.getEntriesByType('navigation').length), 1, `navigations${why}`);
  const tracked = await page.evaluate(() => window.__eventSources);
  assert.equal(tracked.overlaps, 0, `EventSources overlapped${why}`);
  assert.equal(tracked.urls.length, streams.length, `stream requests vs EventSources${why}`);
  assert.equal(streams[0].searchParams.has('last_event_id'), false, `the first stream asks for init${why}`);
  for (const url of streams.slice(1)) {
    assert.match(url.searchParams.get('last_event_id') ?? '', /^[A-Za-z0-9]+-\d+$/, `resume id in ${url}${why}`);
  }
  assert.deepEqual(pageErrors, [], `uncaught page errors${why}`);
}

describe('pulseboard keeps its state across restarts', { timeout: 300_000 }, () => {
  let browser;

  before(async () => {
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close().catch(() => {});
  });

  for (const signal of ['SIGTERM', 'SIGKILL']) {
    const how = signal === 'SIGKILL' ? 'killed' : 'stopped gracefully';
    test(`the page gets exactly what it missed when the server is ${how} and restarted`, { timeout: 60_000 }, async (t) => {
      const started = Date.now();
      const run = await serverWithDataDir(t);
      const first = run.current();
      // A is in the page's init snapshot; B reaches it as a live update.
      await publish(first.url, LOG, { kind: 'log', line: 'A' });
      await publish(first.url, TEXT, { kind: 'text', text: 'before the restart' });
      await publish(first.url, NUMBER, { kind: 'number', value: 1 });
      const { page, streams, pageErrors, events, explain } = await openDashboard(browser, t, first.url);
      const why = async () => `${await explain()}\n${run.output()}`;

      await screenshotOnFailure(page, ARTIFACTS, `restart-${signal}`, async () => {
        await publish(first.url, LOG, { line: 'B' });
        await until(
          async () => JSON.stringify(await logLines(page)) === JSON.stringify(['A', 'B']),
          'A, B on the page',
        );
        const before = {
          text: await textOf(page, valueOf(TEXT)),
          number: await textOf(page, valueOf(NUMBER)),
          log: await logLines(page),
        };
        assert.equal(before.text, 'before the restart');
        assert.match(before.number ?? '', /\b1\b/);
        const init = (await events()).find((e) => e.type === 'init');
        assert.ok(init?.epoch, `an init with an epoch${await why()}`);
        assert.deepEqual(init.lines, ['A'], `A came in the snapshot${await why()}`);
        const lastBefore = (await events()).filter((e) => e.id).at(-1).id;

        // Down. The page notices and retries (in vain: nothing listens); it
        // is then kept from reconnecting until C has been published to the
        // restarted server, so C can only reach it by replay.
        await first.kill(signal);
        await page.waitForSelector(badgeIn('reconnecting'), { timeout: DEADLINE_MS });
        await page.waitForFunction((sel) => Number(document.querySelector(sel)?.dataset.attempt) >= 2, BADGE, {
          timeout: DEADLINE_MS,
          polling: 50,
        });
        const unblock = await blockStreams(page);
        // The page keeps what it had while the server is away.
        assert.deepEqual(await logLines(page), before.log, 'log while down');
        assert.equal(await textOf(page, valueOf(TEXT)), before.text, 'text while down');

        const second = await run.restart();
        // The database gave the new process the old state, at once.
        const restored = await (await fetch(`${second.url}/api/widgets/${LOG}`)).json();
        assert.deepEqual(
          restored.value?.lines?.map((line) => line.text),
          ['A', 'B'],
          `the restarted server's log: ${JSON.stringify(restored)}${await why()}`,
        );
        await publish(second.url, LOG, { line: 'C' });
        await publish(second.url, TEXT, { text: 'after the restart' });
        await publish(second.url, NUMBER, { value: 2 });
        assert.equal(await metric(second.url, 'pulseboard_open_streams'), 0, 'the page is not connected yet');
        // Let it reconnect, and publish D at once (before or while it does).
        await unblock();
        await publish(second.url, LOG, { line: 'D' });

        await page.waitForSelector(badgeIn('live'), { timeout: DEADLINE_MS }).catch(async (error) => {
          throw new Error(`not live again after the restart: ${error.message}${await why()}`);
        });
        await until(
          async () => (await logLines(page)).length >= 4 && (await textOf(page, valueOf(TEXT))) === 'after the restart',
          'C, D and the new text on the page',
        ).catch(async (error) => {
          throw new Error(`${error.message}: log ${JSON.stringify(await logLines(page))}${await why()}`);
        });
        // And a live one on the resumed stream.
        await publish(second.url, LOG, { line: 'E' });
        await until(async () => (await logLines(page)).length >= 5, 'E on the page').catch(async (error) => {
          throw new Error(`${error.message}: log ${JSON.stringify(await logLines(page))}${await why()}`);
        });

        // Each line once, in order; the other widgets' new values.
        assert.deepEqual(await logLines(page), ['A', 'B', 'C', 'D', 'E'], `the log card${await why()}`);
        assert.match((await textOf(page, valueOf(NUMBER))) ?? '', /\b2\b/, 'the new number');
        assert.equal(await page.locator(badgeIn('live')).count(), 1, `badge live${await why()}`);

        // No reset, by the server's count and the page's.
        const resets = await resetsSent(second.url);
        assert.equal(sum(resets), 0, `resets sent by the restarted server: ${JSON.stringify(resets)}${await why()}`);
        const seen = await events();
        assert.deepEqual(
          seen.filter((e) => e.type === 'reset' || e.type === 'init').map((e) => e.type),
          ['init'],
          `one init, no reset${await why()}`,
        );
        // C was replayed from the restarted server's history (the page could
        // not have had it live).
        assert.ok(
          (await metric(second.url, 'pulseboard_events_replayed_total')) >= 1,
          `replayed events on the restarted server${await why()}`,
        );

        // Every event the page received after its init is one state change,
        // in the epoch of before the restart, with no gap and no repeat
        // (nothing else publishes here: no host metrics).
        const changes = seen.filter((e) => e.type === 'update' || e.type === 'remove');
        assert.ok(
          changes.every((e) => epochOf(e.id) === init.epoch),
          `every event in the epoch ${init.epoch}${await why()}`,
        );
        const seqs = changes.map((e) => seqOf(e.id));
        const firstSeq = seqOf(init.id) + 1;
        assert.deepEqual(
          seqs,
          seqs.map((_, i) => firstSeq + i),
          `consecutive ids from ${init.id}${await why()}`,
        );
        const lineEvents = changes.filter((e) => e.widget === LOG).flatMap((e) => e.lines);
        assert.deepEqual(lineEvents, ['B', 'C', 'D', 'E'], `log lines received as updates${await why()}`);
        // Resumed from the last event before the kill.
        const resumes = streams.slice(1).map((u) => u.searchParams.get('last_event_id'));
        assert.equal(resumes.at(-1), lastBefore, `the last stream resumed from ${lastBefore}${await why()}`);
        // Where C, D and E came from: C on the resumed stream, by replay.
        const resumed = changes.filter((e) => e.source === changes.at(-1).source).map((e) => e.lines?.[0] ?? e.widget);
        assert.ok(resumed.includes('C'), `C on the resumed stream: ${JSON.stringify(resumed)}`);

        await assertOneDocumentOneStream(page, pageErrors, streams, await why());
        t.diagnostic(
          `${how}: ${streams.length - 1} stream request(s) after the first; resumed from ${lastBefore}; ` +
            `events on the resumed stream: ${JSON.stringify(resumed)}; ${Date.now() - started} ms`,
        );
      });
    });
  }

  test('past the history bound the page gets one reset of the same epoch, and the whole log once', { timeout: 60_000 }, async (t) => {
    const started = Date.now();
    const run = await serverWithDataDir(t);
    const first = run.current();
    await publish(first.url, LOG, { kind: 'log', line: 'A' });
    const { page, streams, pageErrors, events, explain } = await openDashboard(browser, t, first.url);
    const why = async () => `${await explain()}\n${run.output()}`;

    await screenshotOnFailure(page, ARTIFACTS, 'restart-expired', async () => {
      await publish(first.url, LOG, { line: 'B' });
      await until(async () => JSON.stringify(await logLines(page)) === JSON.stringify(['A', 'B']), 'A, B on the page');
      const init = (await events()).find((e) => e.type === 'init');

      await first.kill('SIGTERM');
      const unblock = await blockStreams(page);
      await page.waitForSelector(badgeIn('reconnecting'), { timeout: DEADLINE_MS });
      // Ten lines while the page cannot connect, to a server that keeps two events.
      const second = await run.restart(['--history-size', '2']);
      const missed = Array.from({ length: 10 }, (_, i) => `L${i + 1}`);
      for (const line of missed) await publish(second.url, LOG, { line });
      await unblock();

      await page.waitForSelector(badgeIn('live'), { timeout: DEADLINE_MS }).catch(async (error) => {
        throw new Error(`not live again after the restart: ${error.message}${await why()}`);
      });
      const all = ['A', 'B', ...missed];
      await until(async () => (await logLines(page)).length >= all.length, 'the missed lines on the page').catch(
        async (error) => {
          throw new Error(`${error.message}: log ${JSON.stringify(await logLines(page))}${await why()}`);
        },
      );
      await publish(second.url, LOG, { line: 'live' });
      await until(async () => (await logLines(page)).length >= all.length + 1, 'a live line after the reset');
      assert.deepEqual(await logLines(page), [...all, 'live'], `the log card${await why()}`);

      // One reset, counted as `expired` (not `foreign_epoch`: the epoch
      // survived the restart), carrying the whole log.
      const resets = await resetsSent(second.url);
      assert.equal(resets.expired, 1, `expired resets: ${JSON.stringify(resets)}${await why()}`);
      assert.equal(sum(resets), 1, `resets: ${JSON.stringify(resets)}${await why()}`);
      const seen = await events();
      const resetEvents = seen.filter((e) => e.type === 'reset');
      assert.equal(resetEvents.length, 1, `one reset in the page${await why()}`);
      assert.equal(resetEvents[0].epoch, init.epoch, `the reset keeps the epoch${await why()}`);
      assert.deepEqual(resetEvents[0].lines, all, `the reset's snapshot${await why()}`);
      assert.equal(await page.locator(badgeIn('live')).count(), 1, 'badge live');
      await assertOneDocumentOneStream(page, pageErrors, streams, await why());
      t.diagnostic(`${streams.length - 1} stream request(s) after the first; ${Date.now() - started} ms`);
    });
  });
});
