//! Inbox throughput: pre-signed `Follow` activities (Mastodon-style
//! `rsa-sha256` signatures) POSTed to the shared inbox over real HTTP, each
//! verified (digest, signature against the cached actor key, origin) and
//! stored (follower, deduplication row, queued `Accept`) in one transaction.
//! The Follows are spread over 100 local advisors. A second batch runs with
//! the background jobs on, as a server runs: the job loop signs and delivers
//! an `Accept` for every Follow while more arrive.
//! SQLite, and PostgreSQL when OFFICEHOURS_BENCH_POSTGRES names a server.
//! Run: `cargo bench --bench federation`. To profile only the timed
//! batches: `perf record --control=fifo:FIFO -D -1 …` with
//! `OFFICEHOURS_BENCH_PERF_CTL=FIFO` (see `support::profile`).

mod support;

#[path = "../tests/it/support/peer.rs"]
#[allow(dead_code)]
mod peer;

use std::time::{Duration, Instant};

const ACTIVITIES: usize = 3000;
/// Local advisors the Follows are spread over.
const ADVISORS: usize = 100;

/// A pre-signed activity: its body and its headers.
type Signed = (String, Vec<(&'static str, String)>);
const CONCURRENCY: usize = 32;

async fn run(label: &str, database_url: String, dir: &std::path::Path) -> anyhow::Result<()> {
    println!("\n== {label}");
    officehours::install_crypto();
    let peer = peer::start_peer().await;
    let (node, store, listener, addr) = support::federated_app(database_url, dir, vec!["peer.test".into()]).await?;
    let app = node.app.clone();
    // Follows go to many advisors, as an instance's inbox traffic would:
    // one advisor would make every activity update the same follower row.
    // Their key pairs exist already, as an active advisor's do (made on first need, ~0.2 s each).
    for n in 0..ADVISORS {
        let ada = store.create_user(&support::advisor(&format!("ada{n}")), app.clock.now_ms()).await?;
        app.actor_keys(&ada).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    tokio::spawn(officehours::serve(listener, node.router(), std::future::pending()));
    let inbox = format!("http://{addr}/inbox");
    let follow = |n: usize| {
        let advisor = format!("http://{addr}/users/ada{}", n % ADVISORS);
        serde_json::json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}/follows/{n}", peer.base), "type": "Follow", "actor": peer.actor, "object": advisor,
        })
        .to_string()
    };
    // Warm up: the first activity fetches and stores the peer's actor.
    let client = reqwest::Client::new();
    let status = send(&client, &inbox, follow(0), peer.sign(&inbox, &follow(0))).await?;
    anyhow::ensure!(status == 202, "warm-up answered {status}");

    let signed: Vec<Signed> = (1..=ACTIVITIES).map(|n| (follow(n), peer.sign(&inbox, &follow(n)))).collect();
    let (wall, latencies) = blast(&client, &inbox, signed).await?;
    report("inbox (background jobs off)", wall, &latencies);
    // Every activity was stored with its effect: one follower per advisor,
    // and a queued Accept for each Follow (the job loop is not running).
    let queued: i64 = store.instances_overview().await?.iter().map(|i| i.pending).sum();
    anyhow::ensure!(queued == ACTIVITIES as i64 + 1, "{queued} Accepts queued for {} Follows", ACTIVITIES + 1);
    for n in 0..ADVISORS {
        let ada = store.user_by_username(&format!("ada{n}")).await?;
        anyhow::ensure!(store.follower_count(ada.id).await? == 1, "ada{n} has no follower");
    }
    println!("stored: {queued} Accepts queued, one follower on each of the {ADVISORS} advisors");

    // As a server runs: the job loop signs and delivers the Accepts (the
    // 3,001 queued above, then one per new Follow) while Follows arrive.
    let signed: Vec<Signed> =
        (ACTIVITIES + 1..=2 * ACTIVITIES).map(|n| (follow(n), peer.sign(&inbox, &follow(n)))).collect();
    let _jobs = node.spawn_jobs();
    let started = Instant::now();
    let (wall, latencies) = blast(&client, &inbox, signed).await?;
    report("inbox (background jobs delivering the Accepts)", wall, &latencies);
    let accepts = 2 * ACTIVITIES + 1;
    while peer.received.lock().unwrap().len() < accepts {
        anyhow::ensure!(started.elapsed() < Duration::from_secs(300), "Accepts still missing after 5 minutes");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let delivered = started.elapsed();
    println!(
        "delivered: all {accepts} signed Accepts reached the peer {delivered:.2?} after the second batch began ({:.0}/s)",
        accepts as f64 / delivered.as_secs_f64()
    );
    app.close().await;
    store.close().await;
    Ok(())
}

/// POSTs the activities, [`CONCURRENCY`] at a time; every one must be
/// accepted. Returns the wall time and each POST's latency, sorted.
async fn blast(
    client: &reqwest::Client,
    inbox: &str,
    signed: Vec<Signed>,
) -> anyhow::Result<(Duration, Vec<Duration>)> {
    support::profile(true);
    let started = Instant::now();
    let mut chunks: Vec<Vec<Signed>> = (0..CONCURRENCY).map(|_| Vec::new()).collect();
    for (i, item) in signed.into_iter().enumerate() {
        chunks[i % CONCURRENCY].push(item);
    }
    let mut tasks = Vec::new();
    for chunk in chunks {
        let client = client.clone();
        let inbox = inbox.to_string();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            for (body, headers) in chunk {
                let t = Instant::now();
                let status = send(&client, &inbox, body, headers).await?;
                anyhow::ensure!(status == 202, "an activity was refused: {status}");
                latencies.push(t.elapsed());
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let wall = started.elapsed();
    support::profile(false);
    latencies.sort();
    Ok((wall, latencies))
}

fn report(what: &str, wall: Duration, latencies: &[Duration]) {
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "{what}: {} signed Follows, {CONCURRENCY} at a time: {wall:.2?} wall, {:.0} activities/s, p50 {:.2?}, p99 {:.2?}, max {:.2?}",
        latencies.len(),
        latencies.len() as f64 / wall.as_secs_f64(),
        pct(0.5),
        pct(0.99),
        latencies.last().copied().unwrap_or(Duration::ZERO)
    );
}

async fn send(
    client: &reqwest::Client,
    inbox: &str,
    body: String,
    headers: Vec<(&'static str, String)>,
) -> anyhow::Result<u16> {
    let mut request = client.post(inbox).body(body);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    Ok(request.send().await?.status().as_u16())
}

fn main() -> anyhow::Result<()> {
    support::on_each_database("fed", |label, url, dir| async move { run(label, url, &dir).await })
}
