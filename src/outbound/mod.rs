//! The one outbound HTTP client. Every request this server makes to an
//! address someone else chose goes through a reqwest client built here:
//! federation (actors, WebFinger, inboxes: `federation::context::http_client`)
//! and busy-calendar import (`calendar::fetch`). Each such client
//!
//! - resolves host names through the [`Guard`] (its DNS resolver), which
//!   refuses private, loopback, link-local and other non-public addresses in
//!   any answer, and connects only to the addresses it checked;
//! - never follows a redirect by itself: [`Outbound::get`] follows them by
//!   hand, up to a limit, and checks each hop's URL like the first
//!   ([`Guard::check_url`]: http or https, IP literals public); the
//!   federation client follows none;
//! - takes no proxy from the environment and sends no credentials;
//! - has a connect timeout and a total timeout ([`Limits`]);
//! - and [`Outbound::get`] reads a body in chunks, stopping as soon as it
//!   passes its size limit.
//!
//! TLS is rustls with the *ring* provider (`crate::install_crypto`) and the
//! system's trust store (reqwest's platform verifier).

mod guard;

pub use guard::{Guard, is_public};

use std::error::Error as StdError;
use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_LENGTH, LOCATION};
use url::Url;

use crate::config::Config;

/// Why an outbound request failed. The texts describe the address the
/// caller was given (never anything of ours), so a caller may show them to
/// whoever gave it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    /// Not an address this client requests; the text says why.
    #[error("{0}")]
    InvalidUrl(String),
    /// The host is, or resolves to, a non-public address.
    #[error("{host} is not a public address")]
    Refused { host: String },
    /// A redirect to an address that is not requested; the text says why.
    #[error("it redirects to an address where {0}")]
    BadRedirect(String),
    /// DNS, connection, TLS, a timeout, an error status or too many
    /// redirects; the text says which.
    #[error("{0}")]
    Unreachable(String),
    /// The body passed the size limit.
    #[error("larger than {limit} bytes")]
    TooLarge { limit: usize },
}

/// The time limits of a client.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub connect_timeout: Duration,
    /// For each request, and for each [`Outbound::get`] with its redirects
    /// and its body.
    pub timeout: Duration,
}

/// The federation client's limits: 5 s to connect (or less), and
/// `federation_timeout_secs` (10 s by default) in all.
pub fn federation_limits(config: &Config) -> Limits {
    let timeout = Duration::from_secs(config.federation_timeout_secs);
    Limits { connect_timeout: timeout.min(Duration::from_secs(5)), timeout }
}

/// A client behind a guard.
#[derive(Clone)]
pub struct Outbound {
    http: reqwest::Client,
    guard: Guard,
    limits: Limits,
}

/// What [`Outbound::get`] asks for and accepts.
#[derive(Debug, Clone)]
pub struct Get {
    /// The `Accept` header.
    pub accept: &'static str,
    /// Redirects followed; one more is an error.
    pub max_redirects: usize,
    /// The largest body read.
    pub max_bytes: usize,
    /// Reads a redirect's target (`Location` resolved against the URL that
    /// answered); `Err(why)` refuses it. The guard then checks it as it
    /// checked the first URL.
    pub redirect_to: fn(&str) -> Result<Url, String>,
}

/// A successful answer, read to its end.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// Where it came from, after redirects.
    pub url: Url,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// Any absolute URL as a redirect target (the guard checks the rest).
pub fn any_url(text: &str) -> Result<Url, String> {
    Url::parse(text).map_err(|_| "it is not a web address".to_string())
}

/// How long an idle connection is kept for another request to its host.
/// Short: a fan-out opens one connection to each of thousands of instances,
/// most of which get nothing more for a while, and each kept connection
/// holds its buffers and a descriptor; a host being sent to steadily reuses
/// its connections well within this.
const POOL_IDLE: Duration = Duration::from_secs(1);

impl Outbound {
    pub fn new(guard: Guard, user_agent: &str, limits: Limits) -> anyhow::Result<Outbound> {
        crate::install_crypto();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(limits.connect_timeout)
            .timeout(limits.timeout)
            .pool_idle_timeout(POOL_IDLE)
            .user_agent(user_agent)
            .dns_resolver(guard.clone())
            .build()
            .map_err(|e| anyhow::anyhow!("cannot build the outbound HTTP client: {e}"))?;
        Ok(Outbound { http, guard, limits })
    }

