//! vzarr: virtual Zarr v3 stores from archival files.
pub mod hdf5;
pub mod io;
pub mod model;
pub mod source;
pub mod store;
pub mod zarr;
pub mod reader;
