//! Every input a fuzz target crashed on (`tests/data/fuzz/<target>/`), replayed through the
//! entry point of that target: each must now give an error or a result, never a panic.

use std::path::Path;

use bytes::Bytes;
use vzarr::store::manifest::Manifest;

/// Replay one input through the entry point of `target`; `Err` is the error text it gave.
fn replay(target: &str, data: &[u8]) -> Result<(), String> {
    match target {
        "manifest" => {
            let m = Manifest::open("manifest.parquet", Bytes::copy_from_slice(data)).map_err(|e| e.to_string())?;
            // Arrays in name order, so a replay is the same every run.
            let names = m.arrays().map_err(|e| e.to_string())?;
            for a in &names {
                m.array_entries(a).map_err(|e| e.to_string())?;
            }
            Ok(())
        }
        "hdf5_file" => vzarr::hdf5::fuzzing::whole_file(data).map_err(|e| e.to_string()),
        "hdf5_superblock" => vzarr::hdf5::fuzzing::superblock(data).map_err(|e| e.to_string()),
        "hdf5_object_header" => vzarr::hdf5::fuzzing::object_header(data)
            .map(|_| ())
            .map_err(|e| e.to_string()),
        "ceos_records" => {
            let _ = vzarr::ceos::fuzzing::records_and_descriptors(data);
            Ok(())
        }
        "filter_chunks" => vzarr::hdf5::fuzzing::filter_chunk(data, 1 << 20).map(|_| ()),
        other => panic!("tests/data/fuzz/{other}: no replay for this target; add one to tests/fuzz_regressions.rs"),
    }
}

#[test]
fn fuzz_crashes_are_errors_now() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz");
    let mut n = 0;
    for target in std::fs::read_dir(&root).unwrap() {
        let target = target.unwrap();
        let name = target.file_name().into_string().unwrap();
        for input in std::fs::read_dir(target.path()).unwrap() {
            let input = input.unwrap().path();
            let data = std::fs::read(&input).unwrap();
            let r = replay(&name, &data);
            println!("{name}/{}: {r:?}", input.file_name().unwrap().to_string_lossy());
            n += 1;
        }
    }
    assert!(n > 0, "no inputs under {}", root.display());
}

/// The parquet crate panics on this damaged manifest (a dictionary-encoded page without a
/// dictionary); vzarr reports it as an invalid manifest naming the file.
#[test]
fn manifest_that_panics_the_parquet_decoder_is_an_invalid_manifest() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz/manifest/parquet-dict-decoder-panic.parquet");
    let data = std::fs::read(p).unwrap();
    let m = Manifest::open("manifest.parquet", Bytes::from(data)).expect("the footer is intact");
    // The arrays the row-group statistics name (listing them all decodes the damaged pages).
    let mut names: Vec<&str> = m.row_group_ranges().flat_map(|(lo, hi)| [lo, hi]).collect();
    names.sort_unstable();
    names.dedup();
    assert!(!names.is_empty());
    let mut errors: Vec<String> = names
        .iter()
        .filter_map(|a| m.array_entries(a).err().map(|e| e.to_string()))
        .collect();
    println!("{errors:#?}");
    let listing = m
        .arrays()
        .expect_err("listing the arrays decodes the damaged page")
        .to_string();
    errors.push(listing);
    names.push("(listing)");
    // Every array's rows are damaged; each gives an error naming the file, and the one whose
    // page makes the parquet crate panic is reported as a decoder failure.
    assert_eq!(errors.len(), names.len(), "{names:?}");
    assert!(
        errors.iter().all(|e| e.starts_with("manifest manifest.parquet: ")),
        "{errors:#?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("Parquet decoder failed")),
        "{errors:#?}"
    );
}
