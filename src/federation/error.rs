//! The federation layer's error type, mapped to HTTP once.

use axum::http::StatusCode;

use crate::service::AppError;
use crate::storage::StorageError;

use super::tolerant::Unreadable;

#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    /// No such actor or object (here or on the remote server).
    #[error("not found")]
    NotFound,
    /// A handle or document we cannot use, with a sentence for people.
    #[error("{0}")]
    Invalid(String),
    /// A missing or wrong HTTP signature or body digest (401: some servers
    /// retry with another signature scheme only on 401).
    #[error("signature or digest invalid")]
    Unauthorized,
    /// An RFC 9421 signature we refuse, with the reason (401, as
    /// [`Self::Unauthorized`]).
    #[error("signature refused: {0}")]
    SignatureRefused(String),
    /// No `Signature` header at all: refused before anything is fetched.
    #[error("no signature")]
    Unsigned,
    /// A body that is not ActivityStreams JSON by its `Content-Type`.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// The actor's fetch failed a moment ago; the same answer again.
    #[error("actor fetch failed recently: {message}")]
    RecentlyFailed { status: u16, message: String },
    /// An actor acting on something that is not theirs.
    #[error("{0}")]
    Forbidden(String),
    /// The federation crate's address check failed for this domain: it does
    /// not resolve, or resolves to a private address. [`Self::explained`]
    /// looks again to say which.
    #[error("{0}: no public address")]
    Unresolved(String),
    /// The remote server failed, timed out, or sent something unusable.
    #[error("remote server: {0}")]
    Remote(activitypub_federation::error::Error),
    #[error(transparent)]
    App(#[from] AppError),
}

impl From<activitypub_federation::error::Error> for FederationError {
    fn from(err: activitypub_federation::error::Error) -> Self {
        use activitypub_federation::error::Error as E;
        match err {
            E::NotFound | E::ObjectDeleted(_) => FederationError::NotFound,
            E::WebfingerResolveFailed(_) => FederationError::NotFound,
            E::ActivitySignatureInvalid | E::ActivityBodyDigestInvalid => FederationError::Unauthorized,
            E::ParseReceivedActivity { .. } => FederationError::Invalid("That is not an activity we can read.".into()),
            // A fetched document we cannot use (an actor without an inbox,
            // say): our own sentence naming what is missing.
            E::ParseFetchedObject(err, url, _)
                if url.path() != "/.well-known/webfinger"
                    && Unreadable::from_parser_message(&err.to_string()).is_some() =>
            {
                let text = Unreadable::from_parser_message(&err.to_string()).map(|u| u.0).unwrap_or_default();
                FederationError::Invalid(format!("{text} ({url})"))
            }
            // The crate parses error pages too; a WebFinger answer that is no
            // WebFinger document is (nearly always) the server's 404.
            E::ParseFetchedObject(_, url, _) if url.path() == "/.well-known/webfinger" => FederationError::NotFound,
            // Anything else that does not parse: said without the document,
            // which may be up to a megabyte of someone else's bytes.
            E::ParseFetchedObject(err, url, _) => FederationError::Invalid(format!(
                "{url} did not answer with an ActivityPub document we can read ({}).",
                short(&err.to_string())
            )),
            E::ResponseBodyLimit => FederationError::Invalid(
                "That server answered with more than a megabyte: not read (an actor or object is far smaller).".into(),
            ),
            E::UrlVerificationError(reason) => FederationError::Invalid(url_refusal(reason)),
            E::ResolveInternalIpError(host, ip) => FederationError::Invalid(format!(
                "{host} resolves to {ip}, a private, loopback or link-local address: such servers are not allowed."
            )),
            E::DomainResolveError(domain) => FederationError::Unresolved(domain),
            E::ReqwestMiddleware(reqwest_middleware::Error::Middleware(err))
                if err.downcast_ref::<super::fetch::FetchRefused>().is_some() =>
            {
                FederationError::Invalid(format!("{err}."))
            }
            E::Reqwest(err) | E::ReqwestMiddleware(reqwest_middleware::Error::Reqwest(err)) if err.is_timeout() => {
                let url = err.url().map(|u| u.to_string()).unwrap_or_else(|| "the server".into());
                FederationError::Remote(E::Other(format!("{url}: it did not answer in time")))
            }
            other => FederationError::Remote(other),
        }
    }
}

