//! The HTTP baseline of `benches/run.sh`: a bare axum handler answering every
//! GET with a constant 2-byte body, on the same runtime (tokio's default
//! multi-threaded one) and allocator (mimalloc) as `officehours serve`, so
//! wrk against it measures what this machine, axum and the load generator
//! allow before the application does any work.
//!
//! `cargo run --release --example bare_axum -- 127.0.0.1:18090`

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let bind = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:18090".into());
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(async {
        let app = axum::Router::new().fallback(axum::routing::get(|| async { "ok" }));
        let listener = tokio::net::TcpListener::bind(&bind).await?;
        axum::serve(listener, app).await?;
        Ok(())
    })
}
