//! `vzarr export`.

use crate::interop::{export, ExportFormat, ExportOptions};

use super::exit;

#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// The store (directory or URL).
    store: String,
    /// Target format.
    #[arg(long, value_enum)]
    to: Target,
    /// Output: a file (kerchunk-json), a directory or prefix URL (kerchunk-parquet), or a local
    /// directory (icechunk).
    #[arg(short, long)]
    output: String,
    /// Replace the output if it exists.
    #[arg(long)]
    overwrite: bool,
    /// kerchunk-parquet: chunk references per record file (fsspec's `record_size`).
    #[arg(long, default_value_t = crate::kerchunk::parquet::DEFAULT_RECORD_SIZE, value_name = "N")]
    record_size: u64,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Target {
    /// kerchunk reference spec version 1, one JSON file (Zarr v2 metadata).
    KerchunkJson,
    /// kerchunk Parquet references: the directory fsspec's LazyReferenceMapper reads
    /// (pandas 2 and 3).
    KerchunkParquet,
    /// A new Icechunk repository with one commit of virtual references (local directory).
    Icechunk,
}

pub(super) async fn run(a: Args) -> anyhow::Result<i32> {
    let opts = ExportOptions {
        format: match a.to {
            Target::KerchunkJson => ExportFormat::KerchunkJson,
            Target::KerchunkParquet => ExportFormat::KerchunkParquet,
            Target::Icechunk => ExportFormat::Icechunk,
        },
        overwrite: a.overwrite,
        record_size: a.record_size.max(1),
    };
    let r = export(&a.store, &a.output, &opts).await?;
    eprintln!(
        "wrote {}: {} arrays, {} chunk references ({} files)",
        a.output, r.arrays, r.chunks, r.files
    );
    Ok(exit::OK)
}
