//! Publishing availability (F2): every block occurrence within the rolling
//! horizon becomes an `Event` for the advisor's followers. The publisher
//! runs with the background jobs (and right after changes): it builds each
//! occurrence's `Event`, compares its digest with what was sent, and queues
//! `Create`, `Update`, a cancelling `Update` (`eventStatus:
//! EventCancelled`) or `Delete` — one delivery per follower inbox (shared
//! inboxes once per instance). Unlisted offerings are never published, and
//! an occurrence that becomes unlisted is deleted.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use jiff::Timestamp;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::domain::booking::SlotState;
use crate::domain::federation::{OfferedState, PublishedStatus};
use crate::domain::{offering, time_zone};
use crate::service::App;
use crate::service::AppError;
use crate::service::offerings::OfferingLabel;
use crate::storage::{Fanout, PublishedEvent, Slot, User};

use super::follows::new_activity_id;
use super::objects::{Event, PUBLIC, SlotRef, event_context};
use super::{activity_json, actors, problem, wants_activity_json};

/// Milliseconds in a day.
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Publishes what changed for every advisor with availability ahead (or
/// events out there); returns how many activities were queued.
pub async fn publish_due(app: &App) -> Result<usize, AppError> {
    let mut queued = 0;
    let now = app.clock.now_ms();
    let horizon = now + app.config.federation_publish_days as i64 * DAY_MS;
    for advisor_id in app.advisors_to_publish(now, horizon).await? {
        let advisor = app.user_by_id(advisor_id).await?;
        if advisor.is_remote() {
            continue;
        }
        // One advisor's failure must not hold back everyone else's events.
        match publish_for(app, &advisor).await {
            Ok(n) => queued += n,
            Err(err) => {
                tracing::warn!(advisor = advisor.id, error = %err, "publishing events failed; retried next pass")
            }
        }
    }
    Ok(queued)
}

/// The events an advisor has out there now, by occurrence: (block, date).
type Occurrence = (i64, String);

/// Builds, compares and queues one advisor's events.
pub async fn publish_for(app: &App, advisor: &User) -> Result<usize, AppError> {
    let now = app.clock.now_ms();
    let horizon = now + app.config.federation_publish_days as i64 * DAY_MS;
    // A suspended advisor offers nothing: everything out there is deleted.
    let current = if advisor.suspended_at.is_some() {
        BTreeMap::new()
    } else {
        current_events(app, advisor, now, horizon).await?
    };
    let published: HashMap<Occurrence, PublishedEvent> = app
        .open_published_events(advisor.id)
        .await?
        .into_iter()
        .map(|p| ((p.block_id, p.occurrence_date.clone()), p))
        .collect();
    let inboxes = app.follower_inboxes(advisor.id).await?;
    let me = actors::person_id(app, &advisor.username)?;
    let followers = actors::link(app, &format!("/users/{}/followers", advisor.username))?;
    let mut records = Vec::new();
    let mut activities: Vec<Value> = Vec::new();
    for (key, event) in &current {
        let digest = digest_of(event);
        let ends_at = parse_ms(event.end_time.as_deref().unwrap_or(&event.start_time)).unwrap_or(now);
        let cancelled = event.is_cancelled();
        let (kind, status) = match published.get(key) {
            None if cancelled => continue,
            None => ("Create", PublishedStatus::Live),
            Some(p) if p.digest == digest => continue,
            Some(_) => ("Update", if cancelled { PublishedStatus::Cancelled } else { PublishedStatus::Live }),
        };
        let mut body = event.clone();
        body.updated = (kind == "Update").then(|| rfc3339(now));
        let object = serde_json::to_value(&body).map_err(|e| AppError::Internal(e.into()))?;
        activities.push(activity(app, kind, &me, &followers, object)?);
        records.push(record(advisor.id, key, &body, digest, status, ends_at));
    }
    for gone in published.iter().filter(|(key, _)| !current.contains_key(*key)).map(|(_, p)| p) {
        if gone.status == PublishedStatus::Live && gone.ends_at <= now {
            // Over: nothing to tell; it just leaves the collection.
            records.push(PublishedEvent { status: PublishedStatus::Ended, ..gone.clone() });
            continue;
        }
        // Cancelled and now over, or withdrawn (removed, made unlisted)
        // before it happened: followers drop it.
        let tombstone = json!({"id": gone.ap_id, "type": "Tombstone", "formerType": "Event"});
        activities.push(activity(app, "Delete", &me, &followers, tombstone)?);
        records.push(PublishedEvent { status: PublishedStatus::Deleted, ..gone.clone() });
    }
    if records.is_empty() {
        return Ok(0);
    }
    // Each activity once, with the inboxes it goes to (a row per inbox is
    // written by the database, not built here).
    let bodies: Vec<(&str, String)> =
        activities.iter().map(|a| (a["id"].as_str().unwrap_or_default(), a.to_string())).collect();
    let fanouts: Vec<Fanout> = bodies
        .iter()
        .map(|(id, body)| Fanout { activity_id: id, sender_id: advisor.id, body, inboxes: &inboxes })
        .collect();
    app.record_publication(&records, &fanouts).await?;
    if !inboxes.is_empty() && !activities.is_empty() {
        app.wake_jobs();
    }
    Ok(activities.len())
}

fn record(
    advisor_id: i64,
    key: &Occurrence,
    event: &Event,
    digest: String,
    status: PublishedStatus,
    ends_at: i64,
) -> PublishedEvent {
    PublishedEvent {
        block_id: key.0,
        occurrence_date: key.1.clone(),
        advisor_id,
        ap_id: event.id.to_string(),
        digest,
        status,
        ends_at,
        body: serde_json::to_string(event).unwrap_or_default(),
    }
}

pub(crate) fn activity(
    app: &App,
    kind: &str,
    me: &url::Url,
    followers: &url::Url,
    object: Value,
) -> Result<Value, AppError> {
    let id = new_activity_id(app, &kind.to_lowercase()).map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))?;
    Ok(json!({
        "@context": event_context(),
        "id": id,
        "type": kind,
        "actor": me,
        "to": [PUBLIC],
        "cc": [followers],
        "object": object,
    }))
}

