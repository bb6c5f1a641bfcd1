"""HDF5 variable-length sequences become `vlen-bytes` arrays stored inline: each element the
sequence's item bytes as stored, the item dtype in `_hdf5_vlen_dtype`. Compounds with
variable-length string members become structured arrays whose string fields are NUL-padded byte
strings as wide as the longest string. Files written by h5py
(both byte orders, chunked with filters, edge chunks, empty and unwritten elements, 0-d,
zero-length); compared with h5py through `vzarr get` (zarrs) and through
zarr-python over `vzarr serve`, and the kerchunk export through fsspec + zarr-python 2-style
`vlen-bytes` (numcodecs)."""
import json

import h5py
import numpy as np
import zarr

from conftest import vzarr
from h5ref import VlenSeqs, same_bits, vlen_item_dtype
from test_serve import Server


def ragged(n, dtype, seed):
    rng = np.random.default_rng(seed)
    out = np.empty(n, dtype=object)
    for i in range(n):
        k = int(rng.integers(0, 7))
        out[i] = (rng.standard_normal(k) * 1000).astype(dtype)
    return out


def write_file(path):
    """Writes the file; returns {dataset: the sequences written} for the 1-D ones."""
    written = {}
    with h5py.File(path, "w") as f:
        for dt in ["<i1", "<u2", ">i4", "<u8", ">f4", "<f8", "<c8", ">c16"]:
            vt = h5py.vlen_dtype(np.dtype(dt))
            name = f"contig_{dt[1:]}_{'be' if dt[0] == '>' else 'le'}"
            written[name] = ragged(11, dt, 1)
            f.create_dataset(name, data=written[name], dtype=vt)
        # Chunked, deflate, 2-D with edge chunks, partly unwritten.
        vt = h5py.vlen_dtype(np.dtype("<i2"))
        d = f.create_dataset("chunked2d", shape=(9, 7), chunks=(4, 3), dtype=vt, compression="gzip")
        vals = ragged(9 * 5, "<i2", 2).reshape(9, 5)
        for i in range(9):
            for j in range(5):
                d[i, j] = vals[i, j]
        d = f.create_dataset("scalar", shape=(), dtype=h5py.vlen_dtype(np.dtype("<f8")))
        d[()] = np.array([1.5, 0.0], dtype="<f8")  # trailing zero bytes must survive
        f.create_dataset("empty_seqs", data=ragged(5, "<u1", 3) * 0, dtype=h5py.vlen_dtype(np.dtype("u1")))
        f.create_dataset("zero_len", shape=(0,), dtype=h5py.vlen_dtype(np.dtype("<i4")))
        # A sequence of compounds: refused by name.
        f.create_dataset("of_compound", shape=(2,), dtype=h5py.vlen_dtype(np.dtype([("a", "<i4"), ("b", "<f8")])))
    return written


def test_vlen_sequences_read_back_like_h5py(tmp_path):
    src = tmp_path / "vlen.h5"
    written = write_file(src)
    store = tmp_path / "store"
    p = vzarr("create", src, "-o", store)
    info = json.loads((store / "vzarr.json").read_text())
    refused = {r["path"].strip("/"): r["feature"] for r in info["refused"]}
    assert refused == {"of_compound": "variable-length sequence of compound datatype"}, refused
    assert p.returncode == 1, "a run that leaves an array out must say so in its exit status"
    meta = json.loads((store / "zarr.json").read_text())["consolidated_metadata"]["metadata"]
    checked = 0
    served = {}
    with h5py.File(src, "r") as f:
        for name, ds in f.items():
            if name in refused:
                continue
            m = meta[name]
            assert m["data_type"] == "variable_length_bytes" and m["codecs"] == [{"name": "vlen-bytes"}], m
            assert m["attributes"]["_hdf5_vlen_dtype"] == vlen_item_dtype(ds).str
            g = vzarr("get", store, name, "-o", tmp_path / "v.npy")
            assert g.returncode == 0, g.stderr
            got = np.load(tmp_path / "v.npy", allow_pickle=True)
            ok, why = same_bits(VlenSeqs(ds[()], vlen_item_dtype(ds), ds.shape), got)
            assert ok, f"{name}: {why}"
            # The values written, read with the declared item dtype (big-endian ones too).
            for want, b in zip(written.get(name, []), got.reshape(-1)):
                assert np.array_equal(np.frombuffer(b, m["attributes"]["_hdf5_vlen_dtype"]), want), name
            checked += 1
            served[name] = VlenSeqs(ds[()], vlen_item_dtype(ds), ds.shape)
            if name == "chunked2d":
                g = vzarr("get", store, name, "--slice", "3:8,2:6", "-o", tmp_path / "s.npy")
                assert g.returncode == 0, g.stderr
                ok, why = same_bits(VlenSeqs(ds[3:8, 2:6], vlen_item_dtype(ds)), np.load(tmp_path / "s.npy", allow_pickle=True))
                assert ok, f"{name}[3:8, 2:6]: {why}"
    assert checked == 12
    # zarr-python over `vzarr serve`: an object array of bytes per array.
    server = Server([store], tmp_path / "serve.log")
    try:
        g = zarr.open_group(f"{server.base}/store", mode="r", zarr_format=3)
        for name, want in served.items():
            ok, why = same_bits(want, g[name][...])
            assert ok, f"served {name}: {why}"
    finally:
        rc, _ = server.stop()
    assert rc == 0


