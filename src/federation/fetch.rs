//! Signed fetches: every GET the federation crate makes (actors, WebFinger,
//! collections — `ObjectId::dereference`, `fetch_object_http`) passes
//! through [`SignedFetch`], a middleware of the one federation HTTP client
//! (`context::http_client`, with its address guard), which signs it as the
//! instance actor.
//!
//! The signature is RFC 9421 (`rsa-v1_5-sha256` over `@method
//! @target-uri`, with `created` and `keyid`) unless the instance is known
//! to take only draft-cavage; an RFC 9421 GET answered 401 or 403 is sent
//! again at once with draft-cavage (`rsa-sha256` over `(request-target)
//! host date`, what Mastodon's secure mode requires), and what worked is
//! remembered per instance, with the deliveries' memory
//! ([`super::knock`]). A fetch refused (401, 403) whatever it was signed
//! with fails with [`FetchRefused`], which the inbox names, instead of its
//! error page being read as the object. Everything else — the local-first lookup, the
//! staleness rule, the media type and size limits, the id checks, `verify`
//! and `from_json` — stays the crate's.

use std::sync::Arc;

use axum::http::{Extensions, HeaderValue, Method};
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};

use crate::domain::federation::SignatureStyle;
use crate::service::App;

use super::error::FederationError;
use super::knock::{self, Styles};
use super::signatures::SigningKey;

/// Signs the federation crate's GETs as the instance actor (see the
/// module's documentation).
pub struct SignedFetch {
    app: App,
    styles: Styles,
    key: Arc<SigningKey>,
}

impl SignedFetch {
    /// `key` is the instance actor's; `styles` the memory shared with the
    /// delivery queue.
    pub fn new(app: App, styles: Styles, key: SigningKey) -> SignedFetch {
        SignedFetch { app, styles, key: Arc::new(key) }
    }

    /// `request` with the signature headers of `style`.
    fn signed(&self, mut request: Request, style: SignatureStyle) -> Result<Request, FederationError> {
        let url = request.url().clone();
        let headers = match style {
            SignatureStyle::Rfc9421 => self.key.sign_get_rfc9421(&url, self.app.clock.now_ms().div_euclid(1000))?,
            SignatureStyle::Cavage => self.key.sign_get(&url)?,
        };
        for (name, value) in headers {
            let value = HeaderValue::from_str(&value)
                .map_err(|_| FederationError::Invalid(format!("a signature header for {url} is not text")))?;
            request.headers_mut().insert(name, value);
        }
        Ok(request)
    }

    /// How the instance of `domain` takes our signatures, when known.
    async fn known(&self, domain: &str) -> reqwest_middleware::Result<Option<SignatureStyle>> {
        knock::known(&self.app, &self.styles, domain).await.map_err(|e| failed(e.into()))
    }
}

/// A fetch the server refused (401 or 403) whatever we signed it with.
#[derive(Debug, thiserror::Error)]
#[error("{url} refused our signed fetch ({status})")]
pub struct FetchRefused {
    pub url: String,
    pub status: reqwest::StatusCode,
}

fn failed(err: FederationError) -> reqwest_middleware::Error {
    reqwest_middleware::Error::Middleware(anyhow::anyhow!("signing a fetch: {err}"))
}

#[async_trait::async_trait]
impl Middleware for SignedFetch {
    async fn handle(
        &self,
        request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        if request.method() != Method::GET {
            return next.run(request, extensions).await;
        }
        let domain = crate::storage::domain_of(request.url().as_str());
        let known = self.known(&domain).await?;
        let mut used = knock::first(known);
        // A GET has no body: it can always be sent again.
        let again = request.try_clone();
        let mut response = next.clone().run(self.signed(request, used).map_err(failed)?, &mut *extensions).await?;
        if knock::knock_again(used, response.status())
            && let Some(again) = again
        {
            tracing::debug!(url = %response.url(), status = %response.status(), "RFC 9421 fetch refused: knocking again with draft-cavage");
            used = SignatureStyle::Cavage;
            response = next.run(self.signed(again, used).map_err(failed)?, extensions).await?;
        }
        if matches!(response.status(), reqwest::StatusCode::UNAUTHORIZED | reqwest::StatusCode::FORBIDDEN) {
            // Not a document to parse: the refusal, in words.
            let refused = FetchRefused { url: response.url().to_string(), status: response.status() };
            return Err(reqwest_middleware::Error::Middleware(refused.into()));
        }
        if response.status().is_success()
            && let Some(learned) = knock::worked(&self.styles, &domain, known, used)
            && let Err(err) = self.app.instance_signatures_learned(&domain, learned).await
        {
            // The fetch worked; only the memory of how is lost (the next
            // fetch knocks again).
            self.styles.invalidate(&domain);
            tracing::warn!(instance = %domain, error = %err, "could not record how an instance takes our signatures");
        }
        Ok(response)
    }
}
