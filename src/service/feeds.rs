//! Calendar subscriptions and downloads (C1).
//!
//! A feed token is derived, not stored: HMAC-SHA256 over the person and the
//! feed's generation with the instance secret key. The database keeps only
//! the token's SHA-256, so a leaked database does not give away anyone's
//! calendar, yet the settings page and `GET /api/v1/me/calendar-feed` can
//! show the same URL again. Rotating bumps the generation (the old URL stops
//! working); revoking clears the hash.

use jiff::{SignedDuration, Timestamp};

use crate::calendar::feed::{self, EventState, FeedEvent};
use crate::domain::booking::RequestStatus;
use crate::domain::offering;
use crate::service::App;
use crate::service::secrets::{hash_secret, same_secret};
use crate::storage::{FeedOccurrence, FeedSession, Request, User};

use super::AppError;

/// Cancelled and declined sessions stay in feeds this long, so subscribed
/// calendars learn about the cancellation.
const CANCELLED_KEPT_DAYS: i64 = 30;

/// What the settings page shows about a person's feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedState {
    pub url: String,
    pub include_blocks: bool,
}

impl App {
    /// The person's feed URL, creating the feed on the first call.
    pub async fn calendar_feed_url(&self, user: &User) -> Result<FeedState, AppError> {
        for _ in 0..3 {
            let current = self.store.calendar_feed(user.id).await?;
            if let Some(feed) = &current
                && let Some(hash) = &feed.token_hash
            {
                let token = self.feed_token(user.id, feed.generation);
                if same_secret(&hash_secret(&token), hash) {
                    return Ok(FeedState { url: self.feed_url(&token), include_blocks: feed.include_blocks });
                }
            }
            // None yet, revoked, or made with another secret key: start anew.
            let generation = current.as_ref().map_or(1, |f| f.generation + 1);
            let include_blocks = current.as_ref().is_some_and(|f| f.include_blocks);
            let token = self.feed_token(user.id, generation);
            if self
                .store
                .start_feed_generation(user.id, generation, &hash_secret(&token), include_blocks, self.clock.now_ms())
                .await?
            {
                return Ok(FeedState { url: self.feed_url(&token), include_blocks });
            }
        }
        Err(AppError::Conflict("feed_busy", "The calendar link changed at the same moment; try again.".into()))
    }

    /// The feed's state without creating one (`None`: no feed, or revoked).
    pub async fn calendar_feed_state(&self, user: &User) -> Result<Option<FeedState>, AppError> {
        match self.store.calendar_feed(user.id).await? {
            Some(feed) if feed.token_hash.is_some() => Ok(Some(self.calendar_feed_url(user).await?)),
            _ => Ok(None),
        }
    }

    /// A new URL; the old one answers 404 from now on.
    pub async fn rotate_calendar_feed(&self, user: &User) -> Result<FeedState, AppError> {
        let current = self.store.calendar_feed(user.id).await?;
        let generation = current.as_ref().map_or(1, |f| f.generation + 1);
        let include_blocks = current.as_ref().is_some_and(|f| f.include_blocks);
        let token = self.feed_token(user.id, generation);
        if !self
            .store
            .start_feed_generation(user.id, generation, &hash_secret(&token), include_blocks, self.clock.now_ms())
            .await?
        {
            return Err(AppError::Conflict(
                "feed_busy",
                "The calendar link changed at the same moment; try again.".into(),
            ));
        }
        Ok(FeedState { url: self.feed_url(&token), include_blocks })
    }

    pub async fn revoke_calendar_feed(&self, user: &User) -> Result<(), AppError> {
        Ok(self.store.revoke_feed(user.id, self.clock.now_ms()).await?)
    }

    /// Whether an advisor's feed also lists their open availability.
    pub async fn set_feed_blocks(&self, user: &User, include: bool) -> Result<FeedState, AppError> {
        self.calendar_feed_url(user).await?;
        self.store.set_feed_blocks(user.id, include, self.clock.now_ms()).await?;
        self.calendar_feed_url(user).await
    }

