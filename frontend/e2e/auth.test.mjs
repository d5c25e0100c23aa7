// End-to-end: viewer tokens. The real server runs with `--viewer-token`: the
// API and the event stream refuse a browser without a session, the SPA shows
// its login form instead of opening a stream, a wrong token is refused, the
// right one makes the dashboard live, and "Log out" brings the form back. A
// session that ends while the page streams (its cookie gone, or its token
// revoked, and the stream broken by a restart) brings the form back too, and
// the page stops reconnecting. Too many attempts: the form says to wait.
//
// Run: node --test frontend/e2e/   (after `cargo build -p pulseboard-server`
// and `trunk build --release` in frontend/; scripts/test.sh does all of it).
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { launchBrowser, logIn, publishWidget, startServer, trackEventSources } from './support.mjs';

const ARTIFACTS = resolve(dirname(fileURLToPath(import.meta.url)), 'artifacts');
const VIEWER_TOKEN = 'e2e-viewer-token';
const PUBLISH_TOKEN = 'e2e-publish-token';
const SERVER_ARGS = ['--viewer-token', VIEWER_TOKEN, '--publish-token', PUBLISH_TOKEN, '--host-metrics', 'false'];
const DEADLINE_MS = 15_000;

const LOGIN_FORM = '[data-testid="login-form"]';
const LOGIN_ERROR = '[data-testid="login-error"]';
const LOGIN_NOTICE = '[data-testid="login-notice"]';
const LOGOUT = '[data-testid="logout-button"]';
const BADGE = '[data-testid="connection-badge"]';
const LIVE_BADGE = `${BADGE}[data-state="live"]`;
const card = (id) => `[data-widget-id="${id}"]`;

const publish = (url, id, body) => publishWidget(url, PUBLISH_TOKEN, id, body);

