//! HDF5 filter decoders on hostile chunks: LZF, HDF5-framed LZ4, bitshuffle, szip,
//! scale-offset and n-bit, and the dataspace-selection decoder of region references. The
//! first byte picks the decoder, the next 24 bytes give its parameters
//! (HDF5 client data values); the rest is the chunk. A decoder may fail but must never
//! panic or return more than the bytes it was allowed.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vzarr::model::BitshuffleCompression;
use vzarr::zarr::filters_ext as fx;

const CAP: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let (Some(&which), Some(params)) = (data.first(), data.get(1..25)) else { return };
    let chunk = &data[25..];
    let cd: Vec<u32> = params
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let out = match which % 7 {
        0 => fx::lzf_decode(chunk, CAP),
        1 => fx::lz4h5_decode(chunk, CAP),
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
            fx::bitshuffle_decode(chunk, p, CAP)
        }
        3 => vzarr::zarr::szip::szip_decode(chunk, &cd[..4], CAP),
        4 => {
            // Scale-offset client data: 8 fixed slots, then the fill value.
            let mut so = cd.clone();
            so[2] %= 1 << 16; // element count, so that count × size stays under the cap
            fx::scaleoffset_decode(chunk, &so, CAP)
        }
        5 => vzarr::hdf5::fuzzing::nbit(chunk, &cd, CAP),
        _ => {
            // At most 2^20 coordinates of up to 20 digits, with at most 4 bytes of brackets and
            // separators each ("(", ",", ")-(", ", " of single-axis blocks: 3.5 per coordinate).
            if let Ok(Some(t)) = vzarr::hdf5::fuzzing::selection(chunk) {
                assert!(t.len() <= 24 << 20, "region text of {} bytes", t.len());
            }
            return;
        }
    };
    if let Ok(v) = out {
        assert!(v.len() <= CAP, "decoded {} bytes, cap {CAP}", v.len());
    }
});
