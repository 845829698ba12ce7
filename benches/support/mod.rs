//! What every benchmark shares: the machine line, and running one scenario
//! on SQLite and, when OFFICEHOURS_BENCH_POSTGRES names a server, on a fresh
//! PostgreSQL database that is dropped afterwards.

use std::future::Future;
use std::path::PathBuf;

use officehours::storage::{NewUser, Store};

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

/// Runs `scenario(label, database URL, data dir)` on each database
/// (`OFFICEHOURS_BENCH_ONLY=sqlite` or `postgres` picks one).
#[allow(dead_code)] // the voice benchmark has no database
pub fn on_each_database<F, Fut>(name: &str, mut scenario: F) -> anyhow::Result<()>
where
    F: FnMut(&'static str, String, PathBuf) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        println!("{}", machine());
        let only = std::env::var("OFFICEHOURS_BENCH_ONLY").unwrap_or_default();
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("bench.db").display());
        if only != "postgres" {
            scenario("SQLite", url, dir.path().to_path_buf()).await?;
        }
        if let Ok(server) = std::env::var("OFFICEHOURS_BENCH_POSTGRES")
            && only != "sqlite"
        {
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

/// The federation benchmarks' server: an app on `database_url` in
/// federation test mode, with `hosts` resolved to 127.0.0.1, and the
/// loopback listener it is to serve on (its address is the public URL).
#[allow(dead_code)] // not every benchmark federates
pub async fn federated_app(
    database_url: String,
    dir: &std::path::Path,
    hosts: Vec<String>,
) -> anyhow::Result<(officehours::root::Node, officehours::storage::Store, tokio::net::TcpListener, std::net::SocketAddr)>
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let overrides = officehours::config::Overrides {
        database_url: Some(database_url),
        data_dir: Some(dir.to_path_buf()),
        bind: Some(addr),
        public_url: Some(format!("http://{addr}/")),
        federation_test_mode: true,
        ..Default::default()
    };
    let mut config = officehours::config::Config::resolve(overrides)?;
    let loopback = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    config.federation_test_hosts = hosts.into_iter().map(|host| (host, loopback)).collect();
    let node = officehours::root::assemble(config).await?;
    // The bench's own connection, for setting up data and reading results.
    let store = officehours::storage::Store::connect(&node.app.config.database_url, 4).await?;
    Ok((node, store, listener, addr))
}

/// A confirmed advisor account (no usable password).
#[allow(dead_code)]
pub fn advisor(username: &str) -> NewUser {
    NewUser {
        username: username.into(),
        email: format!("{username}@example.org"),
        email_verified: true,
        password_hash: "unused".into(),
        display_name: String::new(),
        timezone: "UTC".into(),
        is_advisor: true,
        is_pro: false,
        is_admin: false,
    }
}

/// Turns `perf record` on or off around a timed phase, when the benchmark
/// runs under `perf record --control=fifo:FIFO -D -1` with
/// `OFFICEHOURS_BENCH_PERF_CTL=FIFO` (so set-up work, such as signing the
/// activities beforehand, stays out of the profile).
#[allow(dead_code)]
pub fn profile(on: bool) {
    if let Ok(fifo) = std::env::var("OFFICEHOURS_BENCH_PERF_CTL") {
        let command = if on { "enable\n" } else { "disable\n" };
        if let Err(err) = std::fs::OpenOptions::new().write(true).open(&fifo).and_then(|mut f| {
            use std::io::Write;
            f.write_all(command.as_bytes())
        }) {
            eprintln!("could not tell perf to {command}: {err}");
        }
    }
}
