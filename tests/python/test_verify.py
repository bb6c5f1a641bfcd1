"""`vzarr verify`: sources changed since `create` are reported, and `--decode` finds chunks
whose bytes no longer decode — where h5py (libhdf5) fails on the same chunks."""
import h5py
import numpy as np
import pyarrow.parquet as pq

from conftest import vzarr


def make(tmp_path, relative):
    src = tmp_path / "a.h5"
    with h5py.File(src, "w") as f:
        f.create_dataset("z", data=np.arange(100_000, dtype="f4"), chunks=(10_000,), compression="gzip")
        f.create_dataset("f", data=np.arange(100_000, dtype="i4"), chunks=(10_000,), fletcher32=True)
        f.create_dataset("plain", data=np.arange(1000, dtype="i2"))
    store = tmp_path / "s.vzarr"
    vzarr("create", src, "-o", store, *(["--relative"] if relative else []), check=0)
    return src, store


def flip(src, store, keys):
    rows = pq.read_table(store / "manifest.parquet").to_pylist()
    b = bytearray(src.read_bytes())
    for r in rows:
        if r["key"] in keys:
            b[r["offset"] + r["length"] // 2] ^= 0xFF
    src.write_bytes(bytes(b))


def test_unchanged_store_verifies_and_decodes(tmp_path):
    src, store = make(tmp_path, relative=False)
    p = vzarr("verify", store, "--decode", check=0)
    assert "1 sources, 1 as recorded" in p.stderr
    assert "21 chunks of 3 arrays decoded, 0 failed" in p.stderr


def test_rewritten_source_is_reported_changed(tmp_path):
    src, store = make(tmp_path, relative=False)
    with h5py.File(src, "r+") as f:  # same file, new content: new mtime, so a new ETag
        f["plain"][0] = 99
    p = vzarr("verify", store, check=1)
    assert f"changed: {src.as_uri()}: ETag is" in p.stderr
    src.write_bytes(src.read_bytes() + b"\0" * 10)  # and a different size
    p = vzarr("verify", store, check=1)
    assert "size is" in p.stderr and "bytes, was" in p.stderr
    src.unlink()
    p = vzarr("verify", store, check=1)
    assert "cannot be read" in p.stderr


def test_decode_finds_the_corrupt_chunks_libhdf5_rejects(tmp_path):
    # A relative store is checked by size only (it may have been copied), so a same-size
    # corruption passes the source check; --decode catches it.
    src, store = make(tmp_path, relative=True)
    flip(src, store, {"z/c/3", "f/c/5"})
    vzarr("verify", store, check=0)
    p = vzarr("verify", store, "--decode", check=1)
    assert "/f: 1 of its chunks fail to decode; first c/5: the checksum is invalid" in p.stderr, p.stderr
    assert "/z: 1 of its chunks fail to decode; first c/3" in p.stderr, p.stderr
    assert "21 chunks of 3 arrays decoded, 2 failed (2 arrays)" in p.stderr
    # The outside reference fails on the same chunks and reads the others.
    with h5py.File(src, "r") as f:
        for name, bad in (("f", 5), ("z", 3)):
            for c in range(10):
                sel = slice(c * 10_000, (c + 1) * 10_000)
                try:
                    ok = (f[name][sel] == np.arange(100_000)[sel]).all()
                except OSError:
                    ok = False
                assert ok == (c != bad), (name, c)
