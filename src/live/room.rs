//! One task per live room: it owns the room's clock (`domain::room`), who
//! is in, and the chat; it wakes for the warnings and the hard stop on the
//! injected clock. Connections talk to it through a channel, so nothing is
//! shared or locked.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::domain::room::{Due, Role, RoomClock};
use crate::service::App;
use crate::voice::{ParticipantId, RoomId, VoiceHandle};

use super::protocol::{CHAT_MAX, IceServer, ServerMessage, instant};

/// How many chat lines a person may send in [`CHAT_WINDOW_MS`].
const CHAT_BURST: u32 = 5;
const CHAT_WINDOW_MS: i64 = 5_000;

/// What a connection asks of its room.
pub enum Command {
    Join { conn: u64, user_id: i64, name: String, role: Role, out: mpsc::Sender<ServerMessage> },
    Chat { conn: u64, text: String },
    Extend { conn: u64 },
    Offer { conn: u64, sdp: String },
    Leave { conn: u64 },
}

/// The live rooms of this node, by session.
#[derive(Default)]
pub struct Rooms {
    open: Mutex<HashMap<i64, Live>>,
    /// The media engine's task, when this node carries voice.
    voice: Option<VoiceHandle>,
}

/// A live room: its task's inbox and its current deadline.
#[derive(Clone)]
struct Live {
    commands: mpsc::Sender<Command>,
    deadline: Arc<std::sync::atomic::AtomicI64>,
}

impl Rooms {
    pub fn new(voice: Option<VoiceHandle>) -> Arc<Rooms> {
        Arc::new(Rooms { open: Mutex::default(), voice })
    }

    /// The deadline of a live room (moved by an extension), if it is live.
    pub fn live_deadline(&self, request_id: i64) -> Option<i64> {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.get(&request_id).map(|live| live.deadline.load(std::sync::atomic::Ordering::SeqCst))
    }

    /// The room's task, started when the first person comes in.
    pub fn room(
        self: &Arc<Self>,
        app: &App,
        request_id: i64,
        clock: RoomClock,
        advisor_id: i64,
    ) -> mpsc::Sender<Command> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(live) = open.get(&request_id)
            && !live.commands.is_closed()
        {
            return live.commands.clone();
        }
        let (commands, inbox) = mpsc::channel(64);
        let deadline = Arc::new(std::sync::atomic::AtomicI64::new(clock.deadline));
        open.insert(request_id, Live { commands: commands.clone(), deadline: deadline.clone() });
        let room = Room {
            id: request_id,
            app: app.clone(),
            clock,
            advisor_id,
            deadline,
            people: Vec::new(),
            voice: self.voice.clone(),
            rooms: self.clone(),
        };
        tokio::spawn(room.run(inbox));
        commands
    }

    fn closed(&self, request_id: i64) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if open.get(&request_id).is_some_and(|live| live.commands.is_closed()) {
            open.remove(&request_id);
        }
    }
}

struct Person {
    conn: u64,
    user_id: i64,
    name: String,
    role: Role,
    out: mpsc::Sender<ServerMessage>,
    /// Chat lines in the current window, and when it began.
    chat: (i64, u32),
}

struct Room {
    id: i64,
    app: App,
    clock: RoomClock,
    advisor_id: i64,
    deadline: Arc<std::sync::atomic::AtomicI64>,
    people: Vec<Person>,
    voice: Option<VoiceHandle>,
    rooms: Arc<Rooms>,
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Advisor => "advisor",
        Role::Learner => "learner",
    }
}

impl Room {
    async fn run(mut self, mut inbox: mpsc::Receiver<Command>) {
        let clock = self.app.clock.clone();
        loop {
            let wake = self.clock.next_wake();
            tokio::select! {
                command = inbox.recv() => match command {
                    Some(command) => self.handle(command).await,
                    None => break,
                },
                _ = clock.sleep_until(wake.unwrap_or(i64::MAX)), if wake.is_some() => {
                    let now = clock.now_ms();
                    for due in self.clock.due(now) {
                        match due {
                            Due::Warn(warning) => {
                                let seconds = warning.before_ms() / 1000;
                                self.tell_all(ServerMessage::Warning { text: warning.text().into(), seconds });
                            }
                            Due::Stop => self.stop().await,
                        }
                    }
                    if self.clock.next_wake().is_none() {
                        break;
                    }
                }
            }
        }
        // Whoever knocks from now on is told the session is over.
        inbox.close();
        while let Some(command) = inbox.recv().await {
            if let Command::Join { out, .. } = command {
                let _ = out.try_send(bye("time", "This session has ended."));
            }
        }
        self.rooms.closed(self.id);
    }

