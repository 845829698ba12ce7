//! The durable delivery queue on SQLite and PostgreSQL: failures are retried
//! with growing delays (shortened here; the tests move the server's manual
//! clock instead of waiting them out), and inboxes the server refuses to
//! send to (loopback, private or malformed, outside test mode) are given up
//! at once rather than counted as delivered, as are activities an inbox
//! refuses (4xx); failures (5xx) are retried. An instance failing for longer
//! than `federation_dead_after_secs` is marked dead, waits, and is revived
//! when it speaks; the admin sees all of it.

use crate::support;

use jiff::SignedDuration;
use officehours::federation::delivery::deliver_due;
use officehours::storage::NewDelivery;
use reqwest::StatusCode;
use support::server::PASSWORD;
use support::{TestServer, test_databases};

fn delivery(sender: i64, id: &str, inbox: &str) -> NewDelivery {
    NewDelivery { activity_id: id.into(), sender_id: sender, inbox: inbox.into(), body: "{}".into() }
}

#[tokio::test]
async fn failures_are_retried_with_growing_delays() {
    for db in test_databases().await {
        let server = TestServer::start_with(&db, |c| {
            c.federation_test_mode = true;
            c.federation_retry_base_secs = 1;
            c.job_interval_secs = 3600;
        })
        .await;
        let user = server.create_user("bea", false).await;
        let store = &server.store;
        store
            .queue_delivery(
                &delivery(user.id, "http://x.test/activities/1", "http://nowhere.test:1/inbox"),
                server.clock.now_ms(),
            )
            .await
            .unwrap();
        let mut delays = Vec::new();
        for _ in 0..3 {
            // Not due a millisecond early; due on time.
            let (_, next, ..) = store.delivery_state("http://x.test/activities/1").await.unwrap().unwrap();
            server.clock.set(jiff::Timestamp::from_millisecond(next - 1).unwrap());
            assert_eq!(deliver_due(server.node.federation()).await.unwrap(), 0);
            let (_, still, ..) = store.delivery_state("http://x.test/activities/1").await.unwrap().unwrap();
            assert_eq!(still, next, "[{}] not tried before it is due", db.backend);
            server.advance(SignedDuration::from_millis(1));
            assert_eq!(deliver_due(server.node.federation()).await.unwrap(), 0);
            let (attempts, next, delivered, failed, error) =
                store.delivery_state("http://x.test/activities/1").await.unwrap().unwrap();
            assert_eq!((delivered, failed), (None, None), "[{}] still to deliver", db.backend);
            assert!(error.unwrap().contains("nowhere.test"));
            delays.push((attempts, next - server.clock.now_ms()));
        }
        assert_eq!(delays, [(1, 1000), (2, 2000), (3, 4000)], "[{}] 1, 2, 4 … seconds", db.backend);
    }
}

#[tokio::test]
async fn refused_inboxes_are_given_up_not_counted_as_delivered() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let user = server.create_user("bea", false).await;
        let store = &server.store;
        store
            .queue_delivery(
                &delivery(user.id, "http://x.test/activities/2", "http://127.0.0.1:1/inbox"),
                server.clock.now_ms(),
            )
            .await
            .unwrap();
        assert_eq!(deliver_due(server.node.federation()).await.unwrap(), 0);
        let (attempts, _, delivered, failed, error) =
            store.delivery_state("http://x.test/activities/2").await.unwrap().unwrap();
        assert_eq!(attempts, 1);
        assert!(delivered.is_none(), "[{}] not delivered", db.backend);
        assert!(failed.is_some(), "given up at once");
        assert!(error.unwrap().contains("not allowed"));
    }
}

