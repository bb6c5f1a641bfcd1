"""Write the small HDF5 file `make demo` indexes: groups, attributes, chunked deflate+shuffle,
big-endian, contiguous, compact and string datasets (written with h5py/libhdf5)."""
import sys

import h5py
import numpy as np

out = sys.argv[1] if len(sys.argv) > 1 else "demo.h5"
rng = np.random.default_rng(42)
with h5py.File(out, "w") as f:
    f.attrs["title"] = "vzarr demo granule"
    f.attrs["version"] = np.int32(1)
    m = f.create_group("measurements")
    t = m.create_dataset(
        "temperature",
        data=(rng.normal(15, 8, size=(12, 40))).astype("f4"),
        chunks=(4, 16),
        compression="gzip",
        compression_opts=4,
        shuffle=True,
        fillvalue=np.float32(-9999.0),
    )
    t.attrs["units"] = "degC"
    t.attrs["scale_factor"] = 1.0
    m.create_dataset("pressure_be", data=np.arange(200, dtype=">i4").reshape(10, 20), chunks=(5, 5), fletcher32=True)
    m.create_dataset("time", data=np.arange(12, dtype="f8") * 3600.0)
    f.create_dataset("flags", data=np.array([1, 0, 1, 1], dtype="u1"))
    c = f.create_group("calibration")
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_layout(h5py.h5d.COMPACT)
    space = h5py.h5s.create_simple((5,))
    dsid = h5py.h5d.create(c.id, b"coefficients", h5py.h5t.IEEE_F64LE, space, dcpl=dcpl)
    dsid.write(h5py.h5s.ALL, h5py.h5s.ALL, np.array([0.5, 1.5, 2.5, 3.5, 4.5]))
    c.create_dataset("station", data=np.array([b"ALPHA", b"BRAVO", b"CHARLIE"], dtype="S8"))
print(f"wrote {out}")
