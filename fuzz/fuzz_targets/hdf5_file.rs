//! Whole-file HDF5 walk on arbitrary bytes: no panic, no hang, bounded memory. Other files
//! (virtual dataset sources, external storage) open as the same bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = vzarr::hdf5::fuzzing::whole_file(data);
});
