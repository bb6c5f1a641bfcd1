//! The single integration-test binary (STYLE.md §11): one module per topic.

mod ceos_corpus;
mod common;
mod dmrpp_corpus;
mod fuzz_regressions;
mod hdf5_corpus;
mod schema;
#[cfg(feature = "serve")]
mod serve;
mod store_roundtrip;
