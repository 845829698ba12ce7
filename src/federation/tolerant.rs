//! Tolerant reading of ActivityStreams JSON: the few shapes every wire type
//! is read through, so that no type assumes one server's habits.
//!
//! JSON-LD compaction writes a one-element list as the value itself, and
//! servers differ in what they embed: any property may be one value or a
//! list ([`OneOrMany`], [`Lenient`]); any reference may be an id string, an
//! embedded object or a `Link` ([`Reference`]); texts come as `content` or
//! `contentMap` ([`Text`], [`language`]); `type` may be a list ([`Kind`]);
//! tags of any type sit side by side ([`Tag`]); times come with or without
//! fractions and with any offset ([`Time`]). What a value of the wrong
//! shape cannot give is simply absent; the wire types then say what is
//! missing ([`Unreadable`]), never a parser's message.
//!
//! The wire types (`objects`, `wire`) are read as an `…In` struct of these
//! shapes and converted (`#[serde(try_from)]`), so the checks are in one
//! place per type and unknown fields are ignored.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
use url::Url;

/// `as:` and its full IRI, as servers prefix ActivityStreams terms.
const AS_PREFIXES: [&str; 2] = ["https://www.w3.org/ns/activitystreams#", "as:"];

/// A payload we cannot use, with a sentence naming what is missing
/// ("The note has no content."). Every sentence starts with "The ".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unreadable(pub String);

impl Unreadable {
    pub fn new(text: impl Into<String>) -> Unreadable {
        Unreadable(text.into())
    }

    /// Our own sentence inside a parser's error message (`… at line 1
    /// column 80` stripped), or `None` when the message is the parser's.
    pub fn from_parser_message(message: &str) -> Option<Unreadable> {
        let text = message.split(" at line ").next().unwrap_or(message);
        text.starts_with("The ").then(|| Unreadable(text.to_string()))
    }
}

/// Reads `value` as `Out` through its tolerant form `In`: a JSON object is
/// required (`what` names it: "note", "event"); everything else is the
/// conversion's to refuse.
pub fn read<In, Out>(value: &Value, what: &str) -> Result<Out, Unreadable>
where
    In: DeserializeOwned,
    Out: TryFrom<In, Error = Unreadable>,
{
    if !value.is_object() {
        return Err(Unreadable(format!("The {what} is not a JSON object.")));
    }
    let tolerant = In::deserialize(value.clone()).map_err(|_| Unreadable(format!("The {what} cannot be read.")))?;
    Out::try_from(tolerant)
}

/// One value or a list of them; `null` or absent is empty, and items that
/// are not a `T` are skipped (a list of tags may hold types we do not know).
#[derive(Debug, Clone, PartialEq)]
pub struct OneOrMany<T>(pub Vec<T>);

impl<T> Default for OneOrMany<T> {
    fn default() -> Self {
        OneOrMany(Vec::new())
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(OneOrMany(items(Value::deserialize(deserializer)?).filter_map(|v| T::deserialize(v).ok()).collect()))
    }
}

impl<T> OneOrMany<T> {
    pub fn into_vec(self) -> Vec<T> {
        self.0
    }
}

impl OneOrMany<Reference> {
    /// The author among several (PeerTube attributes a video or comment to
    /// the account and its channel): the first `Person` (or other non-group
    /// actor), else the first.
    pub fn author(self) -> Option<Reference> {
        let mut all = self.0;
        let person = all.iter().position(|r| r.kind.as_deref().is_some_and(|k| !is_group(k)));
        let person = person.or_else(|| all.iter().position(|r| r.kind.is_none()));
        match person {
            Some(i) => Some(all.swap_remove(i)),
            None => all.into_iter().next(),
        }
    }

    /// The page for people among several links: the `text/html` one, else
    /// the first.
    pub fn html(self) -> Option<Url> {
        let mut all = self.0;
        let html = all.iter().position(|r| r.media_type.as_deref().is_some_and(|m| m.starts_with("text/html")));
        match html {
            Some(i) => Some(all.swap_remove(i).id),
            None => all.into_iter().next().map(|r| r.id),
        }
    }
}

/// The items of a value that may be one or a list.
fn items(value: Value) -> impl Iterator<Item = Value> {
    let list = match value {
        Value::Null => Vec::new(),
        Value::Array(items) => items,
        other => vec![other],
    };
    list.into_iter()
}

