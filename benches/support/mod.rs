//! What every benchmark shares: the machine line, and running one scenario
//! on SQLite and, when OFFICEHOURS_BENCH_POSTGRES names a server, on a fresh
//! PostgreSQL database that is dropped afterwards.

use std::future::Future;
use std::path::PathBuf;

use officehours::storage::Store;

/// "machine: 2 cores; AMD EPYC …".
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("machine: {cores} cores; {cpu}")
}

/// Runs `scenario(label, database URL, data dir)` on each database.
pub fn on_each_database<F, Fut>(name: &str, mut scenario: F) -> anyhow::Result<()>
where
    F: FnMut(&'static str, String, PathBuf) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        println!("{}", machine());
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("bench.db").display());
        scenario("SQLite", url, dir.path().to_path_buf()).await?;
        if let Ok(server) = std::env::var("OFFICEHOURS_BENCH_POSTGRES") {
            let admin = Store::connect(&server, 1).await?;
            let database = format!("oh_bench_{name}_{}", std::process::id());
            admin.execute_raw(&format!("CREATE DATABASE {database}")).await?;
            let mut url = url::Url::parse(&server)?;
            url.set_path(&database);
            let pg_dir = tempfile::tempdir()?;
            let result = scenario("PostgreSQL", url.to_string(), pg_dir.path().to_path_buf()).await;
            admin.execute_raw(&format!("DROP DATABASE {database} WITH (FORCE)")).await?;
            result?;
        }
        Ok(())
    })
}
