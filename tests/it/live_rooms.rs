//! The room's signalling over a real WebSocket, on SQLite and PostgreSQL,
//! on the server's manual clock: both people join with join tokens and see
//! each other; chat reaches the other side as sent (pages escape it) and a
//! flood is slowed down without harming the room; a second tab replaces the
//! first; a forged token is refused; warnings come at one minute and ten
//! seconds; only a Pro advisor extends, once, in the last minute; at the
//! deadline everyone is told time is up and nobody gets back in.

use crate::support;

use futures_util::{SinkExt, StreamExt};
use jiff::SignedDuration;
use officehours::domain::booking::RequestStatus;
use officehours::service::rooms::RoomVisitor;
use serde_json::{Value, json};
use support::test_databases;
use tokio_tungstenite::tungstenite::Message;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(server: &support::TestServer, id: i64) -> Socket {
    let url = server.url(&format!("/rooms/{id}/live")).replacen("http://", "ws://", 1);
    tokio_tungstenite::connect_async(url).await.expect("the signalling socket").0
}

async fn say(socket: &mut Socket, message: Value) {
    socket.send(Message::Text(message.to_string().into())).await.unwrap();
}

/// The next message of `kind`, skipping others (10 s at most: a missing
/// message fails the test rather than hanging it).
async fn next(socket: &mut Socket, kind: &str) -> Value {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let message = tokio::time::timeout_at(deadline, socket.next())
            .await
            .unwrap_or_else(|_| panic!("no {kind} message came"))
            .unwrap_or_else(|| panic!("the socket closed before a {kind} message"))
            .unwrap();
        if let Message::Text(text) = message {
            let value: Value = serde_json::from_str(text.as_str()).unwrap();
            if value["type"] == kind {
                return value;
            }
        }
    }
}

/// Joins with a fresh join token for `user`.
async fn join(server: &support::TestServer, id: i64, user: &officehours::storage::User) -> (Socket, Value) {
    let live = server.node.rooms.live_deadline(id);
    let token = server.app.join_token(id, RoomVisitor::Person(user), live).await.unwrap();
    let mut socket = connect(server, id).await;
    say(&mut socket, json!({"type": "join", "token": token})).await;
    let joined = next(&mut socket, "joined").await;
    (socket, joined)
}

#[tokio::test]
async fn two_people_meet_chat_get_warned_extend_and_are_stopped_on_time() {
    for db in test_databases().await {
        let server = support::TestServer::start(&db).await;
        let ada = server.create_advisor("ada").await;
        let lea = server.create_user("lea", false).await;
        server.store.set_roles(ada.id, true, false, server.clock.now_ms()).await.unwrap();
        let start = server.now() + SignedDuration::from_mins(3);
        let id = server.session_at(&ada, &lea, start, RequestStatus::Approved).await;
        let end = start + SignedDuration::from_mins(10);

        // A forged token: refused, and nothing else happens.
        let mut stranger = connect(&server, id).await;
        say(&mut stranger, json!({"type": "join", "token": format!("{}.1.x", lea.id)})).await;
        let refused = next(&mut stranger, "error").await;
        assert_eq!(refused["code"], "join_token_invalid", "[{}] {refused}", db.backend);
        assert_eq!(next(&mut stranger, "bye").await["reason"], "refused");

        // The page's door: a join token for the holder of a room link, and
        // a clear refusal for anyone else.
        let http = reqwest::Client::new();
        let link_token = server.app.room_token(id, lea.id);
        let door = |token: String| http.get(server.url(&format!("/rooms/{id}/join-token?token={token}"))).send();
        let opened = door(link_token).await.unwrap();
        assert_eq!(opened.status(), reqwest::StatusCode::OK);
        let opened: Value = opened.json().await.unwrap();
        assert_eq!(opened["socket"], format!("/rooms/{id}/live"));
        assert!(opened["token"].as_str().unwrap().starts_with(&format!("{}.", lea.id)), "{opened}");
        let shut = door("AAAA".into()).await.unwrap();
        assert_eq!(shut.status(), reqwest::StatusCode::FORBIDDEN);
        let shut: Value = shut.json().await.unwrap();
        assert_eq!(shut["error"], "not_participant", "{shut}");

        // Lea comes in early, then Ada: they see each other.
        let (mut learner, joined) = join(&server, id, &lea).await;
        assert_eq!(joined["role"], "learner", "{joined}");
        assert_eq!(joined["other_here"], false);
        assert_eq!(joined["deadline"], end.to_string(), "early minutes do not move the end");
        let (mut advisor, joined) = join(&server, id, &ada).await;
        assert_eq!((joined["role"].as_str(), joined["other_here"].as_bool()), (Some("advisor"), Some(true)));
        let presence = next(&mut learner, "presence").await;
        assert_eq!((presence["role"].as_str(), presence["here"].as_bool()), (Some("advisor"), Some(true)));

        // Chat, as sent; garbage gets an error and the room carries on.
        say(&mut learner, json!({"type": "chat", "text": "<b>Hi</b> https://example.org/x?a=1&b=2"})).await;
        let line = next(&mut advisor, "chat").await;
        assert_eq!(line["text"], "<b>Hi</b> https://example.org/x?a=1&b=2");
        assert_eq!(line["role"], "learner");
        say(&mut learner, json!({"type": "shout"})).await;
        assert_eq!(next(&mut learner, "error").await["code"], "bad_message");
        // A flood is slowed down (the clock stands still: one window).
        for n in 0..8 {
            say(&mut advisor, json!({"type": "chat", "text": format!("line {n}")})).await;
        }
        assert_eq!(next(&mut advisor, "error").await["code"], "chat_too_fast", "[{}]", db.backend);
        for n in 0..5 {
            assert_eq!(next(&mut learner, "chat").await["text"], format!("line {n}"));
        }

        // A second tab of Lea's replaces the first.
        let (mut second, _) = join(&server, id, &lea).await;
        assert_eq!(next(&mut learner, "bye").await["reason"], "replaced", "[{}]", db.backend);

        // One minute before the end: the warning; a learner cannot extend.
        server.clock.set(end - SignedDuration::from_mins(1));
        assert_eq!(next(&mut second, "warning").await["seconds"], 60, "[{}]", db.backend);
        assert_eq!(next(&mut advisor, "warning").await["seconds"], 60);
        say(&mut second, json!({"type": "extend"})).await;
        assert_eq!(next(&mut second, "error").await["code"], "not_advisor");
        // The Pro advisor extends by 4 minutes, once; both hear it.
        say(&mut advisor, json!({"type": "extend"})).await;
        let new_end = end + SignedDuration::from_mins(4);
        assert_eq!(next(&mut second, "deadline").await["deadline"], new_end.to_string(), "[{}]", db.backend);
        assert_eq!(next(&mut advisor, "deadline").await["deadline"], new_end.to_string());
        say(&mut advisor, json!({"type": "extend"})).await;
        assert_eq!(next(&mut advisor, "error").await["code"], "already_extended");

        // Past the scheduled end, inside the extension, one can come back.
        server.clock.set(end + SignedDuration::from_mins(1));
        let (mut third, joined) = join(&server, id, &lea).await;
        assert_eq!(joined["deadline"], new_end.to_string());
        // Ten seconds, then time is up for everyone.
        server.clock.set(new_end - SignedDuration::from_secs(10));
        assert_eq!(next(&mut third, "warning").await["seconds"], 10);
        server.clock.set(new_end);
        assert_eq!(next(&mut third, "bye").await["reason"], "time", "[{}]", db.backend);
        assert_eq!(next(&mut advisor, "bye").await["reason"], "time");
        // Nobody gets back in.
        let late = server.app.join_token(id, RoomVisitor::Person(&lea), None).await;
        assert_eq!(late.unwrap_err().code(), "over");
    }
}

