//! vzarr: virtual Zarr v3 stores from archival files.
pub mod hdf5;
pub mod io;
pub mod model;
