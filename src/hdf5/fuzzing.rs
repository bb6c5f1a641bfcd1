//! Single parser stages on arbitrary bytes, for the fuzz targets in `fuzz/` (hidden from the
//! documented API; [`super::read`] is the reader's entry point).

use bytes::Bytes;

use super::messages::{
    attribute, attribute_info, continuation, dataspace, datatype, external, fill_value, filter_pipeline, group_info,
    layout, link, link_info, shared, symbol_table,
};
use super::raw::msg;
use super::{object_header, superblock, Hdf5Error, Sizes};

/// Parse the superblock (signature search, versions 0–3, the driver and extension addresses).
///
/// # Errors
/// Whatever the superblock parser reports.
pub fn superblock(data: &[u8]) -> Result<(), Hdf5Error> {
    superblock::read(&Bytes::copy_from_slice(data)).map(|_| ())
}

/// Parse an object header at address 0 of the input after its first byte, which chooses the
/// widths of addresses and lengths (2, 4 or 8 bytes each), then decode every message of it
/// with its message parser (datatype, dataspace, layout, filters, fill values, attributes,
/// links, …). Errors of single messages are collected, not returned.
///
/// # Errors
/// When the header itself cannot be read; otherwise the number of messages that decoded.
pub fn object_header(data: &[u8]) -> Result<usize, Hdf5Error> {
    let Some((&sel, rest)) = data.split_first() else {
        return Ok(0);
    };
    let width = |b: u8| match b & 3 {
        0 => 2,
        1 => 4,
        _ => 8,
    };
    let sizes = Sizes {
        offset: width(sel),
        length: width(sel >> 2),
        base: 0,
    };
    let src = Bytes::copy_from_slice(rest);
    let header = object_header::read(&src, &sizes, 0)?;
    let mut decoded = 0;
    for m in &header.messages {
        let (d, o) = (&m.data[..], m.offset);
        if m.flags & super::raw::msg_flags::SHARED != 0 {
            decoded += usize::from(shared::parse(d, o, &sizes).is_ok());
            continue;
        }
        let ok = match m.mtype {
            msg::DATASPACE => dataspace::parse(d, o, &sizes).is_ok(),
            msg::LINK_INFO => link_info::parse(d, o, &sizes).is_ok(),
            msg::DATATYPE => datatype::parse(d, o).is_ok(),
            msg::FILL_VALUE_OLD => fill_value::parse_old(d, o).is_ok(),
            msg::FILL_VALUE => fill_value::parse(d, o, &sizes).is_ok(),
            msg::LINK => link::parse(d, o, &sizes).is_ok(),
            msg::DATA_LAYOUT => layout::parse(d, o, &sizes).is_ok(),
            msg::EXTERNAL_DATA_FILES => external::parse(d, o, &sizes).is_ok(),
            msg::GROUP_INFO => group_info::parse(d, o).is_ok(),
            msg::FILTER_PIPELINE => filter_pipeline::parse(d, o).is_ok(),
            msg::ATTRIBUTE => attribute::parse(d, o, &sizes).is_ok(),
            msg::CONTINUATION => continuation::parse(d, o, &sizes).is_ok(),
            msg::SYMBOL_TABLE => symbol_table::parse(d, o, &sizes).is_ok(),
            msg::ATTRIBUTE_INFO => attribute_info::parse(d, o, &sizes).is_ok(),
            _ => false,
        };
        decoded += usize::from(ok);
    }
    Ok(decoded)
}

/// Decode a serialized dataspace selection (what a region reference stores after the
/// referenced object's address) and render its region text.
///
/// # Errors
/// Whatever the selection parser reports.
pub fn selection(data: &[u8]) -> Result<Option<String>, Hdf5Error> {
    super::selection::parse(data, 0).map(|s| s.text())
}

/// Undo the n-bit filter on a chunk with client data `cd`, at most `max_out` bytes.
///
/// # Errors
/// Whatever the n-bit decoder reports.
pub fn nbit(data: &[u8], cd: &[u32], max_out: usize) -> Result<Vec<u8>, String> {
    super::nbit::nbit_decode(data, cd, max_out)
}

