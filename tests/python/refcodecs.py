"""Python decoders, registered with zarr-python 3, for the codec names vzarr writes that
zarr-python 3.1 does not resolve by itself (importing this module registers them).

`imagecodecs_lzf` and `imagecodecs_lz4h5` are registered for Zarr 3 by the `imagecodecs-zarr`
package (Python >= 3.12, zarr >= 3.2); on the test venv's Python 3.11 these stand-ins decode
exactly as `imagecodecs.zarr.Lzf`/`Lz4h5` do (imagecodecs' lzf_decode/lz4h5_decode, no output
size). `imagecodecs_szip` likewise (imagecodecs' szip_decode, libaec, with libhdf5's length
header). `vzarr.bitshuffle` has no published Python codec; this is a reference decoder built from
imagecodecs' bitshuffle (the bitshuffle C library), lz4 and zstd primitives. `vzarr.scaleoffset`
(HDF5's scale-offset filter) has none either; `ScaleOffset` is a NumPy reference decoder written
from the filter's documented behaviour, independent of vzarr's Rust one.
"""
import struct
from dataclasses import dataclass

import imagecodecs
import numpy as np
from zarr.abc.codec import BytesBytesCodec
from zarr.core.common import parse_named_configuration
from zarr.registry import register_codec


class _Codec(BytesBytesCodec):
    is_fixed_size = False
    NAME = ""

    @classmethod
    def from_dict(cls, data):
        _, cfg = parse_named_configuration(data, cls.NAME, require_configuration=False)
        return cls(**(cfg or {}))

    async def _decode_single(self, chunk_bytes, chunk_spec):
        return chunk_spec.prototype.buffer.from_bytes(bytes(self.decode_bytes(chunk_bytes.to_bytes())))

    async def _encode_single(self, chunk_bytes, chunk_spec):
        raise NotImplementedError

    def compute_encoded_size(self, input_byte_length, chunk_spec):
        raise NotImplementedError


@dataclass(frozen=True)
class Lzf(_Codec):
    """As imagecodecs.zarr.Lzf: lzf_decode without an output size."""

    NAME = "imagecodecs_lzf"
    header: bool = True
    # Test switch: pass the chunk's decoded size as the output size (imagecodecs-zarr does not).
    with_size = False

    def to_dict(self):
        return {"name": self.NAME, "configuration": {"header": self.header}}

    async def _decode_single(self, chunk_bytes, chunk_spec):
        out = None
        if Lzf.with_size:
            out = int(np.prod(chunk_spec.shape)) * chunk_spec.dtype.to_native_dtype().itemsize
        b = imagecodecs.lzf_decode(chunk_bytes.to_bytes(), header=self.header, out=out)
        return chunk_spec.prototype.buffer.from_bytes(bytes(b))


@dataclass(frozen=True)
class Lz4h5(_Codec):
    """As imagecodecs.zarr.Lz4h5."""

    NAME = "imagecodecs_lz4h5"
    level: int | None = None
    blocksize: int | None = None

    def to_dict(self):
        return {"name": self.NAME, "configuration": {}}

    def decode_bytes(self, b):
        return imagecodecs.lz4h5_decode(b)


