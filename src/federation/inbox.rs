//! The inbox: every POST is checked — body digest, then the activity and
//! its actor on the same server, then the HTTP signature against the
//! actor's key (fetched when unknown, refetched once when an old copy does
//! not verify: keys rotate) — then by us (its object comes from the same
//! server too), then applied once: the activity id is recorded in the same
//! transaction as its effect.
//!
//! The steps are the federation crate's `receive_activity`, with the
//! signature checked by [`super::signatures`] (faster, and the key parsed
//! once per cached actor).

use activitypub_federation::config::Data;
use activitypub_federation::fetch::object_id::ObjectId;
use activitypub_federation::protocol::verification::verify_domains_match;
use activitypub_federation::traits::{Activity, Object};
use axum::body::Bytes;
use axum::extract::OriginalUri;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use url::Url;

use super::context::FedData;
use super::error::FederationError;
use super::objects::{Incoming, object_id, object_type};
use super::remote::Remote;
use super::{actors, follows, mirror, problem, requests, signatures};

/// How old a stored copy of an actor must be before a signature that does
/// not verify against it makes us fetch the actor again.
const KEY_REFETCH_AFTER_MS: i64 = 10_000;

/// `POST /inbox` and `POST /users/{name}/inbox` (the body is at most
/// [`super::INBOX_BODY_LIMIT`]; larger is 413 before this runs).
pub async fn receive(
    data: Data<FedData>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match receive_checked(&data, &method, &uri, &headers, &body).await {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(err) => {
            let status = err.status();
            if status.is_server_error() {
                tracing::warn!(error = %err, "an inbound activity failed");
            } else {
                tracing::info!(error = %err, status = status.as_u16(), "an inbound activity was refused");
            }
            problem(status, &err.message())
        }
    }
}

async fn receive_checked(
    data: &Data<FedData>,
    method: &Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), FederationError> {
    signatures::verify_digest(headers, body)?;
    let activity: Incoming = serde_json::from_slice(body)
        .map_err(|_| FederationError::Invalid("That is not an activity we can read.".into()))?;
    verify_domains_match(&activity.id, &activity.actor)?;
    let app = data.app()?;
    if !app.config.federation_test_mode && activity.id.scheme() != "https" {
        return Err(FederationError::Invalid("Activities come from https addresses.".into()));
    }
    if app.config.is_own_url(&activity.id) {
        return Err(FederationError::Forbidden("That activity claims to come from this instance.".into()));
    }
    let actor_id = ObjectId::<Remote>::from(activity.actor.clone());
    let actor = actor_id.dereference(data).await?;
    let signed_by = |actor: &Remote| {
        let key = actor.public_key().ok_or(FederationError::Unauthorized)?;
        signatures::verify_request(method, uri, headers, key, &app.config.domain)
    };
    if let Err(err) = signed_by(&actor) {
        // Their key may have changed since we stored it: fetch once more.
        if crate::storage::now_ms() - actor.row.fetched_at < KEY_REFETCH_AFTER_MS {
            return Err(err);
        }
        signed_by(&actor_id.dereference_forced(data).await?)?;
    }
    tracing::debug!(id = %activity.id, kind = %activity.kind, "receiving an activity");
    activity.verify(data).await?;
    activity.receive(data).await
}

#[async_trait::async_trait]
impl Activity for Incoming {
    type DataType = FedData;
    type Error = FederationError;

    fn id(&self) -> &Url {
        &self.id
    }

    fn actor(&self) -> &Url {
        &self.actor
    }

    /// Origin checks: the activity is on its actor's server; an embedded
    /// object of an `Undo`, `Create` or `Update` is the same actor's, and an
    /// object an actor creates, updates or deletes is on its server (owners
    /// are checked again against what is stored, CVE-2024-23832).
    async fn verify(&self, _data: &Data<FedData>) -> Result<(), FederationError> {
        verify_domains_match(&self.id, &self.actor)?;
        let embedded_actor = self.object.get("actor").or_else(|| self.object.get("attributedTo")).and_then(object_id);
        match self.kind.as_str() {
            "Undo" | "Create" | "Update" | "Delete" => {
                if let Some(inner) = embedded_actor
                    && inner != self.actor
                {
                    return Err(FederationError::Forbidden("An actor can only act on its own objects.".into()));
                }
                let inner = object_id(&self.object)
                    .ok_or_else(|| FederationError::Invalid(format!("{} without an object.", self.kind)))?;
                verify_domains_match(&inner, &self.actor)?;
            }
            _ => {}
        }
        Ok(())
    }

