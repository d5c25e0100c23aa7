// Helpers for the e2e tests: start the real server binary, find Chromium.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The server binary: $PULSEBOARD_BIN, else the newest of target/{debug,release}/pulseboard. */
export function serverBinary() {
  if (process.env.PULSEBOARD_BIN) return resolve(process.env.PULSEBOARD_BIN);
  const targetDir = resolve(repoRoot, process.env.CARGO_TARGET_DIR ?? 'target');
  const candidates = ['debug', 'release']
    .map((profile) => resolve(targetDir, profile, 'pulseboard'))
    .filter((path) => existsSync(path))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (candidates.length === 0) {
    throw new Error(
      `no server binary in ${targetDir}/{debug,release}: run \`cargo build -p pulseboard-server\` or set PULSEBOARD_BIN`,
    );
  }
  return candidates[0];
}

/** Debian's Chromium (never a Playwright-downloaded browser); $CHROMIUM_BIN overrides. */
export function chromiumExecutable() {
  const candidates = [
    process.env.CHROMIUM_BIN,
    '/usr/bin/chromium',
    '/usr/bin/chromium-browser',
    '/usr/bin/google-chrome',
  ].filter(Boolean);
  const found = candidates.find((path) => existsSync(path));
  if (!found) throw new Error(`no Chromium found (tried ${candidates.join(', ')}): run scripts/setup.sh`);
  return found;
}

export const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Launches headless Debian Chromium with the flags above. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: chromiumExecutable(),
    args: chromiumArgs,
    headless: true,
  });
}

const LISTENING = /Pulseboard listening on (http:\/\/\S+)/;

/**
 * Starts the server and resolves once it prints the address it bound. By
 * default it takes a free port (`--addr 127.0.0.1:0`); pass `addr` (the `host`
 * of an earlier server's `url`) to restart on the same address, e.g. to test
 * that a browser reconnects by itself. A port still held by the previous
 * process (TIME_WAIT, or an exit not yet reaped) is retried for `bindRetryMs`.
 *
 * More options, each turned into the server's flags:
 * - `config`: the text of a pulseboard.toml, written to a temp file (`--config`);
 * - `dataDir`: where the server keeps its state, the SQLite database
 *   `pulseboard.db` (`--data-dir`): by default (true) a fresh temp directory,
 *   so a test's widgets never land in, or come from, the repo's data/, and
 *   it is removed with the server's other temp files (so a restart with the
 *   default starts empty, in a new epoch); a path to choose one,
 *   which is never removed (the caller owns it: pass the same path again to
 *   restart a server on its own state, e.g. with the same `addr`); false for
 *   the server's own default;
 * - `extraArgs`: any other flags, as an array.
 *
 * Returns { url, pid, dataDir, stop, kill, output }: `dataDir` is the
 * directory passed as `--data-dir` (undefined with `dataDir: false`);
 * `stop()` ends it (SIGTERM, then SIGKILL after 5 s) and removes its temp
 * files; `kill(signal)` sends one signal, resolves when it has exited and
 * removes its temp files too; `output()` is its recent stdout+stderr, for
 * failure messages.
 */
export async function startServer({ addr, bindRetryMs = 10_000, ...options } = {}) {
  if (!addr) return startServerOnce({ ...options, addr: '127.0.0.1:0' });
  const deadline = Date.now() + bindRetryMs;
  for (;;) {
    try {
      return await startServerOnce({ ...options, addr });
    } catch (error) {
      const inUse = /address already in use|AddrInUse|os error 98/i.test(String(error.message));
      if (!inUse || Date.now() >= deadline) throw error;
      await new Promise((resolveWait) => setTimeout(resolveWait, 200));
    }
  }
}

