//! The room's signalling messages, as JSON over the WebSocket
//! (`/rooms/{id}/live`), version 1. The first message a client sends is
//! `join` with a join token; everything else follows from the room.

use serde::{Deserialize, Serialize};

/// The protocol version a `joined` names.
pub const VERSION: u32 = 1;

/// The largest message a client may send (bytes).
pub const MAX_MESSAGE: usize = 16 * 1024;

/// The longest chat message (characters).
pub const CHAT_MAX: usize = 1000;

/// From a browser.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    /// Enter with a join token from `/rooms/{id}/join-token`.
    Join { token: String },
    /// A line of chat to the other person (not stored).
    Chat { text: String },
    /// The advisor asks for 4 more minutes (last minute, Pro, once).
    /// (Written `{}`: serde's `deny_unknown_fields` holds for struct
    /// variants only, and a unit variant took any extra field.)
    Extend {},
    /// The browser's WebRTC offer (audio, and video for a shared screen).
    Offer { sdp: String },
    /// Leaving on purpose.
    Leave {},
}

impl ClientMessage {
    /// Reads one message, a JSON object. (serde's internally tagged enums
    /// also take a JSON array, `["join","t"]`, which the protocol is not.)
    pub fn read(text: &str) -> Option<ClientMessage> {
        if !text.trim_start().starts_with('{') {
            return None;
        }
        serde_json::from_str(text).ok()
    }
}

/// To a browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    Joined {
        version: u32,
        /// `advisor` or `learner`.
        role: String,
        you: String,
        other: String,
        /// Whether the other person is in the room now.
        other_here: bool,
        starts_at: String,
        deadline: String,
        /// Whether this server carries the voice (send an `offer`).
        media: bool,
        /// TURN servers with credentials that expire with the session.
        ice_servers: Vec<IceServer>,
        /// The server's time, so the countdown does not trust the device's.
        server_time: String,
    },
    /// The server's answer to an `offer`.
    Answer {
        sdp: String,
    },
    /// The other person came in or left.
    Presence {
        role: String,
        name: String,
        here: bool,
    },
    Chat {
        role: String,
        name: String,
        text: String,
        at: String,
    },
    /// The end moved (an extension).
    Deadline {
        deadline: String,
        extended: bool,
    },
    Warning {
        text: String,
        seconds: i64,
    },
    /// Something this connection sent was refused; the room carries on.
    Error {
        code: String,
        message: String,
    },
    /// The connection ends, and why: `time` (the hard stop), `replaced`
    /// (the same person opened the room elsewhere), `left`, `refused`.
    Bye {
        reason: String,
        message: String,
    },
}

/// One entry of `RTCConfiguration.iceServers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    pub urls: Vec<String>,
    pub username: String,
    pub credential: String,
}

impl ServerMessage {
    pub fn error(code: &str, message: &str) -> ServerMessage {
        ServerMessage::Error { code: code.into(), message: message.into() }
    }
}

/// An instant as the protocol writes it (RFC 3339, UTC).
pub fn instant(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| t.to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_messages_are_read_strictly() {
        let join: ClientMessage = serde_json::from_str(r#"{"type":"join","token":"t"}"#).unwrap();
        assert_eq!(join, ClientMessage::Join { token: "t".into() });
        assert_eq!(serde_json::from_str::<ClientMessage>(r#"{"type":"extend"}"#).unwrap(), ClientMessage::Extend {});
        assert!(serde_json::from_str::<ClientMessage>(r#"{"type":"shout","text":"x"}"#).is_err());
        assert!(serde_json::from_str::<ClientMessage>(r#"{"type":"chat","text":"x","extra":1}"#).is_err());
        assert!(serde_json::from_str::<ClientMessage>(r#"{"type":"chat"}"#).is_err());
    }

    /// Found by fuzzing (tests/it/fuzz_room.rs): an array was read as a
    /// message, its first item taken for the type.
    #[test]
    fn only_json_objects_are_messages() {
        assert_eq!(
            ClientMessage::read(r#" {"type":"chat","text":"hi"}"#),
            Some(ClientMessage::Chat { text: "hi".into() })
        );
        for text in [r#"["join","type"]"#, r#"["extend"]"#, r#"["chat","x"]"#, "", "null"] {
            assert_eq!(ClientMessage::read(text), None, "{text}");
        }
    }

    /// Found by fuzzing (tests/it/fuzz_room.rs): the messages without
    /// fields took any extra field, unlike the others.
    #[test]
    fn messages_without_fields_refuse_extra_fields_too() {
        assert_eq!(serde_json::from_str::<ClientMessage>(r#"{"type":"leave"}"#).unwrap(), ClientMessage::Leave {});
        for text in [r#"{"type":"extend","token":""}"#, r#"{"type":"leave","minutes":4}"#] {
            assert!(serde_json::from_str::<ClientMessage>(text).is_err(), "{text}");
        }
    }

    #[test]
    fn server_messages_carry_their_type() {
        let bye = ServerMessage::Bye { reason: "time".into(), message: "Time is up.".into() };
        assert_eq!(serde_json::to_value(&bye).unwrap()["type"], "bye");
    }
}
