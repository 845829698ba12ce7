//! The federation crate's configuration for this instance: our domain, the
//! app as its data, and an HTTP client with our limits.

use activitypub_federation::config::{Data, FederationConfig};
use activitypub_federation::traits::{Actor, Object};
use url::Url;

use crate::app::{App, AppInner};
use crate::service::AppError;

use super::error::FederationError;
use super::wire;

/// What the federation crate carries to our handlers: a weak handle on the
/// app, so the configuration can live inside `App` without a reference cycle.
#[derive(Clone)]
pub struct FedData(std::sync::Weak<AppInner>);

impl FedData {
    pub fn app(&self) -> Result<App, FederationError> {
        App::upgrade(&self.0).ok_or_else(|| FederationError::App(AppError::Internal(anyhow::anyhow!("shutting down"))))
    }
}

/// The HTTP client every federation request goes through: no redirects,
/// 10 s in all, and outside test mode no private, loopback or link-local
/// addresses, whatever DNS says.
pub fn http_client(app: &App) -> anyhow::Result<reqwest::Client> {
    crate::outbound::federation_client(&app.config)
}

/// Built once per app (`cli::build_app`) and kept in `App::federation`.
pub async fn config(app: &App, client: reqwest::Client) -> anyhow::Result<FederationConfig<FedData>> {
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
        .app_data(FedData(app.downgrade()))
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
