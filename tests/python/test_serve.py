"""`vzarr serve` (issue 7): corpus stores read over HTTP by zarr-python 3 and xarray, compared
bit for bit with h5py; status codes of hostile requests; the index page in headless Chromium.

One server serves every corpus store (one per HDF5/netCDF-4 file) for the whole module.
"""
import collections
import contextlib
import concurrent.futures as cf
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request

import h5py
import hdf5plugin  # noqa: F401 - registers the plugin filters with h5py
import numpy as np
import pytest

from conftest import CORPUS, VZARR, libhdf5_or_skip, manifest_files, vzarr
from h5ref import as_text, h5_values, same_bits, write_materializable_file
import refcodecs  # noqa: F401 - registers imagecodecs_lzf, imagecodecs_lz4h5, vzarr.bitshuffle

import logging  # noqa: E402

logging.getLogger("asyncio").setLevel(logging.CRITICAL)
import warnings  # noqa: E402

warnings.filterwarnings("ignore")
import xarray as xr  # noqa: E402
import zarr  # noqa: E402

CATEGORIES = {"hdf5", "dmrpp-pair-h5", "icesat2", "dmrpp-mvs-h5"}
LARGE = 64 << 20
# An array xarray reads only with `use_zarr_fill_value_as_mask=True` (a multi-valued _FillValue).
MASK_OPTION_OK = "ok with use_zarr_fill_value_as_mask"


class Server:
    """A `vzarr serve` process on a free loopback port; its log goes to a file."""

    def __init__(self, stores, log, *extra):
        self.log = open(log, "w+")
        self.proc = subprocess.Popen([VZARR, "serve", *map(str, stores), "--listen", "127.0.0.1:0", *extra],
                                     stdout=subprocess.DEVNULL, stderr=self.log, text=True)
        deadline = time.time() + 120
        self.base = None
        while time.time() < deadline and self.base is None:
            if self.proc.poll() is not None:
                break
            self.log.seek(0)
            m = re.search(r"listening on (http://127\.0\.0\.1:\d+)/", self.log.read())
            if m:
                self.base = m.group(1)
            else:
                time.sleep(0.1)
        if self.base is None:
            self.log.seek(0)
            raise AssertionError(f"vzarr serve did not start: {self.log.read()[-2000:]}")

    def stop(self):
        """SIGTERM: graceful shutdown, exit status 0."""
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=30)
        self.log.seek(0)
        text = self.log.read()
        self.log.close()
        return rc, text


@contextlib.contextmanager
def served_group(store, log):
    """zarr-python's root group of `store` as `vzarr serve` serves it (under the store's
    directory name); the server must then stop cleanly."""
    server = Server([store], log)
    try:
        yield zarr.open_group(f"{server.base}/{pathlib.Path(store).name}", mode="r", zarr_format=3)
    finally:
        rc, _ = server.stop()
    assert rc == 0, f"vzarr serve exited {rc}"


def request(url, method="GET", headers=None):
    """(status, headers, body) without raising on HTTP errors."""
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


@pytest.fixture(scope="module")
def corpus_server(tmp_path_factory):
    files = []
    for f in manifest_files(CATEGORIES):
        try:
            h5py.File(f, "r").close()
        except Exception:  # noqa: BLE001 - files h5py cannot open have no reference values
            continue
        files.append(f)
    root = tmp_path_factory.mktemp("served")

    def make(i_f):
        i, f = i_f
        store = root / f"s{i:03d}"
        p = vzarr("create", f, "-o", store)
        return (f, store) if p.returncode in (0, 1) else None

    with cf.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
        made = [m for m in ex.map(make, enumerate(files)) if m]
    server = Server([s for _, s in made], root / "serve.log")
    yield server, made
    rc, log = server.stop()
    assert rc == 0, f"vzarr serve exited {rc} on SIGTERM:\n{log[-2000:]}"
    assert "stopped: requests in flight were finished" in log
    shutil.rmtree(root, ignore_errors=True)


def store_arrays(store):
    meta = json.loads((store / "zarr.json").read_text())
    nodes = meta.get("consolidated_metadata", {}).get("metadata", {})
    if meta["node_type"] == "array":
        return [""]
    return sorted(k for k, v in nodes.items() if v["node_type"] == "array")


def expected_values(f, path):
    """h5py's values (the first corner of arrays too large to hold) and the selection used."""
    ds = f[path] if path else f[next(iter(f))]
    sel = ()
    if ds.size * ds.dtype.itemsize > LARGE:
        sel = tuple(slice(0, min(n, 4096 if i == 0 else 64)) for i, n in enumerate(ds.shape))
    return h5_values(ds, sel), sel


