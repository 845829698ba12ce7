//! Booking across instances, the service side: a local learner asking for a
//! remote advisor's slot (the request is stored here and a `Join` goes out
//! with its booking event), and the session room link with its per-person
//! token, which lets a remote learner open the session page without an
//! account here.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::booking::{Channel, RequestStatus, SlotState};
use crate::service::App;
use crate::storage::{Origin, Request, RequestText, SessionEntry, Slot, StorageError, User};

use super::AppError;
use super::booking::NOTE_MAX;

impl App {
    /// A local learner asks for a slot mirrored from another instance: the
    /// advisor's instance decides, so only what we can know is checked here
    /// (the slot is offered and ahead, the learner may ask). The `Join` is
    /// queued with the request's booking event.
    pub(crate) async fn request_remote_slot(
        &self,
        learner: &User,
        slot: &Slot,
        note: &str,
        answers: &serde_json::Value,
    ) -> Result<Request, AppError> {
        let note = crate::domain::validation_text("note", "A note", note, NOTE_MAX)?;
        if learner.is_remote() {
            return Err(AppError::NotFound("slot"));
        }
        self.check_karma_allows_requests(learner).await?;
        let now = self.clock.now_ms();
        match slot.status {
            SlotState::Cancelled => {
                return Err(AppError::Conflict("slot_cancelled", "This slot was cancelled.".into()));
            }
            SlotState::Booked => {
                return Err(AppError::Conflict("slot_taken", "Someone else has this slot already.".into()));
            }
            _ if slot.starts_at <= now => {
                return Err(AppError::Conflict("slot_past", "This slot has already started.".into()));
            }
            _ => {}
        }
        let answers = match answers {
            serde_json::Value::Null => "{}".to_string(),
            serde_json::Value::Object(map) => serde_json::to_string(map).unwrap_or_else(|_| "{}".into()),
            _ => return Err(AppError::invalid("answers", "invalid", "Answers are an object of question ids to text.")),
        };
        let join_id = self.config.link(&format!("/activities/join/{}", &super::secrets::new_secret()[..22]));
        let origin = Origin { ap_id: &join_id, kind: Channel::Join, received: false };
        let outcome = self
            .store
            .create_request(
                slot.id,
                learner.id,
                (0, 0),
                |ctx| {
                    if ctx.already_requested {
                        return Err(AppError::Conflict(
                            "already_requested",
                            "You have already asked for this slot.".into(),
                        ));
                    }
                    Ok(RequestStatus::Requested)
                },
                RequestText { note: &note, answers: &answers, origin: Some(origin) },
            )
            .await;
        let request = match outcome {
            Ok(Ok(request)) => request,
            Ok(Err(refusal)) => return Err(refusal),
            Err(StorageError::NotFound) => return Err(AppError::NotFound("slot")),
            Err(other) => return Err(other.into()),
        };
        self.after_booking_change(&[request.id]).await;
        Ok(request)
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
        let request = match self.store.request(request_id).await {
            Ok(request) => request,
            Err(StorageError::NotFound) => return Err(AppError::NotFound("session")),
            Err(other) => return Err(other.into()),
        };
        for user_id in [request.learner_id, request.advisor_id] {
            if super::secrets::same_secret(&self.room_token(request_id, user_id), token) {
                let entry = self.store.session_entry(request_id).await?;
                let user = self.store.user_by_id(user_id).await?;
                return Ok((entry, user));
            }
        }
        Err(AppError::NotFound("session"))
    }
}
