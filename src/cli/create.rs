//! `vzarr create`.

use std::io::IsTerminal;

use crate::create::{create, CreateOptions, Format};

use super::exit;

#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// Source files: local paths or URLs.
    #[arg(required = true)]
    sources: Vec<String>,
    /// Output store: a local directory or an object-store prefix URL.
    #[arg(short, long)]
    output: String,
    /// Input format.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    format: FormatArg,
    /// Copy chunks of at most this many bytes into the manifest (HDF5 input; compact data is
    /// always inline).
    #[arg(long, default_value_t = 0, value_name = "BYTES")]
    inline_threshold: u64,
    /// Cut contiguous unfiltered datasets along the first axis into virtual chunks of about
    /// this many bytes (whole rows; only when the rows divide the array evenly).
    #[arg(long, value_name = "BYTES")]
    split_contiguous: Option<u64>,
    /// Record sources relative to the store location, so the store can move with its files.
    #[arg(long)]
    relative: bool,
    /// Replace the output store if it exists.
    #[arg(long)]
    overwrite: bool,
    /// DMR++ input: the data file it describes (local path or URL). Overrides the document's
    /// `dmrpp:href`; required when that is the OPeNDAP_DMRpp_DATA_ACCESS_URL template.
    #[arg(long, value_name = "URL")]
    data_url: Option<String>,
    /// CEOS input: read the per-line metadata of the image files (line numbers, times, slant
    /// ranges, first/centre/last latitude and longitude, burst numbers) into small coordinate
    /// arrays (`full`, reads every image once), or only reference the pixels (`none`, one small
    /// read per image file).
    #[arg(long, value_enum, default_value_t = LineMetadataArg::Full)]
    line_metadata: LineMetadataArg,
    /// CEOS input: line records per request when reading per-line metadata (default: about
    /// 16 MiB per request; 4 requests in flight).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    records_per_chunk: Option<u64>,
    /// HDF5 input: store the values of datasets that references cannot express (virtual
    /// datasets whose mappings cut chunks, VAX floats, filters libhdf5 has a plugin for…) instead of
    /// refusing them: `unsupported` reads
    /// them through libhdf5 and writes them as zstd-compressed Zarr chunks, small ones into the
    /// manifest, larger ones into `materialized.bin` in the store. Local files only; needs vzarr
    /// built with `--features libhdf5`.
    #[arg(long, value_enum, value_name = "WHAT")]
    materialize: Option<MaterializeArg>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum MaterializeArg {
    /// Every dataset that would otherwise be refused (those libhdf5 cannot read, or whose type
    /// has no Zarr data type, stay refused).
    Unsupported,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LineMetadataArg {
    /// Coordinate arrays over `rows` from every line record's prefix.
    Full,
    /// No per-line metadata.
    None,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum FormatArg {
    /// Detect from the file's first bytes (HDF5 signature, or an XML `<Dataset>`); a directory
    /// or a VOL-/LED-/IMG-/TRL- file is a CEOS product.
    Auto,
    /// HDF5 / netCDF-4.
    Hdf5,
    /// OPeNDAP DMR++ (the chunk table of an HDF5 / netCDF-4 file).
    Dmrpp,
    /// CEOS ALOS-2 PALSAR-2 product (levels 1.1, 1.5, 3.1): its directory, an object-store
    /// prefix ending in `/`, or its VOL- file. Auto-detected for directories and VOL-/LED-/
    /// IMG-/TRL- file names.
    Ceos,
}

pub(super) async fn run(a: Args) -> anyhow::Result<i32> {
    let opts = CreateOptions {
        format: match a.format {
            FormatArg::Auto => Format::Auto,
            FormatArg::Hdf5 => Format::Hdf5,
            FormatArg::Dmrpp => Format::Dmrpp,
            FormatArg::Ceos => Format::Ceos,
        },
        inline_threshold: a.inline_threshold,
        split_contiguous: a.split_contiguous.filter(|&b| b > 0),
        relative: a.relative,
        overwrite: a.overwrite,
        data_url: a.data_url,
        line_metadata: match a.line_metadata {
            LineMetadataArg::Full => crate::ceos::LineMetadata::Full,
            LineMetadataArg::None => crate::ceos::LineMetadata::None,
        },
        records_per_chunk: a.records_per_chunk,
        materialize: matches!(a.materialize, Some(MaterializeArg::Unsupported)),
    };
    let spinner = std::io::stderr().is_terminal().then(|| {
        let pb = indicatif::ProgressBar::new_spinner();
        pb.set_message(format!("indexing {} source(s)", a.sources.len()));
        pb.enable_steady_tick(std::time::Duration::from_millis(120));
        pb
    });
    let report = create(&a.sources, &a.output, &opts).await;
    if let Some(pb) = spinner {
        pb.finish_and_clear();
    }
    let report = report?;
    for r in &report.refused {
        eprintln!("refused: {}: {}: {}", r.source, r.path, r.reason);
    }
    for w in &report.warnings {
        eprintln!("warning: {}: {}: {}", w.source, w.path, w.reason);
    }
    for m in &report.materialized {
        eprintln!("materialized: {}: {}: {}", m.source, m.path, m.reason);
    }
    let dimensions = match report.dimension_only.len() {
        0 => String::new(),
        n => format!(", {n} netCDF dimension-only datasets kept as dimension names"),
    };
    let materialized = match report.materialized.len() {
        0 => String::new(),
        n => format!(", {n} materialized through libhdf5"),
    };
    eprintln!(
        "wrote {}: {} arrays, {} virtual + {} inline chunk references, {} refused{materialized}{dimensions} ({} source requests)",
        a.output,
        report.arrays,
        report.virtual_chunks,
        report.inline_chunks,
        report.refused.len(),
        report.source_requests
    );
    Ok(if report.refused.is_empty() {
        exit::OK
    } else {
        exit::INCOMPLETE
    })
}
