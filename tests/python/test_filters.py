"""HDF5 filters beyond deflate (zstd, blosc, lz4, bitshuffle, lzf, bzip2, szip, scale-offset,
repeated filters):
stores vzarr creates read back bit-identically through `vzarr get` AND through zarr-python 3
with the codecs named in zarr.json, both compared with h5py + hdf5plugin (libhdf5 and the
filters' own C code). The files are written by scripts/make_filter_h5.py.

zarr-python resolves `zstd`, `blosc`, `numcodecs.*` itself; `imagecodecs_lzf`,
`imagecodecs_lz4h5`, `imagecodecs_szip`, `vzarr.bitshuffle` and `vzarr.scaleoffset` are decoded
by the stand-ins in refcodecs.py.
"""
import collections
import json
import pathlib
import subprocess
import sys

import h5py
import hdf5plugin  # noqa: F401 - registers the filter plugins with libhdf5
import imagecodecs
import numpy as np
import pyarrow.parquet as pq
import pytest
import zarr
from zarr.storage import LocalStore

from conftest import vzarr
from h5ref import chunk_table, same_bits
from refcodecs import Lzf  # registers the decoders of imagecodecs_lzf, imagecodecs_lz4h5, vzarr.bitshuffle

REPO = pathlib.Path(__file__).resolve().parents[2]

# The Zarr codec each HDF5 filter must become (DESIGN §3).
FILTER_CODEC = {
    1: "numcodecs.zlib",
    2: "numcodecs.shuffle",
    3: "numcodecs.fletcher32",
    4: "imagecodecs_szip",
    6: "vzarr.scaleoffset",
    307: "numcodecs.bz2",
    32000: "imagecodecs_lzf",
    32001: "blosc",
    32004: "imagecodecs_lz4h5",
    32008: "vzarr.bitshuffle",
    32015: "zstd",
}


class ManifestStore(LocalStore):
    """A read-only zarr-python store over a vzarr store directory: zarr.json documents from
    the directory, chunk keys through manifest.parquet (source byte ranges or inline bytes)."""

    def __init__(self, root):
        super().__init__(root, read_only=True)
        self._chunks = {}
        files = {}
        for r in pq.read_table(pathlib.Path(root) / "manifest.parquet").to_pylist():
            if r["inline"] is not None:
                self._chunks[r["key"]] = bytes(r["inline"])
            else:
                path = r["source"].removeprefix("file://")
                if path not in files:
                    files[path] = pathlib.Path(path).read_bytes()
                self._chunks[r["key"]] = files[path][r["offset"] : r["offset"] + r["length"]]

    async def get(self, key, prototype, byte_range=None):
        if key in self._chunks:
            assert byte_range is None
            return prototype.buffer.from_bytes(self._chunks[key])
        if key == "zarr.json" or key.endswith("/zarr.json"):
            return await super().get(key, prototype, byte_range)
        return None  # missing chunk: fill value

    async def exists(self, key):
        return key in self._chunks or await super().exists(key)


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    d = tmp_path_factory.mktemp("filters")
    subprocess.run([sys.executable, str(REPO / "scripts" / "make_filter_h5.py"), str(d)], check=True,
                   capture_output=True)
    src = d / "filters.h5"
    store = d / "store"
    p = vzarr("create", src, "-o", store, check=0)
    info = json.loads((store / "vzarr.json").read_text())
    assert info["refused"] == [], info["refused"]
    with h5py.File(src) as f:
        names = []
        f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
    assert len(names) >= 60, names
    return src, store, names, p.stderr


def _metadata(store):
    return json.loads((store / "zarr.json").read_text())["consolidated_metadata"]["metadata"]


# --- tests ------------------------------------------------------------------------------------


def test_vzarr_get_matches_h5py(made, tmp_path):
    src, store, names, _ = made
    bad = []
    with h5py.File(src) as f:
        for name in names:
            out = tmp_path / "x.npy"
            vzarr("get", store, name, "-o", out, check=0)
            ok, why = same_bits(f[name][()], np.load(out))
            if not ok:
                bad.append(f"{name}: {why}")
            # A slice across chunk edges, too.
            vzarr("get", store, name, "-o", out, "--slice", "3:29,5:41", check=0)
            ok, why = same_bits(f[name][3:29, 5:41], np.load(out))
            if not ok:
                bad.append(f"{name}[3:29,5:41]: {why}")
    assert not bad, bad