    async fn receive(self, data: &Data<FedData>) -> Result<(), FederationError> {
        let app = data.app()?;
        if let Err(err) = app.instance_spoke(&crate::storage::domain_of(self.actor.as_str())).await {
            tracing::warn!(error = %err, "could not record an instance as alive");
        }
        let actor = || async { ObjectId::<Remote>::from(self.actor.clone()).dereference(data).await };
        match self.kind.as_str() {
            "Follow" => {
                let target = object_id(&self.object).ok_or_else(|| FederationError::Invalid("Follow whom?".into()))?;
                let user = local_user(&app, &target).await?;
                follows::accept_follower(&app, &user, &actor().await?, &self).await
            }
            "Undo" => match object_type(&self.object) {
                Some("Follow") => {
                    let target = self.object.get("object").and_then(object_id);
                    let Some(target) = target else { return Err(FederationError::Invalid("Undo of what?".into())) };
                    let user = local_user(&app, &target).await?;
                    app.store.remove_follower(self.id.as_str(), user.id, self.actor.as_str()).await?;
                    Ok(())
                }
                Some("Join") | None => requests::receive_withdrawal(&app, &actor().await?, &self).await,
                _ => seen(&app, &self).await,
            },
            "Leave" => requests::receive_withdrawal(&app, &actor().await?, &self).await,
            "Accept" | "Reject" => {
                let actor = actor().await?;
                if requests::receive_answer(&app, &actor, &self).await? {
                    return Ok(());
                }
                if self.kind == "Accept"
                    && let Some(follow_id) = object_id(&self.object)
                {
                    app.store.follow_accepted(self.id.as_str(), follow_id.as_str(), self.actor.as_str()).await?;
                    return Ok(());
                }
                seen(&app, &self).await
            }
            "Join" => requests::receive_join(&app, &actor().await?, &self).await,
            "Create" | "Update" => match object_type(&self.object) {
                Some("Event") => {
                    let actor = actor().await?;
                    if !app.store.is_followed_here(actor.id.as_str()).await? {
                        // Nobody here asked for these events.
                        return seen(&app, &self).await;
                    }
                    mirror::receive_event(&app, &actor, &self.object, Some(self.id.as_str())).await
                }
                Some("Note") if self.kind == "Create" => requests::receive_note(&app, &actor().await?, &self).await,
                _ => seen(&app, &self).await,
            },
            "Delete" => {
                let Some(id) = object_id(&self.object) else { return seen(&app, &self).await };
                if id != self.actor
                    && let Some(actor) = Remote::read_from_id(self.actor.clone(), data).await?
                {
                    mirror::delete_event(&app, &actor, &id, self.id.as_str()).await?;
                }
                seen(&app, &self).await
            }
            _ => {
                tracing::debug!(kind = %self.kind, id = %self.id, "ignored an activity we do not handle");
                seen(&app, &self).await
            }
        }
    }
}

/// Records an activity whose effect (if any) is idempotent, so a replay is
/// recognised.
async fn seen(app: &crate::app::App, activity: &Incoming) -> Result<(), FederationError> {
    app.store.mark_seen(activity.id.as_str()).await?;
    Ok(())
}

/// The local account an activity's object names (`https://us/users/name`).
async fn local_user(app: &crate::app::App, object: &Url) -> Result<crate::storage::User, FederationError> {
    let prefix = actors::link(app, "/users/")?;
    let name = object.as_str().strip_prefix(prefix.as_str()).filter(|n| !n.is_empty() && !n.contains('/'));
    let Some(name) = name else { return Err(FederationError::NotFound) };
    app.federated_user(name).await?.ok_or(FederationError::NotFound)
}
