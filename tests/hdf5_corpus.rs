//! The native HDF5 reader over the shared corpus (`../shared/corpus`, MANIFEST.tsv).
//!
//! - `corpus_reads_without_panics`: every HDF5 file of categories hdf5, dmrpp-pair-h5,
//!   icesat2 and dmrpp-mvs-h5 is read; prints a table (files ok / whole-file errors,
//!   datasets mapped / refused by feature); asserts no panic, and that every whole-file error
//!   is for a file libhdf5 cannot open either (h5py run live when `.venv` exists, else the
//!   "h5py CANNOT open" notes in SOURCES.md).
//! - Chunk references and values against libhdf5 are checked per dataset by
//!   `tests/python/test_hdf5_reference.py` (through the CLI, as users run it).
//! - `parallel_walk_equals_single_thread_walk`: chunk indexes walked on a second thread give
//!   the same output (arrays, chunks, refusals in order) as the walk on one thread, over every
//!   file and over the larger files cut short (datasets refused once their index is walked).
//! - `truncated_and_garbage_input_never_panics`: corpus files cut at many points, bit-flipped,
//!   and random bytes behind a valid signature: `read` returns Err or Ok, never panics.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::Command;

use vzarr::hdf5::{self, Hdf5Options, Hdf5Output};
use vzarr::io::FileReadAt;
use vzarr::model::NodeRef;

const CATEGORIES: [&str; 4] = ["hdf5", "dmrpp-pair-h5", "icesat2", "dmrpp-mvs-h5"];

fn corpus() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    p.join("MANIFEST.tsv").exists().then_some(p)
}

fn python() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    let ok = p.exists()
        && Command::new(&p)
            .args(["-c", "import h5py"])
            .output()
            .is_ok_and(|o| o.status.success());
    ok.then_some(p)
}

/// Corpus files of the HDF5 categories (absolute paths, relative names).
fn hdf5_files(root: &Path) -> Vec<(PathBuf, String)> {
    let manifest = std::fs::read_to_string(root.join("MANIFEST.tsv")).unwrap_or_default();
    manifest
        .lines()
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            let (file, cat) = (cols.first()?, cols.get(8)?);
            CATEGORIES.contains(cat).then(|| (root.join(file), (*file).to_string()))
        })
        .filter(|(p, _)| p.exists())
        .collect()
}

fn read_file(path: &Path, opts: &Hdf5Options) -> Result<Result<Hdf5Output, String>, String> {
    let src = FileReadAt::open(path).map_err(|e| e.to_string())?;
    catch_unwind(AssertUnwindSafe(|| hdf5::read(&src, opts).map_err(|e| e.to_string()))).map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}

/// Files libhdf5 cannot open or whose root group it cannot list, by h5py (live), or else by
/// SOURCES.md's "h5py CANNOT open" notes.
fn unopenable(root: &Path, failed: &[String]) -> Vec<String> {
    if let Some(py) = python() {
        // Unreadable for libhdf5: the file does not open or its root group cannot be listed.
        let script = "import sys, h5py\nfor p in sys.argv[1:]:\n    try:\n        f = h5py.File(p, 'r')\n        list(f.keys())\n        f.close()\n    except Exception:\n        print(p)\n";
        let mut cmd = Command::new(py);
        cmd.args(["-c", script]);
        for f in failed {
            cmd.arg(root.join(f));
        }
        let out = cmd
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        return failed
            .iter()
            .filter(|f| out.lines().any(|l| l.ends_with(f.as_str())))
            .cloned()
            .collect();
    }
    let notes = std::fs::read_to_string(root.join("SOURCES.md")).unwrap_or_default();
    failed
        .iter()
        .filter(|f| {
            notes.lines().any(|l| {
                // h5py cannot open it, or opens it but reaches no object at all.
                let unreadable = l.contains("h5py CANNOT open")
                    || (l.contains("0 datasets, 0 groups") && l.contains("h5py errors on"));
                unreadable && l.split('`').nth(1).is_some_and(|p| !p.is_empty() && f.ends_with(p))
            })
        })
        .cloned()
        .collect()
}

