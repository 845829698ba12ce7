//! Session rooms, the service side: who is at the door of a room and
//! whether they may come in (the rules are `domain::room`), the per-person
//! room links that let a remote learner in without an account here, and
//! the short-lived join tokens the room page exchanges a link or a log-in
//! for, which the signalling connection presents.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::room::{self, Refusal, Role, RoomClock};
use crate::storage::{Presence, Request, SessionEntry, StorageError, User};

use super::secrets::same_secret;
use super::{App, AppError};

/// How long a join token is good for: the page asks for one when the
/// person presses "Join".
pub const JOIN_TOKEN_TTL_MS: i64 = 2 * 60_000;

/// Who is at a room's door.
pub enum RoomVisitor<'a> {
    /// Logged in here.
    Person(&'a User),
    /// Holding the token of a room link (from a direct message or a mail).
    Link(&'a str),
    /// Neither.
    Nobody,
}

/// A room as one visitor sees it.
#[derive(Debug)]
pub struct RoomView {
    pub entry: SessionEntry,
    /// The session's advisor.
    pub advisor_id: i64,
    /// The participant the visitor is, if they are one.
    pub me: Option<(User, Role)>,
    /// The schedule: opening, start, deadline.
    pub clock: RoomClock,
    /// Whether they may come in now, or why not.
    pub admission: Result<(), Refusal>,
}

impl App {
    /// The room of session `request_id` for `visitor`. An unknown session
    /// is "not found"; anyone else gets the view with the reason they
    /// cannot enter.
    pub async fn room_view(&self, request_id: i64, visitor: RoomVisitor<'_>) -> Result<RoomView, AppError> {
        self.room_view_until(request_id, visitor, None).await
    }

    /// As [`App::room_view`], with the deadline of the room if it is live
    /// (an extension moves it past the scheduled end).
    pub async fn room_view_until(
        &self,
        request_id: i64,
        visitor: RoomVisitor<'_>,
        live_deadline: Option<i64>,
    ) -> Result<RoomView, AppError> {
        let request = self.session_request(request_id).await?;
        let me = match visitor {
            RoomVisitor::Person(user) => role_of(&request, user.id).map(|role| (user.clone(), role)),
            RoomVisitor::Link(token) => match self.link_holder(&request, token) {
                Some(user_id) => {
                    let user = self.store.user_by_id(user_id).await?;
                    role_of(&request, user_id).map(|role| (user, role))
                }
                None => None,
            },
            RoomVisitor::Nobody => None,
        };
        let entry = self.store.session_entry(request_id).await?;
        let now = self.clock.now_ms();
        let deadline = live_deadline.map_or(entry.ends_at, |d| d.max(entry.ends_at));
        let admission = room::admission(entry.status, me.is_some(), entry.starts_at, deadline, now);
        let clock = RoomClock::new(entry.starts_at, deadline);
        Ok(RoomView { entry, advisor_id: request.advisor_id, me, clock, admission })
    }

    /// A join token for a participant who may enter now: bound to the
    /// person and the session, good for [`JOIN_TOKEN_TTL_MS`].
    pub async fn join_token(
        &self,
        request_id: i64,
        visitor: RoomVisitor<'_>,
        live_deadline: Option<i64>,
    ) -> Result<String, AppError> {
        let view = self.room_view_until(request_id, visitor, live_deadline).await?;
        if let Err(refusal) = view.admission {
            return Err(refusal_error(refusal));
        }
        let Some((user, _)) = view.me else { return Err(refusal_error(Refusal::NotParticipant)) };
        let expires = self.clock.now_ms() + JOIN_TOKEN_TTL_MS;
        Ok(format!("{}.{expires}.{}", user.id, self.join_mac(request_id, user.id, expires)))
    }

    /// The person a join token stands for, checked again against the
    /// room's rules (the session may have been cancelled, or ended, since).
    pub async fn redeem_join_token(
        &self,
        request_id: i64,
        token: &str,
        live_deadline: Option<i64>,
    ) -> Result<(RoomView, User, Role), AppError> {
        let invalid = || {
            AppError::Forbidden("join_token_invalid", "This join token is not valid; open the room page again.".into())
        };
        let mut parts = token.splitn(3, '.');
        let (Some(user_id), Some(expires), Some(mac)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(invalid());
        };
        let (Ok(user_id), Ok(expires)) = (user_id.parse::<i64>(), expires.parse::<i64>()) else {
            return Err(invalid());
        };
        if !same_secret(&self.join_mac(request_id, user_id, expires), mac) {
            return Err(invalid());
        }
        if self.clock.now_ms() > expires {
            return Err(AppError::Forbidden(
                "join_token_expired",
                "This join token has expired; open the room page again.".into(),
            ));
        }
        let user = self.store.user_by_id(user_id).await?;
        let view = self.room_view_until(request_id, RoomVisitor::Person(&user), live_deadline).await?;
        if let Err(refusal) = view.admission {
            return Err(refusal_error(refusal));
        }
        let role = view.me.as_ref().map(|(_, role)| *role).ok_or_else(invalid)?;
        Ok((view, user, role))
    }

    /// Whether `user_id` has a confirmed session (other than `except`)
    /// overlapping `[from, to)`: an extension must not eat into it.
    pub async fn busy_between(&self, user_id: i64, from: i64, to: i64, except: i64) -> Result<bool, AppError> {
        let sessions = self.store.sessions_between(user_id, from - 24 * 60 * 60_000, to).await?;
        Ok(sessions.iter().any(|s| {
            s.request_id != except
                && s.status == crate::domain::booking::RequestStatus::Approved
                && s.starts_at < to
                && s.ends_at > from
        }))
    }

    /// A participant came into the room at `at` (the room task says so).
    pub async fn person_entered(&self, request_id: i64, user_id: i64, at: i64) -> Result<(), AppError> {
        Ok(self.store.person_joined(request_id, user_id, at).await?)
    }

    /// A participant left the room.
    pub async fn person_went(&self, request_id: i64, user_id: i64) -> Result<(), AppError> {
        Ok(self.store.person_left(request_id, user_id, self.clock.now_ms()).await?)
    }

    /// Who was in a session's room, for one of its participants.
    pub async fn room_presence(&self, request_id: i64) -> Result<Vec<Presence>, AppError> {
        Ok(self.store.presence(request_id).await?)
    }

    /// The server's no-show check (a job): once `room_no_show_minutes`
    /// have passed since a confirmed session's start, a participant who was
    /// never in its room by then is recorded as a no-show, in the name of
    /// the one who came (who can forgive it, as with a no-show they record
    /// themselves). When neither came, nothing is recorded: there is no one
    /// to say who missed whom. Sessions are checked once; sessions older
    /// than the no-show window are left alone. Returns how many no-shows
    /// were recorded.
    pub async fn check_room_attendance(&self) -> Result<usize, AppError> {
        let minutes = self.config.room_no_show_minutes;
        if minutes <= 0 {
            return Ok(0);
        }
        let grace = minutes * 60_000;
        let now = self.clock.now_ms();
        let oldest = now - crate::domain::karma::NO_SHOW_WINDOW.as_millis() as i64;
        let mut recorded = 0;
        loop {
            let due = self.store.presence_to_check(oldest, now - grace, 100).await?;
            if due.is_empty() {
                break;
            }
            for session in due {
                let came: Vec<i64> = self
                    .store
                    .presence(session.request_id)
                    .await?
                    .into_iter()
                    .filter(|p| p.first_joined_at <= session.starts_at + grace)
                    .map(|p| p.user_id)
                    .collect();
                let people = [session.advisor_id, session.learner_id];
                if let [present] = came.as_slice()
                    && let Some(&absent) = people.iter().find(|&&p| p != *present)
                {
                    let witness = self.store.user_by_id(*present).await?;
                    let absentee = self.store.user_by_id(absent).await?;
                    let note = format!(
                        "{} was not in the room within {minutes} minutes of the start (recorded by the server).",
                        absentee.name()
                    );
                    match self.mark_no_show(&witness, session.request_id, &note).await {
                        Ok(()) => recorded += 1,
                        // Recorded by a participant already, say.
                        Err(AppError::Conflict(..)) => {}
                        Err(err) => return Err(err),
                    }
                }
                self.store.presence_checked(session.request_id, now).await?;
            }
        }
        Ok(recorded)
    }

    /// The token in a person's room link for one session: derived from the
    /// instance secret, the session and the person, so it is valid for that
    /// person and session only and never stored.
    pub fn room_token(&self, request_id: i64, user_id: i64) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret_key).expect("HMAC takes keys of any length");
        mac.update(format!("room\0{request_id}\0{user_id}").as_bytes());
        URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..24])
    }

    /// `https://us/rooms/<session>?token=…` for one person.
    pub fn room_link(&self, request_id: i64, user_id: i64) -> String {
        self.config.link(&format!("/rooms/{request_id}?token={}", self.room_token(request_id, user_id)))
    }

    /// The session a room link opens, and whose link it is. A token that is
    /// not one of the two participants' gets "not found", like an unknown
    /// session.
    pub async fn room_by_token(&self, request_id: i64, token: &str) -> Result<(SessionEntry, User), AppError> {
        let request = self.session_request(request_id).await?;
        let Some(user_id) = self.link_holder(&request, token) else { return Err(AppError::NotFound("session")) };
        let entry = self.store.session_entry(request_id).await?;
        let user = self.store.user_by_id(user_id).await?;
        Ok((entry, user))
    }

    async fn session_request(&self, request_id: i64) -> Result<Request, AppError> {
        match self.store.request(request_id).await {
            Ok(request) => Ok(request),
            Err(StorageError::NotFound) => Err(AppError::NotFound("session")),
            Err(other) => Err(other.into()),
        }
    }

    /// Whose room link `token` is, if it is one of the two participants'.
    fn link_holder(&self, request: &Request, token: &str) -> Option<i64> {
        [request.learner_id, request.advisor_id]
            .into_iter()
            .find(|&user_id| same_secret(&self.room_token(request.id, user_id), token))
    }

    fn join_mac(&self, request_id: i64, user_id: i64, expires: i64) -> String {
        self.keyed_secret(&format!("join\0{request_id}\0{user_id}\0{expires}"))
    }
}

/// Which side of `request` a person is on, if any.
fn role_of(request: &Request, user_id: i64) -> Option<Role> {
    if request.advisor_id == user_id {
        Some(Role::Advisor)
    } else if request.learner_id == user_id {
        Some(Role::Learner)
    } else {
        None
    }
}

/// A refusal to enter, as an error with its reason.
pub fn refusal_error(refusal: Refusal) -> AppError {
    match refusal {
        Refusal::NotParticipant => AppError::Forbidden(refusal.code(), refusal.message().into()),
        _ => AppError::Conflict(refusal.code(), refusal.message().into()),
    }
}
