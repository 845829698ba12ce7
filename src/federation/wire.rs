//! ActivityPub and discovery wire types: what goes over the network, apart
//! from the behaviour that produces and checks it. Unknown fields from other
//! servers are ignored; optional ones default; actors are read through the
//! shared shapes of [`super::tolerant`].

use activitypub_federation::protocol::public_key::PublicKey;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use super::tolerant::{Kind, Lenient, OneOrMany, Reference, Text, Time, Unreadable, language};

/// The JSON-LD context of our actors: ActivityStreams, the security
/// vocabulary (public keys), Multikeys and `assertionMethod` (FEP-521a),
/// and the Mastodon terms we use.
pub fn actor_context() -> Value {
    serde_json::json!([
        "https://www.w3.org/ns/activitystreams",
        "https://w3id.org/security/v1",
        "https://w3id.org/security/multikey/v1",
        "https://w3id.org/security/data-integrity/v1",
        {
            "toot": "http://joinmastodon.org/ns#",
            "discoverable": "toot:discoverable",
            "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
            "upcomingEvents": {"@id": "https://w3id.org/fep/8a8e#upcomingEvents", "@type": "@id"}
        }
    ])
}

/// An actor: a `Person` (every account, here and on Mastodon), or the
/// instance's `Application`; from others also `Service`, `Group` and the
/// like. Read through [`ActorIn`]: an actor without an id, an inbox or a
/// public key is refused by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "ActorIn")]
pub struct Actor {
    #[serde(rename = "@context", default, skip_serializing_if = "Value::is_null")]
    pub context: Value,
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: String,
    pub preferred_username: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// HTML.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// The HTML profile page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<Url>,
    pub inbox: Url,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbox: Option<Url>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub followers: Option<Url>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub following: Option<Url>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<Endpoints>,
    pub public_key: PublicKey,
    /// FEP-521a keys: [`Multikey`] objects (or references, which we skip);
    /// one or a list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assertion_method: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    #[serde(default)]
    pub discoverable: bool,
    #[serde(default)]
    pub manually_approves_followers: bool,
    /// FEP-8a8e: an advisor's upcoming availability.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upcoming_events: Option<Url>,
}

/// A FEP-521a public key: `{"id": "<actor>#ed25519-key", "type":
/// "Multikey", "controller": "<actor>", "publicKeyMultibase": "z6Mk…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Multikey {
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: String,
    pub controller: Url,
    pub public_key_multibase: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoints {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_inbox: Option<Url>,
}

/// An actor as others send it (see [`super::tolerant`]).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActorIn {
    #[serde(rename = "@context", default)]
    context: Value,
    #[serde(default)]
    id: Lenient<Reference>,
    #[serde(rename = "type", default)]
    kind: Lenient<Kind>,
    #[serde(default)]
    preferred_username: Lenient<String>,
    #[serde(default)]
    name: Lenient<Text>,
    #[serde(default)]
    name_map: Lenient<Text>,
    #[serde(default)]
    summary: Lenient<Text>,
    #[serde(default)]
    summary_map: Lenient<Text>,
    #[serde(default)]
    url: OneOrMany<Reference>,
    /// FEP-521a keys (Ed25519 Multikeys), kept as sent and read by the
    /// signature checks.
    #[serde(default)]
    assertion_method: OneOrMany<Value>,
    #[serde(default)]
    inbox: Lenient<Reference>,
    #[serde(default)]
    outbox: Lenient<Reference>,
    #[serde(default)]
    followers: Lenient<Reference>,
    #[serde(default)]
    following: Lenient<Reference>,
    #[serde(default)]
    endpoints: Lenient<EndpointsIn>,
    /// Outside `endpoints` (Misskey, Discourse).
    #[serde(default)]
    shared_inbox: Lenient<Reference>,
    #[serde(default)]
    public_key: OneOrMany<KeyIn>,
    #[serde(default)]
    published: Lenient<Time>,
    #[serde(default)]
    discoverable: Lenient<bool>,
    #[serde(default)]
    manually_approves_followers: Lenient<bool>,
    #[serde(default)]
    upcoming_events: Lenient<Reference>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EndpointsIn {
    #[serde(default)]
    shared_inbox: Lenient<Reference>,
}