def check_store_http(base, src, store):
    """{(reader, array): (status, detail)} reading one served store with zarr-python and xarray."""
    url = f"{base}/{store.name}/"
    out = {}
    arrays = store_arrays(store)
    with h5py.File(src, "r") as f:
        try:
            group = zarr.open_group(url, mode="r", zarr_format=3)
            open_array = group.__getitem__
        except Exception as e:  # noqa: BLE001
            # zarr-python refuses a whole consolidated hierarchy when one array has a codec it
            # lacks (vzarr.bitshuffle, imagecodecs_* without imagecodecs-numcodecs): open each
            # array on its own instead.
            def open_array(a):
                return zarr.open_array(url + a, mode="r", zarr_format=3)
        for a in arrays:
            try:
                exp, sel = expected_values(f, a)
            except Exception:  # noqa: BLE001
                out[("zarr", a)] = ("h5py cannot read", "")
                continue
            try:
                arr = open_array(a)
                got = arr[sel] if sel else arr[()]
            except Exception as e:  # noqa: BLE001 - codecs and types zarr-python lacks
                out[("zarr", a)] = ("zarr-python cannot read", f"{type(e).__name__}: {str(e)[:60]}")
                continue
            ok, why = same_bits(exp, as_text(np.asarray(got)))
            out[("zarr", a)] = ("ok", "") if ok else ("WRONG", why)
        # xarray: one dataset per group, as users open them.
        by_group = collections.defaultdict(list)
        for a in arrays:
            g, _, n = a.rpartition("/")
            by_group[g].append(n)
        for g, names in by_group.items():
            try:
                datasets = [(xr.open_zarr(url, group=g or None, decode_cf=False, zarr_format=3, consolidated=True), names, "ok")]
            except Exception:  # noqa: BLE001 - xarray refuses the group: open each array alone
                # xarray opens a group whole; two netCDF dimensions of one name with different
                # lengths (an unlimited dimension whose scale is shorter than its variables), or
                # one array it cannot decode, make it refuse the group. Users then open the
                # arrays with `drop_variables`: so does the test, one array at a time.
                datasets = []
                for n in names:
                    kw = dict(group=g or None, decode_cf=False, zarr_format=3, consolidated=True,
                              drop_variables=[m for m in names if m != n])
                    try:
                        datasets.append((xr.open_zarr(url, **kw), [n], "ok"))
                    except Exception as e:  # noqa: BLE001
                        path = f"{g}/{n}".strip("/")
                        # A `_FillValue` of several values is not CF (CF 2.5.1: a scalar); vzarr
                        # keeps the file's attribute as it is, as netCDF-C does. xarray's Zarr
                        # backend cannot decode the attribute (its netCDF backends mask every
                        # value), so the user opens the array with
                        # `use_zarr_fill_value_as_mask=True`, which leaves the attribute alone
                        # and masks with the Zarr `fill_value`: so does the test, only where
                        # the file has several fill values. `open_zarr` drops that option
                        # (pydata/xarray#10269), so it goes to `ZarrStore.open_group`.
                        multi = "Failed to decode fill_value" in str(e) and path in f and np.size(f[path].attrs.get("_FillValue", 0)) > 1
                        if multi:
                            try:
                                zs = xr.backends.zarr.ZarrStore.open_group(
                                    url, group=g or None, mode="r", zarr_format=3, consolidated=True,
                                    use_zarr_fill_value_as_mask=True)
                                ds = xr.open_dataset(zs, decode_cf=False, drop_variables=kw["drop_variables"])
                                datasets.append((ds, [n], MASK_OPTION_OK))
                                continue
                            except Exception as e2:  # noqa: BLE001
                                e = e2
                        out[("xarray", path)] = ("xarray cannot open the array", f"{type(e).__name__}: {str(e)[:120]}")
            for ds, names, ok_status in datasets:
                with ds:
                    for n in names:
                        path = f"{g}/{n}".strip("/")
                        if n not in ds.variables:
                            out[("xarray", path)] = ("WRONG", "not in the dataset")
                            continue
                        try:
                            exp, sel = expected_values(f, path)
                        except Exception:  # noqa: BLE001
                            out[("xarray", path)] = ("h5py cannot read", "")
                            continue
                        var = ds.variables[n]
                        try:
                            got = var[sel].values if sel else var.values
                        except Exception as e:  # noqa: BLE001
                            out[("xarray", path)] = ("zarr-python cannot read", f"{type(e).__name__}: {str(e)[:60]}")
                            continue
                        ok, why = same_bits(exp, as_text(got))
                        if ok and ok_status == "ok":
                            ok, why = same_fill_attribute(f[path] if path else f[next(iter(f))], var.attrs)
                        out[("xarray", path)] = (ok_status, "") if ok else ("WRONG", why)
    return out


