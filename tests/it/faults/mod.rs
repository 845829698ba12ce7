//! Fault tests (issue 18): the server under the failures a small VPS sees —
//! the process killed with SIGKILL in the middle of bookings, PostgreSQL
//! stopped and started under load, remote peers that never answer or
//! answer megabytes of garbage, the SQLite data disk full. Each test says
//! what it proves; docs/admin-guide.md ("Faults") sums them up.
//!
//! The booking checks shared by the tests that crash something are here:
//! people and tokens seeded straight into the database, a booking load of
//! many learners racing for auto-approved slots through the API, and the
//! invariants read back from the database afterwards ("every answered
//! booking is there, no slot is booked twice, nothing is half-written").

mod disk_full;
mod effects_after_answer;
mod kill_booking;
mod peers;
mod postgres_restart;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::ToSpan;
use officehours::storage::{NewUser, Store};
use serde_json::{Value, json};

/// An advisor and learners with API tokens, written straight to the
/// database (no password hashing: the tests need many of them, fast).
pub struct Seeded {
    pub advisor: String,
    pub advisor_token: String,
    /// The secret of a web session of the advisor (the `oh_session` cookie).
    pub advisor_session: String,
    /// (user id, token) of each learner.
    pub learners: Vec<(i64, String)>,
}

pub async fn seed(store: &Store, learners: usize) -> Seeded {
    let now = jiff::Timestamp::now().as_millisecond();
    let make = async |name: String, is_advisor: bool| {
        let new = NewUser {
            username: name.clone(),
            email: format!("{name}@example.org"),
            email_verified: true,
            password_hash: "unused".into(),
            display_name: String::new(),
            timezone: "UTC".into(),
            is_advisor,
            is_pro: false,
            is_admin: false,
        };
        let user = store.create_user(&new, now).await.expect("create user");
        let secret = format!("oh_fault_{name}_{}", now);
        let hash = officehours::service::secrets::hash_secret(&secret);
        store.create_api_token(user.id, &hash, "fault test", None, now).await.expect("token");
        (user.id, secret)
    };
    let (advisor_id, advisor_token) = make("ada".into(), true).await;
    let advisor_session = format!("fault_session_{now}");
    let hash = officehours::service::secrets::hash_secret(&advisor_session);
    store.create_login_session(&hash, advisor_id, now + 86_400_000, now).await.expect("session");
    let mut people = Vec::new();
    for i in 0..learners {
        people.push(make(format!("learner{i}"), false).await);
    }
    Seeded { advisor: "ada".into(), advisor_token, advisor_session, learners: people }
}

/// `YYYY-MM-DD`, `days` from today in UTC.
pub fn day(days: i64) -> String {
    jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date().checked_add(days.days()).unwrap().to_string()
}

/// Creates a block of auto-approved 10-minute slots (no notice, no weekly
/// limit) through the API and returns the slots' ids.
pub async fn auto_approved_slots(http: &reqwest::Client, base: &str, token: &str, from: &str, to: &str) -> Vec<i64> {
    let date = day(2);
    let body = json!({
        "start": format!("{date}T{from}"), "end": format!("{date}T{to}"), "timezone": "UTC",
        "approval_required": false, "max_per_learner_week": 0, "min_notice_minutes": 0,
    });
    let response =
        http.post(format!("{base}/api/v1/blocks")).bearer_auth(token).json(&body).send().await.expect("POST block");
    let status = response.status();
    let created: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 201, "the block: {created}");
    created["slots"].as_array().unwrap().iter().map(|s| s["id"].as_i64().unwrap()).collect()
}

/// What one booking request got.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub learner: i64,
    pub slot: i64,
    /// When it was sent, from the load's start.
    pub sent: Duration,
    pub took: Duration,
    /// The status and JSON answer, or the transport error (the connection
    /// refused or dropped).
    pub answer: Result<(u16, Value), String>,
}

impl Outcome {
    pub fn status(&self) -> Option<u16> {
        self.answer.as_ref().ok().map(|(status, _)| *status)
    }

    /// The request id of a booking answered 201.
    pub fn booked(&self) -> Option<i64> {
        match &self.answer {
            Ok((201, body)) => body["id"].as_i64(),
            _ => None,
        }
    }
}

/// Learners asking for slots through the API at once, each going round
/// every slot from its own starting point, until [`BookingLoad::stop`];
/// a learner whose request fails in transport stops when `stop_on_error`.
pub struct BookingLoad {
    pub outcomes: Arc<Mutex<Vec<Outcome>>>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    pub started: Instant,
}

