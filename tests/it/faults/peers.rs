//! Remote peers that misbehave: one accepts connections and never answers,
//! one answers everything with 5 MB of garbage, next to a healthy inbox.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use officehours::federation::delivery::deliver_due;
use officehours::storage::NewDelivery;
use serde_json::json;

use crate::support::peer::start_peer;
use crate::support::{TestServer, test_databases};

/// The federation timeout in these tests (`federation_timeout_secs`).
const TIMEOUT: Duration = Duration::from_secs(2);
const FIVE_MB: usize = 5 * 1024 * 1024;

/// A peer that accepts every connection and then says nothing, ever.
async fn silent_peer() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    port
}

/// A peer that answers every request with 5 MB of bytes that are not JSON
/// (500 to a POST, 200 `application/activity+json` to a GET).
async fn garbage_peer() -> u16 {
    let garbage: Arc<Vec<u8>> = Arc::new((0..FIVE_MB).map(|i| (i * 7919 % 251) as u8).collect());
    let app = Router::new().fallback(move |method: axum::http::Method| {
        let garbage = garbage.clone();
        async move {
            let status =
                if method == axum::http::Method::POST { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::OK };
            (status, [("content-type", "application/activity+json")], garbage.to_vec()).into_response()
        }
    });
    serve(app).await
}

/// A healthy inbox that records what it receives.
async fn healthy_inbox(received: Arc<Mutex<Vec<String>>>) -> u16 {
    let app = Router::new().route(
        "/inbox",
        axum::routing::post(move |body: String| {
            let received = received.clone();
            async move {
                received.lock().unwrap().push(body);
                StatusCode::ACCEPTED
            }
        }),
    );
    serve(app).await
}

async fn serve(app: Router) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

fn delivery(sender: i64, id: &str, inbox: String) -> NewDelivery {
    NewDelivery {
        activity_id: id.into(),
        sender_id: sender,
        inbox,
        body: json!({"id": id, "type": "Create"}).to_string(),
    }
}

