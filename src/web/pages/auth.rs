//! Sign-up, log-in and log-out, e-mail confirmation, password reset.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::header::SET_COOKIE;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::domain::FieldErrors;
use crate::service::App;
use crate::service::AppError;
use crate::service::accounts::{SESSION_DAYS, SignUp, SignUpOutcome};
use crate::web::render::{Page, WebError, redirect, redirect_with_flash, safe_next};
use crate::web::session::{ClientIp, SESSION_COOKIE, SignedIn, Visitor, expire_cookie, make_cookie};

#[derive(Template)]
#[template(path = "signup.html")]
struct SignUpPage {
    v: Visitor,
    username: String,
    email: String,
    display_name: String,
    timezone: String,
    username_hint: String,
    /// Where to go after sign-up and confirmation ("/" for nowhere special).
    next: String,
    errors: FieldErrors,
}

#[derive(Deserialize, Default)]
pub struct SignUpForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    timezone: String,
    next: Option<String>,
}

fn signup_page_for(app: &App, v: Visitor, form: &SignUpForm, errors: FieldErrors) -> SignUpPage {
    SignUpPage {
        v,
        username: form.username.clone(),
        email: form.email.clone(),
        display_name: form.display_name.clone(),
        timezone: if form.timezone.is_empty() { "UTC".into() } else { form.timezone.clone() },
        username_hint: format!("Letters a–z, digits and _. Your handle will be @name@{}.", app.config.domain),
        next: safe_next(form.next.as_deref()),
        errors,
    }
}

pub async fn signup_page(State(app): State<App>, v: Visitor, Query(q): Query<NextQuery>) -> Response {
    let next = safe_next(q.next.as_deref());
    if v.user.is_some() {
        return redirect(&next);
    }
    let form = SignUpForm { next: Some(next), ..SignUpForm::default() };
    Page(signup_page_for(&app, v, &form, FieldErrors::new())).into_response()
}

/// `path` with `?next=` when there is somewhere to go back to (the home
/// page and the log-in landing page are where people go anyway).
fn with_next(path: &str, next: &str) -> String {
    if next == "/" || next == LANDING {
        return path.to_string();
    }
    let encoded: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
    format!("{path}?next={encoded}")
}

/// Why the log-in page is asking, for a visitor sent there from a page
/// that needs an account.
fn login_reason(next: &str) -> Option<&'static str> {
    let path = next.split(['?', '#']).next().unwrap_or_default();
    if path.starts_with("/slots/") || path.starts_with("/book/") {
        Some(
            "To ask for this time, log in or create an account: the advisor needs to know who is asking, and you \
             get their answer by mail. You come back to this time afterwards.",
        )
    } else if path.starts_with("/messages/") {
        Some("Log in or create an account to send a message.")
    } else if path == "/" {
        None
    } else {
        Some("This page is for people with an account. Log in, or create one; you come back here afterwards.")
    }
}

pub async fn signup(
    State(app): State<App>,
    v: Visitor,
    ClientIp(ip): ClientIp,
    Form(form): Form<SignUpForm>,
) -> Result<Response, WebError> {
    let input = SignUp {
        username: form.username.clone(),
        email: form.email.clone(),
        password: form.password.clone(),
        display_name: form.display_name.clone(),
        timezone: form.timezone.clone(),
    };
    let next = safe_next(form.next.as_deref());
    let after = if next == "/" { "" } else { next.as_str() };
    match app.sign_up_visitor(&input, ip, after).await {
        Ok(SignUpOutcome::Created(user)) => {
            let secret = app.start_session(user.id).await?;
            let mut response = redirect_with_flash(
                &app,
                &next,
                &format!("Welcome, {}! Check your inbox to confirm {}.", user.name(), user.email),
            );
            set_session(&app, &mut response, secret);
            Ok(response)
        }
        // The page does not say the address has an account; its owner
        // learns by mail how to log in.
        Ok(SignUpOutcome::AddressInUse { email }) => Ok(redirect_with_flash(
            &app,
            &with_next("/login", &next),
            &format!("Check your inbox: the mail to {email} says how to go on."),
        )),
        Err(AppError::Invalid(errors)) => {
            Ok(Page(signup_page_for(&app, v, &form, errors)).with_status(axum::http::StatusCode::UNPROCESSABLE_ENTITY))
        }
        Err(other) => Err(other.into()),
    }
}

fn set_session(app: &App, response: &mut Response, secret: String) {
    response.headers_mut().append(SET_COOKIE, make_cookie(app, SESSION_COOKIE, secret, Some(SESSION_DAYS)));
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    v: Visitor,
    login: String,
    next: String,
    /// The sign-up link, carrying `next`.
    signup_href: String,
    /// Why an account is needed, when the visitor was sent here.
    reason: Option<&'static str>,
    error: Option<String>,
}

