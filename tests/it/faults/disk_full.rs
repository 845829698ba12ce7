//! The SQLite data folder's disk full, on a small tmpfs of the test's own.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::serve::ServeProcess;
use crate::support::small_disk::SmallDisk;

use super::{Outcome, auto_approved_slots, check_bookings, pool, seed};

/// Asks for `slot` as the holder of `token`.
async fn book(server: &ServeProcess, token: &str, slot: i64) -> (u16, Value) {
    let response = server
        .http
        .post(server.url(&format!("/api/v1/slots/{slot}/requests")))
        .bearer_auth(token)
        .json(&json!({"note": "x".repeat(1500)}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("the booking was not answered: {e}\n{}", server.log_tail()));
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A real `officehours serve` with its SQLite database and data folder on
/// an 8 MB tmpfs. The disk is filled to the last byte: bookings are refused
/// with 507 `storage_full` and a sentence for people (no 500, no panic, the
/// process keeps running), and `/readyz` answers 503 "data disk full".
/// When the space comes back the server takes the same bookings by itself,
/// the refused attempts left nothing behind (no request, event or
/// notification of theirs), every booking has its effects, and SQLite's
/// `PRAGMA integrity_check` says `ok`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_data_disk_refuses_writes_with_507_and_recovers_without_corruption() {
    let Some(disk) = SmallDisk::mount(8) else { return };
    let url = format!("sqlite://{}?mode=rwc", disk.path().join("officehours.db").display());
    let store = officehours::storage::Store::connect(&url, 1).await.unwrap();
    store.migrate().await.unwrap();
    let people = seed(&store, 4).await;
    store.close().await;
    let env = [("OFFICEHOURS_MIN_FREE_DISK_MB", "1"), ("OFFICEHOURS_JOB_INTERVAL_SECS", "1")];
    let mut server = ServeProcess::start(&url, disk.path(), &env).await;
    let slots = auto_approved_slots(&server.http, &server.base, &people.advisor_token, "08:00", "09:00").await;
    let mut outcomes = Vec::new();
    let mut record = |learner: usize, slot: i64, answer: (u16, Value)| {
        let learner = people.learners[learner].0;
        outcomes.push(Outcome { learner, slot, sent: Duration::ZERO, took: Duration::ZERO, answer: Ok(answer) });
    };
    let first = book(&server, &people.learners[0].1, slots[0]).await;
    assert_eq!(first.0, 201, "{}", first.1);
    record(0, slots[0], first);

    // Empty the write-ahead log (SQLite reuses its pages otherwise), then
    // take every free byte: the next commit needs a page the disk lacks.
    let checks = pool(&url).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (busy, frames, _): (i64, i64, i64) =
            sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(&checks).await.unwrap();
        if busy == 0 && frames == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the write-ahead log could not be emptied");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    checks.close().await;
    let filled = disk.fill();
    assert!(filled > 1024 * 1024, "the filler took only {filled} bytes");

    for (learner, slot) in [(1, slots[1]), (2, slots[2]), (1, slots[3])] {
        let (status, body) = book(&server, &people.learners[learner].1, slot).await;
        assert_eq!((status, body["error"].as_str()), (507, Some("storage_full")), "{body}");
        assert!(body["message"].as_str().unwrap().contains("disk is full"), "{body}");
    }
    let (status, text) = server.readyz().await;
    assert_eq!(status, 503, "{text}");
    assert!(text.starts_with("data disk full: 0 MB free"), "{text}");
    // A signed-in page that writes nothing still works.
    let page = server.http.get(server.url("/api/v1/me")).bearer_auth(&people.advisor_token).send().await.unwrap();
    assert_eq!(page.status(), 200, "reading needs no space");
    assert!(server.is_running(), "the server survived the full disk");

    // Space again: the same bookings go through, by themselves.
    disk.free();
    let (status, text) = server.readyz().await;
    assert_eq!((status, text.as_str()), (200, "ready"));
    for (learner, slot) in [(1, slots[1]), (2, slots[2]), (1, slots[3])] {
        let answer = book(&server, &people.learners[learner].1, slot).await;
        assert_eq!(answer.0, 201, "the refused booking, again, with space: {}", answer.1);
        record(learner, slot, answer);
    }
    let kept = check_bookings("sqlite on a full disk", &url, &outcomes).await;
    assert_eq!(kept, 4, "the refused attempts wrote nothing");
    assert!(!server.log_text().contains("panicked"), "{}", server.log_tail());
    assert!(server.log_text().contains("the data disk is full"), "the admin is told: {}", server.log_tail());

    server.kill();
    let checks = pool(&url).await;
    let integrity: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check").fetch_all(&checks).await.unwrap();
    assert_eq!(integrity, ["ok"]);
    let foreign: Vec<(String,)> =
        sqlx::query_as("SELECT \"table\" FROM pragma_foreign_key_check").fetch_all(&checks).await.unwrap();
    assert!(foreign.is_empty(), "{foreign:?}");
    checks.close().await;
}
