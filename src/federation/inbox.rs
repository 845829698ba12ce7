//! The inbox: every POST is checked — its media type, its signature (RFC
//! 9421 or draft-cavage: read, recent, covering the body's digest, which
//! matches; nothing is fetched for an unsigned request), then the activity, its actor and the
//! signing key on the same server, then the HTTP signature against the
//! actor's key (fetched when unknown — at most so many fetches per remote
//! host a minute, and a failed fetch is remembered for a while —, refetched
//! once when an old copy does not verify: keys rotate) — then by us (its
//! object comes from the same server too), then applied once: the activity
//! id is recorded in the same transaction as its effect.
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
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use url::Url;

use crate::service::AppError;

use super::context::FedData;
use super::error::FederationError;
use super::objects::{Incoming, object_id, object_type};
use super::remote::Remote;
use super::{follows, mirror, problem, requests, signatures};

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
            // Who sent it, as the body says (read again only on this path).
            let sender = super::tolerant::sender_of(&body);
            if status.is_server_error() {
                tracing::warn!(error = %err, %sender, "an inbound activity failed");
            } else {
                tracing::info!(error = %err, %sender, status = status.as_u16(), "an inbound activity was refused");
            }
            let mut response = problem(status, &err.message());
            if let FederationError::App(AppError::RateLimited { retry_after_secs }) = err {
                response.headers_mut().insert(RETRY_AFTER, retry_after_secs.into());
            }
            response
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
    check_media_type(headers)?;
    let app = data.app();
    let own = (app.config.public_url.scheme(), app.config.domain.as_str());
    let signature = signatures::Inbound::read(method, uri, headers, body, own, app.clock.now_ms())?;
    let activity = Incoming::read(body)?;
    verify_domains_match(&activity.id, &activity.actor)?;
    if !app.config.federation_test_mode && activity.id.scheme() != "https" {
        return Err(FederationError::Invalid("Activities come from https addresses.".into()));
    }
    if app.config.is_own_url(&activity.id) {
        return Err(FederationError::Forbidden("That activity claims to come from this instance.".into()));
    }
    // A key on another server than the actor can never verify: refuse
    // before fetching anything.
    let key_on_actors_server =
        |key_id: &str| Url::parse(key_id).is_ok_and(|key| verify_domains_match(&key, &activity.actor).is_ok());
    if let Some(elsewhere) = signature.key_ids().into_iter().find(|k| !key_on_actors_server(k)) {
        return Err(FederationError::SignatureRefused(format!("the key {elsewhere} is not on the actor's server")));
    }
    let actor_id = ObjectId::<Remote>::from(activity.actor.clone());
    if activity.kind == "Delete"
        && object_id(&activity.object).as_ref() == Some(&activity.actor)
        && Remote::read_from_id(activity.actor.clone(), data).await?.is_none()
    {
        // Someone we never knew deleted their account (servers tell every
        // instance they know): nothing to undo, and nothing to fetch — the
        // actor is gone.
        return Ok(());
    }
    let actor = sender(data, &activity.actor).await?;
    let signed_by = |actor: &Remote| signature.verify(&actor.keys());
    if let Err(err) = signed_by(&actor) {
        // Their key may have changed since we stored it: fetch once more.
        if app.clock.now_ms() - actor.row.fetched_at < KEY_REFETCH_AFTER_MS {
            return Err(err);
        }
        signed_by(&actor_id.dereference_forced(data).await?)?;
    }
    tracing::debug!(id = %activity.id, kind = %activity.kind, "receiving an activity");
    activity.verify(data).await?;
    activity.receive(data).await
}

/// `application/activity+json`, or `application/ld+json` with the
/// ActivityStreams profile (or none); anything else is 415.
fn check_media_type(headers: &HeaderMap) -> Result<(), FederationError> {
    let value = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let mut parts = value.split(';').map(str::trim);
    let essence = parts.next().unwrap_or_default().to_ascii_lowercase();
    let readable = match essence.as_str() {
        "application/activity+json" => true,
        "application/ld+json" => parts
            .filter_map(|p| p.split_once('='))
            .filter(|(name, _)| name.trim().eq_ignore_ascii_case("profile"))
            .all(|(_, profile)| profile.contains("https://www.w3.org/ns/activitystreams")),
        _ => false,
    };
    if readable { Ok(()) } else { Err(FederationError::UnsupportedMediaType) }
}

