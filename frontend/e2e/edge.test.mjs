// End-to-end: edge content on a wall screen and on a phone (issue 15). The real
// server runs with a dashboard of awkward widgets — a 50-row list, a
// 1,000-character status, 200 long log lines, an 8-line series with a gap
// whose newest point is minutes old, huge and tiny numbers with long units,
// gauges outside their range, 80-character titles, right-to-left text, an
// overdue critical gauge — all published through the real API, and seven more
// dashboards for the menu. In Chromium at 1920×1080 and 390×844, in the light
// and the dark theme, it checks that:
// - every card is exactly the box its declared size gives it (whatever its
//   content), and nothing inside it reaches out of it;
// - no two pieces of visible text overlap;
// - secondary text (titles, ages, gauge ranges, axis labels, log times,
//   "Waiting for data", the badge ...) is at least 12 px, with a contrast of at
//   least 4.5:1 against the background it is really drawn on (computed
//   colours, composited through every ancestor's background and opacity);
// then, once, the rules of each kind: lists cut with "…" and "+N more", log
// lines of at most two lines, a chart whose axis ends now and whose lines break
// at the gap, accessible names that tell the value, one h1, long titles on two
// lines, a calm age on a healthy card and a marked (not faded) overdue one, a
// phone header that neither grows with the menu nor stays pinned, and a tab
// title that warns once the connection is down. A second server with the
// built-in host dashboard checks that it fills 1920×1080 without holes or
// scrolling.
//
// Screenshots of every combination go to frontend/e2e/artifacts/ (edge-*.png,
// host-1920x1080.png).
//
// Run: node --test frontend/e2e/edge.test.mjs   (after `cargo build
// -p pulseboard-server` and `trunk build --release` in frontend/).
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { CONFIG, edgeContent, PHONE, WALL } from './edge-content.mjs';
import { installInspector } from './inspect.mjs';
import { launchBrowser, publishWidget, screenshotOnFailure, startServer, waitUntil } from './support.mjs';

const ARTIFACTS = resolve(dirname(fileURLToPath(import.meta.url)), 'artifacts');
const TOKEN = 'e2e-edge-publish-token';
/** How long any wait may take before the test gives up (a slow CI machine). */
const DEADLINE_MS = 20_000;
const card = (id) => `[data-widget-id="${id}"]`;
const LIVE_BADGE = '[data-testid="connection-badge"][data-state="live"]';

// Secondary text the issue names (and the rest of the small print): each
// must be ≥ 12 px and ≥ 4.5:1 wherever it is visible. The first group must be
// on the page at all.
const REQUIRED_SECONDARY = [
  '.gauge-range span',
  '.log-time',
  '.series-y',
  '.series-time span',
  '.waiting',
  '.card-age',
  '[data-testid="connection-badge"] .badge-label',
];
const OTHER_SECONDARY = [
  '.card-title',
  '.card-stale',
  '.gauge-caption',
  '.legend-name',
  '.list-row dt',
  '.more',
  '.unit',
  '.delta',
  '.widget-count',
  '.last-event',
  '.dashboard-link',
];

/** The path data's x coordinates, and how many separate pieces it has. */
function pathShape(d) {
  const xs = [...d.matchAll(/[ML]\s*(-?[\d.]+)[ ,]/g)].map((m) => Number(m[1]));
  return { pieces: (d.match(/M/g) ?? []).length, maxX: Math.max(...xs) };
}

