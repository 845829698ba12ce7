//! Fan-out: one advisor whose followers sit on many simulated instances (ten
//! each, every instance with a shared inbox) publishes one block. The
//! publisher queues one `Create(Event)` per shared inbox, and the delivery
//! loop signs and POSTs them over real HTTP to the simulated instances.
//! Measured at each scale: queueing, time until the last instance has its
//! copy, POSTs per instance (must be exactly one), and the peak memory of the
//! server process; every received signature is checked against Mastodon's
//! rules (or RFC 9421) and the advisor's published key.
//!
//! The simulated instances run in a child process (this binary again, with
//! `OFFICEHOURS_FANOUT_SINK` set) that answers for every host name, and each
//! scale on each database runs in a fresh child process of its own, so the
//! memory figure is the server's alone: the officehours node, its delivery
//! loop, and this driver — not the thousands of receiving connections, the
//! recorded requests, nor what an earlier run left allocated.
//!
//! Scales are `FOLLOWERS/INSTANCES`, given as arguments or in
//! `OFFICEHOURS_FANOUT_SCALES` (comma-separated); by default 1,000/100,
//! 10,000/1,000 and 100,000/10,000. Each scale runs on a fresh SQLite
//! database, and on PostgreSQL when OFFICEHOURS_BENCH_POSTGRES names a
//! server. Run: `cargo bench --bench fanout` or
//! `cargo bench --bench fanout -- 100000/10000`.

mod support;

#[path = "../tests/it/support/peer.rs"]
#[allow(dead_code)]
mod peer;

use std::collections::HashMap;
use std::io::BufRead;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::routing::{get, post};
use jiff::ToSpan;
use officehours::service::booking::BlockInput;

/// The scales run when none is given: (followers, instances).
const SCALES: [(usize, usize); 3] = [(1_000, 100), (10_000, 1_000), (100_000, 10_000)];
/// The aim from issue 18: 100,000 followers on 10,000 instances all have
/// the event within this, the server staying under [`MEMORY_AIM_MB`].
const AIM: Duration = Duration::from_secs(10);
const MEMORY_AIM_MB: f64 = 200.0;
/// Set in the child process that plays the simulated instances.
const SINK: &str = "OFFICEHOURS_FANOUT_SINK";
/// Set (to `FOLLOWERS/INSTANCES`) in a child process that runs one scale.
const RUN: &str = "OFFICEHOURS_FANOUT_RUN";

/// What a simulated instance received, as the child sends it back:
/// (microseconds since the epoch, host, headers, body).
type Record = (u64, String, Vec<(String, String)>, String);

fn host(n: usize) -> String {
    format!("i{n:05}.test")
}

fn micros_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0)
}

/// One scale's figures on one database.
struct Figures {
    database: &'static str,
    followers: usize,
    instances: usize,
    queueing: Duration,
    delivery: Duration,
    rss_before_mb: f64,
    peak_mb: f64,
}

