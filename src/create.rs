//! `create`: sources → parsers → model → store. The library side of `vzarr create`.

use std::collections::BTreeMap;
use std::sync::Arc;

use url::Url;

use crate::io::{BlockCache, FileReadAt, ReadAt};
use crate::model::{ChunkRef, Group, Node, RefusalRecord, Source, SourceId, VirtualDataset};
use crate::source::{self, ObjectReadAt, SourceError};
use crate::store::{self, StoreError, StoreLocation, WriteOptions};

/// Input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Detect from the file's magic bytes.
    #[default]
    Auto,
    /// HDF5 / netCDF-4.
    Hdf5,
}

/// Options of [`create`].
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// Input format.
    pub format: Format,
    /// Chunks of at most this many bytes are copied into the manifest (0: only compact data).
    pub inline_threshold: u64,
    /// Cut contiguous unfiltered datasets into virtual chunks of about this many bytes.
    pub split_contiguous: Option<u64>,
    /// Record sources relative to the store location.
    pub relative: bool,
    /// Replace an existing store.
    pub overwrite: bool,
}

/// Errors that stop a whole `create` run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CreateError {
    /// A source could not be reached.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// A source could not be parsed at all.
    #[error("{source_url}: {reason}")]
    Parse {
        /// The source.
        source_url: String,
        /// Why.
        reason: String,
    },
    /// Writing the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Bad arguments.
    #[error("{0}")]
    Usage(String),
}

/// What a `create` run produced.
#[derive(Debug, Clone, Default)]
pub struct CreateReport {
    /// Number of arrays written.
    pub arrays: usize,
    /// Virtual / inline chunk references written.
    pub virtual_chunks: u64,
    /// Inline chunks written.
    pub inline_chunks: u64,
    /// Objects left out, with reasons.
    pub refused: Vec<RefusalRecord>,
    /// Attributes or links skipped, with reasons.
    pub warnings: Vec<RefusalRecord>,
    /// Requests sent to the sources while parsing.
    pub source_requests: u64,
}

/// Open a source for parsing: local files directly, remote objects through a block cache.
///
/// # Errors
/// [`SourceError`] if the source cannot be opened.
pub fn open_source(meta: &Source, handle: &tokio::runtime::Handle) -> Result<Arc<dyn ReadAt>, SourceError> {
    let url = Url::parse(&meta.url).map_err(|e| SourceError::Path {
        path: meta.url.clone(),
        reason: e.to_string(),
    })?;
    if url.scheme() == "file" {
        let path = url.to_file_path().map_err(|()| SourceError::Path {
            path: meta.url.clone(),
            reason: "bad file URL".into(),
        })?;
        let f = FileReadAt::open(&path).map_err(|e| SourceError::Path {
            path: meta.url.clone(),
            reason: e.to_string(),
        })?;
        return Ok(Arc::new(BlockCache::new(f, 64 * 1024, 64 << 20)));
    }
    Ok(Arc::new(BlockCache::new(
        ObjectReadAt::new(meta, handle.clone())?,
        1 << 20,
        256 << 20,
    )))
}

/// Parse one source into a model group; refusals and warnings carry the source name.
///
/// Runs the (synchronous) parser; call it from a blocking thread.
///
/// # Errors
/// [`CreateError::Parse`] if the file cannot be read at all.
pub fn parse_source(
    src: &dyn ReadAt,
    name: &str,
    opts: &CreateOptions,
    report: &mut CreateReport,
) -> Result<Group, CreateError> {
    let parse_err = |reason: String| CreateError::Parse {
        source_url: name.into(),
        reason,
    };
    match opts.format {
        Format::Auto if !crate::hdf5::is_hdf5(src) => {
            let head = src.read_at(0, src.size().min(4)).unwrap_or_default();
            let what = match head.as_ref() {
                [b'C', b'D', b'F', 1 | 2 | 5] => "a netCDF-3 classic file, not HDF5/netCDF-4",
                _ => "format not recognised",
            };
            return Err(parse_err(format!("{what} (supported: HDF5 / netCDF-4)")));
        }
        Format::Auto | Format::Hdf5 => {}
    }
    let out = crate::hdf5::read(
        src,
        &crate::hdf5::Hdf5Options {
            split_contiguous: opts.split_contiguous,
        },
    )
    .map_err(|e| parse_err(e.to_string()))?;
    let rec = |r: crate::model::Refusal| RefusalRecord {
        source: name.into(),
        path: r.path,
        feature: r.feature,
        reason: r.reason,
    };
    report.refused.extend(out.refusals.into_iter().map(rec));
    report.warnings.extend(out.warnings.into_iter().map(rec));
    let mut root = out.root;
    if opts.inline_threshold > 0 {
        inline_small_chunks(&mut root, src, opts.inline_threshold).map_err(|e| parse_err(e.to_string()))?;
    }
    Ok(root)
}

