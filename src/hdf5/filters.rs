//! HDF5 filter pipelines → model codecs, and re-encoding of chunks that skipped filters.
//!
//! Mapping (DESIGN §3), in pipeline order after the `bytes` codec:
//!
//! | HDF5 filter (id)      | model codec                 | Zarr name                  |
//! |-----------------------|-----------------------------|----------------------------|
//! | deflate (1)           | [`Codec::Zlib`]             | `numcodecs.zlib`           |
//! | shuffle (2)           | [`Codec::Shuffle`]          | `numcodecs.shuffle`        |
//! | fletcher32 (3)        | [`Codec::Fletcher32`]       | `numcodecs.fletcher32`     |
//! | bzip2 (307)           | [`Codec::Bz2`]              | `numcodecs.bz2`            |
//! | lzf (32000)           | [`Codec::Lzf`]              | `imagecodecs_lzf`          |
//! | blosc (32001)         | [`Codec::Blosc`]            | `blosc`                    |
//! | lz4 (32004)           | [`Codec::Lz4Hdf5`]          | `imagecodecs_lz4h5`        |
//! | bitshuffle (32008)    | [`Codec::Bitshuffle`]       | `vzarr.bitshuffle`         |
//! | zstd (32015)          | [`Codec::Zstd`]             | `zstd`                     |
//! | szip (4)              | [`Codec::Szip`]             | `imagecodecs_szip`         |
//! | scale-offset (6)      | [`Codec::ScaleOffset`]      | `vzarr.scaleoffset`        |
//!
//! A filter listed twice becomes two codecs. Any other filter (n-bit, other third-party
//! ids), optional or not, refuses the array by name, as do parameters the codec cannot
//! express (an unknown Blosc compressor, a bitshuffle block size that is not a
//! multiple of 8, an unknown bitshuffle compression).
//!
//! A chunk whose filter mask is nonzero was stored with some filters skipped (h5py marks every
//! plugin filter optional, and lzf and blosc skip chunks they cannot shrink); its bytes would
//! not decode through the array's codecs. [`reencode`] undoes the filters that were applied
//! and encodes the raw bytes with the whole pipeline, so the result is stored inline and
//! decodes to exactly what libhdf5 returns. Filters it cannot redo or undo (undoing blosc)
//! refuse the array by name.

use std::io::{Read, Write};

use super::messages::filter_pipeline::Filter;
use super::raw::filter;
use crate::model::{BitshuffleCompression, BloscCompressor, BloscShuffle, Codec};
use crate::zarr::filters_ext as fx;

/// Largest decoded chunk accepted when re-encoding (guards against zlib bombs).
const MAX_DECODED: usize = 1 << 30;

/// Registered ids of the third-party filters vzarr maps.
mod id {
    pub(super) const BZIP2: u16 = 307;
    pub(super) const LZF: u16 = 32000;
    pub(super) const BLOSC: u16 = 32001;
    pub(super) const LZ4: u16 = 32004;
    pub(super) const BITSHUFFLE: u16 = 32008;
    pub(super) const ZSTD: u16 = 32015;
}

/// The first shuffle codec that follows another (non-shuffle) codec: its position and
/// element size.
fn late_shuffle(codecs: &[Codec]) -> Option<(usize, u32)> {
    let mut seen_other = false;
    for (i, c) in codecs.iter().enumerate() {
        match c {
            Codec::Bytes(_) => {}
            Codec::Shuffle { element_size } if seen_other => return Some((i, *element_size)),
            Codec::Shuffle { .. } => {}
            _ => seen_other = true,
        }
    }
    None
}

/// Whether a shuffle codec follows another (non-shuffle) codec: then
/// [`check_shuffle_position`] depends on the stored chunk lengths.
pub(crate) fn shuffle_after_other(codecs: &[Codec]) -> bool {
    late_shuffle(codecs).is_some()
}

