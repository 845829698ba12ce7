//! Our actors as ActivityPub JSON: every account as a `Person`, the
//! instance as an `Application`.

use activitypub_federation::protocol::public_key::PublicKey;
use url::Url;

use crate::service::App;
use crate::service::AppError;
use crate::storage::User;

use super::signatures::ed25519_multibase_of;
use super::wire::{Actor, Endpoints, Multikey, OrderedCollection, actor_context};

/// The id of a local person: `https://<instance>/users/<username>`.
pub fn person_id(app: &App, username: &str) -> Result<Url, AppError> {
    link(app, &format!("/users/{username}"))
}

/// The instance actor's id.
pub fn instance_actor_id(app: &App) -> Result<Url, AppError> {
    link(app, "/actor")
}

pub(crate) fn link(app: &App, path: &str) -> Result<Url, AppError> {
    Url::parse(&app.config.link(path)).map_err(|e| AppError::Internal(anyhow::anyhow!("bad public URL: {e}")))
}

/// A local account as a `Person`.
pub async fn person(app: &App, user: &User) -> Result<Actor, AppError> {
    let id = person_id(app, &user.username)?;
    let keys = app.actor_keys(user).await?;
    let base = id.as_str().to_string();
    let at = |suffix: &str| Url::parse(&format!("{base}/{suffix}")).ok();
    Ok(Actor {
        context: actor_context(),
        public_key: PublicKey { id: format!("{base}#main-key"), owner: id.clone(), public_key_pem: keys.public_pem },
        assertion_method: multikey(&id, &keys.ed25519_pem)?,
        kind: "Person".into(),
        preferred_username: user.username.clone(),
        name: Some(user.name().to_string()),
        summary: Some(summary_html(user)),
        url: Some(id.clone()),
        inbox: at("inbox").unwrap_or_else(|| id.clone()),
        outbox: at("outbox"),
        followers: at("followers"),
        following: None,
        endpoints: Some(Endpoints { shared_inbox: link(app, "/inbox").ok() }),
        published: jiff::Timestamp::from_millisecond(user.created_at).ok().map(|t| t.to_string()),
        discoverable: user.is_advisor,
        manually_approves_followers: false,
        upcoming_events: if user.is_advisor { at("events") } else { None },
        id,
    })
}

/// The instance actor, which signs server-to-server fetches.
pub async fn instance_actor(app: &App) -> Result<Actor, AppError> {
    let id = instance_actor_id(app)?;
    let keys = app.instance_actor_keys().await?;
    Ok(Actor {
        context: actor_context(),
        public_key: PublicKey { id: format!("{id}#main-key"), owner: id.clone(), public_key_pem: keys.public_pem },
        assertion_method: multikey(&id, &keys.ed25519_pem)?,
        kind: "Application".into(),
        preferred_username: app.config.domain.clone(),
        name: Some(app.config.instance_name.clone()),
        summary: None,
        url: link(app, "/").ok(),
        inbox: link(app, "/inbox")?,
        outbox: None,
        followers: None,
        following: None,
        endpoints: Some(Endpoints { shared_inbox: link(app, "/inbox").ok() }),
        published: None,
        discoverable: false,
        manually_approves_followers: true,
        upcoming_events: None,
        id,
    })
}

/// The actor's Ed25519 key as a FEP-521a `assertionMethod` Multikey
/// (`<actor>#ed25519-key`), which RFC 9421 `ed25519` signatures name.
fn multikey(actor: &Url, ed25519_pem: &str) -> Result<Vec<serde_json::Value>, AppError> {
    let unreadable = || AppError::Internal(anyhow::anyhow!("the Ed25519 key of {actor} is unreadable"));
    let key = Multikey {
        id: Url::parse(&format!("{actor}#ed25519-key")).map_err(|_| unreadable())?,
        kind: "Multikey".into(),
        controller: actor.clone(),
        public_key_multibase: ed25519_multibase_of(ed25519_pem).ok_or_else(unreadable)?,
    };
    Ok(vec![serde_json::to_value(key).map_err(|_| unreadable())?])
}

/// An empty ordered collection (followers and outbox, until follows and
/// publishing arrive).
pub fn empty_collection(id: Url) -> OrderedCollection {
    OrderedCollection {
        context: "https://www.w3.org/ns/activitystreams".into(),
        id,
        kind: "OrderedCollection".into(),
        total_items: 0,
        ordered_items: Vec::new(),
    }
}

/// The bio as HTML paragraphs, with the headline first; everything escaped.
fn summary_html(user: &User) -> String {
    let mut parts: Vec<String> = Vec::new();
    if !user.headline.is_empty() {
        parts.push(format!("<p>{}</p>", escape(&user.headline)));
    }
    for paragraph in user.bio.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        parts.push(format!("<p>{}</p>", escape(paragraph).replace('\n', "<br>")));
    }
    parts.join("")
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
