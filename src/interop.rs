//! `export` and `import`: a vzarr store to and from the formats Python pipelines use.
//! The library side of `vzarr export` and `vzarr import`.
//!
//! ```text
//!  STORE ── VirtualStore::dataset ──▶ VirtualDataset ─┬─ kerchunk JSON     (refs.json)
//!                                                     ├─ kerchunk Parquet  (refs.parq/)
//!                                                     └─ Icechunk repo     (feature `icechunk`)
//!  refs.json | refs.parq/ ── kerchunk::{json,parquet}::read ── to_dataset ── stat sources ──▶ STORE
//! ```

use bytes::Bytes;

use crate::kerchunk::{self, KerchunkError, KerchunkRefs};
use crate::model::{ChunkRef, NodeRef, RefusalRecord, VirtualDataset};
use crate::reader::{OpenOptions, ReadError, VirtualStore};
use crate::source::{self, SourceError};
use crate::store::{self, StoreError, StoreLocation, WriteOptions};

/// Export targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// kerchunk reference spec version 1, one JSON file.
    KerchunkJson,
    /// kerchunk Parquet references (a directory fsspec's `LazyReferenceMapper` reads).
    KerchunkParquet,
    /// An Icechunk repository with every chunk as a virtual reference (feature `icechunk`).
    Icechunk,
}

/// Options of [`export`].
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// Target format.
    pub format: ExportFormat,
    /// Replace an existing output.
    pub overwrite: bool,
    /// Parquet references: chunks per record file.
    pub record_size: u64,
}

impl Default for ExportOptions {
    fn default() -> Self {
        Self {
            format: ExportFormat::KerchunkJson,
            overwrite: false,
            record_size: kerchunk::parquet::DEFAULT_RECORD_SIZE,
        }
    }
}

/// Errors of [`export`] and [`import`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InteropError {
    /// Reading the store failed.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// Reading or writing references failed.
    #[error(transparent)]
    Kerchunk(#[from] KerchunkError),
    /// Writing the output failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A source named by the references cannot be reached.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The Icechunk export failed.
    #[error("{path}: icechunk: {reason}")]
    Icechunk {
        /// The repository.
        path: String,
        /// What failed.
        reason: String,
    },
    /// Bad arguments.
    #[error("{0}")]
    Usage(String),
}

/// What an export or import wrote.
#[derive(Debug, Clone, Default)]
pub struct InteropReport {
    /// Arrays written.
    pub arrays: usize,
    /// Chunk references written (virtual and inline).
    pub chunks: u64,
    /// Arrays left out, with reasons (import only).
    pub refused: Vec<RefusalRecord>,
    /// Files or objects written.
    pub files: usize,
}

fn count(ds: &VirtualDataset) -> (usize, u64) {
    let (mut arrays, mut chunks) = (0, 0);
    ds.root.walk(|_, n| {
        if let NodeRef::Array(a) = n {
            arrays += 1;
            chunks += a.chunks.values().filter(|c| !matches!(c, ChunkRef::Missing)).count() as u64;
        }
    });
    (arrays, chunks)
}

/// Export the store at `store` to `output` (a local path or URL).
///
/// # Errors
/// [`InteropError`] if the store cannot be read or the output written.
pub async fn export(store: &str, output: &str, opts: &ExportOptions) -> Result<InteropReport, InteropError> {
    let vs = VirtualStore::open(store, &OpenOptions::default()).await?;
    let ds = vs.dataset().await?;
    let (arrays, chunks) = count(&ds);
    let files = match opts.format {
        ExportFormat::KerchunkJson => {
            let refs = KerchunkRefs::from_dataset(&ds)?;
            write_file(output, Bytes::from(kerchunk::json::write(&refs)), opts.overwrite).await?;
            1
        }
        ExportFormat::KerchunkParquet => {
            let refs = KerchunkRefs::from_dataset(&ds)?;
            let files = kerchunk::parquet::write(&refs, opts.record_size)?;
            let n = files.len();
            StoreLocation::parse(output)?.write_all(files, opts.overwrite).await?;
            n
        }
        ExportFormat::Icechunk => export_icechunk(&ds, output, opts).await?,
    };
    Ok(InteropReport {
        arrays,
        chunks,
        refused: Vec::new(),
        files,
    })
}

#[cfg(feature = "icechunk")]
async fn export_icechunk(ds: &VirtualDataset, output: &str, opts: &ExportOptions) -> Result<usize, InteropError> {
    crate::icechunk::export(ds, output, opts.overwrite).await
}

#[cfg(not(feature = "icechunk"))]
async fn export_icechunk(_: &VirtualDataset, _: &str, _: &ExportOptions) -> Result<usize, InteropError> {
    Err(InteropError::Usage(
        "this vzarr was built without the `icechunk` feature; rebuild with `--features icechunk`".into(),
    ))
}