def same_fill_attribute(h5ds, xattrs):
    """xarray's decoded `_FillValue` attribute equals the file's (NaN-aware)."""
    if "_FillValue" not in h5ds.attrs or "_FillValue" not in xattrs:
        return True, ""
    want = np.asarray(h5ds.attrs["_FillValue"]).reshape(-1)
    got = np.asarray(xattrs["_FillValue"]).reshape(-1)
    if want.dtype.kind not in "iufcb" or want.size != 1:
        return True, ""
    if want.dtype.kind == "f" and np.isnan(want[0]):
        ok = got.dtype.kind == "f" and bool(np.isnan(got[0]))
    else:
        ok = got.size == 1 and got[0] == want[0]
    return ok, "" if ok else f"_FillValue {got[:1]} != file's {want[:1]}"


def test_zarr_python_and_xarray_read_every_served_corpus_array_like_h5py(corpus_server, capsys):
    server, made = corpus_server
    with cf.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
        results = list(ex.map(lambda m: (m[0], check_store_http(server.base, *m)), made))
    tally, reasons, bad = collections.Counter(), collections.Counter(), []
    for src, res in results:
        for (reader, a), (status, detail) in res.items():
            tally[(reader, status)] += 1
            if status != "ok":
                reasons[(reader, status, detail[:80])] += 1
            if status == "WRONG":
                bad.append(f"{reader} {src.relative_to(CORPUS)}: /{a}: {detail}")
    with capsys.disabled():
        print(f"\n`vzarr serve` of {len(made)} corpus stores over HTTP (zarr {zarr.__version__}, xarray {xr.__version__})")
        for (reader, status), n in sorted(tally.items()):
            print(f"  {reader:<7} {status:<38} {n:>6}")
        for (reader, status, d), n in reasons.most_common(12):
            print(f"    {reader} {status}: {d:<60} {n:>5}")
    assert not bad, f"{len(bad)} arrays wrong:\n" + "\n".join(bad[:30])
    zarr_ok = {(src, a) for src, res in results for (r, a), (st, _) in res.items() if r == "zarr" and st == "ok"}
    unread = sorted({(src, a) for src, res in results for (r, a), (st, _) in res.items()
                     if st not in ("ok", "h5py cannot read") and (src, a) not in zarr_ok})
    total = tally[("zarr", "ok")] + len(unread)
    assert tally[("zarr", "ok")] > 5000 and tally[("xarray", "ok")] > 5000, tally
    # What neither reads is what zarr-python has no type for (the decoders of vzarr.bitshuffle
    # and imagecodecs' HDF5 codecs are registered by refcodecs.py).
    assert len(unread) <= 0.03 * total, f"{len(unread)} arrays read by neither: {unread[:5]}"
    # Every array zarr-python reads, xarray reads too; only where the file's `_FillValue` is
    # several values (opendap-bes multi_fvalue.h5) with `use_zarr_fill_value_as_mask=True`.
    assert tally[("xarray", MASK_OPTION_OK)] <= 1, tally
    refused = [(src.relative_to(CORPUS), a, detail) for src, res in results for (r, a), (st, detail) in res.items()
               if r == "xarray" and st not in ("ok", "h5py cannot read", MASK_OPTION_OK)
               and (src, a) in zarr_ok]
    assert not refused, f"{len(refused)} arrays zarr-python reads and xarray does not: {refused[:10]}"


def first_chunk(server, made):
    """(url, bytes) of a virtual chunk of the ATL03 store, read from the source with the
    manifest's offset and length (pyarrow), for byte-exact comparisons."""
    import pyarrow.parquet as pq
    for src, store in made:
        if src.name == "ATL03_gt1l.h5":
            t = pq.read_table(store / "manifest.parquet").to_pylist()
            row = next(r for r in t if r["inline"] is None and r["length"] > 100)
            with open(src, "rb") as fh:
                fh.seek(row["offset"])
                data = fh.read(row["length"])
            return f"{server.base}/{store.name}/{row['key']}", data, store
    pytest.skip("ATL03_gt1l.h5 not in the corpus")


