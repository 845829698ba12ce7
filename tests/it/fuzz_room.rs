//! Fuzzing the room's signalling messages (`live::protocol`, read by
//! `live::socket`): generated JSON checked against a model of the protocol
//! (a message is one of five shapes, with exactly its fields), and random
//! frames sent over a real WebSocket into a joined room on both databases:
//! each frame that is not a message gets a `bad_message` error, nothing
//! closes the connection, and the person is still in the room afterwards.
//! See `support::fuzz` for smoke and session runs.

use futures_util::{SinkExt, StreamExt};
use jiff::SignedDuration;
use officehours::domain::booking::RequestStatus;
use officehours::live::protocol::ClientMessage;
use officehours::service::rooms::RoomVisitor;
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{self, fuzz, test_databases};

const TYPES: &[&str] = &["join", "chat", "extend", "offer", "leave", "Join", "shout", ""];
const FIELDS: &[&str] = &["type", "token", "text", "sdp", "extra", "Type"];

fn field_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => ".{0,30}".prop_map(Value::String),
        1 => Just(Value::Null),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => Just(json!(["a"])),
        1 => Just(json!({"a": 1})),
        1 => Just(Value::String("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n".into())),
    ]
}

/// A message-like JSON value: mostly an object with a `type` and some of
/// the protocol's fields, sometimes something else entirely.
fn message() -> impl Strategy<Value = Value> {
    let object = (
        prop::option::of(
            prop_oneof![4 => prop::sample::select(TYPES).prop_map(|t| Value::String(t.into())), 1 => field_value()],
        ),
        prop::collection::vec((prop::sample::select(FIELDS), field_value()), 0..3),
    )
        .prop_map(|(kind, fields)| {
            let mut map = Map::new();
            for (name, value) in fields {
                map.insert(name.to_string(), value);
            }
            if let Some(kind) = kind {
                map.insert("type".into(), kind);
            }
            Value::Object(map)
        });
    prop_oneof![
        8 => object,
        1 => field_value(),
        1 => prop::collection::vec(field_value(), 0..3).prop_map(Value::Array),
    ]
}

/// What the protocol reads a value as: `None` for anything but its five
/// messages, each with exactly its fields, all strings.
fn model(value: &Value) -> Option<ClientMessage> {
    let map = value.as_object()?;
    let kind = map.get("type")?.as_str()?;
    let field = |name: &str| -> Option<String> {
        let only = map.len() == 2 && map.contains_key(name);
        only.then(|| map.get(name)?.as_str().map(str::to_string)).flatten()
    };
    match kind {
        "join" => Some(ClientMessage::Join { token: field("token")? }),
        "chat" => Some(ClientMessage::Chat { text: field("text")? }),
        "offer" => Some(ClientMessage::Offer { sdp: field("sdp")? }),
        "extend" if map.len() == 1 => Some(ClientMessage::Extend {}),
        "leave" if map.len() == 1 => Some(ClientMessage::Leave {}),
        _ => None,
    }
}

fn parse(text: &str) -> Option<ClientMessage> {
    ClientMessage::read(text)
}

#[test]
fn messages_are_read_exactly_as_the_protocol_says() {
    fuzz::run("room_messages", 1000, message(), |value| {
        let text = value.to_string();
        prop_assert_eq!(parse(&text), model(&value), "{}", text);
        Ok(())
    });
}

#[test]
fn arbitrary_text_is_read_or_refused() {
    let text = prop_oneof![
        ".{0,80}",
        prop::collection::vec(
            prop::sample::select(vec![
                "{",
                "}",
                "\"type\"",
                ":",
                "\"join\"",
                ",",
                "\"token\"",
                "\"x\"",
                "[",
                "]",
                "null",
                "1e999",
                "\\u0000",
                " "
            ]),
            0..20
        )
        .prop_map(|p| p.concat()),
    ];
    fuzz::run("room_text", 1000, text, |text| {
        // Whatever reads is one of the model's messages.
        if let Some(message) = parse(&text) {
            let value: Value = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(Some(message), model(&value), "{}", text);
        }
        Ok(())
    });
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A frame a client may send.
#[derive(Debug, Clone)]
enum Frame {
    Json(Value),
    Text(String),
    Binary(Vec<u8>),
}

fn frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        6 => message().prop_map(Frame::Json),
        2 => ".{0,200}".prop_map(Frame::Text),
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(Frame::Binary),
    ]
}

