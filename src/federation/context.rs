//! The federation crate's configuration for this instance: our domain, the
//! federation layer's state as its data ([`FedData`]: the app's services,
//! the delivery sender, caches of remote actors), and an HTTP client with
//! our limits. Built once by the composition root (`crate::root`).

use std::sync::Arc;
use std::time::Duration;

use activitypub_federation::config::FederationConfig;

use moka::sync::Cache;

use crate::service::App;

use super::delivery::Sender;
use super::fetch::SignedFetch;
use super::knock;
use super::remote::Remote;
use super::signatures::SigningKey;

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
            sender: Sender::new(client, knock::styles()),
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
/// `federation_timeout_secs` (10 s) in all, and outside test mode no private, loopback or link-local
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
    // secure mode answer us: RFC 9421, or draft-cavage where that is what
    // the instance takes (see `fetch`). The crate signs nothing itself.
    let keys = app.instance_actor_keys().await?;
    let id = super::actors::instance_actor_id(app)?;
    let key = SigningKey::from_pem(&id, &keys.private_pem)?;
    let signed = SignedFetch::new(app.clone(), data.sender.styles.clone(), key);
    let client = reqwest_middleware::ClientBuilder::new(client).with(signed).build();
    FederationConfig::builder()
        .domain(app.config.domain.clone())
        .app_data(data)
        .client(client)
        .debug(test_mode)
        .http_fetch_limit(20)
        .request_timeout(crate::outbound::federation_limits(&app.config).timeout)
        .build()
        .await
        .map_err(|e| anyhow::anyhow!("federation configuration: {e}"))
}
