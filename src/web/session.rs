//! The browser session: who is visiting (session cookie), CSRF protection for
//! every state-changing form, and one-shot flash messages. One middleware does
//! all three, so no form handler can forget them.

use std::net::{IpAddr, SocketAddr};

use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::header::{CACHE_CONTROL, COOKIE, HOST, ORIGIN, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::domain::ip_range::client_address;
use crate::service::App;
use crate::service::secrets::{new_secret, same_secret};
use crate::storage::User;

use super::render::{ErrorPage, render_error_page};

pub const SESSION_COOKIE: &str = "oh_session";
pub const CSRF_COOKIE: &str = "oh_csrf";
pub const FLASH_COOKIE: &str = "oh_flash";
/// The browser's IANA zone, set by `app.js`, for visitors who are not logged in.
pub const ZONE_COOKIE: &str = "oh_tz";
/// Forms are small; this bounds what the CSRF check buffers.
const FORM_LIMIT: usize = 256 * 1024;

/// Who is looking at a page, loaded once per request by [`browser_session`].
#[derive(Clone)]
pub struct Visitor {
    pub user: Option<User>,
    pub csrf: String,
    pub flash: Option<String>,
    pub instance_name: String,
    /// The session secret, so log-out can end exactly this session.
    pub session_secret: Option<String>,
    /// The zone the browser reported (validated), for anonymous visitors.
    pub browser_zone: Option<String>,
    /// Unread notifications of the signed-in person (the badge in the navigation).
    pub unread: i64,
    /// Unread messages of the signed-in person (the count beside Messages).
    pub unread_messages: i64,
}

impl Visitor {
    /// The zone to show times in: the person's setting, else their
    /// browser's, else UTC.
    pub fn zone(&self) -> String {
        match (&self.user, &self.browser_zone) {
            (Some(user), _) => user.timezone.clone(),
            (None, Some(zone)) => zone.clone(),
            (None, None) => "UTC".to_string(),
        }
    }

    pub fn is_admin(&self) -> bool {
        self.user.as_ref().is_some_and(|u| u.is_admin)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Visitor {
    type Rejection = StatusCode;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Visitor>().cloned().ok_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// A page that needs a logged-in person; anonymous visitors are sent to log in.
pub struct SignedIn(pub User);

impl<S: Send + Sync> FromRequestParts<S> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Visitor>().and_then(|v| v.user.clone()) {
            Some(user) => Ok(SignedIn(user)),
            None => {
                let next = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
                let target = format!(
                    "/login?next={}",
                    url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
                );
                Err(axum::response::Redirect::to(&target).into_response())
            }
        }
    }
}

/// The client's address: the peer, or — when the peer is one of the
/// configured `trusted_proxies` — the address its `X-Forwarded-For` names
/// (see [`client_address`]).
pub struct ClientIp(pub Option<IpAddr>);

impl FromRequestParts<App> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let Some(peer) = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()) else {
            return Ok(ClientIp(None));
        };
        let forwarded = parts.headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
        let trusted = &app.config.trusted_proxies;
        if trusted.is_empty() && forwarded.is_some() && peer.is_loopback() {
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| {
                tracing::warn!(
                    "a proxy on this machine sends X-Forwarded-For, but trusted_proxies is empty: every visitor \
                     counts as {peer} for rate limits; set trusted_proxies = [\"{peer}\"]"
                )
            });
        }
        Ok(ClientIp(Some(client_address(peer, forwarded, trusted))))
    }
}

pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Percent-decodes a cookie value (flash messages and zones are encoded).
fn decode_cookie(raw: &str) -> String {
    url::form_urlencoded::parse(format!("v={raw}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
}

/// A cookie as every Officehours cookie is: HttpOnly, SameSite=Lax, whole
/// site, and Secure whenever the instance is served over https. Values are
/// URL-safe (random secrets, or URL-encoded text).
pub fn make_cookie(app: &App, name: &'static str, value: String, max_age_days: Option<i64>) -> HeaderValue {
    let max_age = max_age_days.map(|d| format!("; Max-Age={}", d * 86_400)).unwrap_or_default();
    let secure = if app.config.https() { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax{secure}{max_age}"))
        .expect("cookie values are URL-safe")
}

pub fn expire_cookie(app: &App, name: &'static str) -> HeaderValue {
    make_cookie(app, name, String::new(), Some(0))
}

/// Loads the visitor, rejects cross-site or token-less form posts, and
/// renders error pages with the visitor's navigation.
pub async fn browser_session(State(app): State<App>, request: Request, next: Next) -> Response {
    let headers = request.headers().clone();
    let existing_csrf = cookie_value(&headers, CSRF_COOKIE).map(str::to_string);
    let csrf_cookie = existing_csrf.clone().unwrap_or_else(new_secret);
    let flash = cookie_value(&headers, FLASH_COOKIE).map(decode_cookie);
    let session_secret = cookie_value(&headers, SESSION_COOKIE).map(str::to_string);
    // A session that cannot be read (the database is down) is not a
    // session that ended: the page fails (503) and the cookie stays.
    let mut session_failed = None;
    let user = match &session_secret {
        Some(secret) => match app.session_user(secret).await {
            Ok(user) => user,
            Err(err) => {
                err.log_cause("loading the session");
                session_failed = Some(err);
                None
            }
        },
        None => None,
    };
    let (unread, unread_messages) = match &user {
        Some(user) => (
            app.unread_count(user).await.unwrap_or_else(|err| {
                tracing::warn!(error = %err, "counting unread notifications failed");
                0
            }),
            app.unread_messages(user).await.unwrap_or_else(|err| {
                tracing::warn!(error = %err, "counting unread messages failed");
                0
            }),
        ),
        None => (0, 0),
    };
    let had_session_cookie = session_secret.is_some();
    let stale_session = had_session_cookie && user.is_none() && session_failed.is_none();
    // Signed in, the forms' token is bound to the session (an HMAC of its
    // secret under the instance key): a token from any other session, or a
    // CSRF cookie planted by a sibling domain, does not pass. Before log-in
    // it is the random CSRF cookie (double submit).
    let csrf = match (&user, &session_secret) {
        (Some(_), Some(secret)) => session_csrf(&app, secret),
        _ => csrf_cookie.clone(),
    };
    let visitor = Visitor {
        user,
        csrf: csrf.clone(),
        flash: flash.clone(),
        instance_name: app.config.instance_name.clone(),
        session_secret: session_secret.filter(|_| !stale_session),
        browser_zone: cookie_value(&headers, ZONE_COOKIE)
            .map(decode_cookie)
            .and_then(|zone| crate::domain::time_zone::parse("timezone", &zone).ok()),
        unread,
        unread_messages,
    };
    if let Some(err) = session_failed {
        let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return render_error_page(&visitor, ErrorPage::new(status, &err.message()));
    }

    let (mut parts, body) = request.into_parts();
    parts.extensions.insert(visitor.clone());
    let request = if parts.method == Method::POST {
        let bytes = match to_bytes(body, FORM_LIMIT).await {
            Ok(bytes) => bytes,
            Err(_) => {
                return rejection(
                    &app,
                    &visitor,
                    &csrf_cookie,
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "That form was too large to accept.",
                );
            }
        };
        if !same_origin(&headers, app.config.https()) {
            return rejection(
                &app,
                &visitor,
                &csrf_cookie,
                StatusCode::FORBIDDEN,
                "This form was sent from another site, so it was ignored.",
            );
        }
        let submitted = url::form_urlencoded::parse(&bytes).find(|(k, _)| k == "csrf").map(|(_, v)| v.into_owned());
        let expected = if visitor.user.is_some() { Some(&csrf) } else { existing_csrf.as_ref() };
        let valid = matches!((expected, &submitted), (Some(expected), Some(form)) if same_secret(expected, form));
        if !valid {
            return rejection(
                &app,
                &visitor,
                &csrf_cookie,
                StatusCode::FORBIDDEN,
                "This form had expired (or cookies are off). Go back, reload the page and send it again.",
            );
        }
        Request::from_parts(parts, Body::from(bytes))
    } else {
        Request::from_parts(parts, body)
    };

    let mut response = next.run(request).await;
    if let Some(page) = response.extensions_mut().remove::<ErrorPage>() {
        response = render_error_page(&visitor, page);
    }
    let sets_cookie = |name: &str| {
        response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .any(|v| v.to_str().is_ok_and(|v| v.starts_with(&format!("{name}="))))
    };
    let (sets_flash, sets_csrf, sets_session) =
        (sets_cookie(FLASH_COOKIE), sets_cookie(CSRF_COOKIE), sets_cookie(SESSION_COOKIE));
    let headers = response.headers_mut();
    if (visitor.user.is_some() || sets_session) && !headers.contains_key(CACHE_CONTROL) {
        // A signed-in page is one person's: no shared or back-button cache keeps it.
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if existing_csrf.is_none() && !sets_csrf {
        headers.append(SET_COOKIE, make_cookie(&app, CSRF_COOKIE, csrf_cookie.clone(), None));
    }
    if flash.is_some() && !sets_flash {
        headers.append(SET_COOKIE, expire_cookie(&app, FLASH_COOKIE));
    }
    if stale_session && !sets_session {
        headers.append(SET_COOKIE, expire_cookie(&app, SESSION_COOKIE));
    }
    response
}

fn rejection(app: &App, visitor: &Visitor, csrf_cookie: &str, status: StatusCode, message: &str) -> Response {
    // (Re)issue the CSRF cookie so that the reloaded form works.
    let mut response = render_error_page(visitor, ErrorPage::new(status, message));
    response.headers_mut().append(SET_COOKIE, make_cookie(app, CSRF_COOKIE, csrf_cookie.to_string(), None));
    response
}

/// The CSRF token of a signed-in session's forms.
fn session_csrf(app: &App, session_secret: &str) -> String {
    app.keyed_secret(&format!("csrf\0{session_secret}"))
}

/// Browsers send `Origin` on cross-site posts; when present it must name
/// the scheme this instance is served with (so an http page cannot post to
/// the https site) and the host the form was posted to.
fn same_origin(headers: &HeaderMap, https: bool) -> bool {
    let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let Some(host) = headers.get(HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    match url::Url::parse(origin) {
        Ok(url) if url.scheme() != if https { "https" } else { "http" } => false,
        Ok(url) => {
            let origin_host = match url.port() {
                Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
                None => url.host_str().unwrap_or_default().to_string(),
            };
            origin_host.eq_ignore_ascii_case(host)
        }
        Err(_) => false,
    }
}
