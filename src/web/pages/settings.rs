//! A person's own settings: profile, e-mail, password, API tokens, and the
//! advisor profile.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::SET_COOKIE;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form as MultiForm;
use serde::Deserialize;

use crate::app::App;
use crate::domain::{FieldErrors, time_zone};
use crate::service::AppError;
use crate::service::accounts::SESSION_DAYS;
use crate::service::advisors::AdvisorForm;
use crate::storage::{Category, User};
use crate::web::render::{Page, WebError, redirect_with_flash};
use crate::web::session::{SESSION_COOKIE, SignedIn, Visitor, make_cookie};

#[derive(Template)]
#[template(path = "settings.html")]
struct AccountPage {
    v: Visitor,
    display_name: String,
    bio: String,
    timezone: String,
    email: String,
    zones: &'static [String],
    errors: FieldErrors,
    email_password_error: Option<String>,
    password_current_error: Option<String>,
    new_token: Option<String>,
}

impl AccountPage {
    fn for_user(v: Visitor, user: &User) -> Self {
        AccountPage {
            v,
            display_name: user.display_name.clone(),
            bio: user.bio.clone(),
            timezone: user.timezone.clone(),
            email: user.email.clone(),
            zones: time_zone::all(),
            errors: FieldErrors::new(),
            email_password_error: None,
            password_current_error: None,
            new_token: None,
        }
    }

    fn invalid(self) -> Response {
        Page(self).with_status(StatusCode::UNPROCESSABLE_ENTITY)
    }
}

pub async fn account_page(v: Visitor, SignedIn(user): SignedIn) -> Response {
    Page(AccountPage::for_user(v, &user)).into_response()
}

#[derive(Deserialize)]
pub struct ProfileForm {
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    bio: String,
    #[serde(default)]
    timezone: String,
}

pub async fn save_profile(
    State(app): State<App>,
    v: Visitor,
    SignedIn(user): SignedIn,
    axum::Form(form): axum::Form<ProfileForm>,
) -> Result<Response, WebError> {
    match app.update_profile(&user, &form.display_name, &form.bio, &form.timezone).await {
        Ok(_) => Ok(redirect_with_flash(&app, "/settings", "Profile saved.")),
        Err(AppError::Invalid(errors)) => {
            let mut page = AccountPage::for_user(v, &user);
            page.display_name = form.display_name;
            page.bio = form.bio;
            page.timezone = form.timezone;
            page.errors = errors;
            Ok(page.invalid())
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize)]
pub struct EmailForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    current_password: String,
}

pub async fn change_email(
    State(app): State<App>,
    v: Visitor,
    SignedIn(user): SignedIn,
    axum::Form(form): axum::Form<EmailForm>,
) -> Result<Response, WebError> {
    match app.change_email(&user, &form.email, &form.current_password).await {
        Ok(updated) if updated.email == user.email => {
            Ok(redirect_with_flash(&app, "/settings", "That is already your e-mail address."))
        }
        Ok(updated) => Ok(redirect_with_flash(
            &app,
            "/settings",
            &format!("E-mail changed. We sent a confirmation link to {}.", updated.email),
        )),
        Err(AppError::Invalid(errors)) => {
            let mut page = AccountPage::for_user(v, &user);
            page.email = form.email;
            page.email_password_error = errors.get("current_password").map(str::to_string);
            page.errors = errors;
            Ok(page.invalid())
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    password: String,
}

pub async fn change_password(
    State(app): State<App>,
    v: Visitor,
    SignedIn(user): SignedIn,
    axum::Form(form): axum::Form<PasswordForm>,
) -> Result<Response, WebError> {
    match app.change_password(&user, &form.current_password, &form.password).await {
        Ok(secret) => {
            let mut response =
                redirect_with_flash(&app, "/settings", "Password changed; other devices are logged out.");
            response.headers_mut().append(SET_COOKIE, make_cookie(&app, SESSION_COOKIE, secret, Some(SESSION_DAYS)));
            Ok(response)
        }
        Err(AppError::Invalid(errors)) => {
            let mut page = AccountPage::for_user(v, &user);
            page.password_current_error = errors.get("current_password").map(str::to_string);
            page.errors = errors;
            Ok(page.invalid())
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    label: String,
}

pub async fn create_token(
    State(app): State<App>,
    v: Visitor,
    SignedIn(user): SignedIn,
    axum::Form(form): axum::Form<TokenForm>,
) -> Result<Response, WebError> {
    let token = app.create_api_token(&user, &form.label).await?;
    let mut page = AccountPage::for_user(v, &user);
    page.new_token = Some(token);
    Ok(Page(page).into_response())
}

#[derive(Template)]
#[template(path = "advisor_settings.html")]
struct AdvisorPage {
    v: Visitor,
    enabled: bool,
    headline: String,
    bio: String,
    topics: String,
    links: String,
    categories: std::sync::Arc<Vec<Category>>,
    chosen: Vec<String>,
    errors: FieldErrors,
    blocked: Option<String>,
}

pub async fn advisor_page(State(app): State<App>, v: Visitor, SignedIn(user): SignedIn) -> Result<Response, WebError> {
    let profile = app.own_profile(&user).await?;
    let page = AdvisorPage {
        v,
        enabled: profile.user.is_advisor,
        headline: profile.user.headline.clone(),
        bio: profile.user.bio.clone(),
        topics: profile.topics.join(", "),
        links: profile.links.join("\n"),
        categories: app.categories().await?,
        chosen: profile.categories.iter().map(|c| c.slug.clone()).collect(),
        errors: FieldErrors::new(),
        blocked: None,
    };
    Ok(Page(page).into_response())
}

#[derive(Deserialize)]
pub struct AdvisorFormInput {
    enabled: Option<String>,
    #[serde(default)]
    headline: String,
    #[serde(default)]
    bio: String,
    #[serde(default)]
    topics: String,
    #[serde(default)]
    categories: Vec<String>,
    #[serde(default)]
    links: String,
}

pub async fn save_advisor(
    State(app): State<App>,
    v: Visitor,
    SignedIn(user): SignedIn,
    MultiForm(input): MultiForm<AdvisorFormInput>,
) -> Result<Response, WebError> {
    let form = AdvisorForm {
        enabled: input.enabled.is_some(),
        headline: input.headline.clone(),
        bio: input.bio.clone(),
        topics: vec![input.topics.clone()],
        categories: input.categories.clone(),
        links: vec![input.links.clone()],
    };
    let (errors, blocked, status) = match app.save_advisor_profile(&user, &form).await {
        Ok(profile) => {
            let message = if profile.user.is_advisor {
                "Advisor profile saved. You are listed in the directory."
            } else {
                "Advisor profile saved. You are not listed in the directory."
            };
            return Ok(redirect_with_flash(&app, "/settings/advisor", message));
        }
        Err(AppError::Invalid(errors)) => (errors, None, StatusCode::UNPROCESSABLE_ENTITY),
        Err(err @ AppError::Forbidden(..)) => (FieldErrors::new(), Some(err.message()), StatusCode::FORBIDDEN),
        Err(other) => return Err(other.into()),
    };
    let page = AdvisorPage {
        v,
        enabled: form.enabled,
        headline: input.headline,
        bio: input.bio,
        topics: input.topics,
        links: input.links,
        categories: app.categories().await?,
        chosen: input.categories,
        errors,
        blocked,
    };
    Ok(Page(page).with_status(status))
}