/// The advisor's listed occurrences starting before `horizon` that have not
/// ended, as `Event`s.
async fn current_events(
    app: &App,
    advisor: &User,
    now: i64,
    horizon: i64,
) -> Result<BTreeMap<Occurrence, Event>, AppError> {
    // From a day back, so occurrences under way are still seen.
    let slots = app.slots_between(advisor.id, now - DAY_MS, horizon).await?;
    let defaults = app.advisor_policy(advisor.id).await?;
    let offerings: Vec<OfferingLabel> = app.offerings(advisor).await?.iter().map(|o| app.offering_label(o)).collect();
    let mut groups: BTreeMap<Occurrence, Vec<Slot>> = BTreeMap::new();
    for slot in slots {
        groups.entry((slot.block_id, slot.occurrence_date.clone())).or_default().push(slot);
    }
    let mut events = BTreeMap::new();
    let mut zones: HashMap<i64, String> = HashMap::new();
    for (key, slots) in groups {
        if slots.iter().map(|s| s.ends_at).max().unwrap_or(0) <= now {
            continue;
        }
        if slots.first().is_some_and(|s| s.unlisted(defaults.unlisted)) {
            continue;
        }
        // A removed series keeps its zone: its occurrences go out cancelled.
        let zone = match zones.get(&key.0) {
            Some(zone) => zone,
            None => {
                let zone = app.block_timezone(key.0).await?;
                zones.entry(key.0).or_insert(zone)
            }
        };
        // A block in no offering (made before offerings) is in the default one.
        let offering = match slots.first().and_then(|s| s.offering_id) {
            Some(id) => offerings.iter().find(|o| o.id == id),
            None => offerings.first(),
        };
        events.insert(key.clone(), build_event(app, advisor, offering, zone, &key, &slots, now)?);
    }
    Ok(events)
}

