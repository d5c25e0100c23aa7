// A real nginx in front of test servers, configured with the site file users
// copy, deploy/nginx/pulseboard.conf, changed only where a test must: the
// upstream `server` lines and the listen address. The Rust twin of this is
// crates/server/tests/common/nginx.rs.
//
// nginx runs in the foreground as one process (`daemon off`, `master_process
// off`: no workers, so no switch to another user and nothing left behind),
// with every file it writes in a temp dir, and stock `http {}` defaults
// (proxy buffering on) plus gzip, as a typical site has it.
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { findBinary, freePort, onAFreePort, superviseUntilReady } from './helper-process.mjs';
import { repoRoot } from './support.mjs';

export const DEPLOY_CONF = resolve(repoRoot, 'deploy', 'nginx', 'pulseboard.conf');

/** `nginx` on PATH, else Debian's /usr/sbin/nginx (often not on a non-root PATH). */
export function nginxBinary() {
  return findBinary('nginx', ['/usr/sbin/nginx'], 'nginx not found: run scripts/setup.sh');
}

/** `text` with its one `from` replaced; throws if the shipped file no longer has exactly one. */
function replaceOnce(text, from, to) {
  const count = text.split(from).length - 1;
  if (count !== 1) throw new Error(`${DEPLOY_CONF} should contain ${JSON.stringify(from)} once, found ${count}`);
  return text.replace(from, () => to);
}

/**
 * The shipped site config with these upstreams (`http://host:port` URLs), each
 * with the shipped `server` line's parameters (`max_fails=0`), and listen address.
 */
export function siteConfig({ upstreams, listen }) {
  let text = readFileSync(DEPLOY_CONF, 'utf8');
  const shipped = /server 127\.0\.0\.1:8080([^;\n]*);\n {4}/.exec(text);
  if (!shipped) throw new Error(`${DEPLOY_CONF} has no \`server 127.0.0.1:8080 ...;\` line`);
  const params = shipped[1];
  const servers = upstreams.map((url) => `server ${new URL(url).host}${params};\n    `).join('');
  text = replaceOnce(text, shipped[0], servers);
  text = replaceOnce(text, 'listen 80;', `listen ${listen};`);
  return text;
}

function accepts(port) {
  return new Promise((resolveTry) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolveTry(true);
    });
    socket.once('error', () => resolveTry(false));
  });
}

/**
 * Starts nginx in front of `upstreams` (base URLs) on a free loopback port and
 * resolves once it accepts connections. Returns { url, stop, log, config }:
 * `log()` is its error log (level info) for failure messages.
 */
export async function startNginx({ upstreams, timeoutMs = 15_000 }) {
  return onAFreePort('nginx', () => startNginxOnce({ upstreams, timeoutMs }));
}

async function startNginxOnce({ upstreams, timeoutMs }) {
  const port = await freePort();
  const listen = `127.0.0.1:${port}`;
  const dir = mkdtempSync(join(tmpdir(), 'pulseboard-nginx-'));
  const config = siteConfig({ upstreams, listen });
  writeFileSync(join(dir, 'pulseboard.conf'), config);
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events {
    worker_connections 256;
}
http {
    access_log ${dir}/access.log;
    client_body_temp_path ${dir}/client_body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;
    default_type application/octet-stream;
    gzip on;
    gzip_types text/event-stream text/css application/javascript application/wasm application/json;
    gzip_min_length 20;
    gzip_proxied any;
    include ${dir}/pulseboard.conf;
}
`,
  );
  const out = openSync(join(dir, 'output.log'), 'w');
  // -e: the error log to use before the config is read (not /var/log/nginx).
  const child = spawn(nginxBinary(), ['-p', dir, '-e', join(dir, 'error.log'), '-c', join(dir, 'nginx.conf')], {
    stdio: ['ignore', out, out],
  });
  const read = (name) => {
    try {
      return readFileSync(join(dir, name), 'utf8');
    } catch {
      return '';
    }
  };
  const log = () => `--- nginx log (${dir}) ---\n${read('output.log')}${read('error.log')}`;

  const stop = await superviseUntilReady({
    name: 'nginx',
    child,
    dir,
    log,
    noteError: (error) => writeFileSync(join(dir, 'output.log'), `could not start nginx: ${error.message}\n`, { flag: 'a' }),
    ready: () => accepts(port),
    notReady: `does not accept connections on ${listen}`,
    timeoutMs,
  });
  return { url: `http://${listen}`, stop, log, config };
}
