// The helper processes the e2e tests start beside the server (redis-server,
// nginx): found on PATH or where Debian puts them, on a free loopback port,
// in a temp dir of their own, watched until they are ready, and never left
// running (or their dir left behind) if the test process dies.
import { existsSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';

/** `name` on PATH, else the first of `fallbacks` that exists; throws `missing` (never skips). */
export function findBinary(name, fallbacks, missing) {
  const onPath = (process.env.PATH ?? '')
    .split(delimiter)
    .filter(Boolean)
    .map((dir) => join(dir, name))
    .find((path) => existsSync(path));
  const found = onPath ?? fallbacks.find((path) => existsSync(path));
  if (!found) throw new Error(missing);
  return found;
}

/** A free loopback port: bind port 0, read the port, let it go. */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

/**
 * `startOnce()`, again while it fails with "Address already in use" (a free
 * port can be taken between our probe and the helper's bind), 5 tries.
 */
export async function onAFreePort(name, startOnce) {
  let last = '';
  for (let tries = 0; tries < 5; tries += 1) {
    try {
      return await startOnce();
    } catch (error) {
      if (!/Address already in use/i.test(error.message)) throw error;
      last = error.message;
    }
  }
  throw new Error(`${name} found no free port in 5 tries:\n${last}`);
}

/**
 * Watches `child` (whose files are in `dir`) until `ready()` says yes, and
 * resolves with its `stop()` (SIGKILL, then `dir` removed). If it exits
 * first, or is not ready within `timeoutMs`, it is stopped and the error
 * carries `log()`; `noteError(error)` records a failed spawn in that log.
 * `notReady` ends the timeout's message: "nginx <notReady> after 15000 ms".
 */
export async function superviseUntilReady({ name, child, dir, log, noteError, ready, notReady, timeoutMs }) {
  let exited = false;
  const exitedPromise = new Promise((resolveExit) => {
    child.on('exit', () => {
      exited = true;
      resolveExit();
    });
    child.on('error', (error) => {
      exited = true;
      noteError(error);
      resolveExit();
    });
  });
  // Backstop: never leave it running if the test process dies.
  const killOnExit = () => {
    if (!exited) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', killOnExit);
  const stop = async () => {
    process.off('exit', killOnExit);
    if (!exited) child.kill('SIGKILL');
    await exitedPromise;
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) {
      const text = log();
      await stop();
      throw new Error(`${name} exited at start\n${text}`);
    }
    if (await ready()) return stop;
    if (Date.now() > deadline) {
      const text = log();
      await stop();
      throw new Error(`${name} ${notReady} after ${timeoutMs} ms\n${text}`);
    }
    await new Promise((resolveWait) => setTimeout(resolveWait, 50));
  }
}