/// Deliveries to a silent inbox, a garbage inbox and a healthy one, sent
/// in one pass of the queue: the healthy inbox receives its three
/// activities while the silent one still holds its place (one of 32), the
/// pass ends when the silent one times out (`federation_timeout_secs`, 2 s
/// here) and not much later, the silent and garbage deliveries are kept
/// for a retry with a short reason (the garbage answer is not stored),
/// and the healthy ones are recorded delivered. Then fetches: an activity
/// signed with a key on the garbage host (its actor document is 5 MB) and
/// one on the silent host are refused in bounded time, and so is looking
/// up a handle on either (WebFinger).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_peer_and_a_garbage_peer_hold_no_delivery_up_and_their_answers_are_bounded() {
    let silent = silent_peer().await;
    let garbage = garbage_peer().await;
    let received: Arc<Mutex<Vec<String>>> = Arc::default();
    let healthy = healthy_inbox(received.clone()).await;
    let peer = start_peer().await;
    let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
    for db in test_databases().await {
        let tag = db.backend;
        received.lock().unwrap().clear();
        let server = TestServer::start_with(&db, |c| {
            c.federation_test_mode = true;
            c.federation_timeout_secs = TIMEOUT.as_secs();
            c.federation_retry_base_secs = 60;
            c.job_interval_secs = 3600;
            c.federation_test_hosts = ["silent.test", "garbage.test", "healthy.test", "peer.test"]
                .into_iter()
                .map(|host| (host.to_string(), loopback))
                .collect();
        })
        .await;
        let ada = server.create_advisor("ada").await;
        let now = server.clock.now_ms();
        let id = |n: &str| format!("{}/activities/{n}", server.base);
        let mut queued = vec![
            delivery(ada.id, &id("silent"), format!("http://silent.test:{silent}/inbox")),
            delivery(ada.id, &id("garbage"), format!("http://garbage.test:{garbage}/inbox")),
        ];
        for n in 0..3 {
            queued.push(delivery(ada.id, &id(&format!("healthy-{n}")), format!("http://healthy.test:{healthy}/inbox")));
        }
        for row in &queued {
            server.store.queue_delivery(row, now).await.unwrap();
        }

        let started = Instant::now();
        let federation = server.node.federation().clone();
        let pass = tokio::spawn(async move { deliver_due(&federation).await });
        while received.lock().unwrap().len() < 3 {
            if started.elapsed() >= TIMEOUT {
                let mut states = Vec::new();
                for row in &queued {
                    states.push(server.store.delivery_state(&row.activity_id).await.unwrap());
                }
                panic!(
                    "[{tag}] the healthy inbox waited on the silent one: {} received, pass finished: {}, {states:?}",
                    received.lock().unwrap().len(),
                    pass.is_finished()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let healthy_in = started.elapsed();
        assert!(!pass.is_finished(), "[{tag}] the silent inbox is still being waited for meanwhile");
        let delivered = pass.await.unwrap().expect("the pass of deliveries");
        let pass_took = started.elapsed();
        assert_eq!(delivered, 3, "[{tag}] the three healthy deliveries");
        assert!(
            // The upper bound is loose: a loaded machine (CI's other tests)
            // may be slow to schedule the pass once its timeout fires.
            pass_took >= TIMEOUT && pass_took < TIMEOUT + Duration::from_secs(10),
            "[{tag}] the pass took {pass_took:?}"
        );
        let mut bodies = received.lock().unwrap().clone();
        bodies.sort();
        let mut sent: Vec<String> = queued[2..].iter().map(|d| d.body.clone()).collect();
        sent.sort();
        assert_eq!(bodies, sent, "[{tag}] each healthy activity once, as queued");

        let state = |name: &str| {
            let (store, id) = (server.store.clone(), id(name));
            async move { store.delivery_state(&id).await.unwrap().unwrap() }
        };
        let (attempts, _, done, failed, error) = state("silent").await;
        let error = error.unwrap_or_default();
        assert_eq!((attempts, done, failed), (1, None, None), "[{tag}] the silent inbox is retried later: {error}");
        assert!(error.contains("did not answer within 2 seconds"), "[{tag}] {error}");
        let (attempts, _, done, failed, error) = state("garbage").await;
        let error = error.unwrap_or_default();
        assert_eq!((attempts, done, failed), (1, None, None), "[{tag}] a 500 is retried later: {error}");
        assert!(error.contains("answered 500") && error.len() < 600, "[{tag}] a short reason: {error}");
        for n in 0..3 {
            assert!(state(&format!("healthy-{n}")).await.2.is_some(), "[{tag}] recorded delivered");
        }

        // Fetches, all at once: an activity whose key lives on the garbage
        // host (its actor document is 5 MB) or on the silent one, and a
        // handle on either looked up. Each is refused within the timeout
        // and a margin, with a short sentence.
        let inbox = server.url("/inbox");
        let api = server.api_as(&ada).await;
        let by_inbox = async |host: &str, port: u16| {
            let actor = format!("http://{host}:{port}/actor");
            let follow = json!({
                "@context": "https://www.w3.org/ns/activitystreams", "id": format!("{actor}/follows/1"),
                "type": "Follow", "actor": actor, "object": server.url("/users/ada"),
            })
            .to_string();
            let headers = peer.sign_as(&actor, &inbox, &follow, "application/activity+json");
            let asked = Instant::now();
            let (status, _) = peer.post(&inbox, &follow, headers).await;
            (status.as_u16(), String::new(), asked.elapsed())
        };
        let by_handle = async |host: &str, port: u16| {
            let asked = Instant::now();
            let (status, body) = api.post("/api/v1/follows", json!({"handle": format!("someone@{host}:{port}")})).await;
            (status.as_u16(), body["message"].as_str().unwrap_or_default().to_string(), asked.elapsed())
        };
        let (garbage_actor, silent_actor, garbage_handle, silent_handle) = tokio::join!(
            by_inbox("garbage.test", garbage),
            by_inbox("silent.test", silent),
            by_handle("garbage.test", garbage),
            by_handle("silent.test", silent),
        );
        for (what, (status, message, took)) in [
            ("an actor on the garbage host", &garbage_actor),
            ("an actor on the silent host", &silent_actor),
            ("a handle on the garbage host", &garbage_handle),
            ("a handle on the silent host", &silent_handle),
        ] {
            assert!(*took < TIMEOUT + Duration::from_secs(2), "[{tag}] {what}: waited {took:?}");
            assert!(message.len() < 300, "[{tag}] {what}: {message}");
            eprintln!("[{tag}] {what}: {status} after {took:?} {message}");
        }
        assert_eq!(garbage_actor.0, 422, "[{tag}] an actor document of 5 MB is refused, unread");
        assert_eq!(silent_actor.0, 502, "[{tag}] the silent host's actor: the remote server failed");
        assert_eq!(garbage_handle.0, 422, "[{tag}] {}", garbage_handle.1);
        assert!(garbage_handle.1.contains("more than a megabyte"), "[{tag}] {}", garbage_handle.1);
        assert_eq!(silent_handle.0, 502, "[{tag}] {}", silent_handle.1);
        eprintln!("[{tag}] healthy inbox served after {healthy_in:?}; the pass ended after {pass_took:?}");
    }
}
