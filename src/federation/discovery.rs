//! Discovery: WebFinger (`acct:name@domain`), NodeInfo 2.1, and the actor
//! documents behind them.

use activitypub_federation::fetch::webfinger::{Webfinger, build_webfinger_response};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::service::App;
use crate::service::AppError;

use super::wire::{NodeInfo, NodeInfoLink, NodeInfoLinks, Services, Software, Usage, UsageUsers};
use super::{activity_json, actors, problem};

#[derive(Deserialize)]
pub struct WebfingerQuery {
    resource: Option<String>,
}

/// `GET /.well-known/webfinger?resource=acct:name@domain` (or the actor's URL).
pub async fn webfinger(State(app): State<App>, Query(query): Query<WebfingerQuery>) -> Response {
    let Some(resource) = query.resource.filter(|r| !r.trim().is_empty()) else {
        return problem(StatusCode::BAD_REQUEST, "Give a resource: ?resource=acct:name@domain");
    };
    let Some(username) = local_username(&app, resource.trim()) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "The resource must be acct:name@domain or an actor URL of this instance.",
        );
    };
    let user = match app.federated_user(&username).await {
        Ok(Some(user)) => user,
        Ok(None) => return problem(StatusCode::NOT_FOUND, "No such account here."),
        Err(err) => return internal(err),
    };
    let Ok(id) = actors::person_id(&app, &user.username) else {
        return problem(StatusCode::INTERNAL_SERVER_ERROR, "bad public URL");
    };
    let mut body: Webfinger =
        build_webfinger_response(format!("acct:{}@{}", user.username, app.config.domain), id.clone());
    body.aliases.push(id);
    let mut response = Json(body).into_response();
    response.headers_mut().insert(CONTENT_TYPE, "application/jrd+json; charset=utf-8".parse().expect("valid"));
    response.headers_mut().insert("access-control-allow-origin", "*".parse().expect("valid"));
    response
}

/// The username a WebFinger resource names on this instance, if any.
fn local_username(app: &App, resource: &str) -> Option<String> {
    if let Some(acct) = resource.strip_prefix("acct:") {
        let (name, domain) = acct.trim_start_matches('@').rsplit_once('@')?;
        return domain.eq_ignore_ascii_case(&app.config.domain).then(|| name.to_lowercase());
    }
    let prefix = app.config.link("/users/");
    let name = resource.strip_prefix(&prefix)?;
    (!name.is_empty() && !name.contains('/')).then(|| name.to_lowercase())
}

/// `GET /.well-known/nodeinfo`.
pub async fn nodeinfo_links(State(app): State<App>) -> Response {
    match actors::link(&app, "/nodeinfo/2.1") {
        Ok(href) => Json(NodeInfoLinks {
            links: vec![NodeInfoLink { rel: "http://nodeinfo.diaspora.software/ns/schema/2.1".into(), href }],
        })
        .into_response(),
        Err(err) => internal(err),
    }
}

/// `GET /nodeinfo/2.1`.
pub async fn nodeinfo(State(app): State<App>) -> Response {
    let counts = match app.user_counts().await {
        Ok(counts) => counts,
        Err(err) => return internal(err),
    };
    let body = NodeInfo {
        version: "2.1".into(),
        software: Software {
            name: "officehours".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            repository: env!("CARGO_PKG_REPOSITORY").into(),
            homepage: env!("CARGO_PKG_REPOSITORY").into(),
        },
        protocols: vec!["activitypub".into()],
        services: Services { inbound: Vec::new(), outbound: Vec::new() },
        open_registrations: true,
        usage: Usage {
            users: UsageUsers { total: counts.0, active_month: counts.1, active_halfyear: counts.2 },
            local_posts: 0,
        },
        metadata: serde_json::json!({"nodeName": app.config.instance_name}),
    };
    let mut response = Json(body).into_response();
    response.headers_mut().insert(
        CONTENT_TYPE,
        "application/json; profile=\"http://nodeinfo.diaspora.software/ns/schema/2.1#\"".parse().expect("valid"),
    );
    response
}

/// `GET /actor`: the instance actor.
pub async fn instance_actor(State(app): State<App>) -> Response {
    match actors::instance_actor(&app).await {
        Ok(actor) => activity_json(&actor),
        Err(err) => internal(err),
    }
}

/// The `Person` behind `/users/{username}` for ActivityPub clients (the web
/// profile handler calls this when the `Accept` header asks for it).
pub async fn person(app: &App, username: &str) -> Response {
    match app.federated_user(username).await {
        Ok(Some(user)) => match actors::person(app, &user).await {
            Ok(actor) => activity_json(&actor),
            Err(err) => internal(err),
        },
        Ok(None) => problem(StatusCode::NOT_FOUND, "No such account here."),
        Err(err) => internal(err),
    }
}

/// `GET /users/{username}/followers` (the count), `/outbox` (empty) and
/// `/events` (FEP-8a8e `upcomingEvents`: the advisor's published events).
pub async fn collection(State(app): State<App>, Path((username, which)): Path<(String, String)>) -> Response {
    if which != "followers" && which != "outbox" && which != "events" {
        return problem(StatusCode::NOT_FOUND, "Not found.");
    }
    match app.federated_user(&username).await {
        Ok(Some(user)) if which == "events" => match super::events::upcoming_collection(&app, &user).await {
            Ok(collection) => activity_json(&collection),
            Err(err) => internal(err),
        },
        Ok(Some(user)) => {
            let id = match actors::link(&app, &format!("/users/{}/{which}", user.username)) {
                Ok(id) => id,
                Err(err) => return internal(err),
            };
            let mut collection = actors::empty_collection(id);
            if which == "followers" {
                // The count only: who follows whom is not published.
                match app.follower_count(&user).await {
                    Ok(count) => collection.total_items = count,
                    Err(err) => return internal(err),
                }
            }
            activity_json(&collection)
        }
        Ok(None) => problem(StatusCode::NOT_FOUND, "No such account here."),
        Err(err) => internal(err),
    }
}

fn internal(err: AppError) -> Response {
    tracing::error!(error = %err, "federation request failed");
    problem(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong on our side.")
}
