//! Codecs for HDF5's third-party filters, registered in zarrs' runtime codec registry, and the
//! byte-level algorithms they (and [`crate::hdf5`]'s re-encoding of filter-masked chunks) use.
//!
//! | Zarr name            | HDF5 filter           | Python reader                         |
//! |----------------------|-----------------------|---------------------------------------|
//! | `imagecodecs_lzf`    | lzf (32000)           | imagecodecs (`imagecodecs-zarr`)      |
//! | `imagecodecs_lz4h5`  | lz4 (32004)           | imagecodecs (`imagecodecs-zarr`)      |
//! | `vzarr.bitshuffle`   | bitshuffle (32008)    | none published (see below)            |
//! | `zstd`               | zstd (32015)          | zarr-python (core codec)              |
//! | `numcodecs.bz2`      | bzip2 (307)           | zarr-python (`numcodecs.bz2`)         |
//! | `imagecodecs_szip`   | szip (4)              | imagecodecs (`imagecodecs-zarr`)      |
//! | `vzarr.scaleoffset`  | scale-offset (6)      | none published                        |
//!
//! `blosc` (32001) is zarrs' built-in codec: the chunk is a self-describing Blosc 1 buffer, and
//! blosc itself caps the decoded size (2 GiB).
//!
//! Every decoder here is bounded: it never produces (or allocates for) more than the chunk's
//! expected decoded size (the codec's decoded representation; [`MAX_DECODED`] when unknown),
//! and malformed input gives an error, never a panic. zarrs' own `zstd` and `numcodecs.bz2`
//! decoders allocate whatever size the frame header claims (zstd) or read to the end of the
//! stream (bzip2), so vzarr overrides both names with the bounded versions here.
//!
//! ## Byte layouts
//!
//! - **LZF** (liblzf): a sequence of runs. A control byte `c < 32` is followed by `c + 1`
//!   literal bytes; otherwise `len = c >> 5` (7 means "add the next byte"), then one byte
//!   `lo`, and `len + 2` bytes are copied from `((c & 31) << 8) + lo + 1` bytes back in the
//!   output (overlapping copies repeat). HDF5 chunks carry no length header.
//! - **HDF5 LZ4** (H5Z-lz4): big-endian `u64` decoded size, big-endian `u32` block size, then
//!   per block of `min(block, remaining)` decoded bytes a big-endian `u32` length and that many
//!   bytes: stored raw when the length equals the block's decoded size, else an LZ4 block.
//! - **Bitshuffle** (bitshuffle's `bshuf_h5filter`): the chunk's `n` elements of `s` bytes are
//!   cut into blocks of `b` elements (`b` a multiple of 8; 0 means `max(128, 8192 / s)`
//!   rounded down to a multiple of 8); a last partial block is rounded down to a multiple of 8
//!   elements, and the final `n % 8` elements are stored untransposed at the very end. Inside a
//!   block of `m` elements, the output is `8·s` bit planes of `m / 8` bytes: plane `8·j + k`
//!   holds bit `k` (0 = least significant) of byte `j` of every element, element `i` at bit
//!   `i % 8` of byte `i / 8`. With compression (LZ4 = 2, Zstandard = 3 in the filter's
//!   parameters) the chunk starts with a big-endian `u64` decoded size and a big-endian `u32`
//!   block size in bytes, and each transposed block is stored as a big-endian `u32` length and
//!   an LZ4 block (or a Zstandard frame); the untransposed tail follows, uncompressed.
//!
//! No published Python Zarr codec reads the bitshuffle filter's chunks: imagecodecs'
//! `imagecodecs_bitshuffle` is an array-to-bytes codec without the compressed framing, and
//! `imagecodecs_lz4h5` followed by a bit transpose differs from it on the untransposed tail
//! and on LZ4 blocks exactly as long as their input. Hence the `vzarr.bitshuffle` name.

use std::borrow::Cow;
use std::io::{Read, Write};
use std::sync::Arc;

use zarrs_codec::{
    ArrayBytesRaw, BytesRepresentation, BytesToBytesCodecTraits, CodecError, CodecMetadataOptions, CodecOptions,
    CodecTraits, PartialDecoderCapability, PartialEncoderCapability, RecommendedConcurrency,
};
use zarrs_metadata::v3::MetadataV3;
use zarrs_metadata::Configuration;
use zarrs_plugin::{PluginCreateError, ZarrVersion};

/// Largest decoded chunk accepted when the expected size is unknown.
pub const MAX_DECODED: usize = 1 << 30;

fn too_large(what: &str, cap: usize) -> String {
    format!("{what}: decoded data larger than the {cap} bytes expected")
}

fn be_u32(src: &[u8], pos: usize, what: &str) -> Result<u32, String> {
    src.get(pos..pos + 4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_be_bytes)
        .ok_or_else(|| format!("{what}: truncated at byte {pos}"))
}

fn be_u64(src: &[u8], pos: usize, what: &str) -> Result<u64, String> {
    src.get(pos..pos + 8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| format!("{what}: truncated at byte {pos}"))
}

fn u32_len(n: usize, what: &str) -> Result<u32, String> {
    u32::try_from(n).map_err(|_| format!("{what}: {n} bytes do not fit a 32-bit length"))
}

