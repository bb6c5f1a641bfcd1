//! CEOS record stream, volume directory, SAR leader and image file descriptor parsers, each on
//! the whole input.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = vzarr::ceos::fuzzing::records_and_descriptors(data);
});
