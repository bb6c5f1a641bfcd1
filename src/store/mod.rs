//! The vzarr store, format version 1 (DESIGN.md §2; `schemas/store-v1.md`).
//!
//! ```text
//! STORE/
//!   zarr.json              root group, every node's metadata consolidated inline
//!   <node path>/zarr.json  each group and array, plain Zarr v3
//!   manifest.parquet       chunk references; small arrays share row groups
//!   vzarr.json             format version, manifest list, sources table, provenance
//! ```
//!
//! [`write_store`] turns a [`VirtualDataset`] into these files; [`crate::reader`] reads them.

pub mod format;
pub mod location;
pub mod manifest;

use bytes::Bytes;

pub use format::{SourceEntry, StoreInfo, FORMAT_MAJOR, FORMAT_VERSION};
pub use location::StoreLocation;

use crate::model::{RefusalRecord, VirtualDataset};
use crate::zarr::metadata::{pretty, pretty_documents};

/// Errors writing or reading the store's own files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Parquet encoding/decoding failed.
    #[error("manifest {path}: {source}")]
    Parquet {
        /// Manifest file.
        path: String,
        /// Underlying error.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// Arrow failure building or reading batches.
    #[error("manifest: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// The manifest does not follow the v1 schema.
    #[error("manifest {path}: {reason}")]
    InvalidManifest {
        /// Manifest file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// `vzarr.json` is missing fields or malformed.
    #[error("{path}: {reason}")]
    InvalidStore {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The store was written by a newer, incompatible vzarr.
    #[error("{path}: store format version {found} is newer than this vzarr supports ({supported}.x); upgrade vzarr")]
    UnsupportedVersion {
        /// The file.
        path: String,
        /// Version found.
        found: String,
        /// Major version supported.
        supported: u32,
    },
    /// Storage I/O (object_store or local file system).
    #[error("{path}: {source}")]
    Io {
        /// What was being accessed.
        path: String,
        /// Underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Replacing an existing object-store store failed; `state` says what is left.
    #[error("{path}: {state}")]
    Replace {
        /// The store.
        path: String,
        /// What the store is now.
        state: String,
        /// The failure.
        #[source]
        source: Box<StoreError>,
    },
}

/// Options of the store writer.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// What produced the store (written as provenance).
    pub inputs: Vec<String>,
    /// What was left out (written as provenance).
    pub refused: Vec<RefusalRecord>,
    /// What was materialized instead of referenced (written as provenance).
    pub materialized: Vec<RefusalRecord>,
    /// Data files written into the store beside the manifest, `(relative path, bytes)`
    /// ([`format::MATERIALIZED_FILE`]).
    pub data_files: Vec<(String, Bytes)>,
}

/// Every file of a store, as `(relative path, bytes)`, `vzarr.json` last (it is the commit
/// marker: a store without it is incomplete).
///
/// # Errors
/// [`StoreError`] if the manifest cannot be encoded.
pub fn store_files(ds: &VirtualDataset, opts: &WriteOptions) -> Result<Vec<(String, Bytes)>, StoreError> {
    let mut files = Vec::new();
    let rest = store_files_with(ds, opts, &mut |docs| {
        files.extend_from_slice(docs);
        Ok(())
    })?;
    files.extend(rest);
    Ok(files)
}

/// Takes files as they are ready ([`store_files_with`]).
type FileSink<'a> = dyn FnMut(&[(String, Bytes)]) -> Result<(), StoreError> + 'a;

/// [`store_files`], handing the metadata documents to `early` as soon as they are built,
/// while the manifest is still being encoded on another thread; returns the other files
/// (`vzarr.json` last).
fn store_files_with(
    ds: &VirtualDataset,
    opts: &WriteOptions,
    early: &mut FileSink<'_>,
) -> Result<Vec<(String, Bytes)>, StoreError> {
    let manifest = std::thread::scope(|scope| {
        let manifest = scope.spawn(|| {
            let started = std::time::Instant::now();
            let m = manifest::write_manifest(ds);
            tracing::debug!("manifest encoded in {:.1} ms", started.elapsed().as_secs_f64() * 1e3);
            m
        });
        let started = std::time::Instant::now();
        let docs: Vec<(String, Bytes)> = pretty_documents(&ds.root)
            .into_iter()
            .map(|(path, body)| {
                let name = if path.is_empty() {
                    "zarr.json".to_string()
                } else {
                    format!("{path}/zarr.json")
                };
                (name, Bytes::from(body))
            })
            .collect();
        let built = started.elapsed();
        let handed = early(&docs);
        tracing::debug!(
            "{} metadata documents built in {:.1} ms, handed over in {:.1} ms",
            docs.len(),
            built.as_secs_f64() * 1e3,
            (started.elapsed() - built).as_secs_f64() * 1e3
        );
        let manifest = manifest.join().unwrap_or_else(|_| {
            Err(StoreError::InvalidStore {
                path: format::MANIFEST_FILE.into(),
                reason: "the manifest encoder failed".into(),
            })
        });
        handed.and(manifest)
    })?;
    let mut files = Vec::with_capacity(opts.data_files.len() + 2);
    files.push((format::MANIFEST_FILE.to_string(), manifest));
    files.extend(opts.data_files.iter().cloned());
    let info = StoreInfo::new(ds, opts);
    files.push((format::INFO_FILE.to_string(), Bytes::from(pretty(&info.to_json()))));
    Ok(files)
}

/// Write a store at `location`: for a local directory, into a temporary sibling directory that
/// is renamed into place at the end, so an interrupted run never leaves a partial store;
/// for an object store prefix, every file is put and `vzarr.json` (the commit marker) last.
/// Replacing an existing object-store store stages the new files under a sibling prefix
/// first, then removes the old marker, copies the staged files in and writes the marker last,
/// so a reader sees the old store, the new one, or a prefix without `vzarr.json` that it
/// refuses — never a mix of the two.
///
/// # Errors
/// [`StoreError`] on encoding or I/O failure; if the target exists and `overwrite` is false;
/// if the target exists but is not a store (never replaced); [`StoreError::Replace`] when a
/// replacement failed, saying what state the store is left in.
pub async fn write_store(
    ds: &VirtualDataset,
    location: &StoreLocation,
    opts: &WriteOptions,
    overwrite: bool,
) -> Result<(), StoreError> {
    if let Some(dir) = &location.local {
        // Locally, the metadata documents are written while the manifest is encoded.
        let staging = location::LocalStaging::begin(dir, overwrite, format::INFO_FILE)?;
        let rest = store_files_with(ds, opts, &mut |docs| staging.write(docs))?;
        staging.write(&rest)?;
        return staging.commit();
    }
    let files = store_files(ds, opts)?;
    location.write_all(files, overwrite).await
}