/// The items of a property that may be one value or a list (`null` or
/// absent: none), as JSON.
pub fn values(value: Option<&Value>) -> Vec<Value> {
    items(value.cloned().unwrap_or(Value::Null)).collect()
}

/// A value that may be absent, `null`, of a shape we cannot use (all read
/// as absent), or a list (its first usable item).
#[derive(Debug, Clone, PartialEq)]
pub struct Lenient<T>(pub Option<T>);

impl<T> Default for Lenient<T> {
    fn default() -> Self {
        Lenient(None)
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        if let Ok(one) = T::deserialize(&value) {
            return Ok(Lenient(Some(one)));
        }
        Ok(Lenient(items(value).find_map(|v| T::deserialize(v).ok())))
    }
}

impl<T> Lenient<T> {
    pub fn into_option(self) -> Option<T> {
        self.0
    }
}

/// A reference to another object: an id string, an embedded object (its
/// `id`), or a `Link` (its `href`). Relative or malformed ids are no
/// reference at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub id: Url,
    /// The embedded object's `type`, when embedded.
    pub kind: Option<String>,
    /// A `Link`'s `mediaType`.
    pub media_type: Option<String>,
}

impl Reference {
    /// The reference in `value`, if it is one.
    pub fn of(value: &Value) -> Option<Reference> {
        match value {
            Value::String(id) => Url::parse(id).ok().map(|id| Reference { id, kind: None, media_type: None }),
            Value::Object(map) => {
                let kind = kind_of(value);
                let text = |key: &str| map.get(key).and_then(Value::as_str);
                // A Link (or a tag) points with `href`; other objects are their `id`.
                let link = kind.as_deref().is_some_and(|k| matches!(k, "Link" | "Mention" | "Hashtag"));
                let target = if link { text("href").or(text("id")) } else { text("id").or(text("href")) };
                let id = Url::parse(target?).ok()?;
                Some(Reference { id, kind, media_type: text("mediaType").map(str::to_string) })
            }
            // A list where one reference is expected: its first (a
            // person, when the list mixes actors).
            Value::Array(list) => {
                let all: Vec<Reference> = list.iter().filter_map(Reference::of).collect();
                OneOrMany(all).author()
            }
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Reference {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        match &value {
            Value::Array(_) => Err(serde::de::Error::custom("a list, not a reference")),
            _ => Reference::of(&value).ok_or_else(|| serde::de::Error::custom("not a reference")),
        }
    }
}

/// An addressee in `to`/`cc`: an id string (kept as written: `as:Public`
/// and `Public` are no URLs) or an embedded object's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address(pub String);

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(s) => Ok(Address(s)),
            Value::Object(map) => match map.get("id").or_else(|| map.get("href")) {
                Some(Value::String(id)) => Ok(Address(id.clone())),
                _ => Err(serde::de::Error::custom("an addressee without an id")),
            },
            _ => Err(serde::de::Error::custom("not an addressee")),
        }
    }
}

/// An address list as strings.
pub fn addresses(list: OneOrMany<Address>) -> Vec<String> {
    list.0.into_iter().map(|a| a.0).collect()
}

/// An object's `type`: a string, or the first of a list; `as:` prefixes
/// dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kind(pub String);

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        type_name(&value).map(Kind).ok_or_else(|| serde::de::Error::custom("not a type"))
    }
}

/// The type named by a `type` value.
fn type_name(value: &Value) -> Option<String> {
    type_str(value).map(str::to_string)
}

fn type_str(value: &Value) -> Option<&str> {
    let name = match value {
        Value::String(s) => s.as_str(),
        Value::Array(list) => list.iter().find_map(Value::as_str)?,
        _ => return None,
    };
    let name = AS_PREFIXES.iter().find_map(|p| name.strip_prefix(p)).unwrap_or(name);
    (!name.is_empty()).then_some(name)
}

/// The `type` of an embedded object (`None` for an id or anything else).
pub fn kind_of(value: &Value) -> Option<String> {
    kind_str(value).map(str::to_string)
}

/// As [`kind_of`], borrowed.
pub fn kind_str(value: &Value) -> Option<&str> {
    value.get("type").and_then(type_str)
}

