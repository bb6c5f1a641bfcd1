//! The `vzarr` command: all logic lives in `vzarr::cli`.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("VZARR_LOG").unwrap_or_else(|_| {
        "warn,tower_http::trace=info,icechunk=error,icechunk_arrow_object_store=error,icechunk_storage=error".into()
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    std::process::exit(vzarr::cli::run());
}
