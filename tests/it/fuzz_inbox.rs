//! Fuzzing the inbox's reading of activities (`federation::objects`,
//! `wire`, `tolerant`, `mirror`): arbitrary JSON, the real payloads of
//! `tests/fixtures/` mutated (values replaced, keys dropped, lists
//! wrapped), and their bytes mutated. Properties: nothing panics; a refusal
//! is the deliberate [`Unreadable`] sentence ("The … ."); what reads as an
//! `Event`, `Note` or `Actor` reads back the same from what we write of it;
//! an event that reads is mirrored or refused with a `FederationError`.
//! See `support::fuzz` for smoke and session runs.

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Map, Value};

use officehours::federation::mirror::to_mirror;
use officehours::federation::objects::{Event, Incoming, Note, object_id, object_type};
use officehours::federation::tolerant::{Time, Unreadable, sender_of};
use officehours::federation::wire::Actor;

use crate::support::fuzz;

/// Every JSON fixture, as (path, value).
fn fixtures() -> Vec<(String, Value)> {
    let root = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
    let mut all = Vec::new();
    let mut folders: Vec<_> = std::fs::read_dir(&root).unwrap().filter_map(|e| e.ok()).map(|e| e.path()).collect();
    folders.sort();
    for folder in folders.iter().filter(|p| p.is_dir()) {
        let mut files: Vec<_> = std::fs::read_dir(folder).unwrap().filter_map(|e| e.ok()).map(|e| e.path()).collect();
        files.sort();
        for file in files.iter().filter(|p| p.extension().is_some_and(|e| e == "json")) {
            let text = std::fs::read_to_string(file).unwrap();
            all.push((file.display().to_string(), serde_json::from_str(&text).unwrap()));
        }
    }
    assert!(all.len() > 30, "the fixtures are where they were");
    all
}

/// Words the wire types look for, so that random objects reach past the
/// first refusal.
const KEYS: &[&str] = &[
    "@context",
    "id",
    "type",
    "actor",
    "object",
    "to",
    "cc",
    "content",
    "contentMap",
    "name",
    "nameMap",
    "summary",
    "attributedTo",
    "inReplyTo",
    "tag",
    "href",
    "url",
    "mediaType",
    "startTime",
    "endTime",
    "timezone",
    "slots",
    "slot",
    "state",
    "answers",
    "published",
    "updated",
    "inbox",
    "outbox",
    "publicKey",
    "publicKeyPem",
    "owner",
    "endpoints",
    "sharedInbox",
    "preferredUsername",
    "assertionMethod",
    "publicKeyMultibase",
    "controller",
    "eventStatus",
    "ical:status",
    "joinMode",
    "location",
    "participationMessage",
    "first",
    "items",
];

const WORDS: &[&str] = &[
    "https://learner.example/users/a",
    "https://learner.example/users/a#main-key",
    "https://officehours.example/users/ada",
    "https://officehours.example/events/1",
    "https://www.w3.org/ns/activitystreams#Public",
    "as:Public",
    "Create",
    "Note",
    "Event",
    "Person",
    "Group",
    "Link",
    "Mention",
    "Follow",
    "Undo",
    "Join",
    "Accept",
    "Delete",
    "Tombstone",
    "text/html",
    "2026-12-01T10:00:00Z",
    "2026-12-01T10:00:00.123+01:00",
    "2026-12-01T10:00",
    "9999-12-31T23:59:59Z",
    "-009999-01-01T00:00:00Z",
    "Europe/Berlin",
    "open",
    "cancelled",
    "",
    "é\u{301}",
    "http://",
    "https://[::1]:99999/",
    "mailto:x@y",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(-1i64), Just(0i64), any::<i64>()].prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)),
        prop::sample::select(WORDS).prop_map(|w| Value::String(w.to_string())),
        ".{0,40}".prop_map(Value::String),
    ]
}

/// Arbitrary JSON, with keys the wire types know among random ones.
pub fn json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (prop_oneof![3 => prop::sample::select(KEYS).prop_map(str::to_string), 1 => "[a-zA-Z@:]{1,12}"], inner),
                0..10
            )
            .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// One change to a JSON document at the node `at` (counted in a walk of
/// the document, modulo its size).
#[derive(Debug, Clone)]
pub enum Mutation {
    Replace(usize, Value),
    Remove(usize),
    WrapInList(usize),
    Unwrap(usize),
    Insert(usize, String, Value),
}

pub fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<usize>(), json()).prop_map(|(at, v)| Mutation::Replace(at, v)),
        2 => any::<usize>().prop_map(Mutation::Remove),
        1 => any::<usize>().prop_map(Mutation::WrapInList),
        1 => any::<usize>().prop_map(Mutation::Unwrap),
        2 => (any::<usize>(), prop::sample::select(KEYS).prop_map(str::to_string), json())
            .prop_map(|(at, k, v)| Mutation::Insert(at, k, v)),
    ]
}

fn count(value: &Value) -> usize {
    1 + match value {
        Value::Array(items) => items.iter().map(count).sum(),
        Value::Object(map) => map.values().map(count).sum(),
        _ => 0,
    }
}

