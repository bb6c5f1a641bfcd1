"""HDF5 variable-length sequences become `vlen-bytes` arrays stored inline: each element the
sequence's item bytes as stored, the item dtype in `_hdf5_vlen_dtype`. Compounds with sequence
members and sequences of sequences or of compounds become `string` arrays of JSON text. Compounds with
variable-length string members become structured arrays whose string fields are NUL-padded byte
strings as wide as the longest string. Files written by h5py
(both byte orders, chunked with filters, edge chunks, empty and unwritten elements, 0-d,
zero-length); compared with h5py through `vzarr get` (zarrs) and through
zarr-python over `vzarr serve`, and the kerchunk export through fsspec + zarr-python 2-style
`vlen-bytes` (numcodecs)."""
import json

import h5py
import numpy as np

from conftest import vzarr
from h5ref import JsonValues, VlenSeqs, jsonable, same_bits, vlen_item_dtype
from test_serve import served_group


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
    return written


def test_vlen_sequences_read_back_like_h5py(tmp_path):
    src = tmp_path / "vlen.h5"
    written = write_file(src)
    store = tmp_path / "store"
    vzarr("create", src, "-o", store, check=0)
    info = json.loads((store / "vzarr.json").read_text())
    refused = {r["path"].strip("/"): r["feature"] for r in info["refused"]}
    assert refused == {}, refused
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
    with served_group(store, tmp_path / "serve.log") as g:
        for name, want in served.items():
            ok, why = same_bits(want, g[name][...])
            assert ok, f"served {name}: {why}"


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
    with served_group(store, tmp_path / "serve.log") as g:
        with h5py.File(src, "r") as f:
            for name in ("chunked", "contiguous", "scalar", "unwritten"):
                p = vzarr("get", store, name, "-o", tmp_path / "v.npy", check=0)
                ok, why = same_bits(f[name][()], np.load(tmp_path / "v.npy"))
                assert ok, f"{name}: {why}\n{p.stderr}"
                ok, why = same_bits(f[name][()], g[name][...])
                assert ok, f"served {name}: {why}"


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


def write_json_file(path):
    """Datasets no Zarr type holds, written by h5py."""
    seq_i4, seq_f4 = h5py.vlen_dtype(np.dtype("<i4")), h5py.vlen_dtype(np.dtype("<f4"))
    utf8 = h5py.string_dtype("utf-8")
    cmp = np.dtype([("a", seq_i4), ("b", "<f8"), ("c", utf8), ("d", "S5"), ("e", ">i2", (2,)), ("f", seq_f4)])
    n = 11
    data = np.empty(n, dtype=cmp)
    ints, floats = ragged(n, "<i4", 7), ragged(n, "<f4", 8)
    for i in range(n):
        b = [np.nan, np.inf, -np.inf, 0.1, -0.0][i % 5]
        data[i] = (ints[i], b, ["", "größe", "x" * 40][i % 3], b"ab\0"[: i % 4], (i, -i), floats[i])
    with h5py.File(path, "w") as f:
        f.create_dataset("cmp_contiguous", data=data)
        d = f.create_dataset("cmp_chunked", shape=(6, 5), dtype=cmp, chunks=(4, 2), compression="gzip")
        d[0:4, 0:2] = data[:8].reshape(4, 2)  # the other chunks stay unwritten: empty sequences
        d[5, 4] = data[9]
        f.create_dataset("cmp_scalar", data=data[3])
        seq_seq = h5py.vlen_dtype(seq_i4)
        d = f.create_dataset("seq_of_seq", shape=(4,), dtype=seq_seq)
        for i in range(4):
            inner = np.empty(i, dtype=object)
            for k in range(i):
                inner[k] = np.arange(k + 1, dtype="<i4") * (i + 10)
            d[i] = inner
        of_cmp = h5py.vlen_dtype(np.dtype([("x", "i1"), ("y", "<f4")]))
        d = f.create_dataset("seq_of_compound", shape=(3,), dtype=of_cmp, chunks=(2,))
        for i in range(3):
            d[i] = np.array([(k - 3, k / 4) for k in range(i * 2)], dtype=[("x", "i1"), ("y", "<f4")])
    # Big-endian sequence members: h5py 3.x hands their file bytes back under a native dtype,
    # so these are compared with the values written.
    be = np.dtype([("v", h5py.vlen_dtype(np.dtype(">f4"))), ("n", ">u8")])
    with h5py.File(path.with_name("be.h5"), "w") as f:
        written = np.empty(3, dtype=be)
        for i in range(3):
            written[i] = (np.arange(i, dtype=">f4") - 0.5, 2**63 + i)
        f.create_dataset("cmp_be", data=written)
    return [{"v": [float(x) for x in np.arange(i, dtype="f4") - 0.5], "n": 2**63 + i} for i in range(3)]


