"""Every HDF5/netCDF-4 file of the corpus: vzarr create + vzarr get against h5py/libhdf5.

For each dataset h5py reads: either vzarr's store holds it and `vzarr get` returns the same
bits and libhdf5's chunk offsets/sizes, or vzarr refused it with a named reason. Prints the
coverage table; fails on any wrong value, any dataset neither stored nor refused, any panic.
"""
import collections
import concurrent.futures as cf
import json
import os
import pathlib
import shutil
import tempfile
import threading

import h5py
import hdf5plugin  # noqa: F401 - registers the plugin filters (zstd, lz4, bitshuffle, ...) with h5py
import numpy as np
import pyarrow.parquet as pq
import pytest

from conftest import CORPUS, corpus_or_skip, libhdf5_or_skip, manifest_files, vzarr
from h5ref import chunk_table, h5_values, is_converted, is_json, is_object_ref, is_region_ref, same_bits, vlen_item_dtype, write_materializable_file

CATEGORIES = {"hdf5", "dmrpp-pair-h5", "icesat2", "dmrpp-mvs-h5"}
MIN_SHARE = 0.995  # of datasets h5py reads (ok / (ok + refused)): issue 3's bar
MIN_SHARE_MATERIALIZED = 1.0  # the same with --materialize unsupported (libhdf5 build): issue 3 asks for all
LARGE = 64 << 20  # bytes; larger datasets are compared on two corners
# np.load parses the .npy header with ast.literal_eval; on CPython 3.11.7 two threads doing
# that at once with long headers (structured types of hundreds of fields) can raise
# "SystemError: AST constructor recursion depth mismatch" (CPython gh-106905): one at a time.
NPY_LOAD = threading.Lock()


def h5_datasets(f):
    """Every dataset reachable by hard links that h5py can open, by path (like visititems,
    but an object h5py cannot open is skipped instead of aborting the walk)."""
    out = {}
    seen = set()

    def walk(g, prefix, depth):
        if depth > 64:
            return
        try:
            names = list(g.keys())
        except Exception:  # noqa: BLE001
            return
        for n in names:
            try:
                if not isinstance(g.get(n, getlink=True), h5py.HardLink):
                    continue
                obj = g[n]
                addr = h5py.h5o.get_info(obj.id).addr
            except Exception:  # noqa: BLE001 - h5py cannot open it
                continue
            path = prefix + n
            if isinstance(obj, h5py.Dataset):
                out.setdefault(path, obj)
            elif isinstance(obj, h5py.Group) and addr not in seen:
                seen.add(addr)
                walk(obj, path + "/", depth + 1)

    walk(f, "", 0)
    return out


def h5_variables(f):
    """[`h5_datasets`] without netCDF-4's dimension-only datasets, which vzarr (as netCDF-C,
    h5netcdf and OPeNDAP's DMR++) keeps as dimension names, not arrays."""
    return {k: v for k, v in h5_datasets(f).items() if not is_dimension_only(v)}


def is_dimension_only(ds):
    """Whether netCDF-4 wrote this dataset for a dimension that is not a variable (its NAME
    attribute, netCDF-C's DIM_WITHOUT_VARIABLE)."""
    try:
        v = ds.attrs.get("NAME")
    except Exception:  # noqa: BLE001
        return False
    v = v.decode("latin-1") if isinstance(v, bytes) else v
    return isinstance(v, str) and v.startswith("This is a netCDF dimension but not a netCDF variable")


def expected_dimension_names(ds):
    """Axis names from h5py's dimension scales: the first attached scale's dataset name per
    axis; a 1-D scale names its own axis; None where no axis has a name. Where two axes'
    scales share a name (a group's dimension shadowing an ancestor's, as netCDF allows), a
    scale outside the dataset's own group is named by its absolute path, so the two differ."""
    paths = []
    # Axes of an HDF5 array datatype follow the dataset's own, unnamed.
    extra = [None] * len(ds.dtype.shape)
    for i in range(ds.ndim):
        try:
            scales = ds.dims[i]
            paths.append(scales[0].name if len(scales) else None)
        except Exception:  # noqa: BLE001 - unresolvable reference: no name
            paths.append(None)
    base = lambda p: p.rsplit("/", 1)[-1]  # noqa: E731
    parent = lambda p: p.rsplit("/", 1)[0]  # noqa: E731
    names = [None if p is None else
             p if parent(p) != parent(ds.name) and any(q not in (None, p) and base(q) == base(p) for q in paths)
             else base(p) for p in paths]
    if ds.ndim == 1 and names == [None] and h5py.h5ds.is_scale(ds.id):
        names = [ds.name.rsplit("/", 1)[-1]]
    return names + extra if any(n is not None for n in names) else None


