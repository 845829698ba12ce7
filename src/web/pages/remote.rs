//! People on other servers, seen from here: search `@name@host`, follow or
//! unfollow, and their published availability (mirrored here, so a request
//! is an ordinary request on this instance that goes out as a `Join`).

use activitypub_federation::config::Data;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};

use crate::domain::federation::FollowState;
use crate::domain::time_zone;
use crate::federation::FederationError;
use crate::federation::context::FedData;
use crate::federation::remote::{Remote, html_to_text};
use crate::service::App;
use crate::web::render::{Page, WebError, redirect_with_flash};
use crate::web::session::{SignedIn, Visitor};

/// How many upcoming slots the page shows.
const SLOTS_SHOWN: usize = 60;

#[derive(Template)]
#[template(path = "remote_profile.html")]
struct RemotePage {
    v: Visitor,
    name: String,
    initial: String,
    handle: String,
    home: String,
    bio: Vec<String>,
    /// `None`, or asked (waiting for their server) or accepted.
    following: Option<FollowState>,
    viewer_zone: String,
    /// (day label, [(slot id, "14:00")])
    days: Vec<(String, Vec<(i64, String)>)>,
}

/// `GET /remote/{handle}`: their profile, follow state and published slots.
pub async fn profile(
    State(app): State<App>,
    v: Visitor,
    SignedIn(user): SignedIn,
    data: Data<FedData>,
    Path(handle): Path<String>,
) -> Result<Response, WebError> {
    let (remote, _, slots) = match crate::federation::mirror::remote_slots(&data, &handle).await {
        Ok(found) => found,
        Err(err) => return failed(&v, &handle, err),
    };
    let following = app.follows(&user).await?.into_iter().find(|f| f.actor_id == remote.id.as_str());
    let viewer_zone = v.zone();
    let mut days: Vec<(String, Vec<(i64, String)>)> = Vec::new();
    for slot in slots.iter().filter(|s| s.status.takes_requests()).take(SLOTS_SHOWN) {
        let day = time_zone::format_day(slot.starts_at, &viewer_zone);
        let entry = (slot.id, time_zone::format_clock(slot.starts_at, &viewer_zone));
        match days.last_mut() {
            Some((label, list)) if *label == day => list.push(entry),
            _ => days.push((day, vec![entry])),
        }
    }
    let row = &remote.row;
    let name = if row.name.trim().is_empty() { row.username.clone() } else { row.name.clone() };
    let text = html_to_text(&row.summary);
    let bio: Vec<String> = text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()).map(String::from).collect();
    Ok(Page(RemotePage {
        initial: name.chars().next().map(|c| c.to_uppercase().to_string()).unwrap_or_default(),
        name,
        handle: remote.handle(),
        home: row.url.clone().unwrap_or_else(|| row.ap_id.clone()),
        bio,
        following: following.map(|f| f.state()),
        viewer_zone,
        days,
        v,
    })
    .into_response())
}

/// `POST /remote/{handle}/follow`.
pub async fn follow(
    State(app): State<App>,
    v: Visitor,
    SignedIn(user): SignedIn,
    data: Data<FedData>,
    Path(handle): Path<String>,
) -> Result<Response, WebError> {
    let outcome = crate::federation::follows::follow(&data, &user, &handle).await.map(|(remote, _)| remote);
    back_to_page(&app, &v, &handle, outcome, "Follow request sent to @{}. Their new availability will show here.")
}

/// `POST /remote/{handle}/unfollow`.
pub async fn unfollow(
    State(app): State<App>,
    v: Visitor,
    SignedIn(user): SignedIn,
    data: Data<FedData>,
    Path(handle): Path<String>,
) -> Result<Response, WebError> {
    let outcome = crate::federation::follows::unfollow(&data, &user, &handle).await;
    back_to_page(&app, &v, &handle, outcome, "You no longer follow @{}.")
}

/// After a follow or unfollow: back to their page with `message` (`{}` is
/// their handle), or a page saying why it failed.
fn back_to_page(
    app: &App,
    v: &Visitor,
    handle: &str,
    outcome: Result<Remote, FederationError>,
    message: &str,
) -> Result<Response, WebError> {
    match outcome {
        Ok(remote) => Ok(redirect_with_flash(
            app,
            &format!("/remote/{}", remote.handle()),
            &message.replace("{}", &remote.handle()),
        )),
        Err(err) => failed(v, handle, err),
    }
}

#[derive(Template)]
#[template(path = "remote_missing.html")]
struct MissingPage {
    v: Visitor,
    handle: String,
    message: String,
}

/// A lookup that failed, as a page saying why (not found, not a handle,
/// their server down) with the search to try again, not a bare error page.
fn failed(v: &Visitor, handle: &str, err: FederationError) -> Result<Response, WebError> {
    let status = err.status();
    let handle = handle.trim().trim_start_matches('@').to_string();
    let message = match err {
        FederationError::App(inner) => return Err(WebError(inner)),
        FederationError::NotFound => format!("Nobody called @{handle} was found on their server. Check the spelling."),
        FederationError::Remote(_) => {
            format!("The server of @{handle} did not answer, or not in a way we understand. Try again later.")
        }
        other => other.message(),
    };
    Ok(Page(MissingPage { v: v.clone(), handle, message }).with_status(status))
}
