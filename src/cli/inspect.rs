//! `vzarr inspect`: one report type for stores and sources, as text or JSON.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::create::{open_source, parse_source, CreateOptions, CreateReport};
use crate::model::{ChunkRef, NodeRef, RefusalRecord};
use crate::reader::{OpenOptions, VirtualStore};
use crate::store::manifest::Entry;
use crate::store::SourceEntry;
use crate::zarr::metadata::all_node_metadata;

use super::exit;

#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// A vzarr store (directory or URL) or a source file.
    target: String,
    /// Print JSON (stable, machine-readable) instead of text.
    #[arg(long)]
    json: bool,
    /// DMR++ source: the data file it describes (see `vzarr create --data-url`).
    #[arg(long, value_name = "URL")]
    data_url: Option<String>,
}

/// The machine-readable output of `vzarr inspect --json`.
#[derive(Debug, Serialize)]
pub struct InspectReport {
    /// `"store"` or `"source"`.
    pub kind: &'static str,
    /// What was inspected.
    pub target: String,
    /// Store format version (stores only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vzarr_format: Option<String>,
    /// Sources table.
    pub sources: Vec<SourceEntry>,
    /// Every node, root first.
    pub nodes: Vec<NodeReport>,
    /// Objects left out.
    pub refused: Vec<RefusalRecord>,
    /// Attributes or links skipped (sources only).
    pub warnings: Vec<RefusalRecord>,
}

/// One node of an [`InspectReport`].
#[derive(Debug, Serialize)]
pub struct NodeReport {
    /// Path (`""` = root).
    pub path: String,
    /// `"group"` or `"array"`.
    pub node_type: String,
    /// The node's `zarr.json` (without consolidated metadata).
    pub metadata: Value,
    /// Chunk reference counts (arrays only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunks: Option<ChunkCounts>,
}

/// Chunk reference counts of an array.
#[derive(Debug, Default, Serialize)]
pub struct ChunkCounts {
    /// Chunks in the grid.
    pub grid: u64,
    /// Virtual references.
    pub virtual_refs: u64,
    /// Inline chunks.
    pub inline: u64,
    /// Missing (fill value).
    pub missing: u64,
    /// Total referenced bytes.
    pub bytes: u64,
}

fn grid_size(meta: &Value) -> u64 {
    let shape = meta.get("shape").and_then(Value::as_array);
    let chunks = meta
        .pointer("/chunk_grid/configuration/chunk_shape")
        .and_then(Value::as_array);
    match (shape, chunks) {
        (Some(s), Some(c)) => s
            .iter()
            .zip(c)
            .map(|(s, c)| {
                let (s, c) = (s.as_u64().unwrap_or(0), c.as_u64().unwrap_or(1).max(1));
                s.div_ceil(c)
            })
            .product(),
        _ => 0,
    }
}

async fn inspect_store(target: &str) -> anyhow::Result<InspectReport> {
    let store = VirtualStore::open(target, &OpenOptions::default()).await?;
    let mut nodes = Vec::new();
    for (path, is_array) in store.nodes() {
        let raw = store.metadata(&path).await?.unwrap_or_default();
        let mut metadata: Value = serde_json::from_slice(&raw)?;
        if let Some(o) = metadata.as_object_mut() {
            o.remove("consolidated_metadata");
        }
        let chunks = if is_array {
            let entries = store.array_entries(&path)?;
            let mut c = ChunkCounts {
                grid: grid_size(&metadata),
                ..Default::default()
            };
            for e in entries.values() {
                match e {
                    Entry::Virtual { length, .. } => {
                        c.virtual_refs += 1;
                        c.bytes += length;
                    }
                    Entry::Inline(b) => {
                        c.inline += 1;
                        c.bytes += b.len() as u64;
                    }
                }
            }
            c.missing = c.grid.saturating_sub(c.virtual_refs + c.inline);
            Some(c)
        } else {
            None
        };
        let node_type = if is_array { "array" } else { "group" }.to_string();
        nodes.push(NodeReport {
            path,
            node_type,
            metadata,
            chunks,
        });
    }
    let info = store.info();
    Ok(InspectReport {
        kind: "store",
        target: target.into(),
        vzarr_format: Some(info.vzarr_format.clone()),
        sources: info.sources.clone(),
        nodes,
        refused: info.refused.clone(),
        warnings: Vec::new(),
    })
}

async fn inspect_source(target: &str, data_url: Option<String>) -> anyhow::Result<InspectReport> {
    let url = crate::source::to_url(target)?;
    if crate::create::is_ceos_input(&url, crate::create::Format::Auto) {
        let c = crate::create::read_ceos_input(target, &url, &CreateOptions::default()).await?;
        let sources = c.files.iter().map(SourceEntry::from).collect();
        return Ok(source_report(target, &c.root, sources, c.report));
    }
    let meta = crate::source::stat(&url).await?;
    let src = open_source(&meta, &tokio::runtime::Handle::current())?;
    let name = target.to_string();
    let opts = CreateOptions {
        data_url,
        ..CreateOptions::default()
    };
    let (parsed, report) = tokio::task::spawn_blocking(move || {
        let mut r = CreateReport::default();
        parse_source(src.as_ref(), &name, &url, &opts, &mut r).map(|g| (g, r))
    })
    .await??;
    let root = parsed.root;
    let sources = match &parsed.data_files {
        None => vec![SourceEntry::from(&meta)],
        Some(urls) => urls
            .iter()
            .map(|u| {
                SourceEntry::from(&crate::model::Source {
                    url: u.to_string(),
                    size: None,
                    etag: None,
                    last_modified: None,
                })
            })
            .collect(),
    };
    Ok(source_report(target, &root, sources, report))
}

