// The SPA's benchmark (issue 14): publish -> new value in the DOM, in
// headless Chromium, for one or more builds of the SPA served by the same
// release server. Not a test: numbers only; scripts/bench.sh spa|soak runs
// it (docs/benchmarks.md, "The SPA", says what each figure means).
//
//   node frontend/e2e/spa-bench.mjs --bin target/release/pulseboard \
//       --spa after=frontend/dist [--spa before=<dist>] \
//       [--scenarios latency,throttled,loads] [--seconds 20] [--soak-minutes 60]
//
// latency:   1 widget x 10 updates/s, then 200 widgets x 10/s (one
//            /api/batch per tick), on a normal page (a 1920x1080 window
//            shows ~30 of the 200 cards; the browser skips the rest, see
//            content-visibility in styles.css) and in kiosk mode (all 200
//            on screen, as on a wall): p50/p99/max from the publish request
//            being sent to the value being in the DOM (a MutationObserver
//            sees it before the next paint), and how busy the page's main
//            thread was (DevTools' TaskDuration over wall time). Beside
//            them, the browser's floor: the 200-card page frozen into a
//            static copy whose cards plain JS changes as the SPA does, each
//            tick (floorRun): what the browser itself spends on those DOM
//            changes (style, layout, paint), against which the SPA's own
//            share is reported.
// throttled: the same with CPU throttled 4x (DevTools' CPU throttling),
//            60 widgets x 10/s, and whether the delay grows (median of the
//            last quarter of the window against the first).
// loads:     the server's RSS before and after 1,000 page loads (index.html
//            and every file it names, as a browser without a cache fetches
//            them, br/gzip accepted).
// soak:      a series- and log-heavy dashboard (20 series, 10 logs, 20
//            numbers, all updated 10 times a second) for --soak-minutes; the
//            JS heap and the wasm memory every minute, the last against the
//            first minute's.
//
// Each (SPA, scenario) gets a fresh server: --storage memory (the log's
// fsyncs are not the SPA's), host metrics off, limits lifted.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { launchBrowser, startServer } from './support.mjs';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const spas = args
  .flatMap((arg, i) => (arg === '--spa' ? [args[i + 1]] : []))
  .map((spec) => {
    const [label, dir] = spec.split('=');
    return { label, dir: resolve(dir) };
  });
if (spas.length === 0) spas.push({ label: 'current', dir: resolve('frontend/dist') });
const scenarios = option('scenarios', 'latency,throttled,loads').split(',');
const seconds = Number(option('seconds', '20'));
const warmupSeconds = Number(option('warmup', '3'));
const soakMinutes = Number(option('soak-minutes', '60'));
const loadCount = Number(option('loads', '1000'));
if (option('bin')) process.env.PULSEBOARD_BIN = resolve(option('bin'));

const TOKEN = 'spa-bench-publish-token-0001';
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const quantile = (sorted, q) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] : NaN);
const ms = (x) => (Number.isFinite(x) ? `${x.toFixed(x < 10 ? 1 : 0)} ms` : '—');

async function serverFor(spa) {
  // support.mjs gives the server this static dir.
  process.env.PULSEBOARD_STATIC_DIR = spa.dir;
  return startServer({
    dataDir: false,
    extraArgs: [
      '--storage', 'memory',
      '--host-metrics', 'false',
      '--publish-token', TOKEN,
      '--publish-rate', '1000000',
      '--publish-burst', '10000000',
      '--max-body-bytes', '4194304',
      '--max-widgets', '100000',
    ],
  });
}

async function batch(url, updates) {
  const response = await fetch(`${url}/api/batch`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ updates }),
  });
  if (!response.ok) throw new Error(`POST /api/batch: ${response.status} ${await response.text()}`);
}

// In the page, before the SPA: every value a card shows, with when it
// appeared (the observer runs after the DOM changed, before the next paint),
// and the wasm instance, for its memory.
function recordValues() {
  window.__seen = [];
  window.__recording = false;
  addEventListener('TrunkApplicationStarted', (event) => {
    window.__wasm = event.detail.wasm;
  });
  const observer = new MutationObserver((records) => {
    if (!window.__recording) return;
    const t = performance.timeOrigin + performance.now();
    const cards = new Set();
    for (const record of records) {
      const node = record.target.nodeType === 1 ? record.target : record.target.parentElement;
      const card = node?.closest?.('[data-widget-id]');
      if (card) cards.add(card);
      for (const added of record.addedNodes) {
        if (added.nodeType === 1 && added.matches?.('[data-widget-id]')) cards.add(added);
      }
    }
    for (const card of cards) {
      const value = card.querySelector('[data-testid="widget-value"]')?.textContent;
      if (value !== undefined) window.__seen.push(card.dataset.widgetId, value, t);
    }
  });
  observer.observe(document, { subtree: true, childList: true, characterData: true });
}