impl LoginPage {
    fn new(v: Visitor, login: String, next: String, error: Option<String>) -> LoginPage {
        let signup_href = with_next("/signup", &next);
        let reason = if error.is_none() && v.flash.is_none() { login_reason(&next) } else { None };
        LoginPage { v, login, next, signup_href, reason, error }
    }
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// Where a log-in leads without a `next`: the Upcoming agenda.
const LANDING: &str = "/upcoming";

pub async fn login_page(v: Visitor, Query(q): Query<NextQuery>) -> Response {
    let next = match q.next.as_deref() {
        None | Some("") => LANDING.to_string(),
        given => safe_next(given),
    };
    if v.user.is_some() {
        return redirect(&next);
    }
    Page(LoginPage::new(v, String::new(), next, None)).into_response()
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

pub async fn login(
    State(app): State<App>,
    v: Visitor,
    ClientIp(ip): ClientIp,
    Form(form): Form<LoginForm>,
) -> Result<Response, WebError> {
    let next = match form.next.as_deref() {
        None | Some("") => LANDING.to_string(),
        given => safe_next(given),
    };
    match app.log_in(&form.login, &form.password, ip).await {
        Ok(logged_in) => {
            // The old session (if any) ends: a new secret at every log-in.
            if let Some(old) = &v.session_secret {
                app.log_out(old).await?;
            }
            let mut response = redirect(&next);
            set_session(&app, &mut response, logged_in.session_secret);
            Ok(response)
        }
        Err(err @ (AppError::WrongCredentials | AppError::RateLimited { .. })) => {
            let status = axum::http::StatusCode::from_u16(err.status()).expect("valid status");
            let page = LoginPage::new(v, form.login, next, Some(err.message()));
            Ok(Page(page).with_status(status))
        }
        Err(other) => Err(other.into()),
    }
}

pub async fn logout(State(app): State<App>, v: Visitor) -> Result<Response, WebError> {
    if let Some(secret) = &v.session_secret {
        app.log_out(secret).await?;
    }
    let mut response = redirect_with_flash(&app, "/", "You are logged out.");
    response.headers_mut().append(SET_COOKIE, expire_cookie(&app, SESSION_COOKIE));
    Ok(response)
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub v: Visitor,
    pub title: String,
    pub message: String,
    pub next_href: String,
    pub next_label: String,
}

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
    next: Option<String>,
}

/// The confirmation link: on to where the person was going when they
/// signed up. Opened in a browser that is not logged in (another device),
/// the log-in page says the address is confirmed and leads on from there.
pub async fn verify_email(
    State(app): State<App>,
    v: Visitor,
    Query(q): Query<TokenQuery>,
) -> Result<Response, WebError> {
    let user = app.verify_email(&q.token).await?;
    let next = safe_next(q.next.as_deref());
    if v.user.is_some() {
        return Ok(redirect_with_flash(&app, &next, &format!("Thank you: {} is confirmed.", user.email)));
    }
    Ok(redirect_with_flash(
        &app,
        &with_next("/login", &next),
        &format!("Thank you: {} is confirmed. Log in to go on.", user.email),
    ))
}

pub async fn resend_verification(State(app): State<App>, SignedIn(user): SignedIn) -> Result<Response, WebError> {
    if user.email_verified {
        return Ok(redirect_with_flash(&app, "/settings", "Your e-mail address is already confirmed."));
    }
    app.send_verification(&user).await?;
    Ok(redirect_with_flash(&app, "/settings", &format!("We sent a new link to {}.", user.email)))
}

#[derive(Template)]
#[template(path = "forgot.html")]
struct ForgotPage {
    v: Visitor,
    email: String,
    error: Option<String>,
}

pub async fn forgot_page(v: Visitor) -> Response {
    Page(ForgotPage { v, email: String::new(), error: None }).into_response()
}

#[derive(Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    email: String,
}

pub async fn forgot(
    State(app): State<App>,
    v: Visitor,
    ClientIp(ip): ClientIp,
    Form(form): Form<ForgotForm>,
) -> Result<Response, WebError> {
    match app.request_password_reset(&form.email, ip).await {
        Ok(()) => Ok(Page(MessagePage {
            v,
            title: "Check your inbox".into(),
            message: format!(
                "If an account uses {}, a link to reset its password is on its way. It works for one hour.",
                form.email.trim()
            ),
            next_href: "/login".into(),
            next_label: "Back to log-in".into(),
        })
        .into_response()),
        Err(AppError::Invalid(errors)) => {
            let error = errors.first().map(|e| e.message.clone());
            Ok(Page(ForgotPage { v, email: form.email, error })
                .with_status(axum::http::StatusCode::UNPROCESSABLE_ENTITY))
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Template)]
#[template(path = "reset.html")]
struct ResetPage {
    v: Visitor,
    token: String,
    username: String,
    error: Option<String>,
}

pub async fn reset_page(State(app): State<App>, v: Visitor, Query(q): Query<TokenQuery>) -> Result<Response, WebError> {
    let user = app.reset_link_user(&q.token).await?;
    Ok(Page(ResetPage { v, token: q.token, username: user.username, error: None }).into_response())
}

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
}

pub async fn reset(State(app): State<App>, v: Visitor, Form(form): Form<ResetForm>) -> Result<Response, WebError> {
    match app.reset_password(&form.token, &form.password).await {
        Ok(_) => Ok(redirect_with_flash(&app, "/login", "Your new password is saved. Log in with it.")),
        Err(AppError::Invalid(errors)) => {
            let user = app.reset_link_user(&form.token).await?;
            let error = errors.first().map(|e| e.message.clone());
            let page = ResetPage { v, token: form.token, username: user.username, error };
            Ok(Page(page).with_status(axum::http::StatusCode::UNPROCESSABLE_ENTITY))
        }
        Err(other) => Err(other.into()),
    }
}