    /// The reqwest client itself (for the federation crate, which checks
    /// IP literals in its own URL validation, and for POSTs to inboxes).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn guard(&self) -> &Guard {
        &self.guard
    }

    /// GETs `url`, following up to `get.max_redirects` redirects (each hop
    /// checked), and reads a successful answer's body up to
    /// `get.max_bytes`, all within the client's total timeout.
    pub async fn get(&self, url: &Url, get: &Get) -> Result<Fetched, OutboundError> {
        let within = self.limits.timeout;
        match tokio::time::timeout(within, self.get_following(url, get)).await {
            Ok(result) => result,
            Err(_) => Err(OutboundError::Unreachable(format!("it did not answer within {} seconds", within.as_secs()))),
        }
    }

    async fn get_following(&self, url: &Url, get: &Get) -> Result<Fetched, OutboundError> {
        let mut url = url.clone();
        let mut redirects = 0;
        loop {
            self.guard.check_url(&url).map_err(|err| match err {
                OutboundError::InvalidUrl(why) if redirects > 0 => OutboundError::BadRedirect(why),
                other => other,
            })?;
            let response =
                self.http.get(url.clone()).header(ACCEPT, get.accept).send().await.map_err(|e| self.failed(&e))?;
            let status = response.status();
            if status.is_redirection() {
                if redirects >= get.max_redirects {
                    return Err(OutboundError::Unreachable(format!(
                        "it redirects more than {} time(s); use the final address",
                        get.max_redirects
                    )));
                }
                let location =
                    response.headers().get(LOCATION).and_then(|v| v.to_str().ok()).ok_or_else(|| {
                        OutboundError::Unreachable(format!("it answered {status} without a new address"))
                    })?;
                let next = url
                    .join(location)
                    .map_err(|_| OutboundError::Unreachable("it redirects to an invalid address".into()))?;
                url = (get.redirect_to)(next.as_str()).map_err(OutboundError::BadRedirect)?;
                redirects += 1;
                continue;
            }
            if !status.is_success() {
                return Err(OutboundError::Unreachable(format!("the server answered {status}")));
            }
            let content_type =
                response.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
            let body = self.read_limited(response, get.max_bytes).await?;
            return Ok(Fetched { url, content_type, body });
        }
    }

    /// Reads a body in chunks, stopping as soon as it passes `limit`.
    async fn read_limited(&self, mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, OutboundError> {
        let declared = response.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok());
        if declared.and_then(|v| v.trim().parse::<u64>().ok()).is_some_and(|len| len > limit as u64) {
            return Err(OutboundError::TooLarge { limit });
        }
        let mut bytes: Vec<u8> = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.failed(&e))? {
            if bytes.len() + chunk.len() > limit {
                return Err(OutboundError::TooLarge { limit });
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }

    /// A failed request in words: the guard's own refusal when it was one.
    fn failed(&self, err: &reqwest::Error) -> OutboundError {
        failure(err, &self.limits)
    }
}

/// A failed request of a client with `limits`, in words: the guard's own
/// refusal when it was one, else what went wrong (no answer in time, the
/// connection or TLS failing, …) with its innermost cause.
pub fn failure(err: &reqwest::Error, limits: &Limits) -> OutboundError {
    if let Some(ours) = find::<OutboundError>(err) {
        return ours.clone();
    }
    if err.is_timeout() {
        return OutboundError::Unreachable(if err.is_connect() {
            format!("the connection failed (no answer within {} seconds)", limits.connect_timeout.as_secs())
        } else {
            format!("it did not answer within {} seconds", limits.timeout.as_secs())
        });
    }
    let cause = root_cause(err);
    OutboundError::Unreachable(if find::<rustls::Error>(err).is_some() {
        format!("the secure connection failed ({cause})")
    } else if err.is_connect() {
        format!("the connection failed ({cause})")
    } else {
        format!("the request failed ({cause})")
    })
}

/// The federation client (`federation::context::http_client`): public
/// addresses only, no redirects, [`federation_limits`]. In federation test
/// mode, peers are `<name>.test:<port>` on loopback addresses: those names
/// are pinned to their addresses (the port is in every URL) and private
/// addresses are allowed.
pub fn federation_client(config: &Config) -> anyhow::Result<reqwest::Client> {
    let guard = if config.federation_test_mode {
        config.federation_test_hosts.iter().fold(Guard::allowing_private(), |guard, (host, ip)| guard.pin(host, *ip))
    } else {
        Guard::public_only()
    };
    let user_agent = format!("Officehours/{} (+{})", env!("CARGO_PKG_VERSION"), config.public_url);
    Ok(Outbound::new(guard, &user_agent, federation_limits(config))?.http)
}

/// The first error of type `E` in `err`'s chain (also inside I/O errors,
/// whose `source` skips what they wrap).
fn find<'a, E: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a E> {
    let mut next = Some(err);
    while let Some(err) = next {
        if let Some(found) = err.downcast_ref::<E>() {
            return Some(found);
        }
        let wrapped = err.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref());
        if let Some(found) = wrapped.and_then(|inner| inner.downcast_ref::<E>()) {
            return Some(found);
        }
        next = err.source();
    }
    None
}

/// The innermost cause of an error, shortened (e.g. "Connection refused").
fn root_cause(err: &(dyn StdError + 'static)) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let text = cause.to_string();
    match text.char_indices().nth(160) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}
