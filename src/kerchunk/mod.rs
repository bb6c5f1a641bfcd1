//! kerchunk references (fsspec `ReferenceFileSystem`, spec version 1): export a vzarr store
//! to them and import them as a vzarr store.
//!
//! ```text
//!  VirtualDataset ── from_dataset ──▶ KerchunkRefs ──▶ json::write   (refs.json)
//!        ▲                               │    ▲    └─▶ parquet::write (refs.parq/, fsspec's
//!        └──────────── to_dataset ◀──────┘    │                       LazyReferenceMapper)
//!                                  json::read ┴ parquet::read
//! ```
//!
//! - [`v2`] translates array metadata between the model and Zarr v2 (`.zarray`, `.zattrs`).
//! - References carry the metadata documents and, per array, its chunks by grid coordinates:
//!   a byte range of a URL, a whole file, or inline bytes.
//! - What kerchunk cannot say (a vzarr source's size and ETag) is dropped on export and
//!   recovered on import by asking the object store.

pub mod json;
pub mod parquet;
pub mod v2;

use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::{json, Value};

use crate::model::{ChunkRef, Group, Node, NodeRef, Refusal, Source, SourceId, VirtualDataset};

/// Errors reading or writing kerchunk references.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KerchunkError {
    /// The references are malformed (the message names the key or file).
    #[error("{path}: {reason}")]
    Invalid {
        /// File and key.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A dataset that cannot be expressed as kerchunk references.
    #[error("{path}: cannot be exported to kerchunk references: {reason}")]
    Unexpressible {
        /// Node path.
        path: String,
        /// Why.
        reason: String,
    },
    /// Writing or reading Parquet failed.
    #[error("{path}: {source}")]
    Parquet {
        /// File.
        path: String,
        /// Underlying error.
        #[source]
        source: ::parquet::errors::ParquetError,
    },
    /// Reading a Parquet record batch failed.
    #[error("{path}: {source}")]
    Arrow {
        /// File.
        path: String,
        /// Underlying error.
        #[source]
        source: arrow_schema::ArrowError,
    },
    /// Reading or writing the files failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Where one chunk's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// The chunk's encoded bytes.
    Inline(Bytes),
    /// `length` bytes at `offset` of `url`.
    Range {
        /// Absolute URL or path.
        url: String,
        /// Byte offset.
        offset: u64,
        /// Number of bytes.
        length: u64,
    },
    /// A whole file (`[url]` in kerchunk).
    Whole(String),
}

/// The chunk references of one array.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ArrayRefs {
    /// Chunks per axis (the chunk grid's shape; empty for rank 0).
    pub grid: Vec<u64>,
    /// Chunks by grid coordinates; absent chunks are missing (fill value).
    pub chunks: BTreeMap<Vec<u64>, Reference>,
}

/// A whole reference set: Zarr v2 metadata documents and chunk references per array.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KerchunkRefs {
    /// `.zgroup`, `.zattrs`, `a/.zarray`, `a/.zattrs`… by key, as JSON documents.
    pub metadata: BTreeMap<String, Value>,
    /// Array path (`""` for a root array) → its chunks.
    pub arrays: BTreeMap<String, ArrayRefs>,
}

fn meta_key(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}/{name}")
    }
}

/// The full key of a chunk (`a/b/3.0`).
#[must_use]
pub fn chunk_store_key(array: &str, coords: &[u64]) -> String {
    meta_key(array, &v2::chunk_key(coords))
}