/// A shuffle after a filter that changes the length (deflate then shuffle) works on a byte
/// stream whose length need not be a multiple of the element size; libhdf5 leaves the tail
/// unshuffled, numcodecs and zarrs reject it. Refused rather than read differently.
pub(crate) fn check_shuffle_position(
    codecs: &[Codec],
    chunks: &std::collections::BTreeMap<Vec<u64>, crate::model::ChunkRef>,
) -> Result<(), (String, String)> {
    let Some((i, element_size)) = late_shuffle(codecs) else {
        return Ok(());
    };
    // As the last codec, its input is the stored chunk: fine if every stored length is a
    // whole number of elements.
    let es = u64::from(element_size).max(1);
    let whole = i + 1 == codecs.len()
        && chunks.values().all(|c| match c {
            crate::model::ChunkRef::Virtual { length, .. } => length.is_multiple_of(es),
            crate::model::ChunkRef::Inline(b) => (b.len() as u64).is_multiple_of(es),
            crate::model::ChunkRef::Missing => true,
        });
    if whole {
        Ok(())
    } else {
        Err((
            "shuffle after a compression filter".into(),
            "shuffle of compressed bytes leaves a tail libhdf5 does not shuffle; \
             numcodecs' shuffle cannot express it"
                .into(),
        ))
    }
}

/// Client data value `i` of a filter, if present.
fn cd(f: &Filter, i: usize) -> Option<u32> {
    f.client_data.get(i).copied()
}

/// The codecs after `bytes` for a filter pipeline, or `(feature, reason)` naming the first
/// filter that has no codec.
pub(crate) fn codecs_for(filters: &[Filter], elem_size: u32) -> Result<Vec<Codec>, (String, String)> {
    filters.iter().map(|f| codec_for(f, elem_size)).collect()
}

fn codec_for(f: &Filter, elem_size: u32) -> Result<Codec, (String, String)> {
    let name = f.display_name();
    let id = f.id;
    let refuse = |why: String| {
        (
            format!("filter {name} (id {id})"),
            format!("HDF5 filter {name} (id {id}): {why}"),
        )
    };
    Ok(match f.id {
        filter::DEFLATE => Codec::Zlib {
            level: cd(f, 0).unwrap_or(6),
        },
        filter::SHUFFLE => Codec::Shuffle {
            element_size: shuffle_size(f, elem_size),
        },
        filter::FLETCHER32 => Codec::Fletcher32,
        // Level stored as a C int in an unsigned slot: negative levels wrap.
        id::ZSTD => Codec::Zstd {
            level: cd(f, 0).map_or(3, |l| l as i32),
        },
        id::BZIP2 => Codec::Bz2 {
            level: cd(f, 0).unwrap_or(9).clamp(1, 9),
        },
        id::LZF => Codec::Lzf,
        filter::SZIP => {
            // libhdf5 stores the four values it computed at dataset creation.
            let [Some(options_mask), Some(pixels_per_block), Some(bits_per_pixel), Some(pixels_per_scanline)] =
                [cd(f, 0), cd(f, 1), cd(f, 2), cd(f, 3)]
            else {
                return Err(refuse(format!(
                    "{} client data values, 4 expected",
                    f.client_data.len()
                )));
            };
            Codec::Szip {
                options_mask,
                pixels_per_block,
                bits_per_pixel,
                pixels_per_scanline,
            }
        }
        filter::SCALEOFFSET => {
            if f.client_data.len() < 8 {
                return Err(refuse(format!(
                    "{} client data values, at least 8 expected",
                    f.client_data.len()
                )));
            }
            Codec::ScaleOffset {
                cd_values: f.client_data.clone(),
            }
        }
        id::LZ4 => Codec::Lz4Hdf5 {
            block_size: cd(f, 0).unwrap_or(0),
        },
        id::BLOSC => {
            // cd: filter revision, blosc version, typesize, chunk bytes, clevel, shuffle, compressor.
            let cname = match cd(f, 6).unwrap_or(0) {
                0 => BloscCompressor::BloscLz,
                1 => BloscCompressor::Lz4,
                2 => BloscCompressor::Lz4Hc,
                3 => BloscCompressor::Snappy,
                4 => BloscCompressor::Zlib,
                5 => BloscCompressor::Zstd,
                c => return Err(refuse(format!("unknown Blosc compressor code {c}"))),
            };
            let shuffle = match cd(f, 5).unwrap_or(1) {
                0 => BloscShuffle::NoShuffle,
                1 => BloscShuffle::Shuffle,
                2 => BloscShuffle::BitShuffle,
                s => return Err(refuse(format!("unknown Blosc shuffle mode {s}"))),
            };
            Codec::Blosc {
                cname,
                clevel: u8::try_from(cd(f, 4).unwrap_or(5).min(9)).unwrap_or(9),
                shuffle,
                typesize: cd(f, 2).filter(|&t| t > 0).unwrap_or(elem_size).max(1),
            }
        }
        id::BITSHUFFLE => {
            let p = bitshuffle_params(f, elem_size).map_err(refuse)?;
            Codec::Bitshuffle {
                element_size: u32::try_from(p.elem).unwrap_or(u32::MAX),
                block_size: u32::try_from(p.block).unwrap_or(u32::MAX),
                compression: p.compression,
            }
        }
        _ => {
            return Err((
                format!("filter {name} (id {id})"),
                format!("no Zarr codec for HDF5 filter {name} (id {id})"),
            ))
        }
    })
}

