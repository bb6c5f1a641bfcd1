//! Model codecs → Zarr v3 codec metadata, under the names Python readers decode them with:
//! Zarr core (`bytes`, `zstd`, `blosc`), numcodecs (`numcodecs.*`, built into zarr-python 3),
//! imagecodecs (`imagecodecs_lzf`, `imagecodecs_lz4h5`, registered for Zarr 3 by the
//! `imagecodecs-zarr` package). The one exception is `vzarr.bitshuffle` (HDF5's bitshuffle
//! filter, whose chunk format no published Zarr codec reads); vzarr's own reader decodes all of
//! them (`super::filters_ext`).

use serde_json::{json, Value};

use crate::model::{BitshuffleCompression, BloscCompressor, BloscShuffle, Codec, Endian};

/// The Zarr v3 metadata of one codec.
#[must_use]
pub fn codec_metadata(codec: &Codec) -> Value {
    match codec {
        Codec::Bytes(Some(e)) => json!({
            "name": "bytes",
            "configuration": {"endian": match e { Endian::Little => "little", Endian::Big => "big" }}
        }),
        Codec::Bytes(None) => json!({"name": "bytes"}),
        Codec::VlenUtf8 => json!({"name": "vlen-utf8"}),
        Codec::VlenBytes => json!({"name": "vlen-bytes"}),
        Codec::Shuffle { element_size } => json!({
            "name": "numcodecs.shuffle",
            "configuration": {"elementsize": element_size}
        }),
        // HDF5 deflate is a zlib stream: numcodecs.zlib, never gzip.
        Codec::Zlib { level } => json!({
            "name": "numcodecs.zlib",
            "configuration": {"level": level}
        }),
        Codec::Fletcher32 => json!({"name": "numcodecs.fletcher32", "configuration": {}}),
        Codec::Zstd { level } => json!({
            "name": "zstd",
            "configuration": {"level": level, "checksum": false}
        }),
        Codec::Blosc {
            cname,
            clevel,
            shuffle,
            typesize,
        } => json!({
            "name": "blosc",
            "configuration": {
                "cname": blosc_cname(*cname),
                "clevel": clevel,
                "shuffle": blosc_shuffle(*shuffle),
                "typesize": typesize,
                "blocksize": 0
            }
        }),
        Codec::Bz2 { level } => json!({"name": "numcodecs.bz2", "configuration": {"level": level}}),
        // The chunk is bare LZF; `header: true` would mean a 4-byte length prefix.
        Codec::Lzf => json!({"name": "imagecodecs_lzf", "configuration": {"header": false}}),
        Codec::Lz4Hdf5 { block_size } => {
            if *block_size == 0 {
                json!({"name": "imagecodecs_lz4h5", "configuration": {}})
            } else {
                json!({"name": "imagecodecs_lz4h5", "configuration": {"blocksize": block_size}})
            }
        }
        Codec::Bitshuffle {
            element_size,
            block_size,
            compression,
        } => {
            let mut c = json!({
                "elementsize": element_size,
                "blocksize": block_size,
                "compression": bitshuffle_compression(*compression),
            });
            if let BitshuffleCompression::Zstd(level) = compression {
                c["level"] = json!(level);
            }
            json!({"name": "vzarr.bitshuffle", "configuration": c})
        }
        Codec::Szip {
            options_mask,
            pixels_per_block,
            bits_per_pixel,
            pixels_per_scanline,
        } => json!({"name": "imagecodecs_szip", "configuration": {
            "options_mask": options_mask,
            "pixels_per_block": pixels_per_block,
            "bits_per_pixel": bits_per_pixel,
            "pixels_per_scanline": pixels_per_scanline,
            "header": true,
        }}),
        Codec::ScaleOffset { cd_values } => {
            json!({"name": "vzarr.scaleoffset", "configuration": {"cd_values": cd_values}})
        }
    }
}

