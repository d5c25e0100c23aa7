// End-to-end: several instances sharing one log in Redis (`--redis-url`),
// behind a real nginx configured with the site file we ship
// (deploy/nginx/pulseboard.conf). Unlike failover.test.mjs (instances that
// share nothing, so a viewer that moves gets a `reset`), a viewer that moves
// to another instance resumes from its Last-Event-ID without a gap and
// without a reset:
//
// - the SPA in Chromium, its instance killed while values are published
//   through the other one: the badge goes reconnecting -> live, and the log
//   card ends with exactly the lines published, with no reset;
// - a rolling restart (SIGTERM A, A back on its port, SIGTERM B, B back),
//   and the same with A SIGKILLed and B stopped 2.4 s after A is back, with
//   publishes at 50/s per publisher through nginx and two raw EventSource
//   clients (Chromium's own, and npm's `eventsource` in Node): every publish
//   answered 2xx (a 502 for a POST in flight on a dying instance is retried
//   with the same Idempotency-Key, and counted), every client sees every
//   event id once, in order, with no reset, and neither EventSource is
//   closed for good (a 502 or 503 answer to a reconnect would do that).
//
// Run: node --test frontend/e2e/scale-out.test.mjs (after `cargo build -p
// pulseboard-server` and the SPA's trunk build; scripts/test.sh does all of
// it). Needs nginx and redis-server (scripts/setup.sh installs both).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EventSource as NodeEventSource } from 'eventsource';
import { startNginx } from './nginx.mjs';
import { freePort, startRedis } from './redis.mjs';
import {
  launchBrowser,
  metric,
  openRecordedPage,
  publishWidget,
  repoRoot,
  startServer,
  waitUntil,
} from './support.mjs';

const TOKEN = 'e2e-scale-out-token-0123456789';
const BADGE = '[data-testid="connection-badge"]';
const badgeIn = (state) => `${BADGE}[data-state="${state}"]`;
const card = (id) => `[data-widget-id="${id}"]`;
const SCREENSHOTS = resolve(repoRoot, 'target', 'e2e');
/** How long anything may take on a slow, busy machine. */
const DEADLINE_MS = 60_000;
/** Event types that carry an id: each one's id must follow the previous one's. */
const ID_EVENTS = ['init', 'reset', 'update', 'remove'];
const RECORDED = [...ID_EVENTS, 'shutdown'];
/** A 502 is only excused this soon after a stop signal (see the rolling restart test). */
const STOP_502_WINDOW_MS = 2_000;

const until = (condition, what, timeoutMs = DEADLINE_MS) => waitUntil(condition, what, timeoutMs, 50);
const sleep = (ms) => new Promise((resolveWait) => setTimeout(resolveWait, ms));
const textOf = (page, selector) => page.$eval(selector, (el) => el.textContent.trim()).catch(() => null);
const epochOf = (id) => id.slice(0, id.lastIndexOf('-'));
const seqOf = (id) => Number(id.slice(id.lastIndexOf('-') + 1));

/** Flags of every instance: one Redis, one key prefix per test (so tests share nothing but the Redis). */
const instanceArgs = (redis, prefix) => [
  '--publish-token', TOKEN,
  '--host-metrics', 'false',
  '--redis-url', redis.url,
  '--redis-prefix', prefix,
  // Two publishers at 50/s through nginx all land on one instance while the
  // other restarts: the default rate (50/s per token) is not what is tested.
  '--publish-rate', '1000',
  '--publish-burst', '1000',
];

/** Every `pulseboard_resets_sent_total{reason="..."}` sample of an instance, added up. */
async function resetsSent(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    const match = line.match(/^pulseboard_resets_sent_total\{[^}]*\} (\S+)$/);
    if (match) total += Number(match[1]);
  }
  return total;
}

/** The last `count` lines of `text`. */
const tail = (text, count) => text.split('\n').slice(-count).join('\n');

const ready = async (url) => (await fetch(`${url}/readyz`).catch(() => null))?.status === 200;

/**
 * What a client saw, checked: no reset, one epoch, and each id-carrying
 * event's sequence number one more than the previous one's (across
 * reconnects: a resume replays exactly what was missed). Returns the
 * problems found (empty when none) and the last id.
 */
