//! Turning templates and errors into responses.

use askama::Template;
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use crate::service::App;
use crate::service::AppError;

use super::session::{FLASH_COOKIE, Visitor, make_cookie};

/// A rendered page; a template error becomes a logged 500.
pub struct Page<T>(pub T);

impl<T: Template> IntoResponse for Page<T> {
    fn into_response(self) -> Response {
        match self.0.render() {
            Ok(html) => Html(html).into_response(),
            Err(err) => {
                tracing::error!(error = %err, "rendering a template failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
            }
        }
    }
}

impl<T: Template> Page<T> {
    /// The page with another status than 200 (a form shown again with its
    /// errors answers 422, a refused booking 409, …).
    pub fn with_status(self, status: StatusCode) -> Response {
        let mut response = self.into_response();
        *response.status_mut() = status;
        response
    }
}

/// An error to show as a full page; [`super::session::browser_session`]
/// renders it with the visitor's navigation.
#[derive(Clone, Debug)]
pub struct ErrorPage {
    pub status: StatusCode,
    pub message: String,
}

impl ErrorPage {
    pub fn new(status: StatusCode, message: &str) -> Self {
        ErrorPage { status, message: message.to_string() }
    }
}

/// The error type of web handlers: a service error shown as a page.
pub struct WebError(pub AppError);

impl From<AppError> for WebError {
    fn from(err: AppError) -> Self {
        WebError(err)
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        self.0.log_cause("request");
        let status = StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = status.into_response();
        response.extensions_mut().insert(ErrorPage { status, message: self.0.message() });
        response
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorTemplate<'a> {
    v: &'a Visitor,
    title: &'a str,
    message: &'a str,
    status: u16,
}

pub fn render_error_page(visitor: &Visitor, page: ErrorPage) -> Response {
    let title = error_title(page.status);
    let template = ErrorTemplate { v: visitor, title, message: &page.message, status: page.status.as_u16() };
    Page(template).with_status(page.status)
}

/// A page title a person understands, for each kind of failure.
fn error_title(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 | 403 => "Not allowed",
        404 => "Not found",
        405 => "That address is not a page",
        409 => "That cannot be done now",
        413 => "That was too large",
        400 | 422 => "Please check what you sent",
        429 => "Too many attempts",
        503 => "Not available just now",
        507 => "Nothing could be saved",
        500.. => "Something went wrong on our side",
        _ => "That did not work",
    }
}

/// Redirects after a successful form, with a one-line message shown on the
/// next page.
pub fn redirect_with_flash(app: &App, to: &str, message: &str) -> Response {
    let encoded: String = url::form_urlencoded::byte_serialize(message.as_bytes()).collect();
    let mut response = redirect(to);
    response.headers_mut().append(SET_COOKIE, make_cookie(app, FLASH_COOKIE, encoded, None));
    response
}

/// 303 See Other: the browser follows with GET, so reloading does not resend a form.
pub fn redirect(to: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    response.headers_mut().insert(LOCATION, HeaderValue::from_str(to).unwrap_or(HeaderValue::from_static("/")));
    response
}

/// Only same-site paths are followed after log-in.
///
/// `next` is resolved as a browser would resolve it against this site (the
/// URL standard strips tabs and newlines, reads backslashes as slashes and
/// trims control characters and spaces at both ends), and followed only when
/// the result is still on this site. What goes into `Location` is that
/// normalised path, so the browser cannot read it differently; a path that
/// would start with `//` (a host to a browser) is refused too.
pub fn safe_next(next: Option<&str>) -> String {
    const BASE: &str = "https://officehours.invalid/";
    let Some(next) = next else { return "/".to_string() };
    let base = url::Url::parse(BASE).expect("a valid base");
    let trimmed = next.trim_matches(|c: char| c.is_ascii_control() || c == ' ');
    let normalised: String = trimmed.chars().filter(|c| !matches!(c, '\t' | '\n' | '\r')).collect();
    // Only a path: not a scheme, not a network path, not a query alone.
    if !normalised.starts_with('/') {
        return "/".to_string();
    }
    match base.join(&normalised) {
        Ok(url) if url.origin() == base.origin() && url.username().is_empty() => {
            let local = &url[url::Position::BeforePath..];
            if local.starts_with("//") { "/".to_string() } else { local.to_string() }
        }
        _ => "/".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(safe_next(Some("/settings")), "/settings");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn what_a_browser_would_read_as_another_host_is_refused() {
        // Browsers drop tabs and newlines anywhere and read backslashes as
        // slashes before following a Location header.
        for evil in [
            "/\t/evil.example",
            "/\n/evil.example",
            "\t//evil.example",
            "/\r\n/evil.example",
            " //evil.example",
            "\\\\evil.example",
            "/\\/evil.example",
            "/.//evil.example",
            "/..//evil.example",
            "https:evil.example",
            "javascript:alert(1)",
            "http://officehours.invalid@evil.example/",
            "",
            "?next=//evil.example",
        ] {
            assert_eq!(safe_next(Some(evil)), "/", "{evil:?} must not be followed");
        }
    }

    #[test]
    fn local_paths_keep_their_query_and_fragment() {
        assert_eq!(safe_next(Some("/slots/12/request?x=1#top")), "/slots/12/request?x=1#top");
        assert_eq!(safe_next(Some("/users/amara/../noah")), "/users/noah");
        // Characters a header cannot carry are percent-encoded.
        assert_eq!(safe_next(Some("/search?q=a b")), "/search?q=a%20b");
    }
}