def test_range_etag_cors_and_head(corpus_server):
    server, made = corpus_server
    url, data, store = first_chunk(server, made)
    s, h, body = request(url)
    assert s == 200 and body == data and int(h["content-length"]) == len(data)
    assert h["access-control-allow-origin"] == "*" and h["accept-ranges"] == "bytes"
    etag = h["etag"]
    s, h2, body = request(url, "HEAD")
    assert s == 200 and body == b"" and int(h2["content-length"]) == len(data) and h2["etag"] == etag
    s, h, body = request(url, headers={"Range": "bytes=10-29"})
    assert s == 206 and body == data[10:30] and h["content-range"] == f"bytes 10-29/{len(data)}"
    s, h, body = request(url, headers={"Range": "bytes=-7"})
    assert s == 206 and body == data[-7:]
    s, h, body = request(url, headers={"Range": f"bytes={len(data) - 3}-"})
    assert s == 206 and body == data[-3:]
    s, _, _ = request(url, headers={"If-None-Match": etag})
    assert s == 304
    s, h, _ = request(url, "OPTIONS", headers={"Origin": "http://example.org", "Access-Control-Request-Method": "GET",
                                              "Access-Control-Request-Headers": "range"})
    assert s == 200 and "range" in h.get("access-control-allow-headers", "").lower()
    # zarr.json straight from the store.
    s, h, body = request(f"{server.base}/{store.name}/zarr.json")
    assert s == 200 and body == (store / "zarr.json").read_bytes() and h["content-type"] == "application/json"


def test_hostile_requests_get_the_right_status_and_leak_nothing(corpus_server):
    server, made = corpus_server
    url, data, store = first_chunk(server, made)
    name = store.name
    cases = {
        f"/{name}/../{name}/vzarr.json": {400, 404},  # normalised or refused, never the file
        f"/{name}/%2e%2e/%2e%2e/etc/passwd": {400},
        f"/{name}/..%2f..%2fetc%2fpasswd": {400, 404},
        f"/{name}/%2fetc%2fpasswd": {400, 404},
        f"/{name}/vzarr.json": {404},
        f"/{name}/manifest.parquet": {404},
        f"/{name}//zarr.json": {400},
        f"/{name}/gt1l/heights/h_ph/c/abc": {400},
        f"/{name}/gt1l/heights/h_ph/c/01": {400},
        f"/{name}/gt1l/heights/h_ph/c/99999999999999999999999": {400},
        f"/{name}/gt1l/heights/h_ph/c/9999": {404},
        f"/{name}/gt1l/heights/h_ph/.zarray": {404},
        "/no-such-store/zarr.json": {404},
        "/etc/passwd": {404},
    }
    for path, want in cases.items():
        s, _, body = request(server.base + path)
        assert s in want, f"{path}: {s} {body[:100]}"
        assert b"root:" not in body and b"/work" not in body and str(CORPUS).encode() not in body, path
    for rng in ("bytes=999999999-", f"bytes={len(data)}-{len(data) + 5}", "bytes=abc", "bytes=5-2"):
        s, h, _ = request(url, headers={"Range": rng})
        assert s == 416 and h.get("content-range") == f"bytes */{len(data)}", f"{rng}: {s}"
    # Several ranges, or another unit: the whole value (RFC 9110 lets a server ignore them).
    for rng in ("bytes=0-1,5-6", "items=0-1"):
        s, _, body = request(url, headers={"Range": rng})
        assert s == 200 and body == data, rng


def test_sources_outside_the_allowed_prefixes_are_never_read(tmp_path):
    """A crafted store whose sources table and manifest point at /etc/passwd: with
    --allow-source the server refuses (403) and reads nothing; its other arrays still serve."""
    src = tmp_path / "data" / "a.h5"
    src.parent.mkdir()
    with h5py.File(src, "w") as f:
        f.create_dataset("x", data=np.arange(100, dtype="<i4"))
        f.create_dataset("y", data=np.arange(50, dtype="<f8"))
    store = tmp_path / "crafted.vzarr"
    vzarr("create", src, "-o", store, check=0)
    # Point y's chunk at /etc/passwd: a second source in the table, the manifest row rewritten.
    import pyarrow as pa
    import pyarrow.parquet as pq
    info = json.loads((store / "vzarr.json").read_text())
    info["sources"].append({"url": "file:///etc/passwd", "size": os.path.getsize("/etc/passwd")})
    (store / "vzarr.json").write_text(json.dumps(info))
    t = pq.read_table(store / "manifest.parquet")
    rows = t.to_pylist()
    for r in rows:
        if r["array"] == "y":
            r["source"], r["offset"], r["length"] = "file:///etc/passwd", 0, 16
    pq.write_table(pa.Table.from_pylist(rows, schema=t.schema), store / "manifest.parquet")
    server = Server([store], tmp_path / "serve.log", "--allow-source", src.parent.as_uri() + "/")
    try:
        s, _, body = request(f"{server.base}/crafted.vzarr/y/c/0")
        assert s == 403 and b"root" not in body and b"passwd" not in body, (s, body)
        s, _, body = request(f"{server.base}/crafted.vzarr/x/c/0")
        assert s == 200 and body == np.arange(100, dtype="<i4").tobytes()
        g = zarr.open_group(f"{server.base}/crafted.vzarr/", mode="r")
        assert (g["x"][:] == np.arange(100)).all()
        with pytest.raises(Exception):
            g["y"][:]
    finally:
        rc, log = server.stop()
    assert rc == 0
    assert "not under an allowed prefix" in log  # the reason is logged, not sent