    /// The feed behind a token, as iCalendar text. Unknown, revoked and
    /// rotated tokens, and suspended owners, all look the same: not found.
    pub async fn calendar_feed(&self, token: &str) -> Result<String, AppError> {
        let token = token.strip_suffix(".ics").unwrap_or(token);
        if token.len() != 43 || !token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(AppError::NotFound("calendar"));
        }
        let feed = self.store.feed_by_token_hash(&hash_secret(token)).await?.ok_or(AppError::NotFound("calendar"))?;
        let user = self.store.user_by_id(feed.user_id).await?;
        if user.suspended_at.is_some() {
            return Err(AppError::NotFound("calendar"));
        }
        let now = self.clock.now();
        let since = now.checked_sub(SignedDuration::from_hours(24 * CANCELLED_KEPT_DAYS)).unwrap_or(now);
        let sessions = self.store.feed_sessions(user.id, since.as_millisecond()).await?;
        let mut events: Vec<FeedEvent> = sessions.iter().map(|s| self.session_event(&user, s)).collect();
        if feed.include_blocks && user.is_advisor {
            let occurrences = self.store.feed_occurrences(user.id, since.as_millisecond()).await?;
            events.extend(occurrences.iter().map(|o| self.occurrence_event(o)));
        }
        let name = format!("{} — {}", self.config.instance_name, user.name());
        Ok(feed::calendar(&name, &self.config.domain, &events))
    }

    /// One session as a calendar event, for its two people.
    pub async fn session_event_for(&self, user: &User, request_id: i64) -> Result<FeedEvent, AppError> {
        let (request, _) = self.request_for(user, request_id).await?;
        self.session_event_of(user, &request).await
    }

    /// The same for a request already loaded (its page has it).
    pub async fn session_event_of(&self, user: &User, request: &Request) -> Result<FeedEvent, AppError> {
        if request.advisor_id != user.id && request.learner_id != user.id {
            return Err(AppError::NotFound("request"));
        }
        let session = self.store.feed_session(request.id).await?;
        Ok(self.session_event(user, &session))
    }

    /// One session as an `.ics` file.
    pub async fn session_ics(&self, user: &User, request_id: i64) -> Result<String, AppError> {
        let event = self.session_event_for(user, request_id).await?;
        Ok(feed::calendar(&event.summary.clone(), &self.config.domain, &[event]))
    }

    fn session_event(&self, viewer: &User, s: &FeedSession) -> FeedEvent {
        let as_advisor = s.advisor_id == viewer.id;
        let other = if as_advisor {
            crate::domain::account::shown_name(&s.learner_name, &s.learner_username)
        } else {
            crate::domain::account::shown_name(&s.advisor_name, &s.advisor_username)
        };
        let (state, prefix) = match s.status {
            RequestStatus::Approved => (EventState::Confirmed, ""),
            RequestStatus::Requested => (EventState::Tentative, "Requested: "),
            RequestStatus::Declined | RequestStatus::Cancelled => (EventState::Cancelled, "Cancelled: "),
        };
        let title = s.offering_title.as_deref().unwrap_or(offering::DEFAULT_TITLE);
        let about = s.offering_description.as_deref().unwrap_or_default();
        let summary = if offering::is_named(title, about) {
            format!("{prefix}{title} with {other}")
        } else {
            format!("{prefix}Office hours with {other}")
        };
        let link = self.config.link(&format!("/requests/{}", s.request_id));
        let minutes = (s.ends_at - s.starts_at) / 60_000;
        let mut description =
            format!("{minutes}-minute session on {} with {other}.\nSession page: {link}", self.config.instance_name);
        let headline = offering::headline(title, about);
        if !headline.is_empty() {
            description = format!("{headline}\n{description}");
        }
        // A confirmed session's calendar entry leads to its room (the
        // viewer's own link, which opens on a phone without logging in).
        let url = if s.status == RequestStatus::Approved {
            let room = self.room_link(s.request_id, viewer.id);
            description = format!("{description}\nRoom (opens 5 minutes before the start): {room}");
            room
        } else {
            link
        };
        if !s.note.is_empty() {
            description.push_str("\n\nNote: ");
            description.push_str(&s.note);
        }
        FeedEvent {
            uid: format!("request-{}@{}", s.request_id, self.config.domain),
            start: ms(s.starts_at),
            end: ms(s.ends_at),
            summary,
            description,
            url: Some(url),
            state,
            sequence: s.changes.clamp(0, u32::MAX as i64) as u32,
            created: ms(s.created_at),
            last_modified: ms(s.updated_at),
            transparent: false,
        }
    }

    fn occurrence_event(&self, o: &FeedOccurrence) -> FeedEvent {
        let link = self.config.link(&format!("/calendar?week={}", o.occurrence_date));
        let open = o.open_slots > 0;
        FeedEvent {
            uid: format!("block-{}-{}@{}", o.block_id, o.occurrence_date, self.config.domain),
            start: ms(o.starts_at),
            end: ms(o.ends_at),
            summary: if open { "Open office hours".into() } else { "Cancelled: open office hours".into() },
            description: format!("Your availability on {}. Calendar: {link}", self.config.instance_name),
            url: Some(link),
            state: if open { EventState::Confirmed } else { EventState::Cancelled },
            sequence: u32::from(!open),
            created: ms(o.created_at),
            last_modified: ms(o.changed_at.max(o.created_at)),
            transparent: true,
        }
    }

    fn feed_token(&self, user_id: i64, generation: i64) -> String {
        super::secrets::keyed_secret(&self.secret_key, &format!("calendar-feed\0{user_id}\0{generation}"))
    }

    fn feed_url(&self, token: &str) -> String {
        self.config.link(&format!("/feeds/{token}.ics"))
    }
}

fn ms(at: i64) -> Timestamp {
    Timestamp::from_millisecond(at).unwrap_or(Timestamp::UNIX_EPOCH)
}
