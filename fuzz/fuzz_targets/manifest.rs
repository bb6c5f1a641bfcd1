//! Manifest Parquet reader on arbitrary bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = vzarr::store::manifest::Manifest::open("fuzz", bytes::Bytes::copy_from_slice(data)) {
        let _ = m.array_entries("a");
    }
});
