//! The room's doors over HTTP: `GET /rooms/{id}/join-token` (a short-lived
//! join token for the person the log-in or room link says this is) and
//! `GET /rooms/{id}/live`, the signalling WebSocket. A connection must
//! `join` with a token first; after that it relays messages to its room's
//! task and the room's messages back. A bad message gets an error and the
//! room carries on; a connection that never joins is closed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Extension, Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::service::App;
use crate::service::rooms::RoomVisitor;
use crate::web::session::Visitor;

use super::protocol::{ClientMessage, MAX_MESSAGE, ServerMessage};
use super::room::{Command, Rooms};

/// How long a new connection has to say `join`.
const JOIN_WITHIN: Duration = Duration::from_secs(10);

static CONNECTIONS: AtomicU64 = AtomicU64::new(1);

#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

/// `GET /rooms/{id}/join-token[?token=room-link-token]`.
pub async fn join_token(
    State(app): State<App>,
    Extension(rooms): Extension<Arc<Rooms>>,
    v: Visitor,
    Path(id): Path<i64>,
    Query(query): Query<TokenQuery>,
) -> Response {
    let visitor = match (&v.user, query.token.is_empty()) {
        (_, false) => RoomVisitor::Link(&query.token),
        (Some(user), true) => RoomVisitor::Person(user),
        (None, true) => RoomVisitor::Nobody,
    };
    match app.join_token(id, visitor, rooms.live_deadline(id)).await {
        Ok(token) => Json(serde_json::json!({ "token": token, "socket": format!("/rooms/{id}/live") })).into_response(),
        Err(err) => crate::api::ApiError::from(err).into_response(),
    }
}

/// `GET /rooms/{id}/live`: the signalling WebSocket.
pub async fn live(
    State(app): State<App>,
    Extension(rooms): Extension<Arc<Rooms>>,
    Path(id): Path<i64>,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade.max_message_size(MAX_MESSAGE).on_upgrade(move |socket| connection(app, rooms, id, socket)).into_response()
}

async fn send(socket: &mut WebSocket, message: &ServerMessage) -> bool {
    let text = serde_json::to_string(message).unwrap_or_default();
    socket.send(Message::Text(text.into())).await.is_ok()
}

/// One frame from a client, read.
enum Read {
    Message(ClientMessage),
    /// Not a message of ours: answered with this error.
    Bad(ServerMessage),
    /// Pings and pongs.
    Nothing,
    Closed,
}

fn read(message: Message) -> Read {
    match message {
        Message::Text(text) => match ClientMessage::read(text.as_str()) {
            Some(message) => Read::Message(message),
            None => Read::Bad(ServerMessage::error("bad_message", "That message is not one this room understands.")),
        },
        Message::Binary(_) => Read::Bad(ServerMessage::error("bad_message", "This room speaks JSON text only.")),
        Message::Close(_) => Read::Closed,
        Message::Ping(_) | Message::Pong(_) => Read::Nothing,
    }
}

async fn connection(app: App, rooms: Arc<Rooms>, id: i64, mut socket: WebSocket) {
    // First, who is this?
    let token = loop {
        let next = tokio::time::timeout(JOIN_WITHIN, socket.recv()).await;
        let Ok(Some(Ok(message))) = next else { return };
        match read(message) {
            Read::Closed => return,
            Read::Message(ClientMessage::Join { token }) => break token,
            Read::Nothing => continue,
            Read::Message(_) | Read::Bad(_) => {
                send(&mut socket, &ServerMessage::error("join_first", "Join the room first.")).await;
            }
        }
    };
    let (view, user, role) = match app.redeem_join_token(id, &token, rooms.live_deadline(id)).await {
        Ok(entered) => entered,
        Err(err) => {
            send(&mut socket, &ServerMessage::error(err.code(), &err.message())).await;
            let bye = ServerMessage::Bye { reason: "refused".into(), message: err.message() };
            send(&mut socket, &bye).await;
            return;
        }
    };
    let room = rooms.room(&app, id, view.clock.clone(), view.advisor_id);
    let conn = CONNECTIONS.fetch_add(1, Ordering::Relaxed);
    let (out, mut messages) = mpsc::channel(64);
    let name = user.name().to_string();
    if room.send(Command::Join { conn, user_id: user.id, name, role, out }).await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            message = messages.recv() => {
                let Some(message) = message else { break };
                let last = matches!(message, ServerMessage::Bye { .. });
                if !send(&mut socket, &message).await || last {
                    break;
                }
            }
            incoming = socket.recv() => {
                let Some(Ok(incoming)) = incoming else { break };
                let command = match read(incoming) {
                    Read::Closed | Read::Message(ClientMessage::Leave {}) => break,
                    Read::Nothing => continue,
                    Read::Message(ClientMessage::Join { .. }) => {
                        send(&mut socket, &ServerMessage::error("already_joined", "You are in the room already.")).await;
                        continue;
                    }
                    Read::Message(ClientMessage::Chat { text }) => Command::Chat { conn, text },
                    Read::Message(ClientMessage::Extend {}) => Command::Extend { conn },
                    Read::Message(ClientMessage::Offer { sdp }) => Command::Offer { conn, sdp },
                    Read::Bad(error) => {
                        send(&mut socket, &error).await;
                        continue;
                    }
                };
                if room.send(command).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = room.send(Command::Leave { conn }).await;
    let _ = socket.send(Message::Close(None)).await;
}