@dataclass(frozen=True)
class Bitshuffle(_Codec):
    """Reference decoder of the HDF5 bitshuffle filter's chunks (bshuf_h5filter.c): header
    (big-endian u64 size, u32 block bytes) and per-block [u32 length][lz4|zstd] when
    compressed, the last n % 8 elements untransposed."""

    NAME = "vzarr.bitshuffle"
    elementsize: int = 1
    blocksize: int = 0
    compression: str = "none"
    level: int | None = None

    def to_dict(self):
        return {"name": self.NAME, "configuration": {}}

    def decode_bytes(self, b):
        s = self.elementsize
        if self.compression == "none":
            return imagecodecs.bitshuffle_decode(b, itemsize=s, blocksize=self.blocksize)
        total, block_bytes = struct.unpack(">QI", b[:12])
        n, block = total // s, block_bytes // s
        sizes = [block] * (n // block) + ([(n % block) // 8 * 8] if (n % block) >= 8 else [])
        pos, out = 12, bytearray()
        for m in sizes:
            (clen,) = struct.unpack(">I", b[pos : pos + 4])
            data = b[pos + 4 : pos + 4 + clen]
            pos += 4 + clen
            if self.compression == "lz4":
                raw = imagecodecs.lz4_decode(data, out=m * s)
            else:
                raw = imagecodecs.zstd_decode(data)
            assert len(raw) == m * s
            out += imagecodecs.bitshuffle_decode(raw, itemsize=s, blocksize=m)
        out += b[pos : pos + (n % 8) * s]
        assert len(out) == total
        return out


@dataclass(frozen=True)
class Szip(_Codec):
    """As imagecodecs.zarr.Szip (imagecodecs.szip_decode, libaec)."""

    NAME = "imagecodecs_szip"
    options_mask: int = 0
    pixels_per_block: int = 0
    bits_per_pixel: int = 0
    pixels_per_scanline: int = 0
    header: bool = True

    def to_dict(self):
        return {"name": self.NAME, "configuration": {}}

    def decode_bytes(self, b):
        return imagecodecs.szip_decode(b, options_mask=self.options_mask, pixels_per_block=self.pixels_per_block,
                                       bits_per_pixel=self.bits_per_pixel,
                                       pixels_per_scanline=self.pixels_per_scanline, header=self.header)


@dataclass(frozen=True)
class ScaleOffset(_Codec):
    """HDF5 scale-offset chunks: a 21-byte header (u32 LE minbits, one byte with the size of
    the minimum, the minimum, little-endian), then `n` values of `minbits` bits, most
    significant bit first (or, at full width, the raw little-endian elements). Integers are
    value + minimum; floats (decimal scaling) value / 10**D + minimum in the float's own
    precision; a packed all-ones value is the fill value when one is defined. The result is
    in the dataset's byte order. cd_values: scale type, D, n, class, size, sign, order,
    fill defined, fill bytes (little-endian u32 slots)."""

    NAME = "vzarr.scaleoffset"
    cd_values: tuple = ()

    def to_dict(self):
        return {"name": self.NAME, "configuration": {"cd_values": list(self.cd_values)}}

    def decode_bytes(self, b):
        cd = list(self.cd_values)
        _, d, n, cls, size, _, order, fill_defined = cd[:8]
        b = bytes(b)
        minbits = int.from_bytes(b[0:4], "little")
        msize = min(b[4], 8)
        minraw = int.from_bytes(b[5 : 5 + msize], "little")
        kind = {0: "u", 1: "f"}[cls]
        out_dt = np.dtype(f"{'>' if order else '<'}{kind}{size}")
        le_dt = out_dt.newbyteorder("<")
        if minbits == size * 8:
            return np.frombuffer(b[21 : 21 + n * size], le_dt).astype(out_dt).tobytes()
        if minbits:
            bits = np.unpackbits(np.frombuffer(b[21:], np.uint8))[: n * minbits].reshape(n, minbits)
            weights = np.uint64(1) << np.arange(minbits - 1, -1, -1, dtype=np.uint64)
            v = (bits.astype(np.uint64) * weights).sum(axis=1, dtype=np.uint64)
        else:
            v = np.zeros(n, np.uint64)
        if cls == 0:
            mask = (1 << (8 * size)) - 1
            vals = ((v + np.uint64(minraw & 0xFFFFFFFFFFFFFFFF)) & np.uint64(mask)).astype(f"<u{size}")
        else:
            ft, it = (np.float32, np.int32) if size == 4 else (np.float64, np.int64)
            mn = np.frombuffer((minraw & ((1 << (8 * size)) - 1)).to_bytes(size, "little"), ft)[0]
            with np.errstate(all="ignore"):
                vals = (v.astype(it).astype(ft) / ft(10.0 ** np.int32(d).item()) + mn).astype(ft)
        vals = vals.view(le_dt) if cls == 0 else vals.astype(le_dt)
        if fill_defined:
            fill = b"".join(x.to_bytes(4, "little") for x in cd[8:])[:size]
            fill_v = np.frombuffer(fill, le_dt)[0]
            vals = np.where(v == np.uint64((1 << minbits) - 1), fill_v, vals).astype(le_dt)
        return vals.astype(out_dt).tobytes()


for _cls in (Lzf, Lz4h5, Bitshuffle, Szip, ScaleOffset):
    register_codec(_cls.NAME, _cls)
