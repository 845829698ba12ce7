//! Wire types of the objects we publish and read: availability as `Event`s
//! (with our slot extension), notes (Mastodon replies, mentions, direct
//! messages), and the generic shape every received activity is read as.
//! Every type is read through the shared shapes of [`super::tolerant`].
//! Behaviour lives in `events`, `mirror`, `requests` and `messages`.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

pub use super::tolerant::Tag;
use super::tolerant::{
    self, Address, Kind, Lenient, OneOrMany, Reference, Text, Time, Unreadable, addresses, all_or_nothing, language,
    time_field,
};

/// `as:Public`, in the forms servers send it.
pub const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

/// Our JSON-LD namespace for the slot extension.
pub const OFFICEHOURS_NS: &str = "https://officehours.dev/ns#";

/// Whether an address list makes an object public.
pub fn is_public(addresses: &[String]) -> bool {
    addresses.iter().any(|a| a == PUBLIC || a == "as:Public" || a == "Public")
}

/// The JSON-LD context of our `Event`s: ActivityStreams, the schema.org and
/// Mobilizon terms Mobilizon and Gancio use, and our slot extension.
pub fn event_context() -> Value {
    serde_json::json!([
        "https://www.w3.org/ns/activitystreams",
        {
            "sc": "http://schema.org/",
            "mz": "https://joinmobilizon.org/ns#",
            "oh": OFFICEHOURS_NS,
            "toot": "http://joinmastodon.org/ns#",
            "joinMode": "mz:joinMode",
            "timezone": "mz:timezone",
            "maximumAttendeeCapacity": "sc:maximumAttendeeCapacity",
            "remainingAttendeeCapacity": "sc:remainingAttendeeCapacity",
            "eventStatus": {"@id": "sc:eventStatus", "@type": "@id"},
            "VirtualLocation": "sc:VirtualLocation",
            "slots": {"@id": "oh:slots", "@container": "@list"},
            "slot": {"@id": "oh:slot", "@type": "@id"},
            "state": "oh:state",
            "answers": "oh:answers",
            "participationMessage": "mz:participationMessage"
        }
    ])
}

/// One block occurrence of availability, as we publish it and as we read
/// events from others (Officehours, Mobilizon, Gancio). Read through
/// [`EventIn`]: unknown fields are ignored, what others leave out defaults,
/// and an event without an id or a `startTime` is refused by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "EventIn")]
pub struct Event {
    #[serde(rename = "@context", default, skip_serializing_if = "Value::is_null")]
    pub context: Value,
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: String,
    /// The owner. Mobilizon names it `actor` instead; see [`Event::owner`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributed_to: Option<Url>,
    #[serde(default, skip_serializing)]
    pub actor: Option<Url>,
    #[serde(default)]
    pub name: String,
    /// HTML; what Mastodon shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// RFC 3339 with the advisor's offset.
    pub start_time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// IANA zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<Url>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_attendee_capacity: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining_attendee_capacity: Option<i64>,
    /// `EventScheduled` or `EventCancelled` (schema.org).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_status: Option<String>,
    /// Mobilizon's equivalent (`CONFIRMED`, `CANCELLED`, `TENTATIVE`).
    #[serde(rename = "ical:status", default, skip_serializing_if = "Option::is_none")]
    pub ical_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub location: Value,
    #[serde(default)]
    pub to: Vec<String>,
    #[serde(default)]
    pub cc: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<String>,
    /// Our extension: the slots of this block and their state.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slots: Vec<SlotRef>,
}

