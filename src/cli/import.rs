//! `vzarr import`.

use crate::interop::{import, ImportOptions};

use super::exit;

#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// kerchunk references: a JSON file (spec version 0 or 1) or a Parquet reference directory,
    /// local or URL.
    refs: String,
    /// Output store: a local directory or an object-store prefix URL.
    #[arg(short, long)]
    output: String,
    /// Replace the output store if it exists.
    #[arg(long)]
    overwrite: bool,
}

pub(super) async fn run(a: Args) -> anyhow::Result<i32> {
    let r = import(&a.refs, &a.output, &ImportOptions { overwrite: a.overwrite }).await?;
    for x in &r.refused {
        eprintln!("refused: {}: {}: {}", x.source, x.path, x.reason);
    }
    eprintln!(
        "wrote {}: {} arrays, {} chunk references, {} refused",
        a.output,
        r.arrays,
        r.chunks,
        r.refused.len()
    );
    Ok(if r.refused.is_empty() {
        exit::OK
    } else {
        exit::INCOMPLETE
    })
}
