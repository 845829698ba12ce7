//! Fetching an advisor's ICS feed. The URL comes from a user, so the fetch
//! goes through the one guarded outbound client (`crate::outbound`):
//!
//! - http and https only (`webcal://`, which calendar apps hand out, is read
//!   as https);
//! - every address the host resolves to must be public (no loopback,
//!   private, link-local, unique-local, shared, multicast or reserved
//!   ranges, also when hidden in IPv4-mapped, NAT64 or 6to4 IPv6
//!   addresses), checked by the client's resolver, which then connects only
//!   to those addresses, so a second DNS answer cannot swap in another one;
//!   an IP literal is held to the same rule. `FetchOptions::allow_private`
//!   (the `allow_private_fetches` setting) turns the address check off for
//!   tests and local setups;
//! - at most one redirect, followed by hand so its target passes the same
//!   checks; no proxy from the environment; no credentials sent;
//! - 5 s to connect, 15 s for everything, and a size limit (2 MiB) enforced
//!   while the body streams in, not after.
//!
//! What is calendar-specific stays here: reading the URL as typed, the
//! limits, and checking that the answer is iCalendar text.

use std::time::Duration;

use url::Url;

use crate::outbound::{Get, Guard, Limits, Outbound, OutboundError};

/// The longest calendar URL accepted (Google's secret addresses are ~150).
pub const MAX_URL_LEN: usize = 2048;
const MIB: usize = 1024 * 1024;

#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Skip the public-address check (tests, local setups).
    pub allow_private: bool,
    pub max_bytes: usize,
    pub connect_timeout: Duration,
    /// For the whole fetch, redirect and body included.
    pub total_timeout: Duration,
    pub max_redirects: usize,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            allow_private: false,
            max_bytes: 2 * MIB,
            connect_timeout: Duration::from_secs(5),
            total_timeout: Duration::from_secs(15),
            max_redirects: 1,
        }
    }
}

/// Why a calendar could not be fetched; each has one machine code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// Not an http(s) URL with a host; the text says why.
    #[error("invalid calendar URL: {0}")]
    InvalidUrl(String),
    /// The host resolves to (or is) a non-public address.
    #[error("{host} is not a public address")]
    PrivateAddress { host: String },
    /// DNS, connection, TLS, timeout, an error status or too many redirects.
    #[error("calendar unreachable: {0}")]
    Unreachable(String),
    #[error("calendar larger than {limit} bytes")]
    TooLarge { limit: usize },
    /// The body is not iCalendar text; the text says what it looked like.
    #[error("not a calendar: {0}")]
    NotACalendar(String),
}

impl FetchError {
    pub fn code(&self) -> &'static str {
        match self {
            FetchError::InvalidUrl(_) => "invalid_url",
            FetchError::PrivateAddress { .. } => "private_address",
            FetchError::Unreachable(_) => "calendar_unreachable",
            FetchError::TooLarge { .. } => "calendar_too_large",
            FetchError::NotACalendar(_) => "not_a_calendar",
        }
    }

    /// A sentence for the advisor (it only describes their own URL).
    pub fn message(&self) -> String {
        match self {
            FetchError::InvalidUrl(why) => {
                format!(
                    "That is not a calendar address we can fetch: {why}. Paste the ICS (iCal) address of your calendar."
                )
            }
            FetchError::PrivateAddress { host } => format!(
                "{host} points into a private network or at this server itself; use the public ICS address of your calendar."
            ),
            FetchError::Unreachable(why) => format!("The calendar could not be fetched: {why}."),
            FetchError::TooLarge { limit } => format!(
                "The calendar is larger than {} MiB; publish a calendar with fewer (or fewer past) events.",
                (*limit).div_ceil(MIB)
            ),
            FetchError::NotACalendar(why) => {
                format!(
                    "That address does not return an iCalendar (ICS) file: {why}. Use the ICS (iCal) address of your calendar."
                )
            }
        }
    }
}