fn is_group(kind: &str) -> bool {
    matches!(kind, "Group" | "Organization")
}

/// A natural-language text: a string, a language map (`contentMap`:
/// `und`, else `en`, else the first language), or a list (its first text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text(pub String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        text_of(&value).map(Text).ok_or_else(|| serde::de::Error::custom("not a text"))
    }
}

fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Object(map) => pick_language(map),
        Value::Array(list) => list.iter().find_map(text_of),
        _ => None,
    }
}

fn pick_language(map: &Map<String, Value>) -> Option<String> {
    ["und", "en"]
        .iter()
        .find_map(|lang| map.get(*lang).and_then(Value::as_str))
        .or_else(|| map.values().find_map(Value::as_str))
        .map(str::to_string)
}

/// `content` if given, else the text of `contentMap` (likewise `name` and
/// `nameMap`, `summary` and `summaryMap`).
pub fn language(plain: Lenient<Text>, map: Lenient<Text>) -> Option<String> {
    plain.0.or(map.0).map(|t| t.0)
}

/// An instant: RFC 3339 with or without fractions and with any offset;
/// a date-time without offset is read as UTC. `text` is what was sent
/// (normalised only when it had no offset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Time {
    pub text: String,
    pub ms: i64,
}

impl Time {
    pub fn parse(text: &str) -> Option<Time> {
        let text = text.trim();
        if let Ok(ts) = text.parse::<jiff::Timestamp>() {
            return Some(Time { text: text.to_string(), ms: ts.as_millisecond() });
        }
        let civil = text.parse::<jiff::civil::DateTime>().ok()?;
        let ts = civil.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp();
        Some(Time { text: ts.to_string(), ms: ts.as_millisecond() })
    }
}

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(s) => Time::parse(&s).ok_or_else(|| serde::de::Error::custom("not a time")),
            _ => Err(serde::de::Error::custom("not a time")),
        }
    }
}

/// A time that must be readable when present: `Ok(None)` when absent or
/// `null`, else the time, or `Err(unreadable)` when it is there but no time.
pub fn time_field(value: Option<Value>, unreadable: &str) -> Result<Option<Time>, Unreadable> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Time::parse(&s).map(Some).ok_or_else(|| Unreadable::new(unreadable)),
        Some(Value::Array(list)) if list.len() == 1 => time_field(list.into_iter().next(), unreadable),
        Some(_) => Err(Unreadable::new(unreadable)),
    }
}

/// One value or a list where every item must be a `T` (our own extensions,
/// whose items we do not skip silently), else `Err(unreadable)`.
pub fn all_or_nothing<T: DeserializeOwned>(value: Option<Value>, unreadable: &str) -> Result<Vec<T>, Unreadable> {
    items(value.unwrap_or(Value::Null)).map(|v| T::deserialize(v).map_err(|_| Unreadable::new(unreadable))).collect()
}

/// A tag of a note or actor: `Mention`, `Hashtag`, `Emoji` or any other
/// type, side by side. A mention names the actor by `href` (else `id`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Tag {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub href: Option<Url>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Tag {
    pub fn is_mention(&self) -> bool {
        self.kind == "Mention"
    }
}

impl<'de> Deserialize<'de> for Tag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let Value::Object(map) = &value else { return Err(serde::de::Error::custom("a tag is an object")) };
        let kind = kind_of(&value).unwrap_or_default();
        let href = map.get("href").and_then(Reference::of).map(|r| r.id);
        let href =
            href.or_else(|| (kind == "Mention").then(|| map.get("id").and_then(Reference::of)).flatten().map(|r| r.id));
        let name = map.get("name").and_then(text_of);
        Ok(Tag { kind, href, name })
    }
}

