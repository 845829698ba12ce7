//! The durable delivery queue on SQLite and PostgreSQL: failures are retried
//! with growing delays (shortened here), and inboxes the server refuses to
//! send to (loopback, private or malformed, outside test mode) are given up
//! at once rather than counted as delivered.

mod support;

use officehours::federation::delivery::deliver_due;
use officehours::storage::{NewDelivery, now_ms};
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
        let store = &server.app.store;
        store
            .queue_delivery(&delivery(user.id, "http://x.test/activities/1", "http://nowhere.test:1/inbox"))
            .await
            .unwrap();
        let mut delays = Vec::new();
        for _ in 0..3 {
            // Wait until it is due, then try.
            loop {
                let (_, next, ..) = store.delivery_state("http://x.test/activities/1").await.unwrap().unwrap();
                if next <= now_ms() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            assert_eq!(deliver_due(&server.app).await.unwrap(), 0);
            let (attempts, next, delivered, failed, error) =
                store.delivery_state("http://x.test/activities/1").await.unwrap().unwrap();
            assert_eq!((delivered, failed), (None, None), "[{}] still to deliver", db.backend);
            assert!(error.unwrap().contains("nowhere.test"));
            delays.push((attempts, (next - now_ms() + 500) / 1000));
        }
        assert_eq!(delays, [(1, 1), (2, 2), (3, 4)], "[{}] 1, 2, 4 … seconds", db.backend);
    }
}

#[tokio::test]
async fn refused_inboxes_are_given_up_not_counted_as_delivered() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let user = server.create_user("bea", false).await;
        let store = &server.app.store;
        store
            .queue_delivery(&delivery(user.id, "http://x.test/activities/2", "http://127.0.0.1:1/inbox"))
            .await
            .unwrap();
        assert_eq!(deliver_due(&server.app).await.unwrap(), 0);
        let (attempts, _, delivered, failed, error) =
            store.delivery_state("http://x.test/activities/2").await.unwrap().unwrap();
        assert_eq!(attempts, 1);
        assert!(delivered.is_none(), "[{}] not delivered", db.backend);
        assert!(failed.is_some(), "given up at once");
        assert!(error.unwrap().contains("not allowed"));
    }
}
