//! vzarr: virtual Zarr v3 stores from archival files.
pub mod create;
pub mod hdf5;
pub mod io;
pub mod model;
pub mod source;
pub mod store;
pub mod zarr;
#[cfg(feature = "cli")]
pub mod cli;
pub mod reader;
