// The edge content of edge.test.mjs (issue 15): a dashboard of awkward
// widgets and seven more dashboards for the menu, as a pulseboard.toml and
// the bodies published to it through the API.

const MINUTE = 60_000;

export const WALL = { width: 1920, height: 1080 };
export const PHONE = { width: 390, height: 844 };

/** An 80-character title starting with `what`. */
const title80 = (what) => `${what}: a title long enough to need two lines on any card of this grid, or more`.slice(0, 80);

// The default dashboard `edge`, then seven more for the menu. Sizes are
// [columns, rows].
const WIDGETS = [
  ['edge.rows', 'list', [1, 1], title80('Workers')],
  ['edge.values', 'list', [1, 1], title80('Release')],
  ['edge.status', 'status', [1, 1], title80('Payments')],
  ['edge.log', 'log', [2, 2], title80('Deploy log')],
  ['edge.series', 'series', [2, 1], title80('Latency by region')],
  ['edge.huge', 'number', [1, 1], title80('Requests')],
  ['edge.tiny', 'number', [1, 1], title80('Clock drift')],
  ['edge.range', 'gauge', [1, 1], 'Outside temperature'],
  ['edge.under', 'gauge', [1, 1], 'Under its range'],
  ['edge.over', 'gauge', [1, 1], 'Over its range'],
  ['edge.rtl', 'text', [1, 1], 'הודעה מהצוות — رسالة من الفريق'],
  ['edge.overdue', 'gauge', [1, 1], 'Nightly backup disk', 'expect_every = 1'],
  ['edge.waiting', 'number', [1, 1], 'Never published'],
];
const OTHER_DASHBOARDS = ['Payments', 'Search cluster', 'Mobile releases', 'Data warehouse', 'Support queue', 'Office network', 'Status page'];

export const CONFIG = [
  '[[dashboard]]\nname = "edge"\ntitle = "Edge cases"\n',
  ...WIDGETS.map(
    ([id, kind, [w, h], title, extra = '']) =>
      `[[dashboard.widget]]\nid = "${id}"\nkind = "${kind}"\nsize = [${w}, ${h}]\ntitle = "${title}"\n${extra}\n`,
  ),
  ...OTHER_DASHBOARDS.map(
    (title, i) => `[[dashboard]]\nname = "d${i + 2}"\ntitle = "${title}"\n[[dashboard.widget]]\nid = "d${i + 2}.x"\n`,
  ),
].join('\n');

const LOREM =
  'connection pool exhausted while waiting for a database handle; retrying with exponential backoff ' +
  'after request 7f3a9c2e from eu-west-1b (upstream api-gateway-7d9f, build 2026.11.27-rc3) gave up';

/** The edge content, published in order; some widgets twice (a number's change). */
export function edgeContent(now) {
  // Eight lines every 10 s over 10 minutes, nothing between -7 and -5
  // minutes, the newest point 3 minutes old.
  const times = [];
  for (let t = now - 13 * MINUTE; t <= now - 3 * MINUTE; t += 10_000) {
    if (t < now - 7 * MINUTE || t > now - 5 * MINUTE) times.push(t);
  }
  const regions = ['eu-west-1', 'eu-central-1', 'us-east-1', 'us-west-2', 'ap-south-1', 'ap-northeast-1', 'sa-east-1', 'af-south-1'];
  const lines = Object.fromEntries(
    regions.map((region, r) => [region, times.map((t, i) => [t, 40 + r * 12 + 8 * Math.sin(i / 4 + r)])]),
  );
  const rowsOf = (n) =>
    Array.from({ length: n }, (_, i) => ({ label: `worker-${String(i).padStart(2, '0')}`, value: `${((i * 37) % 100).toFixed(1)} %` }));
  return [
    ['edge.rows', { kind: 'list', rows: rowsOf(50) }],
    [
      'edge.values',
      {
        kind: 'list',
        rows: [
          { label: 'release', value: '2026.11.27-rc3+build.48213.linux-x86_64-gnu (canary, eu-west-1)' },
          { label: 'owner of this service and its on-call rota', value: 'platform-reliability-engineering@example.com' },
          { label: 'מצב', value: 'הכול תקין, אין תקלות פתוחות במערכת הזאת כרגע' },
          { label: 'region', value: 'eu-west-1' },
        ],
      },
    ],
    ['edge.status', { kind: 'status', level: 'critical', message: `${LOREM}. `.repeat(8).slice(0, 1000) }],
    [
      'edge.log',
      {
        kind: 'log',
        lines: Array.from({ length: 200 }, (_, i) => `#${String(i).padStart(3, '0')} ${LOREM} ${'x'.repeat(i % 40)}`),
      },
    ],
    ['edge.series', { kind: 'series', unit: 'ms', window: 600, lines }],
    ['edge.huge', { kind: 'number', value: 1.1e33, unit: 'requests per second per node' }],
    ['edge.huge', { kind: 'number', value: 1.2345678e33, previous: 1.1e33, unit: 'requests per second per node' }],
    ['edge.tiny', { kind: 'number', value: 1.23e-7, previous: 2.5e-7, unit: 'seconds of drift per hour' }],
    ['edge.range', { kind: 'gauge', value: 20, min: -50, max: 50, unit: '°C' }],
    ['edge.under', { kind: 'gauge', value: -20, min: 0, max: 100, unit: '%' }],
    ['edge.over', { kind: 'gauge', value: 150, min: 0, max: 100, unit: '%', thresholds: { warn: 80, critical: 95 } }],
    [
      'edge.rtl',
      {
        kind: 'text',
        text: 'שלום לכולם! הפריסה של הערב נדחתה למחר בבוקר. مرحبا بالجميع، تم تأجيل النشر إلى صباح الغد بسبب الصيانة.',
      },
    ],
    ['edge.overdue', { kind: 'gauge', value: 97, min: 0, max: 100, unit: '%', thresholds: { warn: 80, critical: 95 } }],
  ];
}
