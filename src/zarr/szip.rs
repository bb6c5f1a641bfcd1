//! Decoder for HDF5's szip filter (filter id 4) as written by libhdf5 linked
//! against libaec's SZIP compatibility layer, built on the pure-Rust
//! `tensogram-szip` AEC (CCSDS 121.0-B-3) decoder.
//!
//! # Chunk framing
//!
//! libhdf5 prefixes every szip-coded chunk with the size of the decoded
//! chunk in bytes, as a 4-byte unsigned integer in little-endian order
//! (whatever the dataset's byte order). The AEC bit stream follows directly
//! and runs to the end of the stored chunk; it carries no header of its own
//! (the "raw" option that libhdf5 always sets).
//!
//! # Filter parameters
//!
//! The filter's four client-data values, as stored in the file after libhdf5
//! rewrote them at dataset creation, are:
//! `[options_mask, pixels_per_block, bits_per_pixel, pixels_per_scanline]`.
//!
//! * `options_mask` bits: 1 = allow k=13 (ignored), 2 = chip (ignored),
//!   4 = entropy coding only, 8 = LSB-first samples, 16 = MSB-first samples,
//!   32 = nearest-neighbour preprocessing, 128 = raw stream (ignored: the
//!   stream is always raw). Bit 16 selects big-endian samples (it wins over
//!   bit 8); bit 32 turns on the AEC preprocessor (it wins over bit 4).
//!   Samples are always unsigned: the szip options have no signed mode.
//! * `pixels_per_block` is the AEC block size (even, 2..=32; sizes other
//!   than 8/16/32 need the decoder's "not enforced" mode).
//! * The reference sample interval (in blocks) is one scanline:
//!   `rsi = ceil(pixels_per_scanline / pixels_per_block)`.
//! * `bits_per_pixel` is the sample precision. 1..=8 bits are held in one
//!   byte, 9..=16 in two, 17..=31 in four (the compatibility layer uses
//!   4-byte containers for 17..=24 bits too, even where the HDF5 type is
//!   3 bytes wide; libhdf5 then decodes the chunk exactly so, and so do we).
//!   32- and 64-bit pixels are not coded as such: the chunk is split into
//!   byte planes (byte 0 of every pixel, then byte 1 of every pixel, ..., in
//!   the pixels' memory order, whatever the MSB/LSB bit says) and the whole
//!   plane sequence is coded as 8-bit samples.
//!
//! # Scanline padding
//!
//! The sample sequence (pixels, or bytes of the plane sequence for 32/64-bit
//! pixels) is cut into scanlines of `pixels_per_scanline` samples. When that
//! is not a multiple of the block size, every complete scanline is padded
//! to `rsi * pixels_per_block` samples before coding, so each scanline is
//! exactly one RSI. The last, incomplete scanline is not padded beyond its
//! last block. The decoder decodes the padded sequence and drops the pad.
//! libhdf5 always chooses `pixels_per_scanline >= pixels_per_block`, so the
//! pad is less than the scanline; parameters whose padding would more than
//! double a scanline are refused.
//!
//! # Untrusted input
//!
//! The function never panics on any input, uses checked arithmetic, refuses
//! a length prefix above `out_cap`, and only allocates its output (at most
//! `out_cap` bytes). The AEC library's own working memory is proportional to
//! the padded sample count (4 bytes per sample plus its byte output: up to
//! about 10x `out_cap` for 8-bit samples with the worst accepted padding,
//! about 5x without padding). A stream containing a run of zero bits that no
//! encoder produces (it would make the library materialise a huge zero-block
//! run) is refused before decoding.
//!
//! # Library fix required
//!
//! tensogram-szip 0.24.0 as published mis-decodes Second-Extension blocks that
//! carry a reference sample (first block of a scanline with preprocessing):
//! it returns wrong data without an error. This crate builds against a copy
//! with a small fix (`vendor/tensogram-szip`, see its `MODIFIED.md`).

use tensogram_szip::{aec_decompress, AecParams, AEC_DATA_MSB, AEC_DATA_PREPROCESS, AEC_NOT_ENFORCE};

/// `options_mask` bit: samples are MSB first (big-endian).
const SZ_MSB_OPTION_MASK: u32 = 16;
/// `options_mask` bit: nearest-neighbour preprocessing.
const SZ_NN_OPTION_MASK: u32 = 32;