#[tokio::test]
async fn who_never_came_into_the_room_is_recorded_as_a_no_show_by_the_server() {
    for db in test_databases().await {
        let server = support::TestServer::start_with(&db, |c| {
            c.room_no_show_minutes = 5;
            c.turn_urls = vec!["turn:turn.example.test:3478?transport=udp".into()];
            c.turn_secret = Some("coturn-secret".into());
        })
        .await;
        let ada = server.create_advisor("ada").await;
        let lea = server.create_user("lea", false).await;
        let bob = server.create_user("bob", false).await;
        let cy = server.create_user("cy", false).await;
        let start = server.now() + SignedDuration::from_mins(2);
        // Lea comes, Ada does not; Bob and Ada both come (Ada only for Bob);
        // nobody comes to Cy's.
        let alone = server.session_at(&ada, &lea, start, RequestStatus::Approved).await;
        let both = server.session_at(&ada, &bob, start + SignedDuration::from_mins(10), RequestStatus::Approved).await;
        let nobody = server.session_at(&ada, &cy, start + SignedDuration::from_mins(20), RequestStatus::Approved).await;
        let (mut learner, joined) = join(&server, alone, &lea).await;
        // TURN credentials in coturn's scheme, expiring 10 minutes after the end.
        let ice = &joined["ice_servers"][0];
        assert_eq!(ice["urls"], json!(["turn:turn.example.test:3478?transport=udp"]), "{joined}");
        let expires = (start + SignedDuration::from_mins(20)).as_second();
        assert_eq!(ice["username"], format!("{expires}:{alone}-{}", lea.id), "{joined}");
        assert_eq!(ice["credential"].as_str().map(str::len), Some(28), "base64 of a SHA-1 HMAC: {joined}");
        say(&mut learner, json!({"type": "leave"})).await;
        server.clock.set(start + SignedDuration::from_mins(9));
        let (_bob_socket, _) = join(&server, both, &bob).await;
        let (_ada_socket, joined) = join(&server, both, &ada).await;
        assert_eq!(joined["other_here"], true);

        // Five minutes after each start the server checks, once (the job
        // loop may get there first: what counts is what is recorded).
        server.clock.set(start + SignedDuration::from_mins(30));
        server.app.check_room_attendance().await.unwrap();
        assert_eq!(server.app.check_room_attendance().await.unwrap(), 0, "checked once [{}]", db.backend);
        let no_shows = |events: Vec<(officehours::domain::booking::EventKind, Option<i64>, String, i64)>| {
            events
                .into_iter()
                .filter(|(kind, ..)| *kind == officehours::domain::booking::EventKind::NoShow)
                .collect::<Vec<_>>()
        };
        let recorded = no_shows(server.store.request_events(alone).await.unwrap());
        assert_eq!(recorded.len(), 1, "[{}] {recorded:?}", db.backend);
        assert_eq!(recorded[0].1, Some(lea.id), "recorded in the name of the one who came (she can forgive it)");
        assert!(recorded[0].2.contains("recorded by the server"), "{recorded:?}");
        assert!(no_shows(server.store.request_events(both).await.unwrap()).is_empty());
        assert!(no_shows(server.store.request_events(nobody).await.unwrap()).is_empty());

        // Both pages say who was there.
        let mut page = support::client::Browser::new(&server.url(""));
        page.log_in("lea", support::server::PASSWORD).await;
        let html = page.page(&format!("/requests/{alone}")).await;
        assert!(html.contains("Who was there") && html.contains("@lea: in the room"), "[{}] {html}", db.backend);
        assert!(!html.contains("@ada: in the room"), "{html}");
    }
}