/// An `Event` as others send it (see [`super::tolerant`]).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventIn {
    #[serde(rename = "@context", default)]
    context: Value,
    #[serde(default)]
    id: Lenient<Reference>,
    #[serde(rename = "type", default)]
    kind: Lenient<Kind>,
    #[serde(default)]
    attributed_to: OneOrMany<Reference>,
    #[serde(default)]
    actor: OneOrMany<Reference>,
    #[serde(default)]
    name: Lenient<Text>,
    #[serde(default)]
    name_map: Lenient<Text>,
    #[serde(default)]
    summary: Lenient<Text>,
    #[serde(default)]
    summary_map: Lenient<Text>,
    #[serde(default)]
    content: Lenient<Text>,
    #[serde(default)]
    content_map: Lenient<Text>,
    #[serde(default)]
    start_time: Option<Value>,
    #[serde(default)]
    end_time: Option<Value>,
    #[serde(default)]
    timezone: Lenient<String>,
    #[serde(default)]
    url: OneOrMany<Reference>,
    #[serde(default)]
    join_mode: Lenient<String>,
    #[serde(default)]
    maximum_attendee_capacity: Lenient<i64>,
    #[serde(default)]
    remaining_attendee_capacity: Lenient<i64>,
    #[serde(default)]
    event_status: Lenient<String>,
    #[serde(rename = "ical:status", default)]
    ical_status: Lenient<String>,
    #[serde(default)]
    category: Lenient<String>,
    #[serde(default)]
    location: Value,
    #[serde(default)]
    to: OneOrMany<Address>,
    #[serde(default)]
    cc: OneOrMany<Address>,
    #[serde(default)]
    published: Lenient<Time>,
    #[serde(default)]
    updated: Lenient<Time>,
    #[serde(default)]
    slots: Option<Value>,
}

impl TryFrom<EventIn> for Event {
    type Error = Unreadable;

    fn try_from(e: EventIn) -> Result<Event, Unreadable> {
        let id = e.id.0.ok_or_else(|| Unreadable::new("The event has no id."))?.id;
        let start = time_field(e.start_time, "The event's startTime is not a time (RFC 3339).")?
            .ok_or_else(|| Unreadable::new("The event has no startTime."))?;
        let end = time_field(e.end_time, "The event's endTime is not a time (RFC 3339).")?;
        let slots = all_or_nothing::<SlotRef>(
            e.slots,
            "The event's slots cannot be read (each needs id, startTime, endTime and state).",
        )?;
        Ok(Event {
            context: e.context,
            id,
            kind: e.kind.0.map(|k| k.0).unwrap_or_else(|| "Event".into()),
            attributed_to: e.attributed_to.author().map(|r| r.id),
            actor: e.actor.author().map(|r| r.id),
            name: language(e.name, e.name_map).unwrap_or_default(),
            summary: language(e.summary, e.summary_map),
            content: language(e.content, e.content_map),
            start_time: start.text,
            end_time: end.map(|t| t.text),
            timezone: e.timezone.0,
            url: e.url.html(),
            join_mode: e.join_mode.0,
            maximum_attendee_capacity: e.maximum_attendee_capacity.0,
            remaining_attendee_capacity: e.remaining_attendee_capacity.0,
            event_status: e.event_status.0,
            ical_status: e.ical_status.0,
            category: e.category.0,
            location: e.location,
            to: addresses(e.to),
            cc: addresses(e.cc),
            published: e.published.0.map(|t| t.text),
            updated: e.updated.0.map(|t| t.text),
            slots,
        })
    }
}

impl Event {
    /// An event from another server, or a deliberate refusal naming what
    /// is missing.
    pub fn read(value: &Value) -> Result<Event, Unreadable> {
        tolerant::read::<EventIn, Event>(value, "event")
    }

    /// Who the event belongs to: `attributedTo`, else `actor` (Mobilizon).
    pub fn owner(&self) -> Option<&Url> {
        self.attributed_to.as_ref().or(self.actor.as_ref())
    }

    /// Whether the event is called off, in either vocabulary.
    pub fn is_cancelled(&self) -> bool {
        let schema = self.event_status.as_deref().is_some_and(|s| s.ends_with("EventCancelled"));
        let ical = self.ical_status.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("CANCELLED"));
        schema || ical
    }
}

/// One slot inside an [`Event`] (our extension).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SlotRef {
    pub id: Url,
    pub start_time: String,
    pub end_time: String,
    /// `open`, `taken` or `cancelled`.
    pub state: String,
}

