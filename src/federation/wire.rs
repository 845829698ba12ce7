//! ActivityPub and discovery wire types: what goes over the network, apart
//! from the behaviour that produces and checks it. Unknown fields from other
//! servers are ignored; optional ones default.

use activitypub_federation::protocol::public_key::PublicKey;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

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
/// instance's `Application`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
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
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "one_or_many")]
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

/// A property given as one value or a list (JSON-LD compaction writes a
/// one-element list as the value alone); `null` is none.
fn one_or_many<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<Value>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::Array(values) => values,
        Value::Null => Vec::new(),
        value => vec![value],
    })
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoints {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_inbox: Option<Url>,
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
