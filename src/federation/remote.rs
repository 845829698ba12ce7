//! Remote actors: fetched (through WebFinger or by id), verified, sanitised,
//! stored, and cached in memory.

use std::sync::{Arc, OnceLock};

use activitypub_federation::config::Data;
use activitypub_federation::fetch::object_id::ObjectId;
use activitypub_federation::fetch::webfinger::webfinger_resolve_actor;
use activitypub_federation::protocol::verification::verify_domains_match;
use activitypub_federation::traits::{Actor as ActorTrait, Object};
use url::Url;

use crate::domain::person_ref::Handle;
use crate::storage::{NewRemoteActor, RemoteActor};

use super::context::FedData;
use super::error::FederationError;
use super::signatures::{ActorKeys, Ed25519Key, PublicKey};
use super::wire::{Actor, Multikey};

/// A remote actor as the federation crate handles it.
#[derive(Debug, Clone)]
pub struct Remote {
    pub id: Url,
    pub row: RemoteActor,
    /// The key, parsed on first use and kept as long as the actor is cached.
    key: Arc<OnceLock<Option<PublicKey>>>,
    /// The Ed25519 Multikey, likewise.
    ed25519: Arc<OnceLock<Option<Ed25519Key>>>,
}

impl Remote {
    fn new(row: RemoteActor) -> Result<Remote, FederationError> {
        let id = Url::parse(&row.ap_id).map_err(|_| FederationError::Invalid("stored actor id unreadable".into()))?;
        Ok(Remote { id, row, key: Arc::default(), ed25519: Arc::default() })
    }

    /// The actor's public key, to check what they sign; `None` when their
    /// PEM is no RSA key we can read.
    pub fn public_key(&self) -> Option<&PublicKey> {
        self.key.get_or_init(|| PublicKey::from_pem(&self.row.public_key_pem)).as_ref()
    }

    /// Every key the actor publishes, to check an RFC 9421 signature by its
    /// `keyid`.
    pub fn keys(&self) -> ActorKeys<'_> {
        let ed25519 = self.ed25519.get_or_init(|| self.row.ed25519_key.as_deref().and_then(Ed25519Key::from_multibase));
        ActorKeys {
            rsa_id: &self.row.public_key_id,
            rsa: self.public_key(),
            ed25519: self.row.ed25519_key_id.as_deref().zip(ed25519.as_ref()),
        }
    }

    /// `ada@alpha.test`.
    pub fn handle(&self) -> String {
        format!("{}@{}", self.row.username, self.row.domain)
    }
}

#[async_trait::async_trait]
impl Object for Remote {
    type DataType = FedData;
    type Kind = Actor;
    type Error = FederationError;

    fn id(&self) -> &Url {
        &self.id
    }

    fn last_refreshed_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        chrono::DateTime::from_timestamp_millis(self.row.fetched_at)
    }

    async fn read_from_id(id: Url, data: &Data<FedData>) -> Result<Option<Self>, FederationError> {
        let app = data.app();
        if let Some(hit) = data.remote_actors.get(id.as_str()) {
            return Ok(Some((*hit).clone()));
        }
        match app.remote_actor(id.as_str()).await? {
            Some(row) => {
                let remote = Remote::new(row)?;
                data.remote_actors.insert(id.to_string(), Arc::new(remote.clone()));
                Ok(Some(remote))
            }
            None => Ok(None),
        }
    }

    async fn into_json(self, _data: &Data<FedData>) -> Result<Actor, FederationError> {
        Err(FederationError::Invalid("remote actors are not served from here".into()))
    }

    /// The actor's id must be on the host it was fetched from, and so must
    /// its inbox and key (an actor cannot claim another server's things).
    async fn verify(json: &Actor, expected_domain: &Url, _data: &Data<FedData>) -> Result<(), FederationError> {
        verify_domains_match(&json.id, expected_domain)?;
        verify_domains_match(&json.inbox, &json.id)?;
        verify_domains_match(&json.public_key.owner, &json.id)?;
        if json.public_key.public_key_pem.trim().is_empty() {
            return Err(FederationError::Invalid("the actor has no public key".into()));
        }
        Ok(())
    }

    async fn from_json(json: Actor, data: &Data<FedData>) -> Result<Self, FederationError> {
        let domain = match (json.id.host_str(), json.id.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_string(),
            (None, _) => return Err(FederationError::Invalid("the actor id has no host".into())),
        };
        let ed25519 = ed25519_multikey(&json);
        let new = NewRemoteActor {
            ap_id: json.id.to_string(),
            kind: json.kind.chars().take(40).collect(),
            username: json.preferred_username.chars().take(100).collect(),
            domain,
            // Plain text (pages escape it when they show it): control
            // characters dropped, not HTML-escaped here.
            name: json
                .name
                .as_deref()
                .unwrap_or_default()
                .chars()
                .filter(|c| !c.is_control())
                .take(200)
                .collect::<String>()
                .trim()
                .to_string(),
            summary: sanitise(json.summary.as_deref().unwrap_or_default()),
            url: json.url.map(|u| u.to_string()),
            inbox: json.inbox.to_string(),
            shared_inbox: json.endpoints.and_then(|e| e.shared_inbox).map(|u| u.to_string()),
            public_key_id: json.public_key.id.clone(),
            ed25519_key_id: ed25519.as_ref().map(|key| key.id.to_string()),
            ed25519_key: ed25519.map(|key| key.public_key_multibase),
            public_key_pem: json.public_key.public_key_pem,
        };
        let app = data.app();
        let row = app.upsert_remote_actor(&new).await?;
        let remote = Remote::new(row)?;
        data.remote_actors.insert(remote.id.to_string(), Arc::new(remote.clone()));
        Ok(remote)
    }
}

