//! Heaps: local heaps (symbol-table link names), global heap collections (variable-length
//! data) and fractal heaps (dense link and attribute storage). Also small helpers for reading
//! relative addresses shared with [`super::btree`].

// Complete readers of the format structures: some decoders (creation-order records, chunk
// index records, cache helpers) have no caller yet.
#![allow(dead_code)]

pub(crate) mod fractal;
pub(crate) mod global;
pub(crate) mod local;

use bytes::Bytes;

use super::{Hdf5Error, Sizes};
use crate::io::ReadAt;

/// Whether `addr` is the undefined address (all bytes 0xFF at the width of offsets).
pub(crate) fn is_undefined(sizes: Sizes, addr: u64) -> bool {
    let bits = u32::from(sizes.offset).saturating_mul(8);
    if bits >= 64 {
        addr == u64::MAX
    } else {
        addr == (1u64 << bits) - 1
    }
}

/// Absolute file offset of the relative address `addr` (`base + addr`, checked). The
/// undefined address is an error here: callers that allow it test [`is_undefined`] first.
pub(crate) fn absolute(sizes: Sizes, addr: u64, what: &'static str) -> Result<u64, Hdf5Error> {
    if is_undefined(sizes, addr) {
        return Err(Hdf5Error::corrupt(what, addr, "undefined address"));
    }
    sizes
        .base
        .checked_add(addr)
        .ok_or_else(|| Hdf5Error::corrupt(what, addr, "address overflows with the base address"))
}

/// Read `len` bytes at relative address `addr`; returns the absolute offset and the bytes.
/// Lengths beyond the file size fail before any allocation.
pub(crate) fn read_rel(
    src: &dyn ReadAt,
    sizes: Sizes,
    addr: u64,
    len: u64,
    what: &'static str,
) -> Result<(u64, Bytes), Hdf5Error> {
    let abs = absolute(sizes, addr, what)?;
    if len > src.size() {
        return Err(Hdf5Error::corrupt(
            what,
            abs,
            format!("length {len} exceeds the file size"),
        ));
    }
    let data = src
        .read_at(abs, len)
        .map_err(|source| Hdf5Error::Read { what, source })?;
    Ok((abs, data))
}

/// Check a 4-byte signature.
pub(crate) fn check_signature(
    sig: &[u8],
    expected: &[u8; 4],
    what: &'static str,
    offset: u64,
) -> Result<(), Hdf5Error> {
    if sig == expected {
        Ok(())
    } else {
        Err(Hdf5Error::corrupt(
            what,
            offset,
            format!(
                "bad signature {:?}, expected {:?}",
                String::from_utf8_lossy(sig),
                String::from_utf8_lossy(expected)
            ),
        ))
    }
}

/// Validate the widths from the superblock (1..=8 bytes).
pub(crate) fn check_sizes(sizes: Sizes, what: &'static str, offset: u64) -> Result<(), Hdf5Error> {
    if (1..=8).contains(&sizes.offset) && (1..=8).contains(&sizes.length) {
        Ok(())
    } else {
        Err(Hdf5Error::corrupt(
            what,
            offset,
            format!("unsupported size of offsets/lengths {}/{}", sizes.offset, sizes.length),
        ))
    }
}

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