/// Bitshuffle's parameters from its client data: 0 major, 1 minor version, 2 element size,
/// 3 block size (elements), 4 compression (0 none, 2 LZ4, 3 Zstandard), 5 Zstandard level.
fn bitshuffle_params(f: &Filter, elem_size: u32) -> Result<fx::BitshuffleParams, String> {
    let elem = cd(f, 2).filter(|&e| e > 0).unwrap_or(elem_size);
    let block = cd(f, 3).unwrap_or(0);
    if !block.is_multiple_of(8) {
        return Err(format!("block size {block} is not a multiple of 8"));
    }
    let compression = match cd(f, 4).unwrap_or(0) {
        0 => BitshuffleCompression::None,
        2 => BitshuffleCompression::Lz4,
        3 => BitshuffleCompression::Zstd(cd(f, 5).map_or(3, |l| l as i32)),
        c => return Err(format!("unknown compression {c}")),
    };
    if elem == 0 {
        return Err("zero element size".into());
    }
    Ok(fx::BitshuffleParams {
        elem: usize::try_from(elem).unwrap_or(usize::MAX),
        block: usize::try_from(block).unwrap_or(usize::MAX),
        compression,
    })
}

fn shuffle_size(f: &Filter, elem_size: u32) -> u32 {
    f.client_data.first().copied().filter(|&s| s > 0).unwrap_or(elem_size)
}

/// HDF5's Fletcher-32 (`H5_checksum_fletcher32`): 16-bit big-endian words, sums folded
/// every 360 words; an odd trailing byte counts as the high byte of a last word.
pub(crate) fn fletcher32(data: &[u8]) -> u32 {
    let mut sum1: u32 = 0;
    let mut sum2: u32 = 0;
    let mut words = data.chunks_exact(2);
    loop {
        let mut n = 0;
        for w in words.by_ref() {
            let v = u32::from(u16::from_be_bytes([w[0], w[1]]));
            sum1 = sum1.wrapping_add(v);
            sum2 = sum2.wrapping_add(sum1);
            n += 1;
            if n == 360 {
                break;
            }
        }
        if n == 0 {
            break;
        }
        sum1 = (sum1 & 0xffff) + (sum1 >> 16);
        sum2 = (sum2 & 0xffff) + (sum2 >> 16);
    }
    if let [last] = words.remainder() {
        sum1 = sum1.wrapping_add(u32::from(*last) << 8);
        sum2 = sum2.wrapping_add(sum1);
        sum1 = (sum1 & 0xffff) + (sum1 >> 16);
        sum2 = (sum2 & 0xffff) + (sum2 >> 16);
    }
    sum1 = (sum1 & 0xffff) + (sum1 >> 16);
    sum2 = (sum2 & 0xffff) + (sum2 >> 16);
    (sum2 << 16) | sum1
}

fn shuffle(data: &[u8], size: usize) -> Vec<u8> {
    if size <= 1 || data.len() < size {
        return data.to_vec();
    }
    let n = data.len() / size;
    let mut out = data.to_vec();
    for (i, elem) in data.chunks_exact(size).enumerate() {
        for (j, &b) in elem.iter().enumerate() {
            if let Some(o) = out.get_mut(j * n + i) {
                *o = b;
            }
        }
    }
    out
}

fn unshuffle(data: &[u8], size: usize) -> Vec<u8> {
    if size <= 1 || data.len() < size {
        return data.to_vec();
    }
    let n = data.len() / size;
    let mut out = data.to_vec();
    for i in 0..n {
        for j in 0..size {
            if let (Some(o), Some(&b)) = (out.get_mut(i * size + j), data.get(j * n + i)) {
                *o = b;
            }
        }
    }
    out
}

fn inflate(data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(data)
        .take(MAX_DECODED as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("inflate: {e}"))?;
    if out.len() > MAX_DECODED {
        return Err("decoded chunk larger than 1 GiB".into());
    }
    Ok(out)
}