/** GET `path`; the body is read only when it is not a stream (a 200 SSE stream never ends). */
async function get(url, path, headers = {}) {
  const controller = new AbortController();
  const response = await fetch(`${url}${path}`, { headers, signal: controller.signal });
  const streaming = (response.headers.get('content-type') ?? '').startsWith('text/event-stream');
  const text = streaming ? '' : await response.text();
  controller.abort();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

const sleep = (ms) => new Promise((resolveWait) => setTimeout(resolveWait, ms));

/**
 * Chromium logs every failed request as a console error: a 401 or 429 answer,
 * and (where a test kills the server) the stream cut off and the refused
 * reconnects. Those are expected here, not problems.
 */
const expectedConsole = (text) =>
  /Failed to load resource: (the server responded with a status of (401|429)|net::ERR_)/.test(text) ||
  /^pulseboard: /.test(text);

describe('viewer tokens', { timeout: 300_000 }, () => {
  let browser;

  before(async () => {
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close().catch(() => {});
  });

  /** A page on `url` with the EventSource tracker and a log of problems. */
  async function openPage(t, url) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    t.after(() => context.close());
    await context.addInitScript(trackEventSources);
    const page = await context.newPage();
    const problems = [];
    const consoleLines = [];
    page.on('pageerror', (error) => problems.push(`page error: ${error?.stack ?? error}`));
    page.on('console', (message) => {
      consoleLines.push(`${message.type()}: ${message.text()}`);
      if (message.type() === 'error' && !expectedConsole(message.text())) {
        problems.push(`console error: ${message.text()}`);
      }
    });
    const response = await page.goto(`${url}/`, { waitUntil: 'load', timeout: 30_000 });
    assert.equal(response?.status(), 200, 'GET / (static files need no session)');
    const streams = () => page.evaluate(() => window.__eventSources.urls.length);
    const open = () => page.evaluate(() => window.__openEventSources());
    const explain = () => `\nproblems: ${problems.join('\n')}\nconsole:\n  ${consoleLines.slice(-30).join('\n  ')}`;
    return { context, page, problems, streams, open, explain };
  }

  async function screenshotOnFailure(page, name, explain, fn) {
    try {
      await fn();
    } catch (error) {
      await mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: resolve(ARTIFACTS, `${name}-failure.png`), fullPage: true }).catch(() => {});
      error.message += explain();
      throw error;
    }
  }

  /** Fills the form with `token` and submits it (with the keyboard's Enter, as a user would). */
  async function submitToken(page, token) {
    const field = page.getByLabel('Viewer token');
    await field.fill(token);
    await field.press('Enter');
  }

  test('the API and the stream refuse a browser without a session', async (t) => {
    const server = await startServer({ extraArgs: SERVER_ARGS });
    t.after(() => server.stop());
    const explain = () => `\n${server.output()}`;

    const session = await get(server.url, '/api/session');
    assert.equal(session.status, 200, `GET /api/session${explain()}`);
    assert.deepEqual(session.json, { required: true, authenticated: false });

    for (const path of ['/api/events', '/api/widgets', '/api/widgets/anything', '/api/dashboards']) {
      const answer = await get(server.url, path);
      assert.equal(answer.status, 401, `GET ${path} without a session: ${answer.text}${explain()}`);
      assert.equal(answer.json?.error, 'unauthorized', `GET ${path} body: ${answer.text}`);
    }
    // The SPA itself is open: it has to show the form.
    assert.equal((await get(server.url, '/')).status, 200);

    const wrong = await logIn(server.url, 'not-the-token');
    assert.equal(wrong.response.status, 401, `wrong token${explain()}`);
    assert.equal((await wrong.response.json()).error, 'unauthorized');
    assert.equal(wrong.cookie, undefined, 'no cookie for a wrong token');

    const right = await logIn(server.url, VIEWER_TOKEN);
    assert.equal(right.response.status, 200, `right token${explain()}`);
    assert.deepEqual(await right.response.json(), { required: true, authenticated: true });
    const setCookie = right.response.headers.getSetCookie().find((h) => h.startsWith('pulseboard_session='));
    assert.ok(setCookie, 'a session cookie');
    assert.match(setCookie, /;\s*HttpOnly/i);
    assert.match(setCookie, /;\s*SameSite=Strict/i);
    assert.match(setCookie, /;\s*Path=\//i);

    const withCookie = { cookie: right.cookie };
    assert.deepEqual((await get(server.url, '/api/session', withCookie)).json, { required: true, authenticated: true });
    assert.equal((await get(server.url, '/api/widgets', withCookie)).status, 200);
    const stream = await get(server.url, '/api/events', withCookie);
    assert.equal(stream.status, 200, 'the stream with a session');
    assert.match(stream.headers.get('content-type') ?? '', /^text\/event-stream/);

    const logout = await fetch(`${server.url}/api/session`, { method: 'DELETE', headers: withCookie });
    assert.equal(logout.status, 200);
    assert.deepEqual(await logout.json(), { required: true, authenticated: false });
    const cleared = logout.headers.getSetCookie().find((h) => h.startsWith('pulseboard_session='));
    assert.ok(cleared, 'logout clears the cookie');
    assert.match(cleared, /Max-Age=0|expires=Thu, 01 Jan 1970/i);
  });

  test('the form instead of a stream; wrong token, right token, live, log out', { timeout: 120_000 }, async (t) => {
    const server = await startServer({ extraArgs: SERVER_ARGS });
    t.after(() => server.stop());
    const { context, page, problems, streams, open, explain: explainPage } = await openPage(t, server.url);
    const explain = () => `${explainPage()}\n${server.output()}`;

    await screenshotOnFailure(page, 'auth-login', explain, async () => {
      // Logged out: the form, and no EventSource at all.
      await page.waitForSelector(LOGIN_FORM, { timeout: DEADLINE_MS });
      const field = page.getByLabel('Viewer token');
      assert.equal(await field.getAttribute('type'), 'password');
      assert.equal(await page.getByRole('button', { name: 'Log in' }).count(), 1);
      assert.equal(await page.locator(BADGE).count(), 0, 'no connection badge without a stream');
      assert.equal(await page.locator(LOGOUT).count(), 0, 'nothing to log out of');
      await sleep(1_500);
      assert.equal(await streams(), 0, `an EventSource was opened while logged out${explain()}`);

      // A wrong token: refused, said so, still no stream.
      await submitToken(page, 'not-the-token');
      await page.waitForFunction(
        (sel) => /That token is not valid/.test(document.querySelector(sel)?.textContent ?? ''),
        LOGIN_ERROR,
        { timeout: DEADLINE_MS },
      );
      assert.equal(await field.getAttribute('aria-invalid'), 'true');
      assert.equal(await streams(), 0, `an EventSource after a wrong token${explain()}`);

      // The right one: the dashboard goes live and shows what is published.
      await submitToken(page, VIEWER_TOKEN);
      await page.waitForSelector(LIVE_BADGE, { timeout: DEADLINE_MS });
      await page.waitForSelector(LOGIN_FORM, { state: 'detached', timeout: DEADLINE_MS });
      const cookies = await context.cookies();
      const cookie = cookies.find((c) => c.name === 'pulseboard_session');
      assert.ok(cookie, `the session cookie is stored: ${JSON.stringify(cookies)}`);
      assert.equal(cookie.httpOnly, true);
      assert.equal(cookie.sameSite, 'Strict');
      assert.equal(await page.evaluate(() => document.cookie.includes('pulseboard_session')), false, 'HttpOnly');

      await publish(server.url, 'visitors', { kind: 'number', value: 4242 });
      await page.waitForFunction(
        (sel) => /4,?242/.test(document.querySelector(sel)?.textContent ?? ''),
        `${card('visitors')} [data-testid="widget-value"]`,
        { timeout: DEADLINE_MS },
      );
      assert.equal(await streams(), 1, `one stream once logged in${explain()}`);

      // Log out: the form again, the stream closed and not reopened.
      await page.click(LOGOUT);
      await page.waitForSelector(LOGIN_FORM, { timeout: DEADLINE_MS });
      assert.match(await page.textContent(LOGIN_NOTICE), /logged out/i);
      assert.equal(await page.locator(card('visitors')).count(), 0, 'no data left on screen');
      assert.equal(await open(), 0, `the EventSource is still open after logging out${explain()}`);
      await sleep(2_000);
      assert.equal(await streams(), 1, `a stream was opened after logging out${explain()}`);
      assert.equal(
        (await context.cookies()).some((c) => c.name === 'pulseboard_session'),
        false,
        'the cookie is cleared',
      );

      // The server ended the session too: a reload still shows the form.
      await page.reload({ waitUntil: 'load' });
      await page.waitForSelector(LOGIN_FORM, { timeout: DEADLINE_MS });
      await sleep(1_000);
      assert.equal(await streams(), 0, `a stream after the reload${explain()}`);

      const tracked = await page.evaluate(() => window.__eventSources);
      assert.equal(tracked.overlaps, 0);
    });
    assert.deepEqual(problems, [], `page problems${explain()}`);
  });

  // Two ways a session ends under an open page: its cookie goes away (as when
  // it expires), or the server stops accepting the token it was made with.
  // Either way the open stream does not notice until it breaks: the server
  // restarts on the same address, the page reconnects, and this time the
  // stream is refused with 401.
  const ENDINGS = [
    { how: 'its cookie is gone', clearCookies: true, token: VIEWER_TOKEN },
    { how: 'its token is revoked', clearCookies: false, token: 'e2e-new-viewer-token' },
  ];
  for (const ending of ENDINGS) {
    test(`a session that ends while streaming (${ending.how}) brings the form back, without a retry loop`, { timeout: 150_000 }, async (t) => {
      let server = await startServer({ extraArgs: SERVER_ARGS });
      t.after(() => server.stop());
      const addr = new URL(server.url).host;
      const { context, page, problems, streams, open, explain: explainPage } = await openPage(t, server.url);
      const explain = () => `${explainPage()}\n${server.output()}`;

      await screenshotOnFailure(page, `auth-session-ended-${ending.clearCookies ? 'cookie' : 'revoked'}`, explain, async () => {
        await page.waitForSelector(LOGIN_FORM, { timeout: DEADLINE_MS });
        await submitToken(page, VIEWER_TOKEN);
        await page.waitForSelector(LIVE_BADGE, { timeout: DEADLINE_MS });
        await page.evaluate(() => {
          window.__sameDocument = true;
        });

        if (ending.clearCookies) await context.clearCookies();
        await server.kill('SIGKILL');
        const args = SERVER_ARGS.map((arg) => (arg === VIEWER_TOKEN ? ending.token : arg));
        server = await startServer({ addr, extraArgs: args });

        await page.waitForSelector(LOGIN_FORM, { timeout: 60_000 });
        assert.match(await page.textContent(LOGIN_NOTICE), /session ended/i);
        assert.equal(await page.locator(BADGE).count(), 0);
        assert.equal(await open(), 0, `an EventSource is still open${explain()}`);

        // And it stays that way: no EventSource is made over several seconds
        // (a retry loop would make one every backoff, starting at half a second).
        const made = await streams();
        await sleep(6_000);
        assert.equal(await streams(), made, `EventSources kept being made after the session ended${explain()}`);
        const tracked = await page.evaluate(() => window.__eventSources);
        assert.equal(tracked.overlaps, 0, 'EventSources overlapped');

        // Logging in again in the same document resumes the dashboard.
        await submitToken(page, ending.token);
        await page.waitForSelector(LIVE_BADGE, { timeout: DEADLINE_MS });
        await publish(server.url, 'after', { kind: 'text', text: 'back again' });
        await page.waitForFunction(
          (sel) => /back again/.test(document.querySelector(sel)?.textContent ?? ''),
          card('after'),
          { timeout: DEADLINE_MS },
        );
        assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was reloaded');
        assert.equal(await open(), 1);
      });
      assert.deepEqual(problems, [], `page problems${explain()}`);
    });
  }

  // Logout means it: a session logged out elsewhere (another tab, or a
  // stolen copy of the cookie) ends at once on the server, which ends the
  // open stream of this page too; no restart is needed.
  test('a session logged out elsewhere ends the open page\'s stream and brings the form back', { timeout: 120_000 }, async (t) => {
    const server = await startServer({ extraArgs: SERVER_ARGS });
    t.after(() => server.stop());
    const { context, page, problems, streams, open, explain: explainPage } = await openPage(t, server.url);
    const explain = () => `${explainPage()}\n${server.output()}`;

    await screenshotOnFailure(page, 'auth-logged-out-elsewhere', explain, async () => {
      await page.waitForSelector(LOGIN_FORM, { timeout: DEADLINE_MS });
      await submitToken(page, VIEWER_TOKEN);
      await page.waitForSelector(LIVE_BADGE, { timeout: DEADLINE_MS });
      const [cookie] = (await context.cookies()).filter((c) => c.name === 'pulseboard_session');
      assert.ok(cookie, 'the page holds a session cookie');

      // The same cookie, logged out from outside the page.
      const response = await fetch(`${server.url}/api/session`, {
        method: 'DELETE',
        headers: { cookie: `${cookie.name}=${cookie.value}` },
      });
      assert.equal(response.status, 200, await response.text());

      await page.waitForSelector(LOGIN_FORM, { timeout: 30_000 });
      assert.match(await page.textContent(LOGIN_NOTICE), /session ended/i);
      assert.equal(await open(), 0, `an EventSource is still open${explain()}`);
      const made = await streams();
      await sleep(3_000);
      assert.equal(await streams(), made, `EventSources kept being made after the logout${explain()}`);
    });
    assert.deepEqual(problems, [], `page problems${explain()}`);
  });

  test('too many attempts: the form says to wait', { timeout: 120_000 }, async (t) => {
    const server = await startServer({ extraArgs: SERVER_ARGS });
    t.after(() => server.stop());
    const explainServer = () => `\n${server.output()}`;

    const { page, problems, explain: explainPage } = await openPage(t, server.url);
    const explain = () => `${explainPage()}${explainServer()}`;
    await screenshotOnFailure(page, 'auth-rate-limited', explain, async () => {
      await page.waitForSelector(LOGIN_FORM, { timeout: DEADLINE_MS });
      await page.getByLabel('Viewer token').fill('still-wrong');

      // Wrong tokens until the server says 429 (from this address, as the
      // browser's requests are). The limit refills one attempt every few
      // seconds, so the browser's attempt follows at once.
      let limited;
      for (let attempt = 1; attempt <= 200 && !limited; attempt += 1) {
        const { response } = await logIn(server.url, `wrong-${attempt}`);
        const body = await response.text();
        if (response.status === 429) limited = { attempt, response, body };
        else assert.equal(response.status, 401, `attempt ${attempt}: ${body}${explainServer()}`);
      }
      assert.ok(limited, `no 429 after 200 wrong tokens${explainServer()}`);
      await page.getByLabel('Viewer token').press('Enter');
      t.diagnostic(`429 after ${limited.attempt} wrong tokens`);
      assert.match(limited.response.headers.get('retry-after') ?? '', /^\d+$/, 'a Retry-After in seconds');
      assert.equal(JSON.parse(limited.body).error, 'rate_limited');

      await page.waitForFunction(
        (sel) => /Too many attempts\. (Try again in \d+ (second|minute)s?|Wait a moment)/.test(
          document.querySelector(sel)?.textContent ?? '',
        ),
        LOGIN_ERROR,
        { timeout: DEADLINE_MS },
      );
      assert.equal(await page.locator(LOGIN_FORM).count(), 1);
    });
    assert.deepEqual(problems, [], `page problems${explain()}`);
  });
});
