//! A person's own settings: profile, e-mail, password, API tokens, and the
//! advisor profile.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::SET_COOKIE;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form as MultiForm;
use serde::Deserialize;

use crate::domain::{FieldErrors, api_token, time_zone};
use crate::service::App;
use crate::service::AppError;
use crate::service::accounts::SESSION_DAYS;
use crate::service::advisors::AdvisorForm;
use crate::storage::{ApiToken, Category, User};
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
    tokens: Vec<TokenRow>,
    token_name: String,
    token_days: String,
}

/// One API token as the settings page lists it, times in the reader's zone.
struct TokenRow {
    id: i64,
    name: String,
    created: String,
    last_used: String,
    expires: String,
    expired: bool,
}

impl TokenRow {
    fn new(token: &ApiToken, zone: &str, now: i64) -> Self {
        TokenRow {
            id: token.id,
            name: token.name.clone(),
            created: time_zone::format_instant(token.created_at, zone),
            last_used: token.last_used_at.map_or_else(|| "never".into(), |at| time_zone::format_instant(at, zone)),
            expires: token.expires_at.map_or_else(|| "never".into(), |at| time_zone::format_instant(at, zone)),
            expired: token.is_expired(now),
        }
    }
}

impl AccountPage {
    async fn for_user(app: &App, v: Visitor, user: &User) -> Result<Self, AppError> {
        let zone = v.zone();
        let now = app.clock.now_ms();
        let tokens = app.api_tokens(user).await?.iter().map(|t| TokenRow::new(t, &zone, now)).collect();
        Ok(AccountPage {
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
            tokens,
            token_name: String::new(),
            token_days: String::new(),
        })
    }

    fn invalid(self) -> Response {
        Page(self).with_status(StatusCode::UNPROCESSABLE_ENTITY)
    }
}

pub async fn account_page(State(app): State<App>, v: Visitor, SignedIn(user): SignedIn) -> Result<Response, WebError> {
    Ok(Page(AccountPage::for_user(&app, v, &user).await?).into_response())
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
            let mut page = AccountPage::for_user(&app, v, &user).await?;
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
            let mut page = AccountPage::for_user(&app, v, &user).await?;
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
    /// The "keep my API tokens" checkbox; unchecked revokes them.
    keep_tokens: Option<String>,
}

pub async fn change_password(
    State(app): State<App>,
    v: Visitor,
    SignedIn(user): SignedIn,
    axum::Form(form): axum::Form<PasswordForm>,
) -> Result<Response, WebError> {
    let keep_tokens = form.keep_tokens.is_some();
    match app.change_password(&user, &form.current_password, &form.password, keep_tokens).await {
        Ok(changed) => {
            let message = match changed.tokens_revoked {
                0 => "Password changed; other devices are logged out.".to_string(),
                1 => "Password changed; other devices are logged out and your API token is revoked.".to_string(),
                n => format!("Password changed; other devices are logged out and your {n} API tokens are revoked."),
            };
            let mut response = redirect_with_flash(&app, "/settings", &message);
            let cookie = make_cookie(&app, SESSION_COOKIE, changed.session_secret, Some(SESSION_DAYS));
            response.headers_mut().append(SET_COOKIE, cookie);
            Ok(response)
        }
        Err(AppError::Invalid(errors)) => {
            let mut page = AccountPage::for_user(&app, v, &user).await?;
            page.password_current_error = errors.get("current_password").map(str::to_string);
            page.errors = errors;
            Ok(page.invalid())
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize)]
pub struct TokenForm {
    /// `label` is what the form sent before tokens had names.
    #[serde(default, alias = "label")]
    name: String,
    /// Whole days, or empty for a token that never expires.
    #[serde(default)]
    expires_in_days: String,
}

pub async fn create_token(
    State(app): State<App>,
    v: Visitor,
    SignedIn(user): SignedIn,
    axum::Form(form): axum::Form<TokenForm>,
) -> Result<Response, WebError> {
    let days = api_token::expires_in_days_text(&form.expires_in_days);
    let made = match days {
        Ok(days) => app.issue_api_token(&user, &form.name, days).await,
        // Report the name too, if it is also wrong.
        Err(days_error) => {
            let mut errors = FieldErrors::new();
            errors.check(api_token::name(&form.name));
            errors.0.push(days_error);
            Err(AppError::Invalid(errors))
        }
    };
    match made {
        Ok(made) => {
            let mut page = AccountPage::for_user(&app, v, &user).await?;
            page.new_token = Some(made.secret);
            Ok(Page(page).into_response())
        }
        Err(AppError::Invalid(errors)) => {
            let mut page = AccountPage::for_user(&app, v, &user).await?;
            page.token_name = form.name;
            page.token_days = form.expires_in_days;
            page.errors = errors;
            Ok(page.invalid())
        }
        Err(other) => Err(other.into()),
    }
}

/// Revokes one of the person's tokens; another person's id is a 404.
pub async fn revoke_token(
    State(app): State<App>,
    SignedIn(user): SignedIn,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound("API token"))?;
    let name = app.revoke_api_token(&user, id).await?;
    let message = format!("API token “{name}” revoked.");
    Ok(redirect_with_flash(&app, "/settings#tokens", &message))
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
    /// The instance's session length, for the first-time guide.
    session_minutes: i64,
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
        session_minutes: app.config.session_minutes,
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
            if profile.user.is_advisor && !user.is_advisor {
                // Just became an advisor: the next step is a first block.
                let message = "You are listed in the directory. Next step: add your first block of availability \
                               here, and people can ask for a time.";
                return Ok(redirect_with_flash(&app, "/calendar#add", message));
            }
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
        session_minutes: app.config.session_minutes,
    };
    Ok(Page(page).with_status(status))
}
