"""Write small HDF5 files whose datasets use the filters vzarr maps to Zarr codecs beyond
deflate/shuffle/fletcher32: zstd (32015), blosc (32001), lz4 (32004), bitshuffle (32008, plain,
+lz4, +zstd), lzf (32000), bzip2 (307), szip (4) and scale-offset (6), alone and combined with
shuffle/deflate/fletcher32, deflate applied twice.

Written with h5py/libhdf5 and the filter plugins of `hdf5plugin`, so the chunk bytes are what
the reference implementations write. Datasets are multi-chunk with partial edge chunks, in
several dtypes (including big-endian), and include chunks the optional lzf filter could not
compress (stored with a nonzero filter mask).

Usage: python scripts/make_filter_h5.py OUT_DIR   (writes OUT_DIR/filters.h5)
"""
import pathlib
import sys

import h5py
import hdf5plugin
import numpy as np

SHAPE = (37, 50)
CHUNKS = (10, 16)  # 160 elements per chunk; edges are partial
ODD_CHUNKS = (7, 9)  # 63 elements: bitshuffle leaves 7 elements untransposed


def data(dtype, shape=SHAPE, seed=0):
    """Compressible but not trivial values (smooth field + noise), per dtype."""
    rng = np.random.default_rng(seed)
    y, x = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    base = 50 + 20 * np.sin(x / 7.0) * np.cos(y / 5.0) + rng.normal(0, 2, size=shape)
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return base.astype(dt)
    if dt.kind == "u":
        return np.clip(base, 0, np.iinfo(dt).max).astype(dt)
    return (base - 60).astype(dt)


def raw_filters(parent, name, arr, chunks, filters):
    """A dataset with an explicit filter list [(id, cd_values), ...] (low-level API)."""
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_chunk(chunks)
    for fid, cd in filters:
        dcpl.set_filter(fid, h5py.h5z.FLAG_OPTIONAL, tuple(cd))
    space = h5py.h5s.create_simple(arr.shape)
    tid = h5py.h5t.py_create(arr.dtype)
    dsid = h5py.h5d.create(parent.id, name.encode(), tid, space, dcpl=dcpl)
    ds = h5py.Dataset(dsid)
    ds[...] = arr
    return ds


