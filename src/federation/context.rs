//! The federation crate's configuration for this instance: our domain, the
//! federation layer's state as its data ([`FedData`]: the app's services,
//! the delivery sender, caches of remote actors), and an HTTP client with
//! our limits. Built once by the composition root (`crate::root`).

use std::sync::Arc;
use std::time::Duration;

use activitypub_federation::config::{Data, FederationConfig};
use activitypub_federation::traits::{Actor, Object};
use url::Url;

use moka::sync::Cache;

use crate::service::App;

use super::delivery::Sender;
use super::error::FederationError;
use super::remote::Remote;
use super::wire;

/// What the federation crate carries to our handlers and jobs: the app's
/// services (a strong handle: the app does not hold this back, so there is
/// no cycle) and what only federation keeps.
#[derive(Clone)]
pub struct FedData(Arc<FedState>);

pub struct FedState {
    app: App,
    /// The delivery queue's HTTP client and senders' parsed keys.
    pub sender: Sender,
    /// Remote actors by ActivityPub id, as stored.
    pub remote_actors: Cache<String, Arc<Remote>>,
    /// Actors whose fetch failed lately, with the answer the inbox gave
    /// (status and sentence): their activities are refused at once instead
    /// of fetching again.
    pub failed_actors: Cache<String, (u16, String)>,
}

impl FedData {
    pub fn new(app: App, client: reqwest::Client) -> FedData {
        FedData(Arc::new(FedState {
            app,
            sender: Sender::new(client),
            remote_actors: Cache::builder().max_capacity(10_000).time_to_live(Duration::from_secs(600)).build(),
            failed_actors: Cache::builder().max_capacity(10_000).time_to_live(Duration::from_secs(5 * 60)).build(),
        }))
    }

    /// The application's services.
    pub fn app(&self) -> &App {
        &self.0.app
    }
}

impl std::ops::Deref for FedData {
    type Target = FedState;

    fn deref(&self) -> &FedState {
        &self.0
    }
}

/// The HTTP client every federation request goes through: no redirects,
/// 10 s in all, and outside test mode no private, loopback or link-local
/// addresses, whatever DNS says.
pub fn http_client(app: &App) -> anyhow::Result<reqwest::Client> {
    crate::outbound::federation_client(&app.config)
}

/// Built once, by the composition root, around the federation state.
pub async fn config(data: FedData, client: reqwest::Client) -> anyhow::Result<FederationConfig<FedData>> {
    let app = data.app().clone();
    let app = &app;
    let test_mode = app.config.federation_test_mode;
    // Every fetch is signed by the instance actor, so instances in Mastodon's
    // secure mode answer us. The compatible signature format (`rsa-sha256`
    // over `(request-target) host date digest`) is what Mastodon requires on
    // GETs (it wants `host` signed) and what Pleroma, Akkoma and bovine read.
    let keys = app.instance_actor_keys().await?;
    let id = super::actors::instance_actor_id(app)?;
    let signer = LocalActor { inbox: id.clone(), id, public_pem: keys.public_pem, private_pem: keys.private_pem };
    FederationConfig::builder()
        .domain(app.config.domain.clone())
        .app_data(data)
        .client(client.into())
        .debug(test_mode)
        .http_fetch_limit(20)
        .http_signature_compat(true)
        .signed_fetch_actor(&signer)
        .build()
        .await
        .map_err(|e| anyhow::anyhow!("federation configuration: {e}"))
}

/// The instance actor as the federation crate's signer of fetches (its id
/// and keys).
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