/// An inbox that refuses what it gets (401, as for a signature it cannot
/// check), one that fails (503), and one that takes everything.
async fn answering_inboxes() -> u16 {
    use axum::routing::post;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new()
        .route("/refuse", post(|| async { (StatusCode::UNAUTHORIZED, "signature does not verify") }))
        .route("/fail", post(|| async { (StatusCode::SERVICE_UNAVAILABLE, "down for maintenance") }))
        .route("/take", post(|| async { StatusCode::ACCEPTED }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

#[tokio::test]
async fn an_inbox_that_refuses_is_not_asked_again_one_that_fails_is() {
    for db in test_databases().await {
        let port = answering_inboxes().await;
        let server = TestServer::start_with(&db, |c| {
            c.federation_test_mode = true;
            c.federation_test_hosts = vec![("them.test".into(), std::net::Ipv4Addr::LOCALHOST.into())];
            c.job_interval_secs = 3600;
        })
        .await;
        let user = server.create_user("bea", false).await;
        let store = &server.store;
        for path in ["refuse", "fail", "take"] {
            let inbox = format!("http://them.test:{port}/{path}");
            store
                .queue_delivery(
                    &delivery(user.id, &format!("http://x.test/activities/{path}"), &inbox),
                    server.clock.now_ms(),
                )
                .await
                .unwrap();
        }
        assert_eq!(deliver_due(server.node.federation()).await.unwrap(), 1, "[{}] only one is delivered", db.backend);
        let state = |path: &str| {
            let id = format!("http://x.test/activities/{path}");
            async move { store.delivery_state(&id).await.unwrap().unwrap() }
        };
        let (_, _, delivered, given_up, error) = state("refuse").await;
        assert_eq!((delivered, given_up.is_some()), (None, true), "refused: given up at once");
        assert!(error.as_deref().unwrap().contains("401 Unauthorized: signature does not verify"), "{error:?}");
        let (_, next, delivered, given_up, error) = state("fail").await;
        assert_eq!((delivered, given_up), (None, None), "failed: tried again later");
        assert!(next > server.clock.now_ms());
        assert!(error.as_deref().unwrap().contains("503 Service Unavailable: down for maintenance"), "{error:?}");
        assert!(state("take").await.2.is_some());
    }
}

#[tokio::test]
async fn a_failing_instance_is_marked_dead_waits_and_is_revived_and_the_admin_sees_it() {
    for db in test_databases().await {
        let server = TestServer::start_with(&db, |c| {
            c.federation_test_mode = true;
            c.federation_retry_base_secs = 1;
            c.federation_dead_after_secs = 1;
            c.job_interval_secs = 3600;
        })
        .await;
        let root = server.create_user("boss", true).await;
        let bea = server.create_user("bea", false).await;
        let store = &server.store;
        for n in 1..=2 {
            let id = format!("http://x.test/activities/d{n}");
            store
                .queue_delivery(&delivery(bea.id, &id, "http://nowhere.test:1/inbox"), server.clock.now_ms())
                .await
                .unwrap();
        }
        let admin = server.api_as(&root).await;
        let (status, instances) = admin.get("/api/v1/admin/federation").await;
        assert_eq!(status, StatusCode::OK, "{instances}");
        assert_eq!(instances[0]["domain"], "nowhere.test:1", "[{}] known before any attempt: {instances}", db.backend);
        assert_eq!((instances[0]["state"].as_str(), instances[0]["pending"].as_i64()), (Some("ok"), Some(2)));

        // Both fail: failing, still waiting, the error shown.
        assert_eq!(deliver_due(server.node.federation()).await.unwrap(), 0);
        let (_, instances) = admin.get("/api/v1/admin/federation").await;
        let nowhere = &instances[0];
        assert_eq!(nowhere["state"], "failing", "[{}] {instances}", db.backend);
        assert_eq!(nowhere["failures"], 2);
        assert_eq!(nowhere["pending"], 2);
        assert!(nowhere["last_error"].as_str().unwrap().contains("nowhere.test"), "{nowhere}");

        // Failing for longer than a second: the next failure (due a second
        // after the first) marks it dead.
        server.advance(SignedDuration::from_millis(1100));
        deliver_due(server.node.federation()).await.unwrap();
        let (_, instances) = admin.get("/api/v1/admin/federation").await;
        let nowhere = &instances[0];
        assert_eq!(nowhere["state"], "dead", "[{}] {instances}", db.backend);
        assert!(nowhere["dead_since"].is_string() && nowhere["next_probe_at"].is_string(), "{nowhere}");
        let attempts = |id: &'static str| async move { store.delivery_state(id).await.unwrap().unwrap().0 };
        let before = attempts("http://x.test/activities/d1").await;
        // Dead: nothing is tried within the hour before the next probe,
        // although the deliveries' own retries are long due.
        server.advance(SignedDuration::from_mins(59));
        deliver_due(server.node.federation()).await.unwrap();
        assert_eq!(attempts("http://x.test/activities/d1").await, before, "[{}] a dead instance waits", db.backend);

        // The admin page shows it; others may not see it.
        let mut browser = server.browser();
        browser.log_in("boss", PASSWORD).await;
        let page = browser.page("/admin/federation").await;
        assert!(page.contains("nowhere.test:1") && page.contains("state dead"), "{page}");
        let mut other = server.browser();
        other.log_in("bea", PASSWORD).await;
        assert_eq!(other.get("/admin/federation").await.status, StatusCode::FORBIDDEN);
        let (status, body) = server.api_as(&bea).await.get("/api/v1/admin/federation").await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("admin_only")));

        // It speaks (a verified activity from it): alive, and its deliveries are due at once.
        assert!(store.instance_spoke("nowhere.test:1", server.clock.now_ms()).await.unwrap());
        let (_, instances) = admin.get("/api/v1/admin/federation").await;
        assert_eq!(instances[0]["state"], "ok", "[{}] {instances}", db.backend);
        let (_, next, ..) = store.delivery_state("http://x.test/activities/d2").await.unwrap().unwrap();
        assert!(next <= server.clock.now_ms(), "due now");
        deliver_due(server.node.federation()).await.unwrap();
        assert!(attempts("http://x.test/activities/d2").await > before, "tried again at once");

        // Finished deliveries are purged after a while; waiting ones never are.
        store
            .queue_delivery(&delivery(bea.id, "http://x.test/activities/d3", "not a url"), server.clock.now_ms())
            .await
            .unwrap();
        deliver_due(server.node.federation()).await.unwrap();
        let (.., failed, _) = store.delivery_state("http://x.test/activities/d3").await.unwrap().unwrap();
        assert!(failed.is_some(), "a malformed inbox is given up");
        assert_eq!(store.purge_finished_deliveries(server.clock.now_ms() + 1).await.unwrap(), 1, "the given-up one");
        assert!(store.delivery_state("http://x.test/activities/d1").await.unwrap().is_some());
    }
}

#[tokio::test]
async fn an_event_goes_once_to_each_shared_inbox_whatever_the_number_of_followers_there() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let ada = server.create_advisor("ada").await;
        let store = &server.store;
        // Two followers on many.example share its inbox; one on solo.example has its own.
        let followers = [
            ("https://many.example/users/a", "https://many.example/inbox"),
            ("https://many.example/users/b", "https://many.example/inbox"),
            ("https://solo.example/users/c", "https://solo.example/users/c/inbox"),
        ];
        for (n, (actor, inbox)) in followers.iter().enumerate() {
            let accept = delivery(ada.id, &format!("http://x.test/accepts/{n}"), "https://acks.example/inbox");
            assert!(
                store
                    .add_follower(&format!("{actor}/follows/1"), ada.id, actor, inbox, &accept, server.clock.now_ms())
                    .await
                    .unwrap()
            );
        }
        let day = (server.now() + jiff::SignedDuration::from_hours(48)).to_zoned(jiff::tz::TimeZone::UTC).date();
        let block =
            serde_json::json!({"start": format!("{day}T10:00"), "end": format!("{day}T10:30"), "timezone": "UTC"});
        let (status, body) = server.api_as(&ada).await.post("/api/v1/blocks", block).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        officehours::federation::events::publish_due(&server.app).await.unwrap();
        assert_eq!(queued_for(&server, "many.example").await, 1, "[{}] one POST for the shared inbox", db.backend);
        assert_eq!(queued_for(&server, "solo.example").await, 1, "[{}]", db.backend);
    }
}

