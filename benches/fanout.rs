//! Fan-out: one advisor with 10,000 followers on 1,000 simulated instances
//! (ten each, every instance with a shared inbox) publishes one block. The
//! publisher queues one `Create(Event)` per shared inbox, and the delivery
//! loop signs and POSTs them over real HTTP to a server in this process that
//! answers for all 1,000 host names. Measured: queueing, time until the last
//! instance has its copy, POSTs per instance (must be exactly one), and every
//! received signature is checked against Mastodon's rules and the advisor's
//! published key. SQLite, and PostgreSQL when OFFICEHOURS_BENCH_POSTGRES names
//! a server. Run: `cargo bench --bench fanout`.

mod support;

#[path = "../tests/it/support/peer.rs"]
#[allow(dead_code)]
mod peer;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use jiff::ToSpan;
use officehours::service::booking::BlockInput;

const INSTANCES: usize = 1_000;
const FOLLOWERS_PER_INSTANCE: usize = 10;
/// The aim from issue 5: every instance has the event within this.
const AIM: Duration = Duration::from_secs(30);

/// What the simulated instances received: (when, host, headers, body).
type Received = Arc<Mutex<Vec<(Instant, String, HeaderMap, String)>>>;

fn host(n: usize) -> String {
    format!("i{n:04}.test")
}

async fn run(label: &str, database_url: String, dir: &std::path::Path) -> anyhow::Result<()> {
    println!("\n== {label}");
    officehours::install_crypto();

    // The 1,000 instances: one listener that records every POST by Host.
    let received: Received = Arc::default();
    let sink = received.clone();
    let instances = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = instances.local_addr()?.port();
    let router = Router::new().route(
        "/inbox",
        post(move |headers: HeaderMap, body: String| {
            let sink = sink.clone();
            async move {
                let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("").to_string();
                sink.lock().unwrap().push((Instant::now(), host, headers, body));
                StatusCode::ACCEPTED
            }
        }),
    );
    tokio::spawn(async move { axum::serve(instances, router).await });

    let hosts = (0..INSTANCES).map(host).collect();
    let (node, store, listener, addr) = support::federated_app(database_url, dir, hosts).await?;
    let app = node.app.clone();
    let ada = store.create_user(&support::advisor("ada"), app.clock.now_ms()).await?;
    // Her key pair exists already, as an active advisor's does.
    app.actor_keys(&ada).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    tokio::spawn(officehours::serve(listener, node.router(), std::future::pending()));

    // 10,000 followers, as accepted Follows leave them: their shared inbox.
    let started = Instant::now();
    let now = jiff::Timestamp::now().as_millisecond();
    let rows: Vec<String> = (0..INSTANCES * FOLLOWERS_PER_INSTANCE)
        .map(|i| {
            let base = format!("http://{}:{port}", host(i / FOLLOWERS_PER_INSTANCE));
            format!("({}, '{base}/users/u{i}', '{base}/inbox', '{base}/follows/{i}', {now})", ada.id)
        })
        .collect();
    for chunk in rows.chunks(500) {
        store
            .execute_raw(&format!(
                "INSERT INTO followers (user_id, actor_id, inbox, follow_id, created_at) VALUES {}",
                chunk.join(", ")
            ))
            .await?;
    }
    println!(
        "set-up: {} followers on {INSTANCES} instances stored in {:.2?} (not counted below)",
        rows.len(),
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

    let started = Instant::now();
    let events = officehours::federation::events::publish_for(&app, &ada).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let queueing = started.elapsed();
    anyhow::ensure!(events == 1, "published {events} events, expected one");
    let queue = store.instances_overview().await?;
    let queued: i64 = queue.iter().map(|i| i.pending).sum();
    anyhow::ensure!(
        queue.len() == INSTANCES && queue.iter().all(|i| i.pending == 1),
        "queued {queued} deliveries for {} instances, expected one per instance ({INSTANCES})",
        queue.len()
    );
    let mut delivered = 0;
    while delivered < INSTANCES && started.elapsed() < AIM * 4 {
        delivered += officehours::federation::delivery::deliver_due(node.federation())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let received = std::mem::take(&mut *received.lock().unwrap());
    let last = received.iter().map(|(at, ..)| *at).max().unwrap_or(started);
    let total = last.duration_since(started);
    println!(
        "fan-out: {queued} deliveries queued in {queueing:.2?}; all {} instances had the Create in {total:.2?} \
         ({:.0} deliveries/s) — aim {AIM:?}: {}",
        received.len(),
        received.len() as f64 / total.as_secs_f64(),
        if total <= AIM && received.len() == INSTANCES { "met" } else { "NOT met" }
    );

    // Exactly one POST per instance, each a signed Create(Event) that
    // Mastodon would accept.
    let mut per_host: HashMap<&str, usize> = HashMap::new();
    for (_, host, ..) in &received {
        *per_host.entry(host.as_str()).or_default() += 1;
    }
    anyhow::ensure!(
        per_host.len() == INSTANCES,
        "{} instances received something, expected {INSTANCES}",
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
    let started = Instant::now();
    for (_, _, headers, body) in &received {
        let activity: serde_json::Value = serde_json::from_str(body)?;
        anyhow::ensure!(activity["type"] == "Create" && activity["object"]["type"] == "Event", "{activity}");
        // RFC 9421 to instances whose preference is unknown (all of them,
        // at first); draft-cavage to those that refused it.
        if headers.contains_key("signature-input") {
            let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or_default();
            peer::satisfies_rfc9421(headers, body, &format!("http://{host}/inbox"), &person);
        } else {
            peer::satisfies_mastodon(headers, body, "post", "/inbox", &person);
        }
    }
    println!("checked {} signatures in {:.2?}", received.len(), started.elapsed());
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM")).map(|l| l.trim().to_string()))
        .unwrap_or_default();
    println!("peak memory of the whole benchmark process (server, client and 1,000 recorded bodies): {rss}");
    app.close().await;
    store.close().await;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    support::on_each_database("fanout", |label, url, dir| async move { run(label, url, &dir).await })
}
