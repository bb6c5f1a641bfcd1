//! Byte access for parsers: the [`ReadAt`] trait and its implementations.
//!
//! Parsers never open files or sockets: they ask a [`ReadAt`] for byte ranges. The same
//! parser code therefore reads an in-memory buffer (tests, fuzzers), a local file, or an
//! object in a remote store ([`crate::source::ObjectReadAt`]) through a capped
//! [`BlockCache`].

mod block_cache;
pub mod cursor;

use std::fs::File;
use std::path::{Path, PathBuf};

use bytes::Bytes;

pub use block_cache::BlockCache;

/// An error and its causes on one line, skipping causes whose text the previous one already
/// contains (object_store, reqwest and zarrs repeat their sources in their messages).
#[must_use]
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    causes_text(std::iter::successors(Some(e), |c| c.source()).map(ToString::to_string))
}

/// [`error_chain`] over already formatted causes, outermost first.
#[must_use]
pub fn causes_text(causes: impl Iterator<Item = String>) -> String {
    let mut out = String::new();
    let mut last = String::new();
    for s in causes {
        if !last.contains(&s) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&s);
        }
        last = s;
    }
    out
}

/// Run a third-party decoder (the parquet crate) on untrusted bytes, turning a panic inside it
/// into an error: parquet has panicked on some corrupt files (arrow-rs #9434 and others), and a
/// damaged manifest must give an error naming the file, never a crash.
///
/// # Errors
/// `f`'s own error, or `on_panic` applied to the panic message.
pub(crate) fn guard_decoder<T, E>(
    f: impl FnOnce() -> Result<T, E>,
    on_panic: impl FnOnce(String) -> E,
) -> Result<T, E> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(on_panic(format!("the Parquet decoder failed on corrupt data ({msg})")))
        }
    }
}

/// Errors from reading source bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The requested range ends past the end of the source.
    #[error("read of {len} bytes at offset {offset} runs past the end of the data ({size} bytes)")]
    OutOfBounds {
        /// Requested offset.
        offset: u64,
        /// Requested length.
        len: u64,
        /// Size of the source.
        size: u64,
    },
    /// Local I/O failure.
    #[error("I/O error reading {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Object store failure (remote sources).
    #[error("{0}")]
    Remote(String),
    /// The bytes are not fetched yet: returned only to a discovery pass of
    /// [`ReadAt::warm`], which fetches them before the real parse.
    #[error("read of {len} bytes at offset {offset} deferred to the next fetch")]
    Deferred {
        /// Requested offset.
        offset: u64,
        /// Requested length.
        len: u64,
    },
}

/// Random access to the bytes of one source.
///
/// `read_at` returns exactly `len` bytes or an error: a short read is never padded.
pub trait ReadAt: Send + Sync {
    /// Total size of the source in bytes.
    fn size(&self) -> u64;

    /// Read exactly `len` bytes at `offset`.
    ///
    /// # Errors
    /// [`ReadError::OutOfBounds`] when the range ends past [`ReadAt::size`], or an I/O error.
    fn read_at(&self, offset: u64, len: u64) -> Result<Bytes, ReadError>;

    /// Number of read requests sent to the underlying storage so far (for tests/benches).
    fn requests(&self) -> u64 {
        0
    }

    /// Read several ranges (in the order given). Remote readers fetch them concurrently,
    /// merging adjacent ones into one request; the default reads them one after another.
    ///
    /// # Errors
    /// As [`ReadAt::read_at`], for the first range that fails.
    fn read_ranges(&self, ranges: &[(u64, u64)]) -> Result<Vec<Bytes>, ReadError> {
        ranges.iter().map(|&(o, l)| self.read_at(o, l)).collect()
    }

    /// Say that these ranges (offset, length) will be read soon. Ignored by plain readers; a
    /// discovery pass of [`ReadAt::warm`] records the missing ones, so reads that do not
    /// depend on each other (the children of one B-tree node) go out in the same batch even
    /// though the parse stops at the first of them.
    fn hint(&self, ranges: &[(u64, u64)]) {
        let _ = ranges;
    }

    /// Prepare for a parse that would otherwise wait for one small read after another: run
    /// `pass` (a parse whose result is thrown away) against a view that answers only from
    /// what is already fetched and records the rest ([`ReadError::Deferred`]), fetch what
    /// it recorded in one concurrent batch, and repeat until a pass needs nothing new. Each
    /// batch reaches one level further into the file's structure, so the number of round
    /// trips follows the depth of the structure, not the number of objects. Readers without
    /// a cache, or where waiting is cheap (local files), do nothing.
    fn warm(&self, pass: &mut dyn FnMut(&dyn ReadAt)) {
        let _ = pass;
    }
}

/// Check that `[offset, offset+len)` lies within `size`.
///
/// # Errors
/// [`ReadError::OutOfBounds`] otherwise.
pub fn check_range(offset: u64, len: u64, size: u64) -> Result<(), ReadError> {
    match offset.checked_add(len) {
        Some(end) if end <= size => Ok(()),
        _ => Err(ReadError::OutOfBounds { offset, len, size }),
    }
}

impl ReadAt for Bytes {
    fn size(&self) -> u64 {
        self.len() as u64
    }

    fn read_at(&self, offset: u64, len: u64) -> Result<Bytes, ReadError> {
        check_range(offset, len, self.len() as u64)?;
        // Both fit in usize: they are bounded by self.len().
        let (o, l) = (offset as usize, len as usize);
        Ok(self.slice(o..o + l))
    }
}

impl ReadAt for Vec<u8> {
    fn size(&self) -> u64 {
        self.len() as u64
    }

    fn read_at(&self, offset: u64, len: u64) -> Result<Bytes, ReadError> {
        check_range(offset, len, self.len() as u64)?;
        let (o, l) = (offset as usize, len as usize);
        Ok(Bytes::copy_from_slice(&self[o..o + l]))
    }
}

/// A local file read with positioned reads.
#[derive(Debug)]
pub struct FileReadAt {
    file: File,
    path: PathBuf,
    size: u64,
    requests: std::sync::atomic::AtomicU64,
}

impl FileReadAt {
    /// Open a local file.
    ///
    /// # Errors
    /// [`ReadError::Io`] if the file cannot be opened or its size read.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ReadError> {
        let path = path.as_ref().to_path_buf();
        let io = |source| ReadError::Io {
            path: path.clone(),
            source,
        };
        let file = File::open(&path).map_err(io)?;
        let size = file.metadata().map_err(io)?.len();
        Ok(Self {
            file,
            path,
            size,
            requests: 0.into(),
        })
    }
}

impl ReadAt for FileReadAt {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, len: u64) -> Result<Bytes, ReadError> {
        use std::os::unix::fs::FileExt;
        check_range(offset, len, self.size)?;
        self.requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut buf = vec![
            0u8;
            usize::try_from(len).map_err(|_| ReadError::OutOfBounds {
                offset,
                len,
                size: self.size
            })?
        ];
        self.file
            .read_exact_at(&mut buf, offset)
            .map_err(|source| ReadError::Io {
                path: self.path.clone(),
                source,
            })?;
        Ok(Bytes::from(buf))
    }

    fn requests(&self) -> u64 {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }
}
