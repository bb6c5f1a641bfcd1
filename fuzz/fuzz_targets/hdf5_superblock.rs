//! HDF5 superblock parser on arbitrary bytes: signature search, versions 0–3.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = vzarr::hdf5::fuzzing::superblock(data);
});
