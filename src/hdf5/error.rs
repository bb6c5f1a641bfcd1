//! Errors of the HDF5 reader.

use crate::io::cursor::Truncated;
use crate::io::ReadError;

/// An error reading HDF5 structures. Messages name the structure and the file offset.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Hdf5Error {
    /// Not an HDF5 file (no signature at 0, 512, 1024, …).
    #[error("not an HDF5 file (no HDF5 signature found)")]
    NotHdf5,
    /// A structure ends past the data that was read for it.
    #[error(transparent)]
    Truncated(#[from] Truncated),
    /// Reading the source failed (including ranges past the end of the file).
    #[error("reading {what}: {source}")]
    Read {
        /// The structure being read.
        what: &'static str,
        /// The underlying error.
        #[source]
        source: ReadError,
    },
    /// A structure is malformed: bad signature, version, checksum or value.
    #[error("corrupt {what} at offset {offset:#x}: {reason}")]
    Corrupt {
        /// The structure.
        what: &'static str,
        /// Its file offset.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A valid feature this reader does not handle.
    #[error("unsupported {feature}")]
    Unsupported {
        /// Short feature name, used for tallies.
        feature: String,
    },
    /// A resource bound was hit (recursion depth, object count, allocation).
    #[error("limit exceeded: {0}")]
    Limit(String),
}

impl Hdf5Error {
    /// Shorthand for [`Hdf5Error::Corrupt`].
    pub fn corrupt(what: &'static str, offset: u64, reason: impl Into<String>) -> Self {
        Hdf5Error::Corrupt {
            what,
            offset,
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Hdf5Error::Unsupported`].
    pub fn unsupported(feature: impl Into<String>) -> Self {
        Hdf5Error::Unsupported {
            feature: feature.into(),
        }
    }

    /// Short feature name of this error for coverage tallies.
    #[must_use]
    pub fn feature(&self) -> String {
        match self {
            Hdf5Error::Unsupported { feature } => feature.clone(),
            Hdf5Error::Truncated(_) | Hdf5Error::Read { .. } => "truncated or unreadable".into(),
            Hdf5Error::Corrupt { what, .. } => format!("corrupt {what}"),
            Hdf5Error::Limit(_) => "resource limit".into(),
            Hdf5Error::NotHdf5 => "not HDF5".into(),
        }
    }
}
