//! The realistic mix: N clients, each a learner with its own keep-alive
//! connection, loop over what people do on an instance — browse the
//! directory, search it, open an advisor's profile and their slots, request
//! a slot, have the advisor approve it, fetch the advisor's calendar feed,
//! cancel — against a running `officehours serve --demo`, for a fixed time
//! (the server must trust 127.0.0.1 as a proxy: each client sends its own
//! `X-Forwarded-For`, as visitors come from their own addresses).
//! Each client books only its own share of the slots, so a refusal
//! (`slot_taken`, `already_decided`) means something went wrong and counts
//! as an error, like any 5xx or failed connection.
//!
//! Prints the request rate, p50/p99/max over every request and per kind,
//! and the errors; with an `admin` line in the tokens, the server's
//! write-lock waits over the counted time (`GET /api/v1/admin/write-lock`:
//! a histogram in power-of-two buckets); with `OH_MIX_SERVER_PID`, the
//! server's CPU time per request (user + system, from `/proc`). Run by `benches/run.sh` (which starts the server and
//! makes the accounts and tokens); by hand:
//!
//! ```sh
//! OH_MIX_URL=http://127.0.0.1:18080 OH_MIX_TOKENS=tokens.tsv cargo bench --bench mix -- 32,128 120
//! ```
//!
//! `tokens.tsv` has one `role<TAB>username<TAB>token` line per account:
//! `advisor` for each demo advisor, `learner` for at least as many learners
//! as the largest client count, and optionally one `admin`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Requests not counted while connections open and caches fill.
const WARM_UP: Duration = Duration::from_secs(3);
const KINDS: [&str; 8] = ["browse", "search", "profile", "slots", "request", "approve", "feed", "cancel"];
const WORDS: [&str; 6] = ["rust", "design", "career", "data", "python", "writing"];

struct Accounts {
    base: String,
    /// (username, token)
    learners: Vec<(String, String)>,
    advisors: HashMap<String, String>,
    /// An admin's token, for the write-lock histogram.
    admin: Option<String>,
    /// The server's process id, for its CPU time.
    server_pid: Option<u32>,
    /// (slot id, advisor), open and in the future.
    slots: Vec<(i64, String)>,
    /// The advisors' calendar feed URLs (path and query).
    feeds: Vec<String>,
}

#[derive(Default)]
struct Record {
    /// Latency in µs per kind.
    times: HashMap<&'static str, Vec<u64>>,
    errors: HashMap<&'static str, u64>,
    samples: Vec<String>,
}

impl Record {
    fn add(&mut self, kind: &'static str, started: Instant, counted: bool, outcome: Result<(), String>) {
        if !counted {
            return;
        }
        self.times.entry(kind).or_default().push(started.elapsed().as_micros() as u64);
        if let Err(e) = outcome {
            *self.errors.entry(kind).or_default() += 1;
            if self.samples.len() < 5 {
                self.samples.push(format!("{kind}: {e}"));
            }
        }
    }
}

fn main() -> anyhow::Result<()> {
    officehours::install_crypto();
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let (Ok(base), Ok(tokens)) = (std::env::var("OH_MIX_URL"), std::env::var("OH_MIX_TOKENS")) else {
        println!("mix: skipped (needs a running server: OH_MIX_URL and OH_MIX_TOKENS; benches/run.sh sets them)");
        return Ok(());
    };
    let clients: Vec<usize> =
        args.first().map(String::as_str).unwrap_or("32,128").split(',').map(str::parse).collect::<Result<_, _>>()?;
    let seconds: u64 = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(120);
    let label = std::env::var("OH_MIX_LABEL").unwrap_or_else(|_| "SQLite".into());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let accounts = accounts(base.trim_end_matches('/').to_string(), &tokens).await?;
        for n in clients {
            run(&accounts, n, Duration::from_secs(seconds), &label).await?;
        }
        Ok(())
    })
}

async fn accounts(base: String, tokens: &str) -> anyhow::Result<Accounts> {
    let mut learners = Vec::new();
    let mut advisors = HashMap::new();
    let mut admin = None;
    for line in std::fs::read_to_string(tokens)?.lines() {
        let mut parts = line.split('\t');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("learner"), Some(name), Some(token)) => learners.push((name.to_string(), token.to_string())),
            (Some("advisor"), Some(name), Some(token)) => {
                advisors.insert(name.to_string(), token.to_string());
            }
            (Some("admin"), Some(_), Some(token)) => admin = Some(token.to_string()),
            _ => anyhow::bail!("{tokens}: unreadable line {line:?}"),
        }
    }
    let http = reqwest::Client::new();
    let mut slots = Vec::new();
    let mut feeds = Vec::new();
    let mut names: Vec<&String> = advisors.keys().collect();
    names.sort();
    for name in names {
        let list: Vec<Value> =
            http.get(format!("{base}/api/v1/advisors/{name}/slots")).send().await?.error_for_status()?.json().await?;
        // Not within three hours: a cancellation in the hour before the start would cost karma.
        let soon = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(3);
        for slot in list {
            let start: Option<jiff::Timestamp> = slot["start"].as_str().and_then(|s| s.parse().ok());
            if slot["status"] == "open" && start.is_some_and(|s| s > soon) {
                slots.push((slot["id"].as_i64().unwrap_or_default(), name.clone()));
            }
        }
        let feed: Value = http
            .get(format!("{base}/api/v1/me/calendar-feed"))
            .bearer_auth(&advisors[name])
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let url = url::Url::parse(feed["url"].as_str().unwrap_or_default())?;
        feeds.push(format!("{}?{}", url.path(), url.query().unwrap_or_default()).trim_end_matches('?').to_string());
    }
    let server_pid = std::env::var("OH_MIX_SERVER_PID").ok().and_then(|p| p.parse().ok());
    Ok(Accounts { base, learners, advisors, admin, server_pid, slots, feeds })
}