def test_changed_source_is_a_502_never_other_bytes(tmp_path):
    src = tmp_path / "a.h5"
    with h5py.File(src, "w") as f:
        f.create_dataset("x", data=np.arange(1000, dtype="<i4"))
    store = tmp_path / "s.vzarr"
    vzarr("create", src, "-o", store, check=0)
    server = Server([store], tmp_path / "serve.log")
    try:
        s, _, body = request(f"{server.base}/s.vzarr/x/c/0")
        assert s == 200 and body == np.arange(1000, dtype="<i4").tobytes()
        with h5py.File(src, "r+") as f:
            f["x"][:] = 7
            f.create_dataset("pad", data=np.zeros(4096))
        s, _, body = request(f"{server.base}/s.vzarr/x/c/0")
        assert s == 502 and b"changed" in body, (s, body)
    finally:
        server.stop()


def test_materialized_store_is_served(tmp_path):
    """A store made with --materialize (libhdf5 build): its chunks in materialized.bin and
    inline are served like any, and zarr-python reads the values h5py reads."""
    exe = libhdf5_or_skip()
    src = tmp_path / "m.h5"
    write_materializable_file(src, 600, seed=7)
    store = tmp_path / "m.vzarr"
    vzarr("create", src, "-o", store, "--materialize", "unsupported", exe=exe, check=0)
    assert (store / "materialized.bin").stat().st_size > 64 * 1024
    server = Server([store], tmp_path / "serve.log")
    try:
        g = zarr.open_group(f"{server.base}/m.vzarr", mode="r")
        with h5py.File(src) as f:
            for name in ("big", "small"):
                ok, why = same_bits(f[name][()], g[name][...])
                assert ok, f"{name}: {why}"
    finally:
        rc, _ = server.stop()
    assert rc == 0


def chromium():
    for c in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(c)
        if p:
            return p
    if os.environ.get("CI"):
        pytest.fail("chromium not installed (manifests/apt.txt; .ci/run installs it)")
    pytest.skip("chromium not installed (apt-get install chromium)")


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage"]


def test_index_page_in_headless_chromium(corpus_server, tmp_path):
    server, made = corpus_server
    store = next((s for src, s in made if src.name == "ATL03_gt1l.h5"), made[0][1])
    url = f"{server.base}/{store.name}/"
    exe = chromium()
    common = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*common, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    shot = tmp_path / "index.png"
    subprocess.run([*common, f"--screenshot={shot}", "--window-size=1400,2000", url],
                   capture_output=True, text=True, timeout=120)
    assert shot.is_file() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", "no screenshot"
    assert shot.stat().st_size > 10_000, "screenshot is blank"
    # The rendered hierarchy lists every node of the store, arrays with their shape and count.
    for a in store_arrays(store):
        assert f'data-path="/{a}"' in dom, f"/{a} not on the index page"
    meta = json.loads((store / "zarr.json").read_text())["consolidated_metadata"]["metadata"]
    groups = [k for k, v in meta.items() if v["node_type"] == "group"]
    for g in groups:
        assert f'data-path="/{g}"' in dom
    if store.name and "gt1l/heights/h_ph" in meta:
        row = re.search(r'data-path="/gt1l/heights/h_ph".*?</tr>', dom, re.S).group(0)
        shape = meta["gt1l/heights/h_ph"]["shape"][0]
        assert f"({shape})" in row and "float32" in row
    keep = os.environ.get("VZARR_SCREENSHOT_DIR")
    if keep:
        shutil.copy(shot, pathlib.Path(keep) / "serve-index.png")