def main(out_dir):
    out = pathlib.Path(out_dir) / "filters.h5"
    out.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(out, "w") as f:
        # zstd
        g = f.create_group("zstd")
        g.create_dataset("f4", data=data("f4"), chunks=CHUNKS, **hdf5plugin.Zstd(clevel=3))
        g.create_dataset("i8", data=data("i8"), chunks=CHUNKS, **hdf5plugin.Zstd(clevel=9))
        g.create_dataset("f8_be", data=data(">f8"), chunks=CHUNKS, **hdf5plugin.Zstd())
        g.create_dataset("shuffle_f4", data=data("f4"), chunks=CHUNKS, shuffle=True, **hdf5plugin.Zstd())
        g.create_dataset("shuffle_i2_fletcher", data=data("i2"), chunks=CHUNKS, shuffle=True,
                         fletcher32=True, **hdf5plugin.Zstd(clevel=1))
        # blosc: several inner compressors and shuffles
        g = f.create_group("blosc")
        for cname in ("blosclz", "lz4", "lz4hc", "zlib", "zstd", "snappy"):
            g.create_dataset(f"{cname}_f4", data=data("f4"), chunks=CHUNKS,
                             **hdf5plugin.Blosc(cname=cname, clevel=5, shuffle=hdf5plugin.Blosc.SHUFFLE))
        g.create_dataset("bitshuffle_i4", data=data("i4"), chunks=CHUNKS,
                         **hdf5plugin.Blosc(cname="lz4", clevel=9, shuffle=hdf5plugin.Blosc.BITSHUFFLE))
        g.create_dataset("noshuffle_u1", data=data("u1"), chunks=CHUNKS,
                         **hdf5plugin.Blosc(cname="zstd", clevel=1, shuffle=hdf5plugin.Blosc.NOSHUFFLE))
        g.create_dataset("i2_be", data=data(">i2"), chunks=CHUNKS, **hdf5plugin.Blosc())
        # lz4 (HDF5 framing); a small block size gives several blocks per chunk
        g = f.create_group("lz4")
        g.create_dataset("f4", data=data("f4"), chunks=CHUNKS, **hdf5plugin.LZ4())
        g.create_dataset("u2_blocks", data=data("u2"), chunks=CHUNKS, **hdf5plugin.LZ4(nbytes=64))
        g.create_dataset("f8_noise", data=np.random.default_rng(3).normal(size=SHAPE), chunks=CHUNKS,
                         **hdf5plugin.LZ4(nbytes=128))
        g.create_dataset("shuffle_i4", data=data("i4"), chunks=CHUNKS, shuffle=True, **hdf5plugin.LZ4())
        # bitshuffle: plain, +lz4, +zstd; odd chunk element counts; explicit block size
        g = f.create_group("bitshuffle")
        g.create_dataset("plain_f4", data=data("f4"), chunks=CHUNKS, **hdf5plugin.Bitshuffle(cname="none"))
        g.create_dataset("lz4_f4", data=data("f4"), chunks=CHUNKS, **hdf5plugin.Bitshuffle(cname="lz4"))
        g.create_dataset("lz4_u2_odd", data=data("u2"), chunks=ODD_CHUNKS, **hdf5plugin.Bitshuffle(cname="lz4"))
        g.create_dataset("lz4_i8_block16", data=data("i8"), chunks=CHUNKS,
                         **hdf5plugin.Bitshuffle(nelems=16, cname="lz4"))
        g.create_dataset("zstd_f8", data=data("f8"), chunks=CHUNKS, **hdf5plugin.Bitshuffle(cname="zstd", clevel=5))
        g.create_dataset("plain_u1_odd", data=data("u1"), chunks=ODD_CHUNKS, **hdf5plugin.Bitshuffle(cname="none"))
        g.create_dataset("lz4_f4_be", data=data(">f4"), chunks=CHUNKS, **hdf5plugin.Bitshuffle(cname="lz4"))
        g.create_dataset("zstd_i2_odd_block8", data=data("i2"), chunks=ODD_CHUNKS,
                         **hdf5plugin.Bitshuffle(nelems=8, cname="zstd"))
        # lzf (built into h5py); random bytes do not compress: those chunks skip the filter
        g = f.create_group("lzf")
        g.create_dataset("f4", data=data("f4"), chunks=CHUNKS, compression="lzf")
        g.create_dataset("shuffle_i4", data=data("i4"), chunks=CHUNKS, compression="lzf", shuffle=True)
        g.create_dataset("u1_fletcher", data=data("u1"), chunks=CHUNKS, compression="lzf", fletcher32=True)
        noisy = np.random.default_rng(5).integers(0, 256, size=SHAPE, dtype="u1")
        noisy[:10] = 7  # the first row of chunks compresses, the rest does not
        g.create_dataset("u1_incompressible", data=noisy, chunks=CHUNKS, compression="lzf")
        g.create_dataset("u1_incompressible_fletcher", data=noisy, chunks=CHUNKS, compression="lzf",
                         fletcher32=True)
        # bzip2
        g = f.create_group("bzip2")
        g.create_dataset("f8", data=data("f8"), chunks=CHUNKS, **hdf5plugin.BZip2(blocksize=9))
        g.create_dataset("shuffle_i2", data=data("i2"), chunks=CHUNKS, shuffle=True, **hdf5plugin.BZip2(blocksize=1))
        # szip (libaec in h5py's HDF5): both coding options, several block sizes, both byte
        # orders, 8- to 64-bit pixels (32/64-bit pixels are coded as byte planes)
        g = f.create_group("szip")
        for dt, opts in (("u1", ("nn", 8)), ("i2", ("ec", 16)), (">u2", ("nn", 32)), ("i4", ("nn", 8)),
                         (">i4", ("ec", 32)), ("f4", ("nn", 16)), (">f8", ("nn", 8)), ("u8", ("ec", 8))):
            name = dt.replace(">", "") + ("_be" if dt.startswith(">") else "") + f"_{opts[0]}{opts[1]}"
            g.create_dataset(name, data=data(dt), chunks=CHUNKS, compression="szip", compression_opts=opts)
        g.create_dataset("f4_shuffle_fletcher", data=data("f4"), chunks=CHUNKS, shuffle=True,
                         compression="szip", fletcher32=True)
        # scale-offset: integers (automatic and fixed bit counts, with and without a fill
        # value) and floats (decimal scaling, D digits), both byte orders, then deflate
        g = f.create_group("scaleoffset")
        for dt in ("i1", "u2", ">i2", "i4", ">u4", "i8", ">i8"):
            name = dt.replace(">", "") + ("_be" if dt.startswith(">") else "")
            g.create_dataset(f"{name}_auto", data=data(dt), chunks=CHUNKS, scaleoffset=0)
        g.create_dataset("i4_fill", data=data("i4"), chunks=CHUNKS, scaleoffset=0, fillvalue=-99)
        g.create_dataset("u2_bits5", data=data("u2") % 32, chunks=CHUNKS, scaleoffset=5)
        const = np.full(SHAPE, 7, dtype="i2")
        g.create_dataset("i2_constant", data=const, chunks=CHUNKS, scaleoffset=0)
        for dt, digits in (("f4", 2), (">f4", 3), ("f8", 4), (">f8", 1)):
            name = dt.replace(">", "") + ("_be" if dt.startswith(">") else "")
            g.create_dataset(f"{name}_d{digits}", data=data(dt), chunks=CHUNKS, scaleoffset=digits)
        g.create_dataset("f4_d2_fill", data=data("f4"), chunks=CHUNKS, scaleoffset=2, fillvalue=-1.5)
        g.create_dataset("i4_deflate", data=data("i4"), chunks=CHUNKS, scaleoffset=0, compression="gzip")
        # repeated and mixed filters
        g = f.create_group("repeated")
        raw_filters(g, "deflate_twice", data("f4"), CHUNKS, [(1, (4,)), (1, (6,))])
        raw_filters(g, "zstd_then_deflate", data("i4"), CHUNKS, [(32015, (3,)), (1, (1,))])
        raw_filters(g, "shuffle_lz4_zstd", data("f8"), CHUNKS, [(2, ()), (32004, (0,)), (32015, (1,))])
        raw_filters(g, "bitshuffle_lz4_then_bzip2", data("u2"), CHUNKS,
                    [(32008, (0, 2)), (307, (9,))])
        raw_filters(g, "lzf_then_zstd", data("f4"), CHUNKS, [(32000, (4, 0, 0)), (32015, (3,))])
    print(f"wrote {out}")
    return out


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