/// Checks a calendar URL as typed (or as a redirect names it): trimmed,
/// `webcal://` read as `https://`, http or https with a host, at most
/// [`MAX_URL_LEN`] long, without a fragment.
pub fn parse_calendar_url(input: &str) -> Result<Url, FetchError> {
    let input = input.trim();
    if input.is_empty() {
        return Err(FetchError::InvalidUrl("it is empty".into()));
    }
    if input.len() > MAX_URL_LEN {
        return Err(FetchError::InvalidUrl(format!("it is longer than {MAX_URL_LEN} characters")));
    }
    let lower = input.to_ascii_lowercase();
    let input = match ["webcals://", "webcal://"].iter().find(|p| lower.starts_with(*p)) {
        Some(prefix) => format!("https://{}", &input[prefix.len()..]),
        None => input.to_string(),
    };
    let mut url = Url::parse(&input).map_err(|_| FetchError::InvalidUrl("it is not a web address".into()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(FetchError::InvalidUrl(format!(
            "only http and https addresses are fetched, not {}:",
            url.scheme()
        )));
    }
    if url.host().is_none() {
        return Err(FetchError::InvalidUrl("it has no host".into()));
    }
    url.set_fragment(None);
    Ok(url)
}

/// Fetches the calendar at `url` (checked by [`parse_calendar_url`]) and
/// returns its text.
pub async fn fetch_calendar(url: &Url, options: &FetchOptions) -> Result<String, FetchError> {
    let guard = if options.allow_private { Guard::allowing_private() } else { Guard::public_only() };
    let limits = Limits { connect_timeout: options.connect_timeout, timeout: options.total_timeout };
    let client = Outbound::new(guard, USER_AGENT, limits)
        .map_err(|e| FetchError::Unreachable(format!("the request could not start ({e})")))?;
    let get = Get {
        accept: "text/calendar, text/plain;q=0.8, */*;q=0.5",
        max_redirects: options.max_redirects,
        max_bytes: options.max_bytes,
        redirect_to: redirect_target,
    };
    let fetched = client.get(url, &get).await.map_err(|err| match err {
        OutboundError::InvalidUrl(why) => FetchError::InvalidUrl(why),
        OutboundError::BadRedirect(why) => FetchError::InvalidUrl(format!("it redirects to an address where {why}")),
        OutboundError::Refused { host } => FetchError::PrivateAddress { host },
        OutboundError::Unreachable(why) => FetchError::Unreachable(why),
        OutboundError::TooLarge { limit } => FetchError::TooLarge { limit },
    })?;
    calendar_text(fetched.body, fetched.content_type.as_deref())
}

const USER_AGENT: &str = concat!("Officehours/", env!("CARGO_PKG_VERSION"), " (busy calendar import)");

/// A redirect's target, read as a typed address would be.
fn redirect_target(text: &str) -> Result<Url, String> {
    parse_calendar_url(text).map_err(|err| match err {
        FetchError::InvalidUrl(why) => why,
        other => other.to_string(),
    })
}

/// The body as text, if it is iCalendar.
fn calendar_text(bytes: Vec<u8>, content_type: Option<&str>) -> Result<String, FetchError> {
    let html = content_type.is_some_and(|t| t.to_ascii_lowercase().contains("html"));
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => String::from_utf8_lossy(err.as_bytes()).into_owned(),
    };
    let start = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    if !start.get(..15).is_some_and(|s| s.eq_ignore_ascii_case("BEGIN:VCALENDAR")) {
        let what = if html || start.starts_with('<') {
            "it returns a web page"
        } else if start.is_empty() {
            "it returns nothing"
        } else {
            "it does not start with BEGIN:VCALENDAR"
        };
        return Err(FetchError::NotACalendar(what.into()));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_urls_are_checked() {
        let url = parse_calendar_url("  webcal://p12-caldav.icloud.com/published/2/abc#x ").unwrap();
        assert_eq!(url.as_str(), "https://p12-caldav.icloud.com/published/2/abc");
        assert_eq!(parse_calendar_url("http://example.org/a.ics").unwrap().scheme(), "http");
        for (bad, why) in [
            ("", "empty"),
            ("calendar.google.com/x.ics", "not a web address"),
            ("ftp://example.org/a.ics", "only http"),
            ("file:///etc/passwd", "only http"),
            ("javascript:alert(1)", "only http"),
        ] {
            let err = parse_calendar_url(bad).unwrap_err();
            assert_eq!(err.code(), "invalid_url");
            assert!(err.to_string().contains(why), "{bad}: {err}");
        }
        let long = format!("https://example.org/{}", "a".repeat(MAX_URL_LEN));
        assert_eq!(parse_calendar_url(&long).unwrap_err().code(), "invalid_url");
    }

    #[tokio::test]
    async fn private_hosts_are_refused_before_connecting() {
        let options = FetchOptions::default();
        for url in
            ["http://127.0.0.1:9/cal.ics", "http://[::1]:9/cal.ics", "http://localhost:9/cal.ics", "http://10.0.0.1/x"]
        {
            let err = fetch_calendar(&parse_calendar_url(url).unwrap(), &options).await.unwrap_err();
            assert_eq!(err.code(), "private_address", "{url}: {err}");
        }
    }

    #[test]
    fn every_error_has_a_code_and_a_sentence() {
        let errors = [
            FetchError::InvalidUrl("it is empty".into()),
            FetchError::PrivateAddress { host: "localhost".into() },
            FetchError::Unreachable("the server answered 404 Not Found".into()),
            FetchError::TooLarge { limit: 2 * MIB },
            FetchError::NotACalendar("it returns a web page".into()),
        ];
        let codes: Vec<&str> = errors.iter().map(FetchError::code).collect();
        assert_eq!(
            codes,
            ["invalid_url", "private_address", "calendar_unreachable", "calendar_too_large", "not_a_calendar"]
        );
        assert!(errors[3].message().contains("2 MiB"));
    }
}
