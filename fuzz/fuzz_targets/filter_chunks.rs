//! HDF5 filter decoders on hostile chunks: LZF, HDF5-framed LZ4, bitshuffle, szip,
//! scale-offset and n-bit, and the dataspace-selection decoder of region references
//! (`vzarr::hdf5::fuzzing::filter_chunk`: the first byte picks the decoder, the next 24 bytes
//! give its parameters, the rest is the chunk). A decoder may fail but must never panic or
//! return more than the bytes it was allowed; a region's text stays under 24 MiB (2^20
//! coordinates of up to 20 digits, with at most 4 bytes of brackets and separators each).
#![no_main]
use libfuzzer_sys::fuzz_target;

const CAP: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    if let Ok(n) = vzarr::hdf5::fuzzing::filter_chunk(data, CAP) {
        let bound = if data.first().is_some_and(|w| w % 7 == 6) {
            24 << 20
        } else {
            CAP
        };
        assert!(n <= bound, "{n} bytes decoded, bound {bound}");
    }
});