impl KerchunkRefs {
    /// The references of a dataset whose sources are absolute URLs (as
    /// [`crate::reader::VirtualStore::dataset`] gives them).
    ///
    /// # Errors
    /// [`KerchunkError::Unexpressible`] if a chunk names an unknown source.
    pub fn from_dataset(ds: &VirtualDataset) -> Result<Self, KerchunkError> {
        let mut out = Self::default();
        let mut failure = None;
        ds.root.walk(|path, node| {
            if failure.is_some() {
                return;
            }
            match node {
                NodeRef::Group(g) => {
                    out.metadata
                        .insert(meta_key(path, ".zgroup"), json!({"zarr_format": 2}));
                    out.metadata
                        .insert(meta_key(path, ".zattrs"), Value::Object(g.attributes.clone()));
                }
                NodeRef::Array(a) => {
                    out.metadata.insert(meta_key(path, ".zarray"), v2::zarray(a));
                    out.metadata.insert(meta_key(path, ".zattrs"), v2::zattrs(a));
                    let mut refs = ArrayRefs {
                        grid: a.chunk_grid_shape(),
                        chunks: BTreeMap::new(),
                    };
                    for (coords, c) in &a.chunks {
                        let r = match c {
                            ChunkRef::Missing => continue,
                            ChunkRef::Inline(b) => Reference::Inline(b.clone()),
                            ChunkRef::Virtual { source, offset, length } => {
                                let Some(s) = usize::try_from(source.0).ok().and_then(|i| ds.sources.get(i)) else {
                                    failure = Some(KerchunkError::Unexpressible {
                                        path: path.to_string(),
                                        reason: format!("chunk {coords:?} names unknown source {}", source.0),
                                    });
                                    return;
                                };
                                Reference::Range {
                                    url: s.url.clone(),
                                    offset: *offset,
                                    length: *length,
                                }
                            }
                        };
                        refs.chunks.insert(coords.clone(), r);
                    }
                    out.arrays.insert(path.to_string(), refs);
                }
            }
        });
        match failure {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    /// Number of chunk references.
    #[must_use]
    pub fn chunk_count(&self) -> usize {
        self.arrays.values().map(|a| a.chunks.len()).sum()
    }

    /// The dataset these references describe. Sources get only their URL (size and ETag are
    /// for the caller to fill in); whole-file references get `length = u64::MAX` in a
    /// `Virtual` chunk, for the caller to replace with the file size.
    ///
    /// Arrays that a vzarr store cannot express are left out and returned as refusals.
    ///
    /// # Errors
    /// [`KerchunkError::Invalid`] if the metadata documents are malformed.
    pub fn to_dataset(&self, name: &str) -> Result<(VirtualDataset, Vec<Refusal>), KerchunkError> {
        let invalid = |key: &str, reason: String| KerchunkError::Invalid {
            path: format!("{name}: {key}"),
            reason,
        };
        let mut ds = VirtualDataset::default();
        let mut refusals = Vec::new();
        let mut source_ids: BTreeMap<String, SourceId> = BTreeMap::new();
        // Node paths from the metadata keys, parents first.
        let mut nodes: Vec<(String, bool)> = Vec::new();
        for key in self.metadata.keys() {
            let (path, file) = key.rsplit_once('/').unwrap_or(("", key.as_str()));
            match file {
                ".zgroup" => nodes.push((path.to_string(), false)),
                ".zarray" => nodes.push((path.to_string(), true)),
                ".zattrs" | ".zmetadata" => {}
                _ => {}
            }
        }
        nodes.sort_by_key(|(p, _)| (p.matches('/').count(), !p.is_empty(), p.clone()));
        for (path, is_array) in nodes {
            let attrs = self.metadata.get(&meta_key(&path, ".zattrs"));
            let node = if is_array {
                let zarray = &self.metadata[&meta_key(&path, ".zarray")];
                let mut a = match v2::array_from_v2(zarray, attrs) {
                    Ok(a) => a,
                    Err(e) => {
                        refusals.push(Refusal {
                            path: format!("/{path}"),
                            feature: "Zarr v2 metadata".into(),
                            reason: e.0,
                        });
                        continue;
                    }
                };
                if let Some(refs) = self.arrays.get(&path) {
                    let grid = a.chunk_grid_shape();
                    if let Some(c) = refs
                        .chunks
                        .keys()
                        .find(|c| c.len() != grid.len() || c.iter().zip(&grid).any(|(c, n)| c >= n))
                    {
                        // A reference the array cannot hold: refuse the array, never drop data.
                        refusals.push(Refusal {
                            path: format!("/{path}"),
                            feature: "chunk outside the grid".into(),
                            reason: format!(
                                "reference {} lies outside the array's chunk grid {grid:?}",
                                chunk_store_key(&path, c)
                            ),
                        });
                        continue;
                    }
                    for (coords, r) in &refs.chunks {
                        let c = match r {
                            // No chunk is zero bytes long: kerchunk writes these for datasets
                            // with no storage allocated, which read as the fill value.
                            Reference::Range { length: 0, .. } => continue,
                            Reference::Inline(b) => ChunkRef::Inline(b.clone()),
                            Reference::Range { url, offset, length } => ChunkRef::Virtual {
                                source: source_id(&mut ds, &mut source_ids, url),
                                offset: *offset,
                                length: *length,
                            },
                            Reference::Whole(url) => ChunkRef::Virtual {
                                source: source_id(&mut ds, &mut source_ids, url),
                                offset: 0,
                                length: u64::MAX,
                            },
                        };
                        a.chunks.insert(coords.clone(), c);
                    }
                }
                Node::Array(a)
            } else {
                Node::Group(Group {
                    attributes: attrs.and_then(Value::as_object).cloned().unwrap_or_default(),
                    children: BTreeMap::new(),
                })
            };
            if path.is_empty() {
                match node {
                    Node::Group(g) => ds.root.attributes = g.attributes,
                    Node::Array(_) => {
                        refusals.push(Refusal {
                            path: "/".into(),
                            feature: "root array".into(),
                            reason: "a root array is not supported; put it in a group".into(),
                        });
                    }
                }
                continue;
            }
            if !insert(&mut ds.root, &path, node) {
                return Err(invalid(&path, "a node below an array".into()));
            }
        }
        Ok((ds, refusals))
    }
}

/// Insert `node` at `path`, creating implicit parent groups (Zarr v2 allows them); false if a
/// parent is an array.
fn insert(root: &mut Group, path: &str, node: Node) -> bool {
    match path.split_once('/') {
        None => {
            root.children.insert(path.to_string(), node);
            true
        }
        Some((head, rest)) => match root
            .children
            .entry(head.to_string())
            .or_insert_with(|| Node::Group(Group::default()))
        {
            Node::Group(g) => insert(g, rest, node),
            Node::Array(_) => false,
        },
    }
}

fn source_id(ds: &mut VirtualDataset, ids: &mut BTreeMap<String, SourceId>, url: &str) -> SourceId {
    if let Some(id) = ids.get(url) {
        return *id;
    }
    let id = SourceId(u32::try_from(ds.sources.len()).unwrap_or(u32::MAX));
    ds.sources.push(Source {
        url: url.to_string(),
        size: None,
        etag: None,
        last_modified: None,
    });
    ids.insert(url.to_string(), id);
    id
}

/// Grid coordinates of row-major chunk number `i` in `grid` (as fsspec numbers Parquet rows).
#[must_use]
pub fn unravel(mut i: u64, grid: &[u64]) -> Vec<u64> {
    let mut out = vec![0; grid.len()];
    for (o, &n) in out.iter_mut().zip(grid).rev() {
        if n > 0 {
            *o = i % n;
            i /= n;
        }
    }
    out
}

/// Row-major chunk number of grid coordinates (inverse of [`unravel`]).
#[must_use]
pub fn ravel(coords: &[u64], grid: &[u64]) -> u64 {
    coords
        .iter()
        .zip(grid)
        .fold(0u64, |acc, (&c, &n)| acc.saturating_mul(n).saturating_add(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ravel_and_unravel_are_inverse_row_major() {
        let grid = [3, 4, 5];
        for i in 0..60 {
            let c = unravel(i, &grid);
            assert_eq!(ravel(&c, &grid), i);
        }
        assert_eq!(unravel(7, &grid), vec![0, 1, 2]);
        assert_eq!(ravel(&[], &[]), 0);
    }
}