describe('edge content keeps every card in its box, readable', { timeout: 600_000 }, () => {
  let server;
  let browser;
  const published = Date.now();

  before(async () => {
    server = await startServer({
      config: CONFIG,
      extraArgs: ['--publish-token', TOKEN, '--host-metrics', 'false'],
    });
    for (const [id, body] of edgeContent(published)) await publishWidget(server.url, TOKEN, id, body);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await server?.stop();
  });

  async function open(t, viewport, colorScheme) {
    const context = await browser.newContext({ viewport, colorScheme });
    t.after(() => context.close());
    await context.addInitScript(installInspector);
    const page = await context.newPage();
    const problems = [];
    page.on('pageerror', (error) => problems.push(`page error: ${error?.stack ?? error}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
    });
    await page.goto(`${server.url}/`, { waitUntil: 'load', timeout: 30_000 });
    await page.waitForSelector(LIVE_BADGE, { timeout: 30_000 });
    await page.waitForSelector(`${card('edge.overdue')}:not([data-empty])`, { timeout: DEADLINE_MS });
    // The healthy cards show their (calm) age from 5 s on; the overdue one turns stale.
    await page.waitForSelector(`${card('edge.huge')} [data-testid="widget-age"]`, { timeout: DEADLINE_MS });
    await page.waitForSelector(`${card('edge.overdue')}[data-stale="true"]`, { timeout: DEADLINE_MS });
    return { page, problems };
  }

  for (const viewport of [WALL, PHONE]) {
    for (const colorScheme of ['light', 'dark']) {
      const name = `edge-${viewport.width}x${viewport.height}-${colorScheme}`;
      test(`${viewport.width}×${viewport.height}, ${colorScheme}: boxes, overlaps, contrast`, { timeout: 120_000 }, async (t) => {
        const { page, problems } = await open(t, viewport, colorScheme);
        await screenshotOnFailure(page, ARTIFACTS, name, async () => {
          // Measurements settle once "+N more" has been counted.
          await waitUntil(() => page.locator(`${card('edge.rows')} .more`).count(), '"+N more" under the 50-row list', DEADLINE_MS);
          await mkdir(ARTIFACTS, { recursive: true });
          await page.screenshot({ path: resolve(ARTIFACTS, `${name}.png`), fullPage: true });
          const boxes = await page.evaluate(() => window.__edge.boxes());
          const tallest = boxes.cards.reduce((a, b) => (b.height > a.height ? b : a));
          t.diagnostic(`${boxes.cards.length} cards; tallest ${tallest.id}: ${tallest.height.toFixed(0)} px`);
          assert.deepEqual(boxes.problems, [], 'every card in its declared box');

          const text = await page.evaluate(() => window.__edge.overlaps());
          t.diagnostic(`${text.count} visible text boxes`);
          assert.deepEqual(text.found, [], 'no text overlaps');

          const secondary = await page.evaluate(
            ([required, others]) => window.__edge.secondaryText(required, others),
            [REQUIRED_SECONDARY, OTHER_SECONDARY],
          );
          for (const selector of REQUIRED_SECONDARY) {
            assert.ok(secondary.found[selector] > 0, `${selector} on the page`);
          }
          const lowest = {};
          for (const row of secondary.rows) {
            if (!lowest[row.selector] || row.contrast < lowest[row.selector].contrast) lowest[row.selector] = row;
          }
          t.diagnostic(
            `lowest contrast: ${Object.values(lowest)
              .map((row) => `${row.selector} ${row.contrast.toFixed(2)} (${row.px}px)`)
              .join(', ')}`,
          );
          const weak = secondary.rows.filter((row) => row.contrast < 4.5 || row.px < 11.99);
          assert.deepEqual(
            weak.map((row) => `${row.what}: ${row.contrast.toFixed(2)}:1 at ${row.px}px`),
            [],
            'secondary text ≥ 4.5:1 and ≥ 12 px',
          );
        });
        assert.deepEqual(problems, [], 'page problems');
      });
    }
  }

  test('each kind: cut honestly, charts on the clock, names that tell the truth', { timeout: 120_000 }, async (t) => {
    const { page, problems } = await open(t, WALL, 'light');
    await screenshotOnFailure(page, ARTIFACTS, 'edge-kinds', async () => {
      // A long list: the rows that do not fit are counted, under a fade.
      await waitUntil(() => page.locator(`${card('edge.rows')} .more`).count(), '"+N more"', DEADLINE_MS);
      const more = await page.textContent(`${card('edge.rows')} .more`);
      const hidden = await page.$$eval(`${card('edge.rows')} .list-row`, (rows) => {
        const bottom = rows[0].closest('.card-body').getBoundingClientRect().bottom;
        return rows.filter((row) => row.getBoundingClientRect().bottom > bottom + 0.5).length;
      });
      assert.equal(more.trim(), `+${hidden} more`);
      assert.ok(hidden > 0 && hidden < 50, `${hidden} of 50 rows hidden`);
      assert.notEqual(await page.$eval(`${card('edge.rows')} .card-body`, (el) => getComputedStyle(el).maskImage), 'none', 'a fade');

      // A list value too long for its row ends in "…" (CSS), its tooltip whole.
      const value = await page.$eval(`${card('edge.values')} .list-row dd`, (dd) => ({
        overflow: getComputedStyle(dd).textOverflow,
        cut: dd.scrollWidth > dd.clientWidth,
        title: dd.title,
        text: dd.textContent,
      }));
      assert.deepEqual(value, {
        overflow: 'ellipsis',
        cut: true,
        title: '2026.11.27-rc3+build.48213.linux-x86_64-gnu (canary, eu-west-1)',
        text: '2026.11.27-rc3+build.48213.linux-x86_64-gnu (canary, eu-west-1)',
      });

      // Log lines: at most two lines each, the log from the top of its card to the bottom.
      const log = await page.$eval(card('edge.log'), (el) => {
        const texts = [...el.querySelectorAll('.log-text')].slice(0, 5);
        const lineHeight = parseFloat(getComputedStyle(texts[0]).lineHeight);
        const body = el.querySelector('.card-body').getBoundingClientRect();
        const lines = [...el.querySelectorAll('.log-line')];
        const lastShown = lines.filter((line) => line.getBoundingClientRect().top < body.bottom).at(-1);
        return {
          lines: texts.map((text) => text.getBoundingClientRect().height / lineHeight),
          clamp: getComputedStyle(texts[0]).webkitLineClamp,
          title: texts[0].title.length,
          gapAtBottom: body.bottom - lastShown.getBoundingClientRect().bottom,
        };
      });
      t.diagnostic(`log: ${JSON.stringify(log)}`);
      for (const lines of log.lines) assert.ok(lines <= 2.05, `a log line of ${lines} lines`);
      assert.equal(log.clamp, '2');
      assert.ok(log.title > 200, 'the whole line in the tooltip');
      assert.ok(log.gapAtBottom < 60, `the log fills its card (${log.gapAtBottom} px left)`);
      assert.match(await page.textContent(`${card('edge.log')} .more`), /^\+\d+ more$/);

      // Content sits at the top of its card.
      const top = await page.$eval(card('edge.huge'), (el) =>
        el.querySelector('[data-testid="widget-value"]').getBoundingClientRect().top - el.querySelector('.card-body').getBoundingClientRect().top,
      );
      assert.ok(top < 4, `the figure ${top} px under the top of the body`);

      // The chart: the axis ends now, the lines stop 3 minutes before it
      // and break at the gap; 8 lines, 8 different looks.
      const chart = await page.$eval(card('edge.series'), (el) => ({
        now: [...el.querySelectorAll('.series-time span')].filter((s) => s.textContent === 'now').map((s) => s.style.left),
        paths: [...el.querySelectorAll('.series-line')].map((p) => {
          const s = getComputedStyle(p);
          return { d: p.getAttribute('d'), look: `${s.stroke} ${s.strokeDasharray}` };
        }),
        width: el.querySelector('.series-svg').viewBox.baseVal.width,
      }));
      assert.deepEqual(chart.now, ['100%'], '"now" at the right end');
      assert.equal(chart.paths.length, 8);
      for (const { d } of chart.paths) {
        const shape = pathShape(d);
        assert.equal(shape.pieces, 2, `a line broken once at the gap: ${d.slice(0, 80)}…`);
        // 3 of 13 minutes old: the newest point at about 77 % of the width.
        assert.ok(shape.maxX < chart.width * 0.85, `the newest point at ${shape.maxX} of ${chart.width}`);
      }
      assert.equal(new Set(chart.paths.map((p) => p.look)).size, 8, `distinct lines: ${chart.paths.map((p) => p.look)}`);

      // Numbers: the whole figure shows; the change says up or down.
      for (const id of ['edge.huge', 'edge.tiny']) {
        const figure = await page.$eval(`${card(id)} [data-testid="widget-value"] .figure`, (el) => el.scrollWidth <= el.clientWidth + 0.5);
        assert.ok(figure, `${id}: the figure is not cut`);
      }
      // Figures without thresholds are named by their exact value, their tooltip.
      for (const id of ['edge.huge', 'edge.tiny']) {
        const { name, tooltip } = await page.$eval(`${card(id)} [data-testid="widget-value"]`, (el) => ({ name: el.getAttribute('aria-label'), tooltip: el.title }));
        assert.equal(name, null, `${id}: no aria-label to repeat the tooltip`);
        assert.equal(await page.getByRole('img', { name: tooltip, exact: true }).count(), 1, `${id}: named "${tooltip}"`);
      }
      assert.equal(await page.getByRole('img', { name: 'up 134.6 Q requests per second per node', exact: true }).count(), 1);
      assert.equal(await page.getByRole('img', { name: 'down 1.270e-7 seconds of drift per hour', exact: true }).count(), 1);

      // Gauges: read with their value and unit, out of range said so.
      assert.equal(await page.getByRole('img', { name: /^-20 %, below the range 0 % to 100 %/ }).count(), 1);
      assert.equal(await page.getByRole('img', { name: /^150 %, above the range 0 % to 100 %, critical/ }).count(), 1);
      assert.equal(await page.getByRole('img', { name: /^20 °C, range -50 °C to 50 °C/ }).count(), 1);
      assert.equal((await page.textContent(`${card('edge.range')} .gauge-caption`)).trim(), '70 % of range');

      // One h1; titles wrap to two lines at most, whole on hover.
      assert.equal(await page.locator('h1').count(), 1, 'one h1');
      const titles = await page.$$eval('.card-title', (els) =>
        els.map((el) => ({
          lines: el.getBoundingClientRect().height / parseFloat(getComputedStyle(el).lineHeight),
          whole: el.title === el.textContent,
        })),
      );
      for (const title of titles) {
        assert.ok(title.lines <= 2.05, `a title of ${title.lines} lines`);
        assert.ok(title.whole, 'the whole title on hover');
      }
      assert.ok(titles.some((title) => title.lines > 1.5), 'long titles take two lines');

      // Healthy: a grey age. Overdue: an amber age and a tag, value and alert unfaded.
      const age = await page.evaluate((ids) => {
        const colour = (sel) => getComputedStyle(document.querySelector(sel)).color;
        const overdue = document.querySelector(ids.overdue);
        return {
          healthy: colour(`${ids.healthy} [data-testid="widget-age"]`),
          title: colour(`${ids.healthy} .card-title`),
          overdue: colour(`${ids.overdue} [data-testid="widget-age"]`),
          tag: overdue.querySelector('.card-stale')?.textContent,
          opacity: [overdue, overdue.querySelector('.gauge'), overdue.querySelector('[data-testid="widget-value"]')].map(
            (el) => getComputedStyle(el).opacity,
          ),
          filter: getComputedStyle(overdue).filter,
          border: getComputedStyle(overdue).borderTopColor,
          criticalBorder: getComputedStyle(document.querySelector(ids.critical)).borderTopColor,
        };
      }, { healthy: card('edge.huge'), overdue: card('edge.overdue'), critical: card('edge.over') });
      t.diagnostic(`ages: ${JSON.stringify(age)}`);
      assert.equal(age.healthy, age.title, 'a healthy age is grey like the title');
      assert.notEqual(age.overdue, age.healthy, 'an overdue age stands out');
      assert.equal(age.tag, 'Stale');
      assert.deepEqual(age.opacity, ['1', '1', '1'], 'nothing faded');
      assert.equal(age.filter, 'none');
      assert.equal(age.border, age.criticalBorder, 'the alert border as loud as a fresh one');

      // Right-to-left text is laid out right to left.
      assert.equal(await page.$eval(`${card('edge.rtl')} .text-body`, (el) => getComputedStyle(el).direction), 'rtl');
    });
    assert.deepEqual(problems, [], 'page problems');
  });

  test('a value that outgrows its card is cut (faded) at once, and shown whole once it fits again', { timeout: 60_000 }, async (t) => {
    const { page, problems } = await open(t, WALL, 'light');
    await screenshotOnFailure(page, ARTIFACTS, 'edge-grows', async () => {
      const body = `${card('edge.grows')} .card-body`;
      const isCut = () => page.$eval(body, (el) => el.classList.contains('clip--cut')).catch(() => null);
      // Each change is a new value of the same card: the content's element
      // stays, only its height changes.
      await publishWidget(server.url, TOKEN, 'edge.grows', { text: 'short' });
      await waitUntil(async () => (await isCut()) === false, 'a short text, not cut', DEADLINE_MS);
      const long = Array.from({ length: 40 }, (_, i) => `line ${i + 1}`).join('\n');
      await publishWidget(server.url, TOKEN, 'edge.grows', { text: long });
      await waitUntil(async () => (await isCut()) === true, 'a 40-line text, cut', DEADLINE_MS);
      await publishWidget(server.url, TOKEN, 'edge.grows', { text: 'short again' });
      await waitUntil(async () => (await isCut()) === false, 'a short text again, not cut', DEADLINE_MS);
    });
    assert.deepEqual(problems, [], 'page problems');
  });

  test('on a phone the header keeps to its size and scrolls away', { timeout: 60_000 }, async (t) => {
    const { page, problems } = await open(t, PHONE, 'light');
    await screenshotOnFailure(page, ARTIFACTS, 'edge-phone-header', async () => {
      const header = await page.$eval('.topbar', (el) => ({
        height: el.getBoundingClientRect().height,
        position: getComputedStyle(el).position,
        linkTops: new Set([...el.querySelectorAll('.dashboard-link')].map((a) => Math.round(a.getBoundingClientRect().top))).size,
        links: el.querySelectorAll('.dashboard-link').length,
      }));
      t.diagnostic(`phone header: ${JSON.stringify(header)}`);
      assert.equal(header.links, 8);
      assert.equal(header.linkTops, 1, 'the menu is one row');
      assert.ok(header.height <= 100, `header ${header.height} px tall`);
      assert.ok(!['sticky', 'fixed'].includes(header.position), `header is ${header.position}`);
    });
    assert.deepEqual(problems, [], 'page problems');
  });

  // Last: it stops the server.
  test('the tab title warns while the connection is down', { timeout: 60_000 }, async (t) => {
    const { page } = await open(t, WALL, 'light');
    assert.match(await page.title(), /^Edge cases · Pulseboard$/);
    await server.kill('SIGKILL');
    await waitUntil(async () => (await page.title()).startsWith('⚠'), 'a warning in the tab title', DEADLINE_MS);
    t.diagnostic(`title while down: ${await page.title()}`);
  });
});

describe('the built-in host dashboard', { timeout: 180_000 }, () => {
  let server;
  let browser;

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await server?.stop();
  });

  test('fills 1920×1080 without holes or scrolling', { timeout: 120_000 }, async (t) => {
    const context = await browser.newContext({ viewport: WALL });
    t.after(() => context.close());
    const page = await context.newPage();
    await page.goto(`${server.url}/`, { waitUntil: 'load', timeout: 30_000 });
    await page.waitForSelector(LIVE_BADGE, { timeout: 30_000 });
    await page.waitForFunction(() => document.querySelectorAll('[data-widget-id^="host."]:not([data-empty])').length >= 9, null, {
      timeout: DEADLINE_MS,
    });
    // A few samples, so the charts have lines.
    await page.waitForFunction(() => document.querySelector('[data-widget-id="host.cpu_history"] .series-line')?.getAttribute('d')?.length > 40, null, {
      timeout: DEADLINE_MS,
    });
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: resolve(ARTIFACTS, 'host-1920x1080.png') });
    const fit = await page.evaluate(() => {
      const grid = document.querySelector('[data-testid="dashboard"]');
      const gs = getComputedStyle(grid);
      const cols = gs.gridTemplateColumns.split(' ').length;
      const rows = gs.gridTemplateRows.split(' ').length;
      const [col, row] = [parseFloat(gs.gridTemplateColumns), parseFloat(gs.gridTemplateRows)];
      const [colGap, rowGap] = [parseFloat(gs.columnGap), parseFloat(gs.rowGap)];
      // Cells each card covers, from its size on screen.
      const cells = [...grid.querySelectorAll(':scope > .card')].reduce((sum, el) => {
        const r = el.getBoundingClientRect();
        return sum + Math.round((r.width + colGap) / (col + colGap)) * Math.round((r.height + rowGap) / (row + rowGap));
      }, 0);
      return {
        cols,
        rows,
        cells,
        scrollHeight: document.documentElement.scrollHeight,
        scrollWidth: document.documentElement.scrollWidth,
        innerHeight,
        innerWidth,
      };
    });
    t.diagnostic(`host dashboard: ${JSON.stringify(fit)}`);
    assert.ok(fit.scrollHeight <= fit.innerHeight, `scrolls: ${fit.scrollHeight} > ${fit.innerHeight}`);
    assert.ok(fit.scrollWidth <= fit.innerWidth, `scrolls sideways: ${fit.scrollWidth} > ${fit.innerWidth}`);
    assert.equal(fit.cells, fit.cols * fit.rows, `holes: ${fit.cells} cells filled of ${fit.cols}×${fit.rows}`);
  });
});
