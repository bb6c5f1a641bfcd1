//! In-process parse time of the DMR++ reader: `vzarr::dmrpp::read` on a document already in
//! memory (XML parse and mapping to the model; no I/O, no store written). Prints a table (no
//! assertions).
//!
//! `cargo bench --bench dmrpp_parse` (or `make bench-dmrpp`, which compares it with
//! VirtualiZarr's `DMRPPParser`).
//!
//! Environment:
//! - `DMRPP_BENCH_FILES`: DMR++ files, separated like `PATH` (`:`); default: the ATL08,
//!   AIRS and MERRA-2 DMR++ of the shared corpus (`VZARR_CORPUS`, else `../shared/corpus`).
//! - `DMRPP_BENCH_RUNS`: timed runs per file (default 20, after one untimed warm-up run).
//! - `DMRPP_BENCH_JSON=1`: also print one `BENCH-RESULT {json}` line per file.
//!
//! The data file is `file:///nonexistent/<name without .dmrpp>` (the reader never opens it;
//! ATL08's `dmrpp:href` is the `OPeNDAP_DMRpp_DATA_ACCESS_URL` template, which needs one).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use vzarr::dmrpp::DmrppOptions;
use vzarr::model::NodeRef;

const DEFAULT_FILES: [&str; 3] = [
    "opendap-bes/modules/dmrpp_module/ngap_container/unit-tests/data/ATL08_20200716202251.h5.dmrpp",
    "opendap-bes/modules/dmrpp_module/data/s3/AIRS.2015.12.30.L3.RetStd_IR001.v6.0.31.0.G16116184203.nc.h5.dmrpp",
    "opendap-bes/modules/dmrpp_module/data/s3/MERRA2_400.tavgM_2d_slv_Nx.201606.nc4.dmrpp",
];

fn main() {
    let files: Vec<PathBuf> = match std::env::var_os("DMRPP_BENCH_FILES") {
        Some(v) if !v.is_empty() => std::env::split_paths(&v).collect(),
        _ => {
            let corpus = std::env::var_os("VZARR_CORPUS")
                .map(PathBuf::from)
                .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
            DEFAULT_FILES.iter().map(|rel| corpus.join(rel)).collect()
        }
    };
    let runs: usize = std::env::var("DMRPP_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(20);
    let json = std::env::var("DMRPP_BENCH_JSON").is_ok_and(|v| v == "1");

    println!("| file | size (B) | arrays | chunk refs | refused | parse time (median of {runs}) | min |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for path in files {
        let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let xml = match std::fs::read(&path) {
            Ok(x) => x,
            Err(e) => {
                eprintln!("skipping {}: {e}", path.display());
                continue;
            }
        };
        let abs = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        let data_name = name.strip_suffix(".dmrpp").unwrap_or(&name);
        let opts = DmrppOptions {
            dmrpp_url: url::Url::from_file_path(&abs).ok(),
            data_url: url::Url::parse(&format!("file:///nonexistent/{data_name}")).ok(),
        };
        // Warm-up, and the counts.
        let (arrays, refs, refused) = match vzarr::dmrpp::read(&xml, &opts) {
            Ok(out) => {
                let (mut a, mut r) = (0usize, 0usize);
                out.root.walk(|_, n| {
                    if let NodeRef::Array(x) = n {
                        a += 1;
                        r += x.chunks.len();
                    }
                });
                (a, r, out.refusals.len())
            }
            Err(e) => {
                println!("| {name} | {} | error: {e} | | | | |", xml.len());
                continue;
            }
        };
        let mut times: Vec<Duration> = (0..runs)
            .map(|_| {
                let t = Instant::now();
                let out = vzarr::dmrpp::read(&xml, &opts);
                let dt = t.elapsed();
                drop(std::hint::black_box(out));
                dt
            })
            .collect();
        times.sort();
        let median = times[times.len() / 2];
        println!(
            "| {name} | {} | {arrays} | {refs} | {refused} | {median:.2?} | {:.2?} |",
            xml.len(),
            times[0]
        );
        if json {
            println!(
                "BENCH-RESULT {}",
                serde_json::json!({
                    "file": path.to_string_lossy(),
                    "size": xml.len(),
                    "arrays": arrays,
                    "chunk_refs": refs,
                    "refused": refused,
                    "runs": runs,
                    "times_s": times.iter().map(Duration::as_secs_f64).collect::<Vec<_>>(),
                    "median_s": median.as_secs_f64(),
                })
            );
        }
    }
}