def test_values_no_zarr_type_holds_are_json_text(tmp_path):
    """Compounds with sequence members (contiguous, chunked + gzip with unwritten chunks and edge
    chunks, scalar), sequences of sequences and of compounds: `string` arrays (`vlen-utf8`) whose
    elements are the JSON text of h5py's values, the HDF5 type in `_hdf5_json_type`, the fill
    value the JSON of the all-zero element. Compared with h5py through `vzarr get`, through
    zarr-python over `vzarr serve`, and through the kerchunk export."""
    import fsspec
    import numcodecs

    src = tmp_path / "json.h5"
    be_written = write_json_file(src)
    be_store = tmp_path / "be.store"
    vzarr("create", tmp_path / "be.h5", "-o", be_store, check=0)
    vzarr("get", be_store, "cmp_be", "-o", tmp_path / "be.npy", check=0)
    assert [json.loads(t) for t in np.load(tmp_path / "be.npy")] == be_written
    store = tmp_path / "store"
    vzarr("create", src, "-o", store, check=0)
    meta = json.loads((store / "zarr.json").read_text())["consolidated_metadata"]["metadata"]
    want = {}
    with h5py.File(src, "r") as f:
        for name, ds in f.items():
            m = meta[name]
            assert m["data_type"] == "string" and m["codecs"] == [{"name": "vlen-utf8"}], m
            want[name] = JsonValues(ds[()], ds.shape)
            g = vzarr("get", store, name, "-o", tmp_path / "v.npy", check=0)
            ok, why = same_bits(want[name], np.load(tmp_path / "v.npy"))
            assert ok, f"{name}: {why}"
        assert meta["cmp_chunked"]["attributes"]["_hdf5_json_type"] == (
            "compound {a: sequence of int32, b: float64, c: string, d: string, e: array[2] of int16, f: sequence of float32}")
        assert meta["seq_of_seq"]["attributes"]["_hdf5_json_type"] == "sequence of sequence of int32"
        assert json.loads(meta["cmp_chunked"]["fill_value"]) == {"a": [], "b": 0.0, "c": "", "d": "", "e": [0, 0], "f": []}
        # An unwritten element reads as h5py's unwritten element.
        unwritten = f["cmp_chunked"][5, 0]
        assert jsonable(unwritten) == json.loads(meta["cmp_chunked"]["fill_value"])
        # NaN and the infinities as strings, -0.0 kept.
        vzarr("get", store, "cmp_contiguous", "-o", tmp_path / "c.npy", check=0)
        b = [json.loads(t)["b"] for t in np.load(tmp_path / "c.npy")[:5]]
        assert b[:3] == ["NaN", "Infinity", "-Infinity"] and b[3] == 0.1 and str(b[4]) == "-0.0", b
    with served_group(store, tmp_path / "serve.log") as g:
        for name, w in want.items():
            ok, why = same_bits(w, g[name][...])
            assert ok, f"served {name}: {why}"
    refs = tmp_path / "refs.json"
    vzarr("export", store, "--to", "kerchunk-json", "-o", refs, check=0)
    fs = fsspec.filesystem("reference", fo=str(refs))
    items = numcodecs.VLenUTF8().decode(fs.cat("seq_of_compound/1"))
    with h5py.File(src, "r") as f:
        assert [json.loads(t) for t in items[:1]] == [jsonable(f["seq_of_compound"][2])]


def test_json_values_with_a_damaged_heap_are_refused_by_name(tmp_path):
    src = tmp_path / "j.h5"
    with h5py.File(src, "w") as f:
        seq_seq = h5py.vlen_dtype(h5py.vlen_dtype(np.dtype("<i4")))
        d = f.create_dataset("seq_of_seq", shape=(2,), dtype=seq_seq)
        inner = np.empty(2, dtype=object)
        inner[0], inner[1] = np.arange(3, dtype="<i4"), np.arange(5, dtype="<i4")
        d[0] = inner
        f.create_dataset("plain", data=np.arange(4))
    raw = bytearray(src.read_bytes())
    at = raw.find(b"GCOL")
    assert at > 0
    bad = tmp_path / "bad.h5"
    bad.write_bytes(bytes(raw[:at] + b"XXXX" + raw[at + 4:]))
    store = tmp_path / "store"
    p = vzarr("create", bad, "-o", store, check=1)
    refused = {r["path"]: r for r in json.loads((store / "vzarr.json").read_text())["refused"]}
    assert set(refused) == {"/seq_of_seq"}, refused
    assert "heap" in refused["/seq_of_seq"]["reason"], refused
    assert "seq_of_seq" in p.stderr