/// One input of the `filter_chunks` fuzz target: the first byte picks a decoder (LZF,
/// HDF5-framed LZ4, bitshuffle, szip, scale-offset, n-bit, or the dataspace-selection decoder
/// of region references), the next 24 bytes are its parameters (six little-endian `u32` HDF5
/// client data values), the rest is the chunk. Returns the decoded length (the region text's
/// for a selection); at most `cap` bytes are decoded.
///
/// # Errors
/// Whatever the chosen decoder reports.
pub fn filter_chunk(data: &[u8], cap: usize) -> Result<usize, String> {
    use crate::model::BitshuffleCompression;
    use crate::zarr::filters_ext as fx;

    let (Some(&which), Some(params)) = (data.first(), data.get(1..25)) else {
        return Ok(0);
    };
    let chunk = &data[25..];
    let cd: Vec<u32> = params
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let out = match which % 7 {
        0 => fx::lzf_decode(chunk, cap),
        1 => fx::lz4h5_decode(chunk, cap),
        2 => {
            let compression = match cd[2] % 3 {
                0 => BitshuffleCompression::None,
                1 => BitshuffleCompression::Lz4,
                _ => BitshuffleCompression::Zstd(1),
            };
            let p = fx::BitshuffleParams {
                elem: (cd[0] % 16 + 1) as usize,
                block: (cd[1] % 64 * 8) as usize,
                compression,
            };
            fx::bitshuffle_decode(chunk, p, cap)
        }
        3 => crate::zarr::szip::szip_decode(chunk, &cd[..4], cap),
        4 => {
            // Scale-offset client data: 8 fixed slots, then the fill value.
            let mut so = cd.clone();
            so[2] %= 1 << 16; // element count, so that count × size stays under the cap
            fx::scaleoffset_decode(chunk, &so, cap)
        }
        5 => nbit(chunk, &cd, cap),
        _ => {
            return selection(chunk)
                .map(|t| t.map_or(0, |t| t.len()))
                .map_err(|e| e.to_string())
        }
    };
    out.map(|v| v.len())
}

/// The whole-file target: [`super::read`] with contiguous data split into 4 KiB chunks and
/// other files opening as the same bytes ([`SameBytes`]). Inputs of even length walk chunk
/// indexes on a second thread (as files of 16 MiB and more do), odd ones on one.
///
/// # Errors
/// Whatever [`super::read`] reports.
pub fn whole_file(data: &[u8]) -> Result<(), Hdf5Error> {
    let src = Bytes::copy_from_slice(data);
    super::read(&src, &fuzz_options(&src, data.len().is_multiple_of(2))).map(|_| ())
}

/// The remote-source target: the walk of [`whole_file`] run the way a remote source is read
/// (discovery passes through [`crate::create::remote_cache`], then the real parse from the
/// cache) must give exactly what the direct walk gives, error or output.
///
/// # Panics
/// When the two differ: a discovery pass changed what the reader produces.
pub fn warmed_file(data: &[u8]) {
    let src = Bytes::copy_from_slice(data);
    let opts = fuzz_options(&src, false);
    let direct = super::read(&src, &opts).map_err(|e| e.to_string());
    let cache = crate::create::remote_cache(src.clone());
    crate::io::ReadAt::warm(&cache, &mut |view| {
        let _ = super::read(view, &opts);
    });
    let warmed = super::read(&cache, &opts).map_err(|e| e.to_string());
    assert!(warmed == direct, "warmed parse differs from direct parse");
}

fn fuzz_options(src: &Bytes, parallel: bool) -> super::Hdf5Options {
    super::Hdf5Options {
        split_contiguous: Some(4096),
        other_files: Some(std::sync::Arc::new(SameBytes(src.clone()))),
        parallel_from: if parallel { 0 } else { u64::MAX },
        ..Default::default()
    }
}

/// The [`super::OtherFiles`] of the whole-file fuzz target: every name resolves to
/// `other:<name>` and opens as the input itself, so virtual dataset sources and external
/// storage are followed into (a copy of) the same bytes.
#[derive(Debug, Clone)]
pub struct SameBytes(pub Bytes);

impl super::OtherFiles for SameBytes {
    fn resolve(&self, name: &str) -> Result<String, String> {
        if name.len() > 4096 {
            return Err("name too long".into());
        }
        Ok(format!("other:{name}"))
    }

    fn open(&self, _location: &str) -> Result<std::sync::Arc<dyn crate::io::ReadAt>, String> {
        Ok(std::sync::Arc::new(self.0.clone()))
    }
}