async fn run(accounts: &Accounts, n: usize, length: Duration, label: &str) -> anyhow::Result<()> {
    anyhow::ensure!(accounts.learners.len() >= n, "{n} clients need {n} learners in OH_MIX_TOKENS");
    anyhow::ensure!(
        accounts.slots.len() >= n,
        "{n} clients need {n} open slots, the server has {}",
        accounts.slots.len()
    );
    let start = Instant::now();
    let counted_from = start + WARM_UP;
    let deadline = counted_from + length;
    let mut tasks = Vec::new();
    for i in 0..n {
        let mine: Vec<(i64, String)> = accounts.slots.iter().skip(i).step_by(n).cloned().collect();
        let learner = accounts.learners[i].clone();
        let base = accounts.base.clone();
        let advisors = accounts.advisors.clone();
        let feeds = accounts.feeds.clone();
        tasks.push(tokio::spawn(async move {
            // Each client is a visitor from its own address (the server
            // trusts 127.0.0.1 as its proxy), as the feed's per-address limit expects.
            let mut headers = reqwest::header::HeaderMap::new();
            let address = format!("10.1.{}.{}", i / 250, i % 250 + 1);
            headers.insert("x-forwarded-for", address.parse().expect("address"));
            let http =
                reqwest::Client::builder().pool_max_idle_per_host(1).default_headers(headers).build().expect("client");
            client(i, &http, &base, learner, advisors, feeds, mine, counted_from, deadline).await
        }));
    }
    // The server's side over the counted time: its CPU and its write lock.
    tokio::time::sleep_until(counted_from.into()).await;
    let http = reqwest::Client::new();
    let cpu_before = accounts.server_pid.and_then(cpu_ticks);
    let lock_before = write_lock(&http, accounts).await;
    let mut all = Record::default();
    for task in tasks {
        let record = task.await?;
        for (kind, times) in record.times {
            all.times.entry(kind).or_default().extend(times);
        }
        for (kind, errors) in record.errors {
            *all.errors.entry(kind).or_default() += errors;
        }
        all.samples.extend(record.samples);
    }
    let mut every: Vec<u64> = all.times.values().flatten().copied().collect();
    every.sort_unstable();
    let errors: u64 = all.errors.values().sum();
    let rate = every.len() as f64 / length.as_secs_f64();
    println!(
        "mix {label}, {n} clients, {} s: {rate:.0} req/s, p50 {}, p99 {}, max {}, errors {errors} of {}",
        length.as_secs(),
        ms(pct(&every, 50.0)),
        ms(pct(&every, 99.0)),
        ms(every.last().copied().unwrap_or(0)),
        every.len()
    );
    for kind in KINDS {
        let mut times = all.times.remove(kind).unwrap_or_default();
        times.sort_unstable();
        println!(
            "  {kind:<8} n={:<7} p50 {:>9}  p99 {:>9}  max {:>9}  errors {}",
            times.len(),
            ms(pct(&times, 50.0)),
            ms(pct(&times, 99.0)),
            ms(times.last().copied().unwrap_or(0)),
            all.errors.get(kind).copied().unwrap_or(0)
        );
    }
    for sample in &all.samples {
        println!("  error: {sample}");
    }
    if let (Some(before), Some(after)) = (cpu_before, accounts.server_pid.and_then(cpu_ticks)) {
        // Clock ticks of 10 ms (USER_HZ = 100 on Linux).
        let ms = (after - before) as f64 * 10.0;
        println!(
            "  server CPU {:.1} s over {} s ({:.0} % of one core), {:.2} ms per request",
            ms / 1000.0,
            length.as_secs(),
            ms / 10.0 / length.as_secs_f64(),
            ms / every.len().max(1) as f64
        );
    }
    if let (Some(before), Some(after)) = (lock_before, write_lock(&http, accounts).await) {
        print_write_lock(&before, &after);
    }
    Ok(())
}