function checkSequence(events) {
  const problems = [];
  const withIds = events.filter((event) => ID_EVENTS.includes(event.type));
  const resets = withIds.filter((event) => event.type === 'reset');
  if (resets.length > 0) problems.push(`${resets.length} reset(s): ${JSON.stringify(resets.slice(0, 3))}`);
  const inits = withIds.filter((event) => event.type === 'init');
  if (inits.length !== 1) problems.push(`${inits.length} init events (one expected: every reconnect resumes)`);
  let previous;
  for (const [index, event] of withIds.entries()) {
    if (!event.id) {
      // The init of an empty log has no id (nothing to resume from yet);
      // the first event published is then number 1.
      if (index === 0 && event.type === 'init') previous = { type: 'init', id: null };
      else problems.push(`a ${event.type} without an id`);
      continue;
    }
    if (previous?.id === null) {
      if (seqOf(event.id) !== 1) problems.push(`gap: an empty log's init -> ${event.type} ${event.id}`);
    } else if (previous) {
      if (epochOf(event.id) !== epochOf(previous.id)) {
        problems.push(`epoch changed: ${previous.id} -> ${event.type} ${event.id}`);
      } else if (seqOf(event.id) !== seqOf(previous.id) + 1) {
        const kind = seqOf(event.id) <= seqOf(previous.id) ? 'repeat' : 'gap';
        problems.push(`${kind}: ${previous.id} -> ${event.type} ${event.id}`);
      }
    }
    previous = event;
  }
  return { problems, last: previous?.id, count: withIds.length };
}

/**
 * Publishers through `base` (nginx), each sending `perSecond` publishes of
 * its widget, each with an Idempotency-Key of its own. A 502 (nginx sent the
 * POST but got no answer: its instance was SIGKILLed with it in flight, or
 * reset a connection it had queued but not accepted as it stopped; nginx
 * never sends a POST to a second instance) is retried with the same key and
 * body, and counted; any other answer but 2xx, or a network error, is a
 * failure. `stop()` stops them and waits for every publish in flight.
 */