/// Largest run of zero bits accepted in a stream. A stream written by an
/// encoder that picks the shortest coding option never contains runs longer
/// than roughly one uncompressed block (32 samples x 24 bits) plus a few
/// dozen header bits; this leaves a wide margin while bounding the memory a
/// forged zero-block run could make the AEC library allocate
/// (run x block size x 4 bytes, about 2 MiB).
const MAX_ZERO_RUN_BITS: u64 = 16_384;

/// Decode one chunk of HDF5's szip filter. `cd`: the filter's client data as stored in the
/// file (options mask, pixels per block, bits per pixel, pixels per scanline);
/// `out_cap`: the largest decoded size accepted (the chunk's element count × element size).
///
/// The chunk starts with a 4-byte little-endian decoded size, followed by the AEC stream.
/// Returns exactly that many decoded bytes, in the dataset's own byte order, or an error
/// naming "szip" and the problem: too few or invalid client-data values, a length prefix
/// larger than `out_cap` or not a whole number of samples, a truncated or corrupt stream.
/// Never panics and never allocates more than `out_cap` bytes for the result.
pub fn szip_decode(chunk: &[u8], cd: &[u32], out_cap: usize) -> Result<Vec<u8>, String> {
    let layout = Layout::from_cd(cd)?;

    // --- framing: 4-byte little-endian decoded size ---
    if chunk.len() < 4 {
        return Err(format!(
            "szip: chunk of {} bytes is too short for the 4-byte length prefix",
            chunk.len()
        ));
    }
    let n = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
    let n = usize::try_from(n).map_err(|_| format!("szip: length prefix {n} does not fit in memory"))?;
    if n > out_cap {
        return Err(format!(
            "szip: length prefix {n} exceeds the largest accepted decoded size {out_cap}"
        ));
    }
    let stream = &chunk[4..];
    if n == 0 {
        return Ok(Vec::new());
    }
    if !n.is_multiple_of(layout.pixel_bytes) {
        return Err(format!(
            "szip: length prefix {n} is not a whole number of {}-byte samples",
            layout.pixel_bytes
        ));
    }
    if stream.is_empty() {
        return Err(format!("szip: chunk has no coded data but declares {n} decoded bytes"));
    }

    // --- sample counts, with and without scanline padding ---
    // Samples as coded: pixels, or bytes of the plane sequence when interleaved.
    let samples = n / layout.out_width;
    let pps = layout.pps;
    let padded_sl = layout.padded_scanline;
    let full_lines = samples / pps;
    let rest = samples % pps;
    let coded_samples = full_lines
        .checked_mul(padded_sl)
        .and_then(|v| v.checked_add(rest))
        .ok_or_else(|| "szip: padded sample count overflows".to_string())?;
    let coded_bytes = coded_samples
        .checked_mul(layout.aec_width)
        .ok_or_else(|| "szip: padded decoded size overflows".to_string())?;

    // --- refuse forged zero runs before handing the stream to the library ---
    let run = longest_zero_run(stream);
    if run > MAX_ZERO_RUN_BITS {
        return Err(format!(
            "szip: corrupt stream (run of {run} zero bits, longer than any valid coding)"
        ));
    }

    let params = AecParams {
        bits_per_sample: layout.bits_per_sample,
        block_size: layout.ppb as u32,
        rsi: layout.rsi,
        flags: layout.flags,
    };
    let decoded =
        aec_decompress(stream, coded_bytes, &params).map_err(|e| format!("szip: corrupt or truncated stream: {e}"))?;
    if decoded.len() != coded_bytes {
        return Err(format!(
            "szip: stream decoded to {} bytes, expected {coded_bytes} (truncated or corrupt)",
            decoded.len()
        ));
    }

    // --- undo padding, container width and byte-plane interleave ---
    let mut out: Vec<u8> = Vec::new();
    out.try_reserve_exact(n)
        .map_err(|_| format!("szip: cannot allocate {n} bytes for the decoded chunk"))?;
    // Position of coded sample `i` (unpadded index) in the padded sequence.
    let src_of = |i: usize| (i / pps) * padded_sl + (i % pps);

    if layout.planes > 1 {
        // 32/64-bit pixels: decoded samples are bytes of the plane sequence.
        let w = layout.planes;
        let pixels = n / w;
        for p in 0..pixels {
            for k in 0..w {
                // plane k, pixel p -> sample index k * pixels + p (< n, no overflow)
                out.push(decoded[src_of(k * pixels + p)]);
            }
        }
    } else if layout.aec_width == layout.out_width {
        let w = layout.out_width;
        if padded_sl == pps {
            out.extend_from_slice(&decoded[..n]);
        } else {
            for i in 0..samples {
                let s = src_of(i) * w;
                out.extend_from_slice(&decoded[s..s + w]);
            }
        }
    } else {
        // 17..=24 bits: decoder yields 3-byte samples; HDF5's data holds them
        // in 4-byte containers with a zero top byte.
        let msb = layout.flags & AEC_DATA_MSB != 0;
        for i in 0..samples {
            let s = src_of(i) * 3;
            let b = &decoded[s..s + 3];
            if msb {
                out.extend_from_slice(&[0, b[0], b[1], b[2]]);
            } else {
                out.extend_from_slice(&[b[0], b[1], b[2], 0]);
            }
        }
    }
    debug_assert_eq!(out.len(), n);
    Ok(out)
}

