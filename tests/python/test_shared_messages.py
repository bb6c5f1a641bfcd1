"""Shared object header messages (the SOHM table): a file written by libhdf5 with every
shareable message type in the shared message heap reads back through vzarr like h5py reads it.

h5py does not expose H5Pset_shared_mesg_*; the test calls them in the libhdf5 h5py bundles
(ctypes) on an h5py file-creation property list.
"""
import ctypes
import glob
import json
import os

import h5py
import numpy as np
import pytest

from conftest import vzarr
from h5ref import same_bits


def _libhdf5():
    libdir = os.path.join(os.path.dirname(h5py.__file__), os.pardir, "h5py.libs")
    libs = [p for p in glob.glob(os.path.join(libdir, "libhdf5*.so*")) if "_hl" not in os.path.basename(p)]
    if not libs:
        pytest.skip("h5py's bundled libhdf5 not found")
    return ctypes.CDLL(libs[0])


def write_sohm_file(path):
    lib = _libhdf5()
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    assert lib.H5Pset_shared_mesg_nindexes(ctypes.c_int64(fcpl.id), ctypes.c_uint(1)) >= 0
    # One index for all shareable types (dataspace, datatype, fill value, pipeline,
    # attribute), no minimum size.
    assert lib.H5Pset_shared_mesg_index(ctypes.c_int64(fcpl.id), ctypes.c_uint(0), ctypes.c_uint(0x1F), ctypes.c_uint(0)) >= 0
    fid = h5py.h5f.create(str(path).encode(), h5py.h5f.ACC_TRUNC, fcpl=fcpl)
    with h5py.File(fid) as f:
        for i in range(3):
            d = f.create_dataset(f"d{i}", data=np.arange(100, dtype="f4") * i, chunks=(10,), compression="gzip", fillvalue=-1)
            d.attrs["units"] = "m"
            d.attrs["scale"] = np.float64(0.5)
        g = f.create_group("g")
        g.create_dataset("s", data=np.arange(6, dtype=">i2").reshape(2, 3))
        g.attrs["title"] = "shared"


def test_shared_message_heap(tmp_path):
    src = tmp_path / "sohm.h5"
    write_sohm_file(src)
    raw = src.read_bytes()
    assert b"SMTB" in raw, "libhdf5 wrote no shared message table"
    p = vzarr("create", src, "-o", tmp_path / "s", check=0)
    assert "refused:" not in p.stderr and "warning:" not in p.stderr, p.stderr
    meta = json.loads((tmp_path / "s" / "zarr.json").read_text())["consolidated_metadata"]["metadata"]
    with h5py.File(src) as f:
        for name in ["d0", "d1", "d2", "g/s"]:
            vzarr("get", tmp_path / "s", name, "-o", tmp_path / "v.npy", check=0)
            ok, why = same_bits(f[name][()], np.load(tmp_path / "v.npy"))
            assert ok, f"{name}: {why}"
        for name in ["d0", "d1", "d2"]:
            assert meta[name]["attributes"] == {"units": "m", "scale": 0.5}
            assert meta[name]["fill_value"] == -1.0
        assert meta["g"]["attributes"] == {"title": "shared"}