/// User + system CPU of a process, in clock ticks (`/proc/<pid>/stat`).
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name (which may hold spaces), from field 3.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// The server's write-lock histogram (needs an admin token).
async fn write_lock(http: &reqwest::Client, accounts: &Accounts) -> Option<Value> {
    let token = accounts.admin.as_ref()?;
    let answer = http.get(format!("{}/api/v1/admin/write-lock", accounts.base)).bearer_auth(token).send().await.ok()?;
    answer.error_for_status().ok()?.json().await.ok()
}

/// The waits between two histograms: how many, mean, percentiles (as the
/// bucket's upper bound) and the buckets that hold any.
fn print_write_lock(before: &Value, after: &Value) {
    let number = |v: &Value, key: &str| v[key].as_u64().unwrap_or(0);
    let buckets = |v: &Value| -> Vec<u64> {
        v["buckets"].as_array().map(|b| b.iter().map(|n| n.as_u64().unwrap_or(0)).collect()).unwrap_or_default()
    };
    let (then, now) = (buckets(before), buckets(after));
    let window: Vec<u64> = now.iter().enumerate().map(|(i, n)| n - then.get(i).copied().unwrap_or(0)).collect();
    let count = number(after, "count") - number(before, "count");
    let total = number(after, "total_micros") - number(before, "total_micros");
    let below = |p: f64| -> u64 {
        let rank = ((p / 100.0) * count as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, n) in window.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return 1 << i;
            }
        }
        0
    };
    println!(
        "  write lock ({}): {count} waits, mean {}, p50 < {}, p99 < {}, longest since start {}",
        after["database"].as_str().unwrap_or("?"),
        ms(total / count.max(1)),
        micros(below(50.0)),
        micros(below(99.0)),
        ms(number(after, "longest_micros"))
    );
    let shown: Vec<String> =
        window.iter().enumerate().filter(|(_, n)| **n > 0).map(|(i, n)| format!("< {}: {n}", micros(1 << i))).collect();
    println!("    waits by bucket: {}", shown.join(", "));
}

#[allow(clippy::too_many_arguments)]
async fn client(
    i: usize,
    http: &reqwest::Client,
    base: &str,
    (_, learner): (String, String),
    advisors: HashMap<String, String>,
    feeds: Vec<String>,
    slots: Vec<(i64, String)>,
    counted_from: Instant,
    deadline: Instant,
) -> Record {
    let mut record = Record::default();
    let mut round = i;
    while Instant::now() < deadline {
        let (slot, advisor) = &slots[round % slots.len()];
        let counted = Instant::now() >= counted_from;
        let word = WORDS[round % WORDS.len()];
        for (kind, path) in [
            ("browse", "/advisors".to_string()),
            ("search", format!("/advisors?q={word}")),
            ("profile", format!("/users/{advisor}")),
            ("slots", format!("/api/v1/advisors/{advisor}/slots")),
            ("browse", "/".to_string()),
        ] {
            let t = Instant::now();
            let outcome = get(http, &format!("{base}{path}")).await;
            record.add(kind, t, counted, outcome);
        }
        let t = Instant::now();
        let made = post(http, &format!("{base}/api/v1/slots/{slot}/requests"), &learner, "A question about my project")
            .await
            .and_then(|v| v["id"].as_i64().ok_or_else(|| format!("no id in {v}")));
        record.add("request", t, counted, made.as_ref().map(|_| ()).map_err(Clone::clone));
        if let Ok(id) = made {
            let t = Instant::now();
            let outcome = post(http, &format!("{base}/api/v1/requests/{id}/approve"), &advisors[advisor], "").await;
            record.add("approve", t, counted, outcome.map(|_| ()));
            if round.is_multiple_of(4) {
                // Calendar apps poll now and then, not on every visit.
                let t = Instant::now();
                let outcome = get(http, &format!("{base}{}", feeds[round % feeds.len()])).await;
                record.add("feed", t, counted, outcome);
            }
            let t = Instant::now();
            let outcome =
                post(http, &format!("{base}/api/v1/requests/{id}/cancel"), &learner, "Something came up").await;
            record.add("cancel", t, counted, outcome.map(|_| ()));
        }
        round += 1;
    }
    record
}

async fn get(http: &reqwest::Client, url: &str) -> Result<(), String> {
    let response = http.get(url).send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| e.to_string())?;
    if status.is_success() { Ok(()) } else { Err(format!("GET {url}: {status} {}", String::from_utf8_lossy(&body))) }
}

async fn post(http: &reqwest::Client, url: &str, token: &str, note: &str) -> Result<Value, String> {
    let response = http
        .post(url)
        .bearer_auth(token)
        .json(&serde_json::json!({ "note": note }))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| e.to_string())?;
    if status.is_success() {
        serde_json::from_slice(&body).map_err(|e| format!("POST {url}: {e}"))
    } else {
        Err(format!("POST {url}: {status} {}", String::from_utf8_lossy(&body)))
    }
}

fn pct(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(us: u64) -> String {
    format!("{:.1} ms", us as f64 / 1000.0)
}

/// A bucket bound: µs below a millisecond, else ms.
fn micros(us: u64) -> String {
    if us < 1000 { format!("{us} µs") } else { ms(us) }
}