async fn run(
    label: &'static str,
    database_url: String,
    dir: &std::path::Path,
    (followers, instances): (usize, usize),
    sink_port: u16,
) -> anyhow::Result<Figures> {
    println!("\n== {label}: {followers} followers on {instances} instances");
    officehours::install_crypto();
    let hosts = (0..instances).map(host).collect();
    let (node, store, listener, addr) = support::federated_app(database_url, dir, hosts).await?;
    let app = node.app.clone();
    let ada = store.create_user(&support::advisor("ada"), app.clock.now_ms()).await?;
    // Her key pair exists already, as an active advisor's does.
    app.actor_keys(&ada).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    tokio::spawn(officehours::serve(listener, node.router(), std::future::pending()));

    // The followers, as accepted Follows leave them: their shared inbox.
    let started = Instant::now();
    let now = jiff::Timestamp::now().as_millisecond();
    let per_instance = followers.div_ceil(instances);
    for first in (0..followers).step_by(500) {
        let rows: Vec<String> = (first..followers.min(first + 500))
            .map(|i| {
                let base = format!("http://{}:{sink_port}", host(i / per_instance));
                format!("({}, '{base}/users/u{i}', '{base}/inbox', '{base}/follows/{i}', {now})", ada.id)
            })
            .collect();
        store
            .execute_raw(&format!(
                "INSERT INTO followers (user_id, actor_id, inbox, follow_id, created_at) VALUES {}",
                rows.join(", ")
            ))
            .await?;
    }
    println!(
        "set-up: {followers} followers on {instances} instances stored in {:.2?} (not counted below)",
        started.elapsed()
    );

    // Tomorrow 09:00–10:00 UTC: one Event with six slots.
    let tomorrow = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date().checked_add(1.day())?;
    let input = BlockInput {
        start: format!("{tomorrow}T09:00"),
        end: format!("{tomorrow}T10:00"),
        timezone: "UTC".into(),
        ..Default::default()
    };
    app.create_block(&ada, &input).await.map_err(|e| anyhow::anyhow!("{e}"))?;

    // The server's memory from here on: the peak is reset, then read when
    // the last delivery is done.
    let rss_before_mb = memory("VmRSS");
    reset_peak_memory();
    let started_at = micros_now();
    let started = Instant::now();
    let events = officehours::federation::events::publish_for(&app, &ada).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let queueing = started.elapsed();
    anyhow::ensure!(events == 1, "published {events} events, expected one");
    let queue = store.instances_overview().await?;
    let queued: i64 = queue.iter().map(|i| i.pending).sum();
    anyhow::ensure!(
        queue.len() == instances && queue.iter().all(|i| i.pending == 1),
        "queued {queued} deliveries for {} instances, expected one per instance ({instances})",
        queue.len()
    );
    let mut delivered = 0;
    while delivered < instances && started.elapsed() < AIM * 6 {
        delivered += officehours::federation::delivery::deliver_due(node.federation())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let peak_mb = memory("VmHWM");
    let received: Vec<Record> =
        reqwest::get(format!("http://127.0.0.1:{sink_port}/received")).await?.error_for_status()?.json().await?;
    let last = received.iter().map(|(at, ..)| *at).max().unwrap_or(started_at);
    let delivery = Duration::from_micros(last.saturating_sub(started_at));
    let met = delivery <= AIM && received.len() == instances && peak_mb <= MEMORY_AIM_MB;
    println!(
        "fan-out: {queued} deliveries queued in {queueing:.2?}; all {} instances had the Create in {delivery:.2?} \
         ({:.0} deliveries/s); server peak RSS {peak_mb:.0} MB ({rss_before_mb:.0} MB before) — \
         aim {AIM:?} and {MEMORY_AIM_MB} MB: {}",
        received.len(),
        received.len() as f64 / delivery.as_secs_f64(),
        if met { "met" } else { "NOT met" }
    );

    // Exactly one POST per instance, each a signed Create(Event) that
    // Mastodon would accept.
    let mut per_host: HashMap<&str, usize> = HashMap::new();
    for (_, host, ..) in &received {
        *per_host.entry(host.as_str()).or_default() += 1;
    }
    anyhow::ensure!(
        per_host.len() == instances,
        "{} instances received something, expected {instances}",
        per_host.len()
    );
    anyhow::ensure!(per_host.values().all(|&n| n == 1), "an instance received more than one POST");
    let person: serde_json::Value = reqwest::Client::new()
        .get(format!("http://{addr}/users/ada"))
        .header("accept", "application/activity+json")
        .send()
        .await?
        .json()
        .await?;
    let checking = Instant::now();
    for (_, host, pairs, body) in &received {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(HeaderName::from_bytes(name.as_bytes())?, HeaderValue::from_str(value)?);
        }
        let activity: serde_json::Value = serde_json::from_str(body)?;
        anyhow::ensure!(activity["type"] == "Create" && activity["object"]["type"] == "Event", "{activity}");
        // RFC 9421 to instances whose preference is unknown (all of them,
        // at first); draft-cavage to those that refused it.
        if headers.contains_key("signature-input") {
            peer::satisfies_rfc9421(&headers, body, &format!("http://{host}/inbox"), &person);
        } else {
            peer::satisfies_mastodon(&headers, body, "post", "/inbox", &person);
        }
    }
    println!("checked {} signatures in {:.2?}", received.len(), checking.elapsed());
    app.close().await;
    store.close().await;
    Ok(Figures { database: label, followers, instances, queueing, delivery, rss_before_mb, peak_mb })
}

/// A line of `/proc/self/status` (`VmRSS`, `VmHWM`) in MB.
fn memory(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// Resets the peak resident size (`VmHWM`) to the current one (Linux ≥ 4.0).
fn reset_peak_memory() {
    if let Err(err) = std::fs::write("/proc/self/clear_refs", "5") {
        println!("(could not reset the peak memory figure: {err}; it covers the whole run so far)");
    }
}

/// The simulated instances (in the child process): one listener that
/// records every POST by `Host`, and hands the records over (and forgets
/// them) on `GET /received`. Prints its port on the first line.
fn sink() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let received: Arc<Mutex<Vec<Record>>> = Arc::default();
        let sink = received.clone();
        let router = Router::new()
            .route(
                "/inbox",
                post(move |headers: HeaderMap, body: String| {
                    let sink = sink.clone();
                    async move {
                        let at = micros_now();
                        let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("").to_string();
                        let pairs = headers
                            .iter()
                            .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_string())))
                            .collect();
                        sink.lock().unwrap().push((at, host, pairs, body));
                        StatusCode::ACCEPTED
                    }
                }),
            )
            .route("/received", get(move || async move { axum::Json(std::mem::take(&mut *received.lock().unwrap())) }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("{}", listener.local_addr()?.port());
        axum::serve(listener, router).await?;
        Ok(())
    })
}

