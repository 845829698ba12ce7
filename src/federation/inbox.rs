//! The inbox: every POST is checked by the federation crate (body digest,
//! HTTP signature against the actor's key — fetched when unknown), then by
//! us (the activity, its actor and its object come from the same server),
//! then applied once: the activity id is recorded in the same transaction
//! as its effect.

use activitypub_federation::axum::inbox::{ActivityData, receive_activity};
use activitypub_federation::config::Data;
use activitypub_federation::fetch::object_id::ObjectId;
use activitypub_federation::protocol::verification::verify_domains_match;
use activitypub_federation::traits::Activity;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use url::Url;

use super::context::FedData;
use super::error::FederationError;
use super::remote::Remote;
use super::wire::{Incoming, object_id};
use super::{actors, follows, problem};

/// `POST /inbox` and `POST /users/{name}/inbox`.
pub async fn receive(data: Data<FedData>, activity: ActivityData) -> Response {
    match receive_activity::<Incoming, Remote, FedData>(activity, &data).await {
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

#[async_trait::async_trait]
impl Activity for Incoming {
    type DataType = FedData;
    type Error = FederationError;

    fn id(&self) -> &Url {
        match self {
            Incoming::Follow(a) => &a.id,
            Incoming::Accept(a) => &a.id,
            Incoming::Undo(a) => &a.id,
            Incoming::Other(a) => &a.id,
        }
    }

    fn actor(&self) -> &Url {
        match self {
            Incoming::Follow(a) => &a.actor,
            Incoming::Accept(a) => &a.actor,
            Incoming::Undo(a) => &a.actor,
            Incoming::Other(a) => &a.actor,
        }
    }

    /// Origin checks: the activity is on its actor's server, and an embedded
    /// object (the follow being undone) is the same actor's.
    async fn verify(&self, _data: &Data<FedData>) -> Result<(), FederationError> {
        verify_domains_match(self.id(), self.actor())?;
        if let Incoming::Undo(undo) = self {
            if let Some(inner_actor) = undo.object.get("actor").and_then(|a| a.as_str())
                && inner_actor != undo.actor.as_str()
            {
                return Err(FederationError::Forbidden("An actor can only undo its own activities.".into()));
            }
            let inner =
                object_id(&undo.object).ok_or_else(|| FederationError::Invalid("Undo without an object.".into()))?;
            verify_domains_match(&inner, &undo.actor)?;
        }
        Ok(())
    }

    async fn receive(self, data: &Data<FedData>) -> Result<(), FederationError> {
        let app = data.app()?;
        match self {
            Incoming::Follow(follow) => {
                let user = local_user(&app, &follow.object).await?;
                let actor: Remote = ObjectId::<Remote>::from(follow.actor.clone()).dereference(data).await?;
                follows::accept_follower(&app, &user, &actor, &follow).await
            }
            Incoming::Undo(undo) => {
                // Only Undo(Follow) means something to us so far.
                let target = undo.object.get("object").and_then(|o| o.as_str()).and_then(|o| Url::parse(o).ok());
                match target {
                    Some(target) if undo.object.get("type").and_then(|t| t.as_str()) == Some("Follow") => {
                        let user = local_user(&app, &target).await?;
                        app.store.remove_follower(undo.id.as_str(), user.id, undo.actor.as_str()).await?;
                        Ok(())
                    }
                    _ => {
                        app.store.mark_seen(undo.id.as_str()).await?;
                        Ok(())
                    }
                }
            }
            Incoming::Accept(accept) => {
                let Some(follow_id) = object_id(&accept.object) else {
                    return Err(FederationError::Invalid("Accept without an object.".into()));
                };
                app.store.follow_accepted(accept.id.as_str(), follow_id.as_str(), accept.actor.as_str()).await?;
                Ok(())
            }
            Incoming::Other(other) => {
                tracing::debug!(kind = %other.kind, id = %other.id, "ignored an activity we do not handle yet");
                app.store.mark_seen(other.id.as_str()).await?;
                Ok(())
            }
        }
    }
}

/// The local account an activity's object names (`https://us/users/name`).
async fn local_user(app: &crate::app::App, object: &Url) -> Result<crate::storage::User, FederationError> {
    let prefix = actors::link(app, "/users/")?;
    let name = object.as_str().strip_prefix(prefix.as_str()).filter(|n| !n.is_empty() && !n.contains('/'));
    let Some(name) = name else { return Err(FederationError::NotFound) };
    app.federated_user(name).await?.ok_or(FederationError::NotFound)
}
