//! Store key parser: parse ⇄ display round trip on arbitrary strings.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vzarr::zarr::Key;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(k) = Key::parse(s, |p| p == "g/x" || p.is_empty()) {
        assert_eq!(Key::parse(&k.to_string(), |p| p == "g/x" || p.is_empty()).ok(), Some(k));
    }
});
