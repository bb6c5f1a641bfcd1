#!/usr/bin/env python3
"""Benchmark: creating a virtual store for a ScanSAR level 1.1 ALOS-2 product, vzarr versus
xarray-ceos-alos2 opening the same product.

The product is written by scripts/make_alos2.py: ScanSAR L1.1 (C*8), 5 scans, realistic line
counts (default 35,000 records per scan file), pixels per line reduced (default 64) to keep
the emulator's memory and the disk small; the per-line work (what makes opening slow) does not
depend on the pixel count, the bytes read do. It is uploaded to a moto S3 server on
127.0.0.1, behind a counting reverse proxy (scripts/bench_peers.py --proxy-to), and vzarr
creates a store from the s3:// prefix with `--line-metadata none` and `full`. The same runs on
the local directory report vzarr's own request count. xarray-ceos-alos2 (`open_alos2`) has no
s3fs in the test venv, so it opens the local directory through fsspec with every file read
counted (each `read()` of an open file and each whole-file `cat` is one request).

Prints a markdown table. Uses the binary given by --vzarr (the debug build by default).
"""
import argparse
import json
import os
import pathlib
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
import make_alos2  # noqa: E402

BUCKET = "vzarr-bench-ceos"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mib(n):
    return f"{n / 2**20:,.1f} MiB"


def run_vzarr(vzarr, src, out, mode, env=None):
    t = time.perf_counter()
    p = subprocess.run([vzarr, "create", src, "-o", out, "--overwrite", "--line-metadata", mode],
                       capture_output=True, text=True, env=env, timeout=3600)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"vzarr failed ({p.returncode}): {p.stderr}")
    return wall, int(re.search(r"\((\d+) source requests\)", p.stderr).group(1))


def run_xarray_ceos_alos2(path, records_per_chunk):
    """open_alos2 on a local directory with fsspec reads counted; in a child process so the
    counters and caches start empty."""
    code = f"""
import json, time, fsspec
from fsspec.implementations.local import LocalFileOpener, LocalFileSystem
stats = {{"requests": 0, "bytes": 0}}
orig_read, orig_cat = LocalFileOpener.read, LocalFileSystem.cat_file
def read(self, *a, **k):
    b = orig_read(self, *a, **k); stats["requests"] += 1; stats["bytes"] += len(b); return b
def cat_file(self, *a, **k):
    b = orig_cat(self, *a, **k); stats["requests"] += 1; stats["bytes"] += len(b); return b
LocalFileOpener.read, LocalFileSystem.cat_file = read, cat_file
import ceos_alos2
t = time.perf_counter()
tree = ceos_alos2.open_alos2({str(path)!r}, chunks=None, backend_options={{"records_per_chunk": {records_per_chunk}, "use_cache": False}})
stats["wall"] = time.perf_counter() - t
stats["images"] = len(tree["imagery"].children)
print(json.dumps(stats))
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=7200)
    if p.returncode != 0:
        raise SystemExit(f"xarray-ceos-alos2 failed: {p.stderr[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vzarr", default=str(pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
                                           / "debug" / "vzarr"))
    ap.add_argument("--lines", type=int, default=35_000, help="records per scan file")
    ap.add_argument("--pixels", type=int, default=64, help="pixels per line (reduced)")
    ap.add_argument("--scans", type=int, default=5)
    ap.add_argument("--pols", default="HH")
    ap.add_argument("--records-per-chunk", type=int, default=1024, help="xarray-ceos-alos2's (its default)")
    ap.add_argument("--workdir", help="keep the product here (default: a temporary directory)")
    ap.add_argument("--skip-s3", action="store_true")
    a = ap.parse_args()

    work = pathlib.Path(a.workdir or tempfile.mkdtemp(prefix="bench-ceos-"))
    prod = work / "product"
    if prod.exists():
        shutil.rmtree(prod)
    t = make_alos2.make_product(prod, level="1.1", mode="scansar", hemisphere="south", lines=a.lines,
                                pixels=a.pixels, pols=a.pols.split(","), scans=a.scans, line_metadata_truth=False)
    size = sum((prod / f).stat().st_size for f in t["files"])
    n_img = len(t["images"])
    records = sum(im["shape"][0] for im in t["images"].values())
    width = max(im["shape"][1] for im in t["images"].values())
    rows = []

    if not a.skip_s3:
        import boto3
        import bench_peers

        port = free_port()
        moto = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        proxy = None
        try:
            endpoint = f"http://127.0.0.1:{port}"
            s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                              aws_access_key_id="test", aws_secret_access_key="test")
            for _ in range(100):
                try:
                    s3.list_buckets()
                    break
                except Exception:  # noqa: BLE001 - server starting
                    time.sleep(0.1)
            s3.create_bucket(Bucket=BUCKET)
            for f in t["files"]:
                s3.upload_file(str(prod / f), BUCKET, f"alos2/{f}")
            proxy = bench_peers.Server(["--proxy-to", f"127.0.0.1:{port}"])
            env = dict(os.environ, AWS_ENDPOINT=proxy.base, AWS_ALLOW_HTTP="true", AWS_ACCESS_KEY_ID="test",
                       AWS_SECRET_ACCESS_KEY="test", AWS_REGION="us-east-1")
            for mode in ("none", "full"):
                proxy.reset()
                wall, own = run_vzarr(a.vzarr, f"s3://{BUCKET}/alos2/", work / f"store-s3-{mode}", mode, env)
                st = proxy.stats()
                rows.append((f"vzarr create, `--line-metadata {mode}`", "S3 emulator", st["requests"],
                             st["bytes"], wall, ", ".join(f"{k} {v}" for k, v in sorted(st["methods"].items()))))
        finally:
            if proxy is not None:
                proxy.close()
            moto.terminate()
            moto.wait(timeout=10)

    for mode in ("none", "full"):
        wall, own = run_vzarr(a.vzarr, prod, work / f"store-local-{mode}", mode)
        rows.append((f"vzarr create, `--line-metadata {mode}`", "local disk", own, None, wall, "reads"))
    x = run_xarray_ceos_alos2(prod, a.records_per_chunk)
    assert x["images"] == n_img, x
    rows.append((f"xarray-ceos-alos2 `open_alos2` (records_per_chunk={a.records_per_chunk})", "local disk",
                 x["requests"], x["bytes"], x["wall"], "fsspec reads"))

    binary = "release" if "/release/" in a.vzarr else "debug"
    print(f"Product: ScanSAR L1.1 (C*8), {n_img} image files ({a.scans} scans × {a.pols}), "
          f"{records:,} line records in all, {width} pixels per line (reduced from thousands), "
          f"{mib(size)}; vzarr {binary} build; one run each.\n")
    print("| tool | source | requests | bytes read | wall time | requests by kind |")
    print("|---|---|---:|---:|---:|---|")
    for name, where, req, nbytes, wall, kinds in rows:
        print(f"| {name} | {where} | {req:,} | {mib(nbytes) if nbytes is not None else '—'} | {wall:.2f} s | {kinds} |")
    if not a.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
