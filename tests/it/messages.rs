//! Messages (N2) on SQLite and PostgreSQL: threads between two people,
//! reachable from profiles, sessions and the activity feed; bad recipients
//! get clear errors; suspended people receive nothing; remote participants
//! fit the model.

use crate::support;

use officehours::domain::booking::RequestStatus;
use reqwest::StatusCode;
use serde_json::json;
use support::server::PASSWORD;
use support::{TestServer, test_databases};

#[tokio::test]
async fn two_people_write_to_each_other_and_unread_counts_follow() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let advisor = server.create_advisor("ada").await;
        let learner = server.create_user("bob", false).await;
        let ada = server.api_as(&advisor).await;
        let bob = server.api_as(&learner).await;

        let (status, sent) =
            ada.post("/api/v1/conversations/bob/messages", json!({"body": "Hi Bob, about Tuesday…"})).await;
        assert_eq!(status, StatusCode::CREATED, "[{}] {sent}", db.backend);
        assert_eq!(sent["from"], "ada");
        let (_, list) = bob.get("/api/v1/me/conversations").await;
        assert_eq!(list[0]["with"], "ada");
        assert_eq!(list[0]["unread"], 1);
        assert_eq!(list[0]["last_message"], "Hi Bob, about Tuesday…");
        let (_, feed) = bob.get("/api/v1/me/notifications").await;
        assert_eq!(feed["notifications"][0]["kind"], "message");
        assert_eq!(feed["notifications"][0]["conversation_id"], list[0]["id"]);
        assert_eq!(feed["unread"], 1);

        // Reading the thread reads the conversation and its notification.
        let (status, thread) = bob.get("/api/v1/conversations/ada").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(thread.as_array().unwrap().len(), 1);
        assert_eq!(bob.get("/api/v1/me/conversations").await.1[0]["unread"], 0);
        assert_eq!(bob.get("/api/v1/me/notifications").await.1["unread"], 0);

        // Bob answers from the web page, found from the activity feed and Ada's profile.
        let mut browser = server.browser();
        browser.log_in("bob", PASSWORD).await;
        assert!(browser.page("/notifications").await.contains("href=\"/messages/ada\""));
        assert!(browser.page("/users/ada").await.contains("href=\"/messages/ada\""));
        let reply = browser.post("/messages/ada", &[("body", "Tuesday works <b>fine</b>")]).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        let page = browser.page("/messages/ada").await;
        assert!(
            page.contains("Tuesday works &#60;b&#62;fine&#60;/b&#62;") || page.contains("Tuesday works &lt;b&gt;"),
            "escaped: {page}"
        );
        let (_, thread) = ada.get("/api/v1/conversations/bob").await;
        let bodies: Vec<&str> = thread.as_array().unwrap().iter().map(|m| m["body"].as_str().unwrap()).collect();
        assert_eq!(bodies, ["Hi Bob, about Tuesday…", "Tuesday works <b>fine</b>"]);
        assert_eq!(ada.get("/api/v1/me/conversations").await.1.as_array().unwrap().len(), 1, "one thread per pair");

        // From a session's page.
        let id = server
            .session_at(&advisor, &learner, "2027-05-03T09:00:00Z".parse().unwrap(), RequestStatus::Approved)
            .await;
        assert!(browser.page(&format!("/requests/{id}")).await.contains("href=\"/messages/ada\""));
    }
}

#[tokio::test]
async fn bad_recipients_and_bodies_get_clear_errors_and_change_nothing() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let admin = server.create_user("mod", true).await;
        let user = server.create_user("ida", false).await;
        let target = server.create_user("eve", false).await;
        let ida = server.api_as(&user).await;
        let eve = server.api_as(&target).await;

        let (status, body) = ida.post("/api/v1/conversations/ida/messages", json!({"body": "me"})).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("cannot_message_self")));
        let (status, _) = ida.post("/api/v1/conversations/nobody/messages", json!({"body": "hello"})).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, body) = ida.post("/api/v1/conversations/eve/messages", json!({"body": "   "})).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("required")));
        let (status, body) = ida.post("/api/v1/conversations/eve/messages", json!({"body": "x".repeat(5001)})).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("too_long")));
        let (status, _) = ida.post("/api/v1/conversations/eve/messages", json!({"text": "wrong field"})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(ida.get("/api/v1/me/conversations").await.1.as_array().unwrap().is_empty(), "nothing was created");

        // An admin suspends Eve: she cannot be written to, log in or use her token.
        let mut admin_browser = server.browser();
        admin_browser.log_in(&admin.username, PASSWORD).await;
        let reply = admin_browser.post("/users/eve/suspend", &[("suspend", "yes")]).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        let (status, body) = ida.post("/api/v1/conversations/eve/messages", json!({"body": "hello"})).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::CONFLICT, Some("recipient_suspended")));
        assert!(body["message"].as_str().unwrap().contains("suspended"));
        assert_eq!(eve.get("/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
        let mut eve_browser = server.browser();
        let reply = eve_browser.log_in("eve", PASSWORD).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
        // Not an admin: no suspending.
        let mut ida_browser = server.browser();
        ida_browser.log_in("ida", PASSWORD).await;
        assert_eq!(ida_browser.post("/users/mod/suspend", &[("suspend", "yes")]).await.status, StatusCode::FORBIDDEN);
        // Lifted: messages flow again.
        admin_browser.post("/users/eve/suspend", &[("suspend", "no")]).await;
        let (status, _) = ida.post("/api/v1/conversations/eve/messages", json!({"body": "welcome back"})).await;
        assert_eq!(status, StatusCode::CREATED);
    }
}

#[tokio::test]
async fn a_remote_participant_fits_the_conversation_model() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let user = server.create_user("bob", false).await;
        let actor = "https://remote.example/users/zed";
        // What the federation layer will write for a direct message from a remote actor.
        for sql in [
            format!(
                "INSERT INTO conversations (pair_key, created_at, last_message_at) VALUES ('u:{}|a:{actor}', 1, 2)",
                user.id
            ),
            format!(
                "INSERT INTO conversation_participants (conversation_id, user_id, last_read_at) \
                 SELECT id, {}, 0 FROM conversations WHERE pair_key LIKE '%{actor}'",
                user.id
            ),
            format!(
                "INSERT INTO conversation_participants (conversation_id, remote_actor) \
                 SELECT id, '{actor}' FROM conversations WHERE pair_key LIKE '%{actor}'"
            ),
            format!(
                "INSERT INTO messages (conversation_id, sender_actor, body, ap_id, created_at) \
                 SELECT id, '{actor}', 'Hello from afar', '{actor}/notes/1', 2 FROM conversations WHERE pair_key LIKE '%{actor}'"
            ),
        ] {
            server.store.execute_raw(&sql).await.unwrap();
        }
        // A participant must be exactly one of a local user and a remote actor.
        let both = format!(
            "INSERT INTO conversation_participants (conversation_id, user_id, remote_actor) SELECT id, {}, 'x' FROM conversations",
            user.id
        );
        assert!(server.store.execute_raw(&both).await.is_err());
        let api = server.api_as(&user).await;
        let (_, list) = api.get("/api/v1/me/conversations").await;
        assert_eq!(list[0]["with"], actor, "[{}] {list}", db.backend);
        assert_eq!(list[0]["unread"], 1);
        assert_eq!(list[0]["last_message"], "Hello from afar");
    }
}