/// Write one file: locally through a temporary sibling renamed into place, remotely with one PUT.
async fn write_file(output: &str, bytes: Bytes, overwrite: bool) -> Result<(), StoreError> {
    let io = |path: &str, e: std::io::Error| StoreError::Io {
        path: path.into(),
        source: Box::new(e),
    };
    if let Some(url) = source::parse_url(output).filter(|u| u.scheme() != "file") {
        let (store, path) = source::resolve(&url).map_err(|e| StoreError::Io {
            path: output.into(),
            source: Box::new(e),
        })?;
        let mode = if overwrite {
            object_store::PutMode::Overwrite
        } else {
            object_store::PutMode::Create
        };
        store
            .put_opts(&path, bytes.into(), mode.into())
            .await
            .map_err(|e| StoreError::Io {
                path: output.into(),
                source: Box::new(e),
            })?;
        return Ok(());
    }
    let path = match source::parse_url(output) {
        Some(u) => u.to_file_path().map_err(|()| StoreError::InvalidStore {
            path: output.into(),
            reason: "not a local file URL".into(),
        })?,
        None => std::path::PathBuf::from(output),
    };
    if path.exists() && !overwrite {
        return Err(StoreError::InvalidStore {
            path: path.display().to_string(),
            reason: "already exists (use --overwrite to replace it)".into(),
        });
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| io(&dir.display().to_string(), e))?;
    let tmp = dir.join(format!(
        ".{}.vzarr-tmp-{}",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    std::fs::write(&tmp, &bytes).map_err(|e| io(&tmp.display().to_string(), e))?;
    std::fs::rename(&tmp, &path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(&path.display().to_string(), e)
    })
}

/// Options of [`import`].
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Replace an existing store.
    pub overwrite: bool,
}

/// Read kerchunk references (a JSON file or a Parquet reference directory) at `refs`.
///
/// # Errors
/// [`InteropError`] if they cannot be read or are malformed.
pub async fn read_references(refs: &str) -> Result<KerchunkRefs, InteropError> {
    let loc = StoreLocation::parse(refs)?;
    let is_dir = match &loc.local {
        Some(p) => p.is_dir(),
        None => loc.read(".zmetadata").await?.is_some(),
    };
    if is_dir {
        let name = loc.display("");
        let name = name.trim_end_matches('/');
        return Ok(kerchunk::parquet::read(name, |f| {
            let loc = loc.clone();
            async move { loc.read(&f).await }
        })
        .await?);
    }
    let url = source::to_url(refs)?;
    let (store, path) = source::resolve(&url)?;
    let bytes = object_store::ObjectStoreExt::get(&*store, &path)
        .await
        .map_err(|e| match e {
            object_store::Error::NotFound { .. } => SourceError::NotFound { url: url.to_string() },
            e => SourceError::Access {
                url: url.to_string(),
                source: e,
            },
        })?
        .bytes()
        .await
        .map_err(|e| SourceError::Access {
            url: url.to_string(),
            source: e,
        })?;
    Ok(kerchunk::json::read(refs, &bytes)?)
}

/// Import kerchunk references as a vzarr store at `output`. Every source they name is stat'ed
/// (size and ETag recorded, whole-file references sized); arrays a vzarr store cannot express
/// are left out and listed in the report.
///
/// # Errors
/// [`InteropError`] if the references cannot be read, a source cannot be reached, or the
/// store cannot be written.
pub async fn import(refs: &str, output: &str, opts: &ImportOptions) -> Result<InteropReport, InteropError> {
    let parsed = read_references(refs).await?;
    let (mut ds, refusals) = parsed.to_dataset(refs)?;
    // Resolve each source (plain paths become file URLs) and record its identity.
    for s in &mut ds.sources {
        let url = source::to_url(&s.url)?;
        *s = source::stat(&url).await?;
    }
    // Whole-file references take the file's size.
    let sizes: Vec<Option<u64>> = ds.sources.iter().map(|s| s.size).collect();
    fn fix(g: &mut crate::model::Group, sizes: &[Option<u64>]) {
        for child in g.children.values_mut() {
            match child {
                crate::model::Node::Group(c) => fix(c, sizes),
                crate::model::Node::Array(a) => {
                    for c in a.chunks.values_mut() {
                        if let ChunkRef::Virtual { source, length, .. } = c {
                            if *length == u64::MAX {
                                *length = sizes.get(source.0 as usize).copied().flatten().unwrap_or(0);
                            }
                        }
                    }
                }
            }
        }
    }
    fix(&mut ds.root, &sizes);
    let refused: Vec<RefusalRecord> = refusals
        .into_iter()
        .map(|r| RefusalRecord {
            source: refs.to_string(),
            path: r.path,
            feature: r.feature,
            reason: r.reason,
        })
        .collect();
    let (arrays, chunks) = count(&ds);
    let location = StoreLocation::parse(output)?;
    let wopts = WriteOptions {
        inputs: vec![refs.to_string()],
        refused: refused.clone(),
        ..Default::default()
    };
    let files = store::store_files(&ds, &wopts)?;
    let n = files.len();
    location.write_all(files, opts.overwrite).await?;
    Ok(InteropReport {
        arrays,
        chunks,
        refused,
        files: n,
    })
}
