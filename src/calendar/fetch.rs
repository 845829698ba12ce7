//! Fetching an advisor's ICS feed. The URL comes from a user, so the fetch
//! is guarded like any server-side request to a user-chosen address:
//!
//! - http and https only (`webcal://`, which calendar apps hand out, is read
//!   as https);
//! - the host is resolved here and **every** address must be public (no
//!   loopback, private, link-local, unique-local, shared, multicast or
//!   reserved ranges, also when hidden in IPv4-mapped, NAT64 or 6to4 IPv6
//!   addresses); the connection then goes to one of those checked
//!   addresses, so a second DNS answer cannot swap in another one. `FetchOptions::allow_private` (the `allow_private_fetches`
//!   setting) turns the address check off for tests and local setups;
//! - at most one redirect, followed by hand so its target passes the same
//!   checks; no proxy from the environment; no credentials sent;
//! - 5 s to connect, 15 s for everything, and a size limit (2 MiB) enforced
//!   while the body streams in, not after.
//!
//! The client is hyper's HTTP/1.1 connection API over a `TcpStream` we open
//! ourselves to the checked address, with rustls (the *ring* provider, the
//! Mozilla roots of `webpki-roots`, as the mailer uses) for https. Not
//! reqwest: its rustls feature without aws-lc-rs (which needs cmake and a C++
//! compiler) is `rustls-no-provider`, and Cargo's feature unification would
//! turn it on for the test suites' reqwest too, making every
//! `reqwest::Client::new()` there panic for want of a process-wide crypto
//! provider. Opening the connection ourselves also makes "connect only to a
//! checked address" literal.

use std::future::poll_fn;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use hyper::body::{Body as _, Incoming};
use hyper::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, HOST, LOCATION, USER_AGENT};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::ServerName;
use url::{Host, Url};

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
    match tokio::time::timeout(options.total_timeout, fetch(url, options)).await {
        Ok(result) => result,
        Err(_) => Err(FetchError::Unreachable(format!(
            "it did not answer within {} seconds",
            options.total_timeout.as_secs()
        ))),
    }
}

async fn fetch(url: &Url, options: &FetchOptions) -> Result<String, FetchError> {
    let mut url = url.clone();
    let mut redirects = 0;
    loop {
        let (response, connection) = get(&url, options).await?;
        let status = response.status();
        if status.is_redirection() {
            if redirects >= options.max_redirects {
                return Err(FetchError::Unreachable(format!(
                    "it redirects more than {} time(s); use the final address",
                    options.max_redirects
                )));
            }
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| FetchError::Unreachable(format!("it answered {status} without a new address")))?;
            let next =
                url.join(location).map_err(|_| FetchError::Unreachable("it redirects to an invalid address".into()))?;
            url = parse_calendar_url(next.as_str()).map_err(|err| match err {
                FetchError::InvalidUrl(why) => {
                    FetchError::InvalidUrl(format!("it redirects to an address where {why}"))
                }
                other => other,
            })?;
            redirects += 1;
            continue;
        }
        if !status.is_success() {
            return Err(FetchError::Unreachable(format!("the server answered {status}")));
        }
        let text = read_body(response, options).await;
        drop(connection);
        return text;
    }
}

/// The task driving one HTTP connection; aborted when the fetch is done.
struct Connection(tokio::task::JoinHandle<()>);

impl Drop for Connection {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One GET without following redirects, over a connection to a checked address.
async fn get(url: &Url, options: &FetchOptions) -> Result<(Response<Incoming>, Connection), FetchError> {
    let port = url.port_or_known_default().unwrap_or(443);
    let (addrs, server_name) = match url.host() {
        Some(Host::Ipv4(ip)) => {
            (vec![SocketAddr::new(IpAddr::V4(ip), port)], ServerName::IpAddress(IpAddr::V4(ip).into()))
        }
        Some(Host::Ipv6(ip)) => {
            (vec![SocketAddr::new(IpAddr::V6(ip), port)], ServerName::IpAddress(IpAddr::V6(ip).into()))
        }
        Some(Host::Domain(name)) => {
            let server_name = ServerName::try_from(name.to_string())
                .map_err(|_| FetchError::InvalidUrl("its host name is not valid".into()))?;
            (resolve(name, port, options).await?, server_name)
        }
        None => return Err(FetchError::InvalidUrl("it has no host".into())),
    };
    let host = url.host_str().unwrap_or_default();
    for addr in &addrs {
        check_address(addr.ip(), host, options)?;
    }
    let tcp = connect(&addrs, options).await?;
    if url.scheme() == "https" {
        let tls = TlsConnector::from(tls_config())
            .connect(server_name, tcp)
            .await
            .map_err(|e| FetchError::Unreachable(format!("the secure connection failed ({})", root_cause(&e))))?;
        send(url, tls).await
    } else {
        send(url, tcp).await
    }
}

async fn resolve(name: &str, port: u16, options: &FetchOptions) -> Result<Vec<SocketAddr>, FetchError> {
    let lookup = tokio::time::timeout(options.connect_timeout, tokio::net::lookup_host((name, port)))
        .await
        .map_err(|_| FetchError::Unreachable(format!("looking up {name} took too long")))?;
    let addrs: Vec<SocketAddr> =
        lookup.map_err(|_| FetchError::Unreachable(format!("{name} was not found")))?.collect();
    if addrs.is_empty() {
        return Err(FetchError::Unreachable(format!("{name} has no address")));
    }
    Ok(addrs)
}

fn check_address(ip: IpAddr, host: &str, options: &FetchOptions) -> Result<(), FetchError> {
    if options.allow_private || is_public(ip) {
        Ok(())
    } else {
        Err(FetchError::PrivateAddress { host: host.to_string() })
    }
}

/// Connects to the first of the (checked) addresses that answers.
async fn connect(addrs: &[SocketAddr], options: &FetchOptions) -> Result<TcpStream, FetchError> {
    let mut last = String::new();
    for addr in addrs {
        match tokio::time::timeout(options.connect_timeout, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(err)) => last = err.to_string(),
            Err(_) => last = format!("no answer within {} seconds", options.connect_timeout.as_secs()),
        }
    }
    Err(FetchError::Unreachable(format!("the connection failed ({last})")))
}