/// The next text message, within 10 s (a missing answer fails the case
/// rather than hanging it).
async fn receive(socket: &mut Socket) -> Result<Value, String> {
    loop {
        let next = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next()).await;
        match next {
            Err(_) => return Err("no answer within 10 s".into()),
            Ok(None) => return Err("the server closed the connection".into()),
            Ok(Some(Err(e))) => return Err(format!("the connection failed: {e}")),
            Ok(Some(Ok(Message::Text(text)))) => return Ok(serde_json::from_str(text.as_str()).unwrap()),
            Ok(Some(Ok(Message::Close(_)))) => return Err("the server closed the connection".into()),
            Ok(Some(Ok(_))) => continue,
        }
    }
}

#[test]
fn random_frames_in_a_live_room_are_answered_and_harm_nothing() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    for db in runtime.block_on(test_databases()) {
        let (server, socket) = runtime.block_on(async {
            let server = support::TestServer::start(&db).await;
            let ada = server.create_advisor("ada").await;
            let lea = server.create_user("lea", false).await;
            let start = server.now() + SignedDuration::from_mins(1);
            let id = server.session_at(&ada, &lea, start, RequestStatus::Approved).await;
            let live = server.node.rooms.live_deadline(id);
            let token = server.app.join_token(id, RoomVisitor::Person(&lea), live).await.unwrap();
            let url = server.url(&format!("/rooms/{id}/live")).replacen("http://", "ws://", 1);
            let mut socket = tokio_tungstenite::connect_async(url).await.expect("the signalling socket").0;
            let join = json!({"type": "join", "token": token}).to_string();
            socket.send(Message::Text(join.into())).await.unwrap();
            loop {
                if receive(&mut socket).await.unwrap()["type"] == "joined" {
                    break;
                }
            }
            (server, socket)
        });
        let socket = tokio::sync::Mutex::new(socket);
        let name: &'static str = if db.backend == "sqlite" { "room_socket_sqlite" } else { "room_socket_postgres" };
        fuzz::run(name, 30, prop::collection::vec(frame(), 1..8), |frames| {
            runtime.block_on(async {
                let mut socket = socket.lock().await;
                let (mut bad, mut joins) = (0, 0);
                for frame in &frames {
                    let message = match frame {
                        Frame::Json(value) => {
                            match model(value) {
                                // Leaving ends the connection: not this test's.
                                Some(ClientMessage::Leave {}) => continue,
                                Some(ClientMessage::Join { .. }) => joins += 1,
                                Some(_) => {}
                                None => bad += 1,
                            }
                            Message::Text(value.to_string().into())
                        }
                        Frame::Text(text) => {
                            match parse(text) {
                                Some(ClientMessage::Leave {}) => continue,
                                Some(ClientMessage::Join { .. }) => joins += 1,
                                Some(_) => {}
                                None => bad += 1,
                            }
                            Message::Text(text.clone().into())
                        }
                        Frame::Binary(bytes) => {
                            bad += 1;
                            Message::Binary(bytes.clone().into())
                        }
                    };
                    socket.send(message).await.map_err(|e| TestCaseError::fail(format!("send: {e}")))?;
                }
                // The marker: one more `join`, answered in order after
                // everything above; the connection is alive and read all.
                let marker = json!({"type": "join", "token": "again"}).to_string();
                socket.send(Message::Text(marker.into())).await.map_err(|e| TestCaseError::fail(format!("{e}")))?;
                let (mut seen_bad, mut seen_joins) = (0, 0);
                while seen_joins < joins + 1 {
                    let answer = receive(&mut socket).await.map_err(TestCaseError::fail)?;
                    match (answer["type"].as_str(), answer["code"].as_str()) {
                        (Some("error"), Some("bad_message")) => seen_bad += 1,
                        (Some("error"), Some("already_joined")) => seen_joins += 1,
                        (Some("bye"), _) => return Err(TestCaseError::fail(format!("the room said bye: {answer}"))),
                        _ => {}
                    }
                }
                prop_assert_eq!(seen_bad, bad, "bad_message answers");
                Ok(())
            })
        });
        drop(server);
    }
}

use proptest::test_runner::TestCaseError;