/// A `publicKey`: its id (defaults to `<actor>#main-key`), its owner
/// (defaults to the actor) and its PEM.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyIn {
    #[serde(default)]
    id: Lenient<String>,
    #[serde(default)]
    owner: Lenient<Reference>,
    #[serde(default)]
    public_key_pem: Lenient<String>,
}

impl TryFrom<ActorIn> for Actor {
    type Error = Unreadable;

    fn try_from(a: ActorIn) -> Result<Actor, Unreadable> {
        let id = a.id.0.ok_or_else(|| Unreadable::new("The actor has no id."))?.id;
        let inbox = a.inbox.0.ok_or_else(|| Unreadable::new("The actor has no inbox."))?.id;
        let key = a
            .public_key
            .0
            .into_iter()
            .find_map(|k| k.public_key_pem.0.filter(|p| !p.trim().is_empty()).map(|pem| (k.id.0, k.owner.0, pem)))
            .ok_or_else(|| Unreadable::new("The actor has no public key (publicKey.publicKeyPem)."))?;
        // Some servers leave out the username: the last part of the id.
        let username = a
            .preferred_username
            .0
            .filter(|n| !n.trim().is_empty())
            .or_else(|| id.path_segments().and_then(|mut s| s.rfind(|p| !p.is_empty())).map(str::to_string));
        let username = username.ok_or_else(|| Unreadable::new("The actor has no preferredUsername."))?;
        let shared_inbox = a.endpoints.0.and_then(|e| e.shared_inbox.0).or(a.shared_inbox.0).map(|r| r.id);
        Ok(Actor {
            context: a.context,
            kind: a.kind.0.map(|k| k.0).unwrap_or_else(|| "Person".into()),
            preferred_username: username,
            name: language(a.name, a.name_map),
            summary: language(a.summary, a.summary_map),
            url: a.url.html(),
            inbox,
            outbox: a.outbox.0.map(|r| r.id),
            followers: a.followers.0.map(|r| r.id),
            following: a.following.0.map(|r| r.id),
            endpoints: shared_inbox.map(|u| Endpoints { shared_inbox: Some(u) }),
            public_key: PublicKey {
                id: key.0.unwrap_or_else(|| format!("{id}#main-key")),
                owner: key.1.map(|r| r.id).unwrap_or_else(|| id.clone()),
                public_key_pem: key.2,
            },
            published: a.published.0.map(|t| t.text),
            discoverable: a.discoverable.0.unwrap_or(false),
            manually_approves_followers: a.manually_approves_followers.0.unwrap_or(false),
            upcoming_events: a.upcoming_events.0.map(|r| r.id),
            assertion_method: a.assertion_method.into_vec(),
            id,
        })
    }
}

impl Actor {
    /// An actor document, or a deliberate refusal naming what is missing.
    pub fn read(value: &Value) -> Result<Actor, Unreadable> {
        super::tolerant::read::<ActorIn, Actor>(value, "actor")
    }
}

/// An empty or counted `OrderedCollection` (followers, outbox).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderedCollection {
    #[serde(rename = "@context")]
    pub context: String,
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: String,
    pub total_items: i64,
    pub ordered_items: Vec<Value>,
}

/// `/.well-known/nodeinfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfoLinks {
    pub links: Vec<NodeInfoLink>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfoLink {
    pub rel: String,
    pub href: Url,
}

/// NodeInfo 2.1 (<http://nodeinfo.diaspora.software/ns/schema/2.1>).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeInfo {
    pub version: String,
    pub software: Software,
    pub protocols: Vec<String>,
    pub services: Services,
    pub open_registrations: bool,
    pub usage: Usage,
    pub metadata: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Software {
    pub name: String,
    pub version: String,
    pub repository: String,
    pub homepage: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Services {
    pub inbound: Vec<String>,
    pub outbound: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub users: UsageUsers,
    pub local_posts: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageUsers {
    pub total: i64,
    pub active_month: i64,
    pub active_halfyear: i64,
}