/// A note: a post, reply or direct message from any server. Read through
/// [`NoteIn`]; a note without an id or any content is refused by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "NoteIn")]
pub struct Note {
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: String,
    /// The author (among several, the person: PeerTube adds the channel).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributed_to: Option<Url>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<Url>,
    /// HTML (`content`, else the text of `contentMap`).
    #[serde(default)]
    pub content: String,
    /// A title (`name`, else `nameMap`): posts (`Article`, `Page`) have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub to: Vec<String>,
    #[serde(default)]
    pub cc: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tag: Vec<Tag>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
}

/// A `Note` as others send it (see [`super::tolerant`]).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NoteIn {
    #[serde(default)]
    id: Lenient<Reference>,
    #[serde(rename = "type", default)]
    kind: Lenient<Kind>,
    #[serde(default)]
    attributed_to: OneOrMany<Reference>,
    #[serde(default)]
    in_reply_to: Lenient<Reference>,
    #[serde(default)]
    content: Lenient<Text>,
    #[serde(default)]
    content_map: Lenient<Text>,
    #[serde(default)]
    name: Lenient<Text>,
    #[serde(default)]
    name_map: Lenient<Text>,
    #[serde(default)]
    to: OneOrMany<Address>,
    #[serde(default)]
    cc: OneOrMany<Address>,
    #[serde(default)]
    tag: OneOrMany<Tag>,
    #[serde(default)]
    published: Lenient<Time>,
}

impl TryFrom<NoteIn> for Note {
    type Error = Unreadable;

    fn try_from(n: NoteIn) -> Result<Note, Unreadable> {
        let id = n.id.0.ok_or_else(|| Unreadable::new("The note has no id."))?.id;
        let name = language(n.name, n.name_map).filter(|t| !t.trim().is_empty());
        // A post with a title and no body still says something.
        let content = language(n.content, n.content_map).or_else(|| name.as_ref().map(|_| String::new()));
        let content = content.ok_or_else(|| Unreadable::new("The note has no content."))?;
        Ok(Note {
            id,
            kind: n.kind.0.map(|k| k.0).unwrap_or_else(|| "Note".into()),
            attributed_to: n.attributed_to.author().map(|r| r.id),
            in_reply_to: n.in_reply_to.0.map(|r| r.id),
            content,
            name,
            to: addresses(n.to),
            cc: addresses(n.cc),
            tag: n.tag.into_vec(),
            published: n.published.0.map(|t| t.text),
        })
    }
}

impl Note {
    /// A note from another server, or a deliberate refusal naming what is
    /// missing.
    pub fn read(value: &Value) -> Result<Note, Unreadable> {
        tolerant::read::<NoteIn, Note>(value, "note")
    }

    /// The actors a note mentions.
    pub fn mentions(&self) -> impl Iterator<Item = &Url> {
        self.tag.iter().filter(|t| t.is_mention()).filter_map(|t| t.href.as_ref())
    }

    /// Public or followers-only notes are not private: only a note addressed
    /// to people alone is a direct message.
    pub fn is_direct(&self) -> bool {
        !is_public(&self.to)
            && !is_public(&self.cc)
            && !self.to.iter().chain(self.cc.iter()).any(|a| a.ends_with("/followers"))
    }
}

/// Any activity, as received: its type decides what we do with it. Every
/// activity is read this way (the federation crate checks its signature
/// first); unknown types are recorded and ignored. Read through
/// [`IncomingIn`]: an activity without an id, a type or an actor is
/// refused by name.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "IncomingIn")]
pub struct Incoming {
    pub id: Url,
    pub kind: String,
    pub actor: Url,
    /// An id, an embedded object or a `Link` (the first, if a list).
    pub object: Value,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    /// A `Reject`'s reason or a `Join`'s note (`content` or `contentMap`).
    pub content: Option<String>,
    /// Mobilizon's join note.
    pub participation_message: Option<String>,
    /// Our extension on `Join`: the slot asked for, and on `Accept`: the
    /// slot confirmed.
    pub slot: Option<Value>,
    /// Our extension on `Join`: answers to the advisor's questions.
    pub answers: Option<Value>,
}