/// One occurrence as an `Event`: human summary for Mastodon, schema.org and
/// Mobilizon terms for event software, and our slot list for Officehours.
/// The offering's title names it, and its description leads the summary.
pub fn build_event(
    app: &App,
    advisor: &User,
    offering: Option<&OfferingLabel>,
    zone: &str,
    key: &Occurrence,
    slots: &[Slot],
    now: i64,
) -> Result<Event, AppError> {
    let start = slots.iter().map(|s| s.starts_at).min().unwrap_or(now);
    let end = slots.iter().map(|s| s.ends_at).max().unwrap_or(now);
    let live: Vec<&Slot> = slots.iter().filter(|s| s.status != SlotState::Cancelled).collect();
    let open = live.iter().filter(|s| s.status.takes_requests() && s.starts_at > now).count();
    let cancelled = live.is_empty();
    let minutes = slots.first().map(|s| (s.ends_at - s.starts_at) / 60_000).unwrap_or(10);
    let profile = actors::link(app, &format!("/users/{}", advisor.username))?;
    let when = format!("{}, {}", time_zone::format_day(start, zone), time_zone::format_span(start, end, zone));
    let (title, description) = offering.map(|o| (o.title.as_str(), o.description.as_str())).unwrap_or_default();
    let name = match offering {
        Some(o) if o.named => offering::event_name(&o.title, &o.description, advisor.name(), minutes),
        _ => format!("Office hours with {}", advisor.name()),
    };
    let headline = offering::headline(title, description);
    let (summary, content) = event_text(&EventText {
        headline: &headline,
        advisor: advisor.name(),
        minutes,
        when: &when,
        zone,
        open,
        live: live.len(),
        first: &time_zone::format_time(start, zone),
        profile: profile.as_str(),
        cancelled,
    });
    let slot_refs = slots
        .iter()
        .map(|s| {
            let state = OfferedState::of(s.status, s.starts_at <= now);
            Ok(SlotRef {
                id: actors::link(app, &format!("/slots/{}", s.id))?,
                start_time: rfc3339_in(s.starts_at, zone),
                end_time: rfc3339_in(s.ends_at, zone),
                state: state.to_text(),
            })
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    Ok(Event {
        context: event_context(),
        id: actors::link(app, &format!("/events/{}/{}", key.0, key.1))?,
        kind: "Event".into(),
        attributed_to: Some(actors::person_id(app, &advisor.username)?),
        actor: None,
        name,
        summary: Some(summary),
        content: Some(content),
        start_time: rfc3339_in(start, zone),
        end_time: Some(rfc3339_in(end, zone)),
        timezone: Some(zone.to_string()),
        url: Some(profile.clone()),
        join_mode: Some("restricted".into()),
        maximum_attendee_capacity: Some(live.len() as i64),
        remaining_attendee_capacity: Some(open as i64),
        event_status: Some(if cancelled { "EventCancelled" } else { "EventScheduled" }.into()),
        ical_status: Some(if cancelled { "CANCELLED" } else { "CONFIRMED" }.into()),
        category: None,
        location: json!({"type": "VirtualLocation", "name": "Voice session", "url": profile}),
        to: vec![PUBLIC.into()],
        cc: vec![actors::link(app, &format!("/users/{}/followers", advisor.username))?.to_string()],
        published: None,
        updated: None,
        slots: slot_refs,
    })
}

/// What an occurrence says, before it is worded.
struct EventText<'a> {
    /// The offering's title and description, when the advisor named it.
    headline: &'a str,
    advisor: &'a str,
    minutes: i64,
    /// Day and span, e.g. `Tue 1 Dec, 14:00–15:00 CET`.
    when: &'a str,
    zone: &'a str,
    open: usize,
    live: usize,
    /// The first slot's start, as an example time to name.
    first: &'a str,
    profile: &'a str,
    cancelled: bool,
}

/// The event's `summary` (plain text) and `content` (HTML).
///
/// Servers read them differently (see docs/FEDERATION.md, "How our
/// activities look on other servers"): Mastodon shows an `Event` as its
/// `name`, its `summary` and a link to its `url`, and ignores `content`;
/// Misskey, GoToSocial and Pleroma/Akkoma show the `summary` as a content
/// warning in front of the `content`, and Mastodon-API clients print a
/// content warning as text. So the summary carries the whole message as
/// plain text (no tags, no entities, no angle brackets — Mastodon inserts
/// it into HTML), and the content is the same as HTML with the link.
fn event_text(t: &EventText) -> (String, String) {
    let plain = |text: &str| text.replace('<', "‹").replace('>', "›");
    if t.cancelled {
        let summary = format!("Cancelled: {} office hours on {} ({}).", plain(t.advisor), t.when, t.zone);
        let content = format!("<p>Cancelled: {} office hours on {} ({}).</p>", html_escape(t.advisor), t.when, t.zone);
        return (summary, content);
    }
    let summary = format!(
        "{} offers {}-minute sessions on {} ({}): {} of {} open.\nReply to this post to request a session \
         (name a time, e.g. {}), or book at {}",
        plain(t.advisor),
        t.minutes,
        t.when,
        t.zone,
        t.open,
        t.live,
        t.first,
        t.profile,
    );
    let (summary, lead) = match t.headline {
        "" => (summary, String::new()),
        headline => (format!("{}\n{summary}", plain(headline)), format!("<p>{}</p>", html_escape(headline))),
    };
    let content = format!(
        "{lead}<p>{advisor} offers {minutes}-minute sessions on {when} ({zone}): {open} of {live} open.</p>\
         <p>Reply to this post to request a session (name a time, e.g. {first}), or book at \
         <a href=\"{profile}\">{profile}</a>.</p>",
        advisor = html_escape(t.advisor),
        minutes = t.minutes,
        when = t.when,
        zone = t.zone,
        open = t.open,
        live = t.live,
        first = t.first,
        profile = html_escape(t.profile),
    );
    (summary, content)
}

/// The digest of what followers see (the `updated` stamp aside).
fn digest_of(event: &Event) -> String {
    let mut event = event.clone();
    event.updated = None;
    let bytes = serde_json::to_vec(&event).unwrap_or_default();
    let hash = Sha256::digest(&bytes);
    hash.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

fn rfc3339(ms: i64) -> String {
    Timestamp::from_millisecond(ms).map(|t| t.to_string()).unwrap_or_default()
}

/// RFC 3339 with the zone's offset: `2026-12-01T14:00:00+01:00`.
pub fn rfc3339_in(ms: i64, zone: &str) -> String {
    let tz = jiff::tz::TimeZone::get(zone).unwrap_or(jiff::tz::TimeZone::UTC);
    match Timestamp::from_millisecond(ms) {
        Ok(ts) => ts.to_zoned(tz).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        Err(_) => String::new(),
    }
}

/// Milliseconds of an RFC 3339 instant.
pub fn parse_ms(text: &str) -> Option<i64> {
    text.parse::<Timestamp>().ok().map(|t| t.as_millisecond())
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// `GET /events/{block}/{date}`: the event as last published (JSON), or the
/// advisor's profile for browsers. Deleted events are gone (410).
pub async fn serve_event(
    State(app): State<App>,
    Path((block, date)): Path<(i64, String)>,
    headers: HeaderMap,
) -> Response {
    let Ok(id) = actors::link(&app, &format!("/events/{block}/{date}")) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let published = match app.published_event(id.as_str()).await {
        Ok(Some(p)) => p,
        Ok(None) => return problem(StatusCode::NOT_FOUND, "No such event."),
        Err(err) => return failed(err),
    };
    if published.status == PublishedStatus::Deleted {
        return problem(StatusCode::GONE, "This event was withdrawn.");
    }
    if !wants_activity_json(&headers) {
        return match app.user_by_id(published.advisor_id).await {
            Ok(user) => Redirect::to(&format!("/users/{}", user.username)).into_response(),
            Err(err) => failed(err),
        };
    }
    match serde_json::from_str::<Value>(&published.body) {
        Ok(body) => activity_json(&body),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The `upcomingEvents` collection (FEP-8a8e) of an advisor: their live
/// events, embedded, soonest first.
pub async fn upcoming_collection(app: &App, user: &User) -> Result<Value, AppError> {
    let now = app.clock.now_ms();
    let events = app.live_published_events(user.id, now).await?;
    let items: Vec<Value> = events.iter().filter_map(|p| serde_json::from_str(&p.body).ok()).collect();
    let id = actors::link(app, &format!("/users/{}/events", user.username))?;
    Ok(json!({
        "@context": event_context(),
        "id": id,
        "type": "OrderedCollection",
        "totalItems": items.len(),
        "orderedItems": items,
    }))
}

fn failed(err: AppError) -> Response {
    let err = super::FederationError::from(err);
    problem(err.status(), &err.message())
}

/// A new follower gets the advisor's live events as `Create`s (the
/// publisher only sends changes), queued durably to its inbox.
pub async fn send_live_events_to(app: &App, advisor: &User, inbox: &str) -> Result<usize, AppError> {
    let now = app.clock.now_ms();
    let live = app.live_published_events(advisor.id, now).await?;
    if live.is_empty() {
        return Ok(0);
    }
    let me = actors::person_id(app, &advisor.username)?;
    let followers = actors::link(app, &format!("/users/{}/followers", advisor.username))?;
    let mut creates = Vec::with_capacity(live.len());
    for event in &live {
        let object: Value = serde_json::from_str(&event.body).map_err(|e| AppError::Internal(e.into()))?;
        let create = activity(app, "Create", &me, &followers, object)?;
        creates.push((create["id"].as_str().unwrap_or_default().to_string(), create.to_string()));
    }
    let inboxes = [inbox.to_string()];
    let fanouts: Vec<Fanout> = creates
        .iter()
        .map(|(id, body)| Fanout { activity_id: id, sender_id: advisor.id, body, inboxes: &inboxes })
        .collect();
    app.record_publication(&[], &fanouts).await?;
    app.wake_jobs();
    Ok(creates.len())
}

#[cfg(test)]
mod tests {
    use super::{EventText, event_text};

    fn text(advisor: &str, cancelled: bool) -> EventText<'_> {
        EventText {
            headline: "",
            advisor,
            minutes: 10,
            when: "Tue 1 Dec, 14:00–15:00 CET",
            zone: "Europe/Berlin",
            open: 5,
            live: 6,
            first: "14:00",
            profile: "https://hours.example/users/ada",
            cancelled,
        }
    }

    #[test]
    fn the_summary_is_plain_text_with_the_whole_message_and_the_content_is_html() {
        let (summary, content) = event_text(&text("Ada <Lovelace> & co", false));
        // Mastodon shows only name + summary + url of an Event; Misskey,
        // GoToSocial and Akkoma show the summary as a content warning, as
        // text: no markup, and everything a reader needs is in it.
        assert_eq!(
            summary,
            "Ada ‹Lovelace› & co offers 10-minute sessions on Tue 1 Dec, 14:00–15:00 CET (Europe/Berlin): \
             5 of 6 open.\nReply to this post to request a session (name a time, e.g. 14:00), or book at \
             https://hours.example/users/ada"
        );
        assert!(!summary.contains('<') && !summary.contains('>'), "{summary}");
        assert_eq!(
            content,
            "<p>Ada &lt;Lovelace&gt; &amp; co offers 10-minute sessions on Tue 1 Dec, 14:00–15:00 CET \
             (Europe/Berlin): 5 of 6 open.</p><p>Reply to this post to request a session (name a time, e.g. \
             14:00), or book at <a href=\"https://hours.example/users/ada\">https://hours.example/users/ada</a>.</p>"
        );
    }

    #[test]
    fn a_named_offering_leads_the_summary_and_the_content() {
        let named = EventText { headline: "Career advice: For <new> engineers.", ..text("Ada", false) };
        let (summary, content) = event_text(&named);
        assert!(summary.starts_with("Career advice: For ‹new› engineers.\nAda offers 10-minute sessions"), "{summary}");
        assert!(content.starts_with("<p>Career advice: For &lt;new&gt; engineers.</p><p>Ada offers"), "{content}");
    }

    #[test]
    fn a_cancelled_occurrence_says_so_in_both() {
        let (summary, content) = event_text(&text("Ada", true));
        assert_eq!(summary, "Cancelled: Ada office hours on Tue 1 Dec, 14:00–15:00 CET (Europe/Berlin).");
        assert_eq!(content, "<p>Cancelled: Ada office hours on Tue 1 Dec, 14:00–15:00 CET (Europe/Berlin).</p>");
    }
}
