#!/usr/bin/env python3
"""Load test of `vzarr serve` (loopback only): N concurrent clients read random chunks of a
generated store for a fixed time; every body is compared with the bytes at the manifest's
offset in the source file. Prints a table (requests, throughput, p50/p99 latency, errors,
wrong bytes) and exits 1 if any request failed or returned wrong bytes.

    make bench-serve                       # 64 clients, 30 s
    python scripts/bench_serve.py --vzarr target/debug/vzarr --clients 64 --seconds 30
"""
import argparse
import asyncio
import os
import pathlib
import random
import re
import subprocess
import sys
import tempfile
import time

import aiohttp
import h5py
import numpy as np
import pyarrow.parquet as pq


def make_source(path, n_chunks):
    """An HDF5 file with three arrays: deflate+shuffle chunks, plain chunks, a compact one."""
    rng = np.random.default_rng(7)
    with h5py.File(path, "w") as f:
        f.create_dataset("temperature", data=rng.normal(280, 10, (n_chunks, 4096)).astype("f4"),
                         chunks=(1, 4096), compression="gzip", shuffle=True)
        f.create_dataset("counts", data=rng.integers(0, 1 << 30, (n_chunks // 4, 8192), dtype="i4"),
                         chunks=(1, 8192))
        f.create_dataset("flag", data=np.arange(16, dtype="u1"), chunks=None)


async def client(session, base, refs, data, deadline, stats, rnd):
    while time.perf_counter() < deadline:
        key, off, length, inline = refs[rnd.randrange(len(refs))]
        want = inline if inline is not None else data[off:off + length]
        t0 = time.perf_counter()
        try:
            async with session.get(f"{base}/{key}") as r:
                body = await r.read()
                status = r.status
        except Exception as e:  # noqa: BLE001 - counted as an error
            stats["errors"] += 1
            stats.setdefault("first_error", repr(e))
            continue
        stats["lat"].append(time.perf_counter() - t0)
        if status != 200:
            stats["errors"] += 1
            stats.setdefault("first_error", f"HTTP {status} for {key}")
        elif body != want:
            stats["wrong"] += 1
        else:
            stats["bytes"] += len(body)


async def load(base, refs, data, clients, seconds):
    stats = {"lat": [], "errors": 0, "wrong": 0, "bytes": 0}
    conn = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=conn) as session:
        deadline = time.perf_counter() + seconds
        t0 = time.perf_counter()
        await asyncio.gather(*(client(session, base, refs, data, deadline, stats, random.Random(i))
                               for i in range(clients)))
        stats["elapsed"] = time.perf_counter() - t0
    return stats


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vzarr", default=os.environ.get("VZARR", "target/debug/vzarr"))
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--chunks", type=int, default=4000, help="chunks of the main array")
    a = ap.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="vzarr-bench-serve-"))
    src = work / "load.h5"
    make_source(src, a.chunks)
    store = work / "load.vzarr"
    subprocess.run([a.vzarr, "create", src, "-o", store], check=True, capture_output=True)
    rows = pq.read_table(store / "manifest.parquet").to_pylist()
    refs = [(r["key"], r["offset"], r["length"], r["inline"]) for r in rows]
    data = src.read_bytes()
    log = open(work / "serve.log", "w+")
    proc = subprocess.Popen([a.vzarr, "serve", store, "--listen", "127.0.0.1:0"], stderr=log,
                            stdout=subprocess.DEVNULL, env={**os.environ, "VZARR_LOG": "warn"})
    try:
        base = None
        for _ in range(300):
            log.seek(0)
            m = re.search(r"listening on (http://127\.0\.0\.1:\d+)/", log.read())
            if m:
                base = m.group(1)
                break
            time.sleep(0.1)
        if base is None:
            sys.exit(f"vzarr serve did not start:\n{log.read()}")
        base = f"{base}/load.vzarr"
        stats = asyncio.run(load(base, refs, data, a.clients, a.seconds))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    lat = np.array(stats["lat"]) * 1000
    n = len(lat)
    print(f"\n`vzarr serve` load test: {a.clients} concurrent clients, {a.seconds:g} s, random chunks of "
          f"{len(refs)} ({src.stat().st_size / 2**20:.1f} MiB source), loopback, {os.cpu_count()} cores\n")
    print("| requests | requests/s | MiB/s | p50 latency | p99 latency | max | errors | wrong bytes |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {n} | {n / stats['elapsed']:.0f} | {stats['bytes'] / 2**20 / stats['elapsed']:.1f} | "
          f"{np.percentile(lat, 50):.2f} ms | {np.percentile(lat, 99):.2f} ms | {lat.max():.1f} ms | "
          f"{stats['errors']} | {stats['wrong']} |")
    if stats["errors"] or stats["wrong"]:
        print(f"\nFAILED: {stats['errors']} errors ({stats.get('first_error')}), {stats['wrong']} wrong bodies")
        sys.exit(1)


if __name__ == "__main__":
    main()