function startServerOnce({ addr, config, dataDir = true, extraArgs = [], timeoutMs = 30_000 }) {
  const bin = serverBinary();
  const staticDir = process.env.PULSEBOARD_STATIC_DIR ?? resolve(repoRoot, 'frontend', 'dist');
  const { args: fileArgs, dataDir: dataDirUsed, cleanup: removeFiles } = serverFiles({ config, dataDir });
  const args = [
    '--addr', addr,
    '--static-dir', staticDir,
    '--sample-interval', '250ms',
    '--heartbeat-interval', '1s',
    ...fileArgs,
    ...extraArgs,
  ];
  // The server reads PULSEBOARD_* variables as config (e.g. PULSEBOARD_HOST_METRICS);
  // drop any from the caller's shell so the test always runs the same server.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('PULSEBOARD_')),
  );
  const child = spawn(bin, args, {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...env, RUST_LOG: process.env.RUST_LOG ?? 'info', NO_COLOR: '1' },
  });

  // Keep the tail of the server's output (and keep draining the pipes, so the
  // server never blocks on a full pipe).
  let log = '';
  const keep = (chunk) => {
    log = (log + chunk.toString()).slice(-20_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const output = () => `--- server output (${bin} ${args.join(' ')}) ---\n${log}`;

  let exited = false;
  const exitedPromise = new Promise((resolveExit) => {
    child.on('exit', (code, signal) => {
      exited = true;
      resolveExit({ code, signal });
    });
    // A spawn failure (e.g. no such binary) emits 'error' and never 'exit'.
    child.on('error', (error) => {
      exited = true;
      resolveExit({ error });
    });
  });
  // Backstop: never leave the server running if the test process dies.
  const killOnExit = () => {
    if (!exited) child.kill('SIGKILL');
    removeFiles();
  };
  process.on('exit', killOnExit);

  const stop = async () => {
    process.off('exit', killOnExit);
    if (!exited) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exitedPromise;
      clearTimeout(timer);
    }
    removeFiles();
  };

  // One signal, no escalation: for tests of what clients see when the server
  // dies (SIGKILL) or shuts down gracefully (SIGTERM).
  const kill = async (signal = 'SIGKILL') => {
    process.off('exit', killOnExit);
    if (!exited) child.kill(signal);
    const result = await exitedPromise;
    removeFiles();
    return result;
  };

  const ready = new Promise((resolveUrl, reject) => {
    let lineBuffer = '';
    const onData = (chunk) => {
      lineBuffer += chunk.toString();
      const match = lineBuffer.match(LISTENING);
      if (match) {
        cleanup();
        resolveUrl(match[1].replace(/\/+$/, ''));
      }
    };
    const onExit = (code, signal) => {
      cleanup();
      reject(new Error(`server exited (code ${code}, signal ${signal}) before listening\n${output()}`));
    };
    const onError = (err) => {
      cleanup();
      reject(new Error(`could not start ${bin}: ${err.message}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`server did not print "Pulseboard listening on ..." within ${timeoutMs} ms\n${output()}`));
    }, timeoutMs);
    function cleanup() {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onError);
    }
    child.stdout.on('data', onData);
    child.on('exit', onExit);
    child.on('error', onError);
  });

  return ready.then(
    (url) => ({ url, pid: child.pid, dataDir: dataDirUsed, stop, kill, output }),
    async (err) => {
      await stop();
      throw err;
    },
  );
}

/**
 * The flags for a server's files, the data dir it gets, and a cleanup that
 * removes the temp ones (never a data dir the caller chose).
 */
function serverFiles({ config, dataDir }) {
  const args = [];
  if (typeof dataDir === 'string') args.push('--data-dir', dataDir);
  if (config === undefined && dataDir !== true) {
    return { args, dataDir: typeof dataDir === 'string' ? dataDir : undefined, cleanup: () => {} };
  }
  const dir = mkdtempSync(join(tmpdir(), 'pulseboard-e2e-'));
  if (config !== undefined) {
    const path = join(dir, 'pulseboard.toml');
    writeFileSync(path, config);
    args.push('--config', path);
  }
  let used = typeof dataDir === 'string' ? dataDir : undefined;
  if (dataDir === true) {
    used = join(dir, 'data');
    mkdirSync(used);
    args.push('--data-dir', used);
  }
  return { args, dataDir: used, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

// For `context.addInitScript`: runs in the page before the SPA and wraps the
// EventSource constructor to record, in `window.__eventSources`, each URL the
// page opens and how many earlier EventSources were still not closed at that
// moment (the SPA promises one at a time). `window.__openEventSources()`
// counts the ones not closed now.
export function trackEventSources() {
  const Native = window.EventSource;
  const created = [];
  const log = { urls: [], overlaps: 0 };
  window.__eventSources = log;
  window.__openEventSources = () => created.filter((source) => source.readyState !== Native.CLOSED).length;
  window.EventSource = class extends Native {
    constructor(url, init) {
      super(url, init);
      log.overlaps += created.filter((source) => source.readyState !== Native.CLOSED).length;
      created.push(this);
      log.urls.push(String(url));
    }
  };
}

// For `context.addInitScript`: records every Content-Security-Policy
// violation the page reports (`securitypolicyviolation` events, which the
// browser fires for a blocked inline script, style attribute, eval, font...)
// in `window.__cspViolations`.
export function watchCspViolations() {
  const violations = [];
  window.__cspViolations = violations;
  document.addEventListener(
    'securitypolicyviolation',
    (event) => {
      violations.push({
        directive: event.effectiveDirective || event.violatedDirective,
        blocked: event.blockedURI,
        sample: event.sample,
        source: `${event.sourceFile}:${event.lineNumber}:${event.columnNumber}`,
        disposition: event.disposition,
      });
    },
    true,
  );
}

/**
 * A viewer's session from raw HTTP: `POST /api/session` with `token`;
 * resolves with the response and the `name=value` of its session cookie
 * (undefined when none was set), for `cookie:` headers of later requests.
 */
export async function logIn(url, token) {
  const response = await fetch(`${url}/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token }),
  });
  const cookie = response.headers
    .getSetCookie()
    .map((header) => header.split(';')[0])
    .find((pair) => pair.startsWith('pulseboard_session='));
  return { response, cookie };
}

/**
 * `POST {url}/api/widgets/{id}` with `body` as JSON and the publish `token`;
 * fails the test unless it is accepted. Returns when it was sent and when the
 * answer came (ms since the epoch).
 */
export async function publishWidget(url, token, id, body) {
  const sent = Date.now();
  const response = await fetch(`${url}/api/widgets/${id}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const answered = Date.now();
  const text = await response.text();
  assert.ok(response.ok, `POST ${url}/api/widgets/${id}: ${response.status} ${text}`);
  return { sent, answered };
}

/**
 * Polls `condition` (sync or async) every `everyMs` until it returns a truthy
 * value, which it returns; fails after `timeoutMs`.
 */
export async function waitUntil(condition, what, timeoutMs, everyMs = 100) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolveWait) => setTimeout(resolveWait, everyMs));
  }
}

// Runs in the page before the SPA: records every stream event the page
// receives, whichever EventSource it came on (`source` is its index, `url`
// its URL): name, SSE id, epoch (init/reset), the widget an update is for,
// and the log lines it carries (an update's appended lines, or the log in a
// snapshot). An `updates` event (the SPA's stream groups the updates that
// are ready together) is recorded as its updates, each an `update` entry
// (`grouped: true`): the last with the event's id, the others with the ids
// before it, which they had (the tests that read ids stream every widget,
// so a group's updates are consecutive events). For
// `context.addInitScript`; read `window.__streamEvents`.
export function recordStreamEvents() {
  const Native = window.EventSource;
  const log = [];
  let sources = 0;
  window.__streamEvents = log;
  window.EventSource = class extends Native {
    constructor(url, init) {
      super(url, init);
      const source = sources;
      sources += 1;
      this.addEventListener('updates', (event) => {
        const cut = event.lastEventId.lastIndexOf('-');
        const [epoch, last] = [event.lastEventId.slice(0, cut), Number(event.lastEventId.slice(cut + 1))];
        const updates = JSON.parse(event.data);
        updates.forEach((data, i) => {
          const entry = { type: 'update', grouped: true, id: `${epoch}-${last - (updates.length - 1 - i)}`, source, url: String(url), at: Date.now() };
          entry.widget = data.id;
          if (data.value?.kind === 'log') entry.lines = data.value.lines.map((line) => line.text);
          log.push(entry);
        });
      });
      for (const type of ['init', 'reset', 'update', 'remove', 'shutdown']) {
        this.addEventListener(type, (event) => {
          const entry = { type, id: event.lastEventId, source, url: String(url), at: Date.now() };
          try {
            const data = JSON.parse(event.data);
            if (data.epoch) entry.epoch = data.epoch;
            if (type === 'update' || type === 'remove') entry.widget = data.id;
            if (type === 'update' && data.value?.kind === 'log') {
              entry.lines = data.value.lines.map((line) => line.text);
            }
            const logWidget = data.snapshot?.widgets?.find((w) => w.value?.kind === 'log');
            if (logWidget) entry.lines = logWidget.value.lines.map((line) => line.text);
          } catch {
            // Not JSON: keep what we have.
          }
          log.push(entry);
        });
      }
    }
  };
}

/** The value of one Prometheus sample, e.g. `pulseboard_open_streams`; 0 if absent. */
export async function metric(url, sample) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line ? Number(line.slice(sample.length + 1)) : 0;
}

/**
 * A new page in a context of its own (closed after test `t`), with
 * trackEventSources and recordStreamEvents installed; collects the URLs of its
 * stream requests, its uncaught errors and its console lines.
 */
export async function openRecordedPage(browser, t, viewport = { width: 1280, height: 800 }) {
  const context = await browser.newContext({ viewport });
  t.after(() => context.close());
  await context.addInitScript(trackEventSources);
  await context.addInitScript(recordStreamEvents);
  const page = await context.newPage();
  const streams = [];
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (url.pathname === '/api/events') streams.push(url);
  });
  const pageErrors = [];
  const consoleLines = [];
  page.on('pageerror', (error) => pageErrors.push(String(error?.stack ?? error)));
  page.on('console', (message) => consoleLines.push(`${message.type()}: ${message.text()}`));
  return { context, page, streams, pageErrors, consoleLines };
}

/** Runs `fn`; if it throws, saves a screenshot of `page` as `<dir>/<name>-failure.png` first. */
export async function screenshotOnFailure(page, dir, name, fn) {
  try {
    await fn();
  } catch (error) {
    mkdirSync(dir, { recursive: true });
    await page.screenshot({ path: resolve(dir, `${name}-failure.png`), fullPage: true }).catch(() => {});
    throw error;
  }
}
