//! Follows: remote people following local advisors (we accept at once), and
//! local people following remote advisors.

use activitypub_federation::config::Data;
use activitypub_federation::traits::Actor as _;
use serde_json::json;

use crate::service::App;
use crate::storage::{Follow, NewDelivery, User};

use super::actors;
use super::context::FedData;
use super::error::FederationError;
use super::objects::Incoming;
use super::remote::{Remote, resolve_handle};

const AS_CONTEXT: &str = "https://www.w3.org/ns/activitystreams";

/// A new activity id on this instance: `https://us/activities/<kind>/<random>`.
pub fn new_activity_id(app: &App, kind: &str) -> Result<url::Url, FederationError> {
    let token = crate::service::secrets::new_secret();
    Ok(actors::link(app, &format!("/activities/{kind}/{}", &token[..22]))?)
}

/// Records the follower and queues our `Accept` (one transaction, once).
pub async fn accept_follower(
    app: &App,
    user: &User,
    follower: &Remote,
    follow: &Incoming,
) -> Result<(), FederationError> {
    let me = actors::person_id(app, &user.username)?;
    let id = new_activity_id(app, "accept")?;
    let body = json!({
        "@context": AS_CONTEXT,
        "id": id,
        "type": "Accept",
        "actor": me,
        "object": {"id": follow.id, "type": "Follow", "actor": follow.actor, "object": follow.object},
        "to": [follower.id],
    });
    let delivery = NewDelivery {
        activity_id: id.to_string(),
        sender_id: user.id,
        inbox: follower.inbox().to_string(),
        body: body.to_string(),
    };
    let inbox = follower.shared_inbox_or_inbox().to_string();
    app.follower_arrived(follow.id.as_str(), user, follower.id.as_str(), &inbox, &delivery).await?;
    Ok(())
}

/// A local person follows someone elsewhere: the `Follow` is stored and
/// queued; their `Accept` completes it.
pub async fn follow(data: &Data<FedData>, user: &User, handle: &str) -> Result<(Remote, Follow), FederationError> {
    let app = data.app();
    let remote = resolve_handle(data, handle).await?;
    let me = actors::person_id(app, &user.username)?;
    let id = new_activity_id(app, "follow")?;
    let body = json!({
        "@context": AS_CONTEXT,
        "id": id,
        "type": "Follow",
        "actor": me,
        "object": remote.id,
    });
    let delivery = NewDelivery {
        activity_id: id.to_string(),
        sender_id: user.id,
        inbox: remote.inbox().to_string(),
        body: body.to_string(),
    };
    let follow = app.start_follow(user.id, remote.id.as_str(), &delivery).await?;
    app.wake_jobs();
    Ok((remote, follow))
}

/// A local person stops following someone elsewhere: an `Undo` of the
/// original `Follow` is queued. Not following them is not an error.
/// Returns whom they stopped following.
pub async fn unfollow(data: &Data<FedData>, user: &User, handle: &str) -> Result<Remote, FederationError> {
    let app = data.app();
    let remote = resolve_handle(data, handle).await?;
    let me = actors::person_id(app, &user.username)?;
    let id = new_activity_id(app, "undo")?;
    let inbox = remote.inbox().to_string();
    let stopped = app
        .stop_follow(user.id, remote.id.as_str(), |follow| NewDelivery {
            activity_id: id.to_string(),
            sender_id: user.id,
            inbox: inbox.clone(),
            body: json!({
                "@context": AS_CONTEXT,
                "id": id,
                "type": "Undo",
                "actor": me,
                "object": {"id": follow.follow_id, "type": "Follow", "actor": me, "object": remote.id},
            })
            .to_string(),
        })
        .await?;
    if stopped.is_some() {
        app.wake_jobs();
    }
    Ok(remote)
}
