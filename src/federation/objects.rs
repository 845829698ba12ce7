//! Wire types of the objects we publish and read: availability as `Event`s
//! (with our slot extension), notes (Mastodon replies, mentions, direct
//! messages), and the generic shape every received activity is read as.
//! Behaviour lives in `events`, `mirror`, `requests` and `messages`.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use url::Url;

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
/// events from others (Officehours, Mobilizon, Gancio). Unknown fields are
/// ignored; what others leave out defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    #[serde(rename = "@context", default, skip_serializing_if = "Value::is_null")]
    pub context: Value,
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: String,
    /// The owner. Mobilizon names it `actor` instead; see [`Event::owner`].
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient_url")]
    pub attributed_to: Option<Url>,
    #[serde(default, skip_serializing, deserialize_with = "lenient_url")]
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
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient_url")]
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
    #[serde(default, deserialize_with = "one_or_many")]
    pub to: Vec<String>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub cc: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<String>,
    /// Our extension: the slots of this block and their state.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slots: Vec<SlotRef>,
}

impl Event {
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

/// A note: a Mastodon post, reply or direct message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Note {
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient_url")]
    pub attributed_to: Option<Url>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient_url")]
    pub in_reply_to: Option<Url>,
    /// HTML.
    #[serde(default)]
    pub content: String,
    #[serde(default, deserialize_with = "one_or_many")]
    pub to: Vec<String>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub cc: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tag: Vec<Tag>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
}

impl Note {
    /// The actors a note mentions.
    pub fn mentions(&self) -> impl Iterator<Item = &Url> {
        self.tag.iter().filter(|t| t.kind == "Mention").filter_map(|t| t.href.as_ref())
    }

    /// Public or followers-only notes are not private: only a note addressed
    /// to people alone is a direct message.
    pub fn is_direct(&self) -> bool {
        !is_public(&self.to)
            && !is_public(&self.cc)
            && !self.to.iter().chain(self.cc.iter()).any(|a| a.ends_with("/followers"))
    }
}

/// A `Mention` or `Hashtag` tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient_url")]
    pub href: Option<Url>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Any activity, as received: its type decides what we do with it. Every
/// activity is read this way (the federation crate checks its signature
/// first); unknown types are recorded and ignored.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Incoming {
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(deserialize_with = "url_or_object")]
    pub actor: Url,
    /// An id, or an embedded object.
    #[serde(default)]
    pub object: Value,
    #[serde(default, deserialize_with = "one_or_many")]
    pub to: Vec<String>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub cc: Vec<String>,
    /// A `Reject`'s reason or a `Join`'s note.
    #[serde(default)]
    pub content: Option<String>,
    /// Mobilizon's join note.
    #[serde(default)]
    pub participation_message: Option<String>,
    /// Our extension on `Join`: the slot asked for, and on `Accept`: the
    /// slot confirmed.
    #[serde(default)]
    pub slot: Option<Value>,
    /// Our extension on `Join`: answers to the advisor's questions.
    #[serde(default)]
    pub answers: Option<Value>,
}

/// The id inside an activity's `object`: a string, or an embedded object's `id`.
pub fn object_id(object: &Value) -> Option<Url> {
    match object {
        Value::String(id) => Url::parse(id).ok(),
        Value::Object(map) => map.get("id").and_then(Value::as_str).and_then(|id| Url::parse(id).ok()),
        _ => None,
    }
}

/// The `type` of an embedded object, if it is embedded.
pub fn object_type(object: &Value) -> Option<&str> {
    object.get("type").and_then(Value::as_str)
}

/// A string or a list of strings (or of objects with ids), as a list.
fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let value = Value::deserialize(deserializer)?;
    let item = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(m) => m.get("id").and_then(Value::as_str).map(str::to_string),
        _ => None,
    };
    Ok(match &value {
        Value::Array(items) => items.iter().filter_map(item).collect(),
        Value::Null => Vec::new(),
        other => item(other).into_iter().collect(),
    })
}

/// An optional URL that tolerates nonsense (relative links, `null`) as absent.
fn lenient_url<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Url>, D::Error> {
    let value = Value::deserialize(deserializer)?;
    Ok(object_id(&value))
}

/// An actor given as its id or as an embedded object with an `id`.
fn url_or_object<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Url, D::Error> {
    let value = Value::deserialize(deserializer)?;
    object_id(&value).ok_or_else(|| serde::de::Error::custom("the actor must be a URL or an object with an id"))
}