/// Encode `raw` (whole pixels, the dataset's bytes) as libhdf5's szip filter would with client
/// data `cd`: the exact inverse of [`szip_decode`] (byte planes for 32/64-bit pixels, 3-byte
/// samples for 17–24 bits, every complete scanline padded to whole blocks), coded by the
/// vendored AEC encoder and prefixed with the 4-byte little-endian length. Used to re-encode
/// chunks libhdf5 stored with the optional szip filter skipped.
pub fn szip_encode(raw: &[u8], cd: &[u32]) -> Result<Vec<u8>, String> {
    let layout = Layout::from_cd(cd)?;
    let n = raw.len();
    let prefix = u32::try_from(n).map_err(|_| format!("szip: {n} bytes do not fit the 4-byte length prefix"))?;
    if !n.is_multiple_of(layout.pixel_bytes) {
        return Err(format!(
            "szip: {n} bytes are not whole {}-byte pixels",
            layout.pixel_bytes
        ));
    }
    let mut out = prefix.to_le_bytes().to_vec();
    if n == 0 {
        return Ok(out);
    }
    // Coded samples in order, each `aec_width` bytes, without padding.
    let samples: Vec<u8> = if layout.planes > 1 {
        let w = layout.planes;
        let pixels = n / w;
        (0..n).map(|i| raw[(i % pixels) * w + i / pixels]).collect()
    } else if layout.aec_width == layout.out_width {
        raw.to_vec()
    } else {
        let msb = layout.flags & AEC_DATA_MSB != 0;
        raw.chunks_exact(4)
            .flat_map(|b| if msb { [b[1], b[2], b[3]] } else { [b[0], b[1], b[2]] })
            .collect()
    };
    let w = layout.aec_width;
    let mut coded = Vec::with_capacity(samples.len().saturating_mul(2));
    for line in samples.chunks(layout.pps * w) {
        coded.extend_from_slice(line);
        if line.len() == layout.pps * w {
            coded.resize(coded.len() + (layout.padded_scanline - layout.pps) * w, 0);
        }
    }
    let params = AecParams {
        bits_per_sample: layout.bits_per_sample,
        block_size: layout.ppb as u32,
        rsi: layout.rsi,
        flags: layout.flags,
    };
    let stream = tensogram_szip::aec_compress_no_offsets(&coded, &params).map_err(|e| format!("szip: {e}"))?;
    out.extend_from_slice(&stream);
    Ok(out)
}

/// How the client-data values translate into AEC parameters and sample layout.
#[derive(Debug)]
struct Layout {
    flags: u32,
    bits_per_sample: u32,
    ppb: usize,
    pps: usize,
    rsi: u32,
    /// `rsi * ppb`: samples per coded (padded) scanline.
    padded_scanline: usize,
    /// Bytes per sample in the AEC decoder's output (1, 2, 3 or 4).
    aec_width: usize,
    /// Bytes per coded sample in the HDF5 chunk (1, 2 or 4; 1 when interleaved).
    out_width: usize,
    /// Byte planes for 32/64-bit pixels (4 or 8), else 1.
    planes: usize,
    /// Bytes per HDF5 pixel (decoded size must be a multiple).
    pixel_bytes: usize,
}

