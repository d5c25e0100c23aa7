// End-to-end: two server instances behind a real nginx, configured with the
// site file we ship (deploy/nginx/pulseboard.conf, both instances in its
// upstream, round-robin). The page is loaded through nginx and its stream goes
// to one instance; that instance is killed (or stopped gracefully). The page
// must reconnect through nginx to the other one by itself, get a `reset` (the
// survivor has another epoch, so the old event id means nothing to it), show
// the survivor's state, and then the survivor's new values, without a reload.
//
// Run: node --test frontend/e2e/   (after `cargo build -p pulseboard-server`
// and `trunk build --release` in frontend/; scripts/test.sh does all of it).
// Needs nginx (scripts/setup.sh installs it).
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startNginx } from './nginx.mjs';
import {
  launchBrowser,
  metric,
  openRecordedPage,
  publishWidget,
  repoRoot,
  startServer,
  waitUntil,
} from './support.mjs';

const TOKEN = 'e2e-failover-token';
const BADGE = '[data-testid="connection-badge"]';
const badgeIn = (state) => `${BADGE}[data-state="${state}"]`;
const valueOf = (id) => `[data-widget-id="${id}"] [data-testid="widget-value"]`;
const SCREENSHOTS = resolve(repoRoot, 'target', 'e2e');
/** How long anything may take on a slow, busy machine. */
const DEADLINE_MS = 60_000;

const publish = (url, id, body) => publishWidget(url, TOKEN, id, body);
const until = (condition, what, timeoutMs = DEADLINE_MS) => waitUntil(condition, what, timeoutMs);
const textOf = (page, selector) => page.$eval(selector, (el) => el.textContent.trim()).catch(() => null);

describe('pulseboard behind nginx fails over', { timeout: 300_000 }, () => {
  let browser;

  before(async () => {
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close().catch(() => {});
  });

  for (const signal of ['SIGKILL', 'SIGTERM']) {
    const how = signal === 'SIGKILL' ? 'killed' : 'stopped gracefully';
    test(`to the other instance when the one holding the stream is ${how}`, { timeout: 180_000 }, async (t) => {
      const options = { extraArgs: ['--publish-token', TOKEN, '--host-metrics', 'false'] };
      const servers = [await startServer(options), await startServer(options)];
      t.after(() => Promise.all(servers.map((server) => server.stop())));
      const nginx = await startNginx({ upstreams: servers.map((server) => server.url) });
      t.after(() => nginx.stop());

      // Each instance has its own state: a widget that says which one it is.
      for (const [i, server] of servers.entries()) {
        await publish(server.url, 'failover.instance', { kind: 'text', text: `instance ${i}` });
      }

      const { page, streams, pageErrors, consoleLines } = await openRecordedPage(browser, t);
      const explain = () =>
        `\nstream requests: ${JSON.stringify(streams.map((u) => u.href))}` +
        `\npage errors: ${JSON.stringify(pageErrors)}\nconsole:\n  ${consoleLines.slice(-30).join('\n  ')}` +
        `\n${nginx.log()}\n${servers.map((server) => server.output()).join('\n')}`;

      try {
        const response = await page.goto(`${nginx.url}/`, { waitUntil: 'load', timeout: DEADLINE_MS });
        assert.equal(response?.status(), 200, 'GET / through nginx');
        await page.waitForSelector(badgeIn('live'), { timeout: DEADLINE_MS });

        // Exactly one instance holds the page's one stream.
        const holder = await until(async () => {
          const open = await Promise.all(servers.map((server) => metric(server.url, 'pulseboard_open_streams')));
          if (open[0] + open[1] !== 1) return null;
          return { index: open.indexOf(1) };
        }, 'one open stream in all');
        const dead = servers[holder.index];
        const survivorIndex = 1 - holder.index;
        const survivor = servers[survivorIndex];
        await until(
          async () => (await textOf(page, valueOf('failover.instance'))) === `instance ${holder.index}`,
          `the page to show instance ${holder.index}'s state`,
        );
        const init = await page.evaluate(() => window.__streamEvents.find((e) => e.type === 'init'));
        assert.ok(init?.epoch, `an init with an epoch${explain()}`);
        assert.equal(streams.length, 1, `one stream while live${explain()}`);
        for (const url of streams) assert.equal(url.origin, nginx.url, `the stream goes through nginx${explain()}`);

        const killedAt = Date.now();
        await dead.kill(signal);

        // Back through nginx, to the survivor: it holds the stream now, and
        // answered the old id (another epoch) with a reset.
        await until(
          async () => (await metric(survivor.url, 'pulseboard_open_streams')) === 1,
          'the survivor to hold the stream',
        ).catch((error) => {
          throw new Error(`${error.message}${explain()}`);
        });
        await page.waitForSelector(badgeIn('live'), { timeout: DEADLINE_MS });
        const reset = await until(
          () =>
            page.evaluate(
              (since) => window.__streamEvents.find((e) => e.type === 'reset' && e.at >= since) ?? null,
              killedAt,
            ),
          'a reset after the failover',
        ).catch((error) => {
          throw new Error(`${error.message}${explain()}`);
        });
        assert.ok(reset.epoch && reset.epoch !== init.epoch, `reset epoch ${reset.epoch} vs init ${init.epoch}${explain()}`);
        const resets = await metric(survivor.url, 'pulseboard_resets_sent_total{reason="foreign_epoch"}');
        assert.ok(resets >= 1, `the survivor counted a foreign_epoch reset, got ${resets}${explain()}`);
        // The reset's snapshot replaced the page's state with the survivor's.
        await until(
          async () => (await textOf(page, valueOf('failover.instance'))) === `instance ${survivorIndex}`,
          `the page to show instance ${survivorIndex}'s state`,
        ).catch((error) => {
          throw new Error(`${error.message}${explain()}`);
        });

        // And the survivor's new values arrive.
        await publish(survivor.url, 'failover.probe', { kind: 'text', text: 'after the failover' });
        await until(
          async () => (await textOf(page, valueOf('failover.probe'))) === 'after the failover',
          'a value published to the survivor',
        ).catch((error) => {
          throw new Error(`${error.message}${explain()}`);
        });

        // Every reconnect went through nginx and resumed from an id; one
        // EventSource at a time; never a reload.
        assert.ok(streams.length >= 2, `a new stream was opened${explain()}`);
        for (const url of streams) assert.equal(url.origin, nginx.url, `the stream goes through nginx${explain()}`);
        for (const url of streams.slice(1)) {
          assert.match(url.searchParams.get('last_event_id') ?? '', /^[A-Za-z0-9]+-\d+$/, `resume id in ${url}`);
        }
        const tracked = await page.evaluate(() => window.__eventSources);
        assert.equal(tracked.overlaps, 0, `EventSources overlapped${explain()}`);
        assert.equal(await page.evaluate(() => performance.getEntriesByType('navigation').length), 1, 'reloaded');
        assert.deepEqual(pageErrors, [], `uncaught page errors${explain()}`);
        t.diagnostic(
          `stream on instance ${holder.index}, ${how}; live on instance ${survivorIndex} ` +
            `${reset.at - killedAt} ms later (reset), after ${streams.length - 1} reconnect(s)`,
        );
      } catch (error) {
        await mkdir(SCREENSHOTS, { recursive: true });
        await page.screenshot({ path: resolve(SCREENSHOTS, `failover-${signal}-failure.png`), fullPage: true }).catch(() => {});
        throw error;
      }
    });
  }
});