/// An activity as others send it (see [`super::tolerant`]).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IncomingIn {
    #[serde(default)]
    id: Lenient<Reference>,
    #[serde(rename = "type", default)]
    kind: Lenient<Kind>,
    #[serde(default)]
    actor: OneOrMany<Reference>,
    #[serde(default)]
    object: Value,
    #[serde(default)]
    to: OneOrMany<Address>,
    #[serde(default)]
    cc: OneOrMany<Address>,
    #[serde(default)]
    content: Lenient<Text>,
    #[serde(default)]
    content_map: Lenient<Text>,
    #[serde(default)]
    participation_message: Lenient<Text>,
    #[serde(default)]
    slot: Option<Value>,
    #[serde(default)]
    answers: Option<Value>,
}

impl TryFrom<IncomingIn> for Incoming {
    type Error = Unreadable;

    fn try_from(a: IncomingIn) -> Result<Incoming, Unreadable> {
        let id = a.id.0.ok_or_else(|| Unreadable::new("The activity has no id."))?.id;
        let kind = a.kind.0.ok_or_else(|| Unreadable::new("The activity has no type."))?.0;
        let actor = a.actor.author().ok_or_else(|| Unreadable::new("The activity has no actor."))?.id;
        let object = match a.object {
            Value::Array(list) => list.into_iter().next().unwrap_or(Value::Null),
            other => other,
        };
        Ok(Incoming {
            id,
            kind,
            actor,
            object,
            to: addresses(a.to),
            cc: addresses(a.cc),
            content: language(a.content, a.content_map),
            participation_message: a.participation_message.0.map(|t| t.0),
            slot: a.slot.filter(|v| !v.is_null()),
            answers: a.answers.filter(|v| !v.is_null()),
        })
    }
}

impl Incoming {
    /// An inbox body as an activity, or a deliberate refusal naming what
    /// is missing.
    pub fn read(body: &[u8]) -> Result<Incoming, Unreadable> {
        let value: Value = serde_json::from_slice(body).map_err(|_| Unreadable::new("The body is not JSON."))?;
        tolerant::read::<IncomingIn, Incoming>(&value, "activity")
    }
}

/// The id inside an activity's `object` (or any reference): a string, an
/// embedded object's `id`, a `Link`'s `href`; of a list, the first (a
/// person's, when it mixes actors).
pub fn object_id(object: &Value) -> Option<Url> {
    Reference::of(object).map(|r| r.id)
}

