//! PostgreSQL stopped and started again under load, on a cluster of the
//! test's own (the machine's shared server is never touched).

use std::time::{Duration, Instant};

use crate::support::private_postgres::PrivatePostgres;
use crate::support::serve::ServeProcess;

use super::{BookingLoad, auto_approved_slots, check_bookings, seed};

/// The server's wait for a connection in this test (`database_timeout_secs`).
const WAIT_SECS: u64 = 2;

/// 16 learners book through a real `officehours serve` on PostgreSQL; the
/// database is stopped with `pg_ctl stop -m immediate` (a crash: no
/// checkpoint) in the middle. While it is down every request is answered
/// — 503 `database_unavailable` with a sentence for people, never a 500 and
/// never later than the configured wait plus a margin — and `/readyz` says
/// the database is unreachable. Started again, the same process (no
/// restart) answers `/readyz` 200 and books again by itself, and the
/// database holds every booking answered 201 once, with its event,
/// notifications and mails: nothing half-written by the crash.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_stopped_under_load_answers_503_and_the_server_recovers_by_itself() {
    let Some(pg) = PrivatePostgres::start() else { return };
    let store = officehours::storage::Store::connect(&pg.url, 2).await.expect("the private cluster");
    store.migrate().await.unwrap();
    let people = seed(&store, 16).await;
    store.close().await;
    let data = tempfile::tempdir().unwrap();
    let env = [("OFFICEHOURS_JOB_INTERVAL_SECS", "1"), ("OFFICEHOURS_DATABASE_TIMEOUT_SECS", "2")];
    let mut server = ServeProcess::start(&pg.url, data.path(), &env).await;
    let slots = auto_approved_slots(&server.http, &server.base, &people.advisor_token, "08:00", "16:00").await;

    let load = BookingLoad::start(&server.base, &people.learners, &slots, false);
    load.until("ten bookings", Duration::from_secs(30), |done| {
        done.iter().filter(|o| o.booked().is_some()).count() >= 10
    })
    .await;
    let stopped_at = load.started.elapsed();
    pg.stop_immediately();

    // Down: requests keep being answered, with 503; /readyz says why; a
    // signed-in page answers 503 with the reason and keeps the session
    // cookie (an unreadable session is not an ended one); an API token
    // cannot be checked: 503, not 401. (All at once: each waits.)
    let settings = server
        .http
        .get(server.url("/settings"))
        .header("cookie", format!("oh_session={}", people.advisor_session))
        .send();
    let me = server.http.get(server.url("/api/v1/me")).bearer_auth(&people.advisor_token).send();
    let answers = load.until("sixteen 503 answers while the database is down", Duration::from_secs(30), |done| {
        done.iter().filter(|o| o.sent > stopped_at && o.status() == Some(503)).count() >= 16
    });
    let ((status, text), page, me, ()) = tokio::join!(server.readyz(), settings, me, answers);
    assert_eq!((status, text.as_str()), (503, "database unreachable"), "/readyz while the database is down");
    let page = page.unwrap();
    assert_eq!(page.status(), 503, "a signed-in page while the database is down");
    let cookies: Vec<_> =
        page.headers().get_all("set-cookie").iter().map(|c| c.to_str().unwrap().to_string()).collect();
    assert!(cookies.iter().all(|c| !c.starts_with("oh_session")), "the session cookie is kept: {cookies:?}");
    let text = page.text().await.unwrap();
    assert!(text.contains("cannot reach its database"), "{text}");
    assert_eq!(me.unwrap().status(), 503, "a token cannot be checked without the database");

    // Back: the same process recovers by itself.
    let restarted_at = load.started.elapsed();
    pg.start_again();
    let back = Instant::now();
    loop {
        let (status, _) = server.readyz().await;
        if status == 200 {
            break;
        }
        assert!(back.elapsed() < Duration::from_secs(20), "/readyz did not come back within 20 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    load.until("a booking after the restart", Duration::from_secs(30), |done| {
        done.iter().any(|o| o.sent > restarted_at && o.status().is_some_and(|s| s == 201 || s == 409))
    })
    .await;
    let outcomes = load.stop().await;
    assert!(server.is_running(), "the server process never stopped");

    let bound = Duration::from_secs(WAIT_SECS + 3);
    for outcome in &outcomes {
        let (status, body) = outcome.answer.as_ref().unwrap_or_else(|e| panic!("a request was not answered: {e}"));
        let code = body["error"].as_str().unwrap_or_default();
        match status {
            201 => {}
            409 => assert_eq!(code, "slot_taken", "{body}"),
            503 => {
                assert_eq!(code, "database_unavailable", "{body}");
                assert!(body["message"].as_str().unwrap_or_default().contains("database"), "{body}");
            }
            other => panic!("a booking answered {other} (only 201, 409 and 503 are right): {body}"),
        }
        assert!(outcome.took < bound, "a request took {:?} (bound {bound:?}): {body}", outcome.took);
    }
    let unavailable = outcomes.iter().filter(|o| o.status() == Some(503)).count();
    let slowest = outcomes.iter().map(|o| o.took).max().unwrap_or_default();
    assert!(!server.log_text().contains("panicked"), "{}", server.log_tail());

    let kept = check_bookings("private postgres", &pg.url, &outcomes).await;
    eprintln!(
        "[postgres] stopped {stopped_at:?} into the load, started again after {:?}; {} requests, {unavailable} answered 503, slowest {slowest:?}; {kept} bookings kept",
        restarted_at - stopped_at,
        outcomes.len()
    );
}
