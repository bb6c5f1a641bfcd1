"""Numbers libhdf5 converts on read — integers with padding bits, floats whose layout is not
IEEE binary16/32/64 (bfloat16, minifloats, custom bias, fields inside a wider element) — and
the n-bit filter (HDF5 filter 5): vzarr decodes and converts them at creation, as libhdf5 does,
and stores h5py's values inline. Files written by h5py with raw bit patterns (padding bits
random) through the low-level API; every dataset compared bit for bit with h5py through
`vzarr get` and zarr-python over `vzarr serve`."""
import ctypes
import glob
import json
import os

import h5py
import numpy as np

from conftest import corpus_or_skip, vzarr
from h5ref import same_bits
from test_serve import served_group

RNG = np.random.default_rng(11)


def hdf5_lib():
    """The libhdf5 h5py links, for the calls h5py does not wrap."""
    libs = glob.glob(os.path.join(os.path.dirname(h5py.__file__), "..", "h5py.libs", "libhdf5-*.so*"))
    return ctypes.CDLL(libs[0]) if libs else ctypes.CDLL(None)


def create_file(path, earliest=False):
    """A new file; HDF5 2.0 refuses types with many unused bits unless the file-integrity
    checks are relaxed (H5Pset_relax_file_integrity_checks, not wrapped by h5py). `earliest`:
    version-1 object headers (no checksums, so a test can patch a message)."""
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    if earliest:
        fapl.set_libver_bounds(h5py.h5f.LIBVER_EARLIEST, h5py.h5f.LIBVER_V18)
    fn = getattr(hdf5_lib(), "H5Pset_relax_file_integrity_checks", None)
    if fn is not None:
        fn.argtypes = [ctypes.c_int64, ctypes.c_uint64]
        assert fn(fapl.id, 1) >= 0
    return h5py.h5f.create(str(path).encode(), h5py.h5f.ACC_TRUNC, fapl=fapl)


def int_type(base, precision, offset):
    t = base.copy()
    t.set_precision(precision)
    t.set_offset(offset)
    return t


def float_type(size, big, spos, epos, esize, mpos, msize, bias, precision=None, offset=None):
    t = (h5py.h5t.IEEE_F64LE if size > 4 else h5py.h5t.IEEE_F32LE).copy()
    if big:
        t.set_order(h5py.h5t.ORDER_BE)
    t.set_fields(spos, epos, esize, mpos, msize)
    if offset is not None:
        t.set_offset(offset)
    if precision is not None:
        t.set_precision(precision)
    t.set_size(size)
    t.set_ebias(bias)
    return t


def write(fid, name, t, shape, chunks=None, nbit=False, deflate=False):
    """A dataset of `t` holding random raw bit patterns (padding bits included), written
    without conversion."""
    size = t.get_size()
    raw = RNG.integers(0, 256, size=int(np.prod(shape)) * size, dtype=np.uint8)
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    if chunks:
        dcpl.set_chunk(chunks)
        if nbit:
            dcpl.set_filter(5, h5py.h5z.FLAG_OPTIONAL, ())  # H5Pset_nbit: libhdf5 fills in the parameters
        if deflate:
            dcpl.set_deflate(4)
    ds = h5py.h5d.create(fid, name.encode(), t, h5py.h5s.create_simple(shape), dcpl=dcpl)
    ds.write(h5py.h5s.ALL, h5py.h5s.ALL, raw.view(f"V{size}").reshape(shape), mtype=t)