#[test]
fn corpus_reads_without_panics() {
    let Some(root) = corpus() else {
        println!("SKIP hdf5_corpus: ../shared/corpus not found");
        return;
    };
    let files = hdf5_files(&root);
    let opts = Hdf5Options::default();
    let (mut ok, mut panics, mut failed) = (0usize, Vec::new(), Vec::new());
    let mut err_kinds: BTreeMap<String, usize> = BTreeMap::new();
    let (mut arrays, mut groups) = (0usize, 0usize);
    let mut refused: BTreeMap<String, usize> = BTreeMap::new();
    let mut warned: BTreeMap<String, usize> = BTreeMap::new();
    for (path, name) in &files {
        match read_file(path, &opts) {
            Err(p) => panics.push(format!("{name}: {p}")),
            Ok(Err(e)) => {
                *err_kinds
                    .entry(e.split(" at offset").next().unwrap_or(&e).to_string())
                    .or_default() += 1;
                failed.push(name.clone());
            }
            Ok(Ok(out)) => {
                ok += 1;
                out.root.walk(|_, n| match n {
                    NodeRef::Array(_) => arrays += 1,
                    NodeRef::Group(_) => groups += 1,
                });
                for r in out.refusals {
                    *refused.entry(r.feature).or_default() += 1;
                }
                for w in out.warnings {
                    *warned.entry(w.feature).or_default() += 1;
                }
            }
        }
    }
    println!(
        "HDF5 corpus: {} files: {ok} ok, {} whole-file errors, {} panics",
        files.len(),
        failed.len(),
        panics.len()
    );
    println!("  mapped: {arrays} arrays, {groups} groups");
    let total_refused: usize = refused.values().sum();
    println!("  refused objects: {total_refused}");
    for (k, v) in &refused {
        println!("    {v:6}  {k}");
    }
    println!(
        "  warnings (attributes/links skipped): {}",
        warned.values().sum::<usize>()
    );
    for (k, v) in &warned {
        println!("    {v:6}  {k}");
    }
    println!("  whole-file errors by kind:");
    for (k, v) in &err_kinds {
        println!("    {v:6}  {k}");
    }
    for f in &failed {
        println!("    file error: {f}");
    }
    assert!(panics.is_empty(), "panics: {panics:#?}");
    let expected = unopenable(&root, &failed);
    let unexpected: Vec<&String> = failed.iter().filter(|f| !expected.contains(f)).collect();
    assert!(
        unexpected.is_empty(),
        "whole-file errors on files libhdf5 opens: {unexpected:#?}"
    );
}

/// A small deterministic generator (xorshift) for the garbage tests.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn truncated_and_garbage_input_never_panics() {
    let opts = Hdf5Options {
        split_contiguous: Some(4096),
        ..Default::default()
    };
    let run = |bytes: Vec<u8>, what: &str| {
        let r = catch_unwind(AssertUnwindSafe(|| hdf5::read(&bytes, &opts).map(|_| ())));
        assert!(r.is_ok(), "panic on {what}");
    };
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // Random bytes behind a valid signature, with plausible superblock headers.
    for i in 0..300 {
        let n = 64 + (rng.next() % 4000) as usize;
        let mut b: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
        b[..8].copy_from_slice(b"\x89HDF\r\n\x1a\n");
        b[8] = (i % 4) as u8;
        b[13] = 8;
        b[14] = 8;
        run(b, "random bytes");
    }
    let Some(root) = corpus() else {
        println!("SKIP truncation part: ../shared/corpus not found");
        return;
    };
    let files = hdf5_files(&root);
    for (path, name) in files.iter().step_by(7).take(40) {
        let Ok(data) = std::fs::read(path) else {
            continue;
        };
        for k in 1..=12u64 {
            let cut = (data.len() as u64 * k / 13) as usize;
            run(data[..cut].to_vec(), &format!("{name} cut at {cut}"));
        }
        for _ in 0..20 {
            let mut d = data.clone();
            for _ in 0..8 {
                let at = (rng.next() % d.len().max(1) as u64) as usize;
                if let Some(x) = d.get_mut(at) {
                    *x ^= 1 << (rng.next() % 8);
                }
            }
            run(d, &format!("{name} with flipped bits"));
        }
    }
}

/// A reader over a file's bytes that counts requests and the batches of `read_ranges`.
struct Counting {
    data: bytes::Bytes,
    requests: std::sync::atomic::AtomicU64,
    batches: std::sync::atomic::AtomicU64,
}

