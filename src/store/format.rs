//! `vzarr.json`: format version, manifest list, sources table, provenance.
//! Described in `schemas/store-v1.md`, machine-readable in `schemas/vzarr.v1.schema.json`.

use serde::{Deserialize, Serialize};

use super::{StoreError, WriteOptions};
use crate::model::{RefusalRecord, Source, VirtualDataset};

/// Name of the store info file.
pub const INFO_FILE: &str = "vzarr.json";
/// Name of the (single) manifest file written by this version.
pub const MANIFEST_FILE: &str = "manifest.parquet";
/// The file beside the manifest holding the larger chunks of materialized arrays (`vzarr
/// create --materialize unsupported`), referenced like any source, by a store-relative path.
pub const MATERIALIZED_FILE: &str = "materialized.bin";
/// Store format version written.
pub const FORMAT_VERSION: &str = "1.0";
/// Major format version this reader understands.
pub const FORMAT_MAJOR: u32 = 1;

/// One row of the sources table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceEntry {
    /// Absolute URL, or a path relative to the store location (no scheme).
    pub url: String,
    /// Size in bytes at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// ETag at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// Last-modified time (RFC 3339) at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
}

/// The contents of `vzarr.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreInfo {
    /// Store format version, `MAJOR.MINOR`.
    pub vzarr_format: String,
    /// Manifest files, relative to the store.
    pub manifests: Vec<String>,
    /// Sources that chunk references point into.
    pub sources: Vec<SourceEntry>,
    /// Tool and version that wrote the store.
    pub created_by: String,
    /// Inputs given to `vzarr create`.
    #[serde(default)]
    pub inputs: Vec<String>,
    /// Objects that were left out, with reasons.
    #[serde(default)]
    pub refused: Vec<RefusalRecord>,
    /// Datasets whose values are stored in the store (manifest, [`MATERIALIZED_FILE`])
    /// because they could not be referenced (`vzarr create --materialize unsupported`), with
    /// the reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub materialized: Vec<RefusalRecord>,
}

impl StoreInfo {
    /// Build the info of a dataset about to be written.
    #[must_use]
    pub fn new(ds: &VirtualDataset, opts: &WriteOptions) -> Self {
        Self {
            vzarr_format: FORMAT_VERSION.into(),
            manifests: vec![MANIFEST_FILE.into()],
            sources: ds.sources.iter().map(SourceEntry::from).collect(),
            created_by: format!("vzarr {}", env!("CARGO_PKG_VERSION")),
            inputs: opts.inputs.clone(),
            refused: opts.refused.clone(),
            materialized: opts.materialized.clone(),
        }
    }

    /// As JSON.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// Parse `vzarr.json`, refusing newer major versions by name.
    ///
    /// # Errors
    /// [`StoreError::InvalidStore`] or [`StoreError::UnsupportedVersion`].
    pub fn parse(path: &str, bytes: &[u8]) -> Result<Self, StoreError> {
        let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| StoreError::InvalidStore {
            path: path.into(),
            reason: e.to_string(),
        })?;
        let version = v
            .get("vzarr_format")
            .and_then(|x| x.as_str())
            .ok_or_else(|| StoreError::InvalidStore {
                path: path.into(),
                reason: "no \"vzarr_format\" version string".into(),
            })?;
        let major = version
            .split('.')
            .next()
            .and_then(|m| m.parse::<u32>().ok())
            .ok_or_else(|| StoreError::InvalidStore {
                path: path.into(),
                reason: format!("bad version {version:?}"),
            })?;
        if major != FORMAT_MAJOR {
            return Err(StoreError::UnsupportedVersion {
                path: path.into(),
                found: version.into(),
                supported: FORMAT_MAJOR,
            });
        }
        serde_json::from_value(v).map_err(|e| StoreError::InvalidStore {
            path: path.into(),
            reason: e.to_string(),
        })
    }
}

impl From<&Source> for SourceEntry {
    fn from(s: &Source) -> Self {
        Self {
            url: s.url.clone(),
            size: s.size,
            etag: s.etag.clone(),
            last_modified: s.last_modified.clone(),
        }
    }
}
