//! `vzarr verify`: are the sources still what the store references, and (with `--decode`)
//! does every stored chunk decode?

use std::sync::Arc;

use anyhow::Context;
use futures::StreamExt;
use zarrs::array::{Array, ArrayBytes};

use crate::reader::{OpenOptions, VirtualStore};
use crate::zarr::Key;

use super::exit;

#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// The store (directory or URL).
    store: String,
    /// Also read and decode every stored chunk through the store's codecs (fletcher32
    /// checksums are checked where the array has them).
    #[arg(long)]
    decode: bool,
    /// Chunks read and decoded at once with `--decode`.
    #[arg(long, default_value_t = 8, value_name = "N")]
    jobs: usize,
}

pub(super) async fn run(a: Args) -> anyhow::Result<i32> {
    let store = Arc::new(VirtualStore::open(&a.store, &OpenOptions::default()).await?);
    let mut problems = 0usize;
    let checks = store.check_sources().await;
    for c in &checks {
        if let Some(p) = &c.problem {
            problems += 1;
            eprintln!("changed: {}: {p}", c.url);
        }
    }
    eprintln!(
        "{}: {} sources, {} as recorded",
        a.store,
        checks.len(),
        checks.len() - problems
    );
    if !a.decode {
        return Ok(if problems == 0 { exit::OK } else { exit::INCOMPLETE });
    }
    let (mut chunks, mut failed_chunks, mut failed_arrays) = (0usize, 0usize, 0usize);
    let arrays = store.arrays();
    for path in &arrays {
        let array = match Array::async_open(store.clone(), &format!("/{path}")).await {
            Ok(x) => x,
            Err(e) => {
                failed_arrays += 1;
                eprintln!("corrupt: {}: /{path}: cannot open the array: {e}", a.store);
                continue;
            }
        };
        let entries = store
            .array_entries(path)
            .with_context(|| format!("{}: manifest rows of /{path}", a.store))?;
        let coords: Vec<Vec<u64>> = entries
            .keys()
            .filter_map(|k| match store.parse_key(k) {
                Ok(Key::Chunk(ck)) => Some(ck.coords),
                _ => None,
            })
            .collect();
        let results: Vec<(Vec<u64>, Result<(), String>)> = futures::stream::iter(coords)
            .map(|c| {
                let array = &array;
                async move {
                    let r = array
                        .async_retrieve_chunk::<ArrayBytes<'static>>(&c)
                        .await
                        .map(|_| ())
                        .map_err(|e| crate::io::error_chain(&e));
                    (c, r)
                }
            })
            .buffer_unordered(a.jobs.max(1))
            .collect()
            .await;
        chunks += results.len();
        let mut bad: Vec<_> = results
            .into_iter()
            .filter_map(|(c, r)| r.err().map(|e| (c, e)))
            .collect();
        if !bad.is_empty() {
            bad.sort();
            failed_arrays += 1;
            failed_chunks += bad.len();
            let (c, e) = &bad[0];
            let key = crate::zarr::key::chunk_suffix(c);
            eprintln!(
                "corrupt: {}: /{path}: {} of its chunks fail to decode; first {key}: {e}",
                a.store,
                bad.len()
            );
        }
    }
    eprintln!(
        "{}: {chunks} chunks of {} arrays decoded, {failed_chunks} failed ({failed_arrays} arrays)",
        a.store,
        arrays.len()
    );
    Ok(if problems == 0 && failed_arrays == 0 {
        exit::OK
    } else {
        exit::INCOMPLETE
    })
}