fn deflate(data: &[u8], level: u32) -> Result<Vec<u8>, String> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(level.min(9)));
    e.write_all(data).map_err(|e| e.to_string())?;
    e.finish().map_err(|e| e.to_string())
}

/// Re-encode a chunk stored with filter mask `mask` (bit i set = filter i skipped) so that
/// it decodes through the full pipeline. Errors name what could not be done.
pub(crate) fn reencode(stored: &[u8], filters: &[Filter], mask: u32, elem_size: u32) -> Result<Vec<u8>, String> {
    let mut buf = decode(stored, filters, mask, elem_size)?;
    for f in filters {
        buf = match f.id {
            filter::DEFLATE => deflate(&buf, cd(f, 0).unwrap_or(6))?,
            filter::SHUFFLE => shuffle(&buf, shuffle_size(f, elem_size) as usize),
            filter::FLETCHER32 => {
                let sum = fletcher32(&buf);
                buf.extend_from_slice(&sum.to_le_bytes());
                buf
            }
            id::ZSTD => fx::zstd_encode(&buf, cd(f, 0).map_or(3, |l| l as i32), false)?,
            id::BZIP2 => fx::bz2_encode(&buf, cd(f, 0).unwrap_or(9))?,
            id::LZF => fx::lzf_encode_literal(&buf),
            id::LZ4 => fx::lz4h5_encode(&buf, cd(f, 0).unwrap_or(0))?,
            id::BITSHUFFLE => fx::bitshuffle_encode(&buf, bitshuffle_params(f, elem_size)?)?,
            filter::SZIP => crate::zarr::szip::szip_encode(&buf, &f.client_data)?,
            // Blosc's uncompressed ("memcpyed") form, as Blosc itself stores incompressible data.
            id::BLOSC => fx::blosc_memcpyed(&buf, cd(f, 2).filter(|&t| t > 0).unwrap_or(elem_size))?,
            id => return Err(format!("cannot apply filter {} (id {id})", f.display_name())),
        };
    }
    Ok(buf)
}