/// The sender named in a raw body (its `actor`), for logs about payloads
/// we refuse; `"unknown"` when there is none.
pub fn sender_of(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("actor").and_then(Reference::of))
        .map(|r| r.id.to_string())
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse<T: DeserializeOwned>(value: Value) -> T {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn one_or_many_takes_a_value_a_list_null_or_nothing_and_skips_what_does_not_fit() {
        assert_eq!(parse::<OneOrMany<Address>>(json!("https://a.test/u")).0, [Address("https://a.test/u".into())]);
        assert_eq!(parse::<OneOrMany<Address>>(json!(["x", {"id": "y"}, 3])).0.len(), 2);
        assert!(parse::<OneOrMany<Address>>(json!(null)).0.is_empty());
        assert_eq!(values(Some(&json!({"id": "x"}))), [json!({"id": "x"})]);
        assert_eq!(values(Some(&json!([1, 2]))).len(), 2);
        assert!(values(None).is_empty());
        #[derive(Deserialize)]
        struct S {
            #[serde(default)]
            to: OneOrMany<Address>,
        }
        assert!(parse::<S>(json!({})).to.0.is_empty());
    }

    #[test]
    fn a_reference_is_an_id_an_embedded_object_or_a_link() {
        let id = |v: Value| Reference::of(&v).map(|r| r.id.to_string());
        assert_eq!(id(json!("https://a.test/notes/1")).as_deref(), Some("https://a.test/notes/1"));
        assert_eq!(
            id(json!({"id": "https://a.test/notes/1", "type": "Note"})).as_deref(),
            Some("https://a.test/notes/1")
        );
        assert_eq!(
            id(json!({"type": "Link", "href": "https://a.test/@x", "mediaType": "text/html"})).as_deref(),
            Some("https://a.test/@x")
        );
        assert_eq!(id(json!("/relative/path")), None);
        assert_eq!(id(json!(42)), None);
        assert_eq!(id(json!({"type": "Note"})), None);
    }

    #[test]
    fn attributed_to_lists_mixing_people_and_groups_give_the_person() {
        // PeerTube: the channel (a Group) and the account (a Person).
        let peertube = json!([
            {"type": "Group", "id": "https://p.test/video-channels/c"},
            {"type": "Person", "id": "https://p.test/accounts/a"}
        ]);
        let author = parse::<OneOrMany<Reference>>(peertube.clone()).author().unwrap();
        assert_eq!(author.id.as_str(), "https://p.test/accounts/a");
        assert_eq!(Reference::of(&peertube).unwrap().id.as_str(), "https://p.test/accounts/a");
        // A group's event (Mobilizon) is still the group's.
        let group = parse::<OneOrMany<Reference>>(json!({"type": "Group", "id": "https://m.test/@g"}));
        assert_eq!(group.author().unwrap().id.as_str(), "https://m.test/@g");
    }

    #[test]
    fn urls_prefer_the_html_link() {
        let urls = json!([
            {"type": "Link", "mediaType": "application/x-mpegURL", "href": "https://p.test/v.m3u8"},
            {"type": "Link", "mediaType": "text/html", "href": "https://p.test/w/1"}
        ]);
        assert_eq!(parse::<OneOrMany<Reference>>(urls).html().unwrap().as_str(), "https://p.test/w/1");
        assert_eq!(
            parse::<OneOrMany<Reference>>(json!("https://a.test/@x")).html().unwrap().as_str(),
            "https://a.test/@x"
        );
    }

    #[test]
    fn texts_come_plain_or_as_language_maps() {
        let pick = |plain: Value, map: Value| language(parse(plain), parse(map));
        assert_eq!(pick(json!("<p>Hi</p>"), json!({"de": "<p>Hallo</p>"})).as_deref(), Some("<p>Hi</p>"));
        assert_eq!(pick(json!(null), json!({"de": "<p>Hallo</p>"})).as_deref(), Some("<p>Hallo</p>"));
        assert_eq!(pick(json!(null), json!({"de": "Hallo", "en": "Hello"})).as_deref(), Some("Hello"));
        assert_eq!(pick(json!(null), json!({"fr": "Salut", "und": "Hey"})).as_deref(), Some("Hey"));
        assert_eq!(pick(json!(null), json!(null)), None);
        assert_eq!(pick(json!(["one", "two"]), json!(null)).as_deref(), Some("one"));
    }

    #[test]
    fn types_may_be_lists_or_prefixed() {
        assert_eq!(parse::<Kind>(json!("Note")).0, "Note");
        assert_eq!(parse::<Kind>(json!(["Note", "ChatMessage"])).0, "Note");
        assert_eq!(parse::<Kind>(json!("as:Public")).0, "Public");
        assert_eq!(parse::<Kind>(json!("https://www.w3.org/ns/activitystreams#Person")).0, "Person");
        assert!(serde_json::from_value::<Kind>(json!(7)).is_err());
    }

    #[test]
    fn the_context_may_be_a_string_a_list_or_a_map() {
        #[derive(Deserialize)]
        struct S {
            #[serde(rename = "@context", default)]
            context: Value,
        }
        for context in
            [json!("https://www.w3.org/ns/activitystreams"), json!(["a", {"b": "c"}]), json!({"@vocab": "x"})]
        {
            assert_eq!(parse::<S>(json!({"@context": context.clone()})).context, context);
        }
    }

    #[test]
    fn tags_of_every_type_sit_side_by_side() {
        let tags = parse::<OneOrMany<Tag>>(json!([
            {"type": "Mention", "href": "https://a.test/users/ada", "name": "@ada@a.test"},
            {"type": "Hashtag", "href": "https://a.test/tags/rust", "name": "#rust"},
            {"type": "Emoji", "id": "https://a.test/emoji/1", "name": ":blob:", "icon": {"type": "Image", "url": "https://a.test/e.png"}},
            {"type": "PropertyValue", "name": "Protocol", "value": "zot6"},
            {"type": "Mention", "id": "https://b.test/u/bo"},
            "https://a.test/not-a-tag"
        ]))
        .0;
        let kinds: Vec<&str> = tags.iter().map(|t| t.kind.as_str()).collect();
        assert_eq!(kinds, ["Mention", "Hashtag", "Emoji", "PropertyValue", "Mention"]);
        assert_eq!(tags[2].href, None, "an emoji points nowhere");
        assert_eq!(tags[4].href.as_ref().map(Url::as_str), Some("https://b.test/u/bo"));
        // One tag alone, as GoToSocial sends it.
        let one = parse::<OneOrMany<Tag>>(json!({"type": "Mention", "href": "https://a.test/users/ada"})).0;
        assert!(one[0].is_mention());
    }

    #[test]
    fn times_with_or_without_fractions_and_any_offset() {
        let ms = |s: &str| Time::parse(s).map(|t| t.ms);
        let base = ms("2022-03-24T07:22:36Z").unwrap();
        assert_eq!(ms("2022-03-24T07:22:36.548Z"), Some(base + 548));
        assert_eq!(ms("2022-03-24T07:22:36.602455Z"), Some(base + 602));
        assert_eq!(ms("2022-03-24T09:22:36+02:00"), Some(base));
        assert_eq!(ms("2022-03-24T02:22:36-05:00"), Some(base));
        assert_eq!(ms("2022-03-24T07:22:36+00:00"), Some(base));
        let naive = Time::parse("2022-03-24T07:22:36").unwrap();
        assert_eq!((naive.ms, naive.text.as_str()), (base, "2022-03-24T07:22:36Z"));
        assert_eq!(ms("tomorrow"), None);
        assert_eq!(time_field(Some(json!(12)), "The t is no time."), Err(Unreadable::new("The t is no time.")));
        assert_eq!(time_field(None, "x"), Ok(None));
    }

    #[test]
    fn lenient_values_fall_back_to_absent_or_to_a_lists_first_item() {
        assert_eq!(parse::<Lenient<String>>(json!(7)).0, None);
        assert_eq!(parse::<Lenient<String>>(json!(["a", "b"])).0.as_deref(), Some("a"));
        assert_eq!(parse::<Lenient<bool>>(json!(null)).0, None);
        assert_eq!(
            parse::<Lenient<Reference>>(json!(["/rel", "https://a.test/x"])).0.unwrap().id.as_str(),
            "https://a.test/x"
        );
    }

    #[test]
    fn our_sentences_are_told_apart_from_parser_messages() {
        assert_eq!(
            Unreadable::from_parser_message("The actor has no inbox. at line 1 column 300"),
            Some(Unreadable::new("The actor has no inbox."))
        );
        assert_eq!(Unreadable::from_parser_message("invalid type: map, expected a sequence"), None);
        assert_eq!(sender_of(br#"{"actor": {"id": "https://a.test/u/x"}}"#), "https://a.test/u/x");
        assert_eq!(sender_of(b"nonsense"), "unknown");
    }
}