def test_codecs_follow_the_filter_pipeline(made):
    """zarr.json lists one codec per HDF5 filter, in order, under the mapped names."""
    src, store, names, _ = made
    meta = _metadata(store)
    with h5py.File(src) as f:
        for name in names:
            dcpl = f[name].id.get_create_plist()
            want = [FILTER_CODEC[dcpl.get_filter(i)[0]] for i in range(dcpl.get_nfilters())]
            got = [c["name"] for c in meta[name]["codecs"]]
            assert got[0] == "bytes" and got[1:] == want, (name, got, want)
    twice = meta["repeated/deflate_twice"]["codecs"]
    assert [c.get("configuration") for c in twice[1:]] == [{"level": 4}, {"level": 6}]
    bs = meta["bitshuffle/zstd_i2_odd_block8"]["codecs"][1]["configuration"]
    assert bs == {"elementsize": 2, "blocksize": 8, "compression": "zstd", "level": 3}
    assert meta["blosc/zstd_f4"]["codecs"][1]["configuration"] == {
        "cname": "zstd", "clevel": 5, "shuffle": "shuffle", "typesize": 4, "blocksize": 0}
    assert meta["lzf/f4"]["codecs"][1] == {"name": "imagecodecs_lzf", "configuration": {"header": False}}


def test_chunk_references_match_libhdf5(made):
    """Chunks stored with all filters are referenced at libhdf5's offset/size; chunks whose
    filter mask skipped a filter (lzf, blosc, szip on incompressible data) are re-encoded inline."""
    src, store, names, _ = made
    rows = {r["key"]: r for r in pq.read_table(store / "manifest.parquet").to_pylist()}
    masked = collections.Counter()
    with h5py.File(src) as f:
        for name in names:
            _, table = chunk_table(f[name])
            for coords, (off, size, mask) in table.items():
                r = rows[f"{name}/c/" + "/".join(map(str, coords))]
                if mask:
                    assert r["inline"] is not None, (name, coords)
                    masked[name.split("/")[0]] += 1
                else:
                    assert (r["offset"], r["length"], r["inline"]) == (off, size, None), (name, coords)
    # The generator must exercise the re-encode path for lzf and blosc.
    assert masked["lzf"] > 0 and masked["blosc"] > 0 and masked["szip"] > 0, masked


def test_zarr_python_reads_the_store(made):
    """zarr-python 3 reads every array through the codecs in zarr.json, bit-identically to
    h5py, with two known limits of the Python decoders (errors, never wrong values):
    - imagecodecs' lzf decoder, called as imagecodecs-zarr calls it (without an output size),
      allocates 8x the input: chunks compressed more than that raise LzfError. Those arrays
      must then read identically when the decoder is given the chunk size;
    - numcodecs' Blosc is built without snappy: Blosc chunks compressed with snappy raise."""
    src, store, names, _ = made
    meta = _metadata(store)
    rows = pq.read_table(store / "manifest.parquet").to_pylist()
    g = zarr.open_group(store=ManifestStore(store), mode="r", zarr_format=3)
    read, limited = 0, []
    with h5py.File(src) as f:
        for name in names:
            ds = f[name]
            codecs = meta[name]["codecs"]
            snappy = any(c["name"] == "blosc" and c["configuration"]["cname"] == "snappy" for c in codecs)
            if snappy and any(r["array"] == name and r["inline"] is None for r in rows):
                with pytest.raises(RuntimeError, match="blosc"):
                    g[name][...]
                limited.append(name)
                continue
            try:
                got = g[name][...]
            except imagecodecs.LzfError as e:
                assert "not large enough" in str(e), e
                Lzf.with_size = True
                try:
                    got = g[name][...]
                finally:
                    Lzf.with_size = False
                limited.append(name)
            ok, why = same_bits(ds[()], got)
            assert ok, f"{name}: {why}"
            read += 1
    print(f"zarr-python: {read} arrays identical to h5py; hit a Python decoder limit: {limited}")
    assert read >= 60 and len(limited) <= 6, (read, limited)


def test_damaged_filtered_chunks_fail_cleanly(made, tmp_path):
    """Corrupt compressed chunks: `vzarr get` reports an error or returns data, never panics."""
    src, _, names, _ = made
    raw = bytearray(src.read_bytes())
    with h5py.File(src) as f:
        for name in names:
            _, table = chunk_table(f[name])
            off, size, _ = table[(0, 0)]
            for i in range(off + 2, off + size, 7):
                raw[i] ^= 0x5A
    bad = tmp_path / "damaged.h5"
    bad.write_bytes(bytes(raw))
    store = tmp_path / "s"
    # Chunks skipped by a filter mask are decoded at creation: damaged ones refuse their array.
    p = vzarr("create", bad, "-o", store)
    assert p.returncode in (0, 1), p.stderr
    arrays = [k for k, v in _metadata(store).items() if v["node_type"] == "array"]
    failed = 0
    for name in arrays:
        g = vzarr("get", store, name, "-o", tmp_path / "x.npy")
        failed += g.returncode != 0
    assert len(arrays) >= len(names) - 5 and failed > len(arrays) // 2, (len(arrays), failed)