async function openPage(browser, url, { throttle = 1 } = {}) {
  const context = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
  await context.addInitScript(recordValues);
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Performance.enable');
  if (throttle > 1) await cdp.send('Emulation.setCPUThrottlingRate', { rate: throttle });
  await page.goto(url);
  return { context, page, cdp };
}

/** DevTools' cumulative main-thread times (s): all tasks, script, style and layout. */
async function mainThread(cdp) {
  const { metrics } = await cdp.send('Performance.getMetrics');
  const get = (name) => metrics.find((m) => m.name === name)?.value ?? NaN;
  return {
    task: get('TaskDuration'),
    script: get('ScriptDuration'),
    layout: get('LayoutDuration') + get('RecalcStyleDuration'),
    layouts: get('LayoutCount'),
  };
}

/** widgets x rate updates/s for `seconds`, one batch per tick: latencies and main-thread load. */
async function latencyRun(browser, spa, { widgets, rate, throttle = 1, kiosk = false }) {
  const server = await serverFor(spa);
  try {
    const ids = Array.from({ length: widgets }, (_, i) => `bench.w${String(i).padStart(3, '0')}`);
    await batch(server.url, ids.map((id) => ({ id, kind: 'number', value: 0 })));
    const { context, page, cdp } = await openPage(browser, `${server.url}/${kiosk ? '?kiosk' : ''}`, { throttle });
    try {
      await page.waitForFunction((n) => document.querySelectorAll('[data-widget-id]').length >= n, widgets, {
        timeout: 120_000,
        polling: 200,
      });
      const period = 1000 / rate;
      const sent = new Map();
      const failures = [];
      const inFlight = [];
      const ticks = Math.round((warmupSeconds + seconds) * rate);
      const warmupTicks = Math.round(warmupSeconds * rate);
      let task0;
      let wall0;
      const start = now() + 200;
      for (let tick = 1; tick <= ticks; tick += 1) {
        const due = start + (tick - 1) * period;
        const wait = due - now();
        if (wait > 0) await sleep(wait);
        if (tick === warmupTicks + 1) {
          await page.evaluate(() => { window.__recording = true; });
          task0 = await mainThread(cdp);
          wall0 = now();
        }
        sent.set(tick, now());
        inFlight.push(batch(server.url, ids.map((id) => ({ id, kind: 'number', value: tick }))).catch((e) => failures.push(String(e))));
      }
      await Promise.all(inFlight);
      // Whatever is still queued in a page that fell behind is part of the answer.
      const last = ticks;
      await page.waitForFunction((v) => window.__seen.length >= 3 && window.__seen.slice(-2, -1)[0] === String(v), last, {
        timeout: 60_000,
        polling: 100,
      }).catch(() => {});
      const task1 = await mainThread(cdp);
      const wall1 = now();
      const seen = await page.evaluate(() => window.__seen);
      const firstShown = new Map();
      for (let i = 0; i < seen.length; i += 3) {
        const key = `${seen[i]}#${seen[i + 1].replace(/\D/g, '')}`;
        if (!firstShown.has(key)) firstShown.set(key, seen[i + 2]);
      }
      const samples = [];
      for (const [key, at] of firstShown) {
        const tick = Number(key.split('#')[1]);
        if (tick > warmupTicks && sent.has(tick)) samples.push({ tick, latency: at - sent.get(tick) });
      }
      const sorted = samples.map((s) => s.latency).sort((a, b) => a - b);
      const byTick = [...samples].sort((a, b) => a.tick - b.tick);
      const quarter = Math.max(1, Math.floor(byTick.length / 4));
      const median = (list) => quantile(list.map((s) => s.latency).sort((a, b) => a - b), 0.5);
      return {
        spa: spa.label,
        widgets,
        rate,
        throttle,
        kiosk,
        p50: quantile(sorted, 0.5),
        p99: quantile(sorted, 0.99),
        max: sorted.at(-1),
        shown: samples.length / ((ticks - warmupTicks) * widgets),
        busy: (task1.task - task0.task) / ((wall1 - wall0) / 1000),
        script: (task1.script - task0.script) / ((wall1 - wall0) / 1000),
        layout: (task1.layout - task0.layout) / ((wall1 - wall0) / 1000),
        // One per tick is the floor; more means reads of sizes between DOM
        // writes (forced layouts), which once cost ~140 per tick.
        layoutsPerTick: (task1.layouts - task0.layouts) / (ticks - warmupTicks),
        firstQuarter: median(byTick.slice(0, quarter)),
        lastQuarter: median(byTick.slice(-quarter)),
        failures: failures.length,
      };
    } finally {
      await context.close();
    }
  } finally {
    await server.stop();
  }
}

