#!/usr/bin/env python3
"""Server memory per idle SSE stream: starts the release server, opens N
streams from this process (asyncio, stdlib only), waits for every `init`, and
reads the server's RSS from /proc. Prints a table. Not a test: numbers only.

    cargo build --release -p pulseboard-server
    python3 scripts/bench/idle_streams.py [N ...]      # default: 1000 5000

The server's log goes to /tmp/bench-server.log. One client process holds at
most ~19,900 sockets here (open-file limit 20,000).
"""
import asyncio
import os
import re
import resource
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Connections opened at once.
BATCH = 500
BINARY = os.environ.get("PULSEBOARD_BIN", os.path.join(ROOT, "target", "release", "pulseboard"))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        return int(re.search(r"VmRSS:\s+(\d+)", status.read()).group(1))


async def open_stream(host, port, source_ip, ready):
    reader, writer = await asyncio.open_connection(host, port, local_addr=(source_ip, 0))
    writer.write(f"GET /api/events HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    await writer.drain()
    buffered = b""
    while b"event: init" not in buffered:
        chunk = await reader.read(65536)
        if not chunk:
            raise RuntimeError(f"stream closed before init: {buffered[:200]!r}")
        buffered += chunk
    ready.append(1)
    return reader, writer


async def measure(count):
    server = subprocess.Popen(
        [BINARY, "--addr", "127.0.0.1:0", "--host-metrics", "false", "--static-dir", "/nonexistent"],
        stdout=subprocess.PIPE, stderr=open("/tmp/bench-server.log", "w"), text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("PULSEBOARD_")},
    )
    try:
        line = server.stdout.readline()
        host, port = re.search(r"http://([\d.]+):(\d+)", line).groups()
        await asyncio.sleep(0.5)
        before = rss_kib(server.pid)
        ready, streams = [], []
        started = time.monotonic()
        # Spread client ports over loopback source addresses, 1,000 each: binding a
        # source address makes the kernel search its ports linearly.
        for i in range(0, count, BATCH):
            batch = [open_stream(host, int(port), f"127.0.0.{2 + (j // 1000)}", ready)
                     for j in range(i, min(count, i + BATCH))]
            streams += await asyncio.gather(*batch)
            if os.environ.get("BENCH_VERBOSE"):
                print(f"  {len(streams)} streams after {time.monotonic() - started:.2f} s", file=sys.stderr)
        connect_s = time.monotonic() - started
        await asyncio.sleep(1.0)
        after = rss_kib(server.pid)
        for _, writer in streams:
            writer.close()
        # Poll until the server forgets them (open streams metric back to 0).
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            r, w = await asyncio.open_connection(host, int(port))
            w.write(f"GET /metrics HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
            body = (await r.read()).decode()
            w.close()
            if re.search(r"^pulseboard_open_streams 0$", body, re.M):
                break
            await asyncio.sleep(0.1)
        released_s = time.monotonic() - started - connect_s
        return before, after, connect_s, released_s
    finally:
        server.terminate()
        server.wait(timeout=10)


def main():
    counts = [int(n) for n in sys.argv[1:]] or [1000, 5000]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(f"{'streams':>8} {'RSS before':>11} {'RSS after':>10} {'per stream':>11} {'connect+init':>13} {'all released':>13}")
    for count in counts:
        before, after, connect_s, released_s = asyncio.run(measure(count))
        per = (after - before) / count
        print(f"{count:>8} {before:>8} KiB {after:>7} KiB {per:>7.1f} KiB {connect_s:>11.2f} s {released_s:>11.2f} s")


if __name__ == "__main__":
    main()
