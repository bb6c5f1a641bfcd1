//! Native HDF5 reader (pure Rust): walks the file's structures through a [`ReadAt`] and
//! builds the format-neutral [`crate::model`] with chunk references into the file.
//!
//! Specification: HDF5 File Format Specification version 3.0 / 4.0.
//!
//! Entry points: [`is_hdf5`] and [`read`]. `read` fails only when the file as a whole cannot
//! be read (no signature, corrupt superblock or root group); a bad object stops only its
//! subtree and is reported in [`Hdf5Output::refusals`] (datasets/groups left out) or
//! [`Hdf5Output::warnings`] (attributes and links skipped).
//!
//! Mapping decisions (the README's "What the HDF5 reader handles" has the full tables):
//! - Integers, IEEE floats, bitfields, enums (their integer type, values in `_hdf5_enum`;
//!   FALSE/TRUE enums → bool), complex, compounds (→ structured), arrays (→ trailing axes),
//!   opaque, fixed-length and variable-length strings (the latter read once and stored inline);
//!   references, vlen sequences and the like are refused by name. Byte order → `bytes{endian}`.
//! - Fill value: the fill value message (type 5) when it holds a value, else the old one
//!   (type 4), else the default (zeros); the CF `_FillValue` attribute in xarray's encoding.
//! - Compact data → one inline chunk covering the array. Contiguous → one virtual chunk,
//!   optionally split along axis 0 ([`Hdf5Options::split_contiguous`]). Chunked, with every
//!   chunk index (v1 B-tree; in layout v4 single chunk, implicit, fixed array, extensible array,
//!   v2 B-tree; `chunk_index/`) → one virtual reference per chunk; filters → codecs
//!   (`filters.rs`); chunks with a nonzero filter mask and unfiltered partial edge chunks are
//!   re-encoded through the full pipeline and stored inline.
//! - Scalar dataspace → shape `[]`; null dataspace → refused. Dimension scales → dimension
//!   names, other axes `phony_dim_<k>` as netCDF-C names them (`walk.rs`).
//! - Chunk references into this file use `SourceId(0)`; external storage (contiguous data in
//!   other files) and virtual datasets whose mappings move whole chunks of their sources
//!   (`vds.rs`) point into the files [`Hdf5Options::other_files`] resolves, listed in
//!   [`Hdf5Output::other_sources`]. The caller assigns the real sources.

mod adapters;
pub(crate) mod btree;
pub(crate) mod checksum;
mod chunk_index;
mod convert;
mod error;
pub(crate) mod filters;
#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod heap;
mod json_values;
pub(crate) mod messages;
mod nbit;
mod object_header;
mod raw;
mod repack;
mod selection;
mod sohm;
mod superblock;
mod util;
mod vds;
mod walk;

pub use error::Hdf5Error;
pub use json_values::JSON_TYPE_ATTR;
pub use walk::{FLOAT_FORMAT_ATTR, X87_EXTENDED};

use std::sync::Arc;

use crate::io::ReadAt;
use crate::model::{Group, Refusal};

/// Options of the HDF5 reader.
#[derive(Debug, Clone)]
pub struct Hdf5Options {
    /// Cut contiguous datasets into virtual chunks of about this many bytes along axis 0.
    pub split_contiguous: Option<u64>,
    /// Where a dataset cannot be referenced, ask this for its values instead (the `libhdf5`
    /// feature's `vzarr::materialize::Libhdf5`); `None`: such datasets are refused.
    pub materialize: Option<Arc<dyn Materialize>>,
    /// Access to the files other than this one that datasets keep data in (external storage,
    /// virtual dataset sources); `None`: such datasets are refused.
    pub other_files: Option<Arc<dyn OtherFiles>>,
    /// In files of at least this many bytes, on a machine with more than one core, the chunk
    /// indexes of datasets whose chunks the walk does not rewrite are walked on a second
    /// thread while the calling one reads the object headers; the result is the same either
    /// way. Default [`PARALLEL_MIN_FILE`]; `0`: every file; `u64::MAX`: never.
    pub parallel_from: u64,
}

/// Default [`Hdf5Options::parallel_from`]: in smaller files, starting a second thread
/// (0.1–0.4 ms) costs more than their chunk indexes take (a 3 MiB file parses in about 0.1 ms).
pub const PARALLEL_MIN_FILE: u64 = 16 << 20;