fn inline_small_chunks(g: &mut Group, src: &dyn ReadAt, threshold: u64) -> Result<(), crate::io::ReadError> {
    for child in g.children.values_mut() {
        match child {
            Node::Group(c) => inline_small_chunks(c, src, threshold)?,
            Node::Array(a) => {
                for c in a.chunks.values_mut() {
                    if let ChunkRef::Virtual { offset, length, .. } = *c {
                        if length <= threshold {
                            *c = ChunkRef::Inline(src.read_at(offset, length)?);
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

fn set_source(g: &mut Group, id: SourceId) {
    for child in g.children.values_mut() {
        match child {
            Node::Group(c) => set_source(c, id),
            Node::Array(a) => {
                for c in a.chunks.values_mut() {
                    if let ChunkRef::Virtual { source, .. } = c {
                        *source = id;
                    }
                }
            }
        }
    }
}

/// The name of the group a source becomes when several sources go into one store.
fn group_name(url: &Url, taken: &BTreeMap<String, Node>) -> String {
    let base = url.path_segments().and_then(|mut s| s.next_back()).unwrap_or("source");
    let stem = base
        .split('.')
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or("source")
        .to_string();
    let mut name = stem.clone();
    let mut i = 1;
    while taken.contains_key(&name) {
        i += 1;
        name = format!("{stem}_{i}");
    }
    name
}

/// Build a dataset from `inputs` and write it to `output`.
///
/// One input becomes the store's root; several inputs each become a group named after the
/// file. Must be called within a tokio runtime (parsing runs on blocking threads).
///
/// # Errors
/// [`CreateError`] when a source is unreachable or unreadable, or the store cannot be written.
/// Objects that cannot be expressed are not errors: they are listed in the report.
pub async fn create(inputs: &[String], output: &str, opts: &CreateOptions) -> Result<CreateReport, CreateError> {
    if inputs.is_empty() {
        return Err(CreateError::Usage("no sources given".into()));
    }
    let location = StoreLocation::parse(output)?;
    let handle = tokio::runtime::Handle::current();
    let mut report = CreateReport::default();
    let mut ds = VirtualDataset::default();
    for input in inputs {
        let url = source::to_url(input)?;
        let meta = source::stat(&url).await?;
        let src = open_source(&meta, &handle)?;
        let name = input.clone();
        let o = opts.clone();
        let (group, sub) = tokio::task::spawn_blocking(move || {
            let mut r = CreateReport::default();
            let g = parse_source(src.as_ref(), &name, &o, &mut r);
            r.source_requests = src.requests();
            g.map(|g| (g, r))
        })
        .await
        .map_err(|e| CreateError::Parse {
            source_url: input.clone(),
            reason: format!("parser task failed: {e}"),
        })??;
        report.refused.extend(sub.refused);
        report.warnings.extend(sub.warnings);
        report.source_requests += sub.source_requests;
        let id = SourceId(u32::try_from(ds.sources.len()).map_err(|_| CreateError::Usage("too many sources".into()))?);
        let mut group = group;
        set_source(&mut group, id);
        let mut recorded = meta.clone();
        if opts.relative {
            recorded.url = location.url.make_relative(&url).ok_or_else(|| {
                CreateError::Usage(format!("{input}: cannot be expressed relative to {}", location.url))
            })?;
        }
        ds.sources.push(recorded);
        if inputs.len() == 1 {
            ds.root = group;
        } else {
            let n = group_name(&url, &ds.root.children);
            ds.root.children.insert(n, Node::Group(group));
        }
    }
    ds.root.walk(|_, n| {
        if let crate::model::NodeRef::Array(a) = n {
            report.arrays += 1;
            for c in a.chunks.values() {
                match c {
                    ChunkRef::Virtual { .. } => report.virtual_chunks += 1,
                    ChunkRef::Inline(_) => report.inline_chunks += 1,
                    ChunkRef::Missing => {}
                }
            }
        }
    });
    let wopts = WriteOptions {
        inputs: inputs.to_vec(),
        refused: report.refused.clone(),
    };
    store::write_store(&ds, &location, &wopts, opts.overwrite).await?;
    Ok(report)
}
