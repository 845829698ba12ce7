//! Booking across instances, the service side: a local learner asking for a
//! remote advisor's slot (the request is stored here and a `Join` goes out
//! with its booking event). Room links are in `rooms.rs`.

use crate::domain::booking::{Channel, RequestStatus, SlotState};
use crate::service::App;
use crate::storage::{Origin, Request, RequestText, Slot, StorageError, User};

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
                now,
            )
            .await;
        self.availability_changed(slot.advisor_id);
        let request = match outcome {
            Ok(Ok(request)) => request,
            Ok(Err(refusal)) => return Err(refusal),
            Err(StorageError::NotFound) => return Err(AppError::NotFound("slot")),
            Err(other) => return Err(other.into()),
        };
        self.after_booking_change(&[request.id], false);
        Ok(request)
    }
}