/**
 * The browser's own cost of what the SPA changes each tick: the page the SPA
 * rendered (200 number cards, in the same mode), frozen into a static copy
 * (no wasm, no stream), whose figures, accessible names, tooltips and
 * sparklines plain JS changes once per tick in an animation frame, as the
 * SPA's renders do (the SPA's changes per tick, counted by a
 * MutationObserver: those four on every card). The same MutationObserver as
 * the SPA's runs. What the SPA costs beyond this is its own.
 */
async function floorRun(browser, spa, { widgets, rate, kiosk }) {
  const server = await serverFor(spa);
  try {
    const ids = Array.from({ length: widgets }, (_, i) => `bench.w${String(i).padStart(3, '0')}`);
    // A few values each, so every card has its change and sparkline.
    for (let v = 0; v < 5; v += 1) await batch(server.url, ids.map((id) => ({ id, kind: 'number', value: v })));
    const { context, page, cdp } = await openPage(browser, `${server.url}/${kiosk ? '?kiosk' : ''}`);
    try {
      await page.waitForFunction((n) => document.querySelectorAll('.sparkline path').length >= n, widgets, { timeout: 120_000, polling: 200 });
      await sleep(1000);
      const frozen = await page.evaluate(() => ({
        html: document.documentElement.outerHTML.replace(/<script[\s\S]*?<\/script>/g, ''),
        // The kiosk grid's custom properties (set through the CSSOM: the
        // server's Content-Security-Policy refuses style attributes).
        properties: [...document.documentElement.style].map((name) => [name, document.documentElement.style.getPropertyValue(name)]),
      }));
      // Same origin, same Content-Security-Policy, no SPA.
      await page.goto(`${server.url}/api/session`);
      await page.setContent(frozen.html);
      const cards = await page.evaluate(({ properties, period }) => {
        for (const [name, value] of properties) document.documentElement.style.setProperty(name, value);
        const cards = [...document.querySelectorAll('[data-widget-id]')].map((card) => ({
          value: card.querySelector('[data-testid="widget-value"]'),
          figure: card.querySelector('.figure').firstChild,
          path: card.querySelector('.sparkline path'),
          delta: card.querySelector('[data-testid="number-delta"]'),
        }));
        const shapes = cards.map(({ path }) => path.getAttribute('d'));
        let tick = 0;
        setInterval(() => {
          tick += 1;
          requestAnimationFrame(() => {
            cards.forEach(({ value, figure, path, delta }, i) => {
              figure.nodeValue = String(tick);
              value.setAttribute('title', `${tick}`);
              // A path of the same length, another each tick.
              path.setAttribute('d', tick % 2 ? shapes[i].replace(/\d/, '9') : shapes[i]);
              if (i % 10 === tick % 10) delta.setAttribute('aria-label', `up ${tick}`);
            });
          });
        }, period);
        window.__recording = true;
        return cards.length;
      }, { properties: frozen.properties, period: 1000 / rate });
      if (cards !== widgets) throw new Error(`the frozen page has ${cards} cards, not ${widgets}`);
      await sleep(warmupSeconds * 1000);
      const task0 = await mainThread(cdp);
      const wall0 = now();
      await sleep(seconds * 1000);
      const task1 = await mainThread(cdp);
      const wall = (now() - wall0) / 1000;
      return {
        spa: 'browser floor',
        widgets,
        rate,
        throttle: 1,
        kiosk,
        floor: true,
        busy: (task1.task - task0.task) / wall,
        script: (task1.script - task0.script) / wall,
        layout: (task1.layout - task0.layout) / wall,
        layoutsPerTick: (task1.layouts - task0.layouts) / (seconds * rate),
      };
    } finally {
      await context.close();
    }
  } finally {
    await server.stop();
  }
}

function rssKiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(status.match(/VmRSS:\s+(\d+)/)[1]);
}