def write_file(path):
    fid = create_file(path)
    cases = {
        # Integers with padding bits, unfiltered and n-bit packed (edge chunks), both orders.
        "i4_p17_o3": (int_type(h5py.h5t.STD_I32LE, 17, 3), (37,), None),
        "u2_p11_be": (int_type(h5py.h5t.STD_U16BE, 11, 0), (5, 9), None),
        "i8_p40_o5_be_nbit": (int_type(h5py.h5t.STD_I64BE, 40, 5), (23, 7), (10, 4)),
        "i1_p5_o2_nbit": (int_type(h5py.h5t.STD_I8LE, 5, 2), (50,), (16,)),
        "u4_p31_nbit_deflate": (int_type(h5py.h5t.STD_U32LE, 31, 0), (41,), (8,)),
        # A full-precision integer, n-bit filtered (the filter still packs).
        "i4_full_nbit": (h5py.h5t.STD_I32LE, (19,), (6,)),
        # Floats: bfloat16, a 20-bit float at bit offset 7 of 4 bytes, half fields with bias 14
        # (h5py reads float32), an e5m2 minifloat (float16).
        "bfloat16": (float_type(2, False, 15, 7, 8, 0, 7, 127), (64,), None),
        "bfloat16_be_nbit": (float_type(2, True, 15, 7, 8, 0, 7, 127), (9, 8), (4, 3)),
        "f20_o7_be_nbit": (float_type(4, True, 26, 20, 6, 7, 13, 31, precision=20, offset=7), (7, 6), (4, 3)),
        "f20_o7_le": (float_type(4, False, 26, 20, 6, 7, 13, 31, precision=20, offset=7), (30,), None),
        "half_bias14": (float_type(2, False, 15, 10, 5, 0, 10, 14), (40,), None),
        "e5m2": (float_type(1, False, 7, 2, 5, 0, 2, 15), (256,), None),
    }
    for name, (t, shape, chunks) in cases.items():
        write(fid, name, t, shape, chunks, nbit=chunks is not None, deflate="deflate" in name)
    # An HDF5 array type of bfloat16 (trailing axis of 3), n-bit packed: converted per element.
    bf = float_type(2, False, 15, 7, 8, 0, 7, 127)
    arr_t = h5py.h5t.array_create(bf, (3,))
    write(fid, "bfloat16_array3_nbit", arr_t, (10,), (4,), nbit=True)
    cases["bfloat16_array3_nbit"] = None
    # The same array type, nothing written, with a fill value of 1.5 (set through the C API:
    # h5py has no way to give an array-typed fill value): the converted fill, per element.
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_chunk((4,))
    fill = np.full(3, 1.5, dtype="<f4")
    fn = hdf5_lib().H5Pset_fill_value
    fn.argtypes = [ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
    assert fn(dcpl.id, h5py.h5t.array_create(h5py.h5t.IEEE_F32LE, (3,)).id, fill.ctypes.data) >= 0
    h5py.h5d.create(fid, b"bfloat16_array3_fill", arr_t, h5py.h5s.create_simple((10,)), dcpl=dcpl)
    cases["bfloat16_array3_fill"] = None
    # Every bfloat16 pattern, so special values (zeros, denormals, infinities, NaNs) are all in.
    t = float_type(2, False, 15, 7, 8, 0, 7, 127)
    ds = h5py.h5d.create(fid, b"bfloat16_all", t, h5py.h5s.create_simple((1 << 16,)))
    ds.write(h5py.h5s.ALL, h5py.h5s.ALL, np.arange(1 << 16, dtype="<u2").view("V2"), mtype=t)
    fid.close()
    return sorted([*cases, "bfloat16_all"])


def test_converted_and_nbit_datasets_read_back_like_h5py(tmp_path):
    src = tmp_path / "conv.h5"
    names = write_file(src)
    store = tmp_path / "store"
    vzarr("create", src, "-o", store, check=0)
    meta = json.loads((store / "zarr.json").read_text())["consolidated_metadata"]["metadata"]
    with served_group(store, tmp_path / "serve.log") as g:
        with h5py.File(src, "r") as f:
            for name in names:
                want = f[name][()]
                # h5py's type: same kind and size (byte order aside).
                assert np.dtype(want.dtype.str.replace(">", "<")) == np.dtype(
                    {"float16": "<f2", "float32": "<f4", "float64": "<f8"}.get(meta[name]["data_type"], want.dtype.str.replace(">", "<"))
                ), (name, meta[name]["data_type"], want.dtype)
                vzarr("get", store, name, "-o", tmp_path / "v.npy", check=0)
                ok, why = same_bits(want, np.load(tmp_path / "v.npy"))
                assert ok, f"{name}: {why}"
                ok, why = same_bits(want, g[name][...])
                assert ok, f"served {name}: {why}"


def test_damaged_nbit_parameters_and_chunks_are_refused_by_name(tmp_path):
    src = tmp_path / "n.h5"
    fid = create_file(src, earliest=True)
    write(fid, "n", int_type(h5py.h5t.STD_I32LE, 20, 0), (400,), (400,), nbit=True)
    fid.close()
    raw = src.read_bytes()
    # The filter's client data: 8 parameters, compress, 400 elements, atomic, 4 bytes, LE,
    # precision 20, offset 0. A precision of 40 bits in 4 bytes is impossible.
    cd = np.array([400, 1, 4, 0, 20, 0], dtype="<u4").tobytes()
    at = raw.find(cd)
    assert at > 0
    bad = tmp_path / "bad.h5"
    bad.write_bytes(raw[:at] + np.array([400, 1, 4, 0, 40, 0], dtype="<u4").tobytes() + raw[at + len(cd):])
    p = vzarr("create", bad, "-o", tmp_path / "s", check=1)
    refused = {r["path"]: r["reason"] for r in json.loads((tmp_path / "s" / "vzarr.json").read_text())["refused"]}
    assert list(refused) == ["/n"] and "precision" in refused["/n"], refused
    assert "/n" in p.stderr
    # The packed chunk cut short: its last bytes zeroed out of the file's end.
    with h5py.File(src, "r") as f:
        info = f["n"].id.get_chunk_info(0)
    short = tmp_path / "short.h5"
    short.write_bytes(raw[: info.byte_offset + info.size // 2])
    p = vzarr("create", short, "-o", tmp_path / "t")
    assert p.returncode in (1, 2) and ("/n" in p.stderr or str(short) in p.stderr), p.stderr


def test_long_doubles_are_raw_bits_named_by_an_attribute(tmp_path):
    """x87 80-bit long doubles (h5py: float128 / complex256 on x86-64) have no Zarr type: their
    16 (32) bytes are stored as `raw_bytes`, the attribute `_hdf5_float_format` names the
    format, and `vzarr get` writes NumPy's longdouble; zarr-python reads the same bytes."""
    src = tmp_path / "ld.h5"
    values = (np.arange(-20, 21, dtype=np.longdouble) / 7).reshape(41)
    with h5py.File(src, "w") as f:
        f.create_dataset("f", data=values)
        f.create_dataset("f_chunked", data=values, chunks=(8,), compression="gzip", fillvalue=np.longdouble(2.5))
        f.create_dataset("f_unwritten", shape=(5,), dtype=np.longdouble, chunks=(2,), fillvalue=np.longdouble(-1) / 3)
        f.create_dataset("c", data=values[:10] * (1 + 3j))
    store = tmp_path / "store"
    vzarr("create", src, "-o", store, check=0)
    meta = json.loads((store / "zarr.json").read_text())["consolidated_metadata"]["metadata"]
    with served_group(store, tmp_path / "serve.log") as g:
        with h5py.File(src, "r") as f:
            for name, size in [("f", 16), ("f_chunked", 16), ("f_unwritten", 16), ("c", 32)]:
                assert meta[name]["data_type"] == {"name": "raw_bytes", "configuration": {"length_bytes": size}}
                assert meta[name]["attributes"]["_hdf5_float_format"] == "x87_extended_80"
                want = f[name][()]
                vzarr("get", store, name, "-o", tmp_path / "v.npy", check=0)
                got = np.load(tmp_path / "v.npy")
                assert got.dtype == want.dtype, (name, got.dtype)
                ok, why = same_bits(want, got)
                assert ok, f"{name}: {why}"
                served = g[name][...]
                assert served.dtype.itemsize == size and served.tobytes() == want.tobytes(), name


def test_complex_of_quad_layout_floats_is_raw_bits_with_the_layout_named(tmp_path):
    """HDF5's own test file tcomplex.h5 (HDF5 2.0 complex type) has a complex of 16-byte floats
    in IEEE quad layout with a stored leading bit. h5py returns their bytes unconverted (as
    `complex256`); vzarr stores the same 32 bytes as `raw_bytes`, names the layout, and
    `vzarr get` writes them as 32-byte voids."""
    src = corpus_or_skip() / "hdf5-official-via-scigolib/testdata/hdf5_official/tcomplex.h5"
    store = tmp_path / "store"
    p = vzarr("create", src, "-o", store, check=0)
    assert "DatasetLongDoubleComplex" not in p.stderr, p.stderr
    meta = json.loads((store / "DatasetLongDoubleComplex" / "zarr.json").read_text())
    assert meta["data_type"] == {"name": "raw_bytes", "configuration": {"length_bytes": 32}}
    fmt = meta["attributes"]["_hdf5_float_format"]
    assert "sign bit 127" in fmt and "bias 16383" in fmt and "mantissa bits 0..112 (leading bit stored" in fmt, fmt
    vzarr("get", store, "DatasetLongDoubleComplex", "-o", tmp_path / "v.npy", check=0)
    got = np.load(tmp_path / "v.npy")
    with h5py.File(src, "r") as f:
        want = f["DatasetLongDoubleComplex"][()]
    assert got.dtype == np.dtype("V32") and got.shape == want.shape
    assert got.tobytes() == want.tobytes()
    # 1.0 with its leading bit stored: exponent 0x3fff, mantissa MSB set.
    assert got.reshape(-1)[1].tobytes()[14:16] == b"\xff\x3f" and got.reshape(-1)[1].tobytes()[13] == 0x80
