"""HDF5 region references become `string` arrays (`_hdf5_reference: "region"`): the referenced
dataset's path and the region in h5dump's notation. Files written by h5py with every selection
kind libhdf5 serializes (all, none, points, regular and irregular hyperslabs, 1-D to 3-D,
chunked with edge chunks, null references); compared with libhdf5's own selection of each
reference through `vzarr get` and zarr-python over `vzarr serve`; damaged references refused by
name."""
import json

import h5py
import numpy as np

from conftest import vzarr
from h5ref import RegionRefs, same_bits
from test_serve import served_group


def write_file(path):
    with h5py.File(path, "w") as f:
        a = f.create_dataset("a", data=np.arange(200, dtype="<i4").reshape(10, 20))
        b = f.create_dataset("g/b", data=np.arange(60, dtype="<f8").reshape(3, 4, 5))
        c = f.create_dataset("c", data=np.arange(9, dtype="u1"))
        refs = [
            a.regionref[2:5, 3:9],          # one block
            a.regionref[1:9:3, ::5],        # regular, strided
            a.regionref[...],               # everything (a hyperslab covering all)
            b.regionref[1, :, 2:4],
            c.regionref[::2],
            h5py.RegionReference(),         # null
        ]
        # Points, all, none, and an irregular union of blocks through the low-level API.
        for kind in ("points", "all", "none", "union"):
            space = a.id.get_space()
            if kind == "points":
                space.select_elements(np.array([[6, 9], [2, 2], [8, 4]], dtype="u8"))
            elif kind == "all":
                space.select_all()
            elif kind == "none":
                space.select_none()
            else:
                space.select_hyperslab((0, 0), (2, 2))
                space.select_hyperslab((5, 10), (3, 4), op=h5py.h5s.SELECT_OR)
                space.select_hyperslab((1, 1), (2, 3), op=h5py.h5s.SELECT_OR)
            refs.append(h5py.h5r.create(f.id, b"a", h5py.h5r.DATASET_REGION, space))
        dt = h5py.regionref_dtype
        f.create_dataset("refs", data=np.array(refs, dtype=dt))
        d = f.create_dataset("chunked", shape=(3, 4), dtype=dt, chunks=(2, 3))
        for i in range(3):
            for j in range(3):
                d[i, j] = a.regionref[i:i + 2, j:j + 5]
        f.create_dataset("scalar", data=refs[3], dtype=dt)


def test_region_references_read_back_like_libhdf5(tmp_path):
    src = tmp_path / "r.h5"
    write_file(src)
    store = tmp_path / "store"
    vzarr("create", src, "-o", store, check=0)
    meta = json.loads((store / "zarr.json").read_text())["consolidated_metadata"]["metadata"]
    with served_group(store, tmp_path / "serve.log") as g:
        with h5py.File(src, "r") as f:
            for name in ("refs", "chunked", "scalar"):
                assert meta[name]["data_type"] == "string"
                assert meta[name]["attributes"]["_hdf5_reference"] == "region"
                want = RegionRefs(f, np.asarray(f[name][()]))
                vzarr("get", store, name, "-o", tmp_path / "v.npy", check=0)
                got = np.load(tmp_path / "v.npy")
                ok, why = same_bits(want, got)
                assert ok, f"{name}: {why}"
                ok, why = same_bits(want, g[name][...])
                assert ok, f"served {name}: {why}"
    vzarr("get", store, "refs", "-o", tmp_path / "refs.npy", check=0)
    refs = np.load(tmp_path / "refs.npy").tolist()
    # The notation itself, on a few references whose regions are known here.
    assert refs[0] == "/a {(2,3)-(4,8)}"
    assert refs[5] == ""
    assert refs[6] == "/a {(6,9), (2,2), (8,4)}"
    assert refs[7] == "/a"
    assert refs[8] == "/a {}"


def test_damaged_region_references_are_refused_by_name(tmp_path):
    src = tmp_path / "r.h5"
    with h5py.File(src, "w") as f:
        a = f.create_dataset("a", data=np.arange(20, dtype="<i4"))
        f.create_dataset("refs", data=np.array([a.regionref[2:5]], dtype=h5py.regionref_dtype))
    raw = bytearray(src.read_bytes())
    at = raw.find(b"GCOL")
    assert at > 0
    # The selection type of the one heap object (after the 16-byte collection header, the
    # 16-byte object header and the 8-byte dataset address).
    sel = at + 16 + 16 + 8
    assert raw[sel:sel + 4] == (2).to_bytes(4, "little"), raw[sel:sel + 4]
    bad = tmp_path / "bad.h5"
    bad.write_bytes(bytes(raw[:sel] + (7).to_bytes(4, "little") + raw[sel + 4:]))
    store = tmp_path / "bad.store"
    p = vzarr("create", bad, "-o", store, check=1)
    refused = {r["path"]: r["reason"] for r in json.loads((store / "vzarr.json").read_text())["refused"]}
    assert list(refused) == ["/refs"], refused
    assert "selection type 7" in refused["/refs"], refused
    assert "/refs" in p.stderr