impl vzarr::io::ReadAt for Counting {
    fn size(&self) -> u64 {
        self.data.len() as u64
    }
    fn read_at(&self, offset: u64, len: u64) -> Result<bytes::Bytes, vzarr::io::ReadError> {
        self.requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.data.read_at(offset, len)
    }
    fn read_ranges(&self, ranges: &[(u64, u64)]) -> Result<Vec<bytes::Bytes>, vzarr::io::ReadError> {
        self.batches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ranges.iter().map(|&(o, l)| self.read_at(o, l)).collect()
    }
    fn requests(&self) -> u64 {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Remote sources are parsed after discovery passes (`ReadAt::warm`) that fetch each level of
/// a file's structure in one batch. Over every corpus HDF5 file, through the block cache as
/// remote sources use it: the warmed parse gives exactly the direct parse's output (or error),
/// warming converges within its pass limit, and the real parse afterwards is served from the
/// cache.
#[test]
fn warmed_parse_equals_direct_parse() {
    use vzarr::io::ReadAt;
    let Some(root) = corpus() else {
        println!("SKIP hdf5_corpus: ../shared/corpus not found");
        return;
    };
    let opts = Hdf5Options::default();
    let (mut differ, mut unconverged, mut cold) = (Vec::new(), Vec::new(), Vec::new());
    let (mut files, mut total_batches, mut max_batches, mut fetched) = (0usize, 0u64, 0u64, 0u64);
    let mut deepest = String::new();
    for (path, name) in hdf5_files(&root) {
        let data = bytes::Bytes::from(std::fs::read(&path).unwrap());
        let parse = |r: &dyn ReadAt| {
            catch_unwind(AssertUnwindSafe(|| hdf5::read(r, &opts).map_err(|e| e.to_string())))
                .unwrap_or_else(|_| Err("panic".into()))
        };
        let direct = parse(&data);
        let cache = vzarr::create::remote_cache(Counting {
            data,
            requests: 0.into(),
            batches: 0.into(),
        });
        cache.warm(&mut |view| {
            let _ = parse(view);
        });
        let batches = cache.inner().batches.load(std::sync::atomic::Ordering::Relaxed);
        let warm_requests = cache.requests();
        let warmed = parse(&cache);
        let after = cache.requests() - warm_requests;
        files += 1;
        total_batches += batches;
        if batches > max_batches {
            max_batches = batches;
            deepest = name.clone();
        }
        fetched += warm_requests;
        if warmed != direct {
            differ.push(name.clone());
        }
        if batches >= 32 {
            unconverged.push(name.clone());
        }
        if after > 0 {
            cold.push(format!("{name} ({after} requests)"));
        }
    }
    println!(
        "warmed parse over {files} corpus HDF5 files: {total_batches} batches in all, at most {max_batches} for one file \
         ({deepest}), {fetched} requests; real parse needed requests for {} files",
        cold.len()
    );
    for c in &cold {
        println!("  cold reads after warming: {c}");
    }
    assert!(files > 0);
    assert!(differ.is_empty(), "warmed parse differs from direct parse: {differ:?}");
    assert!(unconverged.is_empty(), "warming did not converge: {unconverged:?}");
    // Only reads wider than the discovery limit (data, 512 KiB here) are left to the real parse.
    assert!(
        cold.len() * 20 <= files,
        "too many files read cold after warming: {cold:?}"
    );
}

#[test]
fn parallel_walk_equals_single_thread_walk() {
    let Some(root) = corpus() else {
        println!("SKIP hdf5_corpus: ../shared/corpus not found");
        return;
    };
    // Every file on two threads (by default only files of 16 MiB and more), against one.
    let parallel = Hdf5Options {
        parallel_from: 0,
        ..Default::default()
    };
    let single = Hdf5Options {
        parallel_from: u64::MAX,
        ..Default::default()
    };
    let parse = |data: &bytes::Bytes, opts: &Hdf5Options| {
        catch_unwind(AssertUnwindSafe(|| hdf5::read(data, opts).map_err(|e| e.to_string())))
            .unwrap_or_else(|_| Err("panic".into()))
    };
    let (mut compared, mut refusals, mut differ) = (0usize, 0usize, Vec::new());
    for (path, name) in hdf5_files(&root) {
        let data = bytes::Bytes::from(std::fs::read(&path).unwrap());
        // The whole file, and the larger ones cut at a third and two thirds.
        let mut cuts = vec![data.len()];
        if data.len() > 64 << 10 {
            cuts.extend([data.len() / 3, data.len() * 2 / 3]);
        }
        for cut in cuts {
            let bytes = data.slice(..cut);
            let (a, b) = (parse(&bytes, &parallel), parse(&bytes, &single));
            if let Ok(o) = &a {
                refusals += o.refusals.len();
            }
            compared += 1;
            if a != b {
                differ.push(format!("{name} cut at {cut} of {}", data.len()));
            }
        }
    }
    println!(
        "{compared} parses compared ({refusals} refusals among them), {} differ",
        differ.len()
    );
    assert!(
        differ.is_empty(),
        "parallel and single-thread walks differ: {differ:#?}"
    );
    assert!(compared > 400, "only {compared} parses");
}
