#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""tests/integration/conn_flood.py - real TCP connections at a steady rate.

conn_flood.py serve ADDR PORT
    accept and close connections until killed
conn_flood.py flood SRC DST PORT RATE SECONDS
    open RATE connections per second from SRC for SECONDS; print one JSON
    object: {"attempts": [[t, ok], ...]} with t seconds since start and ok
    true when the handshake completed within 0.5 s. SRC may be a range of
    hosts, 198.18.7.1-64: the connections go round them in turn (RATE is
    then of them all). Lab use only.
"""
import asyncio
import json
import sys
import time


async def serve(addr, port):
    async def on_conn(reader, writer):
        writer.close()
    server = await asyncio.start_server(on_conn, addr, port, backlog=4096)
    async with server:
        await server.serve_forever()


async def one(src, dst, port, t0, out):
    t = time.monotonic() - t0
    try:
        _, w = await asyncio.wait_for(
            asyncio.open_connection(dst, port, local_addr=(src, 0)), 0.5)
        w.close()
        out.append([round(t, 3), True])
    except (asyncio.TimeoutError, OSError):
        out.append([round(t, 3), False])


def sources(src):
    if "-" not in src:
        return [src]
    base, last = src.rsplit("-", 1)
    net, first = base.rsplit(".", 1)
    return ["%s.%d" % (net, h) for h in range(int(first), int(last) + 1)]


async def flood(src, dst, port, rate, seconds):
    out, tasks = [], []
    srcs = sources(src)
    t0 = time.monotonic()
    n = int(rate * seconds)
    for i in range(n):
        delay = t0 + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(srcs[i % len(srcs)], dst, port, t0, out)))
    await asyncio.gather(*tasks)
    out.sort()
    print(json.dumps({"attempts": out}))


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        asyncio.run(serve(sys.argv[2], int(sys.argv[3])))
    else:
        asyncio.run(flood(sys.argv[2], sys.argv[3], int(sys.argv[4]),
                          float(sys.argv[5]), float(sys.argv[6])))