/** The server's RSS before and after `count` page loads. */
async function loadsRun(spa, count) {
  const server = await serverFor(spa);
  try {
    const headers = { 'accept-encoding': 'br, gzip', accept: 'text/html' };
    const index = await (await fetch(`${server.url}/`, { headers })).text();
    const assets = [...index.matchAll(/(?:href|src)="(\/[^"]+)"/g)].map((m) => m[1]);
    const load = async () => {
      await (await fetch(`${server.url}/`, { headers })).arrayBuffer();
      await Promise.all(assets.map(async (path) => (await fetch(`${server.url}${path}`, { headers })).arrayBuffer()));
    };
    // The wasm's brotli copy is made in the background at start: wait for it
    // (the first loads may get gzip meanwhile), then one load to warm up.
    await sleep(3000);
    await load();
    const before = rssKiB(server.pid);
    for (let i = 0; i < count; i += 1) await load();
    await sleep(1000);
    const after = rssKiB(server.pid);
    return { spa: spa.label, count, files: assets.length + 1, before, after };
  } finally {
    await server.stop();
  }
}

/** The soak: memory of a series- and log-heavy page, every minute. */
async function soakRun(browser, spa, minutes) {
  const server = await serverFor(spa);
  const ids = [
    ...Array.from({ length: 20 }, (_, i) => ({ id: `soak.series${i}`, kind: 'series' })),
    ...Array.from({ length: 10 }, (_, i) => ({ id: `soak.log${i}`, kind: 'log' })),
    ...Array.from({ length: 20 }, (_, i) => ({ id: `soak.number${i}`, kind: 'number' })),
  ];
  const update = (w, tick) => {
    if (w.kind === 'series') return { id: w.id, kind: 'series', lines: { a: [[Date.now(), Math.sin(tick / 10) * 50 + 50]] } };
    if (w.kind === 'log') return { id: w.id, kind: 'log', lines: [`tick ${tick}: something happened on ${w.id}`] };
    return { id: w.id, kind: 'number', value: tick };
  };
  try {
    await batch(server.url, ids.map((w) => update(w, 0)));
    const { context, page, cdp } = await openPage(browser, `${server.url}/`);
    await page.waitForFunction((n) => document.querySelectorAll('[data-widget-id]').length >= n, ids.length, { timeout: 60_000 });
    const samples = [];
    const sample = async (minute) => {
      await cdp.send('HeapProfiler.collectGarbage').catch(() => {});
      const heap = await cdp.send('Runtime.getHeapUsage');
      const wasm = await page.evaluate(() => window.__wasm?.memory?.buffer?.byteLength ?? 0);
      const nodes = await page.evaluate(() => document.getElementsByTagName('*').length);
      samples.push({ minute, heap: heap.usedSize, wasm, nodes });
      console.error(`soak ${spa.label}: minute ${minute}: heap ${(heap.usedSize / 1e6).toFixed(2)} MB, wasm ${(wasm / 1e6).toFixed(2)} MB, ${nodes} elements`);
    };
    const start = now();
    let tick = 0;
    let nextSample = 1;
    while (now() - start < minutes * 60_000) {
      tick += 1;
      const due = start + tick * 100;
      const wait = due - now();
      if (wait > 0) await sleep(wait);
      batch(server.url, ids.map((w) => update(w, tick))).catch((e) => console.error(String(e)));
      if (now() - start >= nextSample * 60_000) {
        await sample(nextSample);
        nextSample += 1;
      }
    }
    if (samples.at(-1)?.minute !== minutes) await sample(minutes);
    await context.close();
    return { spa: spa.label, samples, ticks: tick };
  } finally {
    await server.stop();
  }
}