/// At most 200 characters of a parser's message.
fn short(text: &str) -> String {
    match text.char_indices().nth(200) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// The federation crate's URL checks, in words (each says what was wrong).
fn url_refusal(reason: &str) -> String {
    match reason {
        "Domains do not match" | "Urls do not match" => {
            "That is not the actor's own object: its id is on another server than the actor.".into()
        }
        "Explicit port is not allowed" => {
            "That server's address has an explicit port: only servers on the standard https port are allowed.".into()
        }
        "Http urls are only allowed in debug mode" => "That server's address is http: only https is allowed.".into(),
        "Url must have a domain" => "That server is given by an IP address or none: a domain name is needed.".into(),
        other => format!("That server's address is malformed ({}).", other.to_lowercase()),
    }
}

/// A payload we cannot use: 422 with the sentence naming what is missing.
impl From<Unreadable> for FederationError {
    fn from(err: Unreadable) -> Self {
        FederationError::Invalid(err.0)
    }
}

impl From<StorageError> for FederationError {
    fn from(err: StorageError) -> Self {
        FederationError::App(err.into())
    }
}

impl FederationError {
    /// Says which of "does not resolve" and "resolves to a private address"
    /// an [`FederationError::Unresolved`] was, by looking the name up again.
    pub async fn explained(self) -> Self {
        let FederationError::Unresolved(domain) = &self else { return self };
        match tokio::net::lookup_host((domain.as_str(), 443)).await.map(|a| a.map(|a| a.ip()).collect::<Vec<_>>()) {
            Err(err) => FederationError::Invalid(format!("{domain} does not resolve (DNS: {err}).")),
            Ok(ips) if ips.is_empty() => FederationError::Invalid(format!("{domain} has no address in DNS.")),
            Ok(ips) => match ips.iter().find(|ip| !crate::outbound::is_public(**ip)) {
                Some(ip) => FederationError::Invalid(format!(
                    "{domain} resolves to {ip}, a private, loopback or link-local address: such servers are not allowed."
                )),
                None => self,
            },
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            FederationError::NotFound => StatusCode::NOT_FOUND,
            FederationError::Unauthorized | FederationError::SignatureRefused(_) | FederationError::Unsigned => {
                StatusCode::UNAUTHORIZED
            }
            FederationError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            FederationError::RecentlyFailed { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY)
            }
            FederationError::Forbidden(_) => StatusCode::FORBIDDEN,
            FederationError::Invalid(_) | FederationError::Unresolved(_) => StatusCode::UNPROCESSABLE_ENTITY,
            FederationError::Remote(_) => StatusCode::BAD_GATEWAY,
            FederationError::App(err) => {
                StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            FederationError::NotFound => "not_found",
            FederationError::Unauthorized | FederationError::SignatureRefused(_) => "signature_invalid",
            FederationError::Unsigned => "signature_missing",
            FederationError::UnsupportedMediaType => "unsupported_media_type",
            FederationError::RecentlyFailed { .. } => "actor_unavailable",
            FederationError::Forbidden(_) => "forbidden",
            FederationError::Invalid(_) | FederationError::Unresolved(_) => "invalid_handle",
            FederationError::Remote(_) => "remote_unavailable",
            FederationError::App(err) => err.code(),
        }
    }

    pub fn message(&self) -> String {
        match self {
            FederationError::NotFound => "Nobody by that name was found there.".into(),
            FederationError::Unauthorized => "The HTTP signature or the body digest is missing or wrong.".into(),
            FederationError::SignatureRefused(reason) => format!("The HTTP message signature is refused: {reason}."),
            FederationError::Unsigned => {
                "This inbox takes only requests signed with HTTP Signatures (a `Signature` header).".into()
            }
            FederationError::UnsupportedMediaType => "Activities are sent as application/activity+json or \
                 application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"."
                .into(),
            FederationError::RecentlyFailed { message, .. } => message.clone(),
            FederationError::Forbidden(text) => text.clone(),
            FederationError::Invalid(text) => text.clone(),
            FederationError::Unresolved(domain) => {
                format!("{domain} has no public address: it does not resolve, or only to private ones (not allowed).")
            }
            FederationError::Remote(_) => "That server did not answer usefully; try again later.".into(),
            FederationError::App(err) => err.message(),
        }
    }
}