impl Layout {
    fn from_cd(cd: &[u32]) -> Result<Layout, String> {
        if cd.len() < 4 {
            return Err(format!(
                "szip: filter needs 4 client-data values (options mask, pixels per block, \
                 bits per pixel, pixels per scanline), got {}",
                cd.len()
            ));
        }
        let (mask, ppb, bpp, pps) = (cd[0], cd[1], cd[2], cd[3]);

        if !(2..=32).contains(&ppb) || !ppb.is_multiple_of(2) {
            return Err(format!(
                "szip: pixels per block must be an even number from 2 to 32, got {ppb}"
            ));
        }
        if pps == 0 {
            return Err("szip: pixels per scanline is 0".to_string());
        }
        let rsi = pps.div_ceil(ppb);
        if rsi > 4096 {
            return Err(format!(
                "szip: pixels per scanline {pps} is too large for pixels per block {ppb} \
                 ({rsi} blocks per scanline, at most 4096)"
            ));
        }
        // libhdf5 always picks pixels_per_scanline >= pixels_per_block, so a
        // padded scanline is less than twice as long as the real one. Shorter
        // scanlines (which libaec would pad up to one block each) are decoded
        // only while the padding at most doubles the data.
        let padded = u64::from(rsi) * u64::from(ppb);
        if padded > 2 * u64::from(pps) {
            return Err(format!(
                "szip: scanline padding refused: pixels per scanline {pps} with pixels per \
                 block {ppb} pads every scanline to {padded} samples (more than twice)"
            ));
        }

        let mut flags = AEC_NOT_ENFORCE;
        if mask & SZ_MSB_OPTION_MASK != 0 {
            flags |= AEC_DATA_MSB;
        }
        if mask & SZ_NN_OPTION_MASK != 0 {
            flags |= AEC_DATA_PREPROCESS;
        }

        // (bits per sample, aec width, out width, planes, pixel bytes)
        let (bits_per_sample, aec_width, out_width, planes, pixel_bytes) = match bpp {
            1..=8 => (bpp, 1, 1, 1, 1),
            9..=16 => (bpp, 2, 2, 1, 2),
            17..=24 => (bpp, 3, 4, 1, 4),
            25..=31 => (bpp, 4, 4, 1, 4),
            32 => (8, 1, 1, 4, 4),
            64 => (8, 1, 1, 8, 8),
            _ => return Err(format!("szip: bits per pixel must be 1 to 32 or 64, got {bpp}")),
        };
        let ppb = ppb as usize;
        let pps = pps as usize;
        Ok(Layout {
            flags,
            bits_per_sample,
            ppb,
            pps,
            rsi,
            padded_scanline: rsi as usize * ppb,
            aec_width,
            out_width,
            planes,
            pixel_bytes,
        })
    }
}

