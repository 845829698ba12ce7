//! The advisor directory and profile pages.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::domain::person_ref::{Handle, PersonRef};
use crate::domain::time_zone;
use crate::service::App;
use crate::service::AppError;
use crate::service::advisors::DIRECTORY_PAGE_SIZE;
use crate::service::agenda::{OfferingPicker, Picker, next_free_label};
use crate::service::offerings::OfferingLabel;
use std::collections::HashMap;
use std::sync::Arc;

use crate::storage::{AdvisorProfile, Category, DirectoryPage};
use crate::web::render::{Page, WebError, redirect};
use crate::web::session::Visitor;

#[derive(Template)]
#[template(path = "directory.html")]
struct DirectoryView {
    v: Visitor,
    q: String,
    category: String,
    categories: std::sync::Arc<Vec<Category>>,
    found: Arc<DirectoryPage>,
    /// Each card's next free time in the reader's zone, by advisor id.
    next_free: HashMap<i64, (String, String)>,
    summary: String,
    error: Option<String>,
    page: u32,
    pages: u32,
    prev_href: Option<String>,
    next_href: Option<String>,
}

#[derive(Deserialize)]
pub struct DirectoryQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    category: String,
    page: Option<u32>,
}

pub async fn directory(
    State(app): State<App>,
    v: Visitor,
    Query(query): Query<DirectoryQuery>,
) -> Result<Response, WebError> {
    let page = query.page.unwrap_or(1).max(1);
    // `@name`, `@name@here`, `name@here`: someone on this server, as their
    // profile shows them; a name nobody has is searched as a word.
    let local = PersonRef::local_search(&query.q, &app.config.domain);
    if let Some(name) = &local {
        match app.profile(name, v.user.as_ref()).await {
            Ok(_) => return Ok(redirect(&format!("/users/{name}"))),
            Err(AppError::NotFound(_)) => {}
            Err(other) => return Err(other.into()),
        }
    }
    // `@name@host`: someone on another server.
    let handle = if local.is_some() { None } else { Handle::from_search(&query.q) };
    if let Some(handle) = &handle
        && v.user.is_some()
    {
        return Ok(redirect(&format!("/remote/{handle}")));
    }
    let categories = app.categories().await?;
    let terms = local.as_deref().unwrap_or(&query.q);
    let (found, error, status) = match app.directory(terms, Some(&query.category), page).await {
        Ok(found) => (found, None, StatusCode::OK),
        Err(AppError::Invalid(errors)) => (
            Arc::new(DirectoryPage { advisors: Vec::new(), total: 0 }),
            errors.first().map(|e| e.message.clone()),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(other) => return Err(other.into()),
    };
    let zone = v.zone();
    let users: Vec<&crate::storage::User> = found.advisors.iter().map(|a| &a.user).collect();
    let next_free = next_free_labels(&app, &users, &zone).await?;
    let total = found.total;
    let pages = (total as u32).div_ceil(DIRECTORY_PAGE_SIZE).max(1);
    let href = |p: u32| {
        let mut url = url::form_urlencoded::Serializer::new(String::new());
        if !query.q.is_empty() {
            url.append_pair("q", &query.q);
        }
        if !query.category.is_empty() {
            url.append_pair("category", &query.category);
        }
        url.append_pair("page", &p.to_string());
        format!("/advisors?{}", url.finish())
    };
    let error = error.or_else(|| {
        handle.map(|h| format!("@{h} is on another server: log in to look them up and follow them from here."))
    });
    let summary = match total {
        0 => String::new(),
        1 => "1 advisor".to_string(),
        n => format!("{n} advisors"),
    };
    let view = DirectoryView {
        v,
        q: query.q.clone(),
        category: query.category.clone(),
        categories,
        found,
        next_free,
        summary,
        error,
        page,
        pages,
        prev_href: (page > 1).then(|| href(page - 1)),
        next_href: (page < pages).then(|| href(page + 1)),
    };
    Ok(Page(view).with_status(status))
}

/// The slots a profile shows: a range of the availability cache's, or
/// read for the advisor themselves.
enum Shown {
    Cached(Arc<crate::service::availability::Availability>, std::ops::Range<usize>),
    Read(Vec<crate::storage::Slot>),
}

impl Shown {
    fn slots(&self) -> &[crate::storage::Slot] {
        match self {
            Shown::Cached(cached, range) => &cached.slots()[range.clone()],
            Shown::Read(slots) => slots,
        }
    }
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    v: Visitor,
    p: Arc<AdvisorProfile>,
    domain: String,
    member_since: String,
    viewer_zone: String,
    is_self: bool,
    /// The advisor's free times (the month view and the list by day).
    picker: Option<Picker>,
    /// "Tue 8 Dec, 14:00 CET": the next free time in the reader's zone.
    next_free: Option<(String, String)>,
    session_label: String,
    /// The free times by offering, when several offerings have some.
    sections: Vec<OfferingPicker>,
    /// The one offering shown otherwise, when its advisor named it.
    offering: Option<OfferingLabel>,
    /// Their karma score (linked to their history for themselves, to
    /// what karma means for everyone else).
    karma: i64,
}

/// Any person's profile; advisors show their topics and free times.
pub async fn profile(
    State(app): State<App>,
    v: Visitor,
    Path(username): Path<String>,
    headers: axum::http::HeaderMap,
) -> Result<Response, WebError> {
    // The same URL is the ActivityPub actor for fediverse servers.
    if crate::federation::wants_activity_json(&headers) {
        return Ok(crate::federation::discovery::person(&app, &username).await);
    }
    // Someone elsewhere (links to a remote advisor's shadow account land here).
    let username = match PersonRef::parse(&username, &app.config.domain) {
        PersonRef::Local(name) => name,
        PersonRef::Remote(handle) => return Ok(redirect(&format!("/remote/{handle}"))),
    };
    let entry = app.public_profile(&username, v.user.as_ref()).await?;
    let p = entry.profile.clone();
    let viewer_zone = v.zone();
    let member_since = time_zone::format_date(p.user.created_at, &viewer_zone);
    let is_self = v.user.as_ref().is_some_and(|u| u.id == p.user.id);
    let domain = app.config.domain.clone();
    let mut picker = None;
    let mut sections = Vec::new();
    let mut offering = None;
    let mut session_label = format!("{}-minute session", app.config.session_minutes);
    if p.user.is_advisor && p.user.suspended_at.is_none() {
        // Anyone but the advisor reads the availability cache; the advisor
        // sees every slot, read for them.
        let cached = if is_self { None } else { app.listed_slots(&p.user, None, None).await? };
        let (shown, rules) = match cached {
            Some((cached, range)) => (Shown::Cached(cached.clone(), range), cached.rules.clone()),
            None => {
                let policy = app.advisor_policy(p.user.id).await?;
                let slots = app.slots_of(&p.user, &policy, v.user.as_ref(), None, None).await?;
                let rules = Arc::new(app.picker_rules(&p.user, policy, &slots).await?);
                (Shown::Read(slots), rules)
            }
        };
        let slots = shown.slots();
        picker = Some(app.picker_with(&rules, &p.user, slots, v.user.as_ref(), &viewer_zone, None).await?);
        sections = app.offering_pickers(&rules, &p.user, slots, v.user.as_ref(), &viewer_zone).await?;
        if sections.len() <= 1 {
            // One offering with free times (or none): one picker, under its name.
            let shown = match sections.pop() {
                Some(section) => Some(section.offering),
                None => rules.offerings.first().map(|o| app.offering_label(o)),
            };
            if let Some(shown) = shown {
                session_label = format!("{}-minute session", shown.minutes);
                offering = shown.named.then_some(shown);
            }
        }
    }
    let next_free = picker.as_ref().and_then(|p| p.next_free.clone());
    let karma = entry.karma;
    Ok(Page(ProfilePage {
        v,
        p,
        domain,
        member_since,
        viewer_zone,
        is_self,
        picker,
        next_free,
        session_label,
        sections,
        offering,
        karma,
    })
    .into_response())
}

/// "Next free: Tue 8 Dec, 14:00 CET" for directory and home cards, by
/// advisor id (from the availability cache), with the instant for `<time>`.
pub(crate) async fn next_free_labels(
    app: &App,
    advisors: &[&crate::storage::User],
    zone: &str,
) -> Result<HashMap<i64, (String, String)>, WebError> {
    Ok(app.next_free_times(advisors).await?.into_iter().map(|(id, at)| (id, next_free_label(at, zone))).collect())
}
