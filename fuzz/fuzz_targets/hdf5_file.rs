//! Whole-file HDF5 walk on arbitrary bytes: no panic, no hang, bounded memory.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let src = bytes::Bytes::copy_from_slice(data);
    let _ = vzarr::hdf5::read(
        &src,
        &vzarr::hdf5::Hdf5Options {
            split_contiguous: Some(4096),
            ..Default::default()
        },
    );
});
