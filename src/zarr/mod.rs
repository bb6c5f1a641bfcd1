//! Zarr v3 side of the model: `zarr.json` documents, data type names, codec names, chunk keys.

pub mod cf;
pub mod codecs;
pub mod data_types;
pub mod dtype;
pub mod ext;
pub mod filters_ext;
pub mod key;
pub mod metadata;
pub mod parse;
pub mod scaleoffset;
pub mod szip;

pub use key::{ChunkKey, Key, KeyError};
pub use metadata::{array_metadata, group_metadata};
