"""Data kept outside the dataset's own file: virtual datasets (VDS) whose mappings move whole
chunks of their sources (in other files or the same file) and external storage (contiguous
data in raw files). Files written by h5py; every mapped dataset read back through `vzarr get`
and zarr-python over `vzarr serve` and compared with h5py; every other mapping refused by
name with its reason."""
import json
import os

import h5py
import numpy as np

from conftest import libhdf5_or_skip, vzarr
from h5ref import same_bits
from test_serve import served_group

# Mapped datasets (read back like h5py) and refused ones (reason fragment).
MAPPED = ["stack", "tiles", "edge", "same", "unwritten", "interleaved", "ext_one", "ext_two", "ext_rest"]
REFUSED = {
    "mixed_codecs": "different codecs",
    "cut": "cuts chunks",
    "missing_file": "nope.h5",
    "converted": "type differs",
    "strided": "cuts chunks",
    "unwritten_fill": "fill value other than",
    "nested": "not followed",
    "reshaped": "differ in shape",
    "ext_split_row": "splits a row",
}


def write_files(d):
    """Sources, raw files and the file with the virtual and external datasets, in `d`."""
    cwd = os.getcwd()
    os.chdir(d)  # external file names are relative to the working directory for libhdf5
    try:
        for i in range(3):
            with h5py.File(f"src{i}.h5", "w") as f:
                f.create_dataset("data", data=np.arange(100, dtype="<i4") + 100 * i)
                f.create_dataset("g/c", data=np.arange(240, dtype="<f4").reshape(40, 6) + i,
                                 chunks=(10, 6), compression="gzip")
                f.create_dataset("short", data=np.arange(210, dtype="<f4").reshape(35, 6) - i,
                                 chunks=(10, 6), compression="gzip")
                f.create_dataset("s", data=np.arange(240, dtype="<f4").reshape(40, 6),
                                 chunks=(10, 6), compression="gzip", shuffle=i == 1)
                u = f.create_dataset("u", shape=(40, 6), dtype="<i2", chunks=(10, 6), fillvalue=0)
                u[10:20] = 7
                w = f.create_dataset("w", shape=(40, 6), dtype="<i2", chunks=(10, 6), fillvalue=9)
                w[0:10] = 1
                f.create_dataset("frames", data=np.arange(80, dtype="<u2").reshape(5, 4, 4) + 1000 * i,
                                 chunks=(1, 4, 4), compression="gzip")
        with h5py.File("only.h5", "w") as f:  # used by a refused mapping alone
            f.create_dataset("c", data=np.arange(240, dtype="<f4").reshape(40, 6), chunks=(10, 6))
        with h5py.File("inner.h5", "w") as f:
            lay = h5py.VirtualLayout(shape=(100,), dtype="<i4")
            lay[:] = h5py.VirtualSource("src0.h5", "data", shape=(100,))
            f.create_virtual_dataset("v", lay)
        with open("raw.bin", "wb") as r:
            r.write(b"HEADER--" * 2 + np.arange(40, dtype="<i2").tobytes())
        with open("raw2.bin", "wb") as r:
            r.write(np.arange(100, 140, dtype="<i2").tobytes())

        def layout(shape, dtype, parts):
            lay = h5py.VirtualLayout(shape=shape, dtype=dtype)
            for sel, src in parts:
                lay[sel] = src
            return lay

        src = lambda i, name, shape: h5py.VirtualSource(f"src{i}.h5", name, shape=shape)  # noqa: E731
        with h5py.File("vds.h5", "w", libver="latest") as f:
            f.create_virtual_dataset(
                "stack", layout((3, 100), "<i4", [(i, src(i, "data", (100,))) for i in range(3)]), fillvalue=-1)
            f.create_virtual_dataset(
                "tiles", layout((120, 6), "<f4", [(slice(40 * i, 40 * i + 40), src(i, "g/c", (40, 6))) for i in range(3)]))
            f.create_virtual_dataset(
                "edge", layout((75, 6), "<f4", [(slice(0, 40), src(0, "g/c", (40, 6))),
                                                (slice(40, 75), src(1, "short", (35, 6)))]))
            s = f.create_dataset("plain", data=np.arange(64, dtype="<u2").reshape(8, 8), chunks=(4, 4))
            lay = h5py.VirtualLayout(shape=(2, 8, 8), dtype="<u2")
            lay[1] = h5py.VirtualSource(s)
            f.create_virtual_dataset("same", lay, fillvalue=3)
            f.create_virtual_dataset(
                "unwritten", layout((80, 6), "<i2", [(slice(0, 40), src(0, "u", (40, 6)))]))
            # Frames of two files interleaved, each frame one chunk (a detector's VDS).
            f.create_virtual_dataset(
                "interleaved", layout((10, 4, 4), "<u2", [(slice(i, 10, 2), src(i, "frames", (5, 4, 4))) for i in range(2)]))
            # Refused ones.
            f.create_virtual_dataset(
                "mixed_codecs", layout((80, 6), "<f4", [(slice(40 * i, 40 * i + 40), src(i, "s", (40, 6))) for i in range(2)]))
            f.create_virtual_dataset(
                "cut", layout((30, 6), "<f4", [(slice(0, 30), h5py.VirtualSource("only.h5", "c", shape=(40, 6))[5:35])]))
            f.create_virtual_dataset(
                "missing_file", layout((100,), "<i4", [(slice(0, 100), h5py.VirtualSource("nope.h5", "data", shape=(100,)))]))
            f.create_virtual_dataset(
                "converted", layout((100,), "<i8", [(slice(0, 100), src(0, "data", (100,)))]))
            f.create_virtual_dataset(
                "strided", layout((200,), "<i4", [(slice(i, 200, 2), src(i, "data", (100,))) for i in range(2)]))
            f.create_virtual_dataset(
                "unwritten_fill", layout((40, 6), "<i2", [(slice(0, 40), src(0, "w", (40, 6)))]))
            f.create_virtual_dataset(
                "nested", layout((100,), "<i4", [(slice(0, 100), h5py.VirtualSource("inner.h5", "v", shape=(100,)))]))
            f.create_virtual_dataset(
                "reshaped", layout((240,), "<f4", [(slice(0, 240), src(0, "g/c", (40, 6)))]))
            # External storage: one segment past a header, two files, the rest of a file.
            f.create_dataset("ext_one", shape=(10, 4), dtype="<i2", external=[("raw.bin", 16, 80)])
            f.create_dataset("ext_two", shape=(10, 4), dtype="<i2",
                             external=[("raw.bin", 16, 40), ("raw2.bin", 0, 40)])
            f.create_dataset("ext_rest", shape=(40,), dtype="<i2", external=[("raw.bin", 16, h5py.h5f.UNLIMITED)])
            f.create_dataset("ext_split_row", shape=(10, 4), dtype="<i2",
                             external=[("raw.bin", 16, 36), ("raw2.bin", 0, 44)])
    finally:
        os.chdir(cwd)
    return d / "vds.h5"


