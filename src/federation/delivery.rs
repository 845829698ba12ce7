//! Delivering stored activities: each row of `deliveries` is signed with its
//! sender's key and POSTed to its inbox by the federation crate; failures
//! are retried with growing delays (1, 2, 4 … minutes by default,
//! `federation_retry_base_secs`) for about three days, then given up.
//! Rows are claimed with a 30-second lease, so a crash mid-send only delays
//! them.

use std::fmt::Debug;

use activitypub_federation::activity_sending::SendActivityTask;
use activitypub_federation::config::Data;
use activitypub_federation::traits::{Activity, Actor, Object};
use serde::Serialize;
use url::Url;

use crate::app::App;
use crate::service::AppError;
use crate::storage::now_ms;

use super::actors;
use super::context::FedData;
use super::error::FederationError;
use super::wire;

/// Attempts before a delivery is given up (1, 2, 4 … minutes, at most 8
/// hours apart: about three days).
const ATTEMPTS: i64 = 16;
/// A claimed delivery is retried by anyone after this long: the send itself
/// times out after 10 s, so a worker that crashed mid-send delays it 30 s.
const LEASE_MS: i64 = 30_000;

/// Deliveries sent at once (each to its own inbox; a fan-out of one event
/// to a thousand instances is a thousand rows).
const CONCURRENCY: i64 = 32;

/// Sends what is due, up to [`CONCURRENCY`] at a time; returns how many
/// were delivered.
pub async fn deliver_due(app: &App) -> Result<usize, AppError> {
    let Some(config) = app.federation.get() else { return Ok(0) };
    let mut delivered = 0;
    loop {
        let batch = app.store.claim_deliveries(CONCURRENCY, LEASE_MS).await?;
        if batch.is_empty() {
            break;
        }
        let mut sending = tokio::task::JoinSet::new();
        for row in batch {
            let app = app.clone();
            let data = config.to_request_data();
            sending.spawn(async move {
                let outcome = send(&app, &data, &row).await;
                settle(&app, &row, outcome).await
            });
        }
        while let Some(done) = sending.join_next().await {
            match done {
                Ok(Ok(true)) => delivered += 1,
                Ok(Ok(false)) => {}
                Ok(Err(err)) => tracing::warn!(error = %err, "recording a delivery failed"),
                Err(err) => tracing::error!(error = %err, "a delivery task panicked"),
            }
        }
    }
    Ok(delivered)
}

/// Records a send's outcome on the delivery and on its instance's health;
/// true when delivered.
async fn settle(
    app: &App,
    row: &crate::storage::Delivery,
    outcome: Result<(), FederationError>,
) -> Result<bool, AppError> {
    match outcome {
        Ok(()) => {
            app.store.delivered(row.id).await?;
            app.store.instance_delivered(&row.domain).await?;
            Ok(true)
        }
        Err(err) => {
            // 1, 2, 4 … minutes by default; `federation_retry_base_secs` scales them.
            let base = app.config.federation_retry_base_secs as i64;
            let delay = crate::service::jobs::retry_delay_ms(row.attempts) / 60 * base;
            let refused = matches!(err, FederationError::Invalid(_));
            let retry = (row.attempts < ATTEMPTS && !refused).then(|| now_ms() + delay);
            tracing::warn!(activity = %row.activity_id, inbox = %row.inbox, attempt = row.attempts, error = %err, gave_up = retry.is_none(), "delivery failed");
            app.store.delivery_failed(row.id, &err.to_string(), retry).await?;
            if !refused {
                let dead_after = app.config.federation_dead_after_secs as i64 * 1000;
                if app.store.instance_failed(&row.domain, dead_after).await? {
                    tracing::warn!(instance = %row.domain, "marked dead: its deliveries wait until it answers again");
                }
            }
            Ok(false)
        }
    }
}

async fn send(app: &App, data: &Data<FedData>, row: &crate::storage::Delivery) -> Result<(), FederationError> {
    let user = app.store.user_by_id(row.sender_id).await?;
    let keys = app.actor_keys(&user).await?;
    let id = actors::person_id(app, &user.username)?;
    let sender = LocalActor { inbox: id.clone(), id, public_pem: keys.public_pem, private_pem: keys.private_pem };
    let activity = Stored {
        id: Url::parse(&row.activity_id).map_err(|_| FederationError::Invalid("bad stored activity id".into()))?,
        actor: sender.id.clone(),
        body: serde_json::from_str(&row.body).map_err(|_| FederationError::Invalid("bad stored activity".into()))?,
    };
    let inbox = Url::parse(&row.inbox).map_err(|_| FederationError::Invalid("bad stored inbox".into()))?;
    let tasks = SendActivityTask::prepare(&activity, &sender, vec![inbox], data).await?;
    if tasks.is_empty() {
        // The crate skips inboxes it will not send to (local, private or
        // malformed addresses): that is a refusal, not a delivery.
        return Err(FederationError::Invalid(format!("the inbox {} is not allowed", row.inbox)));
    }
    for task in tasks {
        task.sign_and_send(data).await?;
    }
    Ok(())
}

/// A stored activity, sent exactly as stored.
#[derive(Debug)]
struct Stored {
    id: Url,
    actor: Url,
    body: serde_json::Value,
}

impl Serialize for Stored {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.body.serialize(serializer)
    }
}

#[async_trait::async_trait]
impl Activity for Stored {
    type DataType = FedData;
    type Error = FederationError;

    fn id(&self) -> &Url {
        &self.id
    }

    fn actor(&self) -> &Url {
        &self.actor
    }

    async fn verify(&self, _data: &Data<FedData>) -> Result<(), FederationError> {
        Ok(())
    }

    async fn receive(self, _data: &Data<FedData>) -> Result<(), FederationError> {
        Ok(())
    }
}

/// A local person as the sender of a delivery (their id and keys).
#[derive(Debug, Clone)]
struct LocalActor {
    id: Url,
    inbox: Url,
    public_pem: String,
    private_pem: String,
}

#[async_trait::async_trait]
impl Object for LocalActor {
    type DataType = FedData;
    type Kind = wire::Actor;
    type Error = FederationError;

    fn id(&self) -> &Url {
        &self.id
    }

    async fn read_from_id(_id: Url, _data: &Data<FedData>) -> Result<Option<Self>, FederationError> {
        Ok(None)
    }

    async fn into_json(self, _data: &Data<FedData>) -> Result<wire::Actor, FederationError> {
        Err(FederationError::Invalid("not served from here".into()))
    }

    async fn verify(_json: &wire::Actor, _domain: &Url, _data: &Data<FedData>) -> Result<(), FederationError> {
        Ok(())
    }

    async fn from_json(_json: wire::Actor, _data: &Data<FedData>) -> Result<Self, FederationError> {
        Err(FederationError::Invalid("local actors are not read from the network".into()))
    }
}

impl Actor for LocalActor {
    fn public_key_pem(&self) -> &str {
        &self.public_pem
    }

    fn private_key_pem(&self) -> Option<String> {
        Some(self.private_pem.clone())
    }

    fn inbox(&self) -> Url {
        self.inbox.clone()
    }
}