/// Everything queued for `domain` (waiting, delivered or given up).
async fn queued_for(server: &TestServer, domain: &str) -> i64 {
    let all = server.store.instances_overview().await.unwrap();
    all.iter().find(|i| i.domain == domain).map(|i| i.pending + i.delivered + i.given_up).unwrap_or(0)
}

/// The job loop wakes for every bit of new work, but runs the publisher (a
/// comparison over every advisor) at most once per interval; an explicit
/// pass runs everything.
#[tokio::test]
async fn wake_ups_do_not_rerun_the_publisher_within_its_interval() {
    for db in test_databases().await {
        let server = TestServer::start_with(&db, |c| {
            c.federation_test_mode = true;
            c.job_interval_secs = 3600;
        })
        .await;
        let ada = server.create_advisor("ada").await;
        let tomorrow = (server.now() + jiff::SignedDuration::from_hours(30)).to_zoned(jiff::tz::TimeZone::UTC).date();
        let (status, block) = server
            .api_as(&ada)
            .await
            .post(
                "/api/v1/blocks",
                serde_json::json!({"start": format!("{tomorrow}T10:00"), "end": format!("{tomorrow}T10:30"), "timezone": "UTC"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{block}");
        let published = || async {
            let response = reqwest::Client::new()
                .get(server.url("/users/ada/events"))
                .header("accept", "application/activity+json")
                .send()
                .await
                .unwrap();
            response.json::<serde_json::Value>().await.unwrap()["totalItems"].as_i64().unwrap()
        };
        // The loop wakes for new work (a queued mail wakes it) and runs its
        // other jobs, not the publisher again: each mail reaching the outbox
        // shows that a pass ran after the block was saved.
        for n in 1..=3 {
            let subject = format!("wake-up {n}");
            let mail =
                officehours::mail::Mail { to: "bob@example.org".into(), subject: subject.clone(), body: "-".into() };
            server.app.queue_mail(mail).await.unwrap();
            server.wait_for_mail("bob@example.org", &subject).await;
        }
        assert_eq!(published().await, 0, "[{}] published on a wake-up", db.backend);
        server.node.run_jobs_once().await;
        assert_eq!(published().await, 1, "[{}]", db.backend);
    }
}

/// The multi-instance suite moves a server's clock over HTTP
/// (`POST /_test/clock`): only a server in federation test mode on a manual
/// clock has the route, and it answers after one pass of the jobs.
#[tokio::test]
async fn the_test_clock_route_moves_time_and_runs_the_jobs_in_test_mode_only() {
    let db = support::TestDatabase::sqlite().await;
    let server = TestServer::start_with(&db, |c| {
        c.federation_test_mode = true;
        c.federation_retry_base_secs = 1;
        c.job_interval_secs = 3600;
    })
    .await;
    let user = server.create_user("bea", false).await;
    let store = &server.store;
    store
        .queue_delivery(
            &delivery(user.id, "http://x.test/activities/c1", "http://nowhere.test:1/inbox"),
            server.clock.now_ms(),
        )
        .await
        .unwrap();
    deliver_due(server.node.federation()).await.unwrap();
    let (attempts, next, ..) = store.delivery_state("http://x.test/activities/c1").await.unwrap().unwrap();
    assert_eq!((attempts, next - server.clock.now_ms()), (1, 1000), "retried in a second");

    let before = server.clock.now_ms();
    let client = reqwest::Client::new();
    let response =
        client.post(server.url("/_test/clock")).json(&serde_json::json!({"advance_ms": 1000})).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!((body["now_ms"].as_i64(), server.clock.now_ms()), (Some(before + 1000), before + 1000));
    let (attempts, ..) = store.delivery_state("http://x.test/activities/c1").await.unwrap().unwrap();
    assert_eq!(attempts, 2, "the pass of jobs ran before the answer");

    // Not in test mode (the in-process server's clock is manual all the
    // same): no such route; the POST is refused as any unknown form post
    // is (no CSRF token), and time stands still.
    let other = support::TestDatabase::sqlite().await;
    let plain = TestServer::start(&other).await;
    let before = plain.clock.now_ms();
    let response =
        client.post(plain.url("/_test/clock")).json(&serde_json::json!({"advance_ms": 1000})).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(plain.clock.now_ms(), before);
    assert_eq!(client.get(plain.url("/_test/clock")).send().await.unwrap().status(), StatusCode::NOT_FOUND);
}