def test_vlen_sequences_through_kerchunk_export(tmp_path):
    import fsspec
    import numcodecs

    src = tmp_path / "vlen.h5"
    write_file(src)
    store = tmp_path / "store"
    vzarr("create", src, "-o", store)
    refs = tmp_path / "refs.json"
    p = vzarr("export", store, "--to", "kerchunk-json", "-o", refs)
    assert p.returncode == 0, p.stderr
    fs = fsspec.filesystem("reference", fo=str(refs))
    zarray = json.loads(fs.cat("chunked2d/.zarray"))
    assert zarray["dtype"] == "|O" and zarray["filters"] == [{"id": "vlen-bytes"}], zarray
    raw = fs.cat("chunked2d/1.1")
    items = numcodecs.VLenBytes().decode(raw)
    with h5py.File(src, "r") as f:
        want = f["chunked2d"][4:8, 3:6].reshape(-1)
    assert len(items) == 12
    for w, b in zip(want, items):
        assert np.array_equal(np.frombuffer(b, "<i2"), w)


def test_compounds_with_variable_length_string_members(tmp_path):
    src = tmp_path / "cmp.h5"
    utf8, ascii_ = h5py.string_dtype("utf-8"), h5py.string_dtype("ascii")
    dt = np.dtype([("name", utf8), ("x", ">i4"), ("tags", ascii_, (2,)), ("y", "<f8")])
    rng = np.random.default_rng(5)
    words = ["", "a", "größe", "variable length", "x" * 300, "日本"]
    data = np.empty(10, dtype=dt)
    for i in range(10):
        data[i] = (words[i % len(words)], i * 1000 - 5000, (b"t%d" % i, b"" if i % 3 else b"long tag " * 5), rng.standard_normal())
    with h5py.File(src, "w") as f:
        f.create_dataset("chunked", data=data, chunks=(4,), compression="gzip")
        f.create_dataset("contiguous", data=data[:3])
        f.create_dataset("scalar", data=data[2])
        f.create_dataset("unwritten", shape=(5,), dtype=dt, chunks=(2,))
    store = tmp_path / "store"
    vzarr("create", src, "-o", store, check=0)
    meta = json.loads((store / "zarr.json").read_text())["consolidated_metadata"]["metadata"]
    fields = dict(meta["chunked"]["data_type"]["configuration"]["fields"])
    assert fields["name"] == {"name": "null_terminated_bytes", "configuration": {"length_bytes": 300}}, fields
    assert fields["tags[1]"]["configuration"]["length_bytes"] == len(b"long tag " * 5)
    server = Server([store], tmp_path / "serve.log")
    try:
        g = zarr.open_group(f"{server.base}/store", mode="r", zarr_format=3)
        with h5py.File(src, "r") as f:
            for name in ("chunked", "contiguous", "scalar", "unwritten"):
                p = vzarr("get", store, name, "-o", tmp_path / "v.npy", check=0)
                ok, why = same_bits(f[name][()], np.load(tmp_path / "v.npy"))
                assert ok, f"{name}: {why}\n{p.stderr}"
                ok, why = same_bits(f[name][()], g[name][...])
                assert ok, f"served {name}: {why}"
    finally:
        rc, _ = server.stop()
    assert rc == 0


def test_damaged_global_heap_refuses_by_name(tmp_path):
    """Sequences and string members whose heap is damaged or cut off are refused with the
    dataset's name and a reason; the run says so in its exit status."""
    src = tmp_path / "v.h5"
    with h5py.File(src, "w") as f:
        f.create_dataset("seq", data=ragged(6, "<i4", 9), dtype=h5py.vlen_dtype(np.dtype("<i4")))
        dt = np.dtype([("s", h5py.string_dtype("ascii")), ("x", "<i4")])
        f.create_dataset("cmp", data=np.array([(b"abc", 1), (b"de", 2)], dtype=dt))
    raw = bytearray(src.read_bytes())
    at = raw.find(b"GCOL")
    assert at > 0
    for name, data in [("corrupt", raw[:at] + b"XXXX" + raw[at + 4:]), ("truncated", raw[: at + 20])]:
        bad = tmp_path / f"{name}.h5"
        bad.write_bytes(bytes(data))
        store = tmp_path / f"{name}.store"
        p = vzarr("create", bad, "-o", store)
        assert p.returncode in (1, 2), p.stderr
        if p.returncode == 1:
            refused = {r["path"]: r["reason"] for r in json.loads((store / "vzarr.json").read_text())["refused"]}
            assert set(refused) == {"/seq", "/cmp"}, refused
            assert all("heap" in r or "past the end" in r or "truncated" in r for r in refused.values()), refused
        else:
            assert str(bad) in p.stderr, p.stderr
