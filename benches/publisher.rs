//! The publisher's pass over every advisor with availability, when nothing
//! changed: what each background job pass costs an instance with many
//! advisors (it compares each advisor's events with what was published and
//! sends nothing). 200 advisors with a daily block of six slots for a week.
//! SQLite, and PostgreSQL when OFFICEHOURS_BENCH_POSTGRES names a server.
//! Run: `cargo bench --bench publisher`.

mod support;

use std::time::{Duration, Instant};

use jiff::ToSpan;
use officehours::service::booking::BlockInput;

const ADVISORS: usize = 200;
const PASSES: usize = 30;

async fn run(label: &str, database_url: String, dir: &std::path::Path) -> anyhow::Result<()> {
    println!("\n== {label}");
    officehours::install_crypto();
    let (node, store, _listener, _addr) = support::federated_app(database_url, dir, Vec::new()).await?;
    let app = node.app.clone();
    let tomorrow = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date().checked_add(1.day())?;
    for n in 0..ADVISORS {
        let ada = store.create_user(&support::advisor(&format!("ada{n}")), app.clock.now_ms()).await?;
        let input = BlockInput {
            start: format!("{tomorrow}T09:00"),
            end: format!("{tomorrow}T10:00"),
            timezone: "UTC".into(),
            weekdays: vec!["mon", "tue", "wed", "thu", "fri", "sat", "sun"].into_iter().map(String::from).collect(),
            repeat_weekly_until: Some(tomorrow.checked_add(6.days())?.to_string()),
            ..Default::default()
        };
        app.create_block(&ada, &input).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let started = Instant::now();
    let first = officehours::federation::events::publish_due(&app).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("first pass: {first} events published in {:.2?}", started.elapsed());
    let mut times: Vec<Duration> = Vec::new();
    for _ in 0..PASSES {
        let started = Instant::now();
        let queued = officehours::federation::events::publish_due(&app).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        anyhow::ensure!(queued == 0, "nothing changed, yet {queued} activities were queued");
        times.push(started.elapsed());
    }
    times.sort();
    println!(
        "unchanged pass over {ADVISORS} advisors (n={PASSES}): p50 {:.2?}, max {:.2?}",
        times[PASSES / 2],
        times[PASSES - 1]
    );
    app.close().await;
    store.close().await;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    support::on_each_database("pub", |label, url, dir| async move { run(label, url, &dir).await })
}