/// The raw bytes of a chunk stored with filter mask `mask`: the filters that were applied,
/// undone in reverse order. Errors name what could not be undone.
pub(crate) fn decode(stored: &[u8], filters: &[Filter], mask: u32, elem_size: u32) -> Result<Vec<u8>, String> {
    let applied = |i: usize| i >= 32 || mask & (1u32 << i) == 0;
    let mut buf = stored.to_vec();
    for (i, f) in filters.iter().enumerate().rev() {
        if !applied(i) {
            continue;
        }
        buf = match f.id {
            filter::DEFLATE => inflate(&buf)?,
            filter::SHUFFLE => unshuffle(&buf, shuffle_size(f, elem_size) as usize),
            filter::FLETCHER32 => {
                let n = buf.len().checked_sub(4).ok_or("chunk shorter than its checksum")?;
                buf.truncate(n);
                buf
            }
            id::ZSTD => fx::zstd_decode(&buf, MAX_DECODED)?,
            id::BZIP2 => fx::bz2_decode(&buf, MAX_DECODED)?,
            id::LZF => fx::lzf_decode(&buf, MAX_DECODED)?,
            id::LZ4 => fx::lz4h5_decode(&buf, MAX_DECODED)?,
            id::BITSHUFFLE => fx::bitshuffle_decode(&buf, bitshuffle_params(f, elem_size)?, MAX_DECODED)?,
            filter::SZIP => crate::zarr::szip::szip_decode(&buf, &f.client_data, MAX_DECODED)?,
            filter::SCALEOFFSET => fx::scaleoffset_decode(&buf, &f.client_data, MAX_DECODED)?,
            filter::NBIT => super::nbit::nbit_decode(&buf, &f.client_data, MAX_DECODED)?,
            id => return Err(format!("cannot undo filter {} (id {id})", f.display_name())),
        };
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(id: u16, cd: &[u32]) -> Filter {
        Filter {
            id,
            name: None,
            flags: 0,
            client_data: cd.to_vec(),
        }
    }

    #[test]
    fn shuffle_after_compression_needs_whole_elements_as_the_last_codec() {
        use crate::model::ChunkRef;
        use crate::model::SourceId;
        let shuffle = Codec::Shuffle { element_size: 4 };
        let zlib = Codec::Zlib { level: 4 };
        let chunks = |lengths: &[u64]| {
            lengths
                .iter()
                .enumerate()
                .map(|(i, &length)| {
                    (
                        vec![i as u64],
                        ChunkRef::Virtual {
                            source: SourceId(0),
                            offset: 0,
                            length,
                        },
                    )
                })
                .collect::<std::collections::BTreeMap<_, _>>()
        };
        let odd = chunks(&[8, 9]);
        let whole = chunks(&[8, 12]);
        // Shuffle first: the usual pipeline, whatever the stored lengths.
        let usual = [Codec::Bytes(None), shuffle.clone(), zlib.clone()];
        assert!(!shuffle_after_other(&usual));
        assert!(check_shuffle_position(&usual, &odd).is_ok());
        // Shuffle last, after deflate: fine only on whole elements.
        let late = [Codec::Bytes(None), zlib.clone(), shuffle.clone()];
        assert!(shuffle_after_other(&late));
        assert!(check_shuffle_position(&late, &whole).is_ok());
        assert!(check_shuffle_position(&late, &odd).is_err());
        // Shuffle between two compressions: never.
        let between = [Codec::Bytes(None), zlib.clone(), shuffle, zlib];
        assert!(shuffle_after_other(&between));
        assert!(check_shuffle_position(&between, &whole).is_err());
    }

    #[test]
    fn fletcher32_reference_values() {
        // Reference: the sums over big-endian 16-bit words, folded (hand-computed).
        assert_eq!(fletcher32(&[]), 0);
        assert_eq!(fletcher32(&[0x01, 0x02]), (0x0102 << 16) | 0x0102);
        // Odd length: the last byte is the high byte of a final word.
        assert_eq!(
            fletcher32(&[0x01, 0x02, 0x03]),
            ((0x0102 + 0x0402) << 16) | (0x0102 + 0x0300)
        );
        // Long input exercises the 360-word folding.
        let v: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let (mut a, mut b) = (0u64, 0u64);
        for w in v.chunks(2) {
            a = (a + u64::from(u16::from_be_bytes([w[0], w[1]]))) % 65535;
            b = (b + a) % 65535;
        }
        let r = fletcher32(&v);
        assert_eq!((u64::from(r & 0xffff) % 65535, u64::from(r >> 16) % 65535), (a, b));
    }

    #[test]
    fn shuffle_roundtrip_and_reencode() {
        let raw: Vec<u8> = (0..64u8).collect();
        assert_eq!(unshuffle(&shuffle(&raw, 4), 4), raw);
        assert_eq!(shuffle(&[1, 2, 3, 4], 2), vec![1, 3, 2, 4]);
        let pipe = [f(2, &[4]), f(1, &[5]), f(3, &[])];
        // Deflate skipped (mask bit 1): stored = fletcher(shuffle(raw)).
        let mut stored = shuffle(&raw, 4);
        let s = fletcher32(&stored);
        stored.extend_from_slice(&s.to_le_bytes());
        let out = reencode(&stored, &pipe, 0b010, 4).unwrap();
        let (payload, sum) = out.split_at(out.len() - 4);
        assert_eq!(u32::from_le_bytes(sum.try_into().unwrap()), fletcher32(payload));
        assert_eq!(unshuffle(&inflate(payload).unwrap(), 4), raw);
        assert!(reencode(&stored, &[f(4, &[])], 1, 4).is_err());
        assert_eq!(codecs_for(&[f(4, &[])], 4).unwrap_err().0, "filter szip (id 4)");
    }

    #[test]
    fn third_party_filters_map_to_codecs() {
        let c = codecs_for(
            &[
                f(1, &[4]),
                f(1, &[6]),
                f(32015, &[u32::MAX]),
                f(32001, &[2, 2, 4, 640, 7, 2, 5]),
                f(32008, &[0, 4, 2, 16, 3, 5]),
                f(32004, &[]),
                f(32000, &[4, 261, 640]),
                f(307, &[]),
            ],
            8,
        )
        .unwrap();
        assert_eq!(
            c,
            vec![
                Codec::Zlib { level: 4 },
                Codec::Zlib { level: 6 },
                Codec::Zstd { level: -1 },
                Codec::Blosc {
                    cname: BloscCompressor::Zstd,
                    clevel: 7,
                    shuffle: BloscShuffle::BitShuffle,
                    typesize: 4
                },
                Codec::Bitshuffle {
                    element_size: 2,
                    block_size: 16,
                    compression: BitshuffleCompression::Zstd(5)
                },
                Codec::Lz4Hdf5 { block_size: 0 },
                Codec::Lzf,
                Codec::Bz2 { level: 9 },
            ]
        );
        for bad in [
            f(32001, &[2, 2, 4, 640, 5, 1, 9]),
            f(32008, &[0, 4, 2, 12, 2]),
            f(32008, &[0, 4, 2, 0, 1]),
        ] {
            let (feature, reason) = codecs_for(&[bad], 4).unwrap_err();
            assert!(feature.starts_with("filter blosc") || feature.starts_with("filter bitshuffle"));
            assert!(
                reason.contains("unknown") || reason.contains("multiple of 8"),
                "{reason}"
            );
        }
    }

    #[test]
    fn reencode_third_party_filters() {
        let raw: Vec<u8> = (0..640u32).map(|i| (i * 37 % 256) as u8).collect();
        // lzf skipped (as h5py's optional lzf does for incompressible chunks), fletcher32 applied.
        let pipe = [f(32000, &[4, 261, 640]), f(3, &[])];
        let mut stored = raw.clone();
        stored.extend_from_slice(&fletcher32(&raw).to_le_bytes());
        let out = reencode(&stored, &pipe, 0b01, 4).unwrap();
        assert_eq!(decode(&out, &pipe, 0, 4).unwrap(), raw);
        // zstd applied, bitshuffle+lz4 skipped; and blosc skipped (stored memcpyed).
        let pipe = [f(32008, &[0, 4, 4, 0, 2]), f(32015, &[3])];
        let stored = fx::zstd_encode(&raw, 3, false).unwrap();
        let out = reencode(&stored, &pipe, 0b01, 4).unwrap();
        assert_eq!(decode(&out, &pipe, 0, 4).unwrap(), raw);
        let out = reencode(&raw, &[f(32001, &[2, 2, 4, 640, 5, 1, 0])], 1, 4).unwrap();
        assert_eq!(&out[16..], &raw[..]);
        // Undoing blosc is refused by name.
        let e = reencode(&out, &[f(32001, &[]), f(1, &[])], 0b10, 4).unwrap_err();
        assert!(e.contains("blosc"), "{e}");
    }

    /// Every chunk of the corpus files with fletcher32 ends with the checksum we compute over
    /// the rest of the chunk (the filter is last in these pipelines).
    #[test]
    fn fletcher32_matches_corpus_chunks() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
        let files = [
            "pyfive/tests/data/fletcher32.hdf5",
            "hdf5-official-via-scigolib/testdata/hdf5_official/tfilters.h5",
            "hdf5-official-via-scigolib/testdata/hdf5_official/h5repack_fletcher.h5",
            "hdf5-official-via-scigolib/testdata/hdf5_official/be_data.h5",
            "hdf5-official-via-scigolib/testdata/hdf5_official/le_data.h5",
            "opendap-bes/modules/dmrpp_module/data/dmrpp/FletcherShuffle.nc4",
            "opendap-bes/modules/dmrpp_module/data/dmrpp/SDS_shuf_def_fle.h5",
            "opendap-bes/modules/fileout_netcdf/data/Two_chunks_fletcher_shuf_deflate.h5",
        ];
        let mut checked = 0;
        for f in files {
            let Ok(src) = crate::io::FileReadAt::open(root.join(f)) else {
                println!("SKIP {f}: corpus file not found");
                continue;
            };
            let Ok(out) = crate::hdf5::read(&src, &crate::hdf5::Hdf5Options::default()) else {
                continue;
            };
            out.root.walk(|_, n| {
                let crate::model::NodeRef::Array(a) = n else {
                    return;
                };
                if a.codecs.last() != Some(&Codec::Fletcher32) {
                    return;
                }
                for c in a.chunks.values() {
                    if let crate::model::ChunkRef::Virtual { offset, length, .. } = c {
                        let b = crate::io::ReadAt::read_at(&src, *offset, *length).unwrap();
                        let (payload, sum) = b.split_at(b.len() - 4);
                        assert_eq!(u32::from_le_bytes(sum.try_into().unwrap()), fletcher32(payload));
                        checked += 1;
                    }
                }
            });
        }
        println!("fletcher32: {checked} corpus chunks verified");
    }
}
