"""Print an .npy file written by `vzarr get` and check it against h5py bit for bit."""
import sys

import h5py
import numpy as np

npy, h5, name = sys.argv[1:4]
sel = sys.argv[4] if len(sys.argv) > 4 else None
got = np.load(npy)
with h5py.File(h5) as f:
    ds = f[name]
    idx = tuple(slice(*[int(x) if x else None for x in s.split(":")]) for s in sel.split(",")) if sel else ()
    want = ds[idx] if idx else ds[()]
want = want.astype(want.dtype.newbyteorder("="))
print(f"{name}{'[' + sel + ']' if sel else ''} via vzarr: shape={got.shape} dtype={got.dtype}")
print(got)
if got.shape != want.shape or got.tobytes() != want.tobytes():
    sys.exit("MISMATCH: vzarr values differ from h5py")
print("identical to h5py: yes")
