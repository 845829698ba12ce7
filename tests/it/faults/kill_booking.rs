//! `kill -9` in the middle of bookings, then a restart on the same data.

use std::time::Duration;

use crate::support::serve::ServeProcess;
use crate::support::test_databases;

use super::{BookingLoad, auto_approved_slots, check_bookings, seed};

/// 32 learners race for 72 auto-approved slots through the API of a real
/// `officehours serve`; once eight bookings are answered the process is
/// killed with SIGKILL while requests are in flight, and started again on
/// the same database and data folder. Every booking answered 201 is there
/// as answered, no slot is booked twice, every request has its booking
/// event, and after the restart the server turns each booking into
/// exactly its notifications and mails (nothing lost between the commit
/// and the effects, nothing done twice).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_during_booking_loses_no_answered_booking_and_books_no_slot_twice() {
    for db in test_databases().await {
        let tag = db.backend;
        let store = db.store().await;
        let people = seed(&store, 32).await;
        store.close().await;
        let env = [("OFFICEHOURS_JOB_INTERVAL_SECS", "1")];
        let mut server = ServeProcess::start(&db.url, db.dir.path(), &env).await;
        let slots = auto_approved_slots(&server.http, &server.base, &people.advisor_token, "08:00", "20:00").await;
        assert_eq!(slots.len(), 72);

        let load = BookingLoad::start(&server.base, &people.learners, &slots, true);
        load.until("eight bookings", Duration::from_secs(30), |done| {
            done.iter().filter(|o| o.booked().is_some()).count() >= 8
        })
        .await;
        server.kill();
        let outcomes = load.stop().await;

        // The kill landed mid-load: some requests never got an answer.
        let interrupted = outcomes.iter().filter(|o| o.answer.is_err()).count();
        assert!(interrupted > 0, "[{tag}] no request was in flight at the kill");
        for outcome in &outcomes {
            if let Ok((status, body)) = &outcome.answer {
                let code = body["error"].as_str().unwrap_or_default();
                assert!(
                    *status == 201 || (*status == 409 && code == "slot_taken"),
                    "[{tag}] before the kill, a booking is made or refused as taken: {status} {body}"
                );
            }
        }
        let answered = outcomes.iter().filter(|o| o.booked().is_some()).count();

        server.restart().await;
        let kept = check_bookings(tag, &db.url, &outcomes).await;
        assert!(kept >= answered as i64, "[{tag}] {kept} bookings kept, {answered} answered");
        assert!(kept <= slots.len() as i64);
        // The restarted server shows the same: each booked slot once.
        let listed: serde_json::Value = server
            .http
            .get(server.url(&format!("/api/v1/advisors/{}/slots", people.advisor)))
            .bearer_auth(&people.advisor_token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let booked = listed.as_array().unwrap().iter().filter(|s| s["status"] == "booked").count();
        assert_eq!(booked as i64, kept, "[{tag}] the API after the restart: {listed}");
        eprintln!(
            "[{tag}] kill -9 after {:?}: {} requests answered ({answered} bookings), {interrupted} cut off; {kept} bookings kept",
            load_time(&outcomes),
            outcomes.len() - interrupted
        );
    }
}

fn load_time(outcomes: &[super::Outcome]) -> Duration {
    outcomes.iter().map(|o| o.sent + o.took).max().unwrap_or_default()
}
