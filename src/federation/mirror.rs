//! Remote availability here (F2, receiving side): `Create`/`Update` of an
//! `Event` from an advisor someone here follows is mirrored as a block with
//! its slots under the advisor's shadow account; `Delete` withdraws it. An
//! actor can only change events it owns (the id on its server, attributed
//! to it, and not already mirrored for someone else). Events from
//! Mobilizon or Gancio, which list no slots, become one slot spanning the
//! event.
//!
//! Learners can also look before anything arrives: listing a remote
//! advisor's slots fetches their `upcomingEvents` collection (at most every
//! ten minutes).

use activitypub_federation::config::Data;
use activitypub_federation::fetch::fetch_object_http;
use activitypub_federation::protocol::verification::verify_domains_match;
use jiff::Timestamp;
use serde_json::Value;
use url::Url;

use crate::domain::federation::OfferedState;
use crate::service::App;
use crate::storage::{MirroredEvent, MirroredSlot, Slot, User};

use super::context::FedData;
use super::error::FederationError;
use super::events::parse_ms;
use super::objects::Event;
use super::remote::{Remote, resolve_handle};
use super::tolerant::{self, Reference};

/// Mirrors an `Event` from `actor`: from a `Create` or `Update` (its id
/// `activity`, applied once) or from a fetched collection (`None`).
pub async fn receive_event(
    app: &App,
    actor: &Remote,
    object: &Value,
    activity: Option<&str>,
) -> Result<(), FederationError> {
    let event = Event::read(object)?;
    mirror(app, actor, &event, activity).await
}

async fn mirror(app: &App, actor: &Remote, event: &Event, activity: Option<&str>) -> Result<(), FederationError> {
    verify_domains_match(&event.id, &actor.id)?;
    if event.owner() != Some(&actor.id) {
        return Err(FederationError::Forbidden("An actor can only publish its own events.".into()));
    }
    Ok(app.mirror_remote_event(&actor.row, &to_mirror(event)?, activity).await?)
}

/// `Delete` (activity id `activity`, applied once) of an event, by id or
/// tombstone, from its owner.
pub async fn delete_event(app: &App, actor: &Remote, id: &Url, activity: &str) -> Result<bool, FederationError> {
    verify_domains_match(id, &actor.id)?;
    Ok(app.withdraw_remote_event(&actor.row, id.as_str(), activity).await?)
}

/// An `Event` as a one-occurrence block with slots, in the event's zone.
pub fn to_mirror(event: &Event) -> Result<MirroredEvent, FederationError> {
    let zone = event.timezone.clone().filter(|z| jiff::tz::TimeZone::get(z).is_ok()).unwrap_or_else(|| "UTC".into());
    let start = parse_ms(&event.start_time)
        .ok_or_else(|| FederationError::Invalid("The event's startTime is not an RFC 3339 time.".into()))?;
    let end = match event.end_time.as_deref() {
        Some(end) => {
            parse_ms(end).ok_or_else(|| FederationError::Invalid("The event's endTime is not valid.".into()))?
        }
        None => start + 60 * 60 * 1000,
    };
    if end <= start {
        return Err(FederationError::Invalid("The event ends before it starts.".into()));
    }
    let mut slots = Vec::new();
    for slot in &event.slots {
        verify_domains_match(&slot.id, &event.id)?;
        let (Some(s), Some(e)) = (parse_ms(&slot.start_time), parse_ms(&slot.end_time)) else {
            return Err(FederationError::Invalid("A slot's times are not valid.".into()));
        };
        if e <= s {
            return Err(FederationError::Invalid("A slot ends before it starts.".into()));
        }
        slots.push(MirroredSlot {
            ap_id: slot.id.to_string(),
            starts_at: s,
            ends_at: e,
            open: OfferedState::parse(&slot.state) == Some(OfferedState::Open),
            cancelled: OfferedState::parse(&slot.state) == Some(OfferedState::Cancelled),
        });
    }
    if slots.len() > 200 {
        return Err(FederationError::Invalid("An event lists at most 200 slots.".into()));
    }
    if slots.is_empty() {
        // Event software without our extension: the event is one slot.
        let full = event.remaining_attendee_capacity == Some(0);
        slots.push(MirroredSlot {
            ap_id: event.id.to_string(),
            starts_at: start,
            ends_at: end,
            open: !full,
            cancelled: false,
        });
    }
    let local = |ms: i64| {
        let tz = jiff::tz::TimeZone::get(&zone).unwrap_or(jiff::tz::TimeZone::UTC);
        Timestamp::from_millisecond(ms).map(|t| t.to_zoned(tz)).ok()
    };
    let (Some(s), Some(e)) = (local(start), local(end)) else {
        return Err(FederationError::Invalid("The event's times are out of range.".into()));
    };
    let minutes = slots.first().map(|s| (s.ends_at - s.starts_at) / 60_000).unwrap_or(10).clamp(1, 24 * 60);
    Ok(MirroredEvent {
        ap_id: event.id.to_string(),
        timezone: zone.clone(),
        date: s.date().to_string(),
        start_time: s.strftime("%H:%M").to_string(),
        end_time: e.strftime("%H:%M").to_string(),
        session_minutes: minutes,
        cancelled: event.is_cancelled(),
        slots,
        version: event.updated.as_deref().or(event.published.as_deref()).and_then(parse_ms).unwrap_or(0),
    })
}

/// A remote advisor's upcoming slots, as mirrored here (refreshed from
/// their `upcomingEvents` collection when stale or empty).
pub async fn remote_slots(data: &Data<FedData>, handle: &str) -> Result<(Remote, User, Vec<Slot>), FederationError> {
    let app = data.app();
    let remote = resolve_handle(data, handle).await?;
    // Fetched at most once per remote-actor cache lifetime (10 minutes).
    let key = format!("upcoming:{}", remote.id);
    if data.remote_actors.get(&key).is_none() {
        match refresh_upcoming(data, &remote).await {
            Ok(()) => {
                data.remote_actors.insert(key, std::sync::Arc::new(remote.clone()));
            }
            Err(err) => tracing::info!(actor = %remote.id, error = %err, "could not fetch upcoming events"),
        }
    }
    let (advisor, slots) = app.remote_advisor_slots(&remote.row, 92).await?;
    Ok((remote, advisor, slots))
}

/// Fetches an actor's `upcomingEvents` collection and mirrors its events.
async fn refresh_upcoming(data: &Data<FedData>, remote: &Remote) -> Result<(), FederationError> {
    let app = data.app();
    let actor: Value = fetch_object_http(&remote.id, data).await?.object;
    let Some(url) = actor.get("upcomingEvents").and_then(Reference::of).map(|r| r.id) else {
        return Ok(());
    };
    verify_domains_match(&url, &remote.id)?;
    let collection: Value = fetch_object_http(&url, data).await?.object;
    let items = tolerant::values(collection.get("orderedItems").or_else(|| collection.get("items")));
    for item in items.iter().take(200) {
        if let Err(err) = receive_event(app, remote, item, None).await {
            tracing::info!(actor = %remote.id, error = %err, "skipped an upcoming event");
        }
    }
    Ok(())
}
