//! Native HDF5 reader (pure Rust): walks the file's structures through a [`ReadAt`] and
//! builds the format-neutral [`crate::model`] with chunk references into the file.
//!
//! Specification: HDF5 File Format Specification version 3.0 / 4.0.
//! (Being written: see module docs of each file.)

mod error;

pub use error::Hdf5Error;