def h5netcdf_dimensions(path):
    """{dataset path: dimension names} as h5netcdf (phony_dims="sort") reads the file, the
    netCDF-style naming vzarr follows for axes without a scale; None if it cannot open it."""
    import h5netcdf

    try:
        out = {}
        with h5netcdf.File(path, "r", phony_dims="sort") as f:
            def walk(g, prefix):
                for name, v in g.variables.items():
                    out[prefix + name] = list(v.dimensions)
                for name, sub in g.groups.items():
                    walk(sub, prefix + name + "/")

            walk(f, "")
        return out
    except Exception:  # noqa: BLE001 - not a file h5netcdf reads
        return None


def read_manifest(store):
    t = pq.read_table(store / "manifest.parquet").to_pylist()
    by_array = collections.defaultdict(dict)
    for r in t:
        suffix = r["key"][len(r["array"]) + 1 :] if r["array"] else r["key"]
        coords = tuple(int(x) for x in suffix.split("/")[1:])
        by_array[r["array"]][coords] = r
    return by_array


def check_file(path, work, creator=None):
    """Returns (file status, {dataset: (status, detail)}). `creator`: the vzarr binary with
    the libhdf5 feature, to create with `--materialize unsupported` (the default binary reads
    the store back either way)."""
    create = ["create", path, "-o", work / "store"] + (["--materialize", "unsupported"] if creator else [])
    # libhdf5 (materialize) loads the filter plugins h5py uses here (hdf5plugin's blosc2, zfp, ...).
    env = {"HDF5_PLUGIN_PATH": hdf5plugin.PLUGIN_PATH} if creator else None
    try:
        f = h5py.File(path, "r")
    except Exception as e:  # noqa: BLE001 - h5py cannot open it: vzarr must not crash either
        p = vzarr(*create, exe=creator, env=env)
        return f"h5py cannot open ({type(e).__name__}); vzarr exit {p.returncode}", {}
    results = {}
    with f:
        dsets = h5_datasets(f)
        store = work / "store"
        p = vzarr(*create, exe=creator, env=env)
        if p.returncode == 2:
            for name in dsets:
                results[name] = ("refused", "whole file: " + p.stderr.strip().splitlines()[-1][:80])
            return "create failed", results
        info = json.loads((store / "vzarr.json").read_text())
        refused = {r["path"].strip("/"): r for r in info["refused"]}
        materialized = {r["path"].strip("/") for r in info.get("materialized", [])}
        root = json.loads((store / "zarr.json").read_text())
        nodes = root.get("consolidated_metadata", {}).get("metadata", {})
        arrays = {k for k, v in nodes.items() if v["node_type"] == "array"}
        manifest = read_manifest(store)
        nc_dims = None
        for name, ds in dsets.items():
            # Datasets too large to hold are compared on their first and last corners.
            selections = [None]
            try:
                if ds.size * ds.dtype.itemsize > LARGE:
                    k = [max(1, min(n, 4096 if i == 0 else 64)) for i, n in enumerate(ds.shape)]
                    selections = [
                        tuple(slice(0, min(n, kk)) for n, kk in zip(ds.shape, k)),
                        tuple(slice(max(0, n - kk), n) for n, kk in zip(ds.shape, k)),
                    ]
                expected = [h5_values(ds, sel) for sel in selections]
            except Exception as e:  # noqa: BLE001
                results[name] = ("h5py cannot read", type(e).__name__)
                continue
            if name in refused:
                # With --materialize, why libhdf5 could not help either.
                why = refused[name]["reason"].partition("not materialized either: ")[2]
                results[name] = ("refused", refused[name]["feature"] + (f" [{why[:60]}]" if why else ""))
                continue
            if is_dimension_only(ds):
                # netCDF-4's dimension without a variable: netCDF-C, h5netcdf and OPeNDAP's
                # DMR++ show a dimension, not a variable; vzarr keeps only its name, on axes.
                results[name] = ("netCDF dimension only", "") if name not in arrays else ("WRONG", "dimension-only dataset mapped as an array")
                continue
            if name not in arrays:
                results[name] = ("MISSING", "neither in the store nor refused")
                continue
            out = work / (name.replace("/", "__") + ".npy")
            ok, why = True, ""
            for sel, exp in zip(selections, expected):
                args = [] if sel is None else ["--slice", ",".join(f"{x.start}:{x.stop}" for x in sel)]
                g = vzarr("get", store, name, "-o", out, *args)
                if g.returncode != 0:
                    ok, why = False, "get failed: " + g.stderr.strip()[-200:]
                    break
                with NPY_LOAD:
                    # Variable-length sequences come as an object array of bytes (a pickle).
                    got = np.load(out, allow_pickle=True)
                ok, why = same_bits(exp, got)
                if not ok:
                    break
            if not ok:
                results[name] = ("WRONG", why)
                continue
            # A materialized dataset's chunks are vzarr's own, not references into the file.
            kind, table = ("materialized", None) if name in materialized else chunk_table(ds)
            if table is not None:
                ours = manifest.get(name, {})
                # vzarr stores a chunk inline on purpose when its bytes cannot be referenced as
                # they are: filters skipped by the chunk's filter mask (re-encoded), or
                # NUL-terminated strings with bytes after the terminator (cleaned).
                # Variable-length strings are read once and stored inline, and space-padded
                # strings cleaned, always.
                tid = ds.id.get_type()
                strings = tid.get_class() == h5py.h5t.STRING
                cleaned = strings and (tid.is_variable_str() or tid.get_strpad() != h5py.h5t.STR_NULLPAD)
                # Compounds (and arrays of them) with padding or big-endian members are
                # rewritten packed, inline.
                cleaned = cleaned or ds.dtype.base.names is not None
                # References become paths (and regions); a shuffle after another filter is undone
                # at creation: both stored inline.
                dcpl = ds.id.get_create_plist()
                ids = [dcpl.get_filter(i)[0] for i in range(dcpl.get_nfilters())]
                late_shuffle = any(f == 2 and any(g != 2 for g in ids[:i]) for i, f in enumerate(ids))
                cleaned = cleaned or late_shuffle or is_object_ref(ds) or is_region_ref(ds)
                # Variable-length sequences are read once and stored inline, as vlen-bytes;
                # n-bit packed chunks and numbers libhdf5 converts, decoded and converted.
                cleaned = cleaned or vlen_item_dtype(ds) is not None or 5 in ids or is_converted(ds)
                # Values no Zarr type holds are stored as JSON text, inline.
                cleaned = cleaned or is_json(ds)
                # An HDF5 array datatype adds trailing axes with one chunk each.
                extra = (0,) * len(ds.dtype.shape)
                for coords, (off, size, mask) in table.items():
                    coords = tuple(coords) + extra
                    r = ours.get(coords)
                    if cleaned and r is not None and r["inline"] is not None:
                        continue
                    if mask != 0:
                        if r is None or r["inline"] is None:
                            ok, why = False, f"chunk {coords} with filter mask {mask} not inlined"
                        continue
                    if r is None or r["offset"] != off or r["length"] != size:
                        got = None if r is None else (r["offset"], r["length"])
                        ok, why = False, f"chunk {coords}: ours {got}, libhdf5 {(off, size)}"
                        break
                if ok and kind == "chunked" and len(ours) != len(table):
                    ok, why = False, f"{len(ours)} chunk rows, libhdf5 has {len(table)}"
                if not ok and kind == "chunked":
                    # libhdf5's chunk iteration numbers some layouts (extensible arrays whose
                    # unlimited axis is not first) differently from its reads: ask the read
                    # path itself, chunk by chunk.
                    ok, why2 = direct_chunks_agree(path, ds, ours, len(table))
                    why = why if ok else why2
            item = vlen_item_dtype(ds)
            declared = nodes[name].get("attributes", {}).get("_hdf5_vlen_dtype")
            if ok and item is not None and declared != item.str:
                ok, why = False, f"_hdf5_vlen_dtype {declared!r}, h5py's item dtype {item.str!r}"
            if ok:
                want = expected_dimension_names(ds)
                got = nodes[name].get("dimension_names")
                if want is None and ds.ndim > 0 and not h5py.h5ds.is_scale(ds.id):
                    # No scale on any axis: netCDF-style phony dimensions, as h5netcdf names
                    # them.
                    if nc_dims is None:
                        nc_dims = h5netcdf_dimensions(path) or {}
                    if name in nc_dims:
                        want = nc_dims[name] + [None] * len(ds.dtype.shape)
                if want is None:
                    want = [None] * (ds.ndim + len(ds.dtype.shape))
                # Axes the file gives no name (no scale, an array datatype's axes, h5netcdf
                # cannot open the file) have phony names, so xarray can open every array.
                if not (got is not None and len(got) == len(want) and all(
                        g == w if w is not None else (g or "").startswith("phony_dim_") for g, w in zip(got, want))):
                    ok, why = False, f"dimension_names {got}, h5py dimension scales say {want}"
            status = "materialized" if name in materialized else "ok"
            results[name] = (status, kind) if ok else ("WRONG", why)
    return "ok", results


