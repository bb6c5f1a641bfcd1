//! HDF5 object header (v1/v2, continuation blocks) at address 0, every message decoded by its
//! parser. The first input byte picks the address and length widths.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = vzarr::hdf5::fuzzing::object_header(data);
});