/// `FOLLOWERS/INSTANCES` pairs from the arguments (cargo passes `--bench`)
/// or the environment, else [`SCALES`].
fn scales() -> anyhow::Result<Vec<(usize, usize)>> {
    let mut given: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    if given.is_empty()
        && let Ok(list) = std::env::var("OFFICEHOURS_FANOUT_SCALES")
    {
        given = list.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
    }
    if given.is_empty() {
        return Ok(SCALES.to_vec());
    }
    given.iter().map(|scale| parse_scale(scale)).collect()
}

fn parse_scale(scale: &str) -> anyhow::Result<(usize, usize)> {
    let parsed = scale.split_once('/').and_then(|(f, i)| Some((f.parse().ok()?, i.parse().ok()?)));
    match parsed {
        Some((followers, instances)) if instances > 0 && followers >= instances => Ok((followers, instances)),
        _ => anyhow::bail!("a scale is FOLLOWERS/INSTANCES with at least one follower per instance, not {scale:?}"),
    }
}

/// Runs one scale on one database in this process (a child of the
/// coordinator, so its memory figures are its own), and prints its figures
/// on a `figures:` line for the coordinator.
fn runner(scale: &str) -> anyhow::Result<()> {
    let scale = parse_scale(scale)?;
    let port: u16 = std::env::var("OFFICEHOURS_FANOUT_SINK_PORT")?.parse()?;
    support::on_each_database("fanout", move |label, url, dir| async move {
        let f = run(label, url, &dir, scale, port).await?;
        println!(
            "figures: {} {} {} {} {} {:.1} {:.1}",
            f.database,
            f.followers,
            f.instances,
            f.queueing.as_micros(),
            f.delivery.as_micros(),
            f.rss_before_mb,
            f.peak_mb
        );
        Ok(())
    })
}

fn main() -> anyhow::Result<()> {
    if std::env::var_os(SINK).is_some() {
        return sink();
    }
    if let Ok(scale) = std::env::var(RUN) {
        return runner(&scale);
    }
    let scales = scales()?;
    let me = std::env::current_exe()?;
    let mut sink = std::process::Command::new(&me).env(SINK, "1").stdout(std::process::Stdio::piped()).spawn()?;
    let mut line = String::new();
    std::io::BufReader::new(sink.stdout.take().expect("piped")).read_line(&mut line)?;
    let port: u16 =
        line.trim().parse().map_err(|_| anyhow::anyhow!("the simulated instances did not start: {line:?}"))?;
    let mut databases = vec!["sqlite"];
    if std::env::var_os("OFFICEHOURS_BENCH_POSTGRES").is_some() {
        databases.push("postgres");
    }
    let mut figures: Vec<Figures> = Vec::new();
    let mut result = Ok(());
    'runs: for (followers, instances) in scales {
        for database in &databases {
            let mut child = std::process::Command::new(&me)
                .env(RUN, format!("{followers}/{instances}"))
                .env("OFFICEHOURS_BENCH_ONLY", database)
                .env("OFFICEHOURS_FANOUT_SINK_PORT", port.to_string())
                .stdout(std::process::Stdio::piped())
                .spawn()?;
            for line in std::io::BufReader::new(child.stdout.take().expect("piped")).lines() {
                let line = line?;
                match line.strip_prefix("figures: ") {
                    Some(values) => figures.push(parse_figures(values)?),
                    None => println!("{line}"),
                }
            }
            let status = child.wait()?;
            if !status.success() {
                result = Err(anyhow::anyhow!("the run of {followers}/{instances} on {database} failed: {status}"));
                break 'runs;
            }
        }
    }
    let _ = sink.kill();
    let _ = sink.wait();
    println!(
        "\nHow the cost grows (server peak RSS: the officehours process with this driver, each run in a fresh process; the instances run apart):"
    );
    println!(
        "| database | followers / instances | queueing | all delivered | per delivery | server RSS before → peak |"
    );
    println!("|---|---|---|---|---|---|");
    for f in &figures {
        println!(
            "| {} | {} / {} | {:.0} ms | {:.2} s | {:.0} µs | {:.0} → {:.0} MB |",
            f.database,
            f.followers,
            f.instances,
            f.queueing.as_secs_f64() * 1000.0,
            f.delivery.as_secs_f64(),
            f.delivery.as_secs_f64() * 1e6 / f.instances as f64,
            f.rss_before_mb,
            f.peak_mb
        );
    }
    result
}

/// A runner's `figures:` line.
fn parse_figures(values: &str) -> anyhow::Result<Figures> {
    let v: Vec<&str> = values.split(' ').collect();
    anyhow::ensure!(v.len() == 7, "unreadable figures: {values}");
    Ok(Figures {
        database: if v[0] == "SQLite" { "SQLite" } else { "PostgreSQL" },
        followers: v[1].parse()?,
        instances: v[2].parse()?,
        queueing: Duration::from_micros(v[3].parse()?),
        delivery: Duration::from_micros(v[4].parse()?),
        rss_before_mb: v[5].parse()?,
        peak_mb: v[6].parse()?,
    })
}
