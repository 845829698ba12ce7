//! Booking benchmarks, on the service layer (no HTTP): slot listing and
//! request latency, on SQLite (and on PostgreSQL when OFFICEHOURS_BENCH_POSTGRES
//! names a server URL). Run: `cargo bench --bench booking`.

mod support;

use std::time::{Duration, Instant};

use jiff::{Timestamp, ToSpan};
use officehours::config::{Config, Overrides};
use officehours::domain::booking::RequestStatus;
use officehours::service::booking::BlockInput;
use officehours::storage::NewUser;

const LEARNERS: usize = 300;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn report(what: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let total: Duration = samples.iter().sum();
    println!(
        "{what:<48} n={:<5} mean={:>8.2?} p50={:>8.2?} p99={:>8.2?} max={:>8.2?}",
        samples.len(),
        total / samples.len() as u32,
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        samples.last().unwrap()
    );
}

async fn run(label: &str, database_url: String, dir: &std::path::Path) -> anyhow::Result<()> {
    println!("\n== {label}");
    let overrides =
        Overrides { database_url: Some(database_url), data_dir: Some(dir.to_path_buf()), ..Default::default() };
    let mut config = Config::resolve(overrides)?;
    // The feed's advisor has eight weeks of weekdays open (2,880 slots):
    // more than the default cap on one advisor's upcoming sessions (1,000).
    config.max_open_slots_per_advisor = 3_000;
    let node = officehours::root::assemble(config).await?;
    let app = node.app.clone();
    let store = officehours::storage::Store::connect(&app.config.database_url, 4).await?;
    let mk = |name: String, advisor: bool| NewUser {
        email: format!("{name}@example.org"),
        username: name,
        email_verified: true,
        password_hash: "unused".into(),
        display_name: String::new(),
        timezone: "UTC".into(),
        is_advisor: advisor,
        is_pro: false,
        is_admin: false,
    };
    let advisor = store.create_user(&mk("bench_advisor".into(), true), app.clock.now_ms()).await?;
    let mut learners = Vec::new();
    for i in 0..LEARNERS {
        learners.push(store.create_user(&mk(format!("bench_learner{i}"), false), app.clock.now_ms()).await?);
    }
    // Eight weeks of weekday mornings: 5 days x 8 weeks x 18 sessions = 720 slots.
    let first = Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date().checked_add(2.days())?;
    let until = first.checked_add(55.days())?;
    let input = BlockInput {
        start: format!("{first}T08:00"),
        end: format!("{first}T11:00"),
        timezone: "UTC".into(),
        repeat_weekly_until: Some(until.to_string()),
        weekdays: ["mon", "tue", "wed", "thu", "fri"].iter().map(|d| d.to_string()).collect(),
        ..Default::default()
    };
    let started = Instant::now();
    let (_, slots) = app.create_block(&advisor, &input).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("create a weekly block with {} slots: {:.2?}", slots.len(), started.elapsed());

    let mut listing = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        let listed = app
            .advisor_slots("bench_advisor", Some(&learners[0]), None, None)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        listing.push(t.elapsed());
        assert!(!listed.is_empty());
    }
    report("list an advisor's slots (60-day horizon)", listing);

    // One request per learner, each for its own slot, one after another.
    let mut requests = Vec::new();
    let mut ids = Vec::new();
    for (i, learner) in learners.iter().enumerate() {
        let t = Instant::now();
        let r = app
            .request_slot(learner, slots[i * 2].id, "benchmark", &serde_json::Value::Null, None)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        requests.push(t.elapsed());
        ids.push(r.id);
    }
    report("request a slot (sequential)", requests);

    let mut approvals = Vec::new();
    for id in &ids {
        let t = Instant::now();
        app.decide(&advisor, *id, officehours::domain::booking::Action::Approve, "")
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        approvals.push(t.elapsed());
    }
    report("approve a request (sequential)", approvals);

    // 64 learners at once, each for another slot: throughput under contention.
    let t = Instant::now();
    let mut tasks = Vec::new();
    for (i, learner) in learners.iter().take(64).cloned().enumerate() {
        let app = app.clone();
        let slot = slots[i * 2 + 1].id;
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            app.request_slot(&learner, slot, "", &serde_json::Value::Null, None).await.map(|_| t.elapsed())
        }));
    }
    let mut concurrent = Vec::new();
    for task in tasks {
        concurrent.push(task.await?.map_err(|e| anyhow::anyhow!("{e}"))?);
    }
    let wall = t.elapsed();
    report("request a slot (64 at once, each latency)", concurrent);
    println!("64 concurrent requests: {wall:.2?} wall, {:.0} requests/s", 64.0 / wall.as_secs_f64());

    feed(&app, &store, &learners, first).await?;
    app.close().await;
    store.close().await;
    Ok(())
}

/// The calendar feed of an advisor with 1,000 sessions (C1): building and
/// writing the iCalendar text, as `GET /feeds/{token}.ics` does.
async fn feed(
    app: &officehours::App,
    store: &officehours::storage::Store,
    learners: &[officehours::storage::User],
    first: jiff::civil::Date,
) -> anyhow::Result<()> {
    let busy = store
        .create_user(
            &NewUser {
                username: "bench_busy".into(),
                email: "bench_busy@example.org".into(),
                email_verified: true,
                password_hash: "unused".into(),
                display_name: "Busy Advisor".into(),
                timezone: "Europe/Berlin".into(),
                is_advisor: true,
                is_pro: false,
                is_admin: false,
            },
            app.clock.now_ms(),
        )
        .await?;
    // Weekdays 07:00–19:00 for eight weeks: 72 sessions a day, 2,880 slots.
    let input = BlockInput {
        start: format!("{first}T07:00"),
        end: format!("{first}T19:00"),
        timezone: "UTC".into(),
        repeat_weekly_until: Some(first.checked_add(55.days())?.to_string()),
        weekdays: ["mon", "tue", "wed", "thu", "fri"].iter().map(|d| d.to_string()).collect(),
        ..Default::default()
    };
    let (_, slots) = app.create_block(&busy, &input).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    for (i, slot) in slots.iter().take(1000).enumerate() {
        let learner = &learners[i % learners.len()];
        let status = if i % 10 == 9 { RequestStatus::Requested } else { RequestStatus::Approved };
        store
            .create_request(
                slot.id,
                learner.id,
                (0, 1),
                |_| Ok::<_, ()>(status),
                officehours::storage::RequestText { note: "bench", answers: "{}", origin: None },
                app.clock.now_ms(),
            )
            .await?
            .ok();
    }
    let url = app.calendar_feed_url(&busy).await.map_err(|e| anyhow::anyhow!("{e}"))?.url;
    let token = url.rsplit('/').next().unwrap_or_default().to_string();
    app.set_feed_blocks(&busy, true).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut samples = Vec::new();
    let mut size = 0;
    for _ in 0..50 {
        let t = Instant::now();
        let text = app.calendar_feed(&token).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        samples.push(t.elapsed());
        size = text.len();
    }
    report("calendar feed, 1,000 sessions + 40 open blocks", samples);
    println!("feed size: {} KiB", size / 1024);
    Ok(())
}

fn main() -> anyhow::Result<()> {
    support::on_each_database("booking", |label, url, dir| async move { run(label, url, &dir).await })
}