/// Length in bits of the longest run of consecutive zero bits in `data`.
fn longest_zero_run(data: &[u8]) -> u64 {
    let mut best: u64 = 0;
    let mut run: u64 = 0;
    for &b in data {
        if b == 0 {
            run += 8;
        } else {
            run += u64::from(b.leading_zeros());
            best = best.max(run);
            run = u64::from(b.trailing_zeros());
        }
    }
    best.max(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expect_err(r: Result<Vec<u8>, String>, what: &str) -> String {
        match r {
            Err(e) => {
                assert!(e.starts_with("szip: "), "{what}: message {e:?}");
                e
            }
            Ok(v) => panic!("{what}: decoded {} bytes instead of failing", v.len()),
        }
    }

    #[test]
    fn empty_and_short_chunks() {
        let cd = [169, 8, 16, 64];
        let e = expect_err(szip_decode(&[], &cd, 128), "empty");
        assert!(e.contains("too short"), "{e}");
        let e = expect_err(szip_decode(&[0x80, 0, 0], &cd, 128), "3 bytes");
        assert!(e.contains("too short"), "{e}");
        // prefix only, no stream
        let e = expect_err(szip_decode(&[0x80, 0, 0, 0], &cd, 128), "prefix only");
        assert!(e.contains("no coded data"), "{e}");
        // zero-length prefix decodes to nothing
        assert_eq!(szip_decode(&[0, 0, 0, 0], &cd, 128).unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn padding_amplification_refused() {
        // pps 1 with 32-pixel blocks would pad 32x
        let mut chunk = 4000u32.to_le_bytes().to_vec();
        chunk.extend_from_slice(&[0xff; 64]);
        let e = expect_err(szip_decode(&chunk, &[169, 32, 8, 1], 4000), "pps 1");
        assert!(e.contains("padding"), "{e}");
    }

    #[test]
    fn zero_runs_refused() {
        // an all-zero stream is a chain of huge zero-block runs
        let mut chunk = 1_000_000u32.to_le_bytes().to_vec();
        chunk.extend(std::iter::repeat_n(0u8, 100_000));
        let e = expect_err(szip_decode(&chunk, &[141, 32, 8, 4096], 1_000_000), "zeros");
        assert!(e.contains("zero bits"), "{e}");
        assert_eq!(longest_zero_run(&[0x01, 0, 0x80]), 8);
        assert_eq!(longest_zero_run(&[0x80, 0, 0x01]), 22);
        assert_eq!(longest_zero_run(&[0x10, 0x00]), 12);
        assert_eq!(longest_zero_run(&[]), 0);
        assert_eq!(longest_zero_run(&[0xff]), 0);
    }

    /// [`szip_encode`] inverts [`szip_decode`] for every pixel width and padded scanlines.
    #[test]
    fn encode_inverts_decode() {
        let raw: Vec<u8> = (0u32..840).map(|i| (i * 37 % 251) as u8).collect();
        for (bpp, mask) in [
            (8, 32 | 128),
            (16, 4 | 128),
            (16, 16 | 32 | 128),
            (32, 32 | 128),
            (64, 4 | 128),
            (20, 32 | 128),
        ] {
            for (ppb, pps) in [(8, 24), (16, 40), (32, 32)] {
                let cd = [mask, ppb, bpp, pps];
                let mut data = raw.clone();
                if bpp == 20 {
                    // 20 significant bits in 4-byte containers (the top byte is zero).
                    data.chunks_exact_mut(4).for_each(|c| {
                        c[2] &= 0x0f;
                        c[3] = 0;
                    });
                }
                let enc = szip_encode(&data, &cd).unwrap();
                assert_eq!(szip_decode(&enc, &cd, data.len()).unwrap(), data, "{cd:?}");
            }
        }
    }

    /// An AEC stream from the (vendored) encoder, framed as libhdf5 frames it, decodes back;
    /// every truncation and bit flip of it gives an error or in-bounds bytes, never a panic.
    #[test]
    fn framed_stream_round_trips_and_damage_is_contained() {
        use tensogram_szip::aec_compress_no_offsets;
        let data: Vec<u8> = (0u32..512)
            .flat_map(|i| ((i * 7) % 300).to_le_bytes()[..2].to_vec())
            .collect();
        // 16-bit pixels, 16 per block, 64 per scanline, nearest-neighbour, LSB first.
        let cd = [SZ_NN_OPTION_MASK | 8 | 128, 16, 16, 64];
        let params = AecParams {
            bits_per_sample: 16,
            block_size: 16,
            rsi: 4,
            flags: AEC_DATA_PREPROCESS,
        };
        let stream = aec_compress_no_offsets(&data, &params).unwrap();
        let mut chunk = u32::try_from(data.len()).unwrap().to_le_bytes().to_vec();
        chunk.extend_from_slice(&stream);
        assert_eq!(szip_decode(&chunk, &cd, data.len()).unwrap(), data);
        assert!(szip_decode(&chunk, &cd, data.len() - 1).is_err(), "prefix over the cap");
        assert!(
            szip_decode(&chunk, &cd[..3], data.len()).is_err(),
            "three client values"
        );
        for n in 0..chunk.len() {
            if let Ok(v) = szip_decode(&chunk[..n], &cd, data.len()) {
                assert!(v.len() <= data.len());
            }
        }
        for i in 0..chunk.len() * 8 {
            let mut c = chunk.clone();
            c[i / 8] ^= 1 << (i % 8);
            if let Ok(v) = szip_decode(&c, &cd, data.len()) {
                assert!(v.len() <= data.len());
            }
        }
    }
}
