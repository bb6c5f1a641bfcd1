//! Whole-file HDF5 walk as remote sources are read (discovery passes through the block cache,
//! then the real parse from it) on arbitrary bytes: no panic, no hang, and exactly the output
//! or error of the direct walk.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    vzarr::hdf5::fuzzing::warmed_file(data);
});
