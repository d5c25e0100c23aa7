// A private redis-server for the e2e tests of `--redis-url`: its own free
// loopback port and its own temp dir, nothing written to disk (`--save ""`,
// no AOF), so tests never touch a system Redis and leave nothing behind.
// scripts/setup.sh installs the binary (Debian's redis-server); its service
// is not needed. The Rust twin of this is crates/server/tests/common/redis.rs.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBinary, freePort, onAFreePort, superviseUntilReady } from './helper-process.mjs';

export { freePort };

/** `redis-server` on PATH, else Debian's /usr/bin or /usr/sbin; throws (never skips) when missing. */
export function redisBinary() {
  return findBinary(
    'redis-server',
    ['/usr/bin/redis-server', '/usr/sbin/redis-server'],
    'redis-server not found: run scripts/setup.sh (it installs Debian\'s redis-server)',
  );
}

/** One RESP command (an array of bulk strings). */
function encode(args) {
  return `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(String(arg))}\r\n${arg}\r\n`).join('')}`;
}

/**
 * Sends one command to the Redis on `port` over a fresh TCP connection and
 * resolves with its raw reply as Redis sent it (`+PONG\r\n`, `:3\r\n`,
 * `$5\r\nhello\r\n`...), read until a first complete line and, for a bulk
 * string or an array, until the connection has been quiet for a moment. Good
 * enough for PING, DBSIZE, XLEN, KEYS in a test; rejects on a connection
 * error or after `timeoutMs`.
 */
export function redisCommand(port, args, timeoutMs = 2_000) {
  return new Promise((resolveReply, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    let quiet;
    const done = (error) => {
      clearTimeout(timer);
      clearTimeout(quiet);
      socket.destroy();
      if (error) reject(error);
      else resolveReply(reply);
    };
    const timer = setTimeout(() => done(new Error(`no reply from redis on ${port} within ${timeoutMs} ms`)), timeoutMs);
    socket.once('connect', () => socket.write(encode(args)));
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      if (!reply.includes('\r\n')) return;
      if (reply[0] === '+' || reply[0] === '-' || reply[0] === ':') {
        done();
        return;
      }
      clearTimeout(quiet);
      quiet = setTimeout(() => done(), 50);
    });
    socket.once('error', (error) => done(error));
  });
}

/**
 * Starts redis-server on a free loopback port with a temp dir and resolves
 * once it answers PING with PONG. Returns { url, port, pid, command, stop, log }:
 * `url` is what `--redis-url` takes (`redis://127.0.0.1:PORT/`); `command(args)`
 * sends one raw command (see redisCommand); `stop()` kills it and removes its
 * dir; `log()` is its recent output, for failure messages.
 */
export async function startRedis({ timeoutMs = 15_000 } = {}) {
  const bin = redisBinary();
  return onAFreePort('redis-server', async () => startRedisOnce(bin, await freePort(), timeoutMs));
}

async function startRedisOnce(bin, port, timeoutMs) {
  const dir = mkdtempSync(join(tmpdir(), 'pulseboard-e2e-redis-'));
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--save', '',
    '--appendonly', 'no',
    '--dir', dir,
    '--daemonize', 'no',
    '--protected-mode', 'no',
  ];
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const log = () => `--- redis-server output (${bin} ${args.join(' ')}) ---\n${output}`;

  const stop = await superviseUntilReady({
    name: 'redis-server',
    child,
    dir,
    log,
    noteError: (error) => keep(`could not start ${bin}: ${error.message}\n`),
    ready: async () => (await redisCommand(port, ['PING'], 1_000).catch(() => '')) === '+PONG\r\n',
    notReady: `does not answer PING on 127.0.0.1:${port}`,
    timeoutMs,
  });
  return {
    url: `redis://127.0.0.1:${port}/`,
    port,
    pid: child.pid,
    command: (commandArgs, commandTimeoutMs) => redisCommand(port, commandArgs, commandTimeoutMs),
    stop,
    log,
  };
}