/// The `type` of an embedded object, if it is embedded.
pub fn object_type(object: &Value) -> Option<&str> {
    tolerant::kind_str(object)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{Event, Incoming, Note};
    use crate::federation::wire::Actor;

    #[test]
    fn a_note_with_one_tag_a_language_map_and_string_addresses_is_read() {
        // GoToSocial writes a single tag as an object and `to` as a string;
        // Friendica gives a contentMap; PeerTube attributes to account and channel.
        let note = Note::read(&json!({
            "id": "https://a.test/notes/1", "type": "Note",
            "attributedTo": [{"type": "Group", "id": "https://a.test/c/x"}, {"type": "Person", "id": "https://a.test/u/ada"}],
            "inReplyTo": {"type": "Event", "id": "https://b.test/events/1"},
            "contentMap": {"de": "<p>Hallo</p>"},
            "to": "https://www.w3.org/ns/activitystreams#Public",
            "tag": {"type": "Mention", "href": "https://b.test/users/bo", "name": "@bo@b.test"},
            "published": "2026-02-11T15:18:55+01:00",
            "interactionPolicy": {"canReply": {"always": []}}
        }))
        .unwrap();
        assert_eq!(note.attributed_to.as_ref().unwrap().as_str(), "https://a.test/u/ada");
        assert_eq!(note.in_reply_to.as_ref().unwrap().as_str(), "https://b.test/events/1");
        assert_eq!(note.content, "<p>Hallo</p>");
        assert_eq!(note.to, ["https://www.w3.org/ns/activitystreams#Public"]);
        assert_eq!(note.mentions().map(|u| u.as_str()).collect::<Vec<_>>(), ["https://b.test/users/bo"]);
    }

    #[test]
    fn what_cannot_be_used_is_refused_by_name() {
        let err = |r: Result<Note, super::Unreadable>| r.unwrap_err().0;
        assert_eq!(err(Note::read(&json!({"id": "https://a.test/n/1", "type": "Note"}))), "The note has no content.");
        assert_eq!(err(Note::read(&json!({"type": "Note", "content": "x"}))), "The note has no id.");
        let titled =
            Note::read(&json!({"id": "https://a.test/p/1", "type": "Page", "nameMap": {"en": "Rust?"}})).unwrap();
        assert_eq!((titled.name.as_deref(), titled.content.as_str()), (Some("Rust?"), ""));
        assert_eq!(err(Note::read(&json!("https://a.test/n/1"))), "The note is not a JSON object.");
        let event = |v| Event::read(&v).unwrap_err().0;
        assert_eq!(event(json!({"id": "https://a.test/e/1", "type": "Event"})), "The event has no startTime.");
        assert!(event(json!({"id": "https://a.test/e/1", "startTime": "soon"})).contains("not a time"));
        assert_eq!(Incoming::read(b"{}").unwrap_err().0, "The activity has no id.");
        assert_eq!(
            Incoming::read(br#"{"id": "https://a.test/1", "type": "Follow"}"#).unwrap_err().0,
            "The activity has no actor."
        );
        assert_eq!(Incoming::read(b"<html>").unwrap_err().0, "The body is not JSON.");
        let actor = |v| Actor::read(&v).unwrap_err().0;
        assert_eq!(actor(json!({"id": "https://a.test/u/x", "type": "Person"})), "The actor has no inbox.");
        assert!(actor(json!({"id": "https://a.test/u/x", "inbox": "https://a.test/u/x/inbox"})).contains("public key"));
    }

    #[test]
    fn an_activity_takes_its_actor_embedded_and_its_object_as_a_one_element_list() {
        let a = Incoming::read(
            br#"{"id": "https://a.test/1", "type": ["Follow"], "actor": {"type": "Person", "id": "https://a.test/u/x"},
                 "object": ["https://b.test/users/ada"], "to": "https://b.test/users/ada", "contentMap": {"en": "hi"}}"#,
        )
        .unwrap();
        assert_eq!((a.kind.as_str(), a.actor.as_str()), ("Follow", "https://a.test/u/x"));
        assert_eq!(super::object_id(&a.object).unwrap().as_str(), "https://b.test/users/ada");
        assert_eq!((a.to.len(), a.content.as_deref()), (1, Some("hi")));
    }

    #[test]
    fn an_actor_with_shared_inbox_outside_endpoints_several_keys_and_no_username_is_read() {
        let actor = Actor::read(&json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": "https://a.test/ap/actor/49584", "type": "Person",
            "inbox": "https://a.test/ap/actor/49584/inbox", "sharedInbox": "https://a.test/ap/users/inbox",
            "url": [{"type": "Link", "mediaType": "text/html", "href": "https://a.test/u/angus"}],
            "nameMap": {"en": "Angus"},
            "publicKey": [{"id": "https://a.test/k/1"}, {"id": "https://a.test/k/2", "publicKeyPem": "-----BEGIN PUBLIC KEY-----"}],
            "discoverable": null
        }))
        .unwrap();
        assert_eq!(actor.preferred_username, "49584");
        assert_eq!(actor.endpoints.unwrap().shared_inbox.unwrap().as_str(), "https://a.test/ap/users/inbox");
        assert_eq!(actor.url.unwrap().as_str(), "https://a.test/u/angus");
        assert_eq!(actor.name.as_deref(), Some("Angus"));
        assert_eq!(
            (actor.public_key.id.as_str(), actor.public_key.owner.as_str()),
            ("https://a.test/k/2", "https://a.test/ap/actor/49584")
        );
        assert!(!actor.discoverable);
    }
}