const browser = await launchBrowser();
const out = [];
const print = (line = '') => {
  out.push(line);
  console.log(line);
};
try {
  const runs = [];
  if (scenarios.includes('latency')) {
    for (const [widgets, rate, kiosk] of [[1, 10, false], [200, 10, false], [200, 10, true]]) {
      for (const spa of spas) {
        console.error(`latency: ${spa.label}, ${widgets} x ${rate}/s${kiosk ? ', kiosk' : ''}, ${seconds} s`);
        runs.push(await latencyRun(browser, spa, { widgets, rate, kiosk }));
      }
    }
  }
  if (scenarios.includes('latency')) {
    for (const kiosk of [false, true]) {
      console.error(`floor: 200 x 10/s${kiosk ? ', kiosk' : ''}, the same DOM changes by plain JS, ${seconds} s`);
      runs.push(await floorRun(browser, spas.at(-1), { widgets: 200, rate: 10, kiosk }));
    }
  }
  if (scenarios.includes('throttled')) {
    for (const spa of spas) {
      console.error(`throttled: ${spa.label}, 60 x 10/s, CPU 4x slower, ${seconds} s`);
      runs.push(await latencyRun(browser, spa, { widgets: 60, rate: 10, throttle: 4 }));
    }
  }
  if (runs.length > 0) {
    print(`### Publish -> new value in the DOM (headless Chromium, ${seconds} s after ${warmupSeconds} s of warm-up)`);
    print();
    print('| SPA | widgets x updates/s | CPU | p50 | p99 | max | values shown | main thread busy (script, style+layout) | layouts per tick | median delay, first -> last quarter |');
    print('|---|---|---|---|---|---|---|---|---|---|');
    for (const r of runs) {
      const shown = r.floor ? '—' : `${(100 * r.shown).toFixed(0)} %`;
      print(`| ${r.spa} | ${r.widgets} x ${r.rate}${r.kiosk ? ', kiosk (all on screen)' : ''} | ${r.throttle > 1 ? `${r.throttle}x slower` : 'normal'} | ${ms(r.p50)} | ${ms(r.p99)} | ${ms(r.max)} | ${shown} | ${(100 * r.busy).toFixed(0)} % (${(100 * r.script).toFixed(0)} %, ${(100 * r.layout).toFixed(0)} %) | ${r.layoutsPerTick.toFixed(1)} | ${ms(r.firstQuarter)} -> ${ms(r.lastQuarter)} |${r.failures ? ` (${r.failures} publishes failed)` : ''}`);
    }
    const single = runs.filter((r) => r.widgets === 1);
    const many = runs.filter((r) => r.widgets === 200 && !r.floor);
    if (single.length && many.length) {
      print();
      for (const m of many) {
        const s = single.find((x) => x.spa === m.spa);
        if (s) print(`- ${m.spa}: 200-widget${m.kiosk ? ' kiosk' : ''} p99 / 1-widget p99 = ${(m.p99 / s.p99).toFixed(1)}x`);
        const floor = runs.find((x) => x.floor && x.kiosk === m.kiosk);
        if (floor) print(`- ${m.spa}: 200-widget${m.kiosk ? ' kiosk' : ''} main thread / browser floor = ${(m.busy / floor.busy).toFixed(1)}x (${(100 * (m.busy - floor.busy)).toFixed(0)} points the SPA's own)`);
      }
    }
    if (spas.length > 1) {
      print();
      const [base, ...others] = spas.map((s) => s.label);
      for (const label of others) {
        for (const r of runs.filter((x) => x.spa === label)) {
          const b = runs.find((x) => x.spa === base && x.widgets === r.widgets && x.throttle === r.throttle && x.kiosk === r.kiosk);
          if (b) print(`- ${label} / ${base}, ${r.widgets} x ${r.rate}${r.kiosk ? ' kiosk' : ''}${r.throttle > 1 ? ' throttled' : ''}: p99 ${(r.p99 / b.p99).toFixed(2)}x, main thread ${(r.busy / b.busy).toFixed(2)}x`);
        }
      }
    }
    print();
  }
  if (scenarios.includes('loads')) {
    print(`### Server RSS after ${loadCount} page loads (index.html and every file it names, br/gzip)`);
    print();
    print('| SPA | files per load | RSS before | RSS after | growth |');
    print('|---|---|---|---|---|');
    for (const spa of spas) {
      console.error(`loads: ${spa.label}, ${loadCount} page loads`);
      const r = await loadsRun(spa, loadCount);
      print(`| ${r.spa} | ${r.files} | ${(r.before / 1024).toFixed(1)} MiB | ${(r.after / 1024).toFixed(1)} MiB | ${((r.after - r.before) / 1024).toFixed(2)} MiB |`);
    }
    print();
  }
  if (scenarios.includes('soak')) {
    for (const spa of spas) {
      const r = await soakRun(browser, spa, soakMinutes);
      const first = r.samples[0];
      const last = r.samples.at(-1);
      print(`### Soak: ${r.spa}, ${soakMinutes} min, 20 series + 10 logs + 20 numbers, all 10 updates/s (${r.ticks} batches)`);
      print();
      print('| minute | JS heap | wasm memory | elements |');
      print('|---|---|---|---|');
      for (const s of r.samples) print(`| ${s.minute} | ${(s.heap / 1e6).toFixed(2)} MB | ${(s.wasm / 1e6).toFixed(2)} MB | ${s.nodes} |`);
      print();
      print(`- last / first minute: JS heap ${(last.heap / first.heap).toFixed(3)}x, wasm memory ${(last.wasm / first.wasm).toFixed(3)}x`);
      print();
    }
  }
} finally {
  await browser.close();
}