    async fn handle(&mut self, command: Command) {
        let now = self.app.clock.now_ms();
        match command {
            Command::Join { conn, user_id, name, role, out } => {
                if let Err(refusal) = self.clock.may_enter(now) {
                    let _ = out.try_send(ServerMessage::error(refusal.code(), refusal.message()));
                    let _ = out.try_send(bye("refused", refusal.message()));
                    return;
                }
                // A second tab or device of the same person replaces the first.
                if let Some(i) = self.people.iter().position(|p| p.user_id == user_id) {
                    let old = self.people.remove(i);
                    let _ = old.out.try_send(bye("replaced", "You opened this room somewhere else."));
                }
                // Recorded before they hear they are in, at the time they came.
                if let Err(err) = self.app.person_entered(self.id, user_id, now).await {
                    tracing::warn!(room = self.id, error = %err, "could not record who came in");
                }
                let other = self.people.iter().find(|p| p.user_id != user_id);
                let joined = ServerMessage::Joined {
                    version: super::protocol::VERSION,
                    role: role_name(role).into(),
                    you: name.clone(),
                    other: other.map(|p| p.name.clone()).unwrap_or_default(),
                    other_here: other.is_some(),
                    starts_at: instant(self.clock.starts_at),
                    deadline: instant(self.clock.deadline),
                    server_time: instant(now),
                    media: self.voice.is_some(),
                    ice_servers: self.ice_servers(user_id),
                };
                let _ = out.try_send(joined);
                self.tell_others(
                    conn,
                    ServerMessage::Presence { role: role_name(role).into(), name: name.clone(), here: true },
                );
                self.people.push(Person { conn, user_id, name, role, out, chat: (now, 0) });
            }
            Command::Chat { conn, text } => {
                let Some(person) = self.people.iter_mut().find(|p| p.conn == conn) else { return };
                let text = text.trim();
                if text.is_empty() {
                    return;
                }
                if text.chars().count() > CHAT_MAX {
                    let message = format!("A chat message is at most {CHAT_MAX} characters.");
                    let _ = person.out.try_send(ServerMessage::error("chat_too_long", &message));
                    return;
                }
                if now - person.chat.0 >= CHAT_WINDOW_MS {
                    person.chat = (now, 0);
                }
                if person.chat.1 >= CHAT_BURST {
                    let _ =
                        person.out.try_send(ServerMessage::error("chat_too_fast", "Slow down: a few lines at a time."));
                    return;
                }
                person.chat.1 += 1;
                let line = ServerMessage::Chat {
                    role: role_name(person.role).into(),
                    name: person.name.clone(),
                    text: text.to_string(),
                    at: instant(now),
                };
                self.tell_all(line);
            }
            Command::Extend { conn } => {
                let Some(person) = self.people.iter().find(|p| p.conn == conn) else { return };
                let (role, user_id, out) = (person.role, person.user_id, person.out.clone());
                let pro = match role {
                    Role::Advisor => self.app.user_by_id(user_id).await.map(|u| u.is_pro).unwrap_or(false),
                    Role::Learner => false,
                };
                let (from, to) = self.clock.extension_span();
                let busy = role == Role::Advisor
                    && pro
                    && self.app.busy_between(self.advisor_id, from, to, self.id).await.unwrap_or(true);
                match self.clock.extend(now, role, pro, busy) {
                    Ok(deadline) => {
                        self.deadline.store(deadline, std::sync::atomic::Ordering::SeqCst);
                        self.tell_all(ServerMessage::Deadline { deadline: instant(deadline), extended: true });
                    }
                    Err(refusal) => {
                        let _ = out.try_send(ServerMessage::error(refusal.code(), refusal.message()));
                    }
                }
            }
            Command::Offer { conn, sdp } => {
                let Some(person) = self.people.iter().find(|p| p.conn == conn) else { return };
                let (user_id, out) = (person.user_id, person.out.clone());
                let Some(voice) = &self.voice else {
                    let _ = out.try_send(ServerMessage::error("no_voice", "This server carries no voice; chat works."));
                    return;
                };
                match voice.admit(RoomId(self.id), ParticipantId(user_id), sdp).await {
                    Ok(sdp) => {
                        let _ = out.try_send(ServerMessage::Answer { sdp });
                    }
                    Err(err) => {
                        let _ = out.try_send(ServerMessage::error("media_refused", &err.to_string()));
                    }
                }
            }
            Command::Leave { conn } => {
                if let Some(i) = self.people.iter().position(|p| p.conn == conn) {
                    let gone = self.people.remove(i);
                    if let Some(voice) = &self.voice {
                        let _ = voice.close(RoomId(self.id), ParticipantId(gone.user_id)).await;
                    }
                    if let Err(err) = self.app.person_went(self.id, gone.user_id).await {
                        tracing::warn!(room = self.id, error = %err, "could not record who left");
                    }
                    let here =
                        ServerMessage::Presence { role: role_name(gone.role).into(), name: gone.name, here: false };
                    self.tell_all(here);
                }
            }
        }
    }

    /// The configured TURN servers, with credentials for this person that
    /// expire a little after the session's deadline.
    fn ice_servers(&self, user_id: i64) -> Vec<IceServer> {
        let config = &self.app.config;
        match &config.turn_secret {
            Some(secret) if !config.turn_urls.is_empty() => {
                let expires = self.clock.deadline + crate::domain::room::TURN_GRACE_MS;
                let who = format!("{}-{user_id}", self.id);
                let (username, credential) = crate::domain::room::turn_credentials(secret, &who, expires);
                vec![IceServer { urls: config.turn_urls.clone(), username, credential }]
            }
            _ => Vec::new(),
        }
    }

    /// The hard stop: everyone is told and let go; nobody gets back in.
    async fn stop(&mut self) {
        // Media first: when this returns, nothing more is forwarded.
        if let Some(voice) = &self.voice
            && let Err(err) = voice.stop_room(RoomId(self.id)).await
        {
            tracing::warn!(room = self.id, error = %err, "could not stop the room's media");
        }
        for person in std::mem::take(&mut self.people) {
            let _ = person.out.try_send(bye("time", "Time is up: the session has ended."));
            if let Err(err) = self.app.person_went(self.id, person.user_id).await {
                tracing::warn!(room = self.id, error = %err, "could not record who left");
            }
        }
    }

    fn tell_all(&self, message: ServerMessage) {
        for person in &self.people {
            let _ = person.out.try_send(message.clone());
        }
    }

    fn tell_others(&self, conn: u64, message: ServerMessage) {
        for person in self.people.iter().filter(|p| p.conn != conn) {
            let _ = person.out.try_send(message.clone());
        }
    }
}

fn bye(reason: &str, message: &str) -> ServerMessage {
    ServerMessage::Bye { reason: reason.into(), message: message.into() }
}
