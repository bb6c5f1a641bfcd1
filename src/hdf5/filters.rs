//! HDF5 filter pipelines → model codecs, and re-encoding of chunks that skipped filters.
//!
//! Mapping (DESIGN §3): deflate → [`Codec::Zlib`], shuffle → [`Codec::Shuffle`], fletcher32 →
//! [`Codec::Fletcher32`], in pipeline order after the `bytes` codec. Any other filter (szip,
//! n-bit, scale-offset, third-party ids), optional or not, refuses the array by name.
//!
//! A chunk whose filter mask is nonzero was stored with some filters skipped; its bytes would
//! not decode through the array's codecs. [`reencode`] undoes the filters that were applied
//! (inflate, unshuffle, strip the checksum) and encodes the raw bytes with the whole pipeline
//! (shuffle, zlib at the recorded level, HDF5's Fletcher-32), so the result is stored inline
//! and decodes to exactly what libhdf5 returns.

use std::io::{Read, Write};

use super::messages::filter_pipeline::Filter;
use super::raw::filter;
use crate::model::Codec;

/// Largest decoded chunk accepted when re-encoding (guards against zlib bombs).
const MAX_DECODED: usize = 1 << 30;

/// The codecs after `bytes` for a filter pipeline, or `(feature, reason)` naming the first
/// filter that has no codec.
pub(crate) fn codecs_for(filters: &[Filter], elem_size: u32) -> Result<Vec<Codec>, (String, String)> {
    filters
        .iter()
        .map(|f| match f.id {
            filter::DEFLATE => Ok(Codec::Zlib {
                level: f.client_data.first().copied().unwrap_or(6),
            }),
            filter::SHUFFLE => Ok(Codec::Shuffle {
                element_size: shuffle_size(f, elem_size),
            }),
            filter::FLETCHER32 => Ok(Codec::Fletcher32),
            id => {
                let name = f.display_name();
                Err((
                    format!("filter {name} (id {id})"),
                    format!("no Zarr codec for HDF5 filter {name} (id {id})"),
                ))
            }
        })
        .collect()
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
            filter::DEFLATE => deflate(&buf, f.client_data.first().copied().unwrap_or(6))?,
            filter::SHUFFLE => shuffle(&buf, shuffle_size(f, elem_size) as usize),
            filter::FLETCHER32 => {
                let sum = fletcher32(&buf);
                buf.extend_from_slice(&sum.to_le_bytes());
                buf
            }
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
        assert_eq!(
            codecs_for(&[f(32001, &[])], 4).unwrap_err().0,
            "filter blosc (id 32001)"
        );
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
