//! Heaps: local heaps (symbol-table link names), global heap collections (variable-length
//! data) and fractal heaps (dense link and attribute storage). Address helpers are in
//! [`super::util`].

// Complete readers of the format structures: some decoders (creation-order records, chunk
// index records, cache helpers) have no caller yet.
#![allow(dead_code)]

pub(crate) mod fractal;
pub(crate) mod global;
pub(crate) mod local;

#[cfg(test)]
pub(crate) mod test_util {
    //! Shared helpers for tests that use real files.

    use std::path::PathBuf;

    /// The shared corpus directory, or `None` (with a printed reason) when absent.
    pub(crate) fn corpus() -> Option<PathBuf> {
        let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
        if p.is_dir() {
            Some(p)
        } else {
            eprintln!("skipping: corpus directory {} not found", p.display());
            None
        }
    }

    /// The project's Python venv with h5py, or `None` (with a printed reason).
    pub(crate) fn python() -> Option<PathBuf> {
        let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
        if p.exists() {
            Some(p)
        } else {
            eprintln!("skipping: {} not found", p.display());
            None
        }
    }

    /// Run a Python script with the venv; `None` (printed) when it fails.
    pub(crate) fn run_python(script: &str, args: &[&str]) -> Option<String> {
        let py = python()?;
        let out = std::process::Command::new(py)
            .arg("-c")
            .arg(script)
            .args(args)
            .output()
            .ok()?;
        if !out.status.success() {
            eprintln!("skipping: python failed: {}", String::from_utf8_lossy(&out.stderr));
            return None;
        }
        String::from_utf8(out.stdout).ok()
    }

    /// Offsets of every occurrence of `sig` in `data`.
    pub(crate) fn find_all(data: &[u8], sig: &[u8]) -> Vec<u64> {
        data.windows(sig.len())
            .enumerate()
            .filter(|(_, w)| *w == sig)
            .map(|(i, _)| i as u64)
            .collect()
    }
}
