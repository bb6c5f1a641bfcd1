//! `vzarr serve`.

use std::net::SocketAddr;

use anyhow::Context;

use crate::serve::{open_stores, router, run as serve_until, shutdown_signal, ServeOptions};

use super::exit;

#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// Stores to serve (directories or URLs); each is served under the last component of its
    /// location, e.g. `/granule.vzarr/`.
    #[arg(required = true)]
    stores: Vec<String>,
    /// Address to listen on (port 0: any free port; the address is printed on stderr).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Read chunks only from sources under this URL prefix (repeatable). Default: the
    /// sources each store recorded, and nothing else. Chunks of other sources answer 403.
    #[arg(long = "allow-source", value_name = "PREFIX")]
    allow_source: Vec<String>,
    /// Requests handled at once; more wait.
    #[arg(long, default_value_t = 256, value_name = "N")]
    max_concurrent_requests: usize,
    /// `Cache-Control: max-age` of metadata and chunk responses (seconds).
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    max_age: u32,
}

pub(super) async fn run(a: Args) -> anyhow::Result<i32> {
    let opts = ServeOptions {
        allow_sources: a.allow_source,
        max_concurrent_requests: a.max_concurrent_requests,
        max_age: a.max_age,
    };
    let stores = open_stores(&a.stores, &opts).await?;
    let listener = tokio::net::TcpListener::bind(a.listen)
        .await
        .with_context(|| format!("cannot listen on {}", a.listen))?;
    let addr = listener.local_addr().context("listener address")?;
    for (name, store) in &stores {
        eprintln!(
            "serving {} at http://{addr}{}/ ({} arrays)",
            store.location().url,
            crate::serve::url_path(name),
            store.arrays().len()
        );
    }
    eprintln!("listening on http://{addr}/ (Ctrl-C to stop)");
    serve_until(listener, router(stores, &opts), shutdown_signal())
        .await
        .context("server failed")?;
    eprintln!("stopped: requests in flight were finished");
    Ok(exit::OK)
}