impl ActorTrait for Remote {
    fn public_key_pem(&self) -> &str {
        &self.row.public_key_pem
    }

    fn private_key_pem(&self) -> Option<String> {
        None
    }

    fn inbox(&self) -> Url {
        Url::parse(&self.row.inbox).unwrap_or_else(|_| self.id.clone())
    }

    fn shared_inbox(&self) -> Option<Url> {
        self.row.shared_inbox.as_deref().and_then(|u| Url::parse(u).ok())
    }
}

/// The actor's first Ed25519 Multikey in `assertionMethod` (FEP-521a)
/// that it controls, on its own server, with a key we can read.
fn ed25519_multikey(actor: &Actor) -> Option<Multikey> {
    actor.assertion_method.iter().filter_map(|value| serde_json::from_value::<Multikey>(value.clone()).ok()).find(
        |key| {
            key.kind == "Multikey"
                && key.controller == actor.id
                && verify_domains_match(&key.id, &actor.id).is_ok()
                && Ed25519Key::from_multibase(&key.public_key_multibase).is_some()
        },
    )
}

/// Remote HTML, as we keep and show it: links, paragraphs and emphasis,
/// nothing that runs or loads.
pub fn sanitise(html: &str) -> String {
    ammonia::Builder::default()
        .tags(["a", "p", "br", "span", "em", "strong", "b", "i", "ul", "ol", "li", "code", "pre", "blockquote"].into())
        .link_rel(Some("nofollow noopener noreferrer"))
        .url_schemes(["http", "https"].into())
        .clean(html)
        .to_string()
        .chars()
        .take(5000)
        .collect()
}

/// Sanitised HTML as plain text: paragraphs become blank lines, tags go,
/// the common entities are decoded.
pub fn html_to_text(html: &str) -> String {
    let spaced = html.replace("</p>", "\n\n").replace("<br>", "\n").replace("<br/>", "\n").replace("<br />", "\n");
    let mut text = String::with_capacity(spaced.len());
    let mut in_tag = false;
    for c in spaced.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
        .trim()
        .to_string()
}

/// Finds `name@domain` (with or without a leading `@`): from storage when
/// known and fresh, else through WebFinger. Refuses our own domain.
pub async fn resolve_handle(data: &Data<FedData>, handle: &str) -> Result<Remote, FederationError> {
    let parsed = Handle::parse(handle).map_err(FederationError::Invalid)?;
    let app = data.app();
    if parsed.host.eq_ignore_ascii_case(&app.config.domain) {
        return Err(FederationError::Invalid("That is someone on this instance.".into()));
    }
    let (name, domain) = (parsed.name.as_str(), parsed.host.as_str());
    let handle = parsed.to_string();
    let handle = handle.as_str();
    let found = match app.remote_actor_by_handle(name, domain).await? {
        Some(row) => {
            let id: ObjectId<Remote> = Url::parse(&row.ap_id)
                .map_err(|_| FederationError::Invalid("stored actor id unreadable".into()))?
                .into();
            id.dereference(data).await
        }
        None => webfinger_resolve_actor::<FedData, Remote>(handle, data).await,
    };
    match found {
        Ok(remote) => Ok(remote),
        Err(err) => Err(err.explained().await),
    }
}

#[cfg(test)]
mod tests {
    use super::sanitise;

    #[test]
    fn remote_html_keeps_text_and_links_but_nothing_that_runs() {
        let dirty = r#"<p>Hi <a href="https://x.example" onclick="steal()">there</a><script>alert(1)</script>
            <img src="https://tracker.example/p.gif"><a href="javascript:alert(1)">js</a></p>"#;
        let clean = sanitise(dirty);
        assert!(
            clean.contains("<p>Hi <a href=\"https://x.example\" rel=\"nofollow noopener noreferrer\">there</a>"),
            "{clean}"
        );
        for bad in ["script", "onclick", "img", "javascript"] {
            assert!(!clean.contains(bad), "{bad} in {clean}");
        }
    }

    #[test]
    fn html_becomes_plain_text() {
        assert_eq!(super::html_to_text("<p>Tom &amp; Jerry</p><p>a<br>b &lt;3</p>"), "Tom & Jerry\n\na\nb <3");
    }
}
