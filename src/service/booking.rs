//! Booking use cases: availability blocks, slot listings, requests and the
//! advisor's decisions.

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};

use crate::domain::availability::{self, BlockRule, RuleError, Weekdays};
use crate::domain::booking::{
    self, Action, EventKind, LearnerView, PastEvent, Permissions, Policy, Refusal, RequestStatus, Role, SlotView,
};
use crate::service::App;
use crate::service::availability::Availability;
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::domain::questions::{self, Question, QuestionInput};
use crate::domain::{FieldErrors, local_time, time_zone};
use crate::storage::{
    AdvisorPolicy, Block, BlockOverrides, Constraint, Decided, NewBlock, NewOccurrence, Origin, Request, RequestText,
    SessionEntry, Slot, StorageError, User,
};

use super::AppError;

/// The note on requests declined because another one was approved.
const SLOT_FILLED_NOTE: &str = "Another request for this slot was approved.";
pub const NOTE_MAX: usize = 2000;
/// How many of a block's slots one answer lists (the rest are paged).
pub const BLOCK_SLOTS_PAGE: i64 = 100;
/// The longest listing one call returns.
const LISTING_MAX_DAYS: i64 = 92;

/// A block as the advisor describes it (web form or API).
#[derive(Debug, Clone, Default)]
pub struct BlockInput {
    /// Local date and time to the minute, `2026-12-01T14:00` (no seconds,
    /// no offset: the zone is `timezone`).
    pub start: String,
    /// Local date and time on the same day, `2026-12-01T15:00`.
    pub end: String,
    pub timezone: String,
    /// Repeat every week up to and including this date (`2027-01-31`).
    pub repeat_weekly_until: Option<String>,
    /// Weekdays of the series (`mon`…`sun`); the start's weekday when empty.
    pub weekdays: Vec<String>,
    pub overrides: BlockOverrides,
    /// The offering it belongs to (`None`: the advisor's default one).
    pub offering: Option<i64>,
}

impl App {
    pub async fn create_block(&self, advisor: &User, input: &BlockInput) -> Result<(Block, Vec<Slot>), AppError> {
        if !advisor.is_advisor {
            return Err(AppError::Forbidden(
                "not_an_advisor",
                "Switch on your advisor profile before you publish availability.".into(),
            ));
        }
        let offering = match input.offering {
            Some(id) => self.offering_of(advisor, id).await.map_err(|_| {
                AppError::invalid("offering", "unknown_offering", "Choose one of your own offerings for this block.")
            })?,
            None => self.store.default_offering(advisor.id, self.clock.now_ms()).await?,
        };
        let policy = self.policy_with_offering(advisor.id, Some(&offering)).await?;
        let (rule, errors) = parse_block(input, &advisor.timezone);
        let Some(rule) = rule else { return Err(AppError::Invalid(errors)) };
        validate_overrides(&input.overrides)?;
        // Sessions are as long as the offering's.
        let session_minutes = self.offering_minutes(&offering);
        let fail = |e: RuleError| rule_error(e, session_minutes);
        let now = self.clock.now();
        let horizon_days = input.overrides.horizon_days.unwrap_or(policy.horizon_days);
        availability::check_window(&rule, now, horizon_days).map_err(fail)?;
        let buffer = input.overrides.buffer_minutes.unwrap_or(policy.buffer_minutes);
        let expanded = availability::sessions(
            &rule,
            SignedDuration::from_mins(session_minutes),
            SignedDuration::from_mins(buffer),
        )
        .map_err(fail)?;
        if expanded.first().is_some_and(|(occ, _)| occ.start < now) {
            return Err(fail(RuleError::InPast));
        }
        let max_occurrences = usize::try_from(self.config.max_series_occurrences).unwrap_or(usize::MAX);
        availability::check_series_length(expanded.len(), max_occurrences).map_err(fail)?;
        let adding: usize = expanded.iter().map(|(_, slots)| slots.len()).sum();
        let max_open = usize::try_from(self.config.max_open_slots_per_advisor).unwrap_or(usize::MAX);
        availability::check_open_slots(0, adding, max_open).map_err(fail)?;
        let new = NewBlock {
            advisor_id: advisor.id,
            timezone: rule.timezone.clone(),
            start_date: rule.start_date.to_string(),
            start_time: rule.start.strftime("%H:%M").to_string(),
            end_time: rule.end.strftime("%H:%M").to_string(),
            weekdays: rule.weekly.map(|(days, _)| days.0 as i64),
            until_date: rule.weekly.map(|(_, until)| until.to_string()),
            session_minutes,
            overrides: input.overrides.clone(),
            offering_id: Some(offering.id),
            occurrences: expanded
                .iter()
                .map(|(occ, slots)| NewOccurrence {
                    date: occ.date.to_string(),
                    start: occ.start.as_millisecond(),
                    end: occ.end.as_millisecond(),
                    slots: slots.iter().map(|s| (s.start.as_millisecond(), s.end.as_millisecond())).collect(),
                })
                .collect(),
        };
        match self.store.create_block_capped(&new, i64::try_from(max_open).ok(), now.as_millisecond()).await {
            Ok(created) => {
                self.availability_changed(advisor.id);
                Ok(created)
            }
            Err(StorageError::Limit(Constraint::SlotCap, open)) => {
                let open = usize::try_from(open).unwrap_or(usize::MAX);
                Err(fail(RuleError::TooManySlots { open, adding, max: max_open }))
            }
            Err(other) => Err(other.into()),
        }
    }