fn blosc_cname(c: BloscCompressor) -> &'static str {
    match c {
        BloscCompressor::BloscLz => "blosclz",
        BloscCompressor::Lz4 => "lz4",
        BloscCompressor::Lz4Hc => "lz4hc",
        BloscCompressor::Snappy => "snappy",
        BloscCompressor::Zlib => "zlib",
        BloscCompressor::Zstd => "zstd",
    }
}

fn blosc_shuffle(s: BloscShuffle) -> &'static str {
    match s {
        BloscShuffle::NoShuffle => "noshuffle",
        BloscShuffle::Shuffle => "shuffle",
        BloscShuffle::BitShuffle => "bitshuffle",
    }
}

fn bitshuffle_compression(c: BitshuffleCompression) -> &'static str {
    match c {
        BitshuffleCompression::None => "none",
        BitshuffleCompression::Lz4 => "lz4",
        BitshuffleCompression::Zstd(_) => "zstd",
    }
}

/// Short human-readable codec name (for `inspect`).
#[must_use]
pub fn codec_label(codec: &Codec) -> String {
    match codec {
        Codec::Bytes(Some(Endian::Little)) => "bytes(little)".into(),
        Codec::Bytes(Some(Endian::Big)) => "bytes(big)".into(),
        Codec::Bytes(None) => "bytes".into(),
        Codec::VlenUtf8 => "vlen-utf8".into(),
        Codec::VlenBytes => "vlen-bytes".into(),
        Codec::Shuffle { element_size } => format!("shuffle({element_size})"),
        Codec::Zlib { level } => format!("zlib({level})"),
        Codec::Fletcher32 => "fletcher32".into(),
        Codec::Zstd { level } => format!("zstd({level})"),
        Codec::Blosc {
            cname, clevel, shuffle, ..
        } => format!("blosc({},{clevel},{})", blosc_cname(*cname), blosc_shuffle(*shuffle)),
        Codec::Bz2 { level } => format!("bz2({level})"),
        Codec::Lzf => "lzf".into(),
        Codec::Lz4Hdf5 { .. } => "lz4h5".into(),
        Codec::Bitshuffle {
            element_size,
            compression,
            ..
        } => format!("bitshuffle({element_size},{})", bitshuffle_compression(*compression)),
        Codec::Szip { pixels_per_block, .. } => format!("szip({pixels_per_block})"),
        Codec::ScaleOffset { .. } => "scaleoffset".into(),
    }
}

/// The items of a `vlen-utf8` / `vlen-bytes` chunk ([`vlen_utf8_chunk`]'s layout); `None` if
/// it is malformed.
#[must_use]
pub fn vlen_items(chunk: &[u8]) -> Option<Vec<&[u8]>> {
    let (n, mut rest) = chunk.split_first_chunk::<4>()?;
    let n = usize::try_from(u32::from_le_bytes(*n)).ok()?;
    let mut out = Vec::with_capacity(n.min(rest.len() / 4));
    for _ in 0..n {
        let (len, r) = rest.split_first_chunk::<4>()?;
        let len = usize::try_from(u32::from_le_bytes(*len)).ok()?;
        let (item, r) = (r.get(..len)?, r.get(len..)?);
        out.push(item);
        rest = r;
    }
    Some(out)
}

/// One `vlen-utf8` (or `vlen-bytes`: the same layout) chunk holding `items` in order: the
/// element count, then each element's byte length and bytes (lengths as little-endian `u32`),
/// as numcodecs' `VLenUTF8`/`VLenBytes` and zarrs encode it. `None` if a count or length does not fit in 32 bits.
#[must_use]
pub fn vlen_utf8_chunk(items: &[&[u8]]) -> Option<Vec<u8>> {
    let total: usize = items.iter().map(|s| s.len() + 4).sum();
    let mut out = Vec::with_capacity(4 + total);
    out.extend_from_slice(&u32::try_from(items.len()).ok()?.to_le_bytes());
    for s in items {
        out.extend_from_slice(&u32::try_from(s.len()).ok()?.to_le_bytes());
        out.extend_from_slice(s);
    }
    Some(out)
}