/// The report of a parsed source: its tree, the files its chunks point into, refusals.
fn source_report(
    target: &str,
    root: &crate::model::Group,
    sources: Vec<SourceEntry>,
    report: CreateReport,
) -> InspectReport {
    let mut counts: BTreeMap<String, ChunkCounts> = BTreeMap::new();
    root.walk(|path, n| {
        if let NodeRef::Array(a) = n {
            let mut c = ChunkCounts {
                grid: a.chunk_grid_shape().iter().product(),
                ..Default::default()
            };
            for r in a.chunks.values() {
                match r {
                    ChunkRef::Virtual { length, .. } => {
                        c.virtual_refs += 1;
                        c.bytes += length;
                    }
                    ChunkRef::Inline(b) => {
                        c.inline += 1;
                        c.bytes += b.len() as u64;
                    }
                    ChunkRef::Missing => {}
                }
            }
            c.missing = c.grid.saturating_sub(c.virtual_refs + c.inline);
            counts.insert(path.to_string(), c);
        }
    });
    let nodes = all_node_metadata(root)
        .into_iter()
        .map(|(path, metadata)| {
            let chunks = counts.remove(&path);
            let node_type = if chunks.is_some() { "array" } else { "group" }.to_string();
            NodeReport {
                path,
                node_type,
                metadata,
                chunks,
            }
        })
        .collect();
    InspectReport {
        kind: "source",
        target: target.into(),
        vzarr_format: None,
        sources,
        nodes,
        refused: report.refused,
        warnings: report.warnings,
    }
}

fn text(r: &InspectReport) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} {}{}",
        r.kind,
        r.target,
        r.vzarr_format
            .as_ref()
            .map(|v| format!(" (vzarr format {v})"))
            .unwrap_or_default()
    );
    for src in &r.sources {
        let _ = writeln!(
            s,
            "source {} size={} etag={} last_modified={}",
            src.url,
            src.size.map_or("?".into(), |v| v.to_string()),
            src.etag.as_deref().unwrap_or("-"),
            src.last_modified.as_deref().unwrap_or("-")
        );
    }
    for n in &r.nodes {
        let name = if n.path.is_empty() {
            "/".to_string()
        } else {
            format!("/{}", n.path)
        };
        match &n.chunks {
            None => {
                let _ = writeln!(s, "{}", if n.path.is_empty() { name } else { format!("{name}/") });
            }
            Some(c) => {
                let m = &n.metadata;
                let codecs: Vec<String> = m
                    .get("codecs")
                    .and_then(Value::as_array)
                    .map(|v| {
                        v.iter()
                            .filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                let _ = writeln!(
                    s,
                    "{name} {} shape={} chunks={} fill={} codecs=[{}] refs: {} virtual, {} inline, {} missing ({} bytes)",
                    m.get("data_type").map(ToString::to_string).unwrap_or_default().trim_matches('"'),
                    m.get("shape").map(ToString::to_string).unwrap_or_default(),
                    m.pointer("/chunk_grid/configuration/chunk_shape").map(ToString::to_string).unwrap_or_default(),
                    m.get("fill_value").map(ToString::to_string).unwrap_or_default(),
                    codecs.join(", "),
                    c.virtual_refs,
                    c.inline,
                    c.missing,
                    c.bytes
                );
                if let Some(d) = m.get("dimension_names") {
                    let _ = writeln!(s, "    dimension_names={d}");
                }
            }
        }
    }
    for x in &r.refused {
        let _ = writeln!(s, "refused: {}: {}: {}", x.source, x.path, x.reason);
    }
    for x in &r.warnings {
        let _ = writeln!(s, "warning: {}: {}: {}", x.source, x.path, x.reason);
    }
    s
}

pub(super) async fn run(a: Args) -> anyhow::Result<i32> {
    let is_store = {
        let loc = crate::store::StoreLocation::parse(&a.target)?;
        let is_store = loc.read(crate::store::format::INFO_FILE).await.ok().flatten().is_some();
        if !is_store && loc.read("zarr.json").await.ok().flatten().is_some() {
            // Zarr metadata without vzarr.json: a store whose writing was cut off.
            return Err(crate::reader::ReadError::NotAStore(loc.display("")).into());
        }
        is_store
    };
    let r = if is_store {
        inspect_store(&a.target).await?
    } else {
        inspect_source(&a.target, a.data_url.clone()).await?
    };
    let out = if a.json {
        format!("{}\n", serde_json::to_string_pretty(&r)?)
    } else {
        text(&r)
    };
    // A closed pipe (`vzarr inspect … | head`) ends the output quietly, without a panic.
    let mut stdout = std::io::stdout().lock();
    match std::io::Write::write_all(&mut stdout, out.as_bytes()).and_then(|()| std::io::Write::flush(&mut stdout)) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other?,
    }
    Ok(if r.refused.is_empty() {
        exit::OK
    } else {
        exit::INCOMPLETE
    })
}
