//! Parsing real payloads from Mastodon, Mobilizon, Gancio and the other
//! servers in `tests/fixtures/` with our wire types: what the inbox reads
//! of each, and how a foreign event is mirrored as bookable slots (the
//! same payloads go through the signed inbox in `federation_servers`).

use officehours::federation::mirror::to_mirror;
use officehours::federation::objects::{Event, Incoming, Note, object_id, object_type};
use serde_json::Value;

fn fixture(path: &str) -> Value {
    let text = std::fs::read_to_string(format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn mastodon_reply_with_mention_is_a_public_note_with_its_mention() {
    let create: Incoming = serde_json::from_value(fixture("mastodon/create_note.json")).unwrap();
    assert_eq!(create.kind, "Create");
    assert_eq!(create.actor.as_str(), "https://mastodon.madrid/users/felix");
    assert_eq!(object_type(&create.object), Some("Note"));
    let note: Note = serde_json::from_value(create.object.clone()).unwrap();
    assert_eq!(
        note.in_reply_to.as_ref().map(|u| u.as_str()),
        Some("https://mamot.fr/users/retiolus/statuses/107224244380204526")
    );
    let mentions: Vec<&str> = note.mentions().map(|u| u.as_str()).collect();
    assert_eq!(mentions, ["https://mamot.fr/users/retiolus"]);
    assert!(!note.is_direct(), "addressed to followers and Public");
}

#[test]
fn a_private_message_is_direct() {
    let note: Note = serde_json::from_value(fixture("mastodon/private_message.json")).unwrap();
    assert!(note.is_direct(), "{note:?}");
    assert!(!note.content.is_empty());
}

#[test]
fn delete_follow_and_undo_name_their_objects() {
    let delete: Incoming = serde_json::from_value(fixture("mastodon/delete.json")).unwrap();
    assert_eq!(delete.kind, "Delete");
    assert_eq!(object_type(&delete.object), Some("Tombstone"));
    assert!(object_id(&delete.object).is_some());
    let follow: Incoming = serde_json::from_value(fixture("mastodon/follow.json")).unwrap();
    assert_eq!(follow.kind, "Follow");
    assert!(object_id(&follow.object).is_some());
    let undo: Incoming = serde_json::from_value(fixture("mastodon/undo_follow.json")).unwrap();
    assert_eq!(undo.kind, "Undo");
    assert_eq!(object_type(&undo.object), Some("Follow"));
}

#[test]
fn mobilizon_join_and_leave_name_the_event() {
    for (path, kind) in
        [("mobilizon/mobilizon-join-activity.json", "Join"), ("mobilizon/mobilizon-leave-activity.json", "Leave")]
    {
        let activity: Incoming = serde_json::from_value(fixture(path)).unwrap();
        assert_eq!(activity.kind, kind);
        assert_eq!(activity.actor.as_str(), "http://mobilizon2.test/@admin");
        assert_eq!(object_id(&activity.object).unwrap().as_str(), "http://mobilizon.test/events/some-uuid");
        assert!(activity.slot.is_none(), "Mobilizon names no slot: the first open one is taken");
    }
}

#[test]
fn a_mobilizon_group_event_is_owned_by_the_group_and_mirrored_as_one_slot() {
    let event: Event = serde_json::from_value(fixture("mobilizon/event.json")).unwrap();
    // A group's event: `attributedTo` (the group) owns it, not the member in `actor`.
    assert_eq!(event.owner().map(|u| u.as_str()), Some("https://rendezvous.nomagic.uk/@devon_caledonian_society"));
    assert_eq!(event.actor.as_ref().map(|u| u.as_str()), Some("https://rendezvous.nomagic.uk/@emorrp1"));
    assert!(!event.is_cancelled());
    let mirrored = to_mirror(&event).unwrap();
    assert_eq!(mirrored.timezone, "Europe/London");
    assert_eq!((mirrored.date.as_str(), mirrored.start_time.as_str()), ("2022-12-11", "19:00"));
    assert_eq!(mirrored.slots.len(), 1);
    assert_eq!(mirrored.slots[0].ends_at - mirrored.slots[0].starts_at, 2 * 60 * 60 * 1000);
    assert_eq!(mirrored.session_minutes, 120);
}

#[test]
fn a_gancio_event_keeps_its_offset_and_defaults_to_utc() {
    let create: Incoming = serde_json::from_value(fixture("gancio/gancio-event-activity.json")).unwrap();
    assert_eq!(object_type(&create.object), Some("Event"));
    let event: Event = serde_json::from_value(create.object).unwrap();
    assert_eq!(event.owner().map(|u| u.as_str()), Some("https://demo.gancio.org/federation/u/gancio"));
    let mirrored = to_mirror(&event).unwrap();
    // 17:30:57+02:00 is 15:30:57 UTC; Gancio sends no zone name.
    assert_eq!(mirrored.timezone, "UTC");
    assert_eq!(mirrored.start_time, "15:30");
    assert_eq!(mirrored.slots.len(), 1);
}

#[test]
fn an_event_that_ends_before_it_starts_is_refused() {
    let mut value = fixture("mobilizon/event.json");
    value["endTime"] = Value::String("2022-12-11T18:00:00+00:00".into());
    let event: Event = serde_json::from_value(value).unwrap();
    assert!(to_mirror(&event).is_err());
}

#[test]
fn every_servers_actor_document_and_note_is_read_by_our_wire_types() {
    use officehours::federation::wire::Actor;
    let actors = [
        "mastodon/person.json",
        "pleroma/person.json",
        "gotosocial/person.json",
        "friendica/person.json",
        "peertube/person.json",
        "lemmy/person.json",
        "hubzilla/person.json",
        "wordpress/person.json",
        "gnusocial/person.json",
        "misskey/person.json",
        "sharkey/person.json",
        "pixelfed/person.json",
        "mitra/person.json",
        "takahe/person.json",
        "discourse/person.json",
    ];
    for path in actors {
        let actor = Actor::read(&fixture(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(!actor.preferred_username.is_empty() && !actor.public_key.public_key_pem.is_empty(), "{path}");
    }
    let notes = [
        ("pleroma/create_note.json", true),
        ("pleroma/akkoma_reply.json", true),
        ("gotosocial/create_reply.json", true),
        ("friendica/create_note.json", true),
        ("friendica/update_note.json", true),
        ("lemmy/create_comment.json", true),
        ("hubzilla/create_note.json", true),
        ("gnusocial/create_note.json", true),
        ("misskey/create_reply.json", true),
        ("sharkey/direct_note.json", true),
        ("pixelfed/create_reply.json", true),
        ("mitra/create_reply.json", true),
        ("takahe/create_reply.json", true),
        ("peertube/note.json", false),
        ("wordpress/note.json", false),
    ];
    for (path, wrapped) in notes {
        let value = fixture(path);
        let object = if wrapped {
            let activity: Incoming = serde_json::from_value(value).unwrap_or_else(|e| panic!("{path}: {e}"));
            activity.object
        } else {
            value
        };
        let note = Note::read(&object).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(!note.content.is_empty() && note.attributed_to.is_some(), "{path}: {note:?}");
    }
    // GoToSocial's one tag as an object, and `to` as a string.
    let create: Incoming = serde_json::from_value(fixture("gotosocial/create_reply.json")).unwrap();
    let note = Note::read(&create.object).unwrap();
    assert_eq!(note.mentions().count(), 1);
    assert_eq!(note.to, ["https://www.w3.org/ns/activitystreams#Public"]);
    // Sharkey's direct message: addressed to the advisor alone, its mention
    // tagged, its HTML mention link in single quotes.
    let create: Incoming = serde_json::from_value(fixture("sharkey/direct_note.json")).unwrap();
    let note = Note::read(&create.object).unwrap();
    assert_eq!(note.mentions().count(), 1);
    assert_eq!(note.to, ["https://officehours.example/users/ada"]);
    assert!(note.cc.is_empty());
}