/// Read everything from `r`, failing if it yields more than `cap` bytes.
fn read_bounded(r: impl Read, cap: usize, what: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    r.take(cap as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("{what}: {e}"))?;
    if out.len() > cap {
        return Err(too_large(what, cap));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// LZF

/// Decode an LZF stream into at most `cap` bytes.
pub fn lzf_decode(src: &[u8], cap: usize) -> Result<Vec<u8>, String> {
    const W: &str = "lzf";
    let mut out: Vec<u8> = Vec::with_capacity(cap.min(src.len().saturating_mul(8)));
    let mut i = 0;
    while let Some(&c) = src.get(i) {
        i += 1;
        let ctrl = usize::from(c);
        if ctrl < 32 {
            let n = ctrl + 1;
            let lit = src.get(i..i + n).ok_or("lzf: literal run past the end of the input")?;
            if out.len() + n > cap {
                return Err(too_large(W, cap));
            }
            out.extend_from_slice(lit);
            i += n;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += usize::from(*src.get(i).ok_or("lzf: truncated back reference")?);
                i += 1;
            }
            len += 2;
            let lo = usize::from(*src.get(i).ok_or("lzf: truncated back reference")?);
            i += 1;
            let back = ((ctrl & 0x1f) << 8) + lo + 1;
            let start = out
                .len()
                .checked_sub(back)
                .ok_or("lzf: back reference before the start of the output")?;
            if out.len() + len > cap {
                return Err(too_large(W, cap));
            }
            for k in start..start + len {
                // k < out.len() always: start + len - 1 < old length + len - 1.
                let b = *out.get(k).ok_or("lzf: bad back reference")?;
                out.push(b);
            }
        }
    }
    Ok(out)
}

/// Encode as LZF made only of literal runs (valid for every LZF decoder; used when
/// re-encoding chunks whose lzf filter was skipped, which are incompressible anyway).
#[must_use]
pub fn lzf_encode_literal(src: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(src.len() + src.len().div_ceil(32));
    for run in src.chunks(32) {
        out.push(u8::try_from(run.len() - 1).unwrap_or(31));
        out.extend_from_slice(run);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// HDF5 LZ4

/// The HDF5 LZ4 filter's default block size (1 GiB).
pub const LZ4H5_DEFAULT_BLOCK: u32 = 1 << 30;

/// Decode a chunk in the HDF5 LZ4 filter's framing into at most `cap` bytes.
pub fn lz4h5_decode(src: &[u8], cap: usize) -> Result<Vec<u8>, String> {
    const W: &str = "lz4h5";
    let total = be_u64(src, 0, W)?;
    let block = be_u32(src, 8, W)?;
    let total = usize::try_from(total)
        .ok()
        .filter(|&t| t <= cap)
        .ok_or_else(|| format!("{W}: header claims {total} decoded bytes, more than the {cap} expected"))?;
    if total > 0 && block == 0 {
        return Err(format!("{W}: zero block size"));
    }
    let block = usize::try_from(block).unwrap_or(usize::MAX);
    let mut out = Vec::with_capacity(total);
    let mut pos = 12;
    while out.len() < total {
        let bs = block.min(total - out.len());
        let n = usize::try_from(be_u32(src, pos, W)?).unwrap_or(usize::MAX);
        pos += 4;
        let data = src
            .get(pos..pos.saturating_add(n))
            .ok_or_else(|| format!("{W}: block of {n} bytes at byte {pos} runs past the end"))?;
        pos += n;
        if n == bs {
            out.extend_from_slice(data);
        } else {
            let start = out.len();
            out.resize(start + bs, 0);
            let got = lz4_flex::block::decompress_into(data, &mut out[start..]).map_err(|e| format!("{W}: {e}"))?;
            if got != bs {
                return Err(format!("{W}: block decoded to {got} bytes, expected {bs}"));
            }
        }
    }
    Ok(out)
}

/// Encode in the HDF5 LZ4 filter's framing with blocks of `block` bytes (0: the default).
pub fn lz4h5_encode(src: &[u8], block: u32) -> Result<Vec<u8>, String> {
    let block = if block == 0 { LZ4H5_DEFAULT_BLOCK } else { block };
    let bs = usize::try_from(block).unwrap_or(usize::MAX).min(src.len().max(1));
    let mut out = Vec::with_capacity(src.len() / 2 + 16);
    out.extend_from_slice(&(src.len() as u64).to_be_bytes());
    out.extend_from_slice(&u32_len(bs, "lz4h5")?.to_be_bytes());
    for b in src.chunks(bs) {
        let c = lz4_flex::block::compress(b);
        let stored: &[u8] = if c.len() >= b.len() { b } else { &c };
        out.extend_from_slice(&u32_len(stored.len(), "lz4h5")?.to_be_bytes());
        out.extend_from_slice(stored);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Bitshuffle

/// bitshuffle's default block size in elements for an element size.
#[must_use]
pub fn bitshuffle_default_block(elem: usize) -> usize {
    ((8192 / elem.max(1)) / 8 * 8).max(128)
}

/// Transpose an 8×8 bit matrix held in a `u64` (byte `r`, bit `c` ↔ byte `c`, bit `r`).
fn transpose8(mut x: u64) -> u64 {
    let t = (x ^ (x >> 7)) & 0x00AA_00AA_00AA_00AA;
    x ^= t ^ (t << 7);
    let t = (x ^ (x >> 14)) & 0x0000_CCCC_0000_CCCC;
    x ^= t ^ (t << 14);
    let t = (x ^ (x >> 28)) & 0x0000_0000_F0F0_F0F0;
    x ^= t ^ (t << 28);
    x
}

/// Bit-transpose one block of `m = src.len() / elem` elements (`m % 8 == 0`) into `dst`.
fn trans_block(src: &[u8], dst: &mut [u8], elem: usize) {
    let row = src.len() / elem / 8;
    for j in 0..elem {
        for g in 0..row {
            let mut b = [0u8; 8];
            for (m, v) in b.iter_mut().enumerate() {
                *v = src.get((g * 8 + m) * elem + j).copied().unwrap_or(0);
            }
            let t = transpose8(u64::from_le_bytes(b)).to_le_bytes();
            for (k, v) in t.iter().enumerate() {
                if let Some(d) = dst.get_mut((j * 8 + k) * row + g) {
                    *d = *v;
                }
            }
        }
    }
}

/// Inverse of [`trans_block`].
fn untrans_block(src: &[u8], dst: &mut [u8], elem: usize) {
    let row = src.len() / elem / 8;
    for j in 0..elem {
        for g in 0..row {
            let mut b = [0u8; 8];
            for (k, v) in b.iter_mut().enumerate() {
                *v = src.get((j * 8 + k) * row + g).copied().unwrap_or(0);
            }
            let t = transpose8(u64::from_le_bytes(b)).to_le_bytes();
            for (m, v) in t.iter().enumerate() {
                if let Some(d) = dst.get_mut((g * 8 + m) * elem + j) {
                    *d = *v;
                }
            }
        }
    }
}

/// Element counts of the transposed blocks of a chunk of `n` elements (the untransposed
/// tail is the last `n % 8` elements).
fn bitshuffle_blocks(n: usize, block: usize) -> impl Iterator<Item = usize> {
    let last = (n % block) / 8 * 8;
    std::iter::repeat_n(block, n / block).chain((last > 0).then_some(last))
}

/// Bitshuffle parameters: element size, block size in elements (0 = default), compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitshuffleParams {
    /// Element size in bytes.
    pub elem: usize,
    /// Block size in elements (0: [`bitshuffle_default_block`]).
    pub block: usize,
    /// Per-block compression.
    pub compression: crate::model::BitshuffleCompression,
}

fn check_block(block: usize, elem: usize) -> Result<usize, String> {
    let b = if block == 0 {
        bitshuffle_default_block(elem)
    } else {
        block
    };
    if !b.is_multiple_of(8) {
        return Err(format!("bitshuffle: block size {b} is not a multiple of 8"));
    }
    Ok(b)
}

/// Decode a chunk of the HDF5 bitshuffle filter into at most `cap` bytes.
pub fn bitshuffle_decode(src: &[u8], p: BitshuffleParams, cap: usize) -> Result<Vec<u8>, String> {
    use crate::model::BitshuffleCompression as C;
    const W: &str = "bitshuffle";
    let elem = p.elem;
    if elem == 0 {
        return Err(format!("{W}: zero element size"));
    }
    if p.compression == C::None {
        if src.len() > cap {
            return Err(too_large(W, cap));
        }
        if !src.len().is_multiple_of(elem) {
            return Err(format!(
                "{W}: {} bytes is not a whole number of {elem}-byte elements",
                src.len()
            ));
        }
        let block = check_block(p.block, elem)?;
        let mut out = vec![0u8; src.len()];
        let mut pos = 0;
        for m in bitshuffle_blocks(src.len() / elem, block) {
            let n = m * elem;
            untrans_block(&src[pos..pos + n], &mut out[pos..pos + n], elem);
            pos += n;
        }
        out[pos..].copy_from_slice(&src[pos..]);
        return Ok(out);
    }
    let total = be_u64(src, 0, W)?;
    let total = usize::try_from(total)
        .ok()
        .filter(|&t| t <= cap)
        .ok_or_else(|| format!("{W}: header claims {total} decoded bytes, more than the {cap} expected"))?;
    let block_bytes = usize::try_from(be_u32(src, 8, W)?).unwrap_or(usize::MAX);
    if !total.is_multiple_of(elem) || !block_bytes.is_multiple_of(elem) {
        return Err(format!(
            "{W}: sizes in the header are not multiples of the {elem}-byte element"
        ));
    }
    let block = block_bytes / elem;
    if block == 0 || !block.is_multiple_of(8) {
        return Err(format!("{W}: block size {block} is not a positive multiple of 8"));
    }
    let mut out = vec![0u8; total];
    let mut tmp = Vec::new();
    let mut pos = 12;
    let mut at = 0;
    for m in bitshuffle_blocks(total / elem, block) {
        let n = m * elem;
        let len = usize::try_from(be_u32(src, pos, W)?).unwrap_or(usize::MAX);
        pos += 4;
        let data = src
            .get(pos..pos.saturating_add(len))
            .ok_or_else(|| format!("{W}: block of {len} bytes at byte {pos} runs past the end"))?;
        pos += len;
        match p.compression {
            C::Lz4 => {
                tmp.clear();
                tmp.resize(n, 0);
                let got = lz4_flex::block::decompress_into(data, &mut tmp).map_err(|e| format!("{W} lz4: {e}"))?;
                tmp.truncate(got);
            }
            C::Zstd(_) => tmp = zstd::bulk::decompress(data, n).map_err(|e| format!("{W} zstd: {e}"))?,
            C::None => {}
        }
        if tmp.len() != n {
            return Err(format!("{W}: block decoded to {} bytes, expected {n}", tmp.len()));
        }
        untrans_block(&tmp, &mut out[at..at + n], elem);
        at += n;
    }
    let tail = total - at;
    let rest = src
        .get(pos..pos + tail)
        .ok_or_else(|| format!("{W}: untransposed tail of {tail} bytes runs past the end"))?;
    out[at..].copy_from_slice(rest);
    Ok(out)
}

/// Encode like the HDF5 bitshuffle filter.
pub fn bitshuffle_encode(src: &[u8], p: BitshuffleParams) -> Result<Vec<u8>, String> {
    use crate::model::BitshuffleCompression as C;
    const W: &str = "bitshuffle";
    let elem = p.elem;
    if elem == 0 || !src.len().is_multiple_of(elem) {
        return Err(format!(
            "{W}: {} bytes is not a whole number of {elem}-byte elements",
            src.len()
        ));
    }
    let block = check_block(p.block, elem)?;
    let mut out = Vec::with_capacity(src.len() + 16);
    if p.compression != C::None {
        out.extend_from_slice(&(src.len() as u64).to_be_bytes());
        out.extend_from_slice(&u32_len(block * elem, W)?.to_be_bytes());
    }
    let mut pos = 0;
    let mut t = Vec::new();
    for m in bitshuffle_blocks(src.len() / elem, block) {
        let n = m * elem;
        t.clear();
        t.resize(n, 0);
        trans_block(&src[pos..pos + n], &mut t, elem);
        let c = match p.compression {
            C::None => {
                out.extend_from_slice(&t);
                pos += n;
                continue;
            }
            C::Lz4 => lz4_flex::block::compress(&t),
            C::Zstd(level) => zstd::bulk::compress(&t, level).map_err(|e| format!("{W} zstd: {e}"))?,
        };
        out.extend_from_slice(&u32_len(c.len(), W)?.to_be_bytes());
        out.extend_from_slice(&c);
        pos += n;
    }
    out.extend_from_slice(&src[pos..]);
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Zstandard, bzip2, Blosc

/// Decode Zstandard frames into at most `cap` bytes.
pub fn zstd_decode(src: &[u8], cap: usize) -> Result<Vec<u8>, String> {
    let d = zstd::stream::read::Decoder::with_buffer(src).map_err(|e| format!("zstd: {e}"))?;
    read_bounded(d, cap, "zstd")
}

/// Encode one Zstandard frame.
pub fn zstd_encode(src: &[u8], level: i32, checksum: bool) -> Result<Vec<u8>, String> {
    let mut c = zstd::bulk::Compressor::new(level).map_err(|e| format!("zstd: {e}"))?;
    c.include_checksum(checksum).map_err(|e| format!("zstd: {e}"))?;
    c.compress(src).map_err(|e| format!("zstd: {e}"))
}

/// Decode a bzip2 stream into at most `cap` bytes.
pub fn bz2_decode(src: &[u8], cap: usize) -> Result<Vec<u8>, String> {
    read_bounded(bzip2::read::BzDecoder::new(src), cap, "bz2")
}

/// Encode a bzip2 stream with block size `level` × 100 kB.
pub fn bz2_encode(src: &[u8], level: u32) -> Result<Vec<u8>, String> {
    let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::new(level.clamp(1, 9)));
    e.write_all(src).map_err(|e| format!("bz2: {e}"))?;
    e.finish().map_err(|e| format!("bz2: {e}"))
}

/// A Blosc 1 buffer holding `src` uncompressed (the "memcpyed" form Blosc writes for
/// incompressible data): 16-byte header, then the bytes.
pub fn blosc_memcpyed(src: &[u8], typesize: u32) -> Result<Vec<u8>, String> {
    const MAX: usize = i32::MAX as usize - 16;
    if src.is_empty() || src.len() > MAX {
        return Err(format!("blosc: cannot store {} bytes in one buffer", src.len()));
    }
    let n = u32_len(src.len(), "blosc")?;
    let mut out = Vec::with_capacity(src.len() + 16);
    // version 2, LZ version 1, flags: BLOSC_MEMCPYED, typesize (1 when it does not fit a byte).
    out.extend_from_slice(&[2, 1, 0x02, u8::try_from(typesize).ok().filter(|&t| t > 0).unwrap_or(1)]);
    out.extend_from_slice(&n.to_le_bytes()); // nbytes
    out.extend_from_slice(&n.to_le_bytes()); // blocksize
    out.extend_from_slice(&(n + 16).to_le_bytes()); // cbytes
    out.extend_from_slice(src);
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Scale-offset

/// Decode a chunk of HDF5's scale-offset filter with client data `cd` into at most `cap`
/// bytes. libhdf5 stores every chunk full-size, so the decoded size is the client data's
/// element count times its element size (`cd[2] × cd[4]`), whatever the codec position.
pub fn scaleoffset_decode(src: &[u8], cd: &[u32], cap: usize) -> Result<Vec<u8>, String> {
    let n = match (cd.get(2), cd.get(4)) {
        (Some(&n), Some(&size)) => u64::from(n).checked_mul(u64::from(size)),
        _ => None,
    }
    .and_then(|n| usize::try_from(n).ok())
    .ok_or("scale-offset: client data too short or chunk size overflows")?;
    if n > cap {
        return Err(too_large("scale-offset", cap));
    }
    super::scaleoffset::scaleoffset_decode(src, cd, n)
}

// ---------------------------------------------------------------------------------------------
// zarrs codecs

/// Which algorithm a [`FilterCodec`] runs.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Lzf {
        header: bool,
    },
    Lz4h5 {
        block: u32,
        level: Option<i64>,
    },
    Bitshuffle(BitshuffleParams),
    Zstd {
        level: i32,
        checksum: bool,
    },
    Bz2 {
        level: u32,
    },
    /// `[options_mask, pixels_per_block, bits_per_pixel, pixels_per_scanline]`.
    Szip([u32; 4]),
    ScaleOffset(Vec<u32>),
}

/// A bytes-to-bytes codec for one of the names in the module table.
#[derive(Debug, Clone)]
struct FilterCodec {
    kind: Kind,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LzfConfig {
    #[serde(default = "yes")]
    header: bool,
}

fn yes() -> bool {
    true
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Lz4h5Config {
    #[serde(default)]
    level: Option<i64>,
    #[serde(default)]
    blocksize: Option<u32>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct BitshuffleConfig {
    elementsize: usize,
    #[serde(default)]
    blocksize: usize,
    #[serde(default = "none")]
    compression: String,
    #[serde(default)]
    level: Option<i32>,
}

fn none() -> String {
    "none".into()
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ZstdConfig {
    #[serde(default)]
    level: i32,
    #[serde(default)]
    checksum: bool,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Bz2Config {
    #[serde(default = "nine")]
    level: u32,
}

fn nine() -> u32 {
    9
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SzipConfig {
    options_mask: u32,
    pixels_per_block: u32,
    bits_per_pixel: u32,
    pixels_per_scanline: u32,
    #[serde(default)]
    header: bool,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ScaleOffsetConfig {
    cd_values: Vec<u32>,
}

/// Names this module registers.
const NAMES: [&str; 7] = [
    "imagecodecs_lzf",
    "imagecodecs_lz4h5",
    "vzarr.bitshuffle",
    "zstd",
    "numcodecs.bz2",
    "imagecodecs_szip",
    "vzarr.scaleoffset",
];

impl FilterCodec {
    fn from_metadata(m: &MetadataV3) -> Result<Self, PluginCreateError> {
        use crate::model::BitshuffleCompression as C;
        let kind = match m.name() {
            "imagecodecs_lzf" => Kind::Lzf {
                header: m.to_typed_configuration::<LzfConfig>()?.header,
            },
            "imagecodecs_lz4h5" => {
                let c: Lz4h5Config = m.to_typed_configuration()?;
                Kind::Lz4h5 {
                    block: c.blocksize.unwrap_or(0),
                    level: c.level,
                }
            }
            "vzarr.bitshuffle" => {
                let c: BitshuffleConfig = m.to_typed_configuration()?;
                let compression = match c.compression.as_str() {
                    "none" => C::None,
                    "lz4" => C::Lz4,
                    "zstd" => C::Zstd(c.level.unwrap_or(3)),
                    other => {
                        return Err(PluginCreateError::Other(format!(
                            "vzarr.bitshuffle: compression {other:?}"
                        )))
                    }
                };
                if c.elementsize == 0 || !c.blocksize.is_multiple_of(8) {
                    return Err(PluginCreateError::Other(
                        "vzarr.bitshuffle: elementsize must be positive and blocksize a multiple of 8".into(),
                    ));
                }
                Kind::Bitshuffle(BitshuffleParams {
                    elem: c.elementsize,
                    block: c.blocksize,
                    compression,
                })
            }
            "zstd" => {
                let c: ZstdConfig = m.to_typed_configuration()?;
                Kind::Zstd {
                    level: c.level,
                    checksum: c.checksum,
                }
            }
            "numcodecs.bz2" => Kind::Bz2 {
                level: m.to_typed_configuration::<Bz2Config>()?.level,
            },
            "imagecodecs_szip" => {
                let c: SzipConfig = m.to_typed_configuration()?;
                if !c.header {
                    return Err(PluginCreateError::Other(
                        "imagecodecs_szip: only libhdf5's framing (header: true) is supported".into(),
                    ));
                }
                Kind::Szip([
                    c.options_mask,
                    c.pixels_per_block,
                    c.bits_per_pixel,
                    c.pixels_per_scanline,
                ])
            }
            "vzarr.scaleoffset" => Kind::ScaleOffset(m.to_typed_configuration::<ScaleOffsetConfig>()?.cd_values),
            other => return Err(PluginCreateError::NameInvalid { name: other.into() }),
        };
        Ok(Self { kind })
    }

    fn name(&self) -> &'static str {
        match self.kind {
            Kind::Lzf { .. } => NAMES[0],
            Kind::Lz4h5 { .. } => NAMES[1],
            Kind::Bitshuffle(_) => NAMES[2],
            Kind::Zstd { .. } => NAMES[3],
            Kind::Bz2 { .. } => NAMES[4],
            Kind::Szip(_) => NAMES[5],
            Kind::ScaleOffset(_) => NAMES[6],
        }
    }

    fn decode_bytes(&self, src: &[u8], cap: usize) -> Result<Vec<u8>, String> {
        match &self.kind {
            Kind::Lzf { header: false } => lzf_decode(src, cap),
            Kind::Lzf { header: true } => {
                let n = src
                    .get(..4)
                    .and_then(|b| b.try_into().ok())
                    .map(u32::from_le_bytes)
                    .ok_or("lzf: shorter than its 4-byte header")?;
                let n = usize::try_from(n).unwrap_or(usize::MAX);
                if n > cap {
                    return Err(too_large("lzf", cap));
                }
                let out = lzf_decode(src.get(4..).unwrap_or_default(), n)?;
                if out.len() != n {
                    return Err(format!("lzf: decoded {} bytes, header says {n}", out.len()));
                }
                Ok(out)
            }
            Kind::Lz4h5 { .. } => lz4h5_decode(src, cap),
            Kind::Bitshuffle(p) => bitshuffle_decode(src, *p, cap),
            Kind::Zstd { .. } => zstd_decode(src, cap),
            Kind::Bz2 { .. } => bz2_decode(src, cap),
            Kind::Szip(cd) => super::szip::szip_decode(src, cd, cap),
            Kind::ScaleOffset(cd) => scaleoffset_decode(src, cd, cap),
        }
    }

    fn encode_bytes(&self, src: &[u8]) -> Result<Vec<u8>, String> {
        match self.kind {
            Kind::Lzf { header } => {
                let mut out = Vec::new();
                if header {
                    out.extend_from_slice(&u32_len(src.len(), "lzf")?.to_le_bytes());
                }
                out.extend_from_slice(&lzf_encode_literal(src));
                Ok(out)
            }
            Kind::Lz4h5 { block, .. } => lz4h5_encode(src, block),
            Kind::Bitshuffle(p) => bitshuffle_encode(src, p),
            Kind::Zstd { level, checksum } => zstd_encode(src, level, checksum),
            Kind::Bz2 { level } => bz2_encode(src, level),
            Kind::Szip(_) | Kind::ScaleOffset(_) => Err(format!("{}: vzarr decodes only", self.name())),
        }
    }
}

impl zarrs_plugin::ExtensionName for FilterCodec {
    fn name(&self, _version: ZarrVersion) -> Option<Cow<'static, str>> {
        Some(Cow::Borrowed(FilterCodec::name(self)))
    }
}

impl CodecTraits for FilterCodec {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn configuration(&self, _version: ZarrVersion, _options: &CodecMetadataOptions) -> Option<Configuration> {
        use crate::model::BitshuffleCompression as C;
        let v = match &self.kind {
            Kind::Lzf { header } => serde_json::json!({ "header": header }),
            Kind::Lz4h5 { block, level } => {
                let mut m = serde_json::Map::new();
                if *block != 0 {
                    m.insert("blocksize".into(), (*block).into());
                }
                if let Some(l) = level {
                    m.insert("level".into(), (*l).into());
                }
                serde_json::Value::Object(m)
            }
            Kind::Bitshuffle(p) => {
                let mut v = serde_json::json!({"elementsize": p.elem, "blocksize": p.block});
                v["compression"] = match p.compression {
                    C::None => "none".into(),
                    C::Lz4 => "lz4".into(),
                    C::Zstd(level) => {
                        v["level"] = level.into();
                        "zstd".into()
                    }
                };
                v
            }
            Kind::Zstd { level, checksum } => serde_json::json!({"level": level, "checksum": checksum}),
            Kind::Bz2 { level } => serde_json::json!({ "level": level }),
            Kind::Szip([options_mask, pixels_per_block, bits_per_pixel, pixels_per_scanline]) => serde_json::json!({
                "options_mask": options_mask,
                "pixels_per_block": pixels_per_block,
                "bits_per_pixel": bits_per_pixel,
                "pixels_per_scanline": pixels_per_scanline,
                "header": true,
            }),
            Kind::ScaleOffset(cd) => serde_json::json!({ "cd_values": cd }),
        };
        match v {
            serde_json::Value::Object(m) => Some(Configuration::from(m)),
            _ => Some(Configuration::default()),
        }
    }

    fn partial_decoder_capability(&self) -> PartialDecoderCapability {
        PartialDecoderCapability {
            partial_read: false,
            partial_decode: false,
        }
    }

    fn partial_encoder_capability(&self) -> PartialEncoderCapability {
        PartialEncoderCapability { partial_encode: false }
    }
}

#[async_trait::async_trait]
impl BytesToBytesCodecTraits for FilterCodec {
    fn into_dyn(self: Arc<Self>) -> Arc<dyn BytesToBytesCodecTraits> {
        self
    }

    fn recommended_concurrency(&self, _r: &BytesRepresentation) -> Result<RecommendedConcurrency, CodecError> {
        Ok(RecommendedConcurrency::new_maximum(1))
    }

    fn encoded_representation(&self, r: &BytesRepresentation) -> BytesRepresentation {
        match (&self.kind, r) {
            // Plain bitshuffle keeps the size.
            (
                Kind::Bitshuffle(BitshuffleParams {
                    compression: crate::model::BitshuffleCompression::None,
                    ..
                }),
                _,
            ) => *r,
            _ => BytesRepresentation::UnboundedSize,
        }
    }

    fn encode<'a>(&self, v: ArrayBytesRaw<'a>, _o: &CodecOptions) -> Result<ArrayBytesRaw<'a>, CodecError> {
        self.encode_bytes(&v).map(Cow::Owned).map_err(CodecError::Other)
    }

    fn decode<'a>(
        &self,
        v: ArrayBytesRaw<'a>,
        r: &BytesRepresentation,
        _options: &CodecOptions,
    ) -> Result<ArrayBytesRaw<'a>, CodecError> {
        let (cap, exact) = match *r {
            BytesRepresentation::FixedSize(n) => (usize::try_from(n).unwrap_or(usize::MAX), true),
            BytesRepresentation::BoundedSize(n) => (usize::try_from(n).unwrap_or(usize::MAX), false),
            BytesRepresentation::UnboundedSize => (MAX_DECODED, false),
        };
        let out = self.decode_bytes(&v, cap).map_err(CodecError::Other)?;
        if exact && out.len() != cap {
            return Err(CodecError::Other(format!(
                "{}: decoded {} bytes, the chunk has {cap}",
                self.name(),
                out.len()
            )));
        }
        Ok(Cow::Owned(out))
    }
}

/// Install the codecs of this module in zarrs' runtime registry (idempotent). Called by
/// [`super::ext::register`].
pub fn register() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _handle = zarrs_codec::register_codec_v3(zarrs_codec::CodecRuntimePluginV3::new(
            |name| NAMES.contains(&name),
            |metadata| {
                Ok(zarrs_codec::Codec::BytesToBytes(Arc::new(FilterCodec::from_metadata(
                    metadata,
                )?)))
            },
        ));
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::BitshuffleCompression as C;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// 120 bytes: a 40-byte pattern three times.
    fn sample() -> Vec<u8> {
        (0..120u32).map(|i| ((i % 40) * (i % 40) % 251) as u8).collect()
    }

    const BS: fn(usize, usize, C) -> BitshuffleParams = |elem, block, compression| BitshuffleParams {
        elem,
        block,
        compression,
    };

    #[test]
    fn bitshuffle_matches_imagecodecs() {
        // Reference: imagecodecs.bitshuffle_encode(raw, itemsize=2, blocksize=8) (bitshuffle
        // 0.5.2): two blocks of 8 elements, then 4 elements untransposed.
        let raw = hex("1100489e8e3cc5da0b79511788b5ce5305f24b90912ec8cc0e6b54098ba7d14508e44e829420cbbe");
        let reference = hex("39948cd62100aaccf0aa661efe54984ac752315aa400aaccf055cc3c0355994b08e44e829420cbbe");
        let p = BS(2, 8, C::None);
        assert_eq!(bitshuffle_encode(&raw, p).unwrap(), reference);
        assert_eq!(bitshuffle_decode(&reference, p, 40).unwrap(), raw);
        // Framed variants round-trip, odd element counts and default block sizes included.
        for (n, elem, block) in [(1000usize, 4usize, 0usize), (63, 2, 0), (300, 8, 16), (7, 1, 8)] {
            let raw: Vec<u8> = (0..n * elem).map(|i| (i * 31 / 7) as u8).collect();
            for c in [C::None, C::Lz4, C::Zstd(3)] {
                let p = BS(elem, block, c);
                let enc = bitshuffle_encode(&raw, p).unwrap();
                assert_eq!(
                    bitshuffle_decode(&enc, p, raw.len()).unwrap(),
                    raw,
                    "{n} {elem} {block} {c:?}"
                );
            }
        }
        assert_eq!(bitshuffle_default_block(4), 2048);
        assert_eq!(bitshuffle_default_block(128), 128);
    }

    #[test]
    fn lz4h5_and_lzf_decode_imagecodecs_output() {
        // Reference: imagecodecs.lz4h5_encode(sample, blocksize=48): blocks stored raw.
        let lz4 = hex(concat!(
            "0000000000000078000000300000003000010409101924314051647990a9c4e10526496e95bee91b4a7baee31f58",
            "93d0145598dd2972bd0f0001040910192431000000304051647990a9c4e10526496e95bee91b4a7baee31f5893d0",
            "145598dd2972bd0f00010409101924314051647990a9c4e1000000180526496e95bee91b4a7baee31f5893d01455",
            "98dd2972bd0f"
        ));
        assert_eq!(lz4h5_decode(&lz4, 120).unwrap(), sample());
        // Reference: imagecodecs.lzf_encode(sample, header=False) (liblzf 1.5).
        let lzf = hex(concat!(
            "1f00010409101924314051647990a9c4e10526496e95bee91b4a7baee31f5893d008145598dd2972bd0f00e044",
            "2701bd0f"
        ));
        assert_eq!(lzf_decode(&lzf, 120).unwrap(), sample());
        // Our encoders round-trip, compressed and raw blocks alike.
        let mut big = sample().repeat(50);
        big.extend((0..777u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
        for block in [0, 64, 100, 4096] {
            let e = lz4h5_encode(&big, block).unwrap();
            assert_eq!(lz4h5_decode(&e, big.len()).unwrap(), big);
        }
        assert_eq!(lzf_decode(&lzf_encode_literal(&big), big.len()).unwrap(), big);
        assert_eq!(lzf_decode(&[], 10).unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn hostile_inputs_give_errors_not_panics() {
        let raw: Vec<u8> = sample().repeat(20);
        let n = raw.len();
        let encoded: Vec<(&str, Vec<u8>)> = vec![
            ("lzf", lzf_encode_literal(&raw)),
            ("lz4h5", lz4h5_encode(&raw, 100).unwrap()),
            ("bslz4", bitshuffle_encode(&raw, BS(4, 0, C::Lz4)).unwrap()),
            ("bszstd", bitshuffle_encode(&raw, BS(4, 16, C::Zstd(1))).unwrap()),
            ("zstd", zstd_encode(&raw, 3, true).unwrap()),
            ("bz2", bz2_encode(&raw, 9).unwrap()),
        ];
        let dec = |name: &str, b: &[u8], cap: usize| match name {
            "lzf" => lzf_decode(b, cap),
            "lz4h5" => lz4h5_decode(b, cap),
            "bslz4" => bitshuffle_decode(b, BS(4, 0, C::Lz4), cap),
            "bszstd" => bitshuffle_decode(b, BS(4, 16, C::Zstd(1)), cap),
            "zstd" => zstd_decode(b, cap),
            _ => bz2_decode(b, cap),
        };
        for (name, e) in &encoded {
            assert_eq!(dec(name, e, n).unwrap(), raw, "{name}");
            // Too small a bound is an error, not a larger output.
            assert!(dec(name, e, n - 1).is_err(), "{name} exceeded its bound");
            // Every truncation fails (LZF can end early on a run boundary: then the output is short).
            for cut in 0..e.len() {
                match dec(name, &e[..cut], n) {
                    Err(_) => {}
                    Ok(out) => assert!(out.len() < n, "{name} cut at {cut} decoded in full"),
                }
            }
            // Flipped bytes never panic.
            for i in 0..e.len() {
                let mut b = e.clone();
                b[i] ^= 0xA5;
                let _ = dec(name, &b, n);
            }
        }
        // Size bombs: headers claiming huge outputs are refused before allocating.
        let mut bomb = u64::MAX.to_be_bytes().to_vec();
        bomb.extend_from_slice(&8192u32.to_be_bytes());
        assert!(lz4h5_decode(&bomb, MAX_DECODED).unwrap_err().contains("header claims"));
        assert!(bitshuffle_decode(&bomb, BS(4, 0, C::Lz4), MAX_DECODED)
            .unwrap_err()
            .contains("header claims"));
        let zeros = vec![0u8; 4 << 20];
        for (name, e) in [
            ("zstd", zstd_encode(&zeros, 19, false).unwrap()),
            ("bz2", bz2_encode(&zeros, 9).unwrap()),
            ("lz4h5", lz4h5_encode(&zeros, 0).unwrap()),
        ] {
            assert!(e.len() < 1 << 16, "{name} bomb is small");
            let err = dec(name, &e, 1 << 20).unwrap_err();
            assert!(
                err.contains("larger than") || err.contains("header claims"),
                "{name}: {err}"
            );
        }
        // An LZF back reference before the start, a zero LZ4 block size.
        assert!(lzf_decode(&[0x20, 0x05], 100).is_err());
        let mut z = 16u64.to_be_bytes().to_vec();
        z.extend_from_slice(&0u32.to_be_bytes());
        assert!(lz4h5_decode(&z, 100).is_err());
    }

    #[test]
    fn blosc_memcpyed_is_read_by_zarrs_blosc() {
        let raw = sample();
        let store = Arc::new(zarrs::storage::store::MemoryStore::new());
        let meta = serde_json::json!({
            "zarr_format": 3, "node_type": "array", "shape": [30], "data_type": "uint32",
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [30]}},
            "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
            "fill_value": 0, "codecs": [{"name": "bytes", "configuration": {"endian": "little"}},
                {"name": "blosc", "configuration": {"cname": "zstd", "clevel": 5, "shuffle": "shuffle", "typesize": 4, "blocksize": 0}}]
        });
        let got = read_through_zarrs(&store, &meta, blosc_memcpyed(&raw, 4).unwrap(), 30);
        assert_eq!(got, raw);
    }

    fn read_through_zarrs(
        store: &Arc<zarrs::storage::store::MemoryStore>,
        meta: &serde_json::Value,
        chunk: Vec<u8>,
        n: u64,
    ) -> Vec<u8> {
        use zarrs::array::ArraySubset;
        use zarrs::storage::WritableStorageTraits;
        super::super::ext::register();
        store
            .set(
                &"a/zarr.json".try_into().unwrap(),
                serde_json::to_vec(meta).unwrap().into(),
            )
            .unwrap();
        store.set(&"a/c/0".try_into().unwrap(), chunk.into()).unwrap();
        let a = zarrs::array::Array::open(store.clone(), "/a").unwrap();
        let v: Vec<u32> = a.retrieve_array_subset(&ArraySubset::new_with_shape(vec![n])).unwrap();
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn zarrs_decodes_every_registered_name() {
        let raw = sample();
        let cases = [
            (
                serde_json::json!({"name": "imagecodecs_lzf", "configuration": {"header": false}}),
                lzf_encode_literal(&raw),
            ),
            (
                serde_json::json!({"name": "imagecodecs_lz4h5"}),
                lz4h5_encode(&raw, 32).unwrap(),
            ),
            (
                serde_json::json!({"name": "vzarr.bitshuffle", "configuration": {"elementsize": 4, "blocksize": 0, "compression": "lz4"}}),
                bitshuffle_encode(&raw, BS(4, 0, C::Lz4)).unwrap(),
            ),
            (
                serde_json::json!({"name": "vzarr.bitshuffle", "configuration": {"elementsize": 4, "blocksize": 8, "compression": "zstd", "level": 3}}),
                bitshuffle_encode(&raw, BS(4, 8, C::Zstd(3))).unwrap(),
            ),
            (
                serde_json::json!({"name": "zstd", "configuration": {"level": 3, "checksum": false}}),
                zstd_encode(&raw, 3, false).unwrap(),
            ),
            (
                serde_json::json!({"name": "numcodecs.bz2", "configuration": {"level": 9}}),
                bz2_encode(&raw, 9).unwrap(),
            ),
        ];
        for (codec, chunk) in cases {
            let store = Arc::new(zarrs::storage::store::MemoryStore::new());
            let meta = serde_json::json!({
                "zarr_format": 3, "node_type": "array", "shape": [30], "data_type": "uint32",
                "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [30]}},
                "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
                "fill_value": 0, "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, codec.clone()]
            });
            assert_eq!(read_through_zarrs(&store, &meta, chunk, 30), raw, "{codec}");
        }
        // A chunk that decodes to the wrong size is an error, not a misread.
        let store = Arc::new(zarrs::storage::store::MemoryStore::new());
        let meta = serde_json::json!({
            "zarr_format": 3, "node_type": "array", "shape": [30], "data_type": "uint32",
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [30]}},
            "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
            "fill_value": 0, "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "imagecodecs_lzf", "configuration": {"header": false}}]
        });
        use zarrs::storage::WritableStorageTraits;
        super::super::ext::register();
        store
            .set(
                &"a/zarr.json".try_into().unwrap(),
                serde_json::to_vec(&meta).unwrap().into(),
            )
            .unwrap();
        store
            .set(&"a/c/0".try_into().unwrap(), lzf_encode_literal(&raw[..100]).into())
            .unwrap();
        let a = zarrs::array::Array::open(store, "/a").unwrap();
        let r: Result<Vec<u32>, _> = a.retrieve_array_subset(&zarrs::array::ArraySubset::new_with_shape(vec![30]));
        assert!(r.is_err());
    }
}