def direct_chunks_agree(path, ds, ours, nchunks):
    """Every chunk row of ours holds exactly the bytes libhdf5's read_direct_chunk returns for
    that chunk (virtual rows), or is inline where libhdf5 stores it with filters skipped or
    unfiltered; and there are as many rows as libhdf5 has chunks."""
    # libhdf5's chunk count includes chunks left beyond a shrunk extent; the read path
    # sees those inside the extent. Ask it for every grid position (small grids only).
    grid = [-(-n // c) for n, c in zip(ds.shape, ds.chunks)]
    if int(np.prod(grid)) > 100_000:
        return False, "chunk grid too large for a read_direct_chunk check"
    present = set()
    for coords in np.ndindex(*grid):
        try:
            ds.id.read_direct_chunk(tuple(int(c) * k for c, k in zip(coords, ds.chunks)))
            present.add(tuple(int(c) for c in coords))
        except Exception:  # noqa: BLE001 - no chunk stored there
            pass
    rank = len(ds.shape)
    if {k[:rank] for k in ours} != present:
        return False, f"{len(ours)} chunk rows, libhdf5's reads find {len(present)} chunks (of {nchunks})"
    raw_size = int(np.prod(ds.chunks)) * ds.dtype.itemsize
    filtered = ds.id.get_create_plist().get_nfilters() > 0
    with open(path, "rb") as f:
        for coords, r in ours.items():
            offsets = tuple(c * k for c, k in zip(coords, ds.chunks))
            try:
                mask, data = ds.id.read_direct_chunk(offsets)
            except Exception as e:  # noqa: BLE001
                return False, f"chunk {coords}: libhdf5 read_direct_chunk fails ({e})"
            if r["inline"] is not None:
                if mask == 0 and not (filtered and len(data) == raw_size):
                    return False, f"chunk {coords} inline, libhdf5 stores it with all filters"
                continue
            f.seek(r["offset"])
            if mask != 0 or f.read(r["length"]) != data:
                return False, f"chunk {coords}: our bytes differ from libhdf5's read_direct_chunk"
    return True, ""


@pytest.mark.parametrize("materialize", [False, True], ids=["references", "materialize-unsupported"])
def test_corpus_against_h5py(capsys, materialize):
    files = manifest_files(CATEGORIES)
    assert files, "no HDF5 files found in the corpus manifest"
    creator = libhdf5_or_skip() if materialize else None
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="vzarr-ref-"))
    try:
        def job(i_path):
            i, path = i_path
            work = tmp / str(i)
            work.mkdir()
            try:
                return path, check_file(path, work, creator)
            finally:
                shutil.rmtree(work, ignore_errors=True)

        with cf.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
            results = list(ex.map(job, enumerate(files)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    tally = collections.Counter()
    reasons = collections.Counter()
    bad = []
    file_status = collections.Counter()
    for path, (fstatus, ds) in results:
        file_status[fstatus.split(";")[0].split(" (")[0]] += 1
        for name, (status, detail) in ds.items():
            tally[status] += 1
            if status == "refused":
                reasons[detail] += 1
            if status in ("WRONG", "MISSING"):
                bad.append(f"{path.relative_to(CORPUS)}: /{name}: {status}: {detail}")
    with capsys.disabled():
        how = "vzarr create --materialize unsupported (libhdf5 build)" if materialize else "vzarr create"
        print(f"\nHDF5 corpus coverage ({len(files)} files), {how}")
        for k, v in sorted(file_status.items()):
            print(f"  files {k:<40} {v:>6}")
        total = sum(tally.values())
        for k in ("ok", "materialized", "refused", "netCDF dimension only", "h5py cannot read", "WRONG", "MISSING"):
            print(f"  datasets {k:<37} {tally[k]:>6}")
        print(f"  datasets {'total':<37} {total:>6}")
        for r, n in reasons.most_common():
            print(f"    refused: {r:<50} {n:>6}")
        for b in bad[:50]:
            print("  " + b)
        readable = tally["ok"] + tally["materialized"] + tally["refused"]
        share = (tally["ok"] + tally["materialized"]) / readable if readable else 0.0
        print(f"  {100 * share:.2f} % of the {readable} datasets h5py reads (netCDF dimension-only ones apart) are stored and read back identically")
    assert not bad, f"{len(bad)} datasets wrong or missing:\n" + "\n".join(bad[:50])
    if materialize:
        assert tally["materialized"] > 0, "--materialize unsupported materialized nothing"
        assert share >= MIN_SHARE_MATERIALIZED, f"{100 * share:.2f} % with --materialize, below the {100 * MIN_SHARE_MATERIALIZED} % floor"
        return
    assert tally["materialized"] == 0, "datasets materialized without --materialize"
    # Issue 3 asks for 99.5 %; the rest are types no Zarr data type holds (sequences of
    # sequences, compounds with sequence members, long doubles), virtual datasets and filters
    # with no decoder (blosc2, zfp).
    assert share >= MIN_SHARE, f"{100 * share:.2f} % read back identically, below the {100 * MIN_SHARE} % floor"
    assert tally["ok"] > 0


def test_atl03_converts_completely(tmp_path):
    corpus_or_skip()
    [atl03] = [p for p in manifest_files({"icesat2"}) if p.name == "ATL03_gt1l.h5"]
    p = vzarr("create", atl03, "-o", tmp_path / "s", check=0)
    info = json.loads((tmp_path / "s" / "vzarr.json").read_text())
    assert info["refused"] == [], info["refused"]
    with h5py.File(atl03) as f:
        dsets = h5_datasets(f)
        assert len(dsets) > 10
        for name in ["gt1l/heights/h_ph", "gt1l/heights/lat_ph", "gt1l/heights/delta_time"]:
            if name not in dsets:
                continue
            vzarr("get", tmp_path / "s", name, "-o", tmp_path / "x.npy", check=0)
            ok, why = same_bits(dsets[name][()], np.load(tmp_path / "x.npy"))
            assert ok, f"{name}: {why}"
    assert "wrote" in p.stderr


def _chunked_file():
    """A small deflate+shuffle chunked corpus file both sides read."""
    for p in manifest_files({"hdf5"}):
        if p.name == "issue23_A.nc":
            return p
    pytest.skip("issue23_A.nc not in corpus")


def _compare_all(store, src, tmp):
    with h5py.File(src) as f:
        n = 0
        for name, ds in h5_variables(f).items():
            vzarr("get", store, name, "-o", tmp / "v.npy", check=0)
            ok, why = same_bits(ds[()], np.load(tmp / "v.npy"))
            assert ok, f"{name}: {why}"
            n += 1
        assert n > 0


def test_relative_store_moves_with_its_sources(tmp_path):
    corpus_or_skip()
    src = _chunked_file()
    a = tmp_path / "a"
    (a / "data").mkdir(parents=True)
    shutil.copy(src, a / "data" / src.name)
    vzarr("create", a / "data" / src.name, "-o", a / "stores" / "s", "--relative", check=0)
    info = json.loads((a / "stores" / "s" / "vzarr.json").read_text())
    assert info["sources"][0]["url"] == f"../../data/{src.name}"
    b = tmp_path / "b"
    shutil.copytree(a, b)  # a copy: new inodes and times, same bytes
    shutil.rmtree(a)
    _compare_all(b / "stores" / "s", src, tmp_path)


def test_changed_source_fails_get(tmp_path):
    corpus_or_skip()
    src = _chunked_file()
    data = tmp_path / src.name
    shutil.copy(src, data)
    vzarr("create", data, "-o", tmp_path / "s", check=0)
    with h5py.File(data) as f:
        name = next(iter(n for n, d in h5_datasets(f).items() if d.chunks))
    vzarr("get", tmp_path / "s", name, "-o", tmp_path / "v.npy", check=0)
    # Same size, different bytes, new modification time.
    raw = bytearray(data.read_bytes())
    raw[-1] ^= 0xFF
    data.write_bytes(raw)
    os.utime(data, (1, 1))
    p = vzarr("get", tmp_path / "s", name, "-o", tmp_path / "v.npy", check=2)
    assert "source changed" in p.stderr, p.stderr


def test_corrupt_and_truncated_inputs_give_errors_not_panics(tmp_path):
    corpus_or_skip()
    bad_inputs = [p for p in manifest_files({"hdf5"}) if "cve" in p.name.lower()]
    src = _chunked_file().read_bytes()
    for cut in (0, 7, 8, 64, 200, 512, len(src) // 3, len(src) // 2, len(src) - 1):
        p = tmp_path / f"trunc_{cut}.h5"
        p.write_bytes(src[:cut])
        bad_inputs.append(p)
    rng = np.random.default_rng(1)
    for i in range(8):
        raw = bytearray(src)
        idx = rng.integers(0, len(raw), size=64)
        raw_np = np.frombuffer(bytes(raw), dtype=np.uint8).copy()
        raw_np[idx] = rng.integers(0, 256, size=64, dtype=np.uint8)
        p = tmp_path / f"flip_{i}.h5"
        p.write_bytes(raw_np.tobytes())
        bad_inputs.append(p)
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(rng.integers(0, 256, size=4096, dtype=np.uint8).tobytes())
    bad_inputs.append(garbage)
    for p in bad_inputs:
        r = vzarr("create", p, "-o", tmp_path / "out", "--overwrite")
        if r.returncode == 2:
            assert r.stderr.strip(), f"{p}: exit 2 without a message"
            assert str(p.name) in r.stderr or "error" in r.stderr
        elif (tmp_path / "out" / "vzarr.json").exists():
            # A store from a damaged file: every array it wrote must read or fail cleanly.
            root = json.loads((tmp_path / "out" / "zarr.json").read_text())
            for k, v in root.get("consolidated_metadata", {}).get("metadata", {}).items():
                if v["node_type"] == "array":
                    vzarr("get", tmp_path / "out", k, "-o", tmp_path / "x.npy")


def _corpus_file(name):
    for p in manifest_files({"hdf5"}):
        if p.name == name:
            return p
    pytest.skip(f"{name} not in corpus")


def test_materialize_needs_the_feature_and_says_so(tmp_path):
    src = tmp_path / "vds.h5"
    write_materializable_file(src, 100, seed=1)
    p = vzarr("create", src, "-o", tmp_path / "s", "--materialize", "unsupported", check=2)
    assert "libhdf5" in p.stderr and "feature" in p.stderr, p.stderr
    assert not (tmp_path / "s").exists()


def test_materialize_virtual_datasets_read_back_through_the_default_build(tmp_path):
    exe = libhdf5_or_skip()
    src = tmp_path / "vds.h5"
    write_materializable_file(src, 200, seed=2)
    p = vzarr("create", src, "-o", tmp_path / "s", "--materialize", "unsupported", exe=exe, check=0)
    assert "2 materialized through libhdf5" in p.stderr, p.stderr
    info = json.loads((tmp_path / "s" / "vzarr.json").read_text())
    assert sorted(m["path"] for m in info["materialized"]) == ["/big", "/small"] and info["refused"] == []
    assert all("virtual" in m["feature"] for m in info["materialized"]), info["materialized"]
    # Without --materialize the same binary refuses them, exit status 1.
    vzarr("create", src, "-o", tmp_path / "r", exe=exe, check=1)
    with h5py.File(src) as f:
        for name in ("big", "small"):
            vzarr("get", tmp_path / "s", name, "-o", tmp_path / "v.npy", check=0)
            ok, why = same_bits(f[name][()], np.load(tmp_path / "v.npy"))
            assert ok, why
    # Their chunks are in the manifest, nothing points into the file for them.
    rows = [r for r in pq.read_table(tmp_path / "s" / "manifest.parquet").to_pylist() if r["array"] == "small"]
    assert rows and all(r["inline"] is not None for r in rows)


def test_materialize_damaged_files_fail_by_name(tmp_path):
    exe = libhdf5_or_skip()
    src = _corpus_file("h5repack_soffset.h5")
    data = src.read_bytes()
    # The chunk index of the scale-offset dataset (a v1 B-tree node of type 1, raw data
    # chunks) damaged: neither reader can find its chunks; vzarr refuses it, naming libhdf5's
    # reason as well as its own, and still maps the other dataset.
    at = data.find(b"TREE\x01")
    assert at > 0
    bad = bytearray(data)
    bad[at:at + 4] = b"XXXX"
    (tmp_path / "bad.h5").write_bytes(bytes(bad))
    with h5py.File(tmp_path / "bad.h5") as f, pytest.raises(Exception):
        f["dset_scaleoffset"][()]
    p = vzarr("create", tmp_path / "bad.h5", "-o", tmp_path / "s", "--materialize", "unsupported", exe=exe, check=1)
    info = json.loads((tmp_path / "s" / "vzarr.json").read_text())
    [r] = [r for r in info["refused"] if r["path"] == "/dset_scaleoffset"]
    assert "not materialized either: libhdf5" in r["reason"], r
    assert "refused: " in p.stderr and "/dset_scaleoffset" in p.stderr
    assert info.get("materialized", []) == []
    # Truncated inside the data: libhdf5 refuses to open a file shorter than its recorded end;
    # the datasets it would have materialized stay refused with that reason.
    (tmp_path / "short.h5").write_bytes(data[: len(data) - 64])
    p = vzarr("create", tmp_path / "short.h5", "-o", tmp_path / "t", "--materialize", "unsupported", exe=exe)
    assert p.returncode in (1, 2), p.stderr
    assert "short.h5" in p.stderr and "panicked" not in p.stderr


def test_materialize_large_dataset_goes_beside_the_manifest(tmp_path):
    """A materialized dataset's big chunks are stored in materialized.bin next to the manifest
    (referenced by a store-relative source), small ones inline; the store still reads back
    bit for bit, verifies, and moves as a whole."""
    exe = libhdf5_or_skip()
    src = tmp_path / "big.h5"
    write_materializable_file(src, 1500, seed=3)  # big: ~4 MiB
    store = tmp_path / "s"
    p = vzarr("create", src, "-o", store, "--materialize", "unsupported", exe=exe, check=0)
    assert "2 materialized through libhdf5" in p.stderr, p.stderr
    info = json.loads((store / "vzarr.json").read_text())
    side = [s for s in info["sources"] if s["url"] == "materialized.bin"]
    assert len(side) == 1 and side[0]["size"] == (store / "materialized.bin").stat().st_size > 1 << 20
    rows = collections.defaultdict(list)
    for r in pq.read_table(store / "manifest.parquet").to_pylist():
        rows[r["array"]].append(r)
    # Chunks over 64 KiB encoded go to the sidecar (the zero-padded last one compresses small).
    beside = [r for r in rows["big"] if r["inline"] is None]
    assert len(beside) >= 4 and all(r["source"] == "materialized.bin" for r in beside)
    assert all(len(r["inline"]) <= 64 * 1024 for r in rows["big"] if r["inline"] is not None)
    assert rows["small"] and all(r["inline"] is not None for r in rows["small"])
    moved = tmp_path / "moved"
    shutil.move(store, moved)
    with h5py.File(src) as f:
        for name in ("big", "small", "plain"):
            vzarr("get", moved, name, "-o", tmp_path / "v.npy", check=0)
            ok, why = same_bits(f[name][()], np.load(tmp_path / "v.npy"))
            assert ok, f"{name}: {why}"
    vzarr("verify", moved, "--decode", check=0)
    # A damaged sidecar is found by its size, like any relative source.
    with open(moved / "materialized.bin", "ab") as fh:
        fh.write(b"x")
    p = vzarr("verify", moved, check=1)
    assert "materialized.bin" in p.stderr + p.stdout