async fn send<S>(url: &Url, stream: S) -> Result<(Response<Incoming>, Connection), FetchError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| request_failed(&e))?;
    let connection = Connection(tokio::spawn(async move {
        let _ = connection.await;
    }));
    let host = url.host_str().unwrap_or_default();
    let host = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    };
    let request = Request::get(&url[url::Position::BeforePath..url::Position::AfterQuery])
        .header(HOST, host)
        .header(USER_AGENT, concat!("Officehours/", env!("CARGO_PKG_VERSION"), " (busy calendar import)"))
        .header(ACCEPT, "text/calendar, text/plain;q=0.8, */*;q=0.5")
        .body(String::new())
        .map_err(|_| FetchError::InvalidUrl("it cannot be requested".into()))?;
    let response = sender.send_request(request).await.map_err(|e| request_failed(&e))?;
    Ok((response, connection))
}

/// Streams the body, stopping as soon as it passes the limit.
async fn read_body(response: Response<Incoming>, options: &FetchOptions) -> Result<String, FetchError> {
    let limit = options.max_bytes;
    let header = |name| response.headers().get(name).and_then(|v: &hyper::header::HeaderValue| v.to_str().ok());
    if header(CONTENT_LENGTH).and_then(|v| v.trim().parse::<u64>().ok()).is_some_and(|len| len > limit as u64) {
        return Err(FetchError::TooLarge { limit });
    }
    let html = header(CONTENT_TYPE).is_some_and(|t| t.to_ascii_lowercase().contains("html"));
    let mut body = response.into_body();
    let mut bytes: Vec<u8> = Vec::new();
    while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let Ok(data) = frame.map_err(|e| request_failed(&e))?.into_data() else { continue };
        if bytes.len() + data.len() > limit {
            return Err(FetchError::TooLarge { limit });
        }
        bytes.extend_from_slice(&data);
    }
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

fn request_failed(err: &hyper::Error) -> FetchError {
    FetchError::Unreachable(format!("the request failed ({})", root_cause(err)))
}

/// The innermost cause of an error, shortened (e.g. "Connection refused").
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
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

fn tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
            let config =
                rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                    .with_safe_default_protocol_versions()
                    .expect("ring supports TLS 1.2 and 1.3")
                    .with_root_certificates(roots)
                    .with_no_client_auth();
            Arc::new(config)
        })
        .clone()
}

/// Whether an address is on the public internet: global unicast, not a
/// special-purpose range (RFC 6890 and successors).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            let embedded = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
            // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) reach an IPv4 address.
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return is_public_v4(embedded(s[6], s[7]));
            }
            if s[0] == 0x2002 {
                return is_public_v4(embedded(s[1], s[2]));
            }
            // Only global unicast (2000::/3) is public; within it, not
            // documentation (2001:db8::/32), Teredo (2001::/32) or the
            // other IETF assignments under 2001::/23.
            let global_unicast = s[0] & 0xe000 == 0x2000;
            let special = (s[0] == 0x2001 && (s[1] == 0xdb8 || s[1] < 0x200)) || s[0] == 0x3fff;
            global_unicast && !special
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let special = a == 0 // "this network"
        || a == 10 // private
        || a == 127 // loopback
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 169 && b == 254) // link-local
        || (a == 172 && (16..32).contains(&b)) // private
        || (a == 192 && b == 0 && (c == 0 || c == 2)) // IETF assignments, TEST-NET-1
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 192 && b == 168) // private
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3
        || a >= 224; // multicast, reserved, broadcast
    !special
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(text: &str) -> bool {
        is_public(text.parse().unwrap())
    }

    #[test]
    fn only_public_addresses_pass() {
        for ok in ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2a00:1450:4001:81c::200e", "2606:4700::1111"] {
            assert!(public(ok), "{ok} is public");
        }
        for bad in [
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "239.255.255.250",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "fec0::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
            "2002:c0a8:101::1",
            "2001:db8::1",
            "2001::1",
            "::127.0.0.1",
        ] {
            assert!(!public(bad), "{bad} is not public");
        }
        assert!(public("::ffff:8.8.8.8"), "IPv4-mapped public addresses are public");
        assert!(public("64:ff9b::808:808"), "NAT64 of a public address is public");
    }

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