impl Default for Hdf5Options {
    fn default() -> Self {
        Self {
            split_contiguous: None,
            materialize: None,
            other_files: None,
            parallel_from: PARALLEL_MIN_FILE,
        }
    }
}

/// The files an HDF5 file names besides itself: external raw data files and the source files
/// of virtual datasets.
pub trait OtherFiles: Send + Sync + std::fmt::Debug {
    /// The location (URL) of the file named `name` in the HDF5 file; relative names are
    /// relative to the HDF5 file's location.
    ///
    /// # Errors
    /// A name that cannot be resolved (one-line reason).
    fn resolve(&self, name: &str) -> Result<String, String>;

    /// Open the file at a location [`OtherFiles::resolve`] gave (to walk a virtual dataset's
    /// source file).
    ///
    /// # Errors
    /// The file cannot be opened (one-line reason).
    fn open(&self, location: &str) -> Result<Arc<dyn ReadAt>, String>;
}

/// A second way to read datasets the native reader cannot reference (filters with no Zarr
/// codec, non-IEEE floats, …): their values, read by other means, as an array whose chunks are
/// all inline. The reader keeps everything else it knows of the dataset (attributes,
/// dimension names, CF fill value) and records the dataset in [`Hdf5Output::materialized`].
pub trait Materialize: Send + Sync + std::fmt::Debug {
    /// The array at `path` with every chunk [`crate::model::ChunkRef::Inline`], encoded by its
    /// codecs; attributes and dimension names are left empty (the reader fills them).
    ///
    /// # Errors
    /// Why it cannot be materialized either (a one-line reason).
    fn materialize(&self, path: &str) -> Result<crate::model::Array, String>;
}

/// What [`read`] produces.
#[derive(Debug, Clone, PartialEq)]
pub struct Hdf5Output {
    /// The root group and everything mapped below it.
    pub root: Group,
    /// Objects (datasets, groups) left out, with the reason.
    pub refusals: Vec<Refusal>,
    /// Attributes and links skipped.
    pub warnings: Vec<Refusal>,
    /// Paths of netCDF-4 dimension-only datasets (dimension scales that are a dimension, not
    /// a variable), named on the axes of the arrays that use them and not mapped themselves.
    pub dimension_only: Vec<String>,
    /// Datasets that could not be referenced and were materialized instead
    /// ([`Hdf5Options::materialize`]), with the reason they could not be referenced.
    pub materialized: Vec<Refusal>,
    /// Locations of the other files chunk references point into (external storage, virtual
    /// dataset sources): `SourceId(k + 1)` is `other_sources[k]`, `SourceId(0)` this file.
    pub other_sources: Vec<String>,
}

/// Whether `src` carries an HDF5 signature at 0, 512, 1024, 2048, ….
#[must_use]
pub fn is_hdf5(src: &dyn ReadAt) -> bool {
    superblock::find_signature(src).is_some()
}

/// Read an HDF5 file into the model.
///
/// # Errors
/// Only when the file as a whole is unreadable: no HDF5 signature, a corrupt superblock, or a
/// root group that cannot be read. Problems with single objects are reported in
/// [`Hdf5Output::refusals`] and [`Hdf5Output::warnings`].
pub fn read(src: &dyn ReadAt, opts: &Hdf5Options) -> Result<Hdf5Output, Hdf5Error> {
    let sb = superblock::read(src)?;
    let mut w = walk::Walker::new(src, &sb, opts);
    let mut root = w.walk_root(&sb)?;
    crate::zarr::cf::encode_fill_values(&mut root);
    Ok(Hdf5Output {
        root,
        refusals: w.refusals,
        warnings: w.warnings,
        dimension_only: w.dimension_only,
        materialized: w.materialized,
        other_sources: w.other_sources,
    })
}

/// 8-byte addresses and lengths, base 0: the [`Sizes`] of most files, for unit tests.
#[cfg(test)]
pub(crate) const S8: Sizes = Sizes {
    offset: 8,
    length: 8,
    base: 0,
};

/// Widths of addresses and lengths from the superblock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sizes {
    /// Size of offsets (addresses) in bytes.
    pub offset: u8,
    /// Size of lengths in bytes.
    pub length: u8,
    /// Base address: file addresses are relative to it.
    pub base: u64,
}