impl BookingLoad {
    pub fn start(base: &str, learners: &[(i64, String)], slots: &[i64], stop_on_error: bool) -> BookingLoad {
        let outcomes: Arc<Mutex<Vec<Outcome>>> = Arc::default();
        let stop: Arc<AtomicBool> = Arc::default();
        let started = Instant::now();
        let http = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(60)).build().unwrap();
        let mut tasks = Vec::new();
        for (index, (learner, token)) in learners.iter().cloned().enumerate() {
            let (http, outcomes, stop, base) = (http.clone(), outcomes.clone(), stop.clone(), base.to_string());
            let order: Vec<i64> = (0..slots.len()).map(|i| slots[(i + index * 7) % slots.len()]).collect();
            tasks.push(tokio::spawn(async move {
                for slot in order.into_iter().cycle() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let sent = started.elapsed();
                    let answer = http
                        .post(format!("{base}/api/v1/slots/{slot}/requests"))
                        .bearer_auth(&token)
                        .json(&json!({"note": format!("learner {learner} for slot {slot}")}))
                        .send()
                        .await;
                    let answer = match answer {
                        Ok(response) => {
                            let status = response.status().as_u16();
                            match response.text().await {
                                Ok(text) => Ok((status, serde_json::from_str(&text).unwrap_or(Value::String(text)))),
                                Err(err) => Err(format!("reading the answer: {err}")),
                            }
                        }
                        Err(err) => Err(err.to_string()),
                    };
                    let failed = answer.is_err();
                    let took = started.elapsed() - sent;
                    outcomes.lock().unwrap().push(Outcome { learner, slot, sent, took, answer });
                    if failed && stop_on_error {
                        return;
                    }
                    if failed {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }));
        }
        BookingLoad { outcomes, stop, tasks, started }
    }

    /// Waits (at most `within`) until `enough` holds for the outcomes so far.
    pub async fn until(&self, what: &str, within: Duration, enough: impl Fn(&[Outcome]) -> bool) {
        let deadline = Instant::now() + within;
        loop {
            if enough(&self.outcomes.lock().unwrap()) {
                return;
            }
            assert!(Instant::now() < deadline, "timed out after {within:?} waiting for {what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Stops every learner and returns every outcome.
    pub async fn stop(self) -> Vec<Outcome> {
        self.stop.store(true, Ordering::SeqCst);
        for task in self.tasks {
            task.await.expect("a learner's task panicked");
        }
        self.outcomes.lock().unwrap().clone()
    }
}

/// Opens the test's own connection to the database (for checks in SQL).
pub async fn pool(url: &str) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(url).await.expect("connect for checks")
}

async fn rows(pool: &sqlx::AnyPool, sql: &str) -> Vec<(i64, i64)> {
    sqlx::query_as::<_, (i64, i64)>(sql).fetch_all(pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn count(pool: &sqlx::AnyPool, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// After a fault: every booking answered 201 is in the database as
/// answered (approved, that learner, that slot); no slot has two approved
/// requests; every request has exactly the one booking event it was
/// written with; and once the server has processed the events (waited
/// for, as the positive marker), each booking has exactly its two
/// notifications (the advisor's "request received", the learner's
/// "approved") and a mail for each — nothing missing, nothing twice.
/// Returns how many bookings the database holds.
pub async fn check_bookings(tag: &str, url: &str, outcomes: &[Outcome]) -> i64 {
    let pool = pool(url).await;
    for outcome in outcomes {
        let Some(id) = outcome.booked() else { continue };
        let stored: Option<(i64, i64, String)> =
            sqlx::query_as("SELECT learner_id, slot_id, status FROM requests WHERE id = $1")
                .bind(id)
                .fetch_optional(&pool)
                .await
                .unwrap();
        assert_eq!(
            stored,
            Some((outcome.learner, outcome.slot, "approved".to_string())),
            "[{tag}] request {id} was answered 201 and must be kept as answered"
        );
    }
    let doubled = rows(
        &pool,
        "SELECT slot_id, COUNT(*) FROM requests WHERE status = 'approved' GROUP BY slot_id HAVING COUNT(*) > 1",
    )
    .await;
    assert!(doubled.is_empty(), "[{tag}] slots booked twice (slot, bookings): {doubled:?}");
    let events = rows(
        &pool,
        "SELECT r.id, COUNT(e.id) FROM requests r LEFT JOIN booking_events e ON e.request_id = r.id \
         GROUP BY r.id HAVING COUNT(e.id) <> 1",
    )
    .await;
    assert!(events.is_empty(), "[{tag}] requests without exactly one booking event (request, events): {events:?}");

    let deadline = Instant::now() + Duration::from_secs(20);
    while count(&pool, "SELECT COUNT(*) FROM booking_events WHERE processed_at IS NULL").await > 0 {
        assert!(Instant::now() < deadline, "[{tag}] the booking events were not processed within 20 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let notified = rows(
        &pool,
        "SELECT r.id, COUNT(n.id) FROM requests r LEFT JOIN notifications n ON n.request_id = r.id \
         GROUP BY r.id HAVING COUNT(n.id) <> 2 \
         OR COUNT(DISTINCT n.kind) <> 2 OR COUNT(DISTINCT n.user_id) <> 2",
    )
    .await;
    assert!(notified.is_empty(), "[{tag}] bookings without exactly their two notifications: {notified:?}");
    let bookings = count(&pool, "SELECT COUNT(*) FROM requests").await;
    let notifications = count(&pool, "SELECT COUNT(*) FROM notifications").await;
    let mails = count(&pool, "SELECT COUNT(*) FROM mail_outbox").await;
    assert_eq!((notifications, mails), (2 * bookings, 2 * bookings), "[{tag}] a notification and a mail per person");
    pool.close().await;
    bookings
}
