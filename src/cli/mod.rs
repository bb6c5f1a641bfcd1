//! The `vzarr` command line: one file per subcommand; the binary only calls [`run`].

mod create;
mod export;
mod get;
mod import;
mod inspect;
pub mod npy;
mod serve;
mod verify;

use clap::{Parser, Subcommand};

/// Exit statuses (DESIGN.md §4).
pub mod exit {
    /// Success.
    pub const OK: i32 = 0;
    /// The run finished but left something out (e.g. unsupported arrays).
    pub const INCOMPLETE: i32 = 1;
    /// Bad input or usage.
    pub const ERROR: i32 = 2;
}

/// Virtual Zarr v3 stores from archival files (HDF5 / netCDF-4, DMR++, CEOS ALOS-2).
#[derive(Debug, Parser)]
#[command(name = "vzarr", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a virtual store from source files (local paths or s3://, gs://, az://, http(s):// URLs).
    Create(create::Args),
    /// Describe a store or a source file: hierarchy, shapes, types, chunks, codecs, refusals.
    Inspect(inspect::Args),
    /// Read an array (or a slice of it) through the store and write it as a NumPy .npy file.
    Get(get::Args),
    /// Export a store as kerchunk references (JSON or Parquet) or an Icechunk repository.
    Export(export::Args),
    /// Make a store from kerchunk references (JSON or Parquet, from kerchunk or VirtualiZarr).
    Import(import::Args),
    /// Serve stores read-only over HTTP as Zarr v3 stores, for any Zarr v3 reader (and an index page for browsers).
    Serve(serve::Args),
    /// Check that a store's sources are unchanged since `create` (and, with --decode, that every chunk decodes).
    Verify(verify::Args),
}

/// An error and its causes on one line, skipping causes whose text the previous one already
/// contains (object_store and zarrs repeat their sources in their messages).
fn error_chain(e: &anyhow::Error) -> String {
    crate::io::causes_text(e.chain().map(ToString::to_string))
}

/// Parse arguments and run; returns the process exit status.
#[must_use]
pub fn run() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { exit::ERROR } else { exit::OK };
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::ERROR;
        }
    };
    let result = rt.block_on(async {
        match cli.command {
            Command::Create(a) => create::run(a).await,
            Command::Inspect(a) => inspect::run(a).await,
            Command::Get(a) => get::run(a).await,
            Command::Export(a) => export::run(a).await,
            Command::Import(a) => import::run(a).await,
            Command::Serve(a) => serve::run(a).await,
            Command::Verify(a) => verify::run(a).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", error_chain(&e));
            exit::ERROR
        }
    }
}