/// The sender of a signed activity: from memory or storage, else fetched.
/// Fetches are limited per remote host, and an actor whose fetch failed is
/// refused with the same answer for a few minutes (`App::failed_actors`),
/// so one sender cannot keep the fetcher busy.
async fn sender(data: &Data<FedData>, actor: &Url) -> Result<Remote, FederationError> {
    if let Some((status, message)) = data.failed_actors.get(actor.as_str()) {
        return Err(FederationError::RecentlyFailed { status, message });
    }
    if Remote::read_from_id(actor.clone(), data).await?.is_none() {
        let host = crate::storage::domain_of(actor.as_str());
        data.app().count_actor_fetch(&host)?;
    }
    match ObjectId::<Remote>::from(actor.clone()).dereference(data).await {
        Ok(remote) => Ok(remote),
        Err(err) => {
            let err = err.explained().await;
            if matches!(err, FederationError::NotFound | FederationError::Invalid(_) | FederationError::Remote(_)) {
                let message = format!("The actor {actor} could not be fetched: {}", err.message());
                data.failed_actors.insert(actor.to_string(), (err.status().as_u16(), message));
            }
            Err(err)
        }
    }
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
        let app = data.app();
        if let Err(err) = app.instance_spoke(&crate::storage::domain_of(self.actor.as_str())).await {
            tracing::warn!(error = %err, "could not record an instance as alive");
        }
        let actor = || async { ObjectId::<Remote>::from(self.actor.clone()).dereference(data).await };
        match self.kind.as_str() {
            "Follow" => {
                let target = object_id(&self.object).ok_or_else(|| FederationError::Invalid("Follow whom?".into()))?;
                let user = local_user(app, &target).await?;
                follows::accept_follower(app, &user, &actor().await?, &self).await
            }
            "Undo" => match object_type(&self.object) {
                Some("Follow") => {
                    let target = self.object.get("object").and_then(object_id);
                    let Some(target) = target else { return Err(FederationError::Invalid("Undo of what?".into())) };
                    let user = local_user(app, &target).await?;
                    app.remove_follower(self.id.as_str(), user.id, self.actor.as_str()).await?;
                    Ok(())
                }
                Some("Join") | None => requests::receive_withdrawal(app, &actor().await?, &self).await,
                _ => seen(app, &self).await,
            },
            "Leave" => requests::receive_withdrawal(app, &actor().await?, &self).await,
            "Accept" | "Reject" => {
                let actor = actor().await?;
                if requests::receive_answer(app, &actor, &self).await? {
                    return Ok(());
                }
                if self.kind == "Accept"
                    && let Some(follow_id) = object_id(&self.object)
                {
                    app.follow_accepted(self.id.as_str(), follow_id.as_str(), self.actor.as_str()).await?;
                    return Ok(());
                }
                seen(app, &self).await
            }
            "Join" => requests::receive_join(app, &actor().await?, &self).await,
            "Create" | "Update" => match object_type(&self.object) {
                Some("Event") => {
                    let actor = actor().await?;
                    if !app.is_followed_here(actor.id.as_str()).await? {
                        // Nobody here asked for these events.
                        return seen(app, &self).await;
                    }
                    mirror::receive_event(app, &actor, &self.object, Some(self.id.as_str())).await
                }
                Some(kind) if requests::is_written(kind) => {
                    if self.kind == "Create" {
                        requests::receive_note(app, &actor().await?, &self).await
                    } else {
                        requests::receive_note_update(app, &actor().await?, &self).await
                    }
                }
                Some(kind) if self.kind == "Update" && is_actor_type(kind) => {
                    // A profile or key changed: read it again from its server
                    // now, rather than when the cached copy gets old.
                    if object_id(&self.object).as_ref() != Some(&self.actor) {
                        return Err(FederationError::Forbidden("An actor can only update itself.".into()));
                    }
                    ObjectId::<Remote>::from(self.actor.clone()).dereference_forced(data).await?;
                    seen(app, &self).await
                }
                _ => seen(app, &self).await,
            },
            "Delete" => {
                let Some(id) = object_id(&self.object) else { return seen(app, &self).await };
                let Some(actor) = Remote::read_from_id(self.actor.clone(), data).await? else {
                    return seen(app, &self).await;
                };
                if id == self.actor {
                    app.remote_actor_deleted(&actor.row, self.id.as_str()).await?;
                    data.remote_actors.invalidate(self.actor.as_str());
                    return Ok(());
                }
                mirror::delete_event(app, &actor, &id, self.id.as_str()).await?;
                seen(app, &self).await
            }
            _ => {
                tracing::debug!(kind = %self.kind, id = %self.id, "ignored an activity we do not handle");
                seen(app, &self).await
            }
        }
    }
}

/// The ActivityStreams actor types.
fn is_actor_type(kind: &str) -> bool {
    matches!(kind, "Person" | "Service" | "Application" | "Group" | "Organization")
}

/// Records an activity whose effect (if any) is idempotent, so a replay is
/// recognised.
async fn seen(app: &crate::service::App, activity: &Incoming) -> Result<(), FederationError> {
    app.mark_seen(activity.id.as_str()).await?;
    Ok(())
}

/// The local account an activity's object names (`https://us/users/name`).
async fn local_user(app: &crate::service::App, object: &Url) -> Result<crate::storage::User, FederationError> {
    app.local_user_of(object.as_str()).await?.ok_or(FederationError::NotFound)
}
