//! Delivering stored activities: each row of `deliveries` is signed with its
//! sender's key and POSTed to its inbox by the federation crate; failures
//! are retried with growing delays (1, 2, 4 … minutes by default,
//! `federation_retry_base_secs`) for about three days, then given up.
//! Rows are claimed with a 30-second lease, so a crash mid-send only delays
//! them.

use std::collections::{HashMap, VecDeque};
use std::fmt::Debug;
use std::sync::Arc;

use activitypub_federation::activity_sending::SendActivityTask;
use activitypub_federation::config::Data;
use activitypub_federation::traits::{Activity, Actor, Object};
use serde::Serialize;
use tokio::task::JoinSet;
use url::Url;

use crate::app::App;
use crate::service::AppError;
use crate::storage::{Delivery, now_ms};

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

/// Deliveries in flight at once (each to its own inbox; a fan-out of one
/// event to a thousand instances is a thousand rows).
const CONCURRENCY: usize = 32;
/// Rows claimed per query.
const CLAIM: i64 = 64;
/// Successful sends are recorded in groups of this many (one commit each).
const RECORD_EVERY: usize = 32;

/// Sends what is due, [`CONCURRENCY`] at a time, as a pipeline: a slow or
/// timing-out inbox holds one of the 32 places, not the whole batch. Returns
/// how many were delivered.
///
/// Successes are recorded in groups; a crash between a POST and its record
/// means that activity is POSTed again after its lease, which receivers
/// ignore (they deduplicate by activity id).
pub async fn deliver_due(app: &App) -> Result<usize, AppError> {
    let Some(config) = app.federation.get() else { return Ok(0) };
    let mut queue: VecDeque<Delivery> = VecDeque::new();
    let mut signers: HashMap<i64, Arc<LocalActor>> = HashMap::new();
    let mut sending = JoinSet::new();
    let mut sent: Vec<(i64, String)> = Vec::new();
    let mut delivered = 0;
    let mut drained = false;
    loop {
        if queue.is_empty() && !drained {
            let claimed = app.store.claim_deliveries(CLAIM, LEASE_MS).await?;
            drained = claimed.len() < CLAIM as usize;
            queue.extend(claimed);
        }
        while sending.len() < CONCURRENCY {
            let Some(row) = queue.pop_front() else { break };
            let signer = match signers.get(&row.sender_id) {
                Some(signer) => signer.clone(),
                None => match signer_of(app, row.sender_id).await {
                    Ok(signer) => signers.entry(row.sender_id).or_insert(Arc::new(signer)).clone(),
                    Err(err) => {
                        record_failure(app, &row, err).await?;
                        continue;
                    }
                },
            };
            let data = config.to_request_data();
            sending.spawn(async move {
                let outcome = send(&data, &signer, &row).await;
                (row, outcome)
            });
        }
        let Some(done) = sending.join_next().await else { break };
        match done {
            Ok((row, Ok(()))) => {
                sent.push((row.id, row.domain));
                if sent.len() >= RECORD_EVERY {
                    delivered += sent.len();
                    app.store.deliveries_sent(&sent).await?;
                    sent.clear();
                }
            }
            Ok((row, Err(err))) => record_failure(app, &row, err).await?,
            Err(err) => tracing::error!(error = %err, "a delivery task panicked"),
        }
    }
    delivered += sent.len();
    app.store.deliveries_sent(&sent).await?;
    Ok(delivered)
}

/// A failed send: retried later, or given up (refused inboxes at once);
/// the instance's health records it.
async fn record_failure(app: &App, row: &Delivery, err: FederationError) -> Result<(), AppError> {
    // 1, 2, 4 … minutes by default; `federation_retry_base_secs` scales them.
    let base = app.config.federation_retry_base_secs as i64;
    let delay = crate::service::jobs::retry_delay_ms(row.attempts) / 60 * base;
    let refused = matches!(err, FederationError::Invalid(_));
    let retry = (row.attempts < ATTEMPTS && !refused).then(|| now_ms() + delay);
    tracing::warn!(activity = %row.activity_id, inbox = %row.inbox, attempt = row.attempts, error = %err, gave_up = retry.is_none(), "delivery failed");
    app.store.delivery_failed(row.id, &err.to_string(), retry).await?;
    if !refused && app.instance_failed(&row.domain).await? {
        tracing::warn!(instance = %row.domain, "marked dead: its deliveries wait until it answers again");
    }
    Ok(())
}

/// A local person as the signer of what they send (their id and keys).
async fn signer_of(app: &App, user_id: i64) -> Result<LocalActor, FederationError> {
    let user = app.store.user_by_id(user_id).await?;
    let keys = app.actor_keys(&user).await?;
    let id = actors::person_id(app, &user.username)?;
    Ok(LocalActor { inbox: id.clone(), id, public_pem: keys.public_pem, private_pem: keys.private_pem })
}

async fn send(data: &Data<FedData>, sender: &LocalActor, row: &Delivery) -> Result<(), FederationError> {
    let activity = Stored {
        id: Url::parse(&row.activity_id).map_err(|_| FederationError::Invalid("bad stored activity id".into()))?,
        actor: sender.id.clone(),
        body: serde_json::from_str(&row.body).map_err(|_| FederationError::Invalid("bad stored activity".into()))?,
    };
    let inbox = Url::parse(&row.inbox).map_err(|_| FederationError::Invalid("bad stored inbox".into()))?;
    let tasks = SendActivityTask::prepare(&activity, sender, vec![inbox], data).await?;
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

/// A local actor as a signer: a person sending a delivery, or the instance
/// actor signing fetches (their id and keys).
#[derive(Debug, Clone)]
pub(super) struct LocalActor {
    pub(super) id: Url,
    pub(super) inbox: Url,
    pub(super) public_pem: String,
    pub(super) private_pem: String,
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

#[cfg(test)]
mod tests {
    use super::ATTEMPTS;
    use crate::service::jobs::retry_delay_ms;

    #[test]
    fn a_delivery_is_retried_for_more_than_two_days_before_it_is_given_up() {
        // Attempt n waits retry_delay_ms(n) before the next; the last one gives up.
        let total: i64 = (1..ATTEMPTS).map(retry_delay_ms).sum();
        assert!(total >= 2 * 24 * 60 * 60_000, "only {} hours", total / 3_600_000);
        assert!(total <= 4 * 24 * 60 * 60_000, "{} hours is more than the documented three days", total / 3_600_000);
    }
}