def h5_values(path):
    """Every dataset's values as h5py reads them (external names relative to the file)."""
    cwd = os.getcwd()
    os.chdir(path.parent)
    try:
        with h5py.File(path, "r") as f:
            return {n: f[n][()] for n in [*MAPPED, *REFUSED]}
    finally:
        os.chdir(cwd)


def refused(store):
    return {r["path"]: r["reason"] for r in json.loads((store / "vzarr.json").read_text())["refused"]}


def test_virtual_and_external_datasets_read_back_like_h5py(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    src = write_files(d)
    want = h5_values(src)
    store = tmp_path / "store"
    # Run from elsewhere: names resolve against the file's location, not the working directory.
    p = vzarr("create", src, "-o", store, check=1)
    got_refused = refused(store)
    assert sorted(got_refused) == sorted(f"/{n}" for n in REFUSED), got_refused
    for name, why in REFUSED.items():
        assert why in got_refused[f"/{name}"], (name, got_refused[f"/{name}"])
        assert f"/{name}" in p.stderr
    info = json.loads((store / "vzarr.json").read_text())
    urls = sorted(s["url"].rsplit("/", 1)[-1] for s in info["sources"])
    # Only files some chunk points into (only.h5, used by the refused `cut` alone, is not listed).
    assert urls == ["raw.bin", "raw2.bin", "src0.h5", "src1.h5", "src2.h5", "vds.h5"], urls
    meta = json.loads((store / "zarr.json").read_text())["consolidated_metadata"]["metadata"]
    # Whole source chunks: the virtual grid is the sources' grid.
    assert meta["tiles"]["chunk_grid"]["configuration"]["chunk_shape"] == [10, 6]
    assert meta["stack"]["chunk_grid"]["configuration"]["chunk_shape"] == [1, 100]
    with served_group(store, tmp_path / "serve.log") as g:
        for name in MAPPED:
            vzarr("get", store, name, "-o", tmp_path / "v.npy", check=0)
            ok, why = same_bits(want[name], np.load(tmp_path / "v.npy"))
            assert ok, f"{name}: {why}"
            ok, why = same_bits(want[name], g[name][...])
            assert ok, f"served {name}: {why}"
    # h5py reads the missing source as the fill value; vzarr refuses it instead of guessing.
    assert (want["missing_file"] == 0).all()


def test_damaged_mapping_lists_and_short_external_files_are_refused_by_name(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    src = write_files(d)
    raw = bytearray(src.read_bytes())
    # A source name inside the stack's mapping list: the list's checksum no longer matches.
    at = raw.find(b"src2.h5\0data\0")
    assert at > 0
    raw[at + 3] ^= 0x01
    bad = d / "bad.h5"
    bad.write_bytes(bytes(raw))
    p = vzarr("create", bad, "-o", tmp_path / "s", check=1)
    why = refused(tmp_path / "s")
    assert "checksum" in why["/stack"], why
    assert "/stack" in p.stderr
    # An external file cut short: its dataset is refused, the others stay.
    (d / "raw2.bin").write_bytes((d / "raw2.bin").read_bytes()[:20])
    vzarr("create", src, "-o", tmp_path / "t", check=1)
    why = refused(tmp_path / "t")
    assert "past the end" in why["/ext_two"], why
    assert "/ext_one" not in why
    # The source files gone: every virtual dataset using them is refused by name.
    for i in range(3):
        (d / f"src{i}.h5").unlink()
    vzarr("create", src, "-o", tmp_path / "u", check=1)
    why = refused(tmp_path / "u")
    for name in ["stack", "tiles", "edge", "unwritten"]:
        assert "src0.h5" in why[f"/{name}"], why
    assert "/same" not in why and "/ext_one" not in why


def test_materialized_external_and_virtual_data_come_from_the_files_beside_the_hdf5_file(tmp_path):
    """`--materialize unsupported` reads the refused datasets through libhdf5. Run from a working
    directory holding other files of the same names, it must still read the raw and source files
    next to the HDF5 file (where the native reader found them), not the working directory's."""
    exe = libhdf5_or_skip()
    d = tmp_path / "data"
    d.mkdir()
    src = write_files(d)
    want = h5_values(src)
    decoy = tmp_path / "elsewhere"
    decoy.mkdir()
    for name in ["raw.bin", "raw2.bin"]:
        (decoy / name).write_bytes(bytes(255 - b for b in (d / name).read_bytes()))
    for i in range(3):
        with h5py.File(decoy / f"src{i}.h5", "w") as f:
            f.create_dataset("data", data=np.arange(100, dtype="<i4") * -1)
    store = tmp_path / "store"
    vzarr("create", src, "-o", store, "--materialize", "unsupported", exe=exe, cwd=decoy)
    info = json.loads((store / "vzarr.json").read_text())
    materialized = {m["path"] for m in info.get("materialized", [])}
    assert "/ext_split_row" in materialized, info
    assert "/ext_split_row" not in refused(store)
    # The system libhdf5 may be older than the one that wrote the virtual datasets (and refuse
    # them, by name); whatever it materializes must be the file's own values.
    for name in sorted(materialized):
        vzarr("get", store, name, "-o", tmp_path / "v.npy", check=0)
        ok, why = same_bits(want[name.lstrip("/")], np.load(tmp_path / "v.npy"))
        assert ok, f"{name}: {why}"