function startPublishers(base, publishers, perSecond) {
  const stats = {
    started: 0,
    ok: 0,
    failed: [],
    badGateways: [],
    replayed: 0,
    ids: [],
    late: 0,
    maxInFlight: 0,
  };
  const inFlight = new Set();
  let stopped = false;
  /** Publishes in flight at most (each publisher waits beyond), so retries never pile up without bound. */
  const MAX_IN_FLIGHT = 50;

  async function publishOnce(widget, body, key) {
    const text = JSON.stringify(body);
    const started = Date.now();
    for (let attempt = 1; ; attempt += 1) {
      let status;
      let answer;
      let replayed = false;
      try {
        const response = await fetch(`${base}/api/widgets/${widget}`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${TOKEN}`,
            'content-type': 'application/json',
            'idempotency-key': key,
          },
          body: text,
          signal: AbortSignal.timeout(30_000),
        });
        status = response.status;
        answer = await response.text();
        replayed = response.headers.get('idempotent-replayed') === 'true';
      } catch (error) {
        status = 'network error';
        answer = String(error?.cause?.code ?? error?.message ?? error);
      }
      if (typeof status === 'number' && status >= 200 && status < 300) {
        stats.ok += 1;
        if (replayed) stats.replayed += 1;
        stats.ids.push(JSON.parse(answer).event_id);
        return;
      }
      if (status === 502 && Date.now() - started < 20_000) {
        stats.badGateways.push({ widget, key, attempt, at: Date.now() });
        await sleep(100);
        continue;
      }
      stats.failed.push({ widget, key, attempt, status, answer: answer.slice(0, 300), at: Date.now() });
      return;
    }
  }

  const loops = publishers.map(async ({ widget, body }) => {
    const every = 1000 / perSecond;
    let next = Date.now();
    for (let n = 1; !stopped; n += 1) {
      while (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight);
      const key = `${widget}-${n}-${randomBytes(4).toString('hex')}`;
      stats.started += 1;
      const publish = publishOnce(widget, body(n), key);
      inFlight.add(publish);
      stats.maxInFlight = Math.max(stats.maxInFlight, inFlight.size);
      publish.finally(() => inFlight.delete(publish));
      next += every;
      const wait = next - Date.now();
      if (wait > 0) await sleep(wait);
      else stats.late += 1;
    }
  });

  return {
    stats,
    async stop() {
      stopped = true;
      await Promise.all(loops);
      while (inFlight.size > 0) await Promise.all([...inFlight]);
      return stats;
    },
  };
}

/**
 * Chromium's own EventSource, opened by a page of nginx's origin on
 * `/api/events` and left to reconnect by itself (with its Last-Event-ID
 * header): records every event's type and id, each `open`, and each
 * `error` with the readyState it left (2: CLOSED, for good).
 */
async function openBrowserEventSource(browser, t, origin) {
  const context = await browser.newContext();
  t.after(() => context.close());
  const page = await context.newPage();
  const response = await page.goto(`${origin}/healthz`, { timeout: DEADLINE_MS });
  assert.equal(response?.status(), 200, 'GET /healthz through nginx');
  await page.evaluate((types) => {
    const record = { events: [], errors: [], opens: 0 };
    const source = new EventSource('/api/events');
    window.__raw = record;
    window.__rawSource = source;
    for (const type of types) {
      source.addEventListener(type, (event) => record.events.push({ type, id: event.lastEventId, at: Date.now() }));
    }
    source.addEventListener('open', () => {
      record.opens += 1;
    });
    source.addEventListener('error', () => record.errors.push({ readyState: source.readyState, at: Date.now() }));
  }, RECORDED);
  return {
    name: "Chromium's EventSource",
    read: () => page.evaluate(() => ({ ...window.__raw, readyState: window.__rawSource.readyState })),
    close: () => page.evaluate(() => window.__rawSource.close()).catch(() => {}),
  };
}

/** npm's `eventsource` in Node, through nginx, recording like openBrowserEventSource. */
function openNodeEventSource(t, origin) {
  const record = { events: [], errors: [], opens: 0 };
  const source = new NodeEventSource(`${origin}/api/events`);
  t.after(() => source.close());
  for (const type of RECORDED) {
    source.addEventListener(type, (event) => record.events.push({ type, id: event.lastEventId, at: Date.now() }));
  }
  source.addEventListener('open', () => {
    record.opens += 1;
  });
  source.addEventListener('error', (event) =>
    record.errors.push({ readyState: source.readyState, at: Date.now(), code: event?.code, message: event?.message }),
  );
  return {
    name: "npm's eventsource",
    read: async () => ({ ...record, events: [...record.events], readyState: source.readyState }),
    close: async () => source.close(),
  };
}

describe('pulseboard scaled out on one Redis behind nginx', { timeout: 300_000 }, () => {
  let browser;
  let redis;

  before(async () => {
    redis = await startRedis();
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await redis?.stop();
  });

  test('the SPA whose instance is killed resumes on the other one without a gap or a reset', { timeout: 120_000 }, async (t) => {
    const args = instanceArgs(redis, `e2e-spa-${randomBytes(4).toString('hex')}`);
    const servers = [await startServer({ extraArgs: args }), await startServer({ extraArgs: args })];
    t.after(() => Promise.all(servers.map((server) => server.stop())));
    const nginx = await startNginx({ upstreams: servers.map((server) => server.url) });
    t.after(() => nginx.stop());
    const NUMBER = 'scale.count';
    const LOG = 'scale.log';

    const { page, streams, pageErrors, consoleLines } = await openRecordedPage(browser, t);
    const explain = () =>
      `\nstream requests: ${JSON.stringify(streams.map((u) => u.href))}` +
      `\npage errors: ${JSON.stringify(pageErrors)}\nconsole:\n  ${consoleLines.slice(-30).join('\n  ')}` +
      `\n${tail(nginx.log(), 100)}\n${servers.map((server) => server.output()).join('\n')}\n${redis.log()}`;
    const logLines = () =>
      page.$$eval(`${card(LOG)} .log-text`, (els) => els.map((el) => el.textContent).reverse()).catch(() => []);

    let publisher;
    let stopped = false;
    let publishError;
    try {
      const response = await page.goto(`${nginx.url}/`, { waitUntil: 'load', timeout: DEADLINE_MS });
      assert.equal(response?.status(), 200, 'GET / through nginx');
      await page.waitForSelector(badgeIn('live'), { timeout: DEADLINE_MS });

      // Exactly one instance holds the page's one stream.
      const holderIndex = await until(async () => {
        const open = await Promise.all(servers.map((server) => metric(server.url, 'pulseboard_open_streams')));
        return open[0] + open[1] === 1 ? String(open.indexOf(1)) : null;
      }, 'one open stream in all').then(Number);
      const holder = servers[holderIndex];
      const other = servers[1 - holderIndex];

      // Every change of the badge's state from now on, in order.
      await page.evaluate((selector) => {
        const states = [];
        window.__badgeStates = states;
        const look = () => {
          const state = document.querySelector(selector)?.getAttribute('data-state') ?? null;
          if (states.at(-1)?.state !== state) states.push({ state, at: Date.now() });
        };
        look();
        new MutationObserver(look).observe(document.body, {
          subtree: true,
          childList: true,
          attributes: true,
          attributeFilter: ['data-state'],
        });
      }, BADGE);

      // Publish 1, 2, 3... every 100 ms through the other instance, straight
      // to it: the number, and a line of the log (which keeps 500, more than
      // the test publishes).
      const published = [];
      publisher = (async () => {
        let next = Date.now();
        for (let n = 1; !stopped; n += 1) {
          await publishWidget(other.url, TOKEN, NUMBER, { kind: 'number', value: n });
          await publishWidget(other.url, TOKEN, LOG, { kind: 'log', line: `line ${n}`, max_lines: 500 });
          published.push(`line ${n}`);
          next += 100;
          await sleep(Math.max(0, next - Date.now()));
        }
      })().catch((error) => {
        publishError = error;
      });
      const publishing = () => {
        if (publishError) throw publishError;
        return published.length;
      };
      const stopPublishing = async () => {
        stopped = true;
        await publisher;
        if (publishError) throw publishError;
      };

      await until(async () => publishing() && (await logLines()).length >= 10, 'ten lines on the page before the kill').catch(
        (error) => {
          throw new Error(`${error.message}${explain()}`);
        },
      );
      const killedAt = Date.now();
      const publishedAtKill = published.length;
      await holder.kill('SIGKILL');

      // Back through nginx, to the other instance, from the last id.
      await until(
        async () => (await metric(other.url, 'pulseboard_open_streams')) === 1,
        'the other instance to hold the stream',
      ).catch((error) => {
        throw new Error(`${error.message}${explain()}`);
      });
      await page.waitForSelector(badgeIn('live'), { timeout: DEADLINE_MS });
      const liveAgainAt = Date.now();
      // Values published after the page is live again arrive too.
      const publishedAtLive = publishing();
      await until(() => publishing() >= publishedAtLive + 10, 'ten more publishes');
      await stopPublishing();

      const want = [...published];
      const lastValue = want.length;
      await until(
        async () => JSON.stringify(await logLines()) === JSON.stringify(want),
        `the log card to show exactly the ${want.length} lines published`,
      ).catch(async (error) => {
        const shown = await logLines();
        const missing = want.filter((line) => !shown.includes(line));
        throw new Error(
          `${error.message}: shows ${shown.length}, missing ${JSON.stringify(missing.slice(0, 20))}, ` +
            `first ${JSON.stringify(shown.slice(0, 3))}, last ${JSON.stringify(shown.slice(-3))}${explain()}`,
        );
      });
      await until(
        async () => (await textOf(page, `${card(NUMBER)} [data-testid="widget-value"] .figure`)) === String(lastValue),
        `the number card to show ${lastValue}`,
      );

      // The badge said so: reconnecting after the kill, then live.
      const states = await page.evaluate(() => window.__badgeStates);
      const afterKill = states.filter((entry) => entry.at >= killedAt).map((entry) => entry.state);
      const reconnecting = afterKill.indexOf('reconnecting');
      assert.ok(reconnecting >= 0, `the badge said reconnecting after the kill: ${JSON.stringify(states)}${explain()}`);
      assert.ok(afterKill.indexOf('live', reconnecting) > reconnecting, `then live: ${JSON.stringify(states)}`);
      assert.equal(states.at(-1).state, 'live', `the badge ends live: ${JSON.stringify(states)}`);

      // No reset: not on the page, not sent by the instance it moved to.
      const events = await page.evaluate(() => window.__streamEvents);
      const resets = events.filter((event) => event.type === 'reset');
      assert.deepEqual(resets, [], `the page got no reset${explain()}`);
      assert.equal(await resetsSent(other.url), 0, `the surviving instance sent no reset${explain()}`);
      const sequence = checkSequence(events);
      assert.deepEqual(sequence.problems, [], `the page's event ids follow each other${explain()}`);

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
        `stream on instance ${holderIndex}, SIGKILLed after ${publishedAtKill} values; live again through ` +
          `instance ${1 - holderIndex} ${liveAgainAt - killedAt} ms later, badge ${JSON.stringify(afterKill)}; ` +
          `${want.length} lines published and shown, ${sequence.count} events in order, 0 resets, ` +
          `${streams.length - 1} reconnect(s)`,
      );
    } catch (error) {
      await mkdir(SCREENSHOTS, { recursive: true });
      await page.screenshot({ path: resolve(SCREENSHOTS, 'scale-out-spa-failure.png'), fullPage: true }).catch(() => {});
      throw error;
    } finally {
      // Never leave the publisher running past a failure.
      stopped = true;
      await publisher;
    }
  });

  const rolls = [
    {
      name: 'a rolling restart (SIGTERM A, A back on its port, SIGTERM B, B back)',
      stopA: 'SIGTERM',
      pauseBeforeB: 0,
    },
    {
      name: 'A SIGKILLed and back on its port, B stopped 2.4 s later, B back',
      stopA: 'SIGKILL',
      pauseBeforeB: 2_400,
    },
  ];
  for (const roll of rolls) {
    test(`${roll.name}: every publish accepted, raw EventSources see every event once, no reset`, { timeout: 150_000 }, async (t) => {
      const args = instanceArgs(redis, `e2e-roll-${randomBytes(4).toString('hex')}`);
      const addrs = [`127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`];
      const servers = [
        await startServer({ addr: addrs[0], extraArgs: args }),
        await startServer({ addr: addrs[1], extraArgs: args }),
      ];
      t.after(() => Promise.all(servers.map((server) => server.stop())));
      const nginx = await startNginx({ upstreams: servers.map((server) => server.url) });
      t.after(() => nginx.stop());
      const explain = () =>
        `\n${tail(nginx.log(), 100)}\n${servers.map((server) => server.output()).join('\n')}\n${redis.log()}`;

      // A first event, so that each client's init carries an id to resume from.
      await publishWidget(nginx.url, TOKEN, 'roll.seed', { kind: 'text', text: 'seed' });
      const clients = [await openBrowserEventSource(browser, t, nginx.url), openNodeEventSource(t, nginx.url)];
      for (const client of clients) {
        await until(async () => (await client.read()).events.some((e) => e.type === 'init'), `${client.name}'s init`);
      }

      const publishers = startPublishers(
        nginx.url,
        [
          { widget: 'roll.count', body: (n) => ({ kind: 'number', value: n }) },
          { widget: 'roll.log', body: (n) => ({ kind: 'log', line: `line ${n}`, max_lines: 500 }) },
        ],
        50,
      );
      const { stats } = publishers;
      const timeline = [];
      const t0 = Date.now();
      const mark = (what) => timeline.push(`${what} at +${Date.now() - t0} ms (${stats.ok} ok)`);
      /** When each stop signal was sent. */
      const stops = [];
      try {
        await until(() => stats.ok >= 50, 'fifty publishes before the restarts');

        // A goes, comes back on its port, and is ready.
        mark(`${roll.stopA} A`);
        stops.push(Date.now());
        await servers[0].kill(roll.stopA);
        mark('A exited');
        servers[0] = await startServer({ addr: addrs[0], extraArgs: args });
        await until(() => ready(servers[0].url), 'A restarted to be ready');
        mark('A ready');
        if (roll.pauseBeforeB) await sleep(roll.pauseBeforeB);

        // Then B.
        mark('SIGTERM B');
        stops.push(Date.now());
        await servers[1].kill('SIGTERM');
        mark('B exited');
        servers[1] = await startServer({ addr: addrs[1], extraArgs: args });
        await until(() => ready(servers[1].url), 'B restarted to be ready');
        mark('B ready');

        // Both instances serve again: more publishes, then stop.
        const okAtEnd = stats.ok;
        await until(() => stats.ok >= okAtEnd + 50, 'fifty publishes after the restarts');
      } finally {
        await publishers.stop();
      }
      mark('publishers stopped');

      const states = [];
      for (const client of clients) {
        const seen = await client.read();
        const closedBy = seen.errors.filter((error) => error.readyState === 2);
        states.push(
          `${client.name}: readyState ${seen.readyState}, ${seen.opens} opens, ${seen.errors.length} errors` +
            (closedBy.length > 0 ? `, CLOSED for good at +${closedBy[0].at - t0} ms` : ''),
        );
      }
      const report =
        `\n${timeline.join('\n')}\n${states.join('\n')}\npublishes: ${stats.started} started, ${stats.ok} ok ` +
        `(${stats.replayed} answered as replays), ${stats.badGateways.length} 502s, ${stats.failed.length} failed, ` +
        `at most ${stats.maxInFlight} in flight`;
      // The goal is no 502 at all. A POST in flight on an instance that
      // dies, or sent on a connection its instance is closing, gets one
      // (nginx never sends a POST to a second instance), and its retry with
      // the same Idempotency-Key is then a 2xx: reported, not failed. But
      // only right after a stop: a 502 while an instance is up means nginx
      // held a restarted instance for down (max_fails), which also closes
      // browsers' EventSources for good.
      const afterStop = (at) => stops.some((stop) => at >= stop && at - stop <= STOP_502_WINDOW_MS);
      const stray = stats.badGateways.filter((entry) => !afterStop(entry.at));
      const relative = (entries) => JSON.stringify(entries.map((e) => ({ ...e, at: `+${e.at - t0} ms` })));
      assert.equal(
        stray.length,
        0,
        `${stray.length} 502s more than ${STOP_502_WINDOW_MS} ms after every stop, the first: ` +
          `${relative(stray.slice(0, 10))}${report}${explain()}`,
      );
      assert.equal(
        stats.failed.length,
        0,
        `every publish through nginx got a 2xx; ${stats.failed.length} did not, the first: ` +
          `${relative(stats.failed.slice(0, 10))}${report}${explain()}`,
      );
      assert.equal(stats.ok, stats.started, `every publish answered${report}`);

      // Every client catches up with the last event published, then its
      // ids are checked: one epoch, one after the other, no reset.
      const acked = stats.ids.map(seqOf);
      const lastAcked = Math.max(...acked);
      const epoch = epochOf(stats.ids[0]);
      assert.ok(stats.ids.every((id) => epochOf(id) === epoch), `one epoch in every publish's answer${report}`);
      const summaries = [];
      for (const client of clients) {
        const caughtUp = await until(async () => {
          const seen = await client.read();
          const last = seen.events.filter((e) => ID_EVENTS.includes(e.type)).at(-1);
          return last && seqOf(last.id) >= lastAcked ? seen : null;
        }, `${client.name} to see event ${lastAcked}`).catch(async (error) => {
          const seen = await client.read();
          throw new Error(
            `${error.message}: its last ${JSON.stringify(seen.events.slice(-3))}, readyState ${seen.readyState}, ` +
              `errors ${JSON.stringify(seen.errors)}${report}${explain()}`,
          );
        });
        const sequence = checkSequence(caughtUp.events);
        const context = `${client.name}: ${caughtUp.opens} opens, errors ${JSON.stringify(caughtUp.errors)}${report}`;
        assert.deepEqual(sequence.problems, [], `${client.name}'s events: no reset, no gap, no repeat\n${context}${explain()}`);
        const seen = new Set(caughtUp.events.map((e) => e.id));
        const unseen = stats.ids.filter((id) => !seen.has(id));
        assert.deepEqual(unseen, [], `${client.name} saw the event of every accepted publish\n${context}`);
        assert.ok(
          caughtUp.errors.every((error) => error.readyState !== 2),
          `${client.name} was never closed for good (an error left it CLOSED)\n${context}${explain()}`,
        );
        assert.notEqual(caughtUp.readyState, 2, `${client.name} is not CLOSED\n${context}`);
        assert.ok(caughtUp.opens >= 2, `${client.name} reconnected at least once (${caughtUp.opens} opens)\n${context}`);
        summaries.push(
          `${client.name}: ${sequence.count} events in order up to ${sequence.last}, ` +
            `${caughtUp.opens - 1} reconnect(s), ${caughtUp.events.filter((e) => e.type === 'shutdown').length} shutdown event(s)`,
        );
      }
      for (const client of clients) await client.close();

      for (const line of [...report.trim().split('\n'), ...summaries]) t.diagnostic(line);
      if (stats.badGateways.length > 0) {
        t.diagnostic(`502s (each retried with its Idempotency-Key): ${relative(stats.badGateways)}`);
        t.diagnostic('nginx errors other than refused connects:');
        for (const line of nginx.log().split('\n')) {
          if (/\[error\]/.test(line) && !/connect\(\) failed \(111/.test(line)) t.diagnostic(line);
        }
      }
    });
  }
});
