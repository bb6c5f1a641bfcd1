"""Python decoders, registered with zarr-python 3, for the codec names vzarr writes that
zarr-python 3.1 does not resolve by itself (importing this module registers them).

`imagecodecs_lzf` and `imagecodecs_lz4h5` are registered for Zarr 3 by the `imagecodecs-zarr`
package (Python >= 3.12, zarr >= 3.2); on the test venv's Python 3.11 these stand-ins decode
exactly as `imagecodecs.zarr.Lzf`/`Lz4h5` do (imagecodecs' lzf_decode/lz4h5_decode, no output
size). `vzarr.bitshuffle` has no published Python codec; this is a reference decoder built from
imagecodecs' bitshuffle (the bitshuffle C library), lz4 and zstd primitives.
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


for _cls in (Lzf, Lz4h5, Bitshuffle):
    register_codec(_cls.NAME, _cls)
