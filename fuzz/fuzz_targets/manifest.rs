//! Manifest Parquet reader on arbitrary bytes: open (schema check, row-group statistics), then
//! list the arrays (the `array` column, else the statistics), then decode the rows of every array and of an unnamed one.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(
    // vzarr turns a panic of the parquet decoder into an error (`io::guard_decoder`); restore
    // the default panic hook so such a caught panic does not abort. Any panic that escapes
    // still aborts (libfuzzer-sys catches it at the top).
    init: {
        let _ = std::panic::take_hook();
    },
    |data: &[u8]| {
        if let Ok(m) = vzarr::store::manifest::Manifest::open("fuzz", bytes::Bytes::copy_from_slice(data)) {
            // Every array, or (when listing fails) those the row-group statistics name.
            let names = m.arrays().unwrap_or_else(|_| {
                m.row_group_ranges()
                    .flat_map(|(lo, hi)| [lo.to_string(), hi.to_string()])
                    .collect()
            });
            for a in names.iter().map(String::as_str).chain(["a"]) {
                let _ = m.array_entries(a);
            }
        }
    }
);