/// The node `at` of a walk (pre-order), with its parent's key when it is
/// an object member.
fn node(value: &mut Value, mut at: usize) -> &mut Value {
    fn walk<'a>(value: &'a mut Value, at: &mut usize) -> Option<&'a mut Value> {
        if *at == 0 {
            return Some(value);
        }
        *at -= 1;
        match value {
            Value::Array(items) => items.iter_mut().find_map(|v| walk(v, at)),
            Value::Object(map) => map.values_mut().find_map(|v| walk(v, at)),
            _ => None,
        }
    }
    let total = count(value);
    at %= total;
    walk(value, &mut at).expect("within the document")
}

pub fn apply(value: &mut Value, mutation: &Mutation) {
    match mutation {
        Mutation::Replace(at, new) => *node(value, *at) = new.clone(),
        Mutation::Remove(at) => {
            if let Value::Object(map) = node(value, *at)
                && let Some(key) = map.keys().nth(at % map.len().max(1)).cloned()
            {
                map.remove(&key);
            }
        }
        Mutation::WrapInList(at) => {
            let target = node(value, *at);
            *target = Value::Array(vec![target.take()]);
        }
        Mutation::Unwrap(at) => {
            let target = node(value, *at);
            if let Value::Array(items) = target {
                *target = items.first().cloned().unwrap_or(Value::Null);
            }
        }
        Mutation::Insert(at, key, new) => {
            if let Value::Object(map) = node(value, *at) {
                map.insert(key.clone(), new.clone());
            }
        }
    }
}

fn deliberate(what: &str, result: &Result<impl std::fmt::Debug, Unreadable>) -> Result<(), TestCaseError> {
    if let Err(e) = result {
        prop_assert!(e.0.starts_with("The ") && e.0.ends_with('.'), "{what}: not our sentence: {:?}", e.0);
    }
    Ok(())
}

/// The properties every document keeps, as an activity and as each of the
/// objects it may carry.
fn check_document(value: &Value) -> Result<(), TestCaseError> {
    let body = serde_json::to_vec(value).unwrap();
    let activity = Incoming::read(&body);
    deliberate("activity", &activity)?;
    let _ = sender_of(&body);
    let _ = object_id(value);
    let _ = object_type(value);
    if let Ok(activity) = &activity {
        let _ = object_id(&activity.object);
        check_object(&activity.object)?;
    }
    check_object(value)
}

fn check_object(value: &Value) -> Result<(), TestCaseError> {
    let event = Event::read(value);
    deliberate("event", &event)?;
    if let Ok(mut event) = event {
        // What we write of an event reads back the same (Mobilizon's
        // `actor` is read, never written).
        event.actor = None;
        let again = Event::read(&serde_json::to_value(&event).unwrap());
        prop_assert_eq!(again.as_ref(), Ok(&event), "an event does not read back as written");
        // Mirrored, or refused with the federation's error (no panic).
        let _ = to_mirror(&event);
        let _ = Time::parse(&event.start_time);
    }
    let note = Note::read(value);
    deliberate("note", &note)?;
    if let Ok(note) = note {
        let again = Note::read(&serde_json::to_value(&note).unwrap());
        prop_assert_eq!(again.as_ref(), Ok(&note), "a note does not read back as written");
    }
    let actor = Actor::read(value);
    deliberate("actor", &actor)?;
    if let Ok(actor) = actor {
        let again = Actor::read(&serde_json::to_value(&actor).unwrap());
        prop_assert_eq!(again.as_ref(), Ok(&actor), "an actor does not read back as written");
    }
    Ok(())
}

#[test]
fn arbitrary_json_is_read_or_refused_by_name() {
    fuzz::run("inbox_json", 300, json(), |value| check_document(&value));
}

#[test]
fn mutated_fixtures_are_read_or_refused_by_name() {
    let all = fixtures();
    // Each fixture as it is first: the corpus the mutations start from.
    for (path, value) in &all {
        check_document(value).unwrap_or_else(|e| panic!("{path}: {e}"));
    }
    let strategy = (0..all.len(), prop::collection::vec(mutation(), 1..6));
    fuzz::run("inbox_fixtures", 300, strategy, |(index, mutations)| {
        let mut value = all[index].1.clone();
        for m in &mutations {
            apply(&mut value, m);
        }
        check_document(&value)
    });
}

#[test]
fn mutated_fixture_bytes_are_refused_by_name() {
    let all = fixtures();
    let edits = prop::collection::vec((any::<usize>(), any::<u8>(), 0..3u8), 1..8);
    fuzz::run("inbox_bytes", 300, (0..all.len(), edits), |(index, edits)| {
        let mut bytes = serde_json::to_vec(&all[index].1).unwrap();
        for (at, byte, op) in edits {
            let at = at % (bytes.len() + 1);
            match op {
                0 if at < bytes.len() => bytes[at] = byte,
                1 if at < bytes.len() => {
                    bytes.remove(at);
                }
                _ => bytes.insert(at, byte),
            }
        }
        let activity = Incoming::read(&bytes);
        deliberate("activity", &activity)?;
        let _ = sender_of(&bytes);
        if let Ok(value) = serde_json::from_slice::<Value>(&bytes) {
            check_document(&value)?;
        }
        Ok(())
    });
}
