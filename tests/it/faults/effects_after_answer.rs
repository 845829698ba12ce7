//! `kill -9` after a booking is answered and before its effects are
//! written (the effects are written after the answer: `service::after_answer`).

use std::time::Duration;

use serde_json::json;

use crate::support::TestDatabase;
use crate::support::serve::ServeProcess;

use super::{Outcome, auto_approved_slots, check_bookings, pool, seed};

/// On PostgreSQL the test holds an exclusive lock on `notifications`, so a
/// booking commits and is answered 201 while its effects wait for the lock.
/// The server is killed with SIGKILL in that moment (checked: the event is
/// still unprocessed and nobody has a notification), the lock is released
/// and the server started again on the same database: the booking is kept,
/// and its two notifications and two mails are written exactly once (the
/// killed server's half-done effects transaction rolled back; the
/// restarted one applies the event left unprocessed). SQLite has no lock
/// on one table to hold; there the same window is covered by chance in
/// `kill_9_during_booking_…`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_between_the_answer_and_the_effects_applies_them_once_after_the_restart() {
    let Some(db) = TestDatabase::postgres().await else { return };
    let store = db.store().await;
    let people = seed(&store, 1).await;
    store.close().await;
    let env = [("OFFICEHOURS_JOB_INTERVAL_SECS", "1")];
    let mut server = ServeProcess::start(&db.url, db.dir.path(), &env).await;
    let slots = auto_approved_slots(&server.http, &server.base, &people.advisor_token, "08:00", "09:00").await;
    let checks = pool(&db.url).await;
    let mut hold = checks.begin().await.unwrap();
    sqlx::query("LOCK TABLE notifications IN EXCLUSIVE MODE").execute(&mut *hold).await.unwrap();

    let (learner, token) = &people.learners[0];
    let sent = std::time::Instant::now();
    let answer = server
        .http
        .post(server.url(&format!("/api/v1/slots/{}/requests", slots[0])))
        .bearer_auth(token)
        .json(&json!({"note": "answered before its effects"}))
        .send()
        .await
        .unwrap();
    let took = sent.elapsed();
    let status = answer.status().as_u16();
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(status, 201, "answered while the effects wait: {body}");
    let count = async |sql: &str| sqlx::query_scalar::<_, i64>(sql).fetch_one(&checks).await.unwrap();
    assert_eq!(count("SELECT COUNT(*) FROM booking_events WHERE processed_at IS NULL").await, 1);
    assert_eq!(count("SELECT COUNT(*) FROM notifications").await, 0);
    server.kill();
    hold.rollback().await.unwrap();

    server.restart().await;
    let outcome = Outcome { learner: *learner, slot: slots[0], sent: Duration::ZERO, took, answer: Ok((status, body)) };
    assert_eq!(check_bookings("postgres", &db.url, &[outcome]).await, 1);
    checks.close().await;
}
