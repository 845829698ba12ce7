//! Instance administration: people, the category list and the health of
//! federation.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::domain::federation::InstanceState;
use crate::domain::{plural, time_zone};
use crate::service::App;
use crate::service::AppError;
use crate::service::accounts::{PEOPLE_ROLES, PEOPLE_SHOWN, PEOPLE_STATES};
use crate::service::advisors::require_admin;
use crate::service::instances::instance_state;
use crate::storage::Category;
use crate::web::render::{Page, WebError, redirect_with_flash};
use crate::web::session::{SignedIn, Visitor};

/// One account as a row of the admins' list.
struct PersonRow {
    user: crate::storage::User,
    joined: String,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct PeoplePage {
    v: Visitor,
    q: String,
    role: String,
    state: String,
    roles: [(&'static str, &'static str); 4],
    states: [(&'static str, &'static str); 4],
    people: Vec<PersonRow>,
    summary: String,
    error: Option<String>,
    /// This page's address with its filters, where actions lead back to.
    back: String,
}

#[derive(Deserialize)]
pub struct PeopleQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    state: String,
}

/// `GET /admin/users`: search accounts, filter by role and state, and act
/// (suspend, lift a suspension) on each.
pub async fn users_page(
    State(app): State<App>,
    v: Visitor,
    SignedIn(user): SignedIn,
    Query(query): Query<PeopleQuery>,
) -> Result<Response, WebError> {
    require_admin(&user)?;
    let (people, error, status) = match app.people(&user, &query.q, &query.role, &query.state).await {
        Ok(people) => (people, None, StatusCode::OK),
        Err(AppError::Invalid(errors)) => {
            (Vec::new(), errors.first().map(|e| e.message.clone()), StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(other) => return Err(other.into()),
    };
    let summary = match people.len() as i64 {
        n if n >= PEOPLE_SHOWN => format!("The newest {n} matching accounts; narrow the search to see others."),
        n => plural::count(n, "account"),
    };
    let mut back = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in [("q", &query.q), ("role", &query.role), ("state", &query.state)] {
        if !value.is_empty() {
            back.append_pair(key, value);
        }
    }
    let back = match back.finish() {
        query if query.is_empty() => "/admin/users".to_string(),
        query => format!("/admin/users?{query}"),
    };
    let people = people
        .into_iter()
        .map(|u| PersonRow { joined: time_zone::format_date(u.created_at, &user.timezone), user: u })
        .collect();
    let page = PeoplePage {
        v,
        q: query.q,
        role: if query.role.is_empty() { "any".into() } else { query.role },
        state: if query.state.is_empty() { "any".into() } else { query.state },
        roles: PEOPLE_ROLES,
        states: PEOPLE_STATES,
        people,
        summary,
        error,
        back,
    };
    Ok(Page(page).with_status(status))
}

#[derive(Template)]
#[template(path = "admin_categories.html")]
struct CategoriesPage {
    v: Visitor,
    categories: std::sync::Arc<Vec<Category>>,
    name: String,
    error: Option<String>,
}

pub async fn categories_page(
    State(app): State<App>,
    v: Visitor,
    SignedIn(user): SignedIn,
) -> Result<Response, WebError> {
    require_admin(&user)?;
    let categories = app.categories().await?;
    Ok(Page(CategoriesPage { v, categories, name: String::new(), error: None }).into_response())
}

#[derive(Deserialize)]
pub struct CategoryForm {
    #[serde(default)]
    name: String,
}

pub async fn add_category(
    State(app): State<App>,
    v: Visitor,
    SignedIn(user): SignedIn,
    axum::Form(form): axum::Form<CategoryForm>,
) -> Result<Response, WebError> {
    match app.add_category(&user, &form.name).await {
        Ok(category) => Ok(redirect_with_flash(&app, "/admin/categories", &format!("Added “{}”.", category.name))),
        Err(AppError::Invalid(errors)) => {
            let categories = app.categories().await?;
            let error = errors.first().map(|e| e.message.clone());
            Ok(Page(CategoriesPage { v, categories, name: form.name, error })
                .with_status(StatusCode::UNPROCESSABLE_ENTITY))
        }
        Err(other) => Err(other.into()),
    }
}

pub async fn delete_category(
    State(app): State<App>,
    SignedIn(user): SignedIn,
    Path(slug): Path<String>,
) -> Result<Response, WebError> {
    app.delete_category(&user, &slug).await?;
    Ok(redirect_with_flash(&app, "/admin/categories", "Category deleted."))
}

/// One remote instance as a row of the page, times in the admin's zone.
struct InstanceRow {
    domain: String,
    state: InstanceState,
    failures: i64,
    since: String,
    next_probe: String,
    last_success: String,
    pending: i64,
    delivered: i64,
    given_up: i64,
    last_error: String,
}

#[derive(Template)]
#[template(path = "admin_federation.html")]
struct FederationPage {
    v: Visitor,
    instances: Vec<InstanceRow>,
    dead: usize,
    failing: usize,
    /// How long a server may fail before it counts as dead, in words.
    dead_after: String,
}

pub async fn federation_page(
    State(app): State<App>,
    v: Visitor,
    SignedIn(user): SignedIn,
) -> Result<Response, WebError> {
    let overview = app.federation_instances(&user).await?;
    let when = |ms: Option<i64>| ms.map(|ms| time_zone::format_instant(ms, &user.timezone)).unwrap_or_default();
    let instances: Vec<InstanceRow> = overview
        .into_iter()
        .map(|i| InstanceRow {
            state: instance_state(&i),
            failures: i.failures,
            since: when(i.dead_since.or(i.first_failure_at)),
            next_probe: if i.dead_since.is_some() { when(i.next_probe_at) } else { String::new() },
            last_success: when(i.last_success_at),
            pending: i.pending,
            delivered: i.delivered,
            given_up: i.given_up,
            last_error: i.last_error.unwrap_or_default().chars().take(200).collect(),
            domain: i.domain,
        })
        .collect();
    let dead = instances.iter().filter(|i| i.state == InstanceState::Dead).count();
    let failing = instances.iter().filter(|i| i.state == InstanceState::Failing).count();
    let dead_after = duration_words(app.config.federation_dead_after_secs);
    Ok(Page(FederationPage { v, instances, dead, failing, dead_after }).into_response())
}

/// A configured number of seconds as a person says it: "3 days", "1 day
/// and 12 hours", "45 minutes".
fn duration_words(secs: u64) -> String {
    use crate::domain::plural::count;
    let (days, hours, minutes) = (secs / 86_400, secs % 86_400 / 3_600, secs % 3_600 / 60);
    let parts: Vec<String> = [(days, "day"), (hours, "hour"), (minutes, "minute")]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, word)| count(n as i64, word))
        .collect();
    match parts.as_slice() {
        [] => count(secs as i64, "second"),
        [one] => one.clone(),
        [first @ .., last] => format!("{} and {last}", first.join(", ")),
    }
}