    /// One page of a block's slots, for its advisor: the page (1-based),
    /// the slots on it and how many the block has.
    pub async fn block_slots_page(
        &self,
        advisor: &User,
        block_id: i64,
        page: u32,
    ) -> Result<(Vec<Slot>, i64), AppError> {
        let block = self.block_of(advisor, block_id).await?;
        let page = i64::from(page.max(1));
        Ok(self.store.block_slots_page(block.id, BLOCK_SLOTS_PAGE, (page - 1) * BLOCK_SLOTS_PAGE).await?)
    }

    /// An advisor's slots between two instants (default: now to the advisor's
    /// horizon). Others see only open and requested slots outside busy times;
    /// the advisor sees everything.
    pub async fn advisor_slots(
        &self,
        username: &str,
        viewer: Option<&User>,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<Vec<Slot>, AppError> {
        let entry = self.cached_advisor(username).await?;
        let advisor = &entry.profile.user;
        if viewer.is_some_and(|v| v.id == advisor.id) {
            let policy = self.store.advisor_policy(advisor.id).await?;
            return self.slots_of(advisor, &policy, viewer, from, to).await;
        }
        match self.listed_slots(advisor, from, to).await? {
            Some((shown, range)) => Ok(shown.slots()[range].to_vec()),
            None => {
                let policy = self.store.advisor_policy(advisor.id).await?;
                self.slots_of(advisor, &policy, viewer, from, to).await
            }
        }
    }

    /// The slots anyone but the advisor sees between two instants (default:
    /// now to the advisor's horizon), from the availability cache: the
    /// entry and the range of its slots. `None` when the entry does not
    /// cover the range (read them with [`App::slots_of`]).
    pub async fn listed_slots(
        &self,
        advisor: &User,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<Option<(Arc<Availability>, std::ops::Range<usize>)>, AppError> {
        let Some(shown) = self.availability(advisor).await? else { return Ok(None) };
        let (from, to) = self.listing_range(&shown.policy, from, to)?;
        let (from, to) = (from.as_millisecond(), to.as_millisecond());
        if !shown.covers(from, to) {
            return Ok(None);
        }
        let range = shown.range(from, to);
        Ok(Some((shown, range)))
    }

    /// The range a listing covers: `from` (default now) to `to` (default
    /// the advisor's horizon after `from`), at most [`LISTING_MAX_DAYS`].
    fn listing_range(
        &self,
        policy: &AdvisorPolicy,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<(Timestamp, Timestamp), AppError> {
        let from = from.unwrap_or_else(|| self.clock.now());
        let to = match to {
            Some(to) => to,
            None => from.checked_add(SignedDuration::from_hours(24 * policy.horizon_days.max(1))).unwrap_or(from),
        };
        if to <= from {
            return Err(AppError::invalid("to", "invalid_range", "`to` must be after `from`."));
        }
        if from.duration_until(to) > SignedDuration::from_hours(24 * LISTING_MAX_DAYS) {
            return Err(AppError::invalid(
                "to",
                "range_too_long",
                format!("List at most {LISTING_MAX_DAYS} days at a time."),
            ));
        }
        Ok((from, to))
    }

    /// [`App::advisor_slots`] of an advisor already read (listed and not
    /// suspended), with their policy.
    pub async fn slots_of(
        &self,
        advisor: &User,
        policy: &AdvisorPolicy,
        viewer: Option<&User>,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<Vec<Slot>, AppError> {
        let own = viewer.is_some_and(|v| v.id == advisor.id);
        let (from, to) = self.listing_range(policy, from, to)?;
        let slots = self.store.advisor_slots(advisor.id, from.as_millisecond(), to.as_millisecond()).await?;
        if own {
            return Ok(slots);
        }
        // Unlisted offerings (S4) are shown only through the private link.
        Ok(bookable(slots).filter(|s| !s.unlisted(policy.unlisted)).collect())
    }

    /// The slots behind an advisor's private booking link, listed or not.
    /// An offering's own link lists that offering's times only (and the
    /// offering comes back, to be named on the page).
    pub async fn private_link_slots(
        &self,
        secret: &str,
    ) -> Result<(User, Vec<Slot>, Option<crate::storage::Offering>), AppError> {
        let hash = crate::service::secrets::hash_secret(secret);
        let (advisor_id, only) = match self.store.advisor_by_private_link(&hash).await? {
            Some(advisor_id) => (advisor_id, None),
            None => {
                let offering =
                    self.store.offering_by_private_link(&hash).await?.ok_or(AppError::NotFound("booking link"))?;
                (offering.advisor_id, Some(offering))
            }
        };
        let advisor = self.store.user_by_id(advisor_id).await?;
        if advisor.suspended_at.is_some() {
            // A suspended advisor's availability is hidden everywhere.
            return Err(AppError::NotFound("booking link"));
        }
        let policy = self.store.advisor_policy(advisor.id).await?;
        let now = self.clock.now();
        let days = policy.horizon_days.clamp(1, LISTING_MAX_DAYS);
        let to = now.checked_add(SignedDuration::from_hours(24 * days)).unwrap_or(now);
        let slots = self.store.advisor_slots(advisor.id, now.as_millisecond(), to.as_millisecond()).await?;
        let slots = bookable(slots).filter(|s| match &only {
            None => true,
            Some(o) => s.offering_id == Some(o.id) || (o.is_default && s.offering_id.is_none()),
        });
        let slots: Vec<Slot> = slots.collect();
        Ok((advisor, slots, only))
    }

    /// Saves an advisor's booking rules (defaults for every block).
    pub async fn save_booking_settings(
        &self,
        advisor: &User,
        settings: &BookingSettings,
    ) -> Result<AdvisorPolicy, AppError> {
        check_settings(settings)?;
        let mut policy = self.store.advisor_policy(advisor.id).await?;
        policy.buffer_minutes = settings.buffer_minutes;
        policy.min_notice_minutes = settings.min_notice_minutes;
        policy.horizon_days = settings.horizon_days;
        policy.max_per_learner_week = settings.max_per_learner_week;
        policy.approval_required = settings.approval_required;
        policy.unlisted = settings.unlisted;
        policy.note_optional = settings.note_optional;
        self.store.save_advisor_policy(&policy, self.clock.now_ms()).await?;
        self.availability_changed(advisor.id);
        Ok(policy)
    }

    pub async fn booking_settings(&self, advisor: &User) -> Result<AdvisorPolicy, AppError> {
        Ok(self.store.advisor_policy(advisor.id).await?)
    }

    /// The questions an advisor asks with every request (`block = None`),
    /// or the ones a block asks instead.
    pub async fn booking_questions(&self, advisor_id: i64, block: Option<i64>) -> Result<Vec<Question>, AppError> {
        Ok(self.store.booking_questions(advisor_id, block).await?)
    }

    /// What a request for a slot of this block must answer: the block's own
    /// questions when it has any, otherwise the advisor's.
    /// (Between the two, a named offering's own questions.)
    pub async fn questions_for_block(&self, block: &Block) -> Result<Vec<Question>, AppError> {
        let own = self.store.booking_questions(block.advisor_id, Some(block.id)).await?;
        if !own.is_empty() {
            return Ok(own);
        }
        if let Some(offering) = self.offering_for_block(block).await? {
            let theirs = self.offering_questions(&offering).await?;
            if !theirs.is_empty() {
                return Ok(theirs);
            }
        }
        Ok(self.store.booking_questions(block.advisor_id, None).await?)
    }

    /// The questions asked for one slot (for the request form).
    pub async fn questions_for_slot(&self, slot: &Slot) -> Result<Vec<Question>, AppError> {
        let block = self.store.block(slot.block_id).await.map_err(AppError::missing("slot"))?;
        self.questions_for_block(&block).await
    }

    /// Replaces the advisor's booking questions, or one block's (blank ones
    /// are dropped; a block without questions asks the advisor's).
    pub async fn save_booking_questions(
        &self,
        advisor: &User,
        block: Option<i64>,
        inputs: &[QuestionInput],
    ) -> Result<Vec<Question>, AppError> {
        if let Some(id) = block {
            self.block_of(advisor, id).await?;
        }
        let parsed = questions::questions(inputs)?;
        self.store.save_booking_questions(advisor.id, block, &parsed).await?;
        Ok(self.store.booking_questions(advisor.id, block).await?)
    }

    /// A new private booking link (S4); the previous one stops working.
    /// Only its hash is kept, so the link is shown once.
    pub async fn new_private_link(&self, advisor: &User) -> Result<String, AppError> {
        let secret = crate::service::secrets::new_secret();
        let mut policy = self.store.advisor_policy(advisor.id).await?;
        policy.private_link_hash = Some(crate::service::secrets::hash_secret(&secret));
        self.store.save_advisor_policy(&policy, self.clock.now_ms()).await?;
        self.availability_changed(advisor.id);
        Ok(self.config.link(&format!("/book/{secret}")))
    }

    /// All of an advisor's own slots in `[from, to)` (milliseconds), any state.
    pub async fn own_slots(&self, advisor: &User, from: i64, to: i64) -> Result<Vec<Slot>, AppError> {
        Ok(self.store.advisor_slots(advisor.id, from, to).await?)
    }

    /// Asks for a slot with a note (and answers to the advisor's questions).
    /// `link` is the secret of the advisor's private booking link, which an
    /// unlisted offering needs (see [`App::requestable_slot`]).
    pub async fn request_slot(
        &self,
        learner: &User,
        slot_id: i64,
        note: &str,
        answers: &serde_json::Value,
        link: Option<&str>,
    ) -> Result<Request, AppError> {
        let (slot, _) = self.requestable_slot(slot_id, link).await?;
        if slot.ap_id.is_some() {
            // A remote advisor's slot: their instance decides (a `Join` goes out).
            return self.request_remote_slot(learner, &slot, note, answers).await;
        }
        self.request_slot_from(learner, slot, note, answers, None).await
    }

    /// A slot someone may ask for, with its advisor: an unlisted offering
    /// (S4) is found only with the secret of the advisor's private link —
    /// slot ids are sequential, so without it a guessed id answers as if it
    /// did not exist —, and a suspended advisor takes no requests.
    pub async fn requestable_slot(&self, slot_id: i64, link: Option<&str>) -> Result<(Slot, User), AppError> {
        let (slot, advisor) = self.slot_with_advisor(slot_id).await?;
        if slot.ap_id.is_some() {
            return Ok((slot, advisor));
        }
        check_not_suspended(&advisor)?;
        let policy = self.store.advisor_policy(advisor.id).await?;
        if slot.unlisted(policy.unlisted) {
            let hash = link.map(crate::service::secrets::hash_secret);
            let offering_link = match slot.offering_id {
                Some(id) => match self.store.offering(id).await {
                    Ok(offering) => offering.private_link_hash,
                    Err(StorageError::NotFound) => None,
                    Err(other) => return Err(other.into()),
                },
                None => None,
            };
            let opened = [&policy.private_link_hash, &offering_link].into_iter().any(|kept| {
                matches!((kept, &hash), (Some(kept), Some(given)) if crate::service::secrets::same_secret(kept, given))
            });
            if !opened {
                return Err(AppError::NotFound("slot"));
            }
        }
        Ok((slot, advisor))
    }

    /// Asks for one of our slots, for a local learner or for a remote one
    /// (`origin`: the `Join` or note it came by, recorded once).
    pub async fn request_slot_from(
        &self,
        learner: &User,
        slot: crate::storage::Slot,
        note: &str,
        answers: &serde_json::Value,
        origin: Option<Origin<'_>>,
    ) -> Result<Request, AppError> {
        let slot_id = slot.id;
        let note = crate::domain::validation_text("note", "A note", note, NOTE_MAX)?;
        let answers = answer_map(answers)?;
        check_not_suspended(&self.store.user_by_id(slot.advisor_id).await?)?;
        self.check_karma_allows_requests(learner).await?;
        let block = self.store.block(slot.block_id).await.map_err(AppError::missing("slot"))?;
        let questions = self.questions_for_block(&block).await?;
        let answers = serde_json::to_string(&questions::answers(&questions, &answers)?).unwrap_or_else(|_| "{}".into());
        let policy = effective_policy(&self.policy_for_block(&block).await?, &block);
        let week = week_of(slot.starts_at, &block.timezone);
        let now = self.clock.now();
        let learner_id = learner.id;
        let outcome = self
            .store
            .create_request(
                slot_id,
                learner.id,
                week,
                |ctx| {
                    let slot = SlotView {
                        start: Timestamp::from_millisecond(ctx.slot_start).unwrap_or(Timestamp::MIN),
                        cancelled: ctx.slot_cancelled,
                        booked: ctx.slot_booked,
                        hidden_by_busy_time: ctx.slot_busy,
                    };
                    let who = LearnerView {
                        is_advisor_of_slot: ctx.advisor_id == learner_id,
                        live_requests_that_week: ctx.live_requests_in_week.max(0) as u32,
                        already_requested_this_slot: ctx.already_requested,
                    };
                    booking::check_request(slot, who, &policy, now)?;
                    Ok(if policy.approval_required { RequestStatus::Requested } else { RequestStatus::Approved })
                },
                RequestText { note: &note, answers: &answers, origin },
                now.as_millisecond(),
            )
            .await?;
        self.availability_changed(slot.advisor_id);
        let request = outcome.map_err(|refusal: Refusal| refused(refusal, &policy))?;
        self.after_booking_change(&[request.id], false);
        Ok(request)
    }

    /// Approves, declines or cancels a request, as its advisor or learner.
    pub async fn decide(&self, user: &User, request_id: i64, action: Action, note: &str) -> Result<Decided, AppError> {
        self.decide_by(user, request_id, action, note, None).await
    }

    /// [`App::decide`], once per remote `activity` when one causes it.
    pub async fn decide_by(
        &self,
        user: &User,
        request_id: i64,
        action: Action,
        note: &str,
        activity: Option<&str>,
    ) -> Result<Decided, AppError> {
        let note = crate::domain::validation_text("note", "A note", note, NOTE_MAX)?;
        let now = self.clock.now_ms();
        let user_id = user.id;
        // Read by the check, for whether the change may cost karma.
        let slot_start = std::sync::atomic::AtomicI64::new(i64::MAX);
        let outcome = self
            .store
            .decide_request(
                request_id,
                user.id,
                |ctx| {
                    let role = if ctx.request.advisor_id == user_id {
                        Role::Advisor
                    } else if ctx.request.learner_id == user_id {
                        Role::Learner
                    } else {
                        return Err(Decision::NotYours);
                    };
                    slot_start.store(ctx.slot_start, std::sync::atomic::Ordering::Relaxed);
                    let from = ctx.request.status;
                    let next = booking::transition(from, action, role).map_err(|e| Decision::Refused(e.code()))?;
                    if action == Action::Approve && ctx.slot_start <= now {
                        return Err(Decision::Refused("slot_past"));
                    }
                    Ok(next)
                },
                &note,
                SLOT_FILLED_NOTE,
                activity,
                now,
            )
            .await;
        match outcome {
            Ok(Ok(decided)) => {
                self.availability_changed(decided.request.advisor_id);
                let touched: Vec<i64> =
                    std::iter::once(decided.request.id).chain(decided.also_declined.iter().map(|r| r.id)).collect();
                // Only a late cancellation changes karma here (see `event_karma`).
                let start = slot_start.load(std::sync::atomic::Ordering::Relaxed);
                let karma = action == Action::Cancel
                    && match self.karma_rules().await {
                        Ok(rules) => start.saturating_sub(now) <= rules.late_cancel_minutes.saturating_mul(60_000),
                        Err(_) => true,
                    };
                self.after_booking_change(&touched, karma);
                if karma {
                    // A late cancellation's karma shows once it is answered.
                    self.settle_karma().await;
                }
                Ok(decided)
            }
            Ok(Err(Decision::NotYours)) | Err(StorageError::NotFound) => Err(AppError::NotFound("request")),
            Ok(Err(Decision::Refused(code))) => Err(AppError::Conflict(code, decision_message(code))),
            Err(other) => Err(other.into()),
        }
    }

    /// Removes one occurrence of a block (`date`) or the whole series
    /// ("remove the whole series"), cancelling every live request on the removed
    /// slots with `note`. Past slots stay as they were.
    pub async fn remove_block(
        &self,
        advisor: &User,
        block_id: i64,
        date: Option<&str>,
        note: &str,
    ) -> Result<Vec<Request>, AppError> {
        let note = crate::domain::validation_text("note", "A note", note, NOTE_MAX)?;
        let block = match self.store.block(block_id).await {
            Ok(block) if block.advisor_id == advisor.id => block,
            Ok(_) | Err(StorageError::NotFound) => return Err(AppError::NotFound("block")),
            Err(other) => return Err(other.into()),
        };
        if let Some(date) = date
            && date.parse::<Date>().is_err()
        {
            return Err(AppError::invalid("date", "invalid_date", format!("`{date}` is not a date like 2026-12-01.")));
        }
        let note =
            if note.is_empty() { "The advisor removed this time from their availability.".to_string() } else { note };
        let now = self.clock.now_ms();
        let cancelled = self.store.cancel_block_slots(block.id, date, now, advisor.id, &note, now).await?;
        self.availability_changed(advisor.id);
        // The advisor's cancellations may be late ones, which cost karma.
        self.after_booking_change(&cancelled.iter().map(|r| r.id).collect::<Vec<_>>(), true);
        self.settle_karma().await;
        Ok(cancelled)
    }

    /// Edits a block's own rules (approval, unlisted, notice, horizon, weekly
    /// limit); `None` inherits the advisor's setting. Its times stay: to move
    /// a block, remove it and add another.
    pub async fn update_block(
        &self,
        advisor: &User,
        block_id: i64,
        overrides: &BlockOverrides,
    ) -> Result<Block, AppError> {
        let block = self.block_of(advisor, block_id).await?;
        validate_overrides(overrides)?;
        let kept = BlockOverrides { buffer_minutes: block.buffer_minutes, ..overrides.clone() };
        self.store.update_block_overrides(block.id, &kept).await?;
        self.availability_changed(advisor.id);
        Ok(self.store.block(block.id).await?)
    }

    pub async fn block_of(&self, advisor: &User, block_id: i64) -> Result<Block, AppError> {
        match self.store.block(block_id).await {
            Ok(block) if block.advisor_id == advisor.id => Ok(block),
            Ok(_) | Err(StorageError::NotFound) => Err(AppError::NotFound("block")),
            Err(other) => Err(other.into()),
        }
    }

    /// One request with its slot, for either of its two people.
    pub async fn request_for(&self, user: &User, request_id: i64) -> Result<(Request, SessionEntry), AppError> {
        let request = match self.store.request(request_id).await {
            Ok(r) if r.advisor_id == user.id || r.learner_id == user.id => r,
            Ok(_) | Err(StorageError::NotFound) => return Err(AppError::NotFound("request")),
            Err(other) => return Err(other.into()),
        };
        let entry = self.store.session_entry(request_id).await?;
        // Seeing the request is reading what was said about it.
        self.store.mark_request_notifications_read(user.id, request_id, self.clock.now_ms()).await?;
        Ok((request, entry))
    }

    /// A slot and its advisor, for the request form.
    pub async fn slot_with_advisor(&self, slot_id: i64) -> Result<(Slot, User), AppError> {
        let slot = match self.store.slot(slot_id).await {
            Ok(slot) => slot,
            Err(StorageError::NotFound) => return Err(AppError::NotFound("slot")),
            Err(other) => return Err(other.into()),
        };
        let advisor = self.store.user_by_id(slot.advisor_id).await?;
        Ok((slot, advisor))
    }

    /// The Monday (in `zone`) of the week a slot is in, for calendar links.
    pub async fn slot_week(&self, slot_id: i64, zone: &str) -> Result<String, AppError> {
        let slot = self.store.slot(slot_id).await?;
        Ok(time_zone::local_date(slot.starts_at, zone).map(|d| d.to_string()).unwrap_or_default())
    }

    /// A request's event log as (what, who, note, when), for its two people.
    /// (The request and entry come from [`App::request_for`], which checked access.)
    pub async fn request_history(
        &self,
        request: &Request,
        entry: &SessionEntry,
    ) -> Result<Vec<(EventKind, String, String, i64)>, AppError> {
        let events = self.store.request_events(request.id).await?;
        Ok(events
            .into_iter()
            .map(|(kind, actor, note, at)| {
                let who = match actor {
                    Some(id) if id == request.advisor_id => format!("@{}", entry.advisor_username),
                    Some(id) if id == request.learner_id => format!("@{}", entry.learner_username),
                    _ => "Someone".to_string(),
                };
                (kind, who, note, at)
            })
            .collect())
    }

    /// A request's raw event log (kind, actor, note, at), for deciding which
    /// actions a page offers. (The caller checked access.)
    /// What `viewer` may do with their request now (see
    /// [`crate::domain::booking::permissions`]).
    pub async fn request_permissions(
        &self,
        viewer: &User,
        request: &Request,
        entry: &SessionEntry,
    ) -> Result<Permissions, AppError> {
        let events = self.store.request_events(request.id).await?;
        let now = self.clock.now();
        let at = |ms: i64| Timestamp::from_millisecond(ms).unwrap_or(now);
        let history: Vec<PastEvent> = events
            .iter()
            .map(|(kind, actor_id, _, created_at)| PastEvent { kind: *kind, actor_id: *actor_id, at: at(*created_at) })
            .collect();
        let role = if request.advisor_id == viewer.id { Role::Advisor } else { Role::Learner };
        let session = (at(entry.starts_at), at(entry.ends_at));
        Ok(booking::permissions(request.status, role, viewer.id, &history, session, now))
    }

    /// Requests and bookings of a person, as learner and as advisor.
    pub async fn my_sessions(&self, user: &User) -> Result<Vec<SessionEntry>, AppError> {
        Ok(self.store.sessions_of(user.id).await?)
    }

    /// The same, for slots starting in `[from, to)` (milliseconds).
    pub async fn sessions_between(&self, user: &User, from: i64, to: i64) -> Result<Vec<SessionEntry>, AppError> {
        Ok(self.store.sessions_between(user.id, from, to).await?)
    }
}

/// The advisor's booking rules as the settings form sends them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookingSettings {
    pub buffer_minutes: i64,
    pub min_notice_minutes: i64,
    pub horizon_days: i64,
    pub max_per_learner_week: i64,
    pub approval_required: bool,
    pub unlisted: bool,
    /// Requests may come without a note.
    pub note_optional: bool,
}

/// Checks the numbers of the booking rules form (each within its range).
pub fn check_settings(settings: &BookingSettings) -> Result<(), AppError> {
    validate_overrides(&BlockOverrides {
        buffer_minutes: Some(settings.buffer_minutes),
        min_notice_minutes: Some(settings.min_notice_minutes),
        horizon_days: Some(settings.horizon_days),
        max_per_learner_week: Some(settings.max_per_learner_week),
        approval_required: None,
        unlisted: None,
    })
}

/// Slots a learner can still ask for: open or requested, not busy.
fn bookable(slots: Vec<Slot>) -> impl Iterator<Item = Slot> {
    slots.into_iter().filter(|s| !s.busy && s.status.takes_requests())
}

enum Decision {
    NotYours,
    Refused(&'static str),
}

fn decision_message(code: &str) -> String {
    match code {
        "not_allowed" => "You cannot do that to this request.".into(),
        "already_decided" => "This request has already been decided or withdrawn.".into(),
        "slot_past" => "This slot has already started; it can no longer be approved.".into(),
        _ => "That is not possible now.".into(),
    }
}

fn refused(refusal: Refusal, policy: &Policy) -> AppError {
    let message = match refusal {
        Refusal::OwnSlot => "This is your own slot.".to_string(),
        Refusal::SlotPast => "This slot has already started.".into(),
        Refusal::SlotCancelled => "This slot was cancelled by the advisor.".into(),
        Refusal::SlotTaken => "Someone else has this slot already; pick another one.".into(),
        Refusal::InsideNotice => {
            format!("This advisor needs at least {} minutes' notice; pick a later slot.", policy.min_notice.as_mins())
        }
        Refusal::BeyondHorizon => format!(
            "This advisor takes requests at most {} days ahead; pick an earlier slot.",
            policy.horizon.as_hours() / 24
        ),
        Refusal::WeeklyLimit => format!(
            "You already have {} with this advisor that week, the most they allow.",
            crate::domain::plural::count(policy.max_per_learner_week, "session")
        ),
        Refusal::AlreadyRequested => "You have already asked for this slot.".into(),
    };
    AppError::Conflict(refusal.code(), message)
}

/// The policy of a block: its overrides over the advisor's defaults.
/// Refuses requests to an advisor an admin suspended, saying why.
fn check_not_suspended(advisor: &User) -> Result<(), AppError> {
    if advisor.suspended_at.is_some() {
        return Err(AppError::Conflict(
            "advisor_suspended",
            format!("@{} is not taking requests: the account is suspended.", advisor.username),
        ));
    }
    Ok(())
}

pub fn effective_policy(defaults: &AdvisorPolicy, block: &Block) -> Policy {
    let o = block.overrides();
    Policy {
        min_notice: SignedDuration::from_mins(o.min_notice_minutes.unwrap_or(defaults.min_notice_minutes)),
        horizon: SignedDuration::from_hours(24 * o.horizon_days.unwrap_or(defaults.horizon_days)),
        max_per_learner_week: o.max_per_learner_week.unwrap_or(defaults.max_per_learner_week).max(0) as u32,
        approval_required: o.approval_required.unwrap_or(defaults.approval_required),
    }
}

/// Monday 00:00 to the next Monday 00:00 in `zone`, around an instant.
pub(crate) fn week_of(ms: i64, zone: &str) -> (i64, i64) {
    let tz = TimeZone::get(zone).unwrap_or(TimeZone::UTC);
    let Ok(ts) = Timestamp::from_millisecond(ms) else { return (ms, ms) };
    let date = ts.to_zoned(tz.clone()).date();
    let monday = date.checked_sub((date.weekday().to_monday_zero_offset() as i64).days()).unwrap_or(date);
    let next = monday.checked_add(7.days()).unwrap_or(monday);
    let start = |d: Date| {
        tz.to_ambiguous_timestamp(d.to_datetime(Time::midnight()))
            .compatible()
            .map(|t| t.as_millisecond())
            .unwrap_or(ms)
    };
    (start(monday), start(next))
}

fn parse_block(input: &BlockInput, default_zone: &str) -> (Option<BlockRule>, FieldErrors) {
    let mut errors = FieldErrors::new();
    let zone = if input.timezone.trim().is_empty() { default_zone } else { input.timezone.as_str() };
    let timezone = errors.check(time_zone::parse("timezone", zone));
    let start = parse_local(&mut errors, "start", &input.start);
    let end = parse_local(&mut errors, "end", &input.end);
    let until = match input.repeat_weekly_until.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        None => None,
        Some(text) => match text.parse::<Date>() {
            Ok(date) => Some(date),
            Err(_) => {
                errors.add("repeat_weekly_until", "invalid_date", format!("`{text}` is not a date like 2027-01-31."));
                None
            }
        },
    };
    let mut days = Vec::new();
    for name in &input.weekdays {
        match parse_weekday(name) {
            Some(day) => days.push(day),
            None => errors.add("weekdays", "invalid_weekday", format!("`{name}` is not a weekday (mon … sun).")),
        }
    }
    if let (Some(s), Some(e)) = (start, end)
        && s.date() != e.date()
    {
        errors.add("end", "block_spans_days", "A block starts and ends on the same day.");
    }
    if !errors.is_empty() {
        return (None, errors);
    }
    let (Some(timezone), Some(start), Some(end)) = (timezone, start, end) else { return (None, errors) };
    let weekly = until.map(|u| (Weekdays::of(&days), u));
    (Some(BlockRule { timezone, start_date: start.date(), start: start.time(), end: end.time(), weekly }), errors)
}

fn parse_local(errors: &mut FieldErrors, field: &'static str, text: &str) -> Option<DateTime> {
    errors.check(local_time::parse(field, text))
}

fn parse_weekday(name: &str) -> Option<jiff::civil::Weekday> {
    use jiff::civil::Weekday::*;
    Some(match name.trim().to_ascii_lowercase().get(..3)? {
        "mon" => Monday,
        "tue" => Tuesday,
        "wed" => Wednesday,
        "thu" => Thursday,
        "fri" => Friday,
        "sat" => Saturday,
        "sun" => Sunday,
        _ => return None,
    })
}

fn rule_error(err: RuleError, session_minutes: i64) -> AppError {
    let (field, message) = match err {
        RuleError::UnknownZone => ("timezone", "That time zone is not known.".to_string()),
        RuleError::EndsBeforeStart => ("end", "The block must end after it starts.".into()),
        RuleError::UntilBeforeStart => ("repeat_weekly_until", "The series must end on or after its first day.".into()),
        RuleError::SeriesTooLong => (
            "repeat_weekly_until",
            format!("A weekly series can run at most {} days; add another later.", availability::MAX_SERIES_DAYS),
        ),
        RuleError::NoSession => (
            "end",
            format!("The block holds no {session_minutes}-minute session; make it longer or reduce the buffer."),
        ),
        RuleError::InPast => ("start", "This block starts in the past; availability starts now or later.".into()),
        RuleError::OutOfRange { latest, horizon_days } => (
            "start",
            format!(
                "A block can start at most {} days ahead (the booking horizon of {horizon_days} days plus {}): \
                 on {latest} at the latest.",
                horizon_days.max(0) + availability::HORIZON_MARGIN_DAYS,
                availability::HORIZON_MARGIN_DAYS
            ),
        ),
        RuleError::TooManyOccurrences { count, max } => (
            "repeat_weekly_until",
            format!("This series has {count} occurrences; this server allows at most {max} in one series."),
        ),
        RuleError::TooManySlots { open, adding, max } => (
            "start",
            format!(
                "This block would add {} to your {open} upcoming ones; this server allows at most {max} per \
                 advisor. Add a shorter block, or remove some first.",
                crate::domain::plural::count(adding as i64, "session")
            ),
        ),
    };
    AppError::invalid(field, err.code(), message)
}

pub(crate) fn validate_overrides(o: &BlockOverrides) -> Result<(), AppError> {
    let checks = [
        ("buffer_minutes", o.buffer_minutes, 0, 120),
        ("min_notice_minutes", o.min_notice_minutes, 0, 60 * 24 * 14),
        ("horizon_days", o.horizon_days, 1, 366),
        ("max_per_learner_week", o.max_per_learner_week, 0, 50),
    ];
    for (field, value, min, max) in checks {
        if let Some(v) = value
            && !(min..=max).contains(&v)
        {
            return Err(AppError::invalid(field, "out_of_range", format!("{field} must be between {min} and {max}.")));
        }
    }
    Ok(())
}

/// Answers arrive as a JSON object of texts keyed by question id.
fn answer_map(answers: &serde_json::Value) -> Result<BTreeMap<String, String>, AppError> {
    let invalid =
        || AppError::invalid("answers", "invalid_answers", "Answers must be an object of texts, by question id.");
    match answers {
        serde_json::Value::Null => Ok(BTreeMap::new()),
        serde_json::Value::Object(map) => {
            map.iter().map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())).ok_or_else(invalid)).collect()
        }
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_start_on_monday_in_the_advisors_zone() {
        // Sunday 2026-12-06 23:30 in Berlin is still the week of Monday 30 Nov.
        let sunday_night: Timestamp = "2026-12-06T22:30:00Z".parse().unwrap();
        let (start, end) = week_of(sunday_night.as_millisecond(), "Europe/Berlin");
        assert_eq!(Timestamp::from_millisecond(start).unwrap().to_string(), "2026-11-29T23:00:00Z");
        assert_eq!(Timestamp::from_millisecond(end).unwrap().to_string(), "2026-12-06T23:00:00Z");
        // …but in UTC it is already Monday 7 Dec.
        let (start, _) = week_of(sunday_night.as_millisecond(), "UTC");
        assert_eq!(Timestamp::from_millisecond(start).unwrap().to_string(), "2026-11-30T00:00:00Z");
    }

    #[test]
    fn block_input_is_parsed_and_checked() {
        let input = BlockInput {
            start: "2026-12-01T14:00".into(),
            end: "2026-12-01T15:00".into(),
            timezone: "Europe/Berlin".into(),
            repeat_weekly_until: Some("2027-01-31".into()),
            weekdays: vec!["Tue".into(), "thursday".into()],
            ..Default::default()
        };
        let (rule, errors) = parse_block(&input, "UTC");
        assert!(errors.is_empty());
        let rule = rule.unwrap();
        assert_eq!(rule.weekly.unwrap().0.days().len(), 2);
        let bad = BlockInput { end: "2026-12-02T15:00".into(), weekdays: vec!["funday".into()], ..input.clone() };
        let (rule, errors) = parse_block(&bad, "UTC");
        assert!(rule.is_none());
        assert_eq!(errors.0.iter().map(|e| e.code).collect::<Vec<_>>(), vec!["invalid_weekday", "block_spans_days"]);
        let zone = BlockInput { timezone: "Nowhere/Land".into(), start: "yesterday".into(), ..input };
        let (_, errors) = parse_block(&zone, "UTC");
        assert_eq!(errors.0.iter().map(|e| e.code).collect::<Vec<_>>(), vec!["unknown_timezone", "invalid_datetime"]);
    }
}
