//! Indexing cost of the native HDF5 reader on corpus files: wall time, requests and bytes
//! the parser read compared with the file size. Prints a table (no assertions).
//!
//! `cargo bench --bench hdf5_parse` (or `make bench`).

use std::path::Path;
use std::time::Instant;

use vzarr::io::{BlockCache, FileReadAt, ReadAt};

/// Counts the bytes a parser asks for.
struct Counting<R> {
    inner: R,
    bytes: std::sync::atomic::AtomicU64,
}

impl<R: ReadAt> ReadAt for Counting<R> {
    fn size(&self) -> u64 {
        self.inner.size()
    }
    fn read_at(&self, offset: u64, len: u64) -> Result<bytes::Bytes, vzarr::io::ReadError> {
        self.bytes.fetch_add(len, std::sync::atomic::Ordering::Relaxed);
        self.inner.read_at(offset, len)
    }
    fn requests(&self) -> u64 {
        self.inner.requests()
    }
}

fn main() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    if !corpus.is_dir() {
        eprintln!("skipping: corpus not found at {}", corpus.display());
        return;
    }
    let files = [
        "harmony-trajectory-subsetter/tests/data/ATL03_gt1l.h5",
        "pyfive/tests/data/noy_AERmonZ_UKESM1-0-LL_piControl_r1i1p1f2_gnz_200001-200012.nc",
        "harmony-opendap-subsetter/tests/data/f16_ssmis_20200102v7.nc",
        "harmony-opendap-subsetter/tests/data/SC_SPL3SMP_008_prefetch.nc4",
    ];
    println!(
        "| file | size (B) | arrays | chunk refs | requests ({} KiB blocks) | bytes read | % of file | parse time (median of 5) |",
        vzarr::create::LOCAL_BLOCK / 1024
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for rel in files {
        let mut path = corpus.join(rel);
        if !path.exists() {
            // Locate by file name if the folder layout differs.
            let name = Path::new(rel).file_name().unwrap_or_default().to_owned();
            match walk(&corpus).into_iter().find(|p| p.file_name() == Some(&name)) {
                Some(p) => path = p,
                None => continue,
            }
        }
        let mut times = Vec::new();
        let mut last = None;
        for _ in 0..5 {
            let f = FileReadAt::open(&path).expect("open");
            let src = BlockCache::new(
                Counting {
                    inner: f,
                    bytes: 0.into(),
                },
                vzarr::create::LOCAL_BLOCK,
                64 << 20,
            );
            let t = Instant::now();
            let out = vzarr::hdf5::read(&src, &Default::default());
            times.push(t.elapsed());
            let bytes = src.inner().bytes.load(std::sync::atomic::Ordering::Relaxed);
            last = Some((out, src.requests(), bytes, src.size()));
        }
        times.sort();
        let Some((out, requests, bytes, size)) = last else {
            continue;
        };
        let (arrays, refs) = match &out {
            Ok(o) => {
                let (mut a, mut r) = (0, 0);
                o.root.walk(|_, n| {
                    if let vzarr::model::NodeRef::Array(x) = n {
                        a += 1;
                        r += x.chunks.len();
                    }
                });
                (a, r)
            }
            Err(_) => (0, 0),
        };
        println!(
            "| {} | {size} | {arrays} | {refs} | {requests} | {bytes} | {:.1} | {:.2?} |",
            path.file_name().unwrap_or_default().to_string_lossy(),
            100.0 * bytes as f64 / size.max(1) as f64,
            times[times.len() / 2]
        );
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
