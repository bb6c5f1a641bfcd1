//! Version 1 and version 2 B-trees.

// Complete readers of the format structures: some decoders (creation-order records, chunk
// index records, cache helpers) have no caller yet.
#![allow(dead_code)]

pub(crate) mod v1;
pub(crate) mod v2;
