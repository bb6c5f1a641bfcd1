//! # vzarr: virtual Zarr v3 stores from archival files
//!
//! vzarr turns HDF5 / netCDF-4 files (read natively, or through the DMR++ chunk tables OPeNDAP
//! publishes beside them) and ALOS-2 PALSAR-2 CEOS products into *virtual Zarr v3 stores*: standard `zarr.json`
//! metadata plus a Parquet table of chunk references (URL, offset, length) into the original
//! files. Nothing is copied. [`reader::VirtualStore`] resolves Zarr keys to byte ranges of the
//! sources, so zarrs reads the original bytes directly, locally or on object stores.
//!
//! ```text
//!  source bytes (path | s3:// | gs:// | az:// | http(s)://)    source, io
//!    │
//!    ├─ hdf5      native reader of HDF5 internals (sans runtime, over io::ReadAt)
//!    ├─ dmrpp     DMR++ XML (OPeNDAP build_dmrpp chunk tables), streaming with quick-xml
//!    └─ ceos      CEOS ALOS-2 products: volume directory, leader, image lines as chunks
//!    ▼
//!  model          format-neutral groups, arrays, chunk refs {Virtual | Inline | Missing}
//!    ▼
//!  store          zarr.json per node (zarr) + manifest.parquet + vzarr.json
//!    ▼
//!  reader         VirtualStore: zarrs storage traits (async, and sync via SyncVirtualStore)
//!  serve          the same stores as a read-only HTTP Zarr v3 endpoint (feature `serve`)
//! ```
//!
//! [`create::create`] runs the whole write path; the `vzarr` binary (feature `cli`) is a thin
//! layer over it ([`cli`]).
//!
//! ```no_run
//! use std::sync::Arc;
//! use vzarr::reader::{OpenOptions, VirtualStore};
//! use zarrs::array::{Array, ArraySubset};
//!
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! vzarr::create::create(&["granule.h5".into()], "granule.vzarr", &Default::default()).await?;
//! let store = Arc::new(VirtualStore::open("granule.vzarr", &OpenOptions::default()).await?);
//! let array = Array::async_open(store, "/gt1l/heights/h_ph").await?;
//! let values: Vec<f32> = array.async_retrieve_array_subset(&ArraySubset::new_with_ranges(&[0..10])).await?;
//! # Ok(()) }
//! ```
// No unsafe code, except the one libhdf5 call of the optional `libhdf5` feature that
// hdf5-metno does not wrap (`materialize::open_dataset`).
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod ceos;
#[cfg(feature = "cli")]
pub mod cli;
pub mod create;
pub mod dmrpp;
pub mod hdf5;
#[cfg(feature = "icechunk")]
pub mod icechunk;
pub mod interop;
pub mod io;
pub mod kerchunk;
#[cfg(feature = "libhdf5")]
pub mod materialize;
pub mod model;
pub mod reader;
#[cfg(feature = "serve")]
pub mod serve;
pub mod source;
pub mod store;
pub mod zarr;
